"""Run the real tccli offline: argument parsing, --cli-input-json loading and the SDK's request
models all run as installed, only the HTTP exchange is replaced by a recorder (the request is built and TC3-signed as usual) that answers from a
small in-memory account (state kept in a JSON file between calls).

    python tccli_offline.py <tccli arguments...>

OFFLINE_STATE: the state/log file (JSON). Each call is appended to its "calls" list as
{service, version, action, region, params}; `params` is exactly what tccli would have sent.
A request field the SDK model does not know is an error (tccli would drop it silently).
"""
import json
import os
import sys
import warnings

from tencentcloud.common.http.request import ApiRequest

STATE = os.environ["OFFLINE_STATE"]


def load():
    try:
        with open(STATE, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {"calls": [], "roles": [], "policies": {}, "functions": {}, "triggers": []}


def answer(st, action, p):
    """The response body of `action`, or an error (code, message), from the account state."""
    fn = p.get("FunctionName")
    if action == "GetRole":
        return {"RoleInfo": {"RoleName": p["RoleName"]}} if p["RoleName"] in st["roles"] else (
            "ResourceNotFound.RoleNotExist", "role not exist")
    if action == "CreateRole":
        st["roles"].append(p["RoleName"])
        return {"RoleId": "4611686018000000001"}
    if action == "ListPolicies":
        return {"TotalNum": len(st["policies"]),
                "List": [{"PolicyId": i, "PolicyName": n} for n, i in st["policies"].items()]}
    if action == "CreatePolicy":
        st["policies"][p["PolicyName"]] = 100 + len(st["policies"])
        return {"PolicyId": st["policies"][p["PolicyName"]]}
    if action == "CreatePolicyVersion":
        if p["PolicyId"] not in st["policies"].values():
            return ("ResourceNotFound.PolicyIdNotExist", "policy not exist")
        return {"VersionId": 2}
    if action == "GetFunction":
        return {"FunctionName": fn, "Status": "Active"} if fn in st["functions"] else (
            "ResourceNotFound.Function", "function not exist")
    if action == "CreateFunction":
        st["functions"][fn] = p
        return {}
    if action in ("UpdateFunctionCode", "UpdateFunctionConfiguration", "DeleteFunction"):
        if fn not in st["functions"]:
            return ("ResourceNotFound.Function", "function not exist")
        if action == "DeleteFunction":
            del st["functions"][fn]
        return {}
    if action == "DeleteRole":
        st["roles"] = [r for r in st["roles"] if r != p["RoleName"]]
        return {}
    if action == "DeletePolicy":
        st["policies"] = {n: i for n, i in st["policies"].items() if i not in p["PolicyId"]}
        return {}
    if action == "DeleteTrigger":
        st["triggers"] = [t for t in st["triggers"] if t["TriggerDesc"] != p["TriggerDesc"]]
        return {}
    if action == "ListTriggers":
        return {"TotalCount": len(st["triggers"]), "Triggers": st["triggers"]}
    if action == "CreateTrigger":
        st["triggers"].append({"Type": p["Type"], "TriggerName": p["TriggerName"],
                               "TriggerDesc": p["TriggerDesc"]})
        return {"TriggerInfo": {}}
    return {}


class Reply(object):
    """What ApiRequest.send_request returns: the SDK then checks status and `Response.Error`."""
    def __init__(self, body):
        self.status_code = 200
        self.headers = {"Content-Type": "application/json"}
        self.content = json.dumps({"Response": body}).encode()


def send_request(self, req):
    """The signed request tccli built: recorded instead of sent."""
    headers = {k.lower(): v for k, v in req.header.items()}
    assert headers["authorization"].startswith("TC3-HMAC-SHA256 Credential="), headers
    params = json.loads(req.data)
    st = load()
    st["calls"].append({"host": req.host, "service": req.host.split(".")[0],
                        "version": headers["x-tc-version"], "action": headers["x-tc-action"],
                        "region": headers.get("x-tc-region"), "params": params})
    body = answer(st, headers["x-tc-action"], params)
    with open(STATE, "w", encoding="utf-8") as f:
        json.dump(st, f)
    if isinstance(body, tuple):
        body = {"Error": {"Code": body[0], "Message": body[1]}}
    body["RequestId"] = "offline-%d" % len(st["calls"])
    return Reply(body)


ApiRequest.send_request = send_request
warnings.filterwarnings("error", message=".*useless.*")
from tccli import main as tccli_main  # noqa: E402

sys.argv = ["tccli"] + sys.argv[1:]
sys.exit(tccli_main.main())
