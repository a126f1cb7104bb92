#!/bin/sh
# Build the FunctionGraph custom-runtime ZIP: `bootstrap` + a static (musl) slim binary at the ZIP
# root, so it runs whatever glibc the FunctionGraph image has.
#
# Usage: deploy/functiongraph/package.sh [x86_64|arm64] [--print-commands]
#   x86_64 (default) builds x86_64-unknown-linux-musl, arm64 builds aarch64-unknown-linux-musl.
#   --print-commands prints the build and packaging commands and runs nothing.
# Output: target/functiongraph/image-triage-<arch>.zip (what main.tf deploys by default).
#
# Needs the Rust standard library for the musl target (`rustup target add <triple>`) and, for
# arm64 (and preferably x86_64 too), cargo-zigbuild with zig (`pip install cargo-zigbuild ziglang`),
# which also links the C parts (ring) for the target. Without cargo-zigbuild an x86_64 build
# uses plain `cargo build`, which needs a musl C compiler (Debian: musl-tools) for ring.
# The binary is built with --no-default-features: the cloud analyzers only, no ONNX Runtime.
set -eu

usage() {
    echo "usage: $0 [x86_64|arm64] [--print-commands]" >&2
    exit 2
}

arch=x86_64
print_only=no
for arg in "$@"; do
    case "$arg" in
    x86_64 | amd64) arch=x86_64 ;;
    arm64 | aarch64) arch=arm64 ;;
    --print-commands) print_only=yes ;;
    -h | --help) usage ;;
    *)
        echo "package.sh: unknown argument '$arg'" >&2
        usage
        ;;
    esac
done
case "$arch" in
x86_64) triple=x86_64-unknown-linux-musl ;;
arm64) triple=aarch64-unknown-linux-musl ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out_dir="$root/target/functiongraph"
zip_path="$out_dir/image-triage-$arch.zip"
bin="$target_dir/$triple/release/image-triage"

if cargo zigbuild --version >/dev/null 2>&1; then
    builder="cargo zigbuild"
elif [ "$arch" = x86_64 ] && [ "$(uname -m)" = x86_64 ]; then
    builder="cargo build"
else
    builder=""
fi
build_cmd="$builder --release --locked --no-default-features --target $triple --manifest-path $root/Cargo.toml"
zip_cmd="zip -X -9 $zip_path bootstrap image-triage  (in a staging directory holding $here/bootstrap and $bin)"

if [ "$print_only" = yes ]; then
    if [ -z "$builder" ]; then
        echo "# no builder: install cargo-zigbuild and zig (pip install cargo-zigbuild ziglang)"
        build_cmd="cargo zigbuild --release --locked --no-default-features --target $triple --manifest-path $root/Cargo.toml"
    fi
    echo "$build_cmd"
    echo "$zip_cmd"
    exit 0
fi

# The musl standard library must be installed for the target; say how before cargo fails on it.
sysroot="$(${RUSTC:-rustc} --print sysroot)"
if [ ! -d "$sysroot/lib/rustlib/$triple/lib" ]; then
    echo "package.sh: the Rust standard library for $triple is not installed ($sysroot/lib/rustlib/$triple)." >&2
    echo "package.sh: install it with: rustup target add $triple" >&2
    exit 1
fi
if [ -z "$builder" ]; then
    echo "package.sh: building for $triple needs cargo-zigbuild and zig: pip install cargo-zigbuild ziglang" >&2
    exit 1
fi

echo "package.sh: $build_cmd" >&2
$build_cmd

# Static means no program interpreter (ld.so) and no dynamic section.
if command -v readelf >/dev/null 2>&1; then
    if readelf -l "$bin" | grep -q 'INTERP'; then
        echo "package.sh: $bin is dynamically linked; expected a static musl binary" >&2
        exit 1
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/bootstrap" "$work/bootstrap"
cp "$bin" "$work/image-triage"
chmod 755 "$work/bootstrap" "$work/image-triage"
mkdir -p "$out_dir"
rm -f "$zip_path"
if command -v zip >/dev/null 2>&1; then
    (cd "$work" && zip -q -X -9 "$zip_path" bootstrap image-triage)
else
    # Same layout with Python's zipfile (keeps the executable bits).
    python3 - "$work" "$zip_path" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name in ("bootstrap", "image-triage"):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(src, name), "rb") as f:
            z.writestr(info, f.read())
PY
fi
echo "wrote $zip_path ($triple)"
