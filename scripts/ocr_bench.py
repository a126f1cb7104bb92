"""rapidocr (ONNX Runtime, one thread) on image files: the reference the local OCR is held to.

Run by scripts/ocr-bench.sh inside its venv (rapidocr + onnxruntime + their deps from PyPI):

    python ocr_bench.py DET.onnx REC.onnx IMAGE [IMAGE ...]

The same two .onnx files as image-triage (PP-OCRv6 small, from the rapidocr wheel), no direction
classifier, ONNX Runtime pinned to one thread. Per image: BENCH_WARMUP warm-up runs (default 2),
then the median of BENCH_ROUNDS timed runs (default 10) of detection alone and of detection +
recognition. Prints one JSON object per image on stdout; progress goes to stderr.
"""

import json
import os
import statistics
import sys
import time

from rapidocr import RapidOCR


def timed(f, rounds, warmup):
    for _ in range(warmup):
        f()
    times = []
    out = None
    for _ in range(rounds):
        t = time.perf_counter()
        out = f()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times), out


def main() -> None:
    det, rec, *images = sys.argv[1:]
    rounds = int(os.environ.get("BENCH_ROUNDS", "10"))
    warmup = int(os.environ.get("BENCH_WARMUP", "2"))
    engine = RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.log_level": "error",
            "Det.model_path": det,
            "Rec.model_path": rec,
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )
    for path in images:
        print(f"ocr-bench: {path}", file=sys.stderr, flush=True)
        det_ms, _ = timed(
            lambda: engine(path, use_det=True, use_cls=False, use_rec=False), rounds, warmup
        )
        all_ms, out = timed(
            lambda: engine(path, use_det=True, use_cls=False, use_rec=True), rounds, warmup
        )
        texts = list(out.txts or [])
        print(json.dumps({
            "image": os.path.basename(path),
            "ort_det_ms": round(det_ms, 1),
            "ort_total_ms": round(all_ms, 1),
            "lines": len(texts),
            "texts": texts,
        }, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
