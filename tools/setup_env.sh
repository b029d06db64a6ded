#!/usr/bin/env bash
# Create ./.venv with the tested package versions and install declip_mmseg (editable).
#   bash tools/setup_env.sh            (VENV=path to use another folder)
# Safe to re-run: finished steps are skipped. Building mmcv's ops takes 8-25 min on
# 2 CPU cores the first time; pip caches the wheel, later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
VPY="$VENV/bin/python"
$PIP install -q --upgrade "pip<25" "setuptools<81" wheel ninja

# 1. torch + torchvision. If pip's configuration offers a local CPU-only torch wheel,
#    torchvision (built against the CUDA libtorch) cannot load; then take both from
#    PyPI, ignoring the local configuration.
if ! $VPY -c "import torch, torchvision; assert torch.__version__.startswith('2.13.0')" 2>/dev/null; then
    $PIP install -q torch==2.13.0 torchvision==0.28.0
    if ! $VPY -c "import torchvision" 2>/dev/null; then
        echo "torchvision cannot load the installed torch build; reinstalling both from PyPI"
        $PIP install -q --isolated --force-reinstall torch==2.13.0 torchvision==0.28.0
    fi
fi

# 2. Everything else but mmcv, at the tested versions.
grep -v '^mmcv' requirements.txt | $PIP install -q -r /dev/stdin

# 3. mmcv 2.1.0 with its C++ ops (mmsegmentation imports mmcv.ops), built against torch.
if ! $VPY -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        $PIP install -q --no-build-isolation --no-deps mmcv==2.1.0
fi

# 4. This package.
$PIP install -q --no-build-isolation --no-deps -e .
$VPY -c "import declip_mmseg, mmcv.ops, torchvision, open_clip; print('declip_mmseg', declip_mmseg.__version__, 'ready in $VENV')"
