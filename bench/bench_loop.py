"""Does the feedback loop improve the model on a domain the base corpus lacks?

    python bench/bench_loop.py --work-dir .local/work --domain airline --sizes 100 1000
    python bench/bench_loop.py --work-dir .local/work --domain work --sizes 100 1000 5000

Needs a prepared work folder (`bad-buzz prepare`). The domain's tweets are removed from the base
training data; the champion is trained on the rest. N labelled tweets of the domain are then fed
as feedback through the real path (feedback log → harvest → retrain → gate), and champion and
challenger are scored on held-out tweets of the same domain that were never fed back. The
frozen sets (test split, hand-labelled test) are what the gate checks.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from shared.bundle import INPUT_TEXT, INPUT_VADER  # noqa: E402
from shared.feedback.event import build_event  # noqa: E402
from shared.feedback.harvest import harvest  # noqa: E402
from shared.feedback.sinks import SqliteFeedbackSink  # noqa: E402
from shared.feedback.sources import SqliteSource  # noqa: E402
from shared.feedback.state import read_feedback  # noqa: E402
from shared.model_store import ModelStore  # noqa: E402
from shared.normalise import DEFAULT_OPTIONS  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.storage import LocalObjectStore  # noqa: E402
from training import export, train  # noqa: E402
from training.pipeline import featurise, load_prepared, make_version  # noqa: E402
from training.progress import QUIET  # noqa: E402
from training.retrain import RetrainConfig, retrain, score_bundle  # noqa: E402
from training.tracking import configure_tracking  # noqa: E402

DOMAINS = {
    "airline": None,  # the prepared data's own airline flag (training.data.AIRLINE_TERMS)
    "work": r"\b(?:work|job|boss|office|shift|meeting)\b",
}
EVAL_SHARE = 0.3
FEEDBACK_WEIGHT = {"value": 5.0}  # --feedback-weight


def split_domain(
    frames: dict[str, pd.DataFrame], domain: str
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Base splits without the domain (train, val), and the domain's tweets (shuffled, seeded)."""

    def mask(frame: pd.DataFrame) -> pd.Series:
        if DOMAINS[domain] is None:
            return frame["airline"].astype(bool)
        return frame["text"].str.contains(re.compile(DOMAINS[domain], re.IGNORECASE))

    domain_rows = pd.concat([frames[n][mask(frames[n])] for n in ("train", "val")])
    base = {
        n: (f[~mask(f)] if n in ("train", "val") else f).reset_index(drop=True)
        for n, f in frames.items()
    }
    return base, domain_rows.sample(frac=1.0, random_state=0).reset_index(drop=True)


def write_work_dir(frames: dict[str, pd.DataFrame], work_dir: Path) -> None:
    (work_dir / "data").mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_parquet(work_dir / "data" / f"{name}.parquet", index=False)
    (work_dir / "data" / "report.json").write_text("{}", encoding="utf-8")


def publish_base_champion(work_dir: Path, store: ModelStore, bundles: Path) -> str:
    """The champion of the run: the production recipe on the base data without the domain."""
    frames, _ = load_prepared(work_dir)
    features = featurise({n: frames[n] for n in ("train", "val", "test")}, DEFAULT_OPTIONS)
    config = train.TrainConfig()
    inputs = [INPUT_TEXT, *INPUT_VADER]
    pipeline = train.build_pipeline("tfidf_lr_vader", c=2.0, min_df=config.min_df)
    pipeline.fit(features["train"][inputs], features["train"]["label"].to_numpy())
    val = features["val"]
    threshold = train.tune_threshold(
        val["label"].to_numpy(), pipeline.predict_proba(val[inputs])[:, 1], config.precision_floor
    )
    onnx_bytes = export.convert_pipeline(pipeline)
    version = make_version("base0000")
    extra = {
        "kind": "tfidf_lr_vader",
        "params": {"C": 2.0},
        "min_df": config.min_df,
        "precision_floor": config.precision_floor,
    }
    export.write_bundle(
        pipeline,
        onnx_bytes,
        bundles / version,
        version=version,
        threshold=threshold,
        options=DEFAULT_OPTIONS,
        extra=extra,
    )
    store.publish(bundles / version)
    return version


def feed_back(rows: pd.DataFrame, champion: str, db: Path) -> None:
    """Record each tweet as users would flag it, an hour ago (past the harvest's ingestion lag)."""
    sink = SqliteFeedbackSink(db, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
    for text, label in zip(rows["text"], rows["label"], strict=True):
        correct = "negative" if label == 1 else "positive"
        predicted = "positive" if correct == "negative" else "negative"
        sink.record(build_event(str(uuid.uuid4()), predicted, correct, champion, "en", text))


def wrong_first(pool: pd.DataFrame, champion_bundle: Path) -> pd.DataFrame:
    """The pool ordered as users would flag it: the champion's mistakes only."""
    from shared.inference import Predictor

    predictor = Predictor(champion_bundle)
    predicted = (
        predictor.negative_probabilities(pool["text"].tolist()) >= predictor.manifest.threshold
    )
    return pool[predicted.astype(int) != pool["label"].to_numpy()].reset_index(drop=True)


def run_size(
    n: int,
    pool: pd.DataFrame,
    evaluation: pd.DataFrame,
    work_dir: Path,
    root: Path,
    champion_bundle: Path,
) -> dict[str, object]:
    store = ModelStore(LocalObjectStore(root / "models"))
    store.publish(champion_bundle)
    feedback_store = LocalObjectStore(root / "feedback")
    feed_back(pool.iloc[:n], champion_bundle.name, root / "feedback.sqlite3")
    start = time.perf_counter()
    settings = Settings(RETRAIN_THRESHOLD=10**9)
    harvested = harvest(
        SqliteSource(root / "feedback.sqlite3"), feedback_store, datetime.now(UTC), settings
    )
    report, challenger = retrain(
        store,
        read_feedback(feedback_store),
        work_dir,
        root / "bundles",
        RetrainConfig(feedback_weight=FEEDBACK_WEIGHT["value"]),
    )
    seconds = time.perf_counter() - start
    domain = {"domain_eval": evaluation}
    before = score_bundle(champion_bundle, domain)["domain_eval"]
    after = score_bundle(challenger, domain)["domain_eval"] if challenger else before
    return {
        "n": n,
        "harvested": harvested.new_records,
        "promoted": report.promoted,
        "reasons": "; ".join(report.reasons),
        "before": before,
        "after": after,
        "frozen": report.metrics,
        "seconds": seconds,
    }


def print_results(domain: str, results: list[dict[str, object]], eval_rows: int) -> None:
    print(f"\ndomain `{domain}`, held-out evaluation: {eval_rows} tweets never fed back\n")
    print(
        "| N fed back | promoted | domain accuracy before → after | domain neg recall before → after | test acc champion → challenger | manual acc champion → challenger | harvest + retrain |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        b, a, f = r["before"], r["after"], r["frozen"]
        test = (
            f"{f['champion']['test']['accuracy']:.3f} → {f['challenger']['test']['accuracy']:.3f}"
            if f
            else "-"
        )
        manual = (
            f"{f['champion']['manual_test']['accuracy']:.3f} → {f['challenger']['manual_test']['accuracy']:.3f}"
            if f and "manual_test" in f["champion"]
            else "-"
        )
        print(
            f"| {r['n']:,} | {'yes' if r['promoted'] else 'no'} | {b['accuracy']:.3f} → {a['accuracy']:.3f} ({(a['accuracy'] - b['accuracy']) * 100:+.1f} pts) | "
            f"{b['recall_neg']:.3f} → {a['recall_neg']:.3f} | {test} | {manual} | {r['seconds']:.0f} s |"
        )
    for r in results:
        print(f"- N={r['n']}: {r['reasons']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work-dir", type=Path, default=REPO / ".local/work")
    parser.add_argument("--domain", choices=sorted(DOMAINS), default="airline")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--feedback-weight", type=float, default=5.0, help="retrain weight")
    parser.add_argument(
        "--flagged-only",
        action="store_true",
        help="Feed back only the champion's mistakes (what users flag), not every labelled tweet.",
    )
    args = parser.parse_args()
    QUIET["value"] = True
    FEEDBACK_WEIGHT["value"] = args.feedback_weight
    frames, _ = load_prepared(args.work_dir)
    base, domain_rows = split_domain(frames, args.domain)
    n_eval = int(len(domain_rows) * EVAL_SHARE)
    evaluation, pool = domain_rows.iloc[:n_eval], domain_rows.iloc[n_eval:]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        configure_tracking(f"sqlite:///{root}/mlflow.db")
        write_work_dir(base, root / "work")
        champion_version = publish_base_champion(
            root / "work", ModelStore(LocalObjectStore(root / "seed")), root / "seed-bundles"
        )
        if args.flagged_only:
            pool = wrong_first(pool, root / "seed-bundles" / champion_version)
        results = []
        for n in args.sizes:
            if n > len(pool):
                print(
                    f"N={n}: only {len(pool)} tweets of the domain available to feed back; skipped"
                )
                continue
            results.append(
                run_size(
                    n,
                    pool,
                    evaluation,
                    root / "work",
                    root / f"run-{n}",
                    root / "seed-bundles" / champion_version,
                )
            )
    print_results(args.domain, results, len(evaluation))


if __name__ == "__main__":
    main()
