"""Convert a CLIP checkpoint (EVA-CLIP, DeCLIP, DenseVLM, CLIPSelf, open_clip) to open_clip format.

    python tools/convert_checkpoint.py SRC DST --model EVA02-B-16
    python tools/convert_checkpoint.py visual_only.pt DST --model EVA02-B-16 --base EVA02_CLIP_B_psz16_s8B.pt

The result loads with plain open_clip: open_clip.create_model(MODEL, pretrained=DST).
"""
import argparse
import sys

from declip_mmseg.apis.console import robust_console
from declip_mmseg.apis.convert import convert_checkpoint


def main(argv=None):
    robust_console()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--model', required=True, help="open_clip architecture, e.g. 'EVA02-B-16'")
    parser.add_argument('--base', help='full base checkpoint for files holding only the image tower')
    args = parser.parse_args(argv)
    try:
        fmt = convert_checkpoint(args.src, args.dst, args.model, args.base)
    except (RuntimeError, OSError, ValueError) as err:  # OSError: DST not writable
        sys.exit(f'error: {err}')
    print(f'{args.src} ({fmt} format) -> {args.dst} (open_clip format)')


if __name__ == '__main__':
    main()
