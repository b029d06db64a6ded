#!/usr/bin/env bash
# Multi-process training: bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
exec bash "$(dirname "$0")/dist_launch.sh" train.py "$@"
