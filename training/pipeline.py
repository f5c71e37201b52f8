"""The training job's stages chained over a work folder: prepare → train → export → publish.

Each stage reads what the previous one wrote, so every CLI subcommand can be run on its own and
the whole job (`bad-buzz run`) is just the four in a row. I/O lives here; the stages' logic lives in
data.py, train.py, evaluate.py and export.py.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
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

SPLITS = ("train", "val", "test", *data_mod.FROZEN_SET_NAMES)
EVALUATED = ("val", "test", *data_mod.FROZEN_SET_NAMES)
PLOTTED = ("test", "manual_test", "semeval_test", "brand")
CHOSEN_FILE = "chosen.json"
PIPELINE_FILE = "pipeline.joblib"
CARD_FILE = "model_card.md"


@dataclass(frozen=True)
class JobConfig:
    work_dir: Path
    options: NormaliserOptions = DEFAULT_OPTIONS
    train: train.TrainConfig = field(default_factory=train.TrainConfig)
    selection: data_mod.SelectionConfig | None = None


def as_sources(sources: Sequence[data_mod.Source | Path | str]) -> list[data_mod.Source]:
    """Plain paths (the pre-multi-source API) become one source each, named by their file."""
    return [
        item
        if isinstance(item, data_mod.Source)
        else data_mod.Source(Path(item).name, (Path(item),))
        for item in sources
    ]


def describe_source(source: data_mod.Source) -> dict[str, Any]:
    return {
        "name": source.name,
        "kind": source.kind,
        "weight": source.weight,
        "neutral": source.neutral,
        "files": [str(path) for path in source.paths],
    }


def prepare_data(
    sources: Sequence[data_mod.Source | Path | str],
    manual_test: Path | None,
    config: JobConfig,
    frozen: data_mod.FrozenFiles | None = None,
) -> dict[str, Any]:
    """Load every source, set the frozen sets aside (the SemEval held-out file never enters the
    corpus; every frozen tweet is removed from it by text key), select across sources, split,
    and save the splits, the frozen sets and the data report (overall and per source)."""
    selection = config.selection or data_mod.SelectionConfig()
    files = frozen or data_mod.FrozenFiles()
    if manual_test is not None:
        files = replace(files, manual_test=manual_test)
    held_out = {files.semeval_test.name} if files.semeval_test else set()
    plan = data_mod.without_files(as_sources(sources), held_out)
    with progress("loading sources and frozen evaluation sets"):
        corpus = data_mod.load_corpus(plan)
        frozen_sets = data_mod.load_frozen_sets(files)
    with progress("selecting and cleaning tweets"):
        exclude = data_mod.frozen_union(frozen_sets)
        selected, steps = data_mod.select_tweets(corpus, selection, exclude=exclude)
    if selected.empty:
        raise data_mod.DataError("no tweets left after selection; check the input files")
    splits = data_mod.split_data(selected, seed=selection.seed)
    frames = {"train": splits.train, "val": splits.val, "test": splits.test, **frozen_sets}
    report = data_mod.build_data_report(
        steps, selected, splits, selection.airline_terms, frozen=frozen_sets
    )
    report["sources"] = [describe_source(source) for source in plan]
    for item in report["sources"]:
        report["per_source"].setdefault(item["name"], {}).update(
            weight=item["weight"], neutral=item["neutral"], files=item["files"]
        )
    report["frozen_files"] = {k: str(v) if v else None for k, v in asdict(files).items()}
    report["semeval_holdout"] = files.semeval_test.name if files.semeval_test else None
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
        extra = {key: frame[key].to_numpy() for key in ("weight", "source") if key in frame}
        features[name] = pd.DataFrame(columns).assign(
            label=frame["label"].to_numpy(), airline=frame["airline"].to_numpy(), **extra
        )
    return features


def score_candidate(
    kind: train.ModelKind,
    features: dict[str, pd.DataFrame],
    config: train.TrainConfig,
    shared: dict[str, Any] | None = None,
):
    """Fit one candidate (VADER alone needs no fit) and return it with P(negative) per split.
    `shared` (a dict kept across candidates) holds the vectorised CV folds, made once."""
    inputs = [INPUT_TEXT, *INPUT_VADER]
    if kind == "vader":
        return (
            None,
            {"rule": "(1 - compound) / 2"},
            {n: train.vader_negative_probability(f) for n, f in features.items()},
        )
    frame = features["train"]
    source_weight = frame["weight"].to_numpy() if "weight" in frame else None
    weight = train.make_sample_weight(
        frame["airline"].to_numpy(), config.airline_weight, source_weight
    )
    labels = frame["label"].to_numpy()
    shared = {} if shared is None else shared
    if "folds" not in shared:
        with progress(f"vectorising {config.cv_folds} cross-validation folds"):
            shared["folds"] = train.make_folds(frame[inputs], labels, config, weight)
    with progress(f"fitting {kind} ({config.cv_folds}-fold CV over C={list(config.c_grid)})"):
        pipeline, params = train.fit_pipeline(
            kind, frame[inputs], labels, config, weight, folds=shared["folds"]
        )
    return (
        pipeline,
        params,
        {n: pipeline.predict_proba(f[inputs])[:, 1] for n, f in features.items()},
    )


def evaluate_splits(
    features: dict[str, pd.DataFrame], scores: dict[str, np.ndarray], threshold: float
) -> dict[str, dict[str, float]]:
    """Metrics on val, the test split, its airline slice and every frozen evaluation set."""
    results = {}
    for name in EVALUATED:
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
        best, shared = None, {}
        for kind in kinds:
            with tracking.start_run(kind, nested=True, tags={"candidate": kind}) as run:
                pipeline, params, scores = score_candidate(kind, features, config.train, shared)
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
    for split in PLOTTED:
        if split in features and len(np.unique(features[split]["label"])) == 2:
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


def flatten_metrics(metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    """{"brand": {"roc_auc": .9, "rows": 1600}} → {"brand_roc_auc": .9, "brand_n": 1600}."""
    renamed = {"rows": "n"}
    return {
        f"{split}_{renamed.get(name, name)}": value
        for split, values in metrics.items()
        for name, value in values.items()
    }


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
        metrics = flatten_metrics(chosen["metrics"])
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
                "sources": report.get("sources", []),
                "semeval_holdout": report.get("semeval_holdout"),
                "frozen_sets": report.get("frozen_sets", {}),
            },
        )
        card = evaluate.render_model_card(
            version=version,
            kind=chosen["kind"],
            params=chosen["params"],
            threshold=chosen["threshold"],
            metrics=chosen["metrics"],
            data_report=report,
            command=manifest.command,
        )
        (bundle_root / version / CARD_FILE).write_text(card, encoding="utf-8")
        tracking.log_metrics(metrics)
        tracking.log_artifacts(
            [bundle_root / version / name for name in ("model.onnx", "manifest.json", CARD_FILE)],
            "bundle",
        )
    return bundle_root / version, manifest
