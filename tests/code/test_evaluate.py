"""Metrics against hand-computed confusion matrices (NEGATIVE = 1 is the positive class), plots
and the model card."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from training.evaluate import (
    METRIC_NAMES,
    auc_interval,
    compute_metrics,
    metric_intervals,
    prefix_metrics,
    render_model_card,
    save_plots,
    wilson_interval,
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
        "data_report": REPORT,
        **overrides,
    }
    return render_model_card(**arguments)


REPORT = {
    "labels": {"rows": 100, "negative": 50},
    "per_source": {
        "sentiment140": {"weight": 1.0, "loaded": 90, "rows": 80, "negative": 40, "positive": 40,
                         "splits": {"train": 64, "val": 8, "test": 8}},
        "semeval": {"weight": 2.0, "neutral": "positive", "loaded": 30, "rows": 20, "negative": 10,
                    "positive": 10, "splits": {"train": 16, "val": 2, "test": 2}},
    },
    "frozen_sets": {"semeval_test": {"rows": 6, "negative": 2},
                    "brand": {"rows": 7, "negative": 3}},
    "semeval_holdout": "twitter-2015test-A.txt",
}  # fmt: skip


def test_model_card_carries_version_threshold_and_one_row_per_set_with_intervals() -> None:
    text = card(command="bad-buzz run --data-dir x")
    assert text.startswith("# Model card: tweet-sentiment 20260101T000000Z-abcdef12")
    assert "**0.432**" in text
    assert "logistic regression, C = 2." in text
    assert "`bad-buzz run --data-dir x`" in text
    test = compute_metrics(BALANCED_LABELS, BALANCED_SCORES, 0.5)
    low, high = metric_intervals(test)["accuracy"]
    assert f"| test | 0.750 [{low:.3f}, {high:.3f}] | 0.750 | 0.750 [" in text
    assert "| 0.688 [" in text
    assert "] | 8 | 4 |" in text
    assert "| manual_test | 0.833 [" in text
    assert "] | 6 | 2 |" in text


def test_model_card_lists_sources_and_frozen_sets() -> None:
    text = card()
    assert "| sentiment140 | 1 | dropped | 90 | 80 | 40 | 40 | 64/8/8 |" in text
    assert "| semeval | 2 | not negative | 30 | 20 | 10 | 10 | 16/2/2 |" in text
    assert "SemEval held-out file twitter-2015test-A.txt" in text
    assert "- `brand`: brand tweets" in text
    assert "7 tweets, 3 negative" in text


@pytest.mark.parametrize(
    ("kind", "mentions_vader"), [("tfidf_lr_vader", True), ("tfidf_lr", False)]
)
def test_model_card_mentions_vader_only_for_models_that_use_it(
    kind: str, mentions_vader: bool
) -> None:
    assert ("+ VADER scores" in card(kind)) is mentions_vader


# --- intervals -------------------------------------------------------------------------------


def test_wilson_interval_against_known_values() -> None:
    # 8 of 10: Wilson 95 % interval is [0.490, 0.943] (Newcombe 1998, table I, method 3).
    low, high = wilson_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_auc_interval_hanley_mcneil() -> None:
    # Hanley & McNeil (1982), by hand: AUC 0.8, 50 and 50: Q1 = 0.8/1.2 = 0.6667,
    # Q2 = 1.28/1.8 = 0.7111, var = (0.16 + 49 * 0.02667 + 49 * 0.07111) / 2500 = 0.0019804,
    # SE = 0.04450 → ±0.0872.
    low, high = auc_interval(0.8, 50, 50)
    assert high - 0.8 == pytest.approx(1.96 * 0.04450, abs=2e-4)
    assert 0.8 - low == pytest.approx(high - 0.8)
    narrow = auc_interval(0.8, 500, 500)
    assert narrow[1] - narrow[0] < high - low
    assert all(math.isnan(v) for v in auc_interval(float("nan"), 5, 5))


def test_metric_intervals_use_the_right_sample_sizes() -> None:
    metrics = compute_metrics(SKEWED_LABELS, SKEWED_SCORES, 0.35)
    assert metrics["negatives"] == 2
    intervals = metric_intervals(metrics)
    assert intervals["accuracy"] == wilson_interval(5, 6)
    assert intervals["recall_neg"] == wilson_interval(2, 2)
    assert intervals["roc_auc"] == auc_interval(metrics["roc_auc"], 2, 4)
