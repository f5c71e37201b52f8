"""Retraining from harvested feedback behind a promotion gate that decides on evidence.

The challenger is the champion's recipe (kind, C, min_df, normaliser) refitted on the base corpus
plus the training side of the feedback (training/feedback_data.py selects it: window, frozen-set
filter, one row per text, hold-out by text hash), with the vocabulary, feedback weight and
threshold chosen on the feedback (training/domain_fit.py). Both models are then scored through
the serving code path (onnxruntime) on the same frozen sets and on the held-out feedback, and
judged by paired tests (training/gate.py). The caller promotes, conditionally on the champion
pointer this run compared with (`report.champion_etag`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.bundle import INPUT_TEXT, INPUT_VADER, BundleError, Manifest, read_manifest
from shared.features import build_model_inputs
from shared.inference import Predictor
from shared.model_store import ModelStore
from shared.normalise import NormaliserOptions
from training import evaluate, export, gate, tracking, train
from training.domain_fit import DomainChoice, DomainFitConfig, fit_domain_challenger, rates
from training.feedback_data import (
    KIND_CONFIRMATION,
    KIND_CORRECTION,
    FeedbackSelection,
    frozen_text_keys,
    select_feedback,
)
from training.pipeline import featurise, load_prepared, make_version
from training.progress import progress

FEEDBACK_SLICE = "feedback_holdout"
TRAINING_SPLITS = ("train", "val")


@dataclass(frozen=True)
class RetrainConfig:
    holdout_share: float = 0.2
    min_feedback: int = 1
    max_age_days: float | None = 180.0
    exclude_frozen: tuple[str, ...] = ()  # frozen sets that ARE the loop's domain (a benchmark)
    policy: gate.GatePolicy = field(default_factory=gate.GatePolicy)
    fit: DomainFitConfig = field(default_factory=DomainFitConfig)


@dataclass
class RetrainReport:
    champion: str
    champion_etag: str | None = None
    challenger: str | None = None
    promoted: bool = False
    reasons: list[str] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    feedback: dict[str, int] = field(default_factory=dict)
    feedback_ids: dict[str, Any] = field(default_factory=dict)
    choice: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The report without the long id lists (those go to an MLflow artifact)."""
        return {k: v for k, v in asdict(self).items() if k != "feedback_ids"}


def frozen_sets(work_dir: Path, exclude: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """Every prepared evaluation set that is never trained on (`test`, `manual_test` and the
    frozen sets the corpus lists), minus `exclude`."""
    frames, _ = load_prepared(work_dir)
    extra = {
        path.stem: pd.read_parquet(path)
        for path in sorted((work_dir / "data").glob("*.parquet"))
        if path.stem not in frames
    }
    everything = {**frames, **extra}
    return {
        name: frame
        for name, frame in everything.items()
        if name not in TRAINING_SPLITS and name not in exclude and len(frame)
    }


def comparable_frozen(
    frozen: dict[str, pd.DataFrame], manifest: Manifest, work_dir: Path
) -> tuple[dict[str, pd.DataFrame], str | None]:
    """The `test` split is frozen only for a champion trained on the same corpus: when the work
    folder's data fingerprint differs from the champion's, the champion may have trained on its
    tweets, and the comparison would favour it. The external frozen sets stay."""
    fingerprint = load_prepared(work_dir)[1].get("fingerprint")
    if (
        "test" not in frozen
        or not manifest.data_fingerprint
        or fingerprint in (None, manifest.data_fingerprint)
    ):
        return frozen, None
    note = "test split left out of the gate: the champion was trained on another corpus"
    return {k: v for k, v in frozen.items() if k != "test"}, note


def featurise_feedback(rows: pd.DataFrame, options: NormaliserOptions) -> pd.DataFrame:
    """The stored text through the normal feature path, with its label and text key."""
    if rows.empty:
        return pd.DataFrame(columns=[INPUT_TEXT, *INPUT_VADER, "label", "text_key"])
    features = featurise({"feedback": rows}, options)["feedback"]
    return features.assign(text_key=rows["text_key"].to_numpy(), kind=rows["kind"].to_numpy())


def score_bundles(
    predictors: tuple[Predictor, Predictor], sets: dict[str, pd.DataFrame]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """P(negative) of both bundles on every set, through onnxruntime as serving runs it. The
    challenger is exported with the champion's normaliser options, so each set is normalised
    and scored by VADER once for both (separately should the options ever differ)."""
    shared_inputs = predictors[0].options == predictors[1].options
    scores: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] = ({}, {})
    for name, frame in sets.items():
        if not len(frame):
            continue
        texts = frame["text"].tolist()
        feeds = build_model_inputs(texts, predictors[0].options) if shared_inputs else None
        for predictor, into in zip(predictors, scores, strict=True):
            into[name] = (
                predictor.score_inputs(feeds)
                if feeds is not None
                else predictor.negative_probabilities(texts)
            )
    return scores


def set_metrics(
    sets: dict[str, pd.DataFrame], scores: dict[str, np.ndarray], threshold: float
) -> dict[str, dict[str, float]]:
    """One model's metrics on every set (one class is enough for accuracy; AUCs are NaN then)."""
    return {
        name: evaluate.compute_metrics(sets[name]["label"].to_numpy(), p, threshold)
        for name, p in scores.items()
    }


def judge(
    sets: dict[str, pd.DataFrame],
    champion: tuple[dict[str, np.ndarray], float],
    challenger: tuple[dict[str, np.ndarray], float],
    policy: gate.GatePolicy,
) -> tuple[bool, list[str], dict[str, Any]]:
    """Paired tests on every frozen set and on the held-out feedback; (promote, reasons, gate)."""
    frozen, domain = {}, None
    for name, frame in sets.items():
        labels = frame["label"].to_numpy()
        a = champion[0][name] >= champion[1]
        b = challenger[0][name] >= challenger[1]
        if name == FEEDBACK_SLICE:
            domain = gate.compare_domain(labels, a, b, policy)
            domain["by_kind"] = kind_breakdown(frame, labels, a, b)
        else:
            frozen[name] = gate.compare_frozen_set(labels, a, b, policy)
    promoted, reasons = gate.decide(frozen, domain, policy)
    return promoted, reasons, {"policy": asdict(policy), "test": policy.describe(),
                               "frozen": frozen, "domain": domain}  # fmt: skip


def kind_breakdown(
    frame: pd.DataFrame, labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray
) -> dict[str, dict[str, int]]:
    """Held-out corrections the challenger fixes, held-out confirmations it breaks."""
    result = {}
    for kind in (KIND_CORRECTION, KIND_CONFIRMATION):
        mask = frame["kind"].to_numpy() == kind
        result[kind] = {
            "rows": int(mask.sum()),
            "champion_right": int((champion[mask] == labels[mask]).sum()),
            "challenger_right": int((challenger[mask] == labels[mask]).sum()),
        }
    return result


def recipe_of(manifest: Manifest) -> dict[str, Any]:
    return {
        "kind": manifest.extra.get("kind", "tfidf_lr_vader"),
        "C": float(manifest.extra.get("params", {}).get("C", 1.0)),
        "min_df": int(manifest.extra.get("min_df", 2)),
        "precision_floor": float(
            manifest.extra.get("precision_floor", train.TrainConfig().precision_floor)
        ),
    }


def export_challenger(
    pipeline: Any,
    threshold: float,
    manifest: Manifest,
    parity_rows: pd.DataFrame,
    bundle_root: Path,
    extra: dict[str, Any],
) -> Path:
    onnx_bytes = export.convert_pipeline(pipeline)
    parity = export.check_parity(pipeline, onnx_bytes, parity_rows[[INPUT_TEXT, *INPUT_VADER]])
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


def ids_digest(ids: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ids, sort_keys=True).encode()).hexdigest()


def champion_on_val(champion_dir: Path, val: pd.DataFrame) -> tuple[float, float]:
    """The champion's (accuracy, negative recall) on the base val split: the floor the
    challenger's threshold must keep, within the tolerance."""
    predictor = Predictor(champion_dir)
    p = predictor.negative_probabilities(val["text"].tolist())
    return rates(val["label"].to_numpy(), p, predictor.manifest.threshold)


def fit_and_export(
    work_dir: Path,
    selection: FeedbackSelection,
    champion_dir: Path,
    bundle_root: Path,
    config: RetrainConfig,
) -> tuple[Path, DomainChoice]:
    """Featurise base + training-side feedback, fit (CV choices), export behind parity."""
    frames, _ = load_prepared(work_dir)
    manifest = read_manifest(champion_dir)
    options = NormaliserOptions.from_dict(manifest.normaliser_options)
    features = featurise({k: frames[k] for k in ("train", "val")}, options)
    feedback = featurise_feedback(selection.train, options)
    reference = champion_on_val(champion_dir, frames["val"])
    with progress(f"fitting challenger on {len(features['train']):,} + {len(feedback):,} tweets"):
        pipeline, choice = fit_domain_challenger(
            features["train"], features["val"], feedback, recipe_of(manifest), config.fit, reference
        )
    extra = {
        "feedback_rows": len(feedback),
        "feedback_weight": choice.weight,
        "feedback_terms": choice.feedback_terms,
        "feedback_ids_sha256": ids_digest(selection.ids_used()),
    }
    parity_rows = features["val"].head(5000)
    return export_challenger(
        pipeline, choice.threshold, manifest, parity_rows, bundle_root, extra
    ), choice


def retrain(
    store: ModelStore,
    records: list[dict[str, Any]],
    work_dir: Path,
    bundle_root: Path,
    config: RetrainConfig,
    now: datetime | None = None,
) -> tuple[RetrainReport, Path | None]:
    """Fit, compare and judge; returns the report and the challenger bundle folder. Never
    promotes: the caller does, with `report.champion_etag` as the condition."""
    started = time.perf_counter()
    pointer, etag = store.read_pointer()
    if pointer is None:
        raise BundleError("the model store has no champion to compare with; publish one first")
    report = RetrainReport(champion=pointer.version, champion_etag=etag)
    frozen = frozen_sets(work_dir, config.exclude_frozen)
    selection = select_feedback(
        records,
        frozen_text_keys(frozen.values()),
        config.holdout_share,
        now or datetime.now(UTC),
        config.max_age_days,
    )
    report.feedback = {"records": len(records), **selection.counts()}
    report.feedback_ids = selection.ids_used()
    if len(selection.train) < config.min_feedback:
        usable = len(selection.train)
        report.reasons.append(f"only {usable} feedback texts to train on (< {config.min_feedback})")
        return report, None
    with tempfile.TemporaryDirectory() as tmp:
        manifest = store.download(pointer.version, Path(tmp) / pointer.version)
        challenger_dir, choice = fit_and_export(
            work_dir, selection, Path(tmp) / pointer.version, bundle_root, config
        )
        frozen, note = comparable_frozen(frozen, manifest, work_dir)
        sets = {**frozen, FEEDBACK_SLICE: selection.holdout}
        compare(report, sets, (Path(tmp) / pointer.version, challenger_dir), choice, config)
    report.reasons += [note] if note else []
    report.seconds = round(time.perf_counter() - started, 1)
    log_retrain(report, config)
    return report, challenger_dir


def compare(
    report: RetrainReport,
    sets: dict[str, pd.DataFrame],
    bundles: tuple[Path, Path],
    choice: DomainChoice,
    config: RetrainConfig,
) -> None:
    """Score (champion, challenger) bundles on the same sets; fill the report's figures and
    verdict."""
    with progress("scoring champion and challenger on the same tweets"):
        predictors = (Predictor(bundles[0]), Predictor(bundles[1]))
        champion_scores, challenger_scores = score_bundles(predictors, sets)
        champion = (champion_scores, predictors[0].manifest.threshold)
        challenger = (challenger_scores, choice.threshold)
    report.challenger = bundles[1].name
    report.choice = asdict(choice)
    report.metrics = {
        "champion": set_metrics(sets, *champion),
        "challenger": set_metrics(sets, *challenger),
    }
    report.promoted, report.reasons, report.gate = judge(sets, champion, challenger, config.policy)


def log_retrain(report: RetrainReport, config: RetrainConfig) -> None:
    """Both models' figures, the gate's tests and the feedback ids used, in one MLflow run."""
    with tracking.start_run("retrain", tags={"stage": "retrain", "promoted": str(report.promoted)}):
        tracking.log_params(
            {
                "holdout_share": config.holdout_share,
                "max_age_days": config.max_age_days,
                "gate_test": config.policy.describe(),
                "gate_margin": config.policy.margin,
                "gate_confidence": config.policy.confidence,
                "feedback_weight": report.choice.get("weight"),
                "threshold": report.choice.get("threshold"),
                "feedback_terms": report.choice.get("feedback_terms"),
                "champion": report.champion,
                "challenger": report.challenger,
                **{f"feedback_{k}": v for k, v in report.feedback.items()},
            }
        )
        tracking.log_json(report.summary(), "retrain_report.json")
        tracking.log_json(report.feedback_ids, "feedback_ids.json")
        for role, metrics in report.metrics.items():
            with tracking.start_run(role, nested=True, tags={"role": role}):
                for split, values in metrics.items():
                    tracking.log_metrics(evaluate.prefix_metrics(values, split))
