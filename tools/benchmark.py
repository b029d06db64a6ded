"""Speed and peak memory: slide inference (batched windows vs one window at a time), the
training-free methods and CAT-Seg, and training steps (DeCLIP, DenseVLM, CAT-Seg).

    python tools/benchmark.py                       # ViT-B/16, 448x608, window 224 / stride 112
    python tools/benchmark.py --crop 448 --stride 224 --classes 171 --devices cuda
    python tools/benchmark.py --method naclip proxyclip   # ms/image next to ClearCLIP's
    python tools/benchmark.py --train               # DeCLIP: EVA02-B/16 + DINOv2-B at 560, batch 2
    python tools/benchmark.py --train --method densevlm   # B/16 + L/14-336 teacher at 512
    python tools/benchmark.py --method catseg --classes 150 --devices cuda  # CAT-Seg slide, B/16
    python tools/benchmark.py --train --method catseg --batch 1   # CAT-Seg step: 384 crops, 171

Random weights at the real architectures' sizes; each method and training run is built from its
config (declip_mmseg/apis/benchmark.py: METHOD_CONFIGS, TRAIN_CONFIGS); prints a table.
"""
import argparse

from declip_mmseg.apis.benchmark import (
    METHOD_CONFIGS,
    TRAIN_CONFIGS,
    benchmark,
    benchmark_methods,
    benchmark_train,
    format_table,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', default=None,
                        help='CLIP architecture (default ViT-B-16; --train: the config\'s)')
    parser.add_argument('--height', type=int, default=448)
    parser.add_argument('--width', type=int, default=608)
    parser.add_argument('--crop', type=int, default=224)
    parser.add_argument('--stride', type=int, default=112)
    parser.add_argument('--classes', type=int, default=21, help='number of text queries')
    parser.add_argument('--devices', nargs='+', choices=['cpu', 'cuda'])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--amp-dtype', default=None,
                        help='CUDA autocast dtype (default float16; --train: the config\'s)')
    parser.add_argument('--train', action='store_true', help='time distillation steps instead')
    parser.add_argument('--method', nargs='+', choices=sorted(set(METHOD_CONFIGS) | set(TRAIN_CONFIGS)),
                        help='inference: methods to time next to ClearCLIP (own windows and '
                        'post-processing; catseg: its slide protocol); with --train: declip '
                        '(default), densevlm or catseg')
    parser.add_argument('--vfm', default='dinov2-B', choices=['dinov2-B', 'dinov2-L'])
    parser.add_argument('--teacher', default='EVA02-L-14-336', help='DenseVLM teacher')
    parser.add_argument('--image-size', type=int, default=None,
                        help='--train input size (default: the config\'s: DeCLIP 560, '
                        'DenseVLM 512)')
    parser.add_argument('--batch', type=int, default=2)
    args = parser.parse_args(argv)
    if args.train:
        methods = args.method or ['declip']
        if len(methods) != 1 or methods[0] not in TRAIN_CONFIGS:
            parser.error(f'--train --method takes one of {tuple(TRAIN_CONFIGS)}, got {methods}')
        rows = benchmark_train(args.model, args.vfm, args.image_size, args.batch, args.devices,
                               args.repeats, args.amp_dtype, method=methods[0],
                               teacher_name=args.teacher)
        print(format_table(rows))
        return
    model = args.model or 'ViT-B-16'
    if args.method:
        wrong = [m for m in args.method if m not in METHOD_CONFIGS]
        if wrong:
            parser.error(f'{wrong} are training methods: add --train')
        rows = benchmark_methods(args.method, model, args.height, args.width, args.classes,
                                 args.devices, args.repeats, args.amp_dtype or 'float16')
        print(f'{model}, input {args.height}x{args.width}, {args.classes} queries, random '
              'weights; each method with its own windows and post-processing')
        print(format_table(rows))
        return
    rows = benchmark(model, args.height, args.width, args.crop, args.stride, args.classes,
                     args.devices, args.repeats, args.amp_dtype or 'float16')
    print(f'{model}, input {args.height}x{args.width}, window {args.crop}, '
          f'stride {args.stride} ({args.classes} queries), random weights')
    print(format_table(rows))


if __name__ == '__main__':
    main()
