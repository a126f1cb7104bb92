#!/usr/bin/env bash
# Deploy image-triage to Tencent Cloud SCF with tccli (the official CLI, `pip install tccli`):
# a static musl build zipped as `bootstrap`, a CAM role SCF assumes with a policy allowing exactly
# what the function does, the function (CustomRuntime), its async retry settings and optional
# dead-letter queue, and COS triggers on the upload prefix only. docs/tencent.md walks through it.
#
#   deploy/tencent/deploy.sh [--dry-run DIR] [--zip FILE]   create, or update what exists
#   deploy/tencent/deploy.sh --delete [--dry-run DIR]       remove triggers, function, policy, role
#
# Every request is rendered first (deploy/tencent/render.py) as a tccli --cli-input-json file;
# --dry-run DIR writes them to DIR and calls nothing. --zip FILE deploys that package instead of
# building one. Variables (environment), required first:
#   REGION            bucket and function region, e.g. ap-guangzhou
#   BUCKET            the bucket's full name <name>-<appid>, e.g. mybucket-1250000000
#   UPLOAD_PREFIX     uploads/            the prefix the COS triggers watch (never the two below)
#   RESULTS_PREFIX    triage-results/     TRIAGE_RESULTS_PREFIX
#   QUARANTINE_PREFIX triage-quarantine/  TRIAGE_QUARANTINE_PREFIX
#   FUNCTION_NAME     image-triage        NAMESPACE default
#   ROLE_NAME         image-triage-role   POLICY_NAME <ROLE_NAME>-policy
#   MEMORY_MB 256     TIMEOUT_S 60
#   LABELER cos-ci (or tiia, none)        MODERATOR ims (or cos-ci, none)
#   BLOCK_ACTION none (tag, private, quarantine, delete)
#   QUEUE             a TDMQ CMQ queue name: results go there too (TRIAGE_QUEUE=cmq://QUEUE?region=REGION)
#   DLQ_NAME          a CMQ queue for events whose retries ran out; DLQ_TYPE CMQ-QUEUE (or CMQ-TOPIC)
#   RETRY_NUM 2       MSG_TTL 3600        async retry: attempts after a failure, seconds an event waits
#   EXTRA_ENV         a file of NAME=VALUE lines added to the function's environment (TRIAGE_* settings)
#   TCCLI tccli       PYTHON python3      RUSTC, CARGO, CARGO_TARGET_DIR as for cargo
#   credentials: tccli's own (TENCENTCLOUD_SECRET_ID/_SECRET_KEY, or `tccli configure`)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
TCCLI="${TCCLI:-tccli}"
mode=deploy dry="" zip=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry="${2:?--dry-run needs a directory}"; shift 2 ;;
        --zip) zip="${2:?--zip needs a file}"; shift 2 ;;
        --delete) mode=delete; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "deploy/tencent: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { echo "deploy/tencent: $*" >&2; }

# 1. The package: a static (musl) executable named `bootstrap`, mode 755, alone in a zip.
build() {
    local target=x86_64-unknown-linux-musl libdir
    libdir="$("${RUSTC:-rustc}" --print target-libdir --target "$target" 2>/dev/null || true)"
    if [ -z "$libdir" ] || ! ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
        say "the Rust standard library for $target is not installed."
        say "install it with:  rustup target add $target"
        say "(or pass --zip FILE with a package built elsewhere)"
        exit 2
    fi
    say "building the static binary ($target, --no-default-features: the Tencent path needs no local models)"
    # ring's C code needs a musl C compiler: cargo-zigbuild (zig) brings one; plain cargo needs
    # musl-tools (x86_64-linux-musl-gcc / musl-gcc) on the build machine.
    local build=build
    if "${CARGO:-cargo}" zigbuild --version >/dev/null 2>&1; then
        build=zigbuild
    elif ! command -v x86_64-linux-musl-gcc >/dev/null 2>&1 && ! command -v musl-gcc >/dev/null 2>&1; then
        say "note: no cargo-zigbuild and no musl C compiler found; if the build fails in ring, run"
        say "      pip install cargo-zigbuild ziglang   (or: apt-get install musl-tools)"
    fi
    (cd "$root" && "${CARGO:-cargo}" "$build" --release --locked --no-default-features --target "$target" >&2)
    local out="${CARGO_TARGET_DIR:-$root/target}"
    mkdir -p "$out/scf"
    install -m 755 "$out/$target/release/image-triage" "$out/scf/bootstrap"
    zip="$out/image-triage-scf.zip"
    "$PYTHON" - "$out/scf/bootstrap" "$zip" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)   # a regular file, rwxr-xr-x: SCF runs it as is
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read())
PY
    say "package: $zip ($(wc -c <"$zip") bytes)"
}

req="${dry:-$(mktemp -d)}"
[ -n "$dry" ] || trap 'rm -rf "$req"' EXIT
if [ "$mode" = deploy ]; then
    [ -n "$zip" ] || build
    [ -f "$zip" ] || { say "no package at $zip"; exit 2; }
    "$PYTHON" "$here/render.py" deploy "$req" "$zip"
else
    "$PYTHON" "$here/render.py" delete "$req"
fi
if [ -n "$dry" ]; then
    say "dry run: the requests are in $dry (nothing was called)"
    exit 0
fi

# 2. The calls. `call SERVICE ACTION FILE` prints the response; `try` also succeeds quietly on an error.
call() { "$TCCLI" "$1" "$2" --region "$REGION" --cli-input-json "file://$3"; }
try() { call "$@" 2>/dev/null; }
json() { "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
f() { ls "$req"/"$1"-*.json | head -n1; }
policy_id() { call cam ListPolicies "$(f "$2")" | json "next((p['PolicyId'] for p in d.get('List',[]) if p['PolicyName']=='$1'), '')"; }
set_field() { "$PYTHON" -c "import json,sys; p=sys.argv[1]; d=json.load(open(p)); d[sys.argv[2]]=json.loads(sys.argv[3]); json.dump(d,open(p,'w'))" "$1" "$2" "$3"; }

if [ "$mode" = delete ]; then
    for t in "$req"/9[0-2]-scf-DeleteTrigger-*.json; do try scf DeleteTrigger "$t" >/dev/null || true; done
    try scf DeleteFunction "$(f 93)" >/dev/null && say "function deleted" || say "no function to delete"
    try cam DetachRolePolicy "$(f 94)" >/dev/null || true
    id="$(policy_id "${POLICY_NAME:-${ROLE_NAME:-image-triage-role}-policy}" 95 || true)"
    if [ -n "$id" ]; then set_field "$(f 96)" PolicyId "[$id]"; call cam DeletePolicy "$(f 96)" >/dev/null; say "policy $id deleted"; fi
    try cam DeleteRole "$(f 97)" >/dev/null && say "role deleted" || say "no role to delete"
    exit 0
fi

# CAM: the role (trust: scf.qcloud.com), the policy (new, or a new default version), attached.
if try cam GetRole "$(f 10)" >/dev/null; then say "role exists"; else call cam CreateRole "$(f 11)" >/dev/null; say "role created"; fi
policy="${POLICY_NAME:-${ROLE_NAME:-image-triage-role}-policy}"
id="$(policy_id "$policy" 12)"
if [ -n "$id" ]; then
    set_field "$(f 14)" PolicyId "$id"
    call cam CreatePolicyVersion "$(f 14)" >/dev/null   # CAM keeps 5 versions: delete old ones in the console if this fails
    say "policy $policy updated (new default version)"
else
    call cam CreatePolicy "$(f 13)" >/dev/null; say "policy $policy created"
fi
call cam AttachRolePolicy "$(f 15)" >/dev/null

# SCF: create, or update code then configuration; wait for Active between steps.
wait_active() {
    local status=""
    for _ in $(seq 1 60); do
        status="$(call scf GetFunction "$(f 20)" | json "d.get('Status','')")"
        case "$status" in Active) return 0 ;; *Failed) say "function status $status"; exit 1 ;; esac
        sleep 5
    done
    say "function still $status after 5 minutes"; exit 1
}
if try scf GetFunction "$(f 20)" >/dev/null; then
    call scf UpdateFunctionCode "$(f 22)" >/dev/null; wait_active
    call scf UpdateFunctionConfiguration "$(f 23)" >/dev/null; wait_active
    say "function updated"
else
    call scf CreateFunction "$(f 21)" >/dev/null; wait_active
    say "function created"
fi
call scf UpdateFunctionEventInvokeConfig "$(f 30)" >/dev/null
say "async retry: RetryNum ${RETRY_NUM:-2}, MsgTTL ${MSG_TTL:-3600} s${DLQ_NAME:+; dead letters to ${DLQ_TYPE:-CMQ-QUEUE} $DLQ_NAME}"

# COS triggers: Put, Post, CompleteMultipartUpload on UPLOAD_PREFIX (never Copy: the metadata
# write-back is a self-copy). An existing one (same bucket, event and prefix) is left alone; one
# on another prefix is not this deploy's (remove it with the old settings' --delete).
trigger_key="t.get('TriggerName','') + '|' + json.loads(t.get('TriggerDesc') or '{}').get('event','') + '|' + json.loads(t.get('TriggerDesc') or '{}').get('filter',{}).get('Prefix','')"
existing="$(call scf ListTriggers "$(f 40)" | json "'\n'.join($trigger_key for t in d.get('Triggers',[]) if t.get('Type')=='cos')")"
for t in "$req"/4[1-9]-scf-CreateTrigger-*.json; do
    key="$("$PYTHON" -c "import json,sys; t=json.load(open(sys.argv[1])); print($trigger_key)" "$t")"
    event="${key#*|}"; event="${event%%|*}"
    if grep -qxF "$key" <<<"$existing"; then say "trigger $event exists"; continue; fi
    call scf CreateTrigger "$t" >/dev/null; say "trigger $event on ${UPLOAD_PREFIX:-uploads/} created"
done
say "done: upload an image under ${UPLOAD_PREFIX:-uploads/} (docs/tencent.md, step 5)"
