"""Evaluate a zero-shot segmentation config: python tools/test.py CONFIG [options]."""
import argparse
import sys

from mmengine.config import DictAction

from declip_mmseg.apis import WeightsUnavailableError
from declip_mmseg.apis.config import finish_distributed, setup_local_rank
from declip_mmseg.apis.console import robust_console
from declip_mmseg.apis.test import load_test_config, run_test
from declip_mmseg.clip import NonFiniteWeightsError
from declip_mmseg.fileio import OutputPathError, OutputWriteError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Zero-shot semantic segmentation evaluation')
    parser.add_argument('config', help='config file, e.g. configs/cfg_ade20k.py')
    parser.add_argument('--checkpoint', help='CLIP weights: open_clip tag or checkpoint file '
                        '(replaces model.backbone.pretrained)')
    parser.add_argument('--work-dir', help='where logs and results go')
    parser.add_argument('--show-dir', help='save drawn predictions in this folder')
    parser.add_argument('--classes', help="custom vocabulary: a class-name file or 'cat; dog; grass'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.slide_stride=112')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    robust_console()
    args = parse_args(argv)
    setup_local_rank(args.local_rank)
    try:  # a bad option or value: one line naming it and the fix, before any work
        cfg = load_test_config(args.config, checkpoint=args.checkpoint, work_dir=args.work_dir,
                               cfg_options=args.cfg_options, show_dir=args.show_dir,
                               launcher=args.launcher, class_names=args.classes)
    except (ValueError, OSError) as err:
        sys.exit(f'error: {err}')
    try:
        run_test(cfg)
    except (WeightsUnavailableError, NonFiniteWeightsError, OutputPathError,
            OutputWriteError) as err:  # one line, not a traceback: the fix is in it
        sys.exit(f'error: {err}')
    finish_distributed()  # after success only: a failed rank is torn down by torchrun


if __name__ == '__main__':
    main()
