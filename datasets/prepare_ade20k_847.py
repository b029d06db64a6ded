"""ADE20K-full (ADE-847) validation in CAT-Seg's layout:

    python datasets/prepare_ade20k_847.py data/ADE20K_2021_17_01

writes images_detectron2/validation/*.jpg (short side <= 512) and annotations_detectron2/
validation/*.tif (uint16 trainIds 0-846, 65535 unlabelled) from images/ADE/validation.
"""
import argparse

from declip_mmseg.datasets.converters import convert_ade20k_full


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='the ADE20K_2021_17_01 folder')
    convert_ade20k_full(parser.parse_args(argv).root)


if __name__ == '__main__':
    main()
