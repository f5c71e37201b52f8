"""The training job's stages chained over a work folder: prepare → train → export → publish.

Each stage reads what the previous one wrote, so every CLI subcommand can be run on its own and
the whole job (`bad-buzz run`) is just the four in a row. I/O lives here; the stages' logic lives in
data.py, train.py, evaluate.py and export.py.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shared.bundle import INPUT_TEXT, INPUT_VADER, Manifest
from shared.features import build_feature_columns
from shared.normalise import DEFAULT_OPTIONS, NormaliserOptions
from training import data as data_mod
from training import evaluate, export, tracking, train
from training.progress import progress

SPLITS = ("train", "val", "test", "manual_test")
CHOSEN_FILE = "chosen.json"
PIPELINE_FILE = "pipeline.joblib"


@dataclass(frozen=True)
class JobConfig:
    work_dir: Path
    options: NormaliserOptions = DEFAULT_OPTIONS
    train: train.TrainConfig = field(default_factory=train.TrainConfig)
    selection: data_mod.SelectionConfig | None = None


def prepare_data(paths: list[Path], manual_test: Path | None, config: JobConfig) -> dict[str, Any]:
    """Load, select, de-duplicate across sources, split, and save the splits and the data report."""
    selection = config.selection or data_mod.SelectionConfig()
    with progress("loading sources"):
        corpus = data_mod.load_sources(paths)
        manual = data_mod.load_manual_test(manual_test) if manual_test else None
    with progress("selecting and cleaning tweets"):
        selected, steps = data_mod.select_tweets(corpus, selection, exclude=manual)
    if selected.empty:
        raise data_mod.DataError("no tweets left after selection; check the input files")
    splits = data_mod.split_data(selected, seed=selection.seed)
    frames = {"train": splits.train, "val": splits.val, "test": splits.test}
    if manual is not None:
        frames["manual_test"] = manual
    report = data_mod.build_data_report(
        steps, selected, splits, selection.airline_terms, manual_test=manual
    )
    report["fingerprint"] = data_mod.data_fingerprint(selected)
    report["sources"] = [str(path) for path in paths]
    save_prepared(config.work_dir, frames, report, selection.airline_terms)
    return report


def save_prepared(
    work_dir: Path, frames: dict[str, pd.DataFrame], report: dict[str, Any], terms: Any
) -> None:
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame = frame.assign(airline=data_mod.is_airline(frame["text"].tolist(), terms))
        frame.reset_index(drop=True).to_parquet(data_dir / f"{name}.parquet", index=False)
    (data_dir / "report.json").write_text(
        json.dumps(report, indent=2, default=str), encoding="utf-8"
    )


def load_prepared(work_dir: Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    data_dir = work_dir / "data"
    if not (data_dir / "train.parquet").is_file():
        raise data_mod.DataError(f"no prepared data in {data_dir}; run `bad-buzz prepare` first")
    frames = {
        name: pd.read_parquet(data_dir / f"{name}.parquet")
        for name in SPLITS
        if (data_dir / f"{name}.parquet").is_file()
    }
    return frames, json.loads((data_dir / "report.json").read_text(encoding="utf-8"))


def featurise(
    frames: dict[str, pd.DataFrame], options: NormaliserOptions
) -> dict[str, pd.DataFrame]:
    """The model inputs for every split, through the same code path serving uses."""
    features = {}
    for name, frame in frames.items():
        with progress(f"features for {name} ({len(frame):,} tweets)"):
            columns = build_feature_columns(frame["text"].tolist(), options)
        features[name] = pd.DataFrame(columns).assign(
            label=frame["label"].to_numpy(), airline=frame["airline"].to_numpy()
        )
    return features


def score_candidate(
    kind: train.ModelKind, features: dict[str, pd.DataFrame], config: train.TrainConfig
):
    """Fit one candidate (VADER alone needs no fit) and return it with P(negative) per split."""
    inputs = [INPUT_TEXT, *INPUT_VADER]
    if kind == "vader":
        return (
            None,
            {"rule": "(1 - compound) / 2"},
            {n: train.vader_negative_probability(f) for n, f in features.items()},
        )
    frame = features["train"]
    weight = train.make_sample_weight(frame["airline"].to_numpy(), config.airline_weight)
    with progress(f"fitting {kind} ({config.cv_folds}-fold CV over C={list(config.c_grid)})"):
        pipeline, params = train.fit_pipeline(
            kind, frame[inputs], frame["label"].to_numpy(), config, weight
        )
    return (
        pipeline,
        params,
        {n: pipeline.predict_proba(f[inputs])[:, 1] for n, f in features.items()},
    )


def evaluate_splits(
    features: dict[str, pd.DataFrame], scores: dict[str, np.ndarray], threshold: float
) -> dict[str, dict[str, float]]:
    """Metrics on the test split, its airline slice and the hand-labelled test set."""
    results = {}
    for name in ("val", "test", "manual_test"):
        if name in features:
            results[name] = evaluate.compute_metrics(
                features[name]["label"].to_numpy(), scores[name], threshold
            )
    airline = features["test"]["airline"].to_numpy()
    if airline.sum() and len(np.unique(features["test"]["label"].to_numpy()[airline])) == 2:
        results["test_airline"] = evaluate.compute_metrics(
            features["test"]["label"].to_numpy()[airline], scores["test"][airline], threshold
        )
    return results


def train_candidates(
    config: JobConfig, kinds: tuple[train.ModelKind, ...] = train.MODEL_KINDS
) -> dict[str, Any]:
    """One MLflow run per candidate under a parent run; keep the best exportable one on disk."""
    frames, report = load_prepared(config.work_dir)
    features = featurise(frames, config.options)
    summary: dict[str, Any] = {"candidates": {}}
    with tracking.start_run("train", tags={"stage": "train"}) as parent:
        tracking.log_params(
            {"normaliser_options": config.options.to_dict(), **asdict(config.train)}
        )
        tracking.log_json(report, "data_report.json")
        best = None
        for kind in kinds:
            with tracking.start_run(kind, nested=True, tags={"candidate": kind}) as run:
                pipeline, params, scores = score_candidate(kind, features, config.train)
                threshold = train.tune_threshold(
                    features["val"]["label"].to_numpy(), scores["val"], config.train.precision_floor
                )
                metrics = evaluate_splits(features, scores, threshold)
                tracking.log_params({"kind": kind, "threshold": threshold, **params})
                for split, values in metrics.items():
                    tracking.log_metrics(evaluate.prefix_metrics(values, split))
                entry = {
                    "kind": kind,
                    "params": params,
                    "threshold": threshold,
                    "metrics": metrics,
                    "run_id": run.info.run_id,
                }
                summary["candidates"][kind] = entry
                # Chosen on validation ROC AUC: threshold-free, so a tie in accuracy at two
                # slightly different thresholds cannot pick the model that ranks tweets worse.
                if kind in train.EXPORTABLE_KINDS and (
                    best is None or metrics["val"]["roc_auc"] > best[0]["metrics"]["val"]["roc_auc"]
                ):
                    best = (entry, pipeline, scores)
        entry, pipeline, scores = best
        summary.update(chosen=entry["kind"], parent_run_id=parent.info.run_id)
        save_chosen(config.work_dir, pipeline, entry, summary)
        log_chosen_artifacts(config.work_dir, features, scores, entry, report)
    return summary


def save_chosen(
    work_dir: Path, pipeline: Any, entry: dict[str, Any], summary: dict[str, Any]
) -> None:
    model_dir = work_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_dir / PIPELINE_FILE)
    (model_dir / CHOSEN_FILE).write_text(
        json.dumps({**entry, "summary": summary}, indent=2, default=str), encoding="utf-8"
    )


def log_chosen_artifacts(
    work_dir: Path,
    features: dict[str, pd.DataFrame],
    scores: dict[str, np.ndarray],
    entry: dict[str, Any],
    report: dict[str, Any],
) -> None:
    """Plots, model card and data report of the chosen candidate, in its parent MLflow run."""
    plot_dir = work_dir / "plots"
    paths = []
    for split in ("test", "manual_test"):
        if split in features:
            paths += evaluate.save_plots(
                features[split]["label"].to_numpy(),
                scores[split],
                entry["threshold"],
                plot_dir,
                split,
            )
    tracking.log_artifacts(paths, "plots")
    card = evaluate.render_model_card(
        version="(unpublished)",
        kind=entry["kind"],
        params=entry["params"],
        threshold=entry["threshold"],
        metrics=entry["metrics"],
        data_report=report,
    )
    (work_dir / "model" / "model_card.md").write_text(card, encoding="utf-8")
    tracking.log_artifacts([work_dir / "model" / "model_card.md"])


def make_version(fingerprint: str) -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + fingerprint[:8]


def export_chosen(
    config: JobConfig, bundle_root: Path, *, register: bool = True
) -> tuple[Path, Manifest]:
    """ONNX export behind the parity gate, then the bundle with its manifest and model card."""
    frames, report = load_prepared(config.work_dir)
    chosen = json.loads((config.work_dir / "model" / CHOSEN_FILE).read_text(encoding="utf-8"))
    pipeline = joblib.load(config.work_dir / "model" / PIPELINE_FILE)
    inputs = [INPUT_TEXT, *INPUT_VADER]
    test = featurise({"test": frames["test"]}, config.options)["test"][inputs]
    with progress("converting to ONNX and checking parity on the test split"):
        onnx_bytes = export.convert_pipeline(pipeline)
        parity = export.check_parity(pipeline, onnx_bytes, test)
    version = make_version(report.get("fingerprint", "unknown"))
    with tracking.start_run("export", tags={"stage": "export"}) as run:
        registered = tracking.register_pipeline(pipeline, test.head(3)) if register else None
        metrics = {
            f"{split}_{name}": value
            for split, values in chosen["metrics"].items()
            for name, value in values.items()
            if name != "rows"
        }
        metrics.update(
            parity_max_abs_diff=parity.max_abs_diff,
            parity_label_flips=float(parity.label_flips),
            onnx_bytes=float(len(onnx_bytes)),
        )
        manifest = export.write_bundle(
            pipeline,
            onnx_bytes,
            bundle_root / version,
            version=version,
            threshold=chosen["threshold"],
            options=config.options,
            metrics=metrics,
            data_fingerprint=report.get("fingerprint", ""),
            mlflow_run_id=run.info.run_id,
            registered_model=tracking.REGISTERED_MODEL if registered else None,
            registered_version=registered,
            command=shlex.join(["bad-buzz", *sys.argv[1:]]),
            extra={
                "kind": chosen["kind"],
                "params": chosen["params"],
                "parity_rows": parity.rows,
                "min_df": config.train.min_df,
                "precision_floor": config.train.precision_floor,
            },
        )
        tracking.log_metrics(metrics)
        tracking.log_artifacts(
            [bundle_root / version / name for name in ("model.onnx", "manifest.json")], "bundle"
        )
    return bundle_root / version, manifest
