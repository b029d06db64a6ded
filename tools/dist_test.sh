#!/usr/bin/env bash
# Multi-process evaluation: bash tools/dist_test.sh CONFIG GPUS [tools/test.py options]
exec bash "$(dirname "$0")/dist_launch.sh" test.py "$@"
