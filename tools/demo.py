"""Segment one image with your own class names and save a coloured overlay with a legend.

    python tools/demo.py photo.jpg --classes "cat; dog; grass" --out overlay.png
    python tools/demo.py photo.jpg --classes my_names.txt --checkpoint checkpoints/ViT-B-16.pt
    python tools/demo.py photo.jpg --classes my_names.txt --model ViT-L-14 --checkpoint L14.pt
    python tools/demo.py photo.jpg --classes "cat; dog" --out-labels labels.png  # + label map
"""
import argparse
import os.path as osp
import sys
import time

from mmengine.config import DictAction

from declip_mmseg.apis.allocator import keep_freed_memory

DEFAULT_CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'demo.py')


def main(argv=None):
    keep_freed_memory()  # steady CPU times: large temporaries reuse their pages
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image')
    parser.add_argument('--classes', required=True,
                        help="'cat; dog; grass' (';' between classes, ',' between synonyms) "
                             'or a class-name file')
    parser.add_argument('--out', default='overlay.png')
    parser.add_argument('--out-labels', metavar='FILE',
                        help='also write the label map: an indexed PNG (pixel = class index) '
                             "with the class list in its 'classes' text chunk, as the web page's")
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--checkpoint', help='CLIP weights (open_clip tag or file)')
    parser.add_argument('--model', help="CLIP architecture of the weights, e.g. 'ViT-L-14' "
                        "(default: the config's, ViT-B-16)")
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

    def log(message):
        print(f'[{time.monotonic() - start:6.1f}s] {message}', flush=True)

    start = time.monotonic()
    log('loading the libraries')
    from declip_mmseg.apis import OpenVocabInferencer
    from declip_mmseg.apis.checks import check_value
    from declip_mmseg.apis.console import robust_console
    from declip_mmseg.apis.inference import USER_ERRORS, check_overlay_path, segment_and_draw
    robust_console()  # class names and paths in the last line may be non-ASCII
    try:  # before any work: the output paths and the values
        args.out = check_overlay_path(args.out)
        if args.out_labels:
            args.out_labels = check_overlay_path(args.out_labels, '--out-labels', ('.png',))
        check_value('--alpha', args.alpha, 'fraction')
    except ValueError as err:
        sys.exit(f'error: {err}')
    log('building the model: CLIP weights, then the text embeddings of the class names '
        '(first run of a vocabulary: about a minute on a CPU; cached afterwards)')
    try:
        inferencer = OpenVocabInferencer(args.config, classes=args.classes,
                                         checkpoint=args.checkpoint, model_name=args.model,
                                         device=args.device, cfg_options=options)
        log(f'segmenting {args.image}')
        found = segment_and_draw(inferencer, args.image, args.out, alpha=args.alpha, log=log,
                                 labels_path=args.out_labels)
    except USER_ERRORS as err:
        sys.exit(f'error: {err}')
    log(f'wrote {args.out}; classes found: {", ".join(found)}')


if __name__ == '__main__':
    main()
