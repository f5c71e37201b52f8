"""Metrics against hand-computed confusion matrices (NEGATIVE = 1 is the positive class), plots
and the model card."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from training.evaluate import (
    METRIC_NAMES,
    compute_metrics,
    prefix_metrics,
    render_model_card,
    save_plots,
)

pytestmark = pytest.mark.code

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Four negatives (1) and four positives (0); at 0.5: TP=3 (0.9, 0.7, 0.6), FN=1 (0.2),
# FP=1 (0.8), TN=3. ROC AUC: of the 16 (negative, positive) pairs, 4+3+3+1 = 11 are ordered right.
BALANCED_LABELS = np.array([1, 1, 1, 1, 0, 0, 0, 0])
BALANCED_SCORES = np.array([0.9, 0.7, 0.6, 0.2, 0.8, 0.4, 0.3, 0.1])

# Two negatives, four positives: at 0.35 the predictions are [1, 1, 1, 0, 0, 0], so TP=2, FP=1,
# FN=0, TN=3. Were the positive class 0 by mistake, precision would read 3/3 and recall 3/4.
SKEWED_LABELS = np.array([1, 1, 0, 0, 0, 0])
SKEWED_SCORES = np.array([0.9, 0.4, 0.6, 0.2, 0.1, 0.3])


def test_metrics_on_a_balanced_hand_computed_confusion_matrix() -> None:
    metrics = compute_metrics(BALANCED_LABELS, BALANCED_SCORES, 0.5)
    assert metrics["accuracy"] == pytest.approx(6 / 8)
    assert metrics["precision_neg"] == pytest.approx(3 / 4)
    assert metrics["recall_neg"] == pytest.approx(3 / 4)
    assert metrics["f1_neg"] == pytest.approx(3 / 4)
    assert metrics["roc_auc"] == pytest.approx(11 / 16)
    assert metrics["rows"] == 8


def test_negative_is_the_positive_class_of_precision_recall_and_ap() -> None:
    metrics = compute_metrics(SKEWED_LABELS, SKEWED_SCORES, 0.35)
    assert metrics["accuracy"] == pytest.approx(5 / 6)
    assert metrics["precision_neg"] == pytest.approx(2 / 3)
    assert metrics["recall_neg"] == pytest.approx(1.0)
    assert metrics["f1_neg"] == pytest.approx(0.8)
    # Ranked by score: 0.9 (neg), 0.6, 0.4 (neg), ...: AP = 1/2 * 1 + 1/2 * 2/3.
    assert metrics["pr_auc"] == pytest.approx(1 / 2 + 1 / 3)
    # Pairs ordered right: 0.9 beats all four positives, 0.4 beats 0.2, 0.1 and 0.3.
    assert metrics["roc_auc"] == pytest.approx(7 / 8)


def test_a_score_equal_to_the_threshold_counts_as_negative() -> None:
    metrics = compute_metrics(np.array([1, 0]), np.array([0.5, 0.49]), 0.5)
    assert metrics["accuracy"] == 1.0
    assert metrics["recall_neg"] == 1.0


def test_metrics_cover_every_published_name_and_are_floats() -> None:
    metrics = compute_metrics(BALANCED_LABELS, BALANCED_SCORES, 0.5)
    assert set(METRIC_NAMES) <= set(metrics)
    assert all(isinstance(value, float) for value in metrics.values())


def test_one_class_labels_give_nan_aucs_and_no_crash() -> None:
    metrics = compute_metrics(np.array([0, 0, 0]), np.array([0.1, 0.7, 0.2]), 0.5)
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["pr_auc"])
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["precision_neg"] == 0.0  # zero_division=0, not a warning or a crash


def test_prefix_metrics() -> None:
    assert prefix_metrics({"accuracy": 0.5, "rows": 3.0}, "test") == {
        "test_accuracy": 0.5,
        "test_rows": 3.0,
    }


def test_save_plots_writes_four_pngs(tmp_path: Path) -> None:
    out = tmp_path / "plots" / "nested"
    paths = save_plots(BALANCED_LABELS, BALANCED_SCORES, 0.5, out, "test")
    assert [path.name for path in paths] == [
        "test_confusion.png",
        "test_roc.png",
        "test_precision_recall.png",
        "test_calibration.png",
    ]
    for path in paths:
        assert path.parent == out
        assert path.read_bytes().startswith(PNG_MAGIC)


def card(kind: str = "tfidf_lr_vader", **overrides: object) -> str:
    metrics = {
        "test": compute_metrics(BALANCED_LABELS, BALANCED_SCORES, 0.5),
        "manual_test": compute_metrics(SKEWED_LABELS, SKEWED_SCORES, 0.35),
    }
    arguments = {
        "version": "20260101T000000Z-abcdef12",
        "kind": kind,
        "params": {"C": 2.0},
        "threshold": 0.4321,
        "metrics": metrics,
        "data_report": {"splits": {"train": {"rows": 80}, "test": {"rows": 10}}},
        **overrides,
    }
    return render_model_card(**arguments)


def test_model_card_carries_version_threshold_and_one_row_per_split() -> None:
    text = card()
    assert text.startswith("# Model card: tweet-sentiment 20260101T000000Z-abcdef12")
    assert "**0.432**" in text
    assert "{'C': 2.0}" in text
    assert "| test | 0.750 | 0.750 | 0.750 | 0.750 | 0.688 | 8 |" in text
    assert "| manual_test | 0.833 | 0.667 | 1.000 | 0.800 | 0.875 | 6 |" in text
    assert "'train': {'rows': 80}" in text


@pytest.mark.parametrize(
    ("kind", "mentions_vader"), [("tfidf_lr_vader", True), ("tfidf_lr", False)]
)
def test_model_card_mentions_vader_only_for_models_that_use_it(
    kind: str, mentions_vader: bool
) -> None:
    assert ("+ VADER scores" in card(kind)) is mentions_vader


def test_model_card_prefers_final_counts_when_the_report_has_them() -> None:
    text = card(data_report={"final_counts": {"rows": 123}, "splits": {"ignored": 1}})
    assert "Counts: {'rows': 123}" in text
