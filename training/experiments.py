"""Studies behind the defaults: normaliser ablation, airline-only vs whole corpus, the corpus
(sources, weights, neutral tweets), and bundle evaluation."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from shared.bundle import INPUT_TEXT, INPUT_VADER
from shared.inference import Predictor
from shared.normalise import DEFAULT_OPTIONS, STEPS, normalise_text
from training import evaluate, tracking, train
from training.data import FROZEN_SET_NAMES, FrozenFiles, Source
from training.pipeline import JobConfig, featurise, load_prepared, prepare_data, score_candidate
from training.progress import progress

ABLATION_CONFIG = train.TrainConfig(c_grid=(1.0,), cv_folds=2)
LATENCY_SAMPLE = 2000


def evaluate_bundle(bundle_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Metrics of a bundle computed by the serving code path, on the prepared test sets."""
    predictor = Predictor(bundle_dir)
    frames, _ = load_prepared(work_dir)
    results: dict[str, Any] = {
        "version": predictor.version,
        "threshold": predictor.manifest.threshold,
    }
    for name in ("test", *FROZEN_SET_NAMES):
        if name in frames:
            with progress(f"scoring {name} with onnxruntime"):
                scores = predictor.negative_probabilities(frames[name]["text"].tolist())
            results[name] = evaluate.compute_metrics(
                frames[name]["label"].to_numpy(), scores, predictor.manifest.threshold
            )
    return results


def measure_normalise_us(texts: list[str], options: Any) -> float:
    start = time.perf_counter()
    for text in texts:
        normalise_text(text, options)
    return (time.perf_counter() - start) / max(len(texts), 1) * 1e6


def run_ablation(work_dir: Path) -> str:
    """Train the exported model kind once with every step on, then once per step switched off."""
    frames, _ = load_prepared(work_dir)
    sample = frames["test"]["text"].tolist()[:LATENCY_SAMPLE]
    rows = []
    variants = [("(all default steps on)", DEFAULT_OPTIONS)]
    variants += [
        (f"without {step}", DEFAULT_OPTIONS.without(step))
        for step in STEPS
        if getattr(DEFAULT_OPTIONS, step)
    ]
    with tracking.start_run("ablation", tags={"stage": "ablation"}):
        for name, options in variants:
            with tracking.start_run(name, nested=True):
                features = featurise(frames, options)
                _, _, scores = score_candidate("tfidf_lr_vader", features, ABLATION_CONFIG)
                metrics = evaluate.compute_metrics(
                    features["test"]["label"].to_numpy(), scores["test"], 0.5
                )
                manual = (
                    evaluate.compute_metrics(
                        features["manual_test"]["label"].to_numpy(), scores["manual_test"], 0.5
                    )
                    if "manual_test" in features
                    else {"accuracy": float("nan")}
                )
                latency = measure_normalise_us(sample, options)
                tracking.log_params(options.to_dict())
                tracking.log_metrics(
                    {
                        "test_accuracy": metrics["accuracy"],
                        "test_recall_neg": metrics["recall_neg"],
                        "manual_accuracy": manual["accuracy"],
                        "normalise_us": latency,
                    }
                )
                rows.append(
                    (name, metrics["accuracy"], metrics["recall_neg"], manual["accuracy"], latency)
                )
    return render_ablation(rows)


def render_ablation(rows: list[tuple[str, float, float, float, float]]) -> str:
    base = rows[0]
    lines = [
        "| variant | test accuracy | Δ vs all on | negative recall | manual accuracy "
        "| normalise µs/tweet |",
        "|---|---|---|---|---|---|",
    ]
    for name, acc, recall, manual, latency in rows:
        lines.append(
            f"| {name} | {acc:.4f} | {acc - base[1]:+.4f} | {recall:.4f} | {manual:.4f} "
            f"| {latency:.1f} |"
        )
    return "\n".join(lines) + "\n"


def run_airline_comparison(work_dir: Path) -> dict[str, Any]:
    """Is more (general) data better than only on-topic data? Both scored on the airline slice."""
    frames, _ = load_prepared(work_dir)
    features = featurise(frames, DEFAULT_OPTIONS)
    test_airline = features["test"][features["test"]["airline"]]
    results = {}
    with tracking.start_run("airline-comparison", tags={"stage": "experiment"}):
        for name, train_frame in (
            ("whole_corpus", features["train"]),
            ("airline_only", features["train"][features["train"]["airline"]]),
        ):
            subset = {"train": train_frame, "val": features["val"], "airline_test": test_airline}
            _, _, scores = score_candidate("tfidf_lr_vader", subset, ABLATION_CONFIG)
            metrics = evaluate.compute_metrics(
                test_airline["label"].to_numpy(), scores["airline_test"], 0.5
            )
            results[name] = {"train_rows": len(train_frame), **metrics}
            tracking.log_metrics({f"{name}_{k}": v for k, v in metrics.items()})
    results["airline_test_rows"] = len(test_airline)
    results["winner"] = max(("whole_corpus", "airline_only"), key=lambda n: results[n]["accuracy"])
    return results


STUDY_CONFIG = train.TrainConfig(c_grid=(2.0,))  # C=2: what the full search chose (min_df 5)
STUDY_SETS = ("manual_test", "semeval_test", "brand", "brand_rest")


def study_variants(
    sources: list[Source], weights: tuple[float, ...], neutrals: tuple[str, ...]
) -> list[tuple[str, list[Source]]]:
    """Without SemEval, then SemEval with each neutral policy and weight; other sources as given."""
    base = [source for source in sources if source.kind != "semeval"]
    semeval = [source for source in sources if source.kind == "semeval"]
    variants = [("without SemEval", base)]
    for neutral in neutrals:
        for weight in weights:
            changed = [replace(s, weight=weight, neutral=neutral) for s in semeval]
            variants.append((f"SemEval neutral={neutral} weight={weight:g}", base + changed))
    return variants


def fit_fixed(features: dict[str, pd.DataFrame], config: train.TrainConfig) -> dict[str, Any]:
    """One fit of the exported kind at the first C of the grid (no search): P(negative) per set.
    Source weights apply as in training."""
    inputs = [INPUT_TEXT, *INPUT_VADER]
    frame = features["train"]
    weight = train.make_sample_weight(
        frame["airline"].to_numpy(), config.airline_weight, frame.get("weight")
    )
    pipeline = train.build_pipeline("tfidf_lr_vader", c=config.c_grid[0], min_df=config.min_df)
    with progress(f"fitting tfidf_lr_vader at C={config.c_grid[0]} on {len(frame):,} tweets"):
        pipeline.fit(frame[inputs], frame["label"].to_numpy(), clf__sample_weight=weight)
    return {name: pipeline.predict_proba(f[inputs])[:, 1] for name, f in features.items()}


def fit_study_variant(
    work_dir: Path, config: JobConfig, weights: dict[str, float]
) -> dict[str, dict[str, float]]:
    """The exported kind at a fixed C on one prepared corpus, each source at its variant's weight
    (the prepared data is shared by variants that differ only in weight); threshold tuned on val
    as in train."""
    frames, _ = load_prepared(work_dir)
    frames["train"] = frames["train"].assign(weight=frames["train"]["source"].map(weights))
    features = featurise(frames, config.options)
    scores = fit_fixed(features, config.train)
    threshold = train.tune_threshold(
        features["val"]["label"].to_numpy(), scores["val"], config.train.precision_floor
    )
    return {
        name: evaluate.compute_metrics(features[name]["label"].to_numpy(), scores[name], threshold)
        for name in ("test", *STUDY_SETS)
        if name in features
    }


def run_corpus_study(
    sources: list[Source],
    frozen: FrozenFiles,
    work_dir: Path,
    weights: tuple[float, ...] = (1.0, 2.0, 4.0),
    neutrals: tuple[str, ...] = ("drop", "positive"),
) -> str:
    """One MLflow run per corpus variant, scored on every frozen set: which sources, how much
    weight for SemEval, and SemEval neutral tweets dropped or kept as not-negative."""
    rows = []
    prepared: dict[tuple[str, ...], Path] = {}
    with tracking.start_run("corpus-study", tags={"stage": "experiment"}):
        for name, variant in study_variants(sources, weights, neutrals):
            key = tuple(f"{s.name}:{s.neutral}" for s in variant)
            config = JobConfig(work_dir=work_dir / f"variant{len(prepared)}", train=STUDY_CONFIG)
            if key not in prepared:
                prepare_data(variant, None, config, frozen=frozen)
                prepared[key] = config.work_dir
            config = replace(config, work_dir=prepared[key])
            with tracking.start_run(name, nested=True):
                with progress(f"corpus variant: {name}"):
                    weights = {source.name: source.weight for source in variant}
                    metrics = fit_study_variant(prepared[key], config, weights)
                for split, values in metrics.items():
                    tracking.log_metrics(evaluate.prefix_metrics(values, split))
            rows.append((name, metrics))
    return render_corpus_study(rows)


def render_corpus_study(rows: list[tuple[str, dict[str, dict[str, float]]]]) -> str:
    """Markdown: ROC AUC and accuracy per frozen set, with 95 % intervals and n in the header."""
    sets = [name for name in STUDY_SETS if name in rows[0][1]]
    header = "| variant | " + " | ".join(
        f"{name} AUC | {name} acc | {name} neg. recall" for name in sets
    )
    lines = [header + " |", "|---|" + "---|---|---|" * len(sets)]
    for name, metrics in rows:
        cells = []
        for split in sets:
            m, ci = metrics[split], evaluate.metric_intervals(metrics[split])
            cells += [
                evaluate.format_interval(m["roc_auc"], ci.get("roc_auc")),
                evaluate.format_interval(m["accuracy"], ci.get("accuracy")),
                evaluate.format_interval(m["recall_neg"], ci.get("recall_neg")),
            ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sizes = ", ".join(
        f"{split}: n={int(rows[0][1][split]['rows'])} ({int(rows[0][1][split]['negatives'])} neg.)"
        for split in sets
    )
    return "\n".join(lines) + f"\n\nSample sizes: {sizes}.\n"
