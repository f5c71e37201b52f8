"""Does one turn of the feedback loop teach the champion a company's own traffic?

    python bench/bench_loop.py --work-dir .local/work --sizes 0.25 0.5 1.0

The real path, on loopback: the champion bundle (`--bundle`, default models/default) is published
to a fresh local model store and served by uvicorn (bench/serving_process.py). The brand's tweets
(../shared/data/domain/, `training.data.load_brand_csv`, one copy per text) are split by a hash of
the text: `--eval-share` is held out and never fed back; a `--sizes` share of the rest is the
traffic. Every traffic tweet goes through POST /api/predict; each mistake of the champion is sent
to POST /api/feedback as a correction, `--confirm-share` of its right answers as confirmations
(with the `feedback_token` and `model_text` predict returned, when it returns them). Then the
harvest (shared.feedback.harvest.run_harvest, SQLite log → feedback container) and
`bad-buzz retrain` (a subprocess, as the workflow runs it) with the brand's frozen sets excluded
(they are this loop's domain). If the gate promotes, the server follows the new champion and the
held-out tweets are predicted again through the API. Figures with 95 % intervals: accuracy,
ROC AUC, negative recall before and after, and the paired gain (bootstrap over tweets).

Needs a prepared work folder whose base corpus is the champion's (`bad-buzz prepare`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.serving_process import (  # noqa: E402
    free_port,
    serving_env,
    start_server,
    stop_server,
    wait_for_prediction,
)
from training.feedback_data import key_bucket, text_key  # noqa: E402

DOMAIN_CSV = REPO.parent / "shared" / "data" / "domain" / "Apple-Twitter-Sentiment-DFE.csv"
DOMAIN_FROZEN_SETS = ("brand", "brand_rest")  # the corpus's frozen copies of this domain
BATCH = 100
SWITCH_TIMEOUT = 60.0
RESAMPLES = 2000


# --- the domain -------------------------------------------------------------------------------


def load_domain(path: Path, neutral: str) -> pd.DataFrame:
    """The brand tweets, one row per text key (a text labelled both ways goes)."""
    from training.data import load_brand_csv

    frame = load_brand_csv(path, neutral=neutral)
    frame = frame.assign(key=[text_key(t) for t in frame["text"]])
    frame = frame[frame["key"].str.len() > 0]
    labels = frame.groupby("key")["label"].transform("nunique")
    return frame[labels == 1].drop_duplicates("key").reset_index(drop=True)


def split_domain(frame: pd.DataFrame, eval_share: float, seed: int) -> tuple[pd.DataFrame, ...]:
    """(held-out evaluation, traffic in a seeded random order), by a salted text-key hash."""
    held = np.array([key_bucket(f"eval:{k}") < eval_share for k in frame["key"]])
    traffic = frame[~held].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame[held].reset_index(drop=True), traffic


# --- the API ----------------------------------------------------------------------------------


def predict_all(client: httpx.Client, texts: list[str]) -> list[dict[str, Any]]:
    results = []
    for start in range(0, len(texts), BATCH):
        response = client.post("/api/predict", json={"texts": texts[start : start + BATCH]})
        response.raise_for_status()
        results += response.json()["results"]
    return results


def feedback_body(prediction: dict[str, Any], text: str, truth: str) -> dict[str, Any]:
    """What the page sends: the prediction's fields back, a correction or a confirmation."""
    body = {
        "prediction_id": prediction["prediction_id"],
        "text": prediction.get("model_text") or text,
        "predicted_label": prediction["label"],
        "model_version": prediction["model_version"],
        "language": prediction["language"],
    }
    if prediction["label"] != truth:
        body["correct_label"] = truth
    if "feedback_token" in prediction:  # the API with confirmations and signed predictions
        body["feedback_token"] = prediction["feedback_token"]
        body["kind"] = "correction" if prediction["label"] != truth else "confirmation"
    return body


def send_feedback(
    client: httpx.Client, traffic: pd.DataFrame, confirm_share: float, seed: int
) -> dict[str, int]:
    """Predict the traffic; flag every mistake, confirm `confirm_share` of the right answers."""
    predictions = predict_all(client, traffic["text"].tolist())
    rng = np.random.default_rng(seed)
    counts = {"traffic": len(traffic), "corrections": 0, "confirmations": 0, "refused": 0}
    for prediction, text, label in zip(predictions, traffic["text"], traffic["label"], strict=True):
        truth = "negative" if label == 1 else "positive"
        wrong = prediction["label"] != truth
        if not wrong and (rng.random() >= confirm_share or "feedback_token" not in prediction):
            continue
        response = client.post("/api/feedback", json=feedback_body(prediction, text, truth))
        if response.status_code != 202:
            counts["refused"] += 1
            continue
        counts["corrections" if wrong else "confirmations"] += 1
    return counts


def wait_for_version(client: httpx.Client, version: str) -> None:
    deadline = time.monotonic() + SWITCH_TIMEOUT
    while time.monotonic() < deadline:
        answer = client.post("/api/predict", json={"text": "the battery died again"}).json()
        if answer["model_version"] == version:
            return
        time.sleep(0.25)
    raise RuntimeError(f"serving never switched to {version}")


# --- figures ----------------------------------------------------------------------------------


def scores_of(predictions: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """(predicted label 1 = negative, P(negative)) as the API answered."""
    labels = np.array([p["label"] == "negative" for p in predictions], dtype=int)
    return labels, np.array([p["negative_probability"] for p in predictions])


def metric_values(y: np.ndarray, predicted: np.ndarray, p: np.ndarray, rows: np.ndarray) -> tuple:
    from sklearn.metrics import roc_auc_score

    yr, pr, sr = y[rows], predicted[rows], p[rows]
    negatives = yr == 1
    auc = roc_auc_score(yr, sr) if 0 < negatives.sum() < len(yr) else np.nan
    return float((pr == yr).mean()), float(auc), float((pr[negatives] == 1).mean())


def paired_figures(y: np.ndarray, before: tuple, after: tuple, seed: int) -> dict[str, Any]:
    """Accuracy, ROC AUC, negative recall before/after, each with a 95 % bootstrap interval,
    and the paired gain with its interval (the same resampled tweets for both models)."""
    rng = np.random.default_rng(seed)
    everything = np.arange(len(y))
    point_b = metric_values(y, *before, everything)
    point_a = metric_values(y, *after, everything)
    draws = []
    for _ in range(RESAMPLES):
        rows = rng.integers(0, len(y), len(y))
        draws.append((metric_values(y, *before, rows), metric_values(y, *after, rows)))
    samples = np.array(draws)  # (resamples, 2 models, 3 metrics)
    figures = {}
    for index, name in enumerate(("accuracy", "roc_auc", "recall_neg")):
        b, a = samples[:, 0, index], samples[:, 1, index]
        figures[name] = {
            "before": point_b[index],
            "before_ci": np.nanquantile(b, [0.025, 0.975]).tolist(),
            "after": point_a[index],
            "after_ci": np.nanquantile(a, [0.025, 0.975]).tolist(),
            "gain": point_a[index] - point_b[index],
            "gain_ci": np.nanquantile(a - b, [0.025, 0.975]).tolist(),
        }
    return figures


# --- one loop ---------------------------------------------------------------------------------


def retrain_command(args: argparse.Namespace, root: Path) -> list[str]:
    command = [sys.executable, "-m", "training.cli", "retrain", "--work-dir", str(args.work_dir)]
    command += ["--bundle-root", str(root / "bundles"), "--report", str(root / "report.json")]
    for name in DOMAIN_FROZEN_SETS:
        command += ["--exclude-frozen", name]
    return command + list(args.retrain_arg)


def harvest_and_retrain(args: argparse.Namespace, root: Path, env: dict[str, str]) -> dict:
    """The timed part: harvest the SQLite log into the feedback container, then retrain."""
    from shared.feedback.harvest import run_harvest
    from shared.settings import Settings

    started = time.perf_counter()
    keys = ("MODEL_STORE_PATH", "FEEDBACK_DB_PATH")
    settings = Settings(**{k: env[k] for k in keys}, RETRAIN_THRESHOLD=10**9)
    # past the SQLite source's 10 s ingestion lag, instead of sleeping through it
    harvested = run_harvest(settings, now=datetime.now(UTC) + timedelta(seconds=15))
    harvest_seconds = time.perf_counter() - started
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.run(
        retrain_command(args, root), cwd=REPO, env={**os.environ, **env}, capture_output=True
    )
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if process.returncode != 0:
        raise RuntimeError(f"retrain failed: {process.stderr.decode()[-2000:]}")
    report = json.loads((root / "report.json").read_text(encoding="utf-8"))
    return {
        "harvested": harvested.summary(),
        "harvest_seconds": harvest_seconds,
        "loop_seconds": time.perf_counter() - started,
        "retrain_cpu_seconds": cpu,
        "report": report,
    }


def run_loop(args: argparse.Namespace, share: float, evaluation, traffic, root: Path) -> dict:
    from shared.model_store import ModelStore
    from shared.storage import LocalObjectStore

    root.mkdir(parents=True)
    ModelStore(LocalObjectStore(root / "models")).publish(args.bundle)
    env = serving_env(None, root, MODEL_STORE_PATH=str(root / "models"),
                      FEEDBACK_BACKEND="sqlite", FEEDBACK_DB_PATH=str(root / "feedback.sqlite3"),
                      FEEDBACK_MAX_PER_HOUR="1000000", MODEL_REFRESH_SECONDS="1",
                      MLFLOW_TRACKING_URI=f"sqlite:///{root}/mlflow.db")  # fmt: skip
    port = free_port()
    server = start_server(env, port, root / "server.log")
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_prediction(base_url, server)
        with httpx.Client(base_url=base_url, timeout=60) as client:
            before = scores_of(predict_all(client, evaluation["text"].tolist()))
            used = traffic.iloc[: round(share * len(traffic))]
            sent = send_feedback(client, used, args.confirm_share, args.seed)
            loop = harvest_and_retrain(args, root, env)
            report = loop["report"]
            if report["promoted"]:
                wait_for_version(client, report["challenger"])
            after = scores_of(predict_all(client, evaluation["text"].tolist()))
            served = after[0].tolist() != before[0].tolist() or report["promoted"]
    finally:
        stop_server(server)
    y = evaluation["label"].to_numpy()
    candidate = challenger_scores(root / "bundles" / str(report["challenger"]), evaluation)
    return {"share": share, **sent, **{k: v for k, v in loop.items() if k != "report"},
            "report": report, "served_new_model": served,
            "domain": paired_figures(y, before, after, args.seed),
            "challenger_domain": paired_figures(y, before, candidate, args.seed)
            if candidate else None}  # fmt: skip


def challenger_scores(bundle: Path, evaluation: pd.DataFrame) -> tuple | None:
    """The challenger on the held-out domain even when refused: what promotion would give."""
    if not (bundle / "manifest.json").is_file():
        return None
    from shared.inference import Predictor

    predictor = Predictor(bundle)
    p = predictor.negative_probabilities(evaluation["text"].tolist())
    return (p >= predictor.manifest.threshold).astype(int), p


def train_champion(recipe_bundle: Path, work_dir: Path, dest: Path) -> Path:
    """`--train-champion`: the recipe of `recipe_bundle` (kind, C, min_df, precision floor)
    fitted on this work folder's train split, threshold tuned on its val split, exported."""
    from shared.bundle import INPUT_TEXT, INPUT_VADER, read_manifest
    from shared.normalise import NormaliserOptions
    from training import export, train
    from training.pipeline import featurise, load_prepared, make_version
    from training.retrain import recipe_of

    manifest = read_manifest(recipe_bundle)
    extra = manifest.extra
    options = NormaliserOptions.from_dict(manifest.normaliser_options)
    frames, data_report = load_prepared(work_dir)
    features = featurise({n: frames[n] for n in ("train", "val")}, options)
    inputs = [INPUT_TEXT, *INPUT_VADER]
    recipe = recipe_of(manifest)  # the same reading of the manifest as the retrain's
    pipeline = train.build_pipeline(recipe["kind"], c=recipe["C"], min_df=recipe["min_df"])
    pipeline.fit(features["train"][inputs], features["train"]["label"].to_numpy())
    val = features["val"]
    floor = recipe["precision_floor"]
    probabilities = pipeline.predict_proba(val[inputs])[:, 1]
    threshold = train.tune_threshold(val["label"].to_numpy(), probabilities, floor)
    version = make_version(data_report["fingerprint"])
    export.write_bundle(
        pipeline, export.convert_pipeline(pipeline), dest / version, version=version,
        threshold=threshold, options=options, data_fingerprint=data_report["fingerprint"],
        extra={**extra, "trained_by": "bench_loop --train-champion"},
    )  # fmt: skip
    return dest / version


def check_fingerprint(bundle: Path, work_dir: Path) -> str | None:
    """The gate's `test` split guards only a champion trained on the same corpus."""
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    report = json.loads((work_dir / "data" / "report.json").read_text(encoding="utf-8"))
    if manifest.get("data_fingerprint") == report.get("fingerprint"):
        return None
    return (
        f"warning: {bundle} was not trained on {work_dir} (data fingerprints differ): the gate "
        "leaves the test split out; rebuild the bundle from this work folder for final figures"
    )


# --- output -----------------------------------------------------------------------------------


def fmt(figure: dict[str, Any], scale: float = 1.0) -> str:
    lo, hi = (scale * v for v in figure["gain_ci"])
    return (
        f"{figure['before']:.3f} → {figure['after']:.3f} "
        f"({scale * figure['gain']:+.3f} [{lo:+.3f}, {hi:+.3f}])"
    )


def frozen_line(report: dict[str, Any]) -> str:
    parts = []
    for name, verdicts in report.get("gate", {}).get("frozen", {}).items():
        v = verdicts["accuracy"]
        parts.append(f"{name} {v['difference']:+.3f} (≥ {v['lower']:+.3f})")
    return "; ".join(parts) or "-"


def print_results(results: list[dict[str, Any]], evaluation: pd.DataFrame) -> None:
    negatives = int(evaluation["label"].sum())
    print(f"\nheld-out domain: {len(evaluation)} tweets ({negatives} negative), never fed back\n")
    print("| traffic | corrections + confirmations | promoted | domain accuracy | domain ROC AUC "
          "| domain neg recall | frozen accuracy Δ (one-sided 95 % lower bound) | weight, threshold "
          "| harvest + retrain |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        d, report = r["domain"], r["report"]
        choice = report.get("choice") or {}
        print(
            f"| {r['traffic']:,} | {r['corrections']} + {r['confirmations']} | "
            f"{'yes' if report['promoted'] else 'no'} | {fmt(d['accuracy'])} | "
            f"{fmt(d['roc_auc'])} | {fmt(d['recall_neg'])} | {frozen_line(report)} | "
            f"{choice.get('weight', '-')}, {choice.get('threshold', float('nan')):.3f} | "
            f"{r['harvest_seconds']:.1f} + {r['loop_seconds'] - r['harvest_seconds']:.0f} s |"
        )
    for r in results:
        print(f"\ntraffic {r['traffic']}: " + "\n  ".join(r["report"]["reasons"]))
        c = r["challenger_domain"]
        if c and not r["report"]["promoted"]:
            print(f"  refused challenger on the held-out domain: accuracy {fmt(c['accuracy'])}, "
                  f"ROC AUC {fmt(c['roc_auc'])}, neg recall {fmt(c['recall_neg'])}")  # fmt: skip
        cpu, wall = r["retrain_cpu_seconds"], r["loop_seconds"] - r["harvest_seconds"]
        print(f"  retrain: {wall:.0f} s wall, {cpu:.0f} s CPU")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work-dir", type=Path, default=REPO / ".local/work")
    parser.add_argument("--bundle", type=Path, default=REPO / "models" / "default")
    parser.add_argument("--domain-csv", type=Path, default=DOMAIN_CSV)
    parser.add_argument(
        "--neutral",
        choices=("drop", "positive"),
        default="drop",
        help="brand neutral tweets: dropped, or kept as not negative",
    )
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=[0.25, 0.5, 1.0],
        help="shares of the non-held-out domain sent as traffic, one loop each",
    )
    parser.add_argument("--eval-share", type=float, default=0.3)
    parser.add_argument("--confirm-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-champion", action="store_true",
                        help="fit --bundle's recipe on --work-dir first and use that as champion "
                        "(when the bundle was trained on another corpus)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--retrain-arg", action="append", default=[],
                        help="extra `bad-buzz retrain` option, e.g. --retrain-arg=--no-feedback-vocabulary")  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    domain = load_domain(args.domain_csv, args.neutral)
    evaluation, traffic = split_domain(domain, args.eval_share, args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.train_champion:
            args.bundle = train_champion(args.bundle, args.work_dir, Path(tmp) / "champion")
        warning = check_fingerprint(args.bundle, args.work_dir)
        if warning:
            print(warning, file=sys.stderr)
        for index, share in enumerate(args.sizes):
            results.append(run_loop(args, share, evaluation, traffic, Path(tmp) / f"loop-{index}"))
    print_results(results, evaluation)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
