"""Parse a Terraform file with python-hcl2 and print it as plain JSON for tests/deploy_huawei.rs.

python-hcl2 (8.x) keeps HCL's quoting: a literal string comes back as '"text"', an expression as
'${expr}', a block label as '"name"'. This prints literals without their quotes, expressions as
{"expr": "..."}, labels without quotes, and keeps python-hcl2's "__is_block__" marker so a
nested block can be told from an object-valued attribute.
"""
import json
import sys

import hcl2


def literal(s):
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        inner = s[1:-1]
        # A quoted string with interpolation is still a template: keep the text, mark it.
        if "${" in inner:
            return {"template": inner}
        return json.loads(s) if "\\" in inner else inner
    if s.startswith("${") and s.endswith("}"):
        return {"expr": s[2:-1]}
    return {"expr": s}


def norm(v):
    if isinstance(v, dict):
        return {
            (k[1:-1] if k.startswith('"') and k.endswith('"') else k): norm(x)
            for k, x in v.items()
            if k != "__comments__"
        }
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str):
        return literal(v)
    return v


with open(sys.argv[1], encoding="utf-8") as f:
    doc = hcl2.load(f)
json.dump(norm(doc), sys.stdout, indent=1, sort_keys=True)
print()
