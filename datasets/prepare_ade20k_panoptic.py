"""ADE20K panoptic val for DenseVLM's region classification (Mask2Former's file layout):

    python datasets/prepare_ade20k_panoptic.py data/ade/ADEChallengeData2016

writes ade20k_panoptic_val.json and ade20k_panoptic_val/*.png next to images/, from
annotations/ and annotations_instance/ (the ADE20K instance-segmentation release).
"""
import argparse

from declip_mmseg.apis.console import robust_console
from declip_mmseg.datasets.converters import convert_ade20k_panoptic


def main(argv=None):
    robust_console()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='the ADEChallengeData2016 folder')
    parser.add_argument('--split', default='val', choices=['val', 'train'])
    args = parser.parse_args(argv)
    out = convert_ade20k_panoptic(args.root, args.split)
    print(f"wrote {out['json']} and {out['png_dir']}")


if __name__ == '__main__':
    main()
