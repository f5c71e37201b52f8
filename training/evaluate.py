"""Metrics, plots and the model card: NEGATIVE is the positive class of every metric here."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

METRIC_NAMES = ("accuracy", "precision_neg", "recall_neg", "f1_neg", "roc_auc", "pr_auc")


def compute_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float
) -> dict[str, float]:
    """Accuracy and the negative class's precision, recall, F1, plus ROC AUC and PR AUC."""
    labels = np.asarray(labels).astype(int)
    predicted = (np.asarray(probabilities) >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predicted, average="binary", pos_label=1, zero_division=0
    )
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision_neg": float(precision),
        "recall_neg": float(recall),
        "f1_neg": float(f1),
        "roc_auc": float(roc_auc_score(labels, probabilities)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(labels, probabilities))
        if both_classes
        else float("nan"),
        "rows": float(len(labels)),
        "negatives": float(labels.sum()),
    }


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion (accuracy, recall, precision); (nan, nan) for
    an empty sample. Better than the normal interval near 0 and 1 and for small n."""
    if n <= 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def auc_interval(
    auc: float, positives: float, negatives: float, z: float = 1.96
) -> tuple[float, float]:
    """95 % interval of a ROC AUC by Hanley & McNeil (1982): the standard error from the AUC and
    the two class sizes (here the NEGATIVE tweets are the positive class)."""
    if math.isnan(auc) or positives <= 0 or negatives <= 0:
        return float("nan"), float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    half = z * math.sqrt(max(variance, 0.0))
    return max(0.0, auc - half), min(1.0, auc + half)


def metric_intervals(metrics: dict[str, float]) -> dict[str, tuple[float, float]]:
    """95 % intervals of accuracy, negative recall and ROC AUC from a `compute_metrics` result
    (needs its `rows` and `negatives`; precision's n is not kept, so it gets none)."""
    rows, negatives = metrics.get("rows", 0.0), metrics.get("negatives", float("nan"))
    intervals = {"accuracy": wilson_interval(metrics["accuracy"] * rows, rows)}
    if not math.isnan(negatives):
        intervals["recall_neg"] = wilson_interval(metrics["recall_neg"] * negatives, negatives)
        intervals["roc_auc"] = auc_interval(metrics["roc_auc"], negatives, rows - negatives)
    return intervals


def prefix_metrics(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {f"{prefix}_{name}": value for name, value in metrics.items()}


def save_plots(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, out_dir: Path, name: str
) -> list[Path]:
    """Confusion matrix, ROC, precision-recall and calibration plots as PNG files."""
    import matplotlib

    matplotlib.use("Agg")  # headless: CI and Function-free training boxes have no display
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    out_dir.mkdir(parents=True, exist_ok=True)
    predicted = (probabilities >= threshold).astype(int)
    matrix = confusion_matrix(labels, predicted, labels=[0, 1])
    plots = {
        "confusion": lambda ax: ConfusionMatrixDisplay(
            matrix, display_labels=["positive", "negative"]
        ).plot(ax=ax, colorbar=False),
        "roc": lambda ax: RocCurveDisplay.from_predictions(labels, probabilities, ax=ax, name=name),
        "precision_recall": lambda ax: PrecisionRecallDisplay.from_predictions(
            labels, probabilities, ax=ax, name=name
        ),
        "calibration": lambda ax: CalibrationDisplay.from_predictions(
            labels, probabilities, n_bins=10, ax=ax, name=name
        ),
    }
    paths = []
    for kind, draw in plots.items():
        figure, axes = plt.subplots(figsize=(5, 4))
        draw(axes)
        axes.set_title(f"{name}: {kind.replace('_', ' ')}")
        path = out_dir / f"{name}_{kind}.png"
        figure.tight_layout()
        figure.savefig(path, dpi=90)
        plt.close(figure)
        paths.append(path)
    return paths


def format_interval(value: float, interval: tuple[float, float] | None) -> str:
    if math.isnan(value):
        return "n/a"
    if interval is None or math.isnan(interval[0]):
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    """One markdown row per evaluation set, with 95 % intervals and the sample sizes."""
    lines = [
        "| set | accuracy [95 % CI] | neg. precision | neg. recall [95 % CI] | ROC AUC [95 % CI] "
        "| n | negatives |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, m in metrics.items():
        ci = metric_intervals(m)
        negatives = m.get("negatives", float("nan"))
        recall = format_interval(m["recall_neg"], ci.get("recall_neg"))
        lines.append(
            f"| {split} | {format_interval(m['accuracy'], ci.get('accuracy'))} "
            f"| {m['precision_neg']:.3f} | {recall} "
            f"| {format_interval(m['roc_auc'], ci.get('roc_auc'))} | {int(m['rows'])} "
            f"| {'?' if math.isnan(negatives) else int(negatives)} |"
        )
    return "\n".join(lines)


def sources_table(data_report: dict[str, Any]) -> str:
    """One markdown row per training source: weight, neutral policy, loaded and kept rows."""
    lines = [
        "| source | weight | neutral | loaded | kept | negative | positive | train/val/test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, item in data_report.get("per_source", {}).items():
        splits = item.get("splits", {})
        neutral = NEUTRAL_SHOWN[item.get("neutral", "drop")]
        lines.append(
            f"| {name} | {item.get('weight', 1.0):g} | {neutral} "
            f"| {item.get('loaded', 0):,} | {item.get('rows', 0):,} | {item.get('negative', 0):,} "
            f"| {item.get('positive', 0):,} "
            f"| {'/'.join(f'{splits.get(s, 0):,}' for s in ('train', 'val', 'test'))} |"
        )
    return "\n".join(lines)


NEUTRAL_SHOWN = {"drop": "dropped", "positive": "not negative"}
FROZEN_NOTES = {
    "manual_test": "Sentiment140 hand-labelled test (Go et al. 2009), negative vs positive",
    "semeval_test": "SemEval held-out file {holdout}, negative vs positive, never trained on",
    "brand": "brand tweets (CrowdFlower Apple, 2014), negative vs positive, never trained on",
    "brand_rest": "the same brand tweets, negative vs the rest (neutral counts as not negative)",
}


def frozen_notes(data_report: dict[str, Any]) -> str:
    holdout = data_report.get("semeval_holdout") or "(none)"
    return "\n".join(
        f"- `{name}`: {FROZEN_NOTES.get(name, name).format(holdout=holdout)}; "
        f"{item.get('rows', 0):,} tweets, {item.get('negative', 0):,} negative"
        for name, item in data_report.get("frozen_sets", {}).items()
    )


def format_params(params: dict[str, object]) -> str:
    """{"C": 1.0, "cv_roc_auc": 0.88607} → "C = 1, cv_roc_auc = 0.8861"."""
    return ", ".join(
        f"{key} = {value:.4g}" if isinstance(value, float) else f"{key} = {value}"
        for key, value in params.items()
    )


def render_model_card(
    *,
    version: str,
    kind: str,
    params: dict[str, object],
    threshold: float,
    metrics: dict[str, dict[str, float]],
    data_report: dict[str, Any],
    command: str | None = None,
) -> str:
    """A markdown model card: what the model is for, its data, how well it does, its limits."""
    vader = " + VADER scores" if "vader" in kind else ""
    labels = data_report.get("labels", {})
    rebuild = f"\nRebuilt by: `{command}`\n" if command else ""
    return f"""# Model card: tweet-sentiment {version}

## Intended use
Flag NEGATIVE tweets about an airline ("bad buzz") as they appear, for a human to look at.
Not for decisions about individual people; not a measure of customer satisfaction.

## Model
`{kind}`: TF-IDF word 1–2-grams of the normalised tweet{vader},
logistic regression, {format_params(params)}.
Decision threshold on P(negative): **{threshold:.3f}**, tuned on the validation split for negative
recall under a precision floor.
Served as ONNX with onnxruntime; scikit-learn and ONNX agree to 1e-5 on the whole test split.
{rebuild}
## Data
Training corpus: every source below, English only, de-duplicated across sources (a tweet
labelled both ways anywhere is dropped), every frozen evaluation tweet removed, class-balanced;
{labels.get("rows", 0):,} tweets ({labels.get("negative", 0):,} negative), split 80/10/10.
Sentiment140 (Go, Bhayani & Huang, 2009) is labelled by emoticons; SemEval 2013–2016
(Rosenthal, Farra & Nakov, 2017) by people.

{sources_table(data_report)}

Frozen evaluation sets (never trained on):
{frozen_notes(data_report)}

## Metrics (NEGATIVE is the positive class; 95 % intervals: Wilson, Hanley–McNeil for AUC)
{metrics_table(metrics)}

## Limits
- Sentiment140 labels come from emoticons, not from people: sarcasm and mixed tweets are noisy.
- Tweets of 2009–2016; airline vocabulary of today is under-represented (see the brand set, a
  stand-in for one company's traffic); the feedback loop retrains on flagged predictions.
- English model: other languages are translated first when translation is available.
"""
