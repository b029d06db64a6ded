"""Check every device-specific path in a few minutes: python tools/selfcheck.py [--device cuda].

Tiny random-weight models (autocast inference vs fp32, text encoding, AMP distillation steps,
2-process dist_test vs 1 process), then the benchmark's real-size rows. Prints a table
check | result | figures; exits with 1 if a check fails.
"""
import argparse
import sys

from declip_mmseg.apis.console import robust_console
from declip_mmseg.apis.selfcheck import selfcheck


def main(argv=None):
    robust_console()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', choices=['cpu', 'cuda'],
                        help='default: cuda when a GPU is visible, else cpu')
    parser.add_argument('--skip-real-size', action='store_true',
                        help="skip the benchmark's real-size rows (ViT-B/16, EVA02-B/16 + "
                             'DINOv2-B; a few minutes on a CPU)')
    parser.add_argument('--work-dir', help='keep the tiny models and data here (default: a '
                        'temporary folder)')
    args = parser.parse_args(argv)
    results, table = selfcheck(args.device, real_size=not args.skip_real_size,
                               workdir=args.work_dir)
    print(table)
    failed = [r.name for r in results if r.status == 'fail']
    if failed:
        print(f'FAILED: {", ".join(failed)}', file=sys.stderr)
        sys.exit(1)
    print('all checks passed' + (' (some skipped, see the table)'
                                 if any(r.status == 'skip' for r in results) else ''))


if __name__ == '__main__':
    main()
