"""Evaluate several configs (default: all 8 benchmarks) and append the scores to results.xlsx.

    python tools/eval_all.py                        # the 8 ClearCLIP configs
    python tools/eval_all.py --set clearclip --checkpoint my_clip.pt
    python tools/eval_all.py configs/cfg_voc20.py configs/cfg_ade20k.py --out runs.xlsx
    torchrun --nproc_per_node 4 tools/eval_all.py --launcher pytorch
"""
import argparse
import sys

from mmengine.config import DictAction

from declip_mmseg.apis import WorkbookError
from declip_mmseg.apis.config import finish_distributed, setup_local_rank
from declip_mmseg.apis.console import robust_console
from declip_mmseg.apis.eval_all import CONFIG_SETS, ConfigError, evaluate_all, resolve_configs


def main(argv=None):
    robust_console()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='*', help='config files (default: the --set)')
    parser.add_argument('--set', default='clearclip', choices=sorted(CONFIG_SETS),
                        help='named set of configs')
    parser.add_argument('--checkpoint', help='CLIP weights for every config')
    parser.add_argument('--out', default='results.xlsx', help='workbook to append to')
    parser.add_argument('--work-dir', default='./work_dirs/eval_all')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    setup_local_rank(args.local_rank)
    try:
        evaluate_all(resolve_configs(args.configs, args.set), out=args.out,
                     work_dir=args.work_dir, checkpoint=args.checkpoint,
                     cfg_options=args.cfg_options, launcher=args.launcher)
    except (WorkbookError, ConfigError, ValueError) as err:  # --out, --checkpoint or a config
        sys.exit(f'error: {err}')
    finish_distributed()  # after success only: a failed rank is torn down by torchrun


if __name__ == '__main__':
    main()
