"""Candidate models, hyper-parameter search on training data only, and threshold tuning.

Every candidate takes the same feature frame (normalised text + four VADER scores) so that the
chosen one can be exported with the same ONNX input contract whatever it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from shared.bundle import INPUT_TEXT, INPUT_VADER
from shared.features import NGRAM_RANGE, TOKEN_PATTERN

ModelKind = Literal["vader", "tfidf_lr", "tfidf_lr_vader"]
MODEL_KINDS: tuple[ModelKind, ...] = ("vader", "tfidf_lr", "tfidf_lr_vader")
EXPORTABLE_KINDS: tuple[ModelKind, ...] = ("tfidf_lr", "tfidf_lr_vader")


@dataclass(frozen=True)
class TrainConfig:
    """What the search explores; the defaults are what the shipped model was trained with."""

    c_grid: tuple[float, ...] = (1.0, 2.0, 4.0)
    # Sentiment140 alone: 5, not 2 (same accuracy, a third of the vocabulary, onnxruntime's dense
    # TF-IDF op 3x faster; 10 costs accuracy, docs/performance.md). With SemEval added, 5 gave
    # 55-58k terms; 7 keeps the vocabulary at ~40k (model size and latency no worse than before)
    # for at most 0.002 ROC AUC on the frozen sets (docs/ablation.md).
    min_df: int = 7
    cv_folds: int = 3
    precision_floor: float = 0.78
    c_rule: Literal["best", "one_se"] = "one_se"
    airline_weight: float = 1.0
    seed: int = 42
    n_jobs: int = 2
    extra: dict[str, object] = field(default_factory=dict)


def build_pipeline(kind: ModelKind, c: float = 1.0, min_df: int = 2) -> Pipeline:
    """TF-IDF (+ VADER scores) into logistic regression, with options that convert to ONNX exactly.

    No `sublinear_tf` (converted as log(1+tf)), no `max_features`/`max_df` (they prune unigrams
    whose bigrams survive, which the converter drops), no lowercasing (the normaliser does it,
    and the converter's lowercasing op needs a locale a Function App image may not have).
    """
    vectoriser = TfidfVectorizer(
        lowercase=False,
        token_pattern=TOKEN_PATTERN,
        ngram_range=NGRAM_RANGE,
        min_df=min_df,
        dtype=np.float32,
    )
    transformers = [("tfidf", vectoriser, INPUT_TEXT)]
    if kind == "tfidf_lr_vader":
        transformers.append(("vader", "passthrough", list(INPUT_VADER)))
    features = ColumnTransformer(transformers, sparse_threshold=1.0)
    classifier = LogisticRegression(C=c, max_iter=2000, solver="liblinear")
    return Pipeline([("features", features), ("clf", classifier)])


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold, vectorised once for every candidate and every C: the matrix
    has the TF-IDF columns first and the four VADER columns last (the ColumnTransformer order)."""

    x_train: sparse.csr_matrix
    y_train: np.ndarray
    weight: np.ndarray | None
    x_val: sparse.csr_matrix
    y_val: np.ndarray


def make_folds(
    frame: pd.DataFrame,
    labels: np.ndarray,
    config: TrainConfig,
    sample_weight: np.ndarray | None = None,
) -> list[Fold]:
    """Stratified, seeded folds of the training data, each vectorised once. GridSearchCV refitted
    the same TF-IDF for every C and every candidate: 18 vectorisations where 3 do."""
    folds = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed)
    result = []
    for train_rows, val_rows in folds.split(frame, labels):
        features = build_pipeline("tfidf_lr_vader", min_df=config.min_df).named_steps["features"]
        x_train = sparse.csr_matrix(features.fit_transform(frame.iloc[train_rows]))
        x_val = sparse.csr_matrix(features.transform(frame.iloc[val_rows]))
        weight = None if sample_weight is None else np.asarray(sample_weight)[train_rows]
        result.append(Fold(x_train, labels[train_rows], weight, x_val, labels[val_rows]))
    return result


def kind_columns(kind: ModelKind, matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    """The fold matrix as `kind` sees it: without the VADER columns for tfidf_lr."""
    return matrix if kind == "tfidf_lr_vader" else matrix[:, : -len(INPUT_VADER)]


def score_fold(kind: ModelKind, fold: Fold, c: float) -> float:
    """ROC AUC on the fold's held-out part of a classifier fitted on the rest (unweighted score,
    as GridSearchCV's "roc_auc" scorer)."""
    classifier = build_pipeline(kind, c=c).named_steps["clf"]
    classifier.fit(kind_columns(kind, fold.x_train), fold.y_train, sample_weight=fold.weight)
    scores = classifier.predict_proba(kind_columns(kind, fold.x_val))[:, 1]
    return float(roc_auc_score(fold.y_val, scores))


def fit_pipeline(
    kind: ModelKind,
    frame: pd.DataFrame,
    labels: np.ndarray,
    config: TrainConfig,
    sample_weight: np.ndarray | None = None,
    folds: list[Fold] | None = None,
) -> tuple[Pipeline, dict[str, object]]:
    """Pick C by stratified cross-validation (mean ROC AUC, first best on a tie, as GridSearchCV)
    on training data only, then refit the whole pipeline on all of it. `folds` (from
    `make_folds` with the same frame, labels and weight) lets candidates share vectorisation.
    Fold fits run on `n_jobs` threads: liblinear releases the GIL."""
    from joblib import Parallel, delayed

    folds = folds if folds is not None else make_folds(frame, labels, config, sample_weight)
    tasks = [(c, fold) for c in config.c_grid for fold in folds]
    results = Parallel(n_jobs=config.n_jobs, prefer="threads")(
        delayed(score_fold)(kind, fold, c) for c, fold in tasks
    )
    scores = np.asarray(results, dtype=np.float64).reshape(len(config.c_grid), len(folds))
    best = choose_c(config.c_grid, scores, config.c_rule)
    pipeline = build_pipeline(kind, c=config.c_grid[best], min_df=config.min_df)
    pipeline.fit(frame, labels, clf__sample_weight=sample_weight)
    return pipeline, {"C": float(config.c_grid[best]), "cv_roc_auc": float(scores[best].mean())}


def choose_c(grid: tuple[float, ...], scores: np.ndarray, rule: str = "one_se") -> int:
    """Index of the chosen C given fold scores [len(grid), folds]. "best": the highest mean
    (first on a tie, as GridSearchCV). "one_se": the smallest C (the most regularised model) whose
    mean is within one standard error of the best mean (Hastie, Tibshirani & Friedman, ESL 7.10):
    the training corpus is mostly emoticon-labelled, and the simpler model carries better to
    tweets labelled by people (docs/ablation.md)."""
    means = scores.mean(axis=1)
    best = int(np.argmax(means))
    if rule == "best" or scores.shape[1] < 2:
        return best
    standard_error = scores[best].std(ddof=1) / np.sqrt(scores.shape[1])
    within = [i for i in range(len(grid)) if means[i] >= means[best] - standard_error]
    return min(within, key=lambda i: grid[i])


def vader_negative_probability(frame: pd.DataFrame) -> np.ndarray:
    """The VADER-only baseline: compound in [-1, 1] mapped to a P(negative) in [0, 1]."""
    return (1.0 - frame["compound"].to_numpy(dtype=np.float64)) / 2.0


def tune_threshold(labels: np.ndarray, probabilities: np.ndarray, precision_floor: float) -> float:
    """The threshold with the best NEGATIVE recall whose precision stays at or above the floor.

    Missing bad buzz is what the airline fears, so recall leads; the floor stops the trivial
    answer "everything is negative". Without any threshold meeting the floor, fall back to 0.5.
    """
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    ok = precision[:-1] >= precision_floor
    if not ok.any():
        return 0.5
    candidates = np.flatnonzero(ok)
    best_recall = recall[:-1][candidates].max()
    # Thresholds ascend: among those with the best recall, the highest has the fewest false alarms.
    best = candidates[recall[:-1][candidates] == best_recall].max()
    return float(thresholds[best])


def make_sample_weight(
    is_airline: np.ndarray, airline_weight: float, source_weight: np.ndarray | None = None
) -> np.ndarray | None:
    """Per-tweet weight = its source's weight x the airline weight (airline tweets only).

    None when every weight is 1: the estimator keeps its unweighted fast path.
    """
    weight = np.where(is_airline, airline_weight, 1.0)
    if source_weight is not None:
        weight = weight * np.asarray(source_weight, dtype=np.float64)
    if np.all(weight == 1.0):
        return None
    return weight
