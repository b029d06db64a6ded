#!/usr/bin/env bash
# Create ./.venv with the tested versions and install declip_mmseg (editable).
#
#   bash tools/setup_env.sh                      # VENV=path for another folder
#   PIP_NO_CACHE_DIR=1 bash tools/setup_env.sh   # as CI does: no pip cache, mmcv built from source
#
# Every pip call runs under constraints.txt (build tools + tested versions), so no step can
# drift another's versions (e.g. bring a setuptools without pkg_resources before mmcv's build).
# Safe to re-run after an interruption (Ctrl-C, a half-installed torch): each step checks
# its own result and redoes only what is missing or broken.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
CONSTRAINTS="$ROOT/constraints.txt"
LOG_DIR="$VENV/setup-logs"
T0=$(date +%s)

NOCACHE=()
case "${PIP_NO_CACHE_DIR:-}" in
    ''|0|false|no|off) ;;
    *) NOCACHE=(--no-cache-dir) ;;  # explicit: --isolated pip calls ignore PIP_* variables
esac

STEP=0
NSTEPS=6
SUMMARY=""
step() {  # step "what" "expected duration"
    STEP=$((STEP + 1))
    STEP_NAME=$1
    STEP_T0=$(date +%s)
    printf '\n[%d/%d] %s (%s)\n' "$STEP" "$NSTEPS" "$1" "$2"
}
done_step() {
    local secs=$(( $(date +%s) - STEP_T0 ))
    printf '      done in %ds\n' "$secs"
    SUMMARY+=$(printf '\n      %4ds  %s' "$secs" "$STEP_NAME")
}
fail() { printf '\nsetup_env.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ -f "$CONSTRAINTS" ] || fail "$CONSTRAINTS is missing; run this script from a full clone of the repository."

step "virtual environment in $VENV" "seconds"
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    "$PY" -m venv --clear "$VENV" || fail "'$PY -m venv' failed: install python3-venv (Debian/Ubuntu) or set PYTHON=/path/to/python3.10+"
fi
VPY="$VENV/bin/python"
"$VPY" -c 'import sys; assert sys.version_info >= (3, 10)' \
    || fail "$VENV uses $("$VPY" -V 2>&1); Python >= 3.10 is needed (set PYTHON=, delete $VENV, re-run)"
mkdir -p "$LOG_DIR"
pipc() { "$VPY" -m pip --disable-pip-version-check "${NOCACHE[@]}" "$@" -c "$CONSTRAINTS"; }
pipc install -q pip setuptools wheel ninja
done_step

step "torch 2.13.0 + torchvision 0.28.0" "1-3 min; a 4.8 GB download with an empty pip cache"
torch_ok() {
    "$VPY" - <<'EOF' 2>/dev/null
import torch, torchvision
assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__
assert torchvision.__version__.split('+')[0] == '0.28.0', torchvision.__version__
torch.zeros(1) + 1
EOF
}
if ! torch_ok; then
    pipc install torch==2.13.0 torchvision==0.28.0 || true
    if ! torch_ok; then
        # A local pip configuration (find-links) can offer a CPU-only torch wheel, which
        # torchvision's ops (built against the CUDA libtorch) cannot load, or an interrupted
        # install left torch half-written. Reinstall both from the index, ignoring the local
        # pip configuration; the constraints keep every dependency at its tested version.
        echo "      torch/torchvision do not import together; reinstalling both from the package index"
        pipc install --isolated --force-reinstall --no-deps torch==2.13.0 torchvision==0.28.0
        pipc install --isolated torch==2.13.0 torchvision==0.28.0
        if ! torch_ok; then
            echo "      still broken (a half-installed dependency?); reinstalling torch with all its dependencies"
            pipc install --isolated --force-reinstall torch==2.13.0 torchvision==0.28.0
        fi
        torch_ok || fail "torch 2.13.0 + torchvision 0.28.0 still do not import; see: $VPY -c 'import torchvision'"
    fi
fi
done_step

step "other dependencies (requirements.txt)" "1-2 min"
grep -v '^mmcv' requirements.txt | grep -v '^torch' | pipc install -q -r /dev/stdin
done_step

step "mmcv 2.1.0 with its C++ ops" "building mmcv's C++ ops from source: 10-20 min on 2 cores; seconds from pip's wheel cache"
mmcv_ok() { "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; }
if ! mmcv_ok; then
    # mmcv's setup.py imports pkg_resources and torch's C++ extension builder from the venv.
    "$VPY" tools/check_build_prereqs.py \
        || fail "mmcv cannot be built as things are (see above). Re-running this script re-pins the build tools from constraints.txt."
    BUILD_LOG="$LOG_DIR/mmcv-build.log"
    echo "      full build log: $BUILD_LOG"
    # In its own process group (setsid), so that Ctrl-C here stops pip, ninja and every
    # compiler process of the build, not just this script.
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} setsid "$VPY" -m pip --disable-pip-version-check \
        "${NOCACHE[@]}" install -v --no-build-isolation --no-deps mmcv==2.1.0 -c "$CONSTRAINTS" \
        >"$BUILD_LOG" 2>&1 </dev/null &
    BUILD_PID=$!
    trap 'kill -TERM -- -$BUILD_PID 2>/dev/null; echo "      interrupted: the mmcv build was stopped; re-run this script to build it again"; exit 130' INT TERM
    while kill -0 "$BUILD_PID" 2>/dev/null; do
        sleep 30 & wait $! || true  # 'wait' lets Ctrl-C / TERM reach the trap at once
        # ninja prints "[done/total] ..." for every compiled file
        PROGRESS=$(grep -oE '^ *\[[0-9]+/[0-9]+\] ' "$BUILD_LOG" 2>/dev/null | tail -1 | tr -d ' []' || true)
        printf '      ... %d min %02d s, %s\n' $(( ($(date +%s) - STEP_T0) / 60 )) $(( ($(date +%s) - STEP_T0) % 60 )) \
            "$([ -n "$PROGRESS" ] && echo "compiled $PROGRESS files" || echo 'downloading, configuring')"
    done
    if ! wait "$BUILD_PID"; then
        tail -n 40 "$BUILD_LOG" >&2
        fail "the mmcv build failed (last lines above, whole log in $BUILD_LOG)"
    fi
    trap - INT TERM
    mmcv_ok || fail "mmcv built but 'import mmcv.ops' fails; see $BUILD_LOG"
fi
done_step

step "declip_mmseg (editable)" "seconds"
pipc install -q --no-build-isolation --no-deps -e .
done_step

step "check" "seconds"
"$VPY" -m pip check >/dev/null || echo "      warning: 'pip check' reports conflicts: $VPY -m pip check"
"$VPY" - <<EOF
import importlib.metadata as md
import declip_mmseg, mmcv.ops, mmseg, open_clip, torch, torchvision  # noqa: F401
rows = [('python', __import__('platform').python_version())]
rows += [(n, md.version(n)) for n in ('torch', 'torchvision', 'mmcv', 'mmengine', 'mmsegmentation',
                                       'open_clip_torch', 'timm', 'numpy', 'setuptools')]
rows += [('declip_mmseg', declip_mmseg.__version__), ('CUDA available', str(torch.cuda.is_available()))]
print('      ' + '\n      '.join('%-16s %s' % r for r in rows))
EOF
done_step
printf '\nTime per step:%s\n' "$SUMMARY"
printf '\nReady in %s after %d min %02d s. Next: %s/bin/python -m pytest tests\n' \
    "$VENV" $(( ($(date +%s) - T0) / 60 )) $(( ($(date +%s) - T0) % 60 )) "$VENV"
