"""Train (DeCLIP distillation): python tools/train.py CONFIG [--work-dir D] [--resume [CKPT]]."""
import argparse
import sys

from mmengine.config import DictAction

from declip_mmseg.apis.config import finish_distributed, setup_local_rank
from declip_mmseg.apis.console import robust_console
from declip_mmseg.apis.train import load_train_config, run_train
from declip_mmseg.clip import NonFiniteWeightsError
from declip_mmseg.engine import TrainingDivergedError
from declip_mmseg.fileio import OutputWriteError


def main(argv=None):
    robust_console()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='e.g. configs/declip_distill_coco.py')
    parser.add_argument('--work-dir', help='checkpoints, logs and the exported model go here')
    parser.add_argument('--resume', nargs='?', const=True, default=False,
                        help='resume from the newest checkpoint in the work dir, or from CKPT')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    setup_local_rank(args.local_rank)
    try:  # a bad option or value: one line naming it and the fix, before any work
        cfg = load_train_config(args.config, work_dir=args.work_dir, resume=args.resume,
                                cfg_options=args.cfg_options, launcher=args.launcher)
    except (ValueError, OSError) as err:
        sys.exit(f'error: {err}')
    try:
        run_train(cfg)
    except (TrainingDivergedError, NonFiniteWeightsError, OutputWriteError) as err:
        sys.exit(f'error: {err}')
    finish_distributed()  # after success only: a failed rank is torn down by torchrun


if __name__ == '__main__':
    main()
