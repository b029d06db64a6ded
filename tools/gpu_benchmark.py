"""Real-size GPU benchmark in one call (run by tools/gpu_check.sh); writes a markdown table.

    python tools/gpu_benchmark.py --out gpu_benchmark.md            # on a GPU
    python tools/gpu_benchmark.py --device cpu --quick --out x.md   # dry run of the same code

ViT-B/16 slide inference (448/224 and 336/112; fp32 / fp16 / bf16) against the one-window
reference loop, a DeCLIP distillation step, NACLIP + PAMR and ProxyCLIP per image
(declip_mmseg/apis/gpu_benchmark.py).
"""
import argparse

from declip_mmseg.apis.gpu_benchmark import FULL, QUICK, gpu_benchmark
from declip_mmseg.fileio import safe_write


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    parser.add_argument('--quick', action='store_true',
                        help='small images, one repeat, a 224 px training step (CPU dry runs)')
    parser.add_argument('--out', help='write the markdown report here too')
    args = parser.parse_args(argv)
    report = gpu_benchmark(args.device, QUICK if args.quick else FULL, log=lambda s: print(s, flush=True))
    if args.out:
        with safe_write(args.out) as tmp, open(tmp, 'w') as f:
            f.write(report)
        print(f'report written to {args.out}')


if __name__ == '__main__':
    main()
