#!/usr/bin/env python3
"""Render every Tencent Cloud API request deploy.sh sends, as tccli `--cli-input-json` files.

Reads the deploy variables from the environment (see deploy.sh), writes one JSON file per request
into OUT_DIR, named `NN-<service>-<Action>[-<what>].json`, plus `policy.json` (the role's CAM
policy document), `trust.json` (the role's trust policy), `scan-policy.json` (what an operator
running `image-triage scan` needs) and `function.env` (the function's TRIAGE_* settings). Standard library only. Exit 2 with a message on a bad variable.

    render.py deploy OUT_DIR ZIP_FILE     # create/update requests
    render.py delete OUT_DIR              # clean-up requests
"""
import base64
import json
import os
import re
import sys

COS_EVENTS = ("cos:ObjectCreated:Put", "cos:ObjectCreated:Post",
              "cos:ObjectCreated:CompleteMultipartUpload")


def fail(msg):
    print(f"deploy/tencent: {msg}", file=sys.stderr)
    sys.exit(2)


def var(name, default=None, pattern=None, what=""):
    value = os.environ.get(name, "")
    if value == "":
        if default is None:
            fail(f"{name} is not set{': ' + what if what else ''}")
        value = default
    if pattern and not re.fullmatch(pattern, value):
        fail(f"{name}={value!r}: expected {what or pattern}")
    return value


def settings():
    s = {}
    s["region"] = var("REGION", pattern=r"[a-z]+(-[a-z0-9]+)+", what="a region such as ap-guangzhou")
    s["bucket"] = var("BUCKET", pattern=r"[a-z0-9]([a-z0-9-]*[a-z0-9])?-[0-9]{5,}",
                      what="the full bucket name <name>-<appid>, e.g. mybucket-1250000000")
    s["appid"] = s["bucket"].rsplit("-", 1)[1]
    prefix = r"([A-Za-z0-9!_.*'()-]+/)+"
    s["upload_prefix"] = var("UPLOAD_PREFIX", "uploads/", prefix, "a key prefix ending in / (uploads/)")
    s["results_prefix"] = var("RESULTS_PREFIX", "triage-results/", prefix, "a key prefix ending in /")
    s["quarantine_prefix"] = var("QUARANTINE_PREFIX", "triage-quarantine/", prefix, "a key prefix ending in /")
    for other in ("results_prefix", "quarantine_prefix"):
        a, b = s["upload_prefix"], s[other]
        if a.startswith(b) or b.startswith(a):
            fail(f"UPLOAD_PREFIX={a!r} overlaps {other.upper()}={b!r}: the function's own outputs "
                 "would trigger it; choose prefixes where neither starts with the other")
    s["function"] = var("FUNCTION_NAME", "image-triage", r"[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]",
                        "2-60 letters, digits, - and _, a letter first, no - or _ last")
    s["namespace"] = var("NAMESPACE", "default", r"[A-Za-z0-9_-]{1,30}")
    s["role"] = var("ROLE_NAME", "image-triage-role", r"[A-Za-z0-9+=,.@_-]{1,128}")
    s["policy"] = var("POLICY_NAME", s["role"] + "-policy", r"[A-Za-z0-9+=,.@_-]{1,128}")
    s["memory"] = int(var("MEMORY_MB", "256", r"64|[1-9][0-9]*", "64, or 128-3072 in steps of 128"))
    if s["memory"] != 64 and not (128 <= s["memory"] <= 3072 and s["memory"] % 128 == 0):
        fail(f"MEMORY_MB={s['memory']}: expected 64, or 128-3072 in steps of 128")
    s["timeout"] = int(var("TIMEOUT_S", "60", r"[1-9][0-9]{0,2}", "1-900 seconds"))
    if s["timeout"] > 900:
        fail(f"TIMEOUT_S={s['timeout']}: expected 1-900 seconds")
    s["labeler"] = var("LABELER", "cos-ci", r"cos-ci|tiia|none", "cos-ci, tiia or none")
    s["moderator"] = var("MODERATOR", "ims", r"ims|cos-ci|none", "ims, cos-ci or none")
    s["block"] = var("BLOCK_ACTION", "none", r"none|tag|private|quarantine|delete",
                     "none, tag, private, quarantine or delete")
    s["queue"] = var("QUEUE", "", r"|[A-Za-z][A-Za-z0-9_-]{0,63}", "a TDMQ CMQ queue name")
    # SCF's error table: "The value of Type should be CMQ-TOPIC, CMQ-QUEUE, topic or queue".
    s["dlq_name"] = var("DLQ_NAME", "", r"|[A-Za-z][A-Za-z0-9_-]{0,63}", "a CMQ queue or topic name")
    s["dlq_type"] = var("DLQ_TYPE", "CMQ-QUEUE" if s["dlq_name"] else "", r"|CMQ-QUEUE|CMQ-TOPIC",
                        "CMQ-QUEUE or CMQ-TOPIC")
    if s["dlq_type"] and not s["dlq_name"]:
        fail("DLQ_TYPE needs DLQ_NAME, the dead-letter queue or topic")
    s["retry"] = int(var("RETRY_NUM", "2", r"[0-9]", "a retry count (0-2 documented in the SCF console)"))
    s["msg_ttl"] = int(var("MSG_TTL", "3600", r"[1-9][0-9]{1,4}", "seconds an event waits for a retry"))
    s["extra_env"] = []
    extra = os.environ.get("EXTRA_ENV", "")
    if extra:
        with open(extra, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.+", line):
                    fail(f"EXTRA_ENV {extra}:{n}: expected NAME=VALUE")
                s["extra_env"].append(tuple(line.split("=", 1)))
    return s


def cos_res(s, path):
    return f"qcs::cos:{s['region']}:uid/{s['appid']}:{s['bucket']}/{path}"


def policy(s, scan=False):
    """The role's CAM policy: per scope, exactly the actions the function uses (docs/tencent.md,
    tests/deploy_tencent/cam_actions.tsv)."""
    up, res, qua = s["upload_prefix"], s["results_prefix"], s["quarantine_prefix"]
    upload = ["name/cos:HeadObject", "name/cos:GetObject", "name/cos:PutObject",
              "name/cos:GetObjectACL", "name/cos:PutObjectACL",
              "name/cos:GetObjectTagging", "name/cos:PutObjectTagging"]
    if s["block"] in ("quarantine", "delete"):
        upload.append("name/cos:DeleteObject")
    statements = [
        {"effect": "allow", "action": upload, "resource": [cos_res(s, up + "*")]},
        {"effect": "allow", "action": ["name/cos:HeadObject", "name/cos:GetObject", "name/cos:PutObject"],
         "resource": [cos_res(s, res + "*")]},
        # GetBucketACL is authorised on the bucket (`<bucket-appid>/*`, CAM's COS table).
        {"effect": "allow", "action": ["name/cos:GetBucketACL"] + (["name/cos:GetBucket"] if scan else []),
         "resource": [cos_res(s, "*")]},
    ]
    if s["block"] == "quarantine":
        statements.append({"effect": "allow", "action": ["name/cos:PutObject", "name/cos:PutObjectACL"],
                           "resource": [cos_res(s, qua + "*")]})
    ci = []
    if s["labeler"] == "cos-ci":
        ci.append("name/ci:CreateDetectLabelJob")
    if s["moderator"] == "cos-ci":
        ci.append("name/ci:CreateAuditingPictureJob")
    if ci:
        statements.append({"effect": "allow", "action": ci, "resource": [
            f"qcs::ci:{s['region']}:uid/{s['appid']}:bucket/{s['bucket']}/*"]})
    # Operation-level services: CAM takes only "*" as their resource.
    op = []
    if s["moderator"] == "ims":
        op.append("name/ims:ImageModeration")
    if s["labeler"] == "tiia":
        op.append("name/tiia:DetectLabel")
    if s["queue"]:
        op.append("name/tdmq:SendCmqMsg")
    if op:
        statements.append({"effect": "allow", "action": op, "resource": ["*"]})
    return {"version": "2.0", "statement": statements}


TRUST = {"version": "2.0", "statement": [{"action": "name/sts:AssumeRole", "effect": "allow",
                                          "principal": {"service": ["scf.qcloud.com"]}}]}


def function_env(s):
    env = [("TRIAGE_RESULTS_PREFIX", s["results_prefix"]),
           ("TRIAGE_QUARANTINE_PREFIX", s["quarantine_prefix"]),
           ("TRIAGE_LABELER", s["labeler"]),
           ("TRIAGE_MODERATOR", s["moderator"]),
           ("TRIAGE_BLOCK_ACTION", s["block"]),
           ("TRIAGE_BUCKETS", s["bucket"]),
           ("TRIAGE_LOG_FORMAT", "json")]
    if s["queue"]:
        env.append(("TRIAGE_QUEUE", f"cmq://{s['queue']}?region={s['region']}"))
    names = {k for k, _ in env}
    for k, v in s["extra_env"]:
        if k in names:
            fail(f"EXTRA_ENV sets {k}, which deploy.sh sets from its own variable")
        env.append((k, v))
    return {"Variables": [{"Key": k, "Value": v} for k, v in env]}


def trigger_name(s):
    return f"{s['bucket']}.cos.{s['region']}.myqcloud.com"


def trigger_desc(s, event):
    return json.dumps({"event": event, "filter": {"Prefix": s["upload_prefix"], "Suffix": ""}},
                      separators=(",", ":"))


def compact(doc):
    return json.dumps(doc, separators=(",", ":"))


def deploy_requests(s, zip_b64):
    fn = {"FunctionName": s["function"], "Namespace": s["namespace"]}
    config = {
        **fn,
        "Description": "image-triage: tags and moderates images uploaded to COS",
        "MemorySize": s["memory"],
        "Timeout": s["timeout"],
        "InitTimeout": 10,
        "Environment": function_env(s),
        "Role": s["role"],
    }
    if s["dlq_type"]:
        config["DeadLetterConfig"] = {"Type": s["dlq_type"], "Name": s["dlq_name"]}
    r = {
        "10-cam-GetRole": {"RoleName": s["role"]},
        "11-cam-CreateRole": {"RoleName": s["role"], "PolicyDocument": compact(TRUST),
                              "Description": f"SCF function {s['function']} (image-triage)"},
        "12-cam-ListPolicies": {"Scope": "Local", "Keyword": s["policy"], "Rp": 200},
        "13-cam-CreatePolicy": {"PolicyName": s["policy"], "PolicyDocument": compact(policy(s)),
                                "Description": f"what image-triage does in {s['bucket']}"},
        # PolicyId is filled in by deploy.sh from ListPolicies when the policy exists.
        "14-cam-CreatePolicyVersion": {"PolicyId": 0, "PolicyDocument": compact(policy(s)),
                                       "SetAsDefault": True},
        "15-cam-AttachRolePolicy": {"PolicyName": s["policy"], "AttachRoleName": s["role"]},
        "20-scf-GetFunction": {**fn},
        "21-scf-CreateFunction": {
            **config,
            "Code": {"ZipFile": zip_b64},
            "CodeSource": "ZipFile",
            "Handler": "index.main_handler",
            "Runtime": "CustomRuntime",
            "Type": "Event",
        },
        "22-scf-UpdateFunctionCode": {**fn, "Code": {"ZipFile": zip_b64}, "CodeSource": "ZipFile",
                                      "Handler": "index.main_handler"},
        "23-scf-UpdateFunctionConfiguration": config,
        "30-scf-UpdateFunctionEventInvokeConfig": {
            **fn, "AsyncTriggerConfig": {"RetryConfig": [{"RetryNum": s["retry"]}], "MsgTTL": s["msg_ttl"]}},
        "40-scf-ListTriggers": {**fn, "Limit": 100},
    }
    for i, event in enumerate(COS_EVENTS):
        r[f"4{i + 1}-scf-CreateTrigger-{event.rsplit(':', 1)[1]}"] = {
            **fn, "TriggerName": trigger_name(s), "Type": "cos", "TriggerDesc": trigger_desc(s, event),
            "Qualifier": "$DEFAULT", "Enable": "OPEN",
            "Description": f"uploads under {s['upload_prefix']}"}
    return r


def delete_requests(s):
    fn = {"FunctionName": s["function"], "Namespace": s["namespace"]}
    r = {}
    for i, event in enumerate(COS_EVENTS):
        r[f"9{i}-scf-DeleteTrigger-{event.rsplit(':', 1)[1]}"] = {
            **fn, "TriggerName": trigger_name(s), "Type": "cos", "TriggerDesc": trigger_desc(s, event),
            "Qualifier": "$DEFAULT"}
    r["93-scf-DeleteFunction"] = {**fn}
    r["94-cam-DetachRolePolicy"] = {"PolicyName": s["policy"], "DetachRoleName": s["role"]}
    r["95-cam-ListPolicies"] = {"Scope": "Local", "Keyword": s["policy"], "Rp": 200}
    # PolicyId is filled in by deploy.sh from ListPolicies.
    r["96-cam-DeletePolicy"] = {"PolicyId": [0]}
    r["97-cam-DeleteRole"] = {"RoleName": s["role"]}
    return r


def main(argv):
    if len(argv) < 3 or argv[1] not in ("deploy", "delete") or (argv[1] == "deploy") != (len(argv) == 4):
        fail("usage: render.py deploy OUT_DIR ZIP_FILE | render.py delete OUT_DIR")
    s = settings()
    out = argv[2]
    os.makedirs(out, exist_ok=True)
    if argv[1] == "deploy":
        with open(argv[3], "rb") as f:
            zip_b64 = base64.b64encode(f.read()).decode()
        requests = deploy_requests(s, zip_b64)
    else:
        requests = delete_requests(s)
    for name, body in requests.items():
        with open(os.path.join(out, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(body, f, indent=2, ensure_ascii=False)
            f.write("\n")
    # The function's environment as shell assignments: `set -a; . function.env; set +a` gives
    # `image-triage scan` the same configuration (and so the same config hash) as the function.
    with open(os.path.join(out, "function.env"), "w", encoding="utf-8") as f:
        for v in function_env(s)["Variables"]:
            f.write("%s='%s'\n" % (v["Key"], v["Value"].replace("'", "'\\''")))
    for name, doc in (("policy", policy(s)), ("scan-policy", policy(s, scan=True)), ("trust", TRUST)):
        with open(os.path.join(out, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv)
