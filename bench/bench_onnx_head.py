"""The folded ONNX head against skl2onnx's own graph, same pipeline, same process.

    python bench/bench_onnx_head.py                      # .local/work/model/pipeline.joblib
    python bench/bench_onnx_head.py --pipeline PATH --tweets ../shared/data/sentiment140/training_sample_47k.csv

Both graphs come from the fitted pipeline the training job saved (`bad-buzz run` or `train`):
skl2onnx's conversion with the Normalizer replaced by standard ops (the previous export), and the
same with `training.onnx_graph.fold_linear_head` applied (the current export). One onnxruntime
session each, one thread, as serving runs it; one tweet 2,000 times and batches of 100 (in runs
of 16 rows, as `shared.inference` sends them) 60 times; the numbers are checked equal first.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as ort

from shared.features import build_model_inputs
from training.export import convert_plain, replace_l2_normalizer
from training.onnx_graph import fold_linear_head

ROWS_PER_RUN = 16


def session(model) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.enable_mem_pattern = False
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run_batch(sess: ort.InferenceSession, feeds: dict) -> np.ndarray:
    rows = len(next(iter(feeds.values())))
    parts = [
        sess.run(["probabilities"], {k: v[s : s + ROWS_PER_RUN] for k, v in feeds.items()})[0]
        for s in range(0, rows, ROWS_PER_RUN)
    ]
    return np.concatenate(parts)


def timed(call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", type=Path, default=Path(".local/work/model/pipeline.joblib"))
    parser.add_argument(
        "--tweets", type=Path, default=Path("../shared/data/sentiment140/training_sample_47k.csv")
    )
    args = parser.parse_args()
    pipeline = joblib.load(args.pipeline)
    with args.tweets.open(encoding="latin-1") as handle:
        texts = [row[-1] for row in csv.reader(handle)][1:101]
    feeds = build_model_inputs(texts)
    plain = session(replace_l2_normalizer(convert_plain(pipeline)))
    folded = session(fold_linear_head(replace_l2_normalizer(convert_plain(pipeline))))
    gap = float(np.abs(run_batch(plain, feeds) - run_batch(folded, feeds)).max())
    print(f"max |Δp| between the graphs on {len(texts)} tweets: {gap:.1e}\n")
    print("| graph | one tweet, p50 (µs) | 100 tweets, p50 (ms) |\n|---|---|---|")
    one = {k: v[:1] for k, v in feeds.items()}
    for name, sess in (("skl2onnx + standard-op normaliser", plain), ("folded head", folded)):
        single = np.median(timed(lambda s=sess: s.run(["probabilities"], one), 2000)) * 1e6
        batch = np.median(timed(lambda s=sess: run_batch(s, feeds), 60)) * 1e3
        print(f"| {name} | {single:.1f} | {batch:.2f} |")


if __name__ == "__main__":
    main()
