#!/usr/bin/env bash
# Tools the test suite runs against, from PyPI only, into a private venv in the cache:
#   cargo-lambda: the Lambda Runtime API emulator (`cargo lambda watch --only-lambda-apis`).
#   moto[server] + boto3: S3/SQS/SNS/IAM server with SigV4 checking (tests start it themselves).
#   cfn-lint + aws-sam-translator: lint template.yaml and run the SAM transform on it.
#   ziglang: the linker cargo-lambda builds the Lambda bootstrap with (`sam build`).
# and, in a second venv (their pins clash with moto's boto3):
#   aws-sam-cli: `sam validate --lint` and `sam build` of template.yaml (tests/sam_build.rs).
#   tccli: Tencent Cloud's official CLI; its bundled API descriptions check the Tencent deploy.
#   python-hcl2: parses deploy/functiongraph/main.tf for the Huawei deploy checks.
# and from npm (with the machine's Node.js):
#   @cdktf/hcl-tools: hclwrite's formatter (what `terraform fmt` runs) for the `fmt` check of main.tf.
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
ZIG_VER=0.17.1
SAM_CLI_VER=1.170.0
TCCLI_VER=3.1.189.1
HCL2_VER=8.1.4
HCL_TOOLS_VER=0.21.0
hcl_tools="$cache/hcl-tools"
deploy="$cache/deploy-tools"
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
if ! "$tools/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIG_VER"; then
    echo "install-test-tools: installing ziglang==$ZIG_VER into $tools" >&2
    pip "ziglang==$ZIG_VER"
fi
deploy_tools=("aws-sam-cli==$SAM_CLI_VER" "tccli==$TCCLI_VER" "python-hcl2==$HCL2_VER")
if [ "$(cat "$deploy/.deploy-tools" 2>/dev/null)" != "${deploy_tools[*]}" ]; then
    echo "install-test-tools: installing ${deploy_tools[*]} into $deploy" >&2
    rm -rf "$deploy"
    python3 -m venv "$deploy" >&2
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$deploy/bin/pip" install --quiet --no-input "${deploy_tools[@]}" </dev/null >&2
    echo "${deploy_tools[*]}" >"$deploy/.deploy-tools"
fi
if [ "$(node -p "require('$hcl_tools/node_modules/@cdktf/hcl-tools/package.json').version" 2>/dev/null)" != "$HCL_TOOLS_VER" ]; then
    echo "install-test-tools: installing @cdktf/hcl-tools@$HCL_TOOLS_VER into $hcl_tools" >&2
    npm install --prefix "$hcl_tools" --no-audit --no-fund --silent "@cdktf/hcl-tools@$HCL_TOOLS_VER" </dev/null >&2
fi
if ! bash "$(dirname "$0")/start-rabbitmq.sh" install >&2; then
    # Not fatal here: tests/amqp_sink.rs then fails and says why.
    echo "install-test-tools: rabbitmq-server could not be installed; the AMQP sink test will fail" >&2
fi
echo "export TRIAGE_CARGO_LAMBDA='$tools/bin/cargo-lambda'"
echo "export TRIAGE_MOTO_SERVER='$tools/bin/moto_server'"
echo "export TRIAGE_TOOLS_PYTHON='$tools/bin/python'"
echo "export TRIAGE_CFN_LINT='$tools/bin/cfn-lint'"
echo "export TRIAGE_TOOLS_BIN='$tools/bin'"
echo "export TRIAGE_SAM='$deploy/bin/sam'"
echo "export TRIAGE_TCCLI='$deploy/bin/tccli'"
echo "export TRIAGE_DEPLOY_PYTHON='$deploy/bin/python'"
echo "export TRIAGE_HCL_TOOLS='$hcl_tools/node_modules/@cdktf/hcl-tools'"
