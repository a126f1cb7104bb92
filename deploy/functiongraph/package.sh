#!/bin/sh
# Build the ZIP for the custom runtime: `bootstrap` + the slim binary at the ZIP root.
# Usage: deploy/functiongraph/package.sh [target-triple]   (default x86_64-unknown-linux-gnu)
set -eu
target="${1:-x86_64-unknown-linux-gnu}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
cargo build --release --no-default-features --target "$target" --manifest-path "$root/Cargo.toml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/bootstrap" "$work/bootstrap"
cp "$root/target/$target/release/image-triage" "$work/image-triage"
chmod +x "$work/bootstrap" "$work/image-triage"
(cd "$work" && zip -q -9 "$root/image-triage.zip" bootstrap image-triage)
echo "wrote $root/image-triage.zip"
