"""Retraining from harvested feedback behind a promotion gate.

The challenger is the champion's recipe (same kind, same C, same normaliser) refitted on the base
corpus plus the flagged tweets. Both are scored through the serving code path (onnxruntime) on the
same frozen sets and on a held-out slice of the feedback; the challenger is promoted only if it is
not worse on the frozen sets (within a tolerance) and better on the feedback slice.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.bundle import INPUT_TEXT, INPUT_VADER, BundleError, Manifest
from shared.inference import Predictor
from shared.model_store import ModelStore
from shared.normalise import NormaliserOptions
from training import evaluate, export, tracking, train
from training.pipeline import featurise, load_prepared, make_version
from training.progress import progress

FROZEN_SETS = ("test", "manual_test")
FEEDBACK_SLICE = "feedback_holdout"


@dataclass(frozen=True)
class RetrainConfig:
    feedback_weight: float = 5.0
    holdout_share: float = 0.2
    tolerance: float = 0.01
    min_feedback: int = 1
    precision_floor: float | None = None  # None: keep the champion's threshold rule default


@dataclass
class RetrainReport:
    champion: str
    challenger: str | None = None
    promoted: bool = False
    reasons: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    feedback_rows: int = 0


def is_holdout(prediction_id: str, share: float) -> bool:
    """Stable assignment by id hash: a rerun keeps the same tweets out of training."""
    bucket = int(hashlib.sha256(prediction_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < share


def feedback_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Harvested records → the same columns as the prepared splits (label 1 = negative)."""
    rows = [
        {
            "text": r["text"],
            "label": int(r["correct_label"] == "negative"),
            "user": "",
            "source": "feedback",
            "airline": False,
            "prediction_id": r["prediction_id"],
        }
        for r in records
        if r.get("text") and r.get("correct_label") in ("negative", "positive")
    ]
    return pd.DataFrame(
        rows, columns=["text", "label", "user", "source", "airline", "prediction_id"]
    )


def split_feedback(frame: pd.DataFrame, share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = np.array([is_holdout(pid, share) for pid in frame["prediction_id"]], dtype=bool)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


def fit_challenger(
    features: dict[str, pd.DataFrame],
    feedback_train: pd.DataFrame,
    manifest: Manifest,
    config: RetrainConfig,
) -> tuple[Any, float]:
    """The champion's recipe on base + feedback; threshold re-tuned on the base validation split."""
    inputs = [INPUT_TEXT, *INPUT_VADER]
    kind = manifest.extra.get("kind", "tfidf_lr_vader")
    c = float(manifest.extra.get("params", {}).get("C", 1.0))
    combined = pd.concat([features["train"], feedback_train], ignore_index=True)
    weight = np.where(combined["source"].to_numpy() == "feedback", config.feedback_weight, 1.0)
    with progress(f"fitting challenger {kind} (C={c}) on {len(combined):,} tweets"):
        pipeline = train.build_pipeline(kind, c=c, min_df=int(manifest.extra.get("min_df", 2)))
        pipeline.fit(combined[inputs], combined["label"].to_numpy(), clf__sample_weight=weight)
    val = features["val"]
    floor = config.precision_floor or float(
        manifest.extra.get("precision_floor", train.TrainConfig().precision_floor)
    )
    threshold = train.tune_threshold(
        val["label"].to_numpy(), pipeline.predict_proba(val[inputs])[:, 1], floor
    )
    return pipeline, threshold


def score_bundle(bundle_dir: Path, sets: dict[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    """Metrics of one bundle on every evaluation set, through onnxruntime as serving runs it."""
    predictor = Predictor(bundle_dir)
    metrics = {}
    for name, frame in sets.items():
        # One class is enough for accuracy (flags often go one way); AUCs come out NaN then.
        if len(frame):
            scores = predictor.negative_probabilities(frame["text"].tolist())
            metrics[name] = evaluate.compute_metrics(
                frame["label"].to_numpy(), scores, predictor.manifest.threshold
            )
    return metrics


def decide_promotion(
    champion: dict[str, dict[str, float]], challenger: dict[str, dict[str, float]], tolerance: float
) -> tuple[bool, list[str]]:
    """Promote only if not worse on every frozen set and better on the feedback slice.

    "Not worse": accuracy and negative recall each within the tolerance.
    """
    reasons, ok = [], True
    for name in FROZEN_SETS:
        if name not in champion:
            continue
        for metric in ("accuracy", "recall_neg"):
            loss = champion[name][metric] - challenger[name][metric]
            if loss > tolerance + 1e-9:  # 0.80 - 0.79 is 0.0100000000000000009 in floats
                ok = False
                reasons.append(f"{name} {metric} drops by {loss:.4f} > tolerance {tolerance}")
    if FEEDBACK_SLICE not in champion:
        return False, [*reasons, "no held-out feedback: cannot show an improvement"]
    gain = challenger[FEEDBACK_SLICE]["accuracy"] - champion[FEEDBACK_SLICE]["accuracy"]
    if gain <= 0:
        ok = False
        reasons.append(f"feedback slice accuracy does not improve ({gain:+.4f})")
    else:
        reasons.append(f"feedback slice accuracy {gain:+.4f}")
    return ok, reasons


def export_challenger(
    pipeline: Any,
    threshold: float,
    manifest: Manifest,
    features: pd.DataFrame,
    bundle_root: Path,
    extra: dict[str, Any],
) -> Path:
    onnx_bytes = export.convert_pipeline(pipeline)
    parity = export.check_parity(pipeline, onnx_bytes, features[[INPUT_TEXT, *INPUT_VADER]])
    version = make_version(manifest.data_fingerprint or "retrain")
    export.write_bundle(
        pipeline,
        onnx_bytes,
        bundle_root / version,
        version=version,
        threshold=threshold,
        options=NormaliserOptions.from_dict(manifest.normaliser_options),
        data_fingerprint=manifest.data_fingerprint,
        extra={**manifest.extra, **extra, "parity_max_abs_diff": parity.max_abs_diff},
    )
    return bundle_root / version


def retrain(
    store: ModelStore,
    records: list[dict[str, Any]],
    work_dir: Path,
    bundle_root: Path,
    config: RetrainConfig,
) -> tuple[RetrainReport, Path | None]:
    """Fit, compare and (maybe) promote; returns the report and the challenger bundle folder."""
    pointer = store.read_champion()
    if pointer is None:
        raise BundleError("the model store has no champion to compare with; publish one first")
    feedback = feedback_frame(records)
    report = RetrainReport(champion=pointer.version, feedback_rows=len(feedback))
    if len(feedback) < config.min_feedback:
        report.reasons.append(f"only {len(feedback)} feedback records (< {config.min_feedback})")
        return report, None
    frames, _ = load_prepared(work_dir)
    feedback_train, holdout = split_feedback(feedback, config.holdout_share)
    with tempfile.TemporaryDirectory() as tmp:
        champion_dir = Path(tmp) / pointer.version
        manifest = store.download(pointer.version, champion_dir)
        features = featurise(
            {k: v for k, v in frames.items() if k in ("train", "val", "test")},
            NormaliserOptions.from_dict(manifest.normaliser_options),
        )
        fb_features = featurise(
            {"feedback": feedback_train}, NormaliserOptions.from_dict(manifest.normaliser_options)
        )["feedback"].assign(source="feedback")
        features["train"] = features["train"].assign(source="base")
        pipeline, threshold = fit_challenger(features, fb_features, manifest, config)
        challenger_dir = export_challenger(
            pipeline,
            threshold,
            manifest,
            features["test"],
            bundle_root,
            {"feedback_rows": len(feedback_train)},
        )
        sets = {name: frames[name] for name in FROZEN_SETS if name in frames} | {
            FEEDBACK_SLICE: holdout
        }
        with progress("scoring champion and challenger on the same sets"):
            report.metrics = {
                "champion": score_bundle(champion_dir, sets),
                "challenger": score_bundle(challenger_dir, sets),
            }
    report.challenger = challenger_dir.name
    report.promoted, report.reasons = decide_promotion(
        report.metrics["champion"], report.metrics["challenger"], config.tolerance
    )
    log_retrain(report, config)
    return report, challenger_dir


def log_retrain(report: RetrainReport, config: RetrainConfig) -> None:
    """Both models' figures side by side in one MLflow run, one nested run each."""
    with tracking.start_run("retrain", tags={"stage": "retrain", "promoted": str(report.promoted)}):
        tracking.log_params(
            {
                **config.__dict__,
                "champion": report.champion,
                "challenger": report.challenger,
                "feedback_rows": report.feedback_rows,
            }
        )
        tracking.log_json(
            {"reasons": report.reasons, "metrics": report.metrics}, "retrain_report.json"
        )
        for role, metrics in report.metrics.items():
            with tracking.start_run(role, nested=True, tags={"role": role}):
                for split, values in metrics.items():
                    tracking.log_metrics(evaluate.prefix_metrics(values, split))
