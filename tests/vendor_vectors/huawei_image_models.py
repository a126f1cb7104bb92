"""Field names and declared types of Huawei Image Recognition's request and response models, read
from the official Python SDK `huaweicloudsdkimage` 3.1.219 (PyPI wheel, unpacked), for the
emulator's shape check (`tests/emulator_checks/huawei_image_models.rs`). CI does not run this;
it reads the JSON this writes.

    pip download huaweicloudsdkimage==3.1.219 huaweicloudsdkcore==3.1.219 --no-deps -d /tmp/hwi
    (cd /tmp/hwi && for w in *.whl; do python3 -m zipfile -e "$w" .; done)
    python3 tests/vendor_vectors/huawei_image_models.py [/tmp/hwi]

For each operation: its method and resource path (`v2/image_client.py`), the request body model
and the response model; then every model reachable from those, with its JSON field names
(`attribute_map` values) and the type the SDK declares for each (`openapi_types`: `str`, `int`,
`float`, `bool`, `object`, `list[Model]`, or a model name). Fields typed `object` carry no
schema in `openapi_types`; their documented sub-fields are taken from the `:param` text of the
model's `__init__` (`properties: <name>: type: <type>` when the text has it, else the
`<name>：` items it lists, type `null` = not declared).

The models are imported when `huaweicloudsdkcore` can be (it needs `bson` from pymongo); else
`openapi_types`/`attribute_map` are read from the model sources with `ast`. Both give the same
output.
"""
import ast
import glob
import importlib
import json
import os
import re
import sys
import types

SDK_DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/hwi"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "huawei_image_models.json")
OPERATIONS = [
    "run_image_media_tagging",
    "run_celebrity_recognition",
    "run_image_main_object_detection",
]
PRIMITIVES = {"str", "int", "float", "bool", "object", "date", "datetime"}

PKG = os.path.join(SDK_DIR, "huaweicloudsdkimage")
MODEL_DIR = os.path.join(PKG, "v2", "model")


def sdk_version():
    for meta in glob.glob(os.path.join(SDK_DIR, "huaweicloudsdkimage-*.dist-info", "METADATA")):
        with open(meta, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    raise SystemExit("no huaweicloudsdkimage-*.dist-info/METADATA under " + SDK_DIR)


def operations():
    """`{name: {method, path, request_type, response_type}}` from the client's `_<op>_http_info`."""
    with open(os.path.join(PKG, "v2", "image_client.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    ops = {}
    for fn in ast.walk(tree):
        if not (isinstance(fn, ast.FunctionDef) and fn.name.endswith("_http_info")):
            continue
        name = fn.name[1:-len("_http_info")]
        for node in ast.walk(fn):
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value == "resource_path" for k in node.keys
            ):
                d = {k.value: v.value for k, v in zip(node.keys, node.values)
                     if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
                ops[name] = {"method": d["method"], "path": d["resource_path"],
                             "response_type": d["response_type"]}
    return ops


def class_files():
    """Model class name -> source file."""
    out = {}
    for path in glob.glob(os.path.join(MODEL_DIR, "*.py")):
        with open(path, encoding="utf-8") as f:
            for node in ast.parse(f.read()).body:
                if isinstance(node, ast.ClassDef):
                    out[node.name] = path
    return out


FILES = class_files()


def from_import(name):
    """(openapi_types, attribute_map, __init__ docstring) of the imported model class."""
    # Bypass the package __init__s: they import the client, which needs more than the models.
    for mod, path in [("huaweicloudsdkimage", PKG), ("huaweicloudsdkimage.v2", os.path.join(PKG, "v2")),
                      ("huaweicloudsdkimage.v2.model", MODEL_DIR)]:
        if mod not in sys.modules:
            m = types.ModuleType(mod)
            m.__path__ = [path]
            sys.modules[mod] = m
    module = os.path.splitext(os.path.basename(FILES[name]))[0]
    cls = getattr(importlib.import_module("huaweicloudsdkimage.v2.model." + module), name)
    return dict(cls.openapi_types), dict(cls.attribute_map), cls.__init__.__doc__ or ""


def from_ast(name):
    """The same three, read from the source without importing it."""
    with open(FILES[name], encoding="utf-8") as f:
        tree = ast.parse(f.read())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    found, doc = {}, ""
    for node in cls.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ("openapi_types", "attribute_map"):
            found[node.targets[0].id] = ast.literal_eval(node.value)
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            doc = ast.get_docstring(node, clean=False) or ""
    return found["openapi_types"], found["attribute_map"], doc


def choose_loader():
    sys.path.insert(0, SDK_DIR)
    try:
        from_import("BoundingBox")
        sys.stderr.write("models imported (huaweicloudsdkcore available)\n")
        return from_import
    except ImportError as e:
        sys.stderr.write(f"models not importable ({e}); reading them with ast\n")
        return from_ast


def param_doc(doc, attr):
    m = re.search(r":param " + re.escape(attr) + r":(.*?)\n\s*:type", doc, re.S)
    return m.group(1) if m else ""


def object_fields(doc):
    """Documented sub-fields of an `object` field: {name: type or None}."""
    if "properties:" in doc:
        props = doc.split("properties:", 1)[1]
        return {n: {"string": "str", "number": "float", "integer": "int"}.get(t, t)
                for n, t in re.findall(r"(\w+): type: (\w+)", props)}
    return {n: None for n in re.findall(r"(?<![\w])([A-Za-z_]\w*)：", doc)}


def inner(t):
    m = re.fullmatch(r"list\[(.+)\]", t) or re.fullmatch(r"dict\(str, (.+)\)", t)
    return inner(m.group(1)) if m else t


def main():
    load = choose_loader()
    ops = operations()
    out = {"sdk": "huaweicloudsdkimage " + sdk_version(), "operations": {}, "models": {}}
    todo = []
    for op in OPERATIONS:
        info = ops[op]
        request = "".join(w.capitalize() for w in op.split("_")) + "Request"
        body = load(request)[0]["body"]
        out["operations"][op] = {"method": info["method"], "path": info["path"],
                                 "request_body": body, "response": info["response_type"]}
        todo += [body, info["response_type"]]
    while todo:
        name = todo.pop()
        if name in out["models"]:
            continue
        types_, names, doc = load(name)
        model = {"fields": {names[a]: t for a, t in types_.items()}}
        objects = {names[a]: object_fields(param_doc(doc, a))
                   for a, t in types_.items() if t == "object"}
        if objects:
            model["object_fields"] = objects
        out["models"][name] = model
        todo += [inner(t) for t in types_.values() if inner(t) not in PRIMITIVES]
    out["models"] = dict(sorted(out["models"].items()))
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)
        f.write("\n")
    sys.stderr.write(f"wrote {OUT}: {len(out['models'])} models\n")


main()
