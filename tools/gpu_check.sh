#!/usr/bin/env bash
# The GPU proof in one call: install what is missing (offline), run the self-check and the
# real-size GPU benchmark, write the results. Made for a lent machine like this project's:
# Python 3.12 with its own torch 2.11 + CUDA 13 + nvcc, 16 cores, no network.
#
#   bash tools/gpu_check.sh --make-wheelhouse       # on a connected machine, once: fills
#                                                   # shared-wheelhouse/ (< 64 MiB, no torch)
#   bash tools/gpu_check.sh                         # on the GPU machine (carry shared-wheelhouse)
#   bash tools/gpu_check.sh --device cpu --quick    # dry run of every step on a CPU
#
# Options: --wheelhouse DIR (default shared-wheelhouse), --out DIR (default $OUT, else
# gpu_check_out), --python-version X.Y (--make-wheelhouse; default 3.12). Environment: PYTHON
# (the machine's Python, default python3), VENV (default .venv-gpu). Steps on the machine:
#   1. VENV=.venv-gpu setup_env.sh --offline shared-wheelhouse --keep-system: a virtual
#      environment on top of the machine's packages (its torch), the wheelhouse installed with
#      no index, mmcv built there from its source archive for the CPU (1-2 min on 16 cores);
#   2. tools/selfcheck.py --device cuda --skip-real-size (the benchmark below is the real size);
#   3. tools/gpu_benchmark.py: the table, written to OUT/gpu_benchmark.md.
set -uo pipefail
cd "$(dirname "$0")/.."
# What the lent machine's image already has (docs/install.md); their own dependencies (torch's
# CUDA libraries) stay out too. mmengine's opencv-python is the image's opencv-python-headless.
GPU_IMAGE_HAS=torch,torchvision,numpy,opencv-python,scipy,matplotlib,pillow,tensorboard,ruff
WH=shared-wheelhouse DEVICE=cuda QUICK=() MAKE=0 TARGET_PY=3.12
OUTDIR=${OUT:-gpu_check_out}
while [ $# -gt 0 ]; do
    case "$1" in
        --make-wheelhouse) MAKE=1; shift ;;
        --wheelhouse) WH=$2; shift 2 ;;
        --device) DEVICE=$2; shift 2 ;;
        --quick) QUICK=(--quick); shift ;;
        --out) OUTDIR=$2; shift 2 ;;
        --python-version) TARGET_PY=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$MAKE" = 1 ]; then
    [ -z "$(ls -A "$WH" 2>/dev/null)" ] || { echo "gpu_check.sh: $WH is not empty; delete it first" >&2; exit 2; }
    bash tools/setup_env.sh --download "$WH" --python-version "$TARGET_PY" --skip "$GPU_IMAGE_HAS" || exit 1
    MIB=$(du -sm "$WH" | cut -f1)
    echo "$WH: ${MIB} MiB (the device carries at most 64 MiB with the working tree)"
    [ "$MIB" -lt 60 ] || { echo "gpu_check.sh: $WH is too large to carry" >&2; exit 1; }
    exit 0
fi

export VENV=${VENV:-.venv-gpu}
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR"
T0=$(date +%s)
FAILED=()
stamp() { printf '\n=== %s (%d s since start)\n' "$1" $(( $(date +%s) - T0 )); }

stamp "1/3 install what is missing into $VENV"
if "$VENV/bin/python" -c 'import declip_mmseg, mmcv.ops' 2>/dev/null; then
    echo "already installed"
else
    [ -d "$WH" ] || { echo "gpu_check.sh: no $WH here: make it with --make-wheelhouse on a connected machine and carry it" >&2; exit 1; }
    PYTHON=$PY MAX_JOBS=${MAX_JOBS:-$(nproc)} bash tools/setup_env.sh --offline "$WH" --keep-system 2>&1 \
        | tee "$OUTDIR/install.log" || { echo "gpu_check.sh: the install failed (see above)" >&2; exit 1; }
fi
VPY="$VENV/bin/python"

stamp "2/3 tools/selfcheck.py --device $DEVICE --skip-real-size"
PYTHONUNBUFFERED=1 "$VPY" tools/selfcheck.py --device "$DEVICE" --skip-real-size 2>&1 \
    | tee "$OUTDIR/selfcheck.txt" || FAILED+=(selfcheck)

stamp "3/3 tools/gpu_benchmark.py --device $DEVICE ${QUICK[*]}"
PYTHONUNBUFFERED=1 "$VPY" tools/gpu_benchmark.py --device "$DEVICE" "${QUICK[@]}" \
    --out "$OUTDIR/gpu_benchmark.md" 2>&1 | tee "$OUTDIR/gpu_benchmark.log" || FAILED+=(gpu_benchmark)

stamp "done: ${FAILED[*]:-every step passed}; results in $OUTDIR"
[ ${#FAILED[@]} -eq 0 ]
