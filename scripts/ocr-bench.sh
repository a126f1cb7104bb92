#!/usr/bin/env bash
# rapidocr 3.10.0 on ONNX Runtime, one thread, on image files: the reference for the local OCR's
# speed (benches/ocr.rs prints both side by side).
#
#   scripts/ocr-bench.sh IMAGE [IMAGE ...]
#
# rapidocr and its dependencies come from PyPI (pinned below) into a venv at $CACHE/ocr-venv,
# made on first use (idempotent; re-made when the pins change). The models are the ones in
# $TRIAGE_MODEL_DIR (default $CACHE/models), i.e. exactly the files image-triage runs.
# stdout: one JSON object per image (scripts/ocr_bench.py). Env: TRIAGE_CACHE, TRIAGE_MODEL_DIR,
# PYTHON (default python3), BENCH_ROUNDS, BENCH_WARMUP. Non-interactive.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
CACHE="${TRIAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:?set TRIAGE_CACHE or HOME}/.cache}/image-triage}"
MODELS="${TRIAGE_MODEL_DIR:-$CACHE/models}"
VENV="$CACHE/ocr-venv"
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PINS=(rapidocr==3.10.0 onnxruntime==1.32.0 opencv-python-headless==5.0.0.93 numpy==2.4.6
    pyclipper==1.4.0 shapely==2.2.0 omegaconf==2.4.0 PyYAML==6.0.4 pillow==13.0.0 tqdm==4.70.1
    colorlog==6.12.0 requests==2.34.2 six==1.17.0)

log() { printf 'ocr-bench: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$#" -gt 0 ] || die "usage: scripts/ocr-bench.sh IMAGE [IMAGE ...]"
for f in PP-OCRv6_det_small.onnx PP-OCRv6_rec_small.onnx; do
    [ -f "$MODELS/$f" ] || die "$MODELS/$f missing: run scripts/fetch-models.sh"
done
if ! { [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.pins" 2>/dev/null)" = "${PINS[*]}" ]; }; then
    log "setting up $VENV with ${PINS[*]} (PyPI)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" >&2 || die "could not create a venv with $PYTHON"
    "$VENV/bin/pip" install --quiet --no-input --only-binary=:all: "${PINS[@]}" </dev/null >&2 ||
        die "pip install ${PINS[*]} failed"
    printf '%s' "${PINS[*]}" >"$VENV/.pins"
fi
exec env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$VENV/bin/python" "$SCRIPT_DIR/ocr_bench.py" \
    "$MODELS/PP-OCRv6_det_small.onnx" "$MODELS/PP-OCRv6_rec_small.onnx" "$@" </dev/null
