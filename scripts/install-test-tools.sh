#!/usr/bin/env bash
# Tools the test suite runs against, from PyPI only, into a private venv in the cache:
#   cargo-lambda: the Lambda Runtime API emulator (`cargo lambda watch --only-lambda-apis`).
#   moto[server] + boto3: S3/SQS/SNS/IAM server with SigV4 checking (tests start it themselves).
#   cfn-lint + aws-sam-translator: lint template.yaml and run the SAM transform on it.
# and from Debian (apt-get, non-interactive; the system service is not started):
#   rabbitmq-server: tests/amqp_sink.rs starts its own node with scripts/start-rabbitmq.sh.
# Prints `export` lines for the test script to eval. Idempotent; non-interactive.
set -euo pipefail
cache="${TRIAGE_CACHE:-${XDG_CACHE_HOME:-${HOME:?set TRIAGE_CACHE or HOME}/.cache}/image-triage}"
tools="$cache/tools"
CARGO_LAMBDA_VER=1.9.2
MOTO_VER=5.2.5
CFN_LINT_VER=1.58.0
SAM_TRANSLATOR_VER=1.115.0
BOTO3_VER=1.44.5
pip() { PIP_DISABLE_PIP_VERSION_CHECK=1 "$tools/bin/pip" install --quiet --no-input "$@" </dev/null >&2; }

if ! "$tools/bin/cargo-lambda" lambda --version 2>/dev/null | grep -q "$CARGO_LAMBDA_VER"; then
    echo "install-test-tools: installing cargo-lambda==$CARGO_LAMBDA_VER into $tools" >&2
    rm -rf "$tools"
    python3 -m venv "$tools" >&2
    # --no-deps: its only dependency, ziglang (~400 MB), serves cross-compiling, not the emulator.
    pip --no-deps "cargo-lambda==$CARGO_LAMBDA_VER"
fi
aws_tools=("moto[server]==$MOTO_VER" "boto3==$BOTO3_VER" "cfn-lint==$CFN_LINT_VER" "aws-sam-translator==$SAM_TRANSLATOR_VER")
if [ "$(cat "$tools/.aws-tools" 2>/dev/null)" != "${aws_tools[*]}" ]; then
    echo "install-test-tools: installing ${aws_tools[*]} into $tools" >&2
    pip "${aws_tools[@]}"
    echo "${aws_tools[*]}" >"$tools/.aws-tools"
fi
if ! bash "$(dirname "$0")/start-rabbitmq.sh" install >&2; then
    # Not fatal here: tests/amqp_sink.rs then fails and says why.
    echo "install-test-tools: rabbitmq-server could not be installed; the AMQP sink test will fail" >&2
fi
echo "export TRIAGE_CARGO_LAMBDA='$tools/bin/cargo-lambda'"
echo "export TRIAGE_MOTO_SERVER='$tools/bin/moto_server'"
echo "export TRIAGE_TOOLS_PYTHON='$tools/bin/python'"
echo "export TRIAGE_CFN_LINT='$tools/bin/cfn-lint'"
