#!/usr/bin/env bash
# Shared torchrun launcher: bash tools/dist_launch.sh SCRIPT CONFIG GPUS [SCRIPT options]
# (used by dist_test.sh and dist_train.sh). Without GPUs, GPUS processes run on the CPU (gloo).
# Environment knobs: PORT (rendezvous port, default 29500), NNODES, NODE_RANK, MASTER_ADDR, PYTHON.
set -euo pipefail
NAME="tools/dist_$(basename "${1:-test.py}" .py).sh"
if [ $# -lt 3 ]; then
    echo "usage: bash $NAME CONFIG GPUS [options]" >&2
    exit 2
fi
SCRIPT=$1
CONFIG=$2
GPUS=$3
shift 3
if ! [[ "$GPUS" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: GPUS must be a whole number of processes, 1 or more, got '$GPUS'" \
         "(usage: bash $NAME CONFIG GPUS [options]; one process: python tools/$SCRIPT CONFIG)" >&2
    exit 2
fi
PORT=${PORT:-29500}
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
    echo "error: PORT must be a port number (1-65535), got '$PORT'" >&2
    exit 2
fi
# the first node hosts the rendezvous: a port in use there fails later with an obscure error
if [ "${NODE_RANK:-0}" = "0" ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "error: port $PORT is already in use on this machine (another dist_test.sh /" \
         "dist_train.sh / torchrun still running?). Pick a free one with the PORT knob:" \
         "PORT=$((PORT + 1)) bash $NAME $CONFIG $GPUS $*" >&2
    exit 2
fi
DIR=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$DIR/$SCRIPT" "$CONFIG" --launcher pytorch "$@"
