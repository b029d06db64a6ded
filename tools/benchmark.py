"""Speed and peak memory of slide inference: batched windows vs one window at a time.

    python tools/benchmark.py                       # ViT-B/16, 448x608, window 224 / stride 112
    python tools/benchmark.py --crop 448 --stride 224 --classes 171 --devices cuda

Random weights at the real architecture's size; prints a table.
"""
import argparse

from declip_mmseg.apis.benchmark import benchmark, format_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default='ViT-B-16')
    parser.add_argument('--height', type=int, default=448)
    parser.add_argument('--width', type=int, default=608)
    parser.add_argument('--crop', type=int, default=224)
    parser.add_argument('--stride', type=int, default=112)
    parser.add_argument('--classes', type=int, default=21, help='number of text queries')
    parser.add_argument('--devices', nargs='+', choices=['cpu', 'cuda'])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--amp-dtype', default='float16', help='CUDA autocast dtype')
    args = parser.parse_args(argv)
    rows = benchmark(args.model, args.height, args.width, args.crop, args.stride, args.classes,
                     args.devices, args.repeats, args.amp_dtype)
    print(f'{args.model}, input {args.height}x{args.width}, window {args.crop}, '
          f'stride {args.stride}, {args.classes} queries')
    print(format_table(rows))


if __name__ == '__main__':
    main()
