#!/usr/bin/env bash
# ONNX Runtime, one thread, on our .onnx files: the reference the local models are held to
# (per-image model time must be at most ONNX Runtime's, measured side by side).
#
#   scripts/ort-bench.sh MODEL.onnx:SHAPE [MODEL.onnx:SHAPE ...]
#   scripts/ort-bench.sh            # the two default models from the cache, with their shapes
#
#   e.g. scripts/ort-bench.sh ~/.cache/image-triage/models/efficientnet_lite0.onnx:1x3x224x224 \
#                             ~/.cache/image-triage/models/open_nsfw.onnx:1x224x224x3
#
# ONNX Runtime comes from its PyPI wheel (pinned below) in a venv at $CACHE/ort-venv, made on
# first use and reused after (idempotent; re-made when the pins change). The same wheel's
# onnxruntime/capi/libonnxruntime.so.* is what the `ort` crate would load (`ort-lib` prints it).
# Per model: session load time, BENCH_WARMUP warm-up runs (default 3), then the median of
# BENCH_ROUNDS runs (default 20) with intra_op_num_threads=1, inter_op_num_threads=1,
# sequential execution, all graph optimisations (scripts/ort_bench.py).
# stdout: one JSON object per model, e.g.
#   {"model": "open_nsfw.onnx", "ort_median_ms": 9.8, "ort_min_ms": ..., "ort_load_ms": ...,
#    "ort_version": "1.32.0", "input": ..., "input_shape": [...], "threads": 1, ...}
# stderr: progress. Non-interactive (no stdin). Env: TRIAGE_CACHE, PYTHON (default python3),
# BENCH_ROUNDS, BENCH_WARMUP.
#
#   scripts/ort-bench.sh ort-lib   # only set up the venv; print the path of libonnxruntime.so.*
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
# Same rule as the Rust side (config::default_cache_dir) and scripts/fetch-models.sh.
CACHE="${TRIAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:?set TRIAGE_CACHE or HOME}/.cache}/image-triage}"
VENV="$CACHE/ort-venv"
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- pins ---------------------------------------------------------------------------
# onnxruntime 1.32.0: manylinux_2_28 wheels for x86_64 and aarch64 (glibc >= 2.28, GLIBCXX
# 3.4.22), Python >= 3.11. Its C API (version 32) serves ort 2.0.0-rc.15 (asks for API 31).
ORT_VER=1.32.0
PINS=("onnxruntime==$ORT_VER" numpy==2.4.6 flatbuffers==25.12.19 packaging==26.4 protobuf==7.36.2)

log() { printf 'ort-bench: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ensure_venv() {
    local stamp="$VENV/.pins" want="${PINS[*]}"
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
        "$VENV/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
        return 0
    fi
    log "setting up $VENV with ${PINS[*]} (PyPI)"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$PYTHON" -m venv "$VENV" >&2 || die "could not create a venv with $PYTHON (python3-venv installed?)"
    "$VENV/bin/pip" install --quiet --no-input --only-binary=:all: "${PINS[@]}" </dev/null >&2 ||
        die "pip install ${PINS[*]} failed"
    local got
    got="$("$VENV/bin/python" -c 'import onnxruntime; print(onnxruntime.__version__)')"
    [ "$got" = "$ORT_VER" ] || die "venv has onnxruntime $got, expected $ORT_VER"
    printf '%s' "$want" >"$stamp"
    log "venv ready (onnxruntime $got)"
}

ort_lib() {
    "$VENV/bin/python" - <<'EOF'
import glob, os, onnxruntime
capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
libs = sorted(glob.glob(os.path.join(capi, "libonnxruntime.so*")))
if not libs:
    raise SystemExit(f"ort-bench: no libonnxruntime.so* in {capi}")
print(libs[0])
EOF
}

ensure_venv
if [ "${1:-}" = ort-lib ]; then
    ort_lib
    exit 0
fi
if [ "$#" -eq 0 ]; then
    models="$CACHE/models"
    if [ ! -f "$models/efficientnet_lite0.onnx" ] || [ ! -f "$models/open_nsfw.onnx" ]; then
        die "no models in $models: run scripts/fetch-models.sh, or pass MODEL.onnx:SHAPE arguments"
    fi
    set -- "$models/efficientnet_lite0.onnx:1x3x224x224" "$models/open_nsfw.onnx:1x224x224x3"
fi
# One thread in every pool ONNX Runtime or numpy might start (the session pins its own too).
exec env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$VENV/bin/python" "$SCRIPT_DIR/ort_bench.py" "$@" </dev/null
