"""Convert COCO-Stuff164k label maps to COCO-Object (80 things + background).

    python datasets/cvt_coco_object.py data/coco_stuff164k [-o OUT] [--nproc 8]

Reads the raw maps ``annotations/{val2017,train2017}/<id>.png`` and writes
``<id>_instanceTrainIds.png`` next to them (or under OUT), the files that
configs/cfg_coco_object.py reads, plus ``<split>_object.txt`` id lists.
"""
import argparse
import os.path as osp
import shutil

from declip_mmseg.apis.console import robust_console
from declip_mmseg.datasets.converters import convert_coco_object


def main(argv=None):
    robust_console()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('coco_path', help='COCO-Stuff164k root (holds images/ and annotations/)')
    parser.add_argument('-o', '--out_dir', help='output root (default: coco_path)')
    parser.add_argument('--splits', nargs='+', default=['val2017', 'train2017'])
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    args = parser.parse_args(argv)
    out = args.out_dir or args.coco_path
    if out != args.coco_path and osp.isdir(osp.join(args.coco_path, 'images')) \
            and not osp.exists(osp.join(out, 'images')):
        shutil.copytree(osp.join(args.coco_path, 'images'), osp.join(out, 'images'))
    counts = convert_coco_object(args.coco_path, out, splits=args.splits, nproc=args.nproc)
    for split, n in counts.items():
        print(f'{split}: {n} label maps converted')


if __name__ == '__main__':
    main()
