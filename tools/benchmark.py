"""Speed and peak memory: slide inference (batched windows vs one window at a time), the
training-free methods, and distillation steps (DeCLIP, DenseVLM).

    python tools/benchmark.py                       # ViT-B/16, 448x608, window 224 / stride 112
    python tools/benchmark.py --crop 448 --stride 224 --classes 171 --devices cuda
    python tools/benchmark.py --method naclip proxyclip   # ms/image next to ClearCLIP's
    python tools/benchmark.py --train               # DeCLIP: EVA02-B/16 + DINOv2-B at 560, batch 2
    python tools/benchmark.py --train --method densevlm   # B/16 + L/14-336 teacher at 512

Random weights at the real architectures' sizes; prints a table.
"""
import argparse

from declip_mmseg.apis.benchmark import (
    METHOD_SPECS,
    benchmark,
    benchmark_methods,
    benchmark_train,
    format_table,
)

TRAIN_METHODS = ('declip', 'densevlm')


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
    parser.add_argument('--amp-dtype', default=None,
                        help='CUDA autocast dtype (default float16; bfloat16 for DeCLIP --train)')
    parser.add_argument('--train', action='store_true', help='time distillation steps instead')
    parser.add_argument('--method', nargs='+', choices=sorted(METHOD_SPECS) + list(TRAIN_METHODS),
                        help='inference: training-free methods to time next to ClearCLIP (own '
                        'windows and post-processing); with --train: declip (default) or densevlm')
    parser.add_argument('--vfm', default='dinov2-B', choices=['dinov2-B', 'dinov2-L'])
    parser.add_argument('--teacher', default='EVA02-L-14-336', help='DenseVLM teacher')
    parser.add_argument('--image-size', type=int, default=None,
                        help='--train input size (DeCLIP 560, DenseVLM 512)')
    parser.add_argument('--batch', type=int, default=2)
    args = parser.parse_args(argv)
    if args.train:
        methods = args.method or ['declip']
        if len(methods) != 1 or methods[0] not in TRAIN_METHODS:
            parser.error(f'--train --method takes one of {TRAIN_METHODS}, got {methods}')
        method = methods[0]
        model = args.model if args.model != 'ViT-B-16' else 'EVA02-B-16'
        size = args.image_size or (512 if method == 'densevlm' else 560)
        dtype = args.amp_dtype or ('float16' if method == 'densevlm' else 'bfloat16')
        rows = benchmark_train(model, args.vfm, size, args.batch, args.devices, args.repeats,
                               dtype, method=method, teacher_name=args.teacher)
        print(format_table(rows))
        return
    if args.method:
        wrong = [m for m in args.method if m in TRAIN_METHODS]
        if wrong:
            parser.error(f'{wrong} are training methods: add --train')
        rows = benchmark_methods(args.method, args.model, args.height, args.width, args.classes,
                                 args.devices, args.repeats, args.amp_dtype or 'float16')
        print(f'{args.model}, input {args.height}x{args.width}, {args.classes} queries, random '
              'weights; each method with its own windows and post-processing')
        print(format_table(rows))
        return
    rows = benchmark(args.model, args.height, args.width, args.crop, args.stride, args.classes,
                     args.devices, args.repeats, args.amp_dtype or 'float16')
    print(f'{args.model}, input {args.height}x{args.width}, window {args.crop}, '
          f'stride {args.stride} ({args.classes} queries), random weights')
    print(format_table(rows))


if __name__ == '__main__':
    main()
