"""Speed and peak memory: slide inference (batched windows vs one window at a time), the
training-free methods and CAT-Seg, and training steps (DeCLIP, DenseVLM, CAT-Seg).

    python tools/benchmark.py                       # ViT-B/16, 448x608, window 224 / stride 112
    python tools/benchmark.py --crop 448 --stride 224 --classes 171 --devices cuda
    python tools/benchmark.py --method naclip proxyclip   # ms/image next to ClearCLIP's
    python tools/benchmark.py --train               # DeCLIP: EVA02-B/16 + DINOv2-B at 560, batch 2
    python tools/benchmark.py --train --method densevlm   # B/16 + L/14-336 teacher at 512
    python tools/benchmark.py --web                 # the web page's seconds per click, 640x480
    python tools/benchmark.py --cpu                 # ClearCLIP's loop vs fp32 vs CPU fast path (+ bf16)
    python tools/benchmark.py --cpu --fresh 3       # the same image in 3 fresh processes
    python tools/benchmark.py --cpu --method proxyclip  # ProxyCLIP's own loop vs the project (+ bf16)
    python tools/benchmark.py --method catseg --classes 150 --devices cuda  # CAT-Seg slide, B/16
    python tools/benchmark.py --train --method catseg --batch 1   # CAT-Seg step: 384 crops, 171

Random weights at the real architectures' sizes; each method and training run is built from its
config (declip_mmseg/apis/benchmark.py: METHOD_CONFIGS, TRAIN_CONFIGS); prints a table.
"""
import argparse

from declip_mmseg.apis.allocator import keep_freed_memory
from declip_mmseg.apis.benchmark import (
    CPU_METHODS,
    METHOD_CONFIGS,
    PROTOCOLS,
    TRAIN_CONFIGS,
    benchmark,
    benchmark_cpu,
    benchmark_methods,
    benchmark_train,
    cpu_summary,
    format_table,
    fresh_process_repeats,
)
from declip_mmseg.apis.checks import check_value, check_window
from declip_mmseg.apis.console import robust_console


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
    parser.add_argument('--web', action='store_true',
                        help="time the web page's clicks (ClearCLIP, --width x --height, default "
                             '640x480; first vocabulary, a second one, the second again)')
    parser.add_argument('--cpu', action='store_true',
                        help="CPU paths: ClearCLIP's one-window loop, project fp32, fast path, bf16 "
                        'where native, at 448/224, 336/112, 224/112 (448x640 image); with '
                        '--method proxyclip: its own loop (fp32 and bf16) and protocol instead')
    parser.add_argument('--class-counts', type=int, nargs='+', default=[21, 150, 847],
                        help='--cpu: numbers of classes')
    parser.add_argument('--protocols', nargs='+', default=[f'{c}/{s}' for c, s in PROTOCOLS],
                        help='--cpu: window/stride pairs')
    parser.add_argument('--fresh', type=int, default=0,
                        help='--cpu: run the first protocol in this many fresh processes instead')
    args = parser.parse_args(argv)
    robust_console()
    try:  # the same value rules as the configs (declip_mmseg.apis.checks)
        for flag in ('height', 'width', 'crop', 'stride', 'classes', 'repeats', 'batch',
                     'image_size'):
            if getattr(args, flag) is not None:
                check_value(f'--{flag.replace("_", "-")}', getattr(args, flag), 'count')
        check_window(args.crop, args.stride)
    except ValueError as err:
        parser.error(str(err))
    keep_freed_memory()
    if args.web:
        from declip_mmseg.apis.benchmark_web import benchmark_web_clicks
        h, w = (args.height, args.width) if (args.height, args.width) != (448, 608) else (480, 640)
        rows = benchmark_web_clicks(args.model or 'ViT-B-16', height=h, width=w,
                                    device=(args.devices or ['cpu'])[0])
        print(format_table(rows))
        return
    if args.cpu:
        model = args.model or 'ViT-B-16'
        width = 640 if args.width == 608 else args.width
        protocols = [tuple(int(v) for v in p.split('/')) for p in args.protocols]
        print(cpu_summary())
        if args.fresh:
            crop, stride = protocols[0]
            rows = fresh_process_repeats(model, args.height, width, crop, stride,
                                         args.class_counts[0], args.fresh, args.repeats)
            print(f'{model}, {args.height}x{width}, {crop}/{stride}, {args.class_counts[0]} classes, '
                  f'{args.fresh} fresh processes')
        else:
            methods = args.method or [None]
            wrong = [m for m in methods if m is not None and m not in CPU_METHODS]
            if len(methods) != 1 or wrong:
                parser.error(f'--cpu --method takes one of {CPU_METHODS}, got {args.method}')
            rows, peak = benchmark_cpu(model, args.height, width, protocols, args.class_counts,
                                       args.repeats, method=methods[0])
            print(f"GEMM peak: fp32 {peak['fp32']:.1f} GFLOP/s, bf16 {peak['bf16']:.1f} GFLOP/s")
            print(f'{model}, {args.height}x{width}, random weights, median of {args.repeats} '
                  'interleaved runs; parity vs project-fp32 (eager)')
        print(format_table(rows))
        print(cpu_summary())
        return
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
