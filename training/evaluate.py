"""Metrics, plots and the model card: NEGATIVE is the positive class of every metric here."""

from __future__ import annotations

from pathlib import Path

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
    }


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


def render_model_card(
    *,
    version: str,
    kind: str,
    params: dict[str, object],
    threshold: float,
    metrics: dict[str, dict[str, float]],
    data_report: dict[str, object],
) -> str:
    """A markdown model card: what the model is for, its data, how well it does, its limits."""
    rows = "\n".join(
        f"| {split} | {m['accuracy']:.3f} | {m['precision_neg']:.3f} | {m['recall_neg']:.3f} | "
        f"{m['f1_neg']:.3f} | {m['roc_auc']:.3f} | {int(m['rows'])} |"
        for split, m in metrics.items()
    )
    counts = data_report.get("final_counts", data_report.get("splits", {}))
    vader = " + VADER scores" if "vader" in kind else ""
    return f"""# Model card: tweet-sentiment {version}

## Intended use
Flag NEGATIVE tweets about an airline ("bad buzz") as they appear, for a human to look at.
Not for decisions about individual people; not a measure of customer satisfaction.

## Model
`{kind}`: TF-IDF word 1–2-grams of the normalised tweet{vader},
logistic regression, parameters {params}. Decision threshold on P(negative): **{threshold:.3f}**,
tuned on the validation split for negative recall under a precision floor.
Served as ONNX with onnxruntime; scikit-learn and ONNX agree to 1e-5 on the whole test split.

## Data
Sentiment140 (Go, Bhayani & Huang, 2009): tweets from 2009 labelled by emoticons (distant
supervision), English only, de-duplicated across sources, class-balanced. Counts: {counts}.

## Metrics (NEGATIVE is the positive class)
| split | accuracy | precision | recall | F1 | ROC AUC | rows |
|---|---|---|---|---|---|---|
{rows}

## Limits
- Labels come from emoticons, not from people: sarcasm and mixed tweets are noisy.
- 2009 Twitter language; airline vocabulary of 2026 is under-represented (see the airline slice);
  the feedback loop retrains on flagged predictions to close that gap.
- English model: other languages are translated first when translation is available.
"""
