#!/usr/bin/env bash
# Shared torchrun launcher: bash tools/dist_launch.sh SCRIPT CONFIG GPUS [SCRIPT options]
# (used by dist_test.sh and dist_train.sh). Without GPUs, GPUS processes run on the CPU (gloo).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash tools/dist_$(basename "${1:-test.py}" .py).sh CONFIG GPUS [options]" >&2
    exit 2
fi
SCRIPT=$1
CONFIG=$2
GPUS=$3
shift 3
DIR=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="${PORT:-29500}" \
    "$DIR/$SCRIPT" "$CONFIG" --launcher pytorch "$@"
