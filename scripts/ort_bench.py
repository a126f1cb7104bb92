"""Per-image time of ONNX Runtime on .onnx files, one thread, for the side-by-side benchmark.

Run by scripts/ort-bench.sh inside its venv (onnxruntime + numpy from PyPI):

    python ort_bench.py MODEL.onnx:1x3x224x224 [MODEL.onnx:SHAPE ...]

For each model: load (session creation) time, BENCH_WARMUP warm-up runs (default 3), then the
median of BENCH_ROUNDS timed runs (default 20). ONNX Runtime is pinned to one thread
(intra_op_num_threads=1, inter_op_num_threads=1, sequential execution, no spinning) with all
graph optimisations on, on the CPU provider. The input is seeded uniform [0, 1) noise: the run
time of these convolution nets does not depend on the pixel values.
Prints one JSON object per model on stdout; progress goes to stderr.
"""

import json
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def log(msg):
    print(f"ort-bench: {msg}", file=sys.stderr, flush=True)


def env_int(name, default, minimum):
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        sys.exit(f"ort-bench: {name}={raw!r} is not an integer")
    if value < minimum:
        sys.exit(f"ort-bench: {name} must be >= {minimum}")
    return value


def parse_arg(arg):
    path, sep, shape = arg.rpartition(":")
    if not sep or not path:
        sys.exit(f"ort-bench: expected MODEL.onnx:SHAPE (e.g. m.onnx:1x3x224x224), got {arg!r}")
    try:
        dims = [int(d) for d in shape.lower().split("x")]
    except ValueError:
        sys.exit(f"ort-bench: bad shape {shape!r} in {arg!r}")
    if not os.path.isfile(path):
        sys.exit(f"ort-bench: no such model file: {path}")
    return path, dims


def session_options():
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One thread does all the work; no spin-waiting pool threads to steal the other core.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3  # errors only
    return so


def bench(path, dims, rounds, warmup):
    t0 = time.perf_counter()
    sess = ort.InferenceSession(path, sess_options=session_options(), providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(42).random(dims, dtype=np.float32)
    feed = {inp.name: x}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    return {
        "model": os.path.basename(path),
        "ort_median_ms": round(statistics.median(times), 3),
        "ort_min_ms": round(min(times), 3),
        "ort_load_ms": round(load_ms, 1),
        "ort_version": ort.__version__,
        "input": inp.name,
        "input_shape": dims,
        "threads": 1,
        "rounds": rounds,
        "warmup": warmup,
    }


def main(argv):
    if not argv:
        sys.exit(__doc__)
    rounds = env_int("BENCH_ROUNDS", 20, 1)
    warmup = env_int("BENCH_WARMUP", 3, 0)
    models = [parse_arg(a) for a in argv]
    for path, dims in models:
        log(f"{os.path.basename(path)} {dims}: {warmup} warm-up + {rounds} timed runs, 1 thread")
        print(json.dumps(bench(path, dims, rounds, warmup)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
