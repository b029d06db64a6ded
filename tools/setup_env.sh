#!/usr/bin/env bash
# Create ./.venv with the tested versions and install declip_mmseg (editable).
#
#   bash tools/setup_env.sh                      # VENV=path for another folder, PYTHON=python3.X
#   PIP_NO_CACHE_DIR=1 bash tools/setup_env.sh   # as CI does: no pip cache, mmcv built from source
#   MMCV_CUDA_OPS=1 bash tools/setup_env.sh      # mmcv with its CUDA ops (needs nvcc; see docs/install.md)
#   bash tools/setup_env.sh --download DIR [--python-version X.Y] [--platform P] [--skip a,b]
#                                                # fill a wheelhouse for an offline machine
#   bash tools/setup_env.sh --offline DIR [--keep-system]
#                                                # install from it with no package index at all
#
# mmcv's C++ ops are built for the CPU unless MMCV_CUDA_OPS=1 (nothing here calls an mmcv CUDA
# op), so a GPU machine without a CUDA toolkit gets a working environment; the decision is made
# by tools/check_build_prereqs.py and printed. mmcv is built once as a wheel into $VENV/wheels and
# installed from there; --download copies that wheel into the wheelhouse when the Python matches.
# Every pip call runs under constraints.txt (build tools + tested versions), so no step can
# drift another's versions (e.g. bring a setuptools without pkg_resources before mmcv's build).
# Safe to re-run after an interruption (Ctrl-C, a half-installed torch): each step checks
# its own result and redoes only what is missing or broken.
set -euo pipefail
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
MODE=install WH='' TARGET_PY='' TARGET_PLATFORM=() SKIP='' KEEP_SYSTEM=0
while [ $# -gt 0 ]; do
    case "$1" in
        --download|--offline)
            [ $# -ge 2 ] || { echo "setup_env.sh: $1 needs a folder" >&2; usage 2; }
            MODE=${1#--}; WH=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
        --python-version) TARGET_PY=$2; shift 2 ;;
        --platform) TARGET_PLATFORM+=(--platform "$2"); shift 2 ;;
        --skip) SKIP=$2; shift 2 ;;
        --keep-system) KEEP_SYSTEM=1; shift ;;
        -h|--help) usage ;;
        *) echo "setup_env.sh: unknown argument '$1'" >&2; usage 2 ;;
    esac
done
if [ "$MODE" != download ] && { [ -n "$TARGET_PY$SKIP" ] || [ ${#TARGET_PLATFORM[@]} -gt 0 ]; }; then
    echo "setup_env.sh: --python-version, --platform and --skip go with --download DIR" >&2; exit 2
fi
if [ "$KEEP_SYSTEM" = 1 ] && [ "$MODE" != offline ]; then
    echo "setup_env.sh: --keep-system goes with --offline DIR" >&2; exit 2
fi
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
CONSTRAINTS="$ROOT/constraints.txt"
LOG_DIR="$VENV/setup-logs"
WHEELS="$VENV/wheels"  # mmcv's wheel, built once, kept for --download
T0=$(date +%s)

NOCACHE=()
case "${PIP_NO_CACHE_DIR:-}" in
    ''|0|false|no|off) ;;
    *) NOCACHE=(--no-cache-dir) ;;  # explicit: --isolated pip calls ignore PIP_* variables
esac
# --offline: this folder and nothing else (--isolated: no pip configuration, no find-links of it)
SOURCE=()
[ "$MODE" = offline ] && SOURCE=(--isolated --no-index --find-links "$WH")
[ "$MODE" = offline ] && { [ -n "$(ls "$WH")" ] || { echo "setup_env.sh: $WH is empty; fill it with --download on a connected machine" >&2; exit 2; }; }

STEP=0
NSTEPS=6
if [ "$MODE" = download ]; then  # 6 set-up steps + the wheelhouse, or the wheelhouse alone
    NSTEPS=7
    if [ -n "$SKIP" ] || [ ${#TARGET_PLATFORM[@]} -gt 0 ] || { [ -n "$TARGET_PY" ] && \
            [ "$TARGET_PY" != "$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ]; }; then
        NSTEPS=2
    fi
fi
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
[ "$MODE" = offline ] && echo "Offline install from $WH (no package index)"
[ "$KEEP_SYSTEM" = 1 ] && echo "Keeping the machine's own packages (torch among them); installing what is missing"

step "virtual environment in $VENV" "seconds"
if ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    VENV_OPTS=(--clear)
    [ "$KEEP_SYSTEM" = 1 ] && VENV_OPTS+=(--system-site-packages)
    "$PY" -m venv "${VENV_OPTS[@]}" "$VENV" || fail "'$PY -m venv' failed: install python3-venv (Debian/Ubuntu) or set PYTHON=/path/to/python3.10+"
fi
VPY="$VENV/bin/python"
"$VPY" -c 'import sys; assert sys.version_info >= (3, 10)' \
    || fail "$VENV uses $("$VPY" -V 2>&1); Python >= 3.10 is needed (set PYTHON=, delete $VENV, re-run)"
mkdir -p "$LOG_DIR"
pipc() { "$VPY" -m pip --disable-pip-version-check "${NOCACHE[@]}" "$@" "${SOURCE[@]}" -c "$CONSTRAINTS"; }
pipc install -q pip setuptools wheel ninja
done_step

# --download for another Python / platform, or without what the target machine has (--skip):
# nothing is set up here, and mmcv goes in as its source archive (built by --offline there).
TARGET=()
SETUP_HERE=1
if [ "$MODE" = download ]; then
    VER=$("$VPY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if { [ -n "$TARGET_PY" ] && [ "$TARGET_PY" != "$VER" ]; } || [ ${#TARGET_PLATFORM[@]} -gt 0 ]; then
        TARGET=(--only-binary=:all: --python-version "${TARGET_PY:-$VER}" "${TARGET_PLATFORM[@]}")
    fi
    if [ ${#TARGET[@]} -gt 0 ] || [ -n "$SKIP" ]; then SETUP_HERE=0; fi
fi

if [ "$SETUP_HERE" = 1 ]; then
if [ "$KEEP_SYSTEM" = 1 ]; then
    step "the machine's torch (2.11-2.13) and torchvision" "seconds"
else
    step "torch 2.13.0 + torchvision 0.28.0" "1-3 min; a 4.8 GB download with an empty pip cache"
fi
torch_ok() {
    "$VPY" - <<'EOF' 2>/dev/null
import torch, torchvision
assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__
assert torchvision.__version__.split('+')[0] == '0.28.0', torchvision.__version__
torch.zeros(1) + 1
EOF
}
if [ "$KEEP_SYSTEM" = 1 ]; then
    # The machine's own torch (supported: 2.11 to 2.13, see docs/install.md).
    "$VPY" - <<'EOF' || fail "--keep-system needs the machine's own torch 2.11-2.13 with a torchvision that imports ($PY)"
import torch, torchvision
major, minor = (int(x) for x in torch.__version__.split('+')[0].split('.')[:2])
assert (2, 11) <= (major, minor) <= (2, 13), torch.__version__
torch.zeros(1) + 1
print(f'      the machine\'s torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'CUDA {torch.version.cuda}, GPU visible: {torch.cuda.is_available()}')
EOF
elif ! torch_ok; then
    pipc install torch==2.13.0 torchvision==0.28.0 || true
    if ! torch_ok && [ "$MODE" != offline ]; then
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
    fi
    torch_ok || fail "torch 2.13.0 + torchvision 0.28.0 still do not import; see: $VPY -c 'import torchvision'"
fi
done_step

step "other dependencies (requirements.txt)" "1-2 min"
if [ "$KEEP_SYSTEM" = 1 ]; then
    # The wheelhouse was made without what the machine has (--download --skip): install all of it.
    find "$WH" -maxdepth 1 -type f \( -name '*.whl' -o -name '*.tar.gz' \) ! -name 'mmcv-*' -print0 \
        | xargs -0 "$VPY" -m pip --disable-pip-version-check "${NOCACHE[@]}" install -q --no-deps "${SOURCE[@]}"
else
    grep -v '^mmcv' requirements.txt | grep -v '^torch' | pipc install -q -r /dev/stdin
fi
done_step

step "mmcv 2.1.0 with its C++ ops" "building mmcv's C++ ops from source: 10-20 min on 2 cores, 1-2 min on 16; seconds from a wheel"
# mmcv's setup.py imports pkg_resources and torch's C++ extension builder from the venv; it
# builds CUDA ops whenever torch sees a GPU, so check_build_prereqs.py decides and says how.
WANT_OPS=$([ "$("$VPY" -c 'import sys; sys.path.insert(0, "tools"); import check_build_prereqs as c, os; print(int(c.wants_cuda_ops(os.environ)))')" = 1 ] && echo cuda || echo cpu)
mmcv_ok() {
    "$VPY" - "$WANT_OPS" <<'EOF' 2>/dev/null
import sys, mmcv, mmcv.ops
assert mmcv.__version__ == '2.1.0'
assert (mmcv.ops.get_compiling_cuda_version() != 'not available') == (sys.argv[1] == 'cuda')
EOF
}
if ! mmcv_ok; then
    BUILD_ENV=$("$VPY" tools/check_build_prereqs.py --mmcv-env) \
        || fail "mmcv cannot be built as things are (see above). Re-running this script re-pins the build tools from constraints.txt."
    echo "      mmcv's ops: $(sed -n 's/^CASE=//p' <<<"$BUILD_ENV")"
    ENV_ARGS=()
    while IFS= read -r line; do
        [ "${line%%=*}" = CASE ] || ENV_ARGS+=("$line")
    done <<<"$BUILD_ENV"
    BUILD_LOG="$LOG_DIR/mmcv-build.log"
    echo "      full build log: $BUILD_LOG"
    rm -f "$WHEELS"/mmcv-2.1.0-*.whl
    WHEEL_CACHE=("${NOCACHE[@]}")
    [ "$WANT_OPS" = cuda ] && WHEEL_CACHE=(--no-cache-dir)  # pip's wheel cache ignores the build's variables
    # 'pip wheel' keeps the wheel in $WHEELS (for --download); with --offline the wheelhouse's
    # wheel is taken as it is, or its source archive is built. In its own process group (setsid),
    # so that Ctrl-C here stops pip, ninja and every compiler process of the build.
    env "${ENV_ARGS[@]}" MAX_JOBS=${MAX_JOBS:-$(nproc)} setsid "$VPY" -m pip --disable-pip-version-check \
        "${WHEEL_CACHE[@]}" wheel -v --no-build-isolation --no-deps -w "$WHEELS" "${SOURCE[@]}" \
        mmcv==2.1.0 -c "$CONSTRAINTS" >"$BUILD_LOG" 2>&1 </dev/null &
    BUILD_PID=$!
    trap 'kill -TERM -- -$BUILD_PID 2>/dev/null; echo "      interrupted: the mmcv build was stopped; re-run this script to build it again"; exit 130' INT TERM
    LAST=$(date +%s)
    while kill -0 "$BUILD_PID" 2>/dev/null; do
        sleep 5 & wait $! || true  # 'wait' lets Ctrl-C / TERM reach the trap at once
        [ $(( $(date +%s) - LAST )) -ge 30 ] && kill -0 "$BUILD_PID" 2>/dev/null || continue
        LAST=$(date +%s)
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
    pipc install -q --no-deps --force-reinstall --no-index --find-links "$WHEELS" mmcv==2.1.0 \
        || fail "could not install the mmcv wheel in $WHEELS"
    mmcv_ok || fail "mmcv built but 'import mmcv.ops' fails or has the wrong ops (wanted: $WANT_OPS); see $BUILD_LOG"
    echo "      kept: $(ls "$WHEELS"/mmcv-2.1.0-*.whl)"
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
rows += [('mmcv ops', 'CUDA ' + mmcv.ops.get_compiling_cuda_version()
          if mmcv.ops.get_compiling_cuda_version() != 'not available' else 'CPU')]
rows += [('declip_mmseg', declip_mmseg.__version__), ('CUDA available', str(torch.cuda.is_available()))]
print('      ' + '\n      '.join('%-16s %s' % r for r in rows))
EOF
done_step
fi

if [ "$MODE" = download ]; then
    step "wheelhouse $WH" "a few minutes: torch with its CUDA libraries is 4.8 GB"
    REPORT="$LOG_DIR/wheelhouse-report.json"
    # pip's own resolution of requirements.txt (mmcv aside: it has no wheels) plus the build
    # tools, for the target; --isolated: PyPI's files, not a local pip configuration's
    # (INDEX_URL= names a mirror).
    INDEX=()
    [ -n "${INDEX_URL:-}" ] && INDEX=(--index-url "$INDEX_URL")
    grep -v '^mmcv' requirements.txt | "$VPY" -m pip --disable-pip-version-check --isolated "${NOCACHE[@]}" \
        install -q --dry-run --ignore-installed --report "$REPORT" "${INDEX[@]}" "${TARGET[@]}" \
        -c "$CONSTRAINTS" -r /dev/stdin pip setuptools wheel ninja \
        || fail "pip could not resolve requirements.txt for ${TARGET[*]:-this Python}"
    SKIP_ARGS=()
    [ -n "$SKIP" ] && SKIP_ARGS=(--skip "$SKIP")
    [ -n "$TARGET_PY" ] && SKIP_ARGS+=(--python-version "$TARGET_PY")
    "$VPY" tools/wheelhouse_list.py "$REPORT" "${SKIP_ARGS[@]}" >"$LOG_DIR/wheelhouse.txt"
    echo "      $(wc -l <"$LOG_DIR/wheelhouse.txt") packages (list: $LOG_DIR/wheelhouse.txt)"
    DL=(--no-deps)
    [ ${#TARGET[@]} -gt 0 ] && DL+=("${TARGET[@]}")
    "$VPY" -m pip --disable-pip-version-check --isolated "${NOCACHE[@]}" download -q "${DL[@]}" "${INDEX[@]}" \
        -d "$WH" -r "$LOG_DIR/wheelhouse.txt" || fail "downloading into $WH failed"
    if [ ${#TARGET[@]} -eq 0 ] && ls "$WHEELS"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
        cp "$WHEELS"/mmcv-2.1.0-*.whl "$WH"/
        echo "      mmcv: the wheel built by this set-up ($(basename "$WHEELS"/mmcv-2.1.0-*.whl))"
    else
        # Built on the target by --offline (a few minutes); --no-build-isolation: mmcv's setup.py
        # needs this venv's setuptools < 81 just to read its metadata.
        "$VPY" -m pip --disable-pip-version-check --isolated "${NOCACHE[@]}" download -q --no-deps \
            --no-binary :all: --no-build-isolation "${INDEX[@]}" -d "$WH" mmcv==2.1.0 \
            || fail "downloading mmcv's source archive failed"
        echo "      mmcv: its source archive, built by --offline on the target"
    fi
    done_step
    printf '\nWheelhouse %s: %d files, %s. On the offline machine: bash tools/setup_env.sh --offline %s\n' \
        "$WH" "$(ls "$WH" | wc -l)" "$(du -sh "$WH" | cut -f1)" "$WH"
    exit 0
fi
printf '\nTime per step:%s\n' "$SUMMARY"
printf '\nReady in %s after %d min %02d s. Next: %s/bin/python -m pytest tests\n' \
    "$VENV" $(( ($(date +%s) - T0) / 60 )) $(( ($(date +%s) - T0) % 60 )) "$VENV"
