"""The challenger's fit on base + domain feedback: vocabulary, feedback weight and threshold.

Nothing here is a fixed constant. The feedback weight and the decision threshold are chosen by
cross-validation on the domain feedback (folds by text hash): the pair with the best
out-of-fold accuracy on the feedback, among the thresholds that keep the base validation
accuracy AND negative recall within `base_tolerance` of what the champion's own rule (best
negative recall under the precision floor) gives that model: the domain may move the threshold,
but not at the cost of the negatives the base task catches (the frozen-set gate checks both).
The vocabulary is the base vocabulary (min_df over the base corpus) united with the feedback's
own n-grams seen in at least `feedback_min_df` feedback tweets: domain words (products, shops,
tickers) that the base corpus is too rare in to keep under min_df become features.

The cross-validation fits on a seeded sample of the base training rows, each weighted
(base rows / sample rows) so that the feedback's weight relative to the base is the final one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer

from shared.bundle import INPUT_TEXT, INPUT_VADER
from shared.features import NGRAM_RANGE, TOKEN_PATTERN
from training import train

INPUTS = [INPUT_TEXT, *INPUT_VADER]


@dataclass(frozen=True)
class DomainFitConfig:
    """What the cross-validation explores; `weights` are sample weights of a feedback tweet."""

    weights: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)
    folds: int = 3
    # Off by default: measured on the brand loop (docs/performance.md), feedback-only n-grams
    # cost 0.07 of domain ROC AUC for the same accuracy gain: they fit the champion's errors.
    feedback_vocabulary: bool = False
    feedback_min_df: int = 2
    cv_base_rows: int = 30_000
    base_tolerance: float = 0.01
    seed: int = 0


@dataclass(frozen=True)
class DomainChoice:
    weight: float
    threshold: float
    cv_feedback_accuracy: float
    cv_base_accuracy: float
    vocabulary_size: int
    feedback_terms: int
    table: list[dict[str, float]]  # every (weight, best threshold) tried, for the report
    cv_threshold: float | None = None  # before the final model's check on the base val split


def union_vocabulary(
    base_texts: pd.Series, feedback_texts: pd.Series, min_df: int, config: DomainFitConfig
) -> tuple[dict[str, int], int]:
    """(term → column, feedback terms added). Both parts keep a bigram's unigrams (a unigram's
    document frequency is at least its bigram's), which the ONNX converter needs."""
    base = set(vocabulary_of(base_texts, min_df))
    added: set[str] = set()
    if config.feedback_vocabulary and len(feedback_texts):
        added = set(vocabulary_of(feedback_texts, config.feedback_min_df)) - base
    terms = sorted(base | added)
    return {term: index for index, term in enumerate(terms)}, len(added)


def vocabulary_of(texts: pd.Series, min_df: int) -> list[str]:
    counter = CountVectorizer(
        lowercase=False, token_pattern=TOKEN_PATTERN, ngram_range=NGRAM_RANGE, min_df=min_df
    )
    try:
        counter.fit(texts.tolist())
    except ValueError:  # nothing reaches min_df (a handful of feedback tweets)
        return []
    return list(counter.vocabulary_)


def fold_of(keys: pd.Series, folds: int) -> np.ndarray:
    """Fold by a hash of the text key, independent of the hold-out hash."""
    digests = (hashlib.sha256(f"fold:{k}".encode()).hexdigest()[:8] for k in keys)
    return np.fromiter((int(d, 16) % folds for d in digests), dtype=int, count=len(keys))


def cv_probabilities(
    matrices: dict[str, Any], feedback: pd.DataFrame, c: float, config: DomainFitConfig
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """weight → (out-of-fold P(negative) of every feedback row, mean P(negative) on base val)."""
    base_x, base_y, val_x = matrices["base_x"], matrices["base_y"], matrices["val_x"]
    rng = np.random.default_rng(config.seed)
    sample = rng.choice(base_x.shape[0], min(config.cv_base_rows, base_x.shape[0]), replace=False)
    scale = base_x.shape[0] / len(sample)
    folds = fold_of(feedback["text_key"], config.folds)
    fb_x, fb_y = matrices["feedback_x"], feedback["label"].to_numpy()
    results = {}
    for weight in config.weights:
        oof, val = np.zeros(len(feedback)), np.zeros(val_x.shape[0])
        for fold in range(config.folds):
            fit_rows = folds != fold
            x = sparse.vstack([base_x[sample], fb_x[fit_rows]]).tocsr()
            y = np.concatenate([base_y[sample], fb_y[fit_rows]])
            w = np.concatenate([np.full(len(sample), scale), np.full(fit_rows.sum(), weight)])
            # The production classifier's settings, as train.score_fold takes them.
            model = train.build_pipeline("tfidf_lr_vader", c=c).named_steps["clf"].fit(x, y, w)
            if (~fit_rows).any():
                oof[~fit_rows] = model.predict_proba(fb_x[~fit_rows])[:, 1]
            val += model.predict_proba(val_x)[:, 1] / config.folds
        results[weight] = (oof, val)
    return results


def rates(y: np.ndarray, p: np.ndarray, t: float) -> tuple[float, float]:
    """(accuracy, negative recall) at threshold `t`; label 1 = negative."""
    predicted = p >= t
    return float((predicted == y).mean()), float(predicted[y == 1].mean())


def best_threshold(
    fb_y: np.ndarray, fb_p: np.ndarray, val_y: np.ndarray, val_p: np.ndarray, floors: tuple
) -> tuple[float, float, float]:
    """(threshold, feedback accuracy, base val accuracy): the best feedback accuracy among the
    thresholds whose base val accuracy and negative recall stay at or above `floors`; ties go to
    the threshold nearest the base rule's. (nan, -1, -1) when none keeps the floors."""
    best, key = (float("nan"), -1.0, -1.0), None
    for t in np.unique(np.round(np.concatenate([fb_p, np.linspace(0.05, 0.95, 91)]), 4)):
        val_acc, val_recall = rates(val_y, val_p, t)
        if val_acc < floors[0] or val_recall < floors[1]:
            continue
        fb_acc = float(((fb_p >= t) == fb_y).mean())
        candidate = (fb_acc, -abs(t - floors[2]))
        if key is None or candidate > key:
            best, key = (float(t), fb_acc, val_acc), candidate
    return best


def base_floors(
    val_y: np.ndarray, val_p: np.ndarray, precision_floor: float, tolerance: float
) -> tuple[float, float, float]:
    """(accuracy floor, negative-recall floor, base threshold): the base rule's threshold (best
    negative recall under the precision floor, as the champion was tuned) on the base val split,
    and its accuracy and recall minus `tolerance` (half the gate's margin by default)."""
    threshold = train.tune_threshold(val_y, val_p, precision_floor)
    accuracy, recall = rates(val_y, val_p, threshold)
    return accuracy - tolerance, recall - tolerance, threshold


def choose_weight_and_threshold(
    cv: dict[float, tuple[np.ndarray, np.ndarray]],
    fb_y: np.ndarray,
    val_y: np.ndarray,
    precision_floor: float,
    config: DomainFitConfig,
) -> tuple[float, float, float, float, list[dict[str, float]]]:
    """(weight, threshold, cv feedback accuracy, cv base accuracy, table); ties: smaller weight."""
    table, chosen = [], None
    for weight, (fb_p, val_p) in sorted(cv.items()):
        floors = base_floors(val_y, val_p, precision_floor, config.base_tolerance)
        t, fb_acc, val_acc = best_threshold(fb_y, fb_p, val_y, val_p, floors)
        table.append({"weight": weight, "threshold": t, "feedback_acc": fb_acc, "val_acc": val_acc})
        if fb_acc >= 0 and (chosen is None or fb_acc > chosen[2]):
            chosen = (weight, t, fb_acc, val_acc)
    if chosen is None:  # pragma: no cover - the base threshold always meets its own floors
        raise ValueError("no feedback weight keeps the base validation accuracy")
    return (*chosen, table)


def feature_matrices(
    pipeline: Any, base: pd.DataFrame, feedback: pd.DataFrame, val: pd.DataFrame
) -> dict[str, Any]:
    """The pipeline's feature step fitted on base + feedback, then every part transformed."""
    features = pipeline.named_steps["features"]
    features.fit(pd.concat([base[INPUTS], feedback[INPUTS]], ignore_index=True))
    return {
        "base_x": features.transform(base[INPUTS]).tocsr(),
        "base_y": base["label"].to_numpy(),
        "feedback_x": features.transform(feedback[INPUTS]).tocsr(),
        "val_x": features.transform(val[INPUTS]).tocsr(),
    }


def fit_domain_challenger(
    base: pd.DataFrame,
    val: pd.DataFrame,
    feedback: pd.DataFrame,
    recipe: dict[str, Any],
    config: DomainFitConfig,
    champion_val: tuple[float, float] | None = None,
) -> tuple[Any, DomainChoice]:
    """The champion's recipe (`kind`, `C`, `min_df`) on base + feedback, with the vocabulary,
    weight and threshold chosen as the module says. `feedback` holds INPUTS, label, text_key;
    `champion_val` the champion's (accuracy, negative recall) on the base val split."""
    vocabulary, added = union_vocabulary(
        base[INPUT_TEXT], feedback[INPUT_TEXT], recipe["min_df"], config
    )
    pipeline = train.build_pipeline(recipe["kind"], c=recipe["C"], min_df=1)
    pipeline.set_params(features__tfidf__vocabulary=vocabulary)
    matrices = feature_matrices(pipeline, base, feedback, val)
    cv = cv_probabilities(matrices, feedback, recipe["C"], config)
    val_y = val["label"].to_numpy()
    weight, threshold, fb_acc, val_acc, table = choose_weight_and_threshold(
        cv, feedback["label"].to_numpy(), val_y, recipe["precision_floor"], config
    )
    x = sparse.vstack([matrices["base_x"], matrices["feedback_x"]]).tocsr()
    y = np.concatenate([matrices["base_y"], feedback["label"].to_numpy()])
    w = np.concatenate([np.ones(len(base)), np.full(len(feedback), weight)])
    pipeline.named_steps["clf"].fit(x, y, sample_weight=w)
    val_p = pipeline.named_steps["clf"].predict_proba(matrices["val_x"])[:, 1]
    floors = base_floors(val_y, val_p, recipe["precision_floor"], config.base_tolerance)
    if champion_val is not None:  # the final model is judged against the champion itself
        tolerance = config.base_tolerance
        floors = (champion_val[0] - tolerance, champion_val[1] - tolerance, floors[2])
    final = nearest_feasible(threshold, val_y, val_p, floors)
    choice = DomainChoice(
        weight, final, fb_acc, val_acc, len(vocabulary), added, table, cv_threshold=threshold
    )
    return pipeline, choice


def nearest_feasible(
    threshold: float, val_y: np.ndarray, val_p: np.ndarray, floors: tuple[float, float, float]
) -> float:
    """The final model (all the feedback, the whole base) leans further than the fold models:
    keep the cross-validated threshold if the final model still meets the floors on the base val
    split (the champion's accuracy and negative recall minus the tolerance), else the nearest
    threshold that does, else the one that misses them least."""
    grid = np.linspace(0.01, 0.99, 393)  # 0.0025 apart
    candidates = np.unique(np.round(np.concatenate([[threshold, floors[2]], grid]), 4))
    slack = {
        t: min(a - floors[0], r - floors[1])
        for t in candidates
        for a, r in [rates(val_y, val_p, t)]
    }
    feasible = [t for t, margin in slack.items() if margin >= 0]
    if not feasible:  # no threshold keeps both: the one that misses them least
        return float(max(slack, key=lambda t: (slack[t], -abs(t - threshold))))
    return float(min(feasible, key=lambda t: (abs(t - threshold), t)))
