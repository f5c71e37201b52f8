"""Candidate models, threshold tuning, and the training job's stages chained over a work folder
on a synthetic corpus (prepare → train → export), with MLflow in a temporary SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shared.bundle import INPUT_TEXT, INPUT_VADER, Manifest, verify_bundle
from shared.features import NGRAM_RANGE, TOKEN_PATTERN, build_feature_columns
from shared.inference import Predictor
from tests.utils.bundles import tiny_training_frame
from tests.utils.corpus import make_corpus, write_corpus_csv
from training import pipeline, tracking
from training.data import FrozenFiles
from training.evaluate import compute_metrics
from training.export import PARITY_TOLERANCE
from training.train import (
    TrainConfig,
    build_pipeline,
    choose_c,
    fit_pipeline,
    make_folds,
    make_sample_weight,
    tune_threshold,
    vader_negative_probability,
)

pytestmark = pytest.mark.code

FAST = TrainConfig(c_grid=(1.0,), cv_folds=2, n_jobs=1)


def tiny_features() -> tuple[pd.DataFrame, np.ndarray]:
    texts, labels = tiny_training_frame()
    return pd.DataFrame(build_feature_columns(texts)), labels


# --- build_pipeline --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tfidf_lr", "tfidf_lr_vader"])
def test_vectoriser_options_are_the_ones_that_convert_exactly(kind: str) -> None:
    model = build_pipeline(kind, c=3.0, min_df=5)
    vectoriser = model.named_steps["features"].transformers[0][1]
    assert vectoriser.sublinear_tf is False
    assert vectoriser.max_features is None
    assert vectoriser.max_df == 1.0
    assert vectoriser.lowercase is False
    assert vectoriser.token_pattern == TOKEN_PATTERN
    assert vectoriser.ngram_range == NGRAM_RANGE
    assert vectoriser.min_df == 5
    assert vectoriser.dtype == np.float32
    assert model.named_steps["clf"].C == 3.0


def test_only_the_vader_kind_passes_the_scores_through() -> None:
    def columns(kind: str) -> list[Any]:
        return [t[2] for t in build_pipeline(kind).named_steps["features"].transformers]

    assert columns("tfidf_lr") == [INPUT_TEXT]
    assert columns("tfidf_lr_vader") == [INPUT_TEXT, list(INPUT_VADER)]


def test_fit_pipeline_searches_c_by_cross_validation() -> None:
    frame, labels = tiny_features()
    config = TrainConfig(c_grid=(0.01, 10.0), cv_folds=2, min_df=1, n_jobs=1)
    model, params = fit_pipeline("tfidf_lr_vader", frame, labels, config)
    assert params["C"] in config.c_grid
    assert 0.0 <= params["cv_roc_auc"] <= 1.0
    assert model.get_params()["clf__C"] == params["C"]
    assert (model.predict(frame) == labels).mean() >= 0.9  # refitted on everything


@pytest.mark.parametrize("kind", ["tfidf_lr", "tfidf_lr_vader"])
def test_fit_pipeline_agrees_with_grid_search_and_shares_folds(kind: str) -> None:
    """The shared-fold search is GridSearchCV without the repeated vectorisation: same C, same
    mean CV ROC AUC; folds made once serve every candidate."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    frame, labels = tiny_features()
    config = TrainConfig(c_grid=(0.01, 0.1, 10.0), cv_folds=3, min_df=1, n_jobs=2, c_rule="best")
    search = GridSearchCV(
        build_pipeline(kind, min_df=1),
        {"clf__C": list(config.c_grid)},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=config.seed),
    ).fit(frame, labels)
    folds = make_folds(frame, labels, config)
    _, params = fit_pipeline(kind, frame, labels, config, folds=folds)
    _, alone = fit_pipeline(kind, frame, labels, config)
    assert params == alone
    assert params["C"] == search.best_params_["clf__C"]
    assert params["cv_roc_auc"] == pytest.approx(search.best_score_, abs=1e-9)


@pytest.mark.parametrize(
    ("scores", "rule", "expected"),
    [
        # means 0.880, 0.886, 0.887; SE of the best = 0.001/sqrt(3) = 0.00058: C=4 either way
        ([[0.879, 0.880, 0.881], [0.885, 0.886, 0.887], [0.886, 0.887, 0.888]], "best", 2),
        ([[0.879, 0.880, 0.881], [0.885, 0.886, 0.887], [0.886, 0.887, 0.888]], "one_se", 2),
        # C=2 (0.8865) is within one SE (0.0029) of C=4 (0.8870): the smaller C wins
        ([[0.870, 0.871, 0.872], [0.884, 0.886, 0.8895], [0.882, 0.887, 0.892]], "one_se", 1),
        ([[0.870, 0.871, 0.872], [0.884, 0.886, 0.8895], [0.882, 0.887, 0.892]], "best", 2),
        ([[0.9, 0.9], [0.9, 0.9], [0.8, 0.8]], "best", 0),  # tie: the first, as GridSearchCV
    ],
)
def test_choose_c(scores: list[list[float]], rule: str, expected: int) -> None:
    assert choose_c((1.0, 2.0, 4.0), np.array(scores), rule) == expected


def test_fit_pipeline_passes_the_sample_weight_to_the_classifier() -> None:
    frame, labels = tiny_features()
    config = TrainConfig(c_grid=(1.0,), cv_folds=2, min_df=1, n_jobs=1)
    plain, _ = fit_pipeline("tfidf_lr", frame, labels, config)
    weight = np.where(labels == 1, 20.0, 1.0)
    weighted, _ = fit_pipeline("tfidf_lr", frame, labels, config, weight)
    # Up-weighting the negatives moves every tweet towards NEGATIVE.
    assert (weighted.predict_proba(frame)[:, 1] > plain.predict_proba(frame)[:, 1]).all()


def test_make_sample_weight() -> None:
    is_airline = np.array([True, False, True])
    assert make_sample_weight(is_airline, 1.0) is None
    np.testing.assert_array_equal(make_sample_weight(is_airline, 3.0), [3.0, 1.0, 3.0])


def test_vader_baseline_maps_compound_to_a_probability() -> None:
    frame = pd.DataFrame({"compound": [-1.0, -0.5, 0.0, 0.5, 1.0]})
    np.testing.assert_allclose(vader_negative_probability(frame), [1.0, 0.75, 0.5, 0.25, 0.0])


# --- tune_threshold --------------------------------------------------------------------------

# Thresholds 0.1 .. 0.9 give (precision, recall): 0.1 (.5, 1), 0.3 (.6, 1), 0.4 (.75, 1),
# 0.6 (.67, .67), 0.8 (1, .67), 0.9 (1, .33).
LABELS = np.array([1, 1, 1, 0, 0, 0])
SCORES = np.array([0.9, 0.8, 0.4, 0.6, 0.3, 0.1])


@pytest.mark.parametrize(
    ("floor", "expected"),
    [
        (0.5, 0.4),  # recall 1 at 0.1, 0.3 and 0.4: the highest of the three, fewest false alarms
        (0.7, 0.4),  # 0.6 is below the floor, 0.4 is not
        (0.76, 0.8),  # best recall left is 2/3
        (1.0, 0.8),
    ],
)
def test_tune_threshold_takes_the_best_recall_under_the_precision_floor(
    floor: float, expected: float
) -> None:
    assert tune_threshold(LABELS, SCORES, floor) == pytest.approx(expected)


def test_tune_threshold_breaks_recall_ties_towards_precision() -> None:
    # Recall is 1 at 0.2 (precision .5), 0.7 (.67) and 0.8 (1): 0.2 and 0.7 only add false alarms.
    labels = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    threshold = tune_threshold(labels, scores, 0.5)
    assert threshold == pytest.approx(0.8)
    metrics = compute_metrics(labels, scores, threshold)
    assert (metrics["recall_neg"], metrics["precision_neg"]) == (1.0, 1.0)


def test_tune_threshold_falls_back_to_one_half_when_no_threshold_meets_the_floor() -> None:
    labels = np.array([1, 0, 1, 0])
    scores = np.array([0.2, 0.9, 0.1, 0.8])  # ranked exactly backwards: precision never > .5
    assert tune_threshold(labels, scores, 0.6) == 0.5


def test_tuned_threshold_keeps_its_promise_on_the_tuning_data() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(labels * 0.3 + rng.normal(0.35, 0.2, 400), 0, 1)
    thresholds = np.unique(scores)
    flagged = scores[None, :] >= thresholds[:, None]  # one row per candidate threshold
    true_positives = (flagged & (labels == 1)).sum(axis=1)
    precision = true_positives / flagged.sum(axis=1)
    recall = true_positives / (labels == 1).sum()
    chosen = np.flatnonzero(thresholds == tune_threshold(labels, scores, 0.8))[0]
    assert precision[chosen] >= 0.8
    assert recall[chosen] == recall[precision >= 0.8].max()
    assert precision[chosen] == precision[(precision >= 0.8) & (recall == recall[chosen])].max()


# --- the stages chained: prepare → train → export ---------------------------------------------


FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
FROZEN = FrozenFiles(
    semeval_test=FIXTURES / "semeval" / "twitter-2016test-A.txt",
    brand=FIXTURES / "domain" / "brand_sample.csv",
)
FROZEN_SETS = ("semeval_test", "brand", "brand_rest")


@dataclass(frozen=True)
class JobRun:
    config: pipeline.JobConfig
    report: dict[str, Any]
    summary: dict[str, Any]
    bundle: Path
    manifest: Manifest
    tracking_uri: str


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobRun]:
    """One small job run end to end; MLflow writes its DB and artifacts under a temporary folder."""
    import mlflow

    root = tmp_path_factory.mktemp("job")
    corpus = pd.concat(
        [make_corpus(450, seed=1), make_corpus(150, seed=1, domain="airline")], ignore_index=True
    )
    source = write_corpus_csv(root / "corpus.csv", corpus)
    previous_uri = mlflow.get_tracking_uri()
    tracking_uri = f"sqlite:///{root}/mlflow.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)  # a SQLite store puts artifacts in ./mlruns
        tracking.configure_tracking(tracking_uri)
        config = pipeline.JobConfig(work_dir=root / "work", train=FAST)
        report = pipeline.prepare_data([source], None, config, frozen=FROZEN)
        summary = pipeline.train_candidates(config, kinds=("vader", "tfidf_lr_vader"))
        bundle, manifest = pipeline.export_chosen(config, root / "bundles")
        try:
            yield JobRun(config, report, summary, bundle, manifest, tracking_uri)
        finally:
            mlflow.set_tracking_uri(previous_uri)


def test_prepare_writes_splits_and_report(job: JobRun) -> None:
    data_dir = job.config.work_dir / "data"
    assert sorted(p.name for p in data_dir.iterdir()) == [
        "brand.parquet",
        "brand_rest.parquet",
        "report.json",
        "semeval_test.parquet",
        "test.parquet",
        "train.parquet",
        "val.parquet",
    ]
    steps = {step["step"]: step["removed"] for step in job.report["steps"]}
    for step in ("drop_empty", "english_only", "drop_exact_duplicates", "balance_classes"):
        assert steps[step] > 0, step
    train = pd.read_parquet(data_dir / "train.parquet")
    assert {"text", "label", "airline"} <= set(train.columns)
    assert train["airline"].any()
    assert (
        json.loads((data_dir / "report.json").read_text())["fingerprint"]
        == job.report["fingerprint"]
    )


def test_train_scores_every_candidate_and_keeps_an_exportable_one(job: JobRun) -> None:
    candidates = job.summary["candidates"]
    assert list(candidates) == ["vader", "tfidf_lr_vader"]
    assert job.summary["chosen"] == "tfidf_lr_vader"
    assert candidates["vader"]["params"] == {"rule": "(1 - compound) / 2"}
    assert candidates["tfidf_lr_vader"]["params"]["C"] == 1.0
    for entry in candidates.values():
        assert {"val", "test", "test_airline", *FROZEN_SETS} <= set(entry["metrics"])
        assert entry["metrics"]["brand"]["rows"] == job.report["frozen_sets"]["brand"]["rows"]
        assert 0.0 <= entry["threshold"] <= 1.0
    assert candidates["tfidf_lr_vader"]["metrics"]["test"]["accuracy"] >= 0.8
    model_dir = job.config.work_dir / "model"
    assert {"pipeline.joblib", "chosen.json", "model_card.md"} <= {
        p.name for p in model_dir.iterdir()
    }
    assert len(list((job.config.work_dir / "plots").glob("test_*.png"))) == 4


def test_exported_bundle_loads_and_scores_like_its_manifest(job: JobRun) -> None:
    assert verify_bundle(job.bundle) == job.manifest
    predictor = Predictor(job.bundle)
    test = pd.read_parquet(job.config.work_dir / "data" / "test.parquet")
    scores = predictor.negative_probabilities(test["text"].tolist())
    metrics = compute_metrics(test["label"].to_numpy(), scores, predictor.manifest.threshold)
    assert metrics["accuracy"] == pytest.approx(job.manifest.metrics["test_accuracy"])
    assert predictor.predict(["i hate my flight, worst day ever :("])[0].label == "negative"


def test_manifest_records_metrics_parity_and_lineage(job: JobRun) -> None:
    manifest = job.manifest
    assert manifest.threshold == job.summary["candidates"]["tfidf_lr_vader"]["threshold"]
    assert {"test_accuracy", "val_accuracy", "test_airline_accuracy"} <= set(manifest.metrics)
    assert "test_rows" not in manifest.metrics
    for name in FROZEN_SETS:
        assert {f"{name}_accuracy", f"{name}_roc_auc", f"{name}_recall_neg", f"{name}_n"} <= set(
            manifest.metrics
        )
    assert manifest.extra["semeval_holdout"] == "twitter-2016test-A.txt"
    assert set(manifest.extra["frozen_sets"]) == set(FROZEN_SETS)
    card = (job.bundle / pipeline.CARD_FILE).read_text(encoding="utf-8")
    assert manifest.version in card
    assert "| brand | " in card
    assert "| semeval_test | " in card
    assert manifest.metrics["test_n"] == job.report["splits"]["test"]["rows"]
    assert manifest.metrics["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert manifest.metrics["parity_label_flips"] == 0.0
    assert manifest.metrics["onnx_bytes"] > 0
    assert manifest.extra["kind"] == "tfidf_lr_vader"
    assert manifest.extra["parity_rows"] == job.report["splits"]["test"]["rows"]
    assert manifest.data_fingerprint == job.report["fingerprint"]
    assert manifest.version.endswith(job.report["fingerprint"][:8])
    assert manifest.mlflow_run_id


def test_mlflow_holds_the_runs_and_a_registered_version(job: JobRun) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=job.tracking_uri)
    versions = client.search_model_versions(f"name='{tracking.REGISTERED_MODEL}'")
    assert [str(v.version) for v in versions] == [job.manifest.registered_version]
    assert job.manifest.registered_model == tracking.REGISTERED_MODEL
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    names = sorted(run.info.run_name for run in runs)
    assert names == ["export", "tfidf_lr_vader", "train", "vader"]
    parent = job.summary["parent_run_id"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    assert sorted(r.info.run_name for r in children) == ["tfidf_lr_vader", "vader"]
    export_run = client.get_run(job.manifest.mlflow_run_id)
    assert export_run.data.metrics["test_accuracy"] == job.manifest.metrics["test_accuracy"]
    chosen = next(r for r in children if r.info.run_name == "tfidf_lr_vader")
    for name in FROZEN_SETS:
        assert {f"{name}_roc_auc", f"{name}_accuracy", f"{name}_rows"} <= set(chosen.data.metrics)
