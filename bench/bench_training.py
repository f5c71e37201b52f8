"""Whole-pipeline time and peak memory at several data sizes, and single-tweet prediction latency.

    python bench/bench_training.py --data-dir ../shared/data/sentiment140 --sizes 10000 50000 0
    python bench/bench_training.py --latency-only --bundle models/default

Size 0 means every row. Each size runs `bad-buzz prepare`, `train` and `export` in a child
process on a sample written as a polarity,text CSV, with its own MLflow store; peak memory is the
children's max RSS. The projection to 1.6M rows is a linear fit of time against rows.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
FULL_SIZE = 1_600_000


def write_sample(data_dir: Path, rows: int, dest: Path) -> tuple[Path, int]:
    sys.path.insert(0, str(REPO))
    from training.data import load_sources

    sources = [
        p for p in sorted(data_dir.glob("*.csv")) if not p.name.startswith("testdata.manual")
    ]
    frame = load_sources(sources)
    if rows:
        frame = frame.sample(n=min(rows, len(frame)), random_state=0)
    out = pd.DataFrame({"polarity": np.where(frame["label"] == 1, 0, 4), "text": frame["text"]})
    out.to_csv(dest, index=False)
    return dest, len(out)


def run_pipeline(sample: Path, manual: Path | None, work: Path) -> tuple[float, float]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    manual_args = ["--manual-test", str(manual)] if manual else []
    commands = [
        ["bad-buzz", "prepare", "--data", str(sample), *manual_args, "--work-dir", str(work)],
        ["bad-buzz", "train", "--work-dir", str(work)],
        ["bad-buzz", "export", "--work-dir", str(work), "--bundle-root", str(work / "bundles")],
    ]
    start = time.perf_counter()
    for command in commands:
        subprocess.run(
            command,
            check=True,
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def measure_latency(bundle: Path, texts: list[str], repeats: int = 2000) -> tuple[float, float]:
    sys.path.insert(0, str(REPO))
    from shared.inference import Predictor

    predictor = Predictor(bundle)
    for text in texts[:200]:
        predictor.predict([text])
    timings = []
    for index in range(repeats):
        text = texts[index % len(texts)]
        start = time.perf_counter()
        predictor.predict([text])
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared/data/sentiment140")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 0])
    parser.add_argument("--bundle", type=Path, default=REPO / "models/default")
    parser.add_argument("--latency-only", action="store_true")
    args = parser.parse_args()
    manual = next(iter(args.data_dir.glob("testdata.manual*.csv")), None)
    texts = (
        pd.read_csv(next(args.data_dir.glob("extra_text_only.csv")))["text"]
        .astype(str)
        .tolist()[:5000]
    )
    p50, p99 = measure_latency(args.bundle, texts)
    print(
        f"single-tweet prediction in-process (normalise + VADER + onnxruntime + explanation): p50 {p50:.3f} ms, p99 {p99:.3f} ms"
    )
    if args.latency_only:
        return
    rows_seen, times = [], []
    print("| rows | prepare + train + export | peak RSS |\n|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            sample, rows = write_sample(args.data_dir, size, Path(tmp) / "sample.csv")
            seconds, peak = run_pipeline(sample, manual, Path(tmp) / "work")
        rows_seen.append(rows)
        times.append(seconds)
        print(f"| {rows:,} | {seconds:.1f} s | {peak:.0f} MB |", flush=True)
    if len(rows_seen) >= 2:
        slope, intercept = np.polyfit(rows_seen, times, 1)
        print(
            f"\nlinear projection to {FULL_SIZE:,} rows: {(slope * FULL_SIZE + intercept) / 60:.1f} min"
        )


if __name__ == "__main__":
    main()
