"""PASCAL Context full (PC-459) validation labels in CAT-Seg's layout:

    python datasets/prepare_pascal_context_459.py data/VOCdevkit/VOC2010 pascalcontext_val.txt

reads VOC2010/trainval/<id>.mat (the 459-class release, LabelMap) for CAT-Seg's 5,104 val ids and
writes annotations_detectron2/pc459_val/<id>.tif (LabelMap - 1, classes 0-458).
"""
import argparse

from declip_mmseg.datasets.converters import convert_pascal_context_459


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='the VOCdevkit/VOC2010 folder (with trainval/*.mat)')
    parser.add_argument('val_list', help="CAT-Seg's pascalcontext_val.txt")
    args = parser.parse_args(argv)
    convert_pascal_context_459(args.root, args.val_list)


if __name__ == '__main__':
    main()
