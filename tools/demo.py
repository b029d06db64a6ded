"""Segment one image with your own class names and save a coloured overlay with a legend.

    python tools/demo.py photo.jpg --classes "cat; dog; grass" --out overlay.png
    python tools/demo.py photo.jpg --classes my_names.txt --checkpoint checkpoints/ViT-B-16.pt
"""
import argparse
import os.path as osp

from mmengine.config import DictAction

from declip_mmseg.apis.inference import init_segmentor, segment_and_draw

DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'demo.py')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image')
    parser.add_argument('--classes', required=True,
                        help="'cat; dog; grass' (';' between classes, ',' between synonyms) "
                             'or a class-name file')
    parser.add_argument('--out', default='overlay.png')
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', help='CLIP weights (open_clip tag or file)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--prob-thd', type=float, help='pixels below become the first class')
    parser.add_argument('--alpha', type=float, default=0.5, help='overlay opacity')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if not osp.isfile(args.image):
        parser.error(f'image {args.image!r} does not exist')
    options = dict(args.cfg_options or {})
    if args.prob_thd is not None:
        options['model.prob_thd'] = args.prob_thd
    model = init_segmentor(args.config, classes=args.classes, checkpoint=args.checkpoint,
                           device=args.device, cfg_options=options)
    found = segment_and_draw(model, args.image, args.out, alpha=args.alpha)
    print(f'wrote {args.out}; classes found: {", ".join(found)}')


if __name__ == '__main__':
    main()
