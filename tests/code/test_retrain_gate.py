"""Retraining from feedback: the stable hold-out, the records → frame mapping, the promotion gate's
decision matrix, and one whole retrain against a local model store."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.bundle import BundleError, read_manifest, verify_bundle
from shared.model_store import ModelStore
from shared.storage import LocalObjectStore
from tests.utils.corpus import make_corpus, write_corpus_csv
from training import pipeline, retrain
from training.export import PARITY_TOLERANCE
from training.retrain import (
    FEEDBACK_SLICE,
    RetrainConfig,
    decide_promotion,
    feedback_frame,
    is_holdout,
    split_feedback,
)

pytestmark = pytest.mark.code

TOLERANCE = 0.01


# --- hold-out assignment -----------------------------------------------------------------------


def test_is_holdout_is_stable() -> None:
    ids = [f"prediction-{index}" for index in range(200)]
    first = [is_holdout(pid, 0.3) for pid in ids]
    assert first == [is_holdout(pid, 0.3) for pid in ids]


@pytest.mark.parametrize("share", [0.1, 0.2, 0.5])
def test_is_holdout_keeps_about_the_share(share: float) -> None:
    held = np.mean([is_holdout(f"id-{index}", share) for index in range(5000)])
    assert held == pytest.approx(share, abs=0.025)


def test_is_holdout_is_monotonic_in_the_share() -> None:
    """Growing the share only adds ids: nothing trained on before is suddenly held out and back."""
    ids = [f"id-{index}" for index in range(500)]
    small = {pid for pid in ids if is_holdout(pid, 0.1)}
    large = {pid for pid in ids if is_holdout(pid, 0.3)}
    assert small <= large
    assert not any(is_holdout(pid, 0.0) for pid in ids)


def records(texts_and_labels: list[tuple[str, str]], prefix: str = "p") -> list[dict[str, str]]:
    return [
        {"prediction_id": f"{prefix}{index}", "text": text, "correct_label": label}
        for index, (text, label) in enumerate(texts_and_labels)
    ]


def test_feedback_frame_maps_labels_and_drops_unusable_records() -> None:
    usable = records([("my bag is lost", "negative"), ("lovely crew", "positive")])
    unusable = [
        {"prediction_id": "a", "text": "", "correct_label": "negative"},
        {"prediction_id": "b", "text": "meh", "correct_label": "neutral"},
        {"prediction_id": "c", "text": "no label at all"},
    ]
    frame = feedback_frame([usable[0], *unusable, usable[1]])
    assert frame.columns.tolist() == ["text", "label", "user", "source", "airline", "prediction_id"]
    assert frame["text"].tolist() == ["my bag is lost", "lovely crew"]
    assert frame["label"].tolist() == [1, 0]  # 1 = NEGATIVE, as in the prepared splits
    assert frame["prediction_id"].tolist() == ["p0", "p1"]
    assert set(frame["source"]) == {"feedback"}


def test_feedback_frame_of_nothing_keeps_the_columns() -> None:
    frame = feedback_frame([])
    assert frame.empty
    assert "prediction_id" in frame.columns


def test_split_feedback_is_a_partition_by_id() -> None:
    frame = feedback_frame(records([(f"tweet {i}", "negative") for i in range(300)]))
    train, holdout = split_feedback(frame, 0.2)
    assert len(train) + len(holdout) == len(frame)
    assert set(train["prediction_id"]).isdisjoint(holdout["prediction_id"])
    assert all(is_holdout(pid, 0.2) for pid in holdout["prediction_id"])
    assert 30 <= len(holdout) <= 90
    assert train.index.tolist() == list(range(len(train)))


# --- the promotion gate ------------------------------------------------------------------------


def scores(accuracy: float, recall: float) -> dict[str, float]:
    return {"accuracy": accuracy, "recall_neg": recall}


def metrics(test=(0.80, 0.80), manual=(0.80, 0.80), feedback=(0.60, 0.60)):
    result = {"test": scores(*test), "manual_test": scores(*manual)}
    if feedback is not None:
        result[FEEDBACK_SLICE] = scores(*feedback)
    return result


CHAMPION = metrics()


@pytest.mark.parametrize(
    ("challenger", "promoted", "reason"),
    [
        (metrics(feedback=(0.70, 0.70)), True, "feedback slice accuracy +0.1000"),
        # within tolerance on the frozen sets, better on feedback
        (metrics(test=(0.795, 0.795), feedback=(0.70, 0.7)), True, "feedback slice accuracy"),
        # frozen sets: accuracy or negative recall lost beyond the tolerance
        (metrics(test=(0.75, 0.80), feedback=(0.9, 0.9)), False, "test accuracy drops by 0.0500"),
        (metrics(manual=(0.80, 0.70), feedback=(0.9, 0.9)), False, "manual_test recall_neg drops"),
        # not better on the feedback slice
        (metrics(feedback=(0.60, 0.90)), False, "does not improve (+0.0000)"),
        (metrics(feedback=(0.50, 0.50)), False, "does not improve (-0.1000)"),
        # better everywhere but with nothing to show it on
        (metrics(test=(0.9, 0.9), feedback=None), False, "no held-out feedback"),
    ],
)
def test_decide_promotion_matrix(
    challenger: dict[str, dict[str, float]], promoted: bool, reason: str
) -> None:
    champion = CHAMPION if FEEDBACK_SLICE in challenger else metrics(feedback=None)
    decision, reasons = decide_promotion(champion, challenger, TOLERANCE)
    assert decision is promoted
    assert any(reason in line for line in reasons), reasons


def test_decide_promotion_reports_every_failed_check() -> None:
    challenger = metrics(test=(0.70, 0.70), manual=(0.70, 0.80), feedback=(0.50, 0.50))
    promoted, reasons = decide_promotion(CHAMPION, challenger, TOLERANCE)
    assert not promoted
    assert len(reasons) == 4  # test accuracy, test recall, manual accuracy, feedback


def test_decide_promotion_skips_frozen_sets_the_champion_was_not_scored_on() -> None:
    champion = {"test": scores(0.8, 0.8), FEEDBACK_SLICE: scores(0.5, 0.5)}
    challenger = {"test": scores(0.8, 0.8), FEEDBACK_SLICE: scores(0.6, 0.6)}
    assert decide_promotion(champion, challenger, TOLERANCE)[0] is True


# --- one whole retrain -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("retrain")
    source = write_corpus_csv(root / "corpus.csv", make_corpus(300, seed=2))
    pipeline.prepare_data([source], None, pipeline.JobConfig(work_dir=root / "work"))
    return root / "work"


@pytest.fixture
def store(tmp_path: Path, tiny_bundle: Path) -> ModelStore:
    store = ModelStore(LocalObjectStore(tmp_path / "store"))
    store.publish(shutil.copytree(tiny_bundle, tmp_path / "champion"))
    return store


def airline_feedback() -> list[dict[str, str]]:
    corpus = make_corpus(120, seed=3, domain="airline")
    corpus = corpus[corpus["text"].str.strip() != ""]
    labels = np.where(corpus["polarity"] == 0, "negative", "positive")
    return records(list(zip(corpus["text"], labels, strict=True)), prefix="fb")


def test_retrain_needs_a_champion(tmp_path: Path, prepared: Path) -> None:
    empty = ModelStore(LocalObjectStore(tmp_path / "empty"))
    with pytest.raises(BundleError, match="no champion"):
        retrain.retrain(empty, airline_feedback(), prepared, tmp_path / "out", RetrainConfig())


def test_retrain_with_too_little_feedback_fits_nothing(
    store: ModelStore, prepared: Path, tmp_path: Path
) -> None:
    report, challenger = retrain.retrain(
        store, airline_feedback()[:3], prepared, tmp_path / "out", RetrainConfig(min_feedback=10)
    )
    assert challenger is None
    assert report.challenger is None
    assert not report.promoted
    assert report.reasons == ["only 3 feedback records (< 10)"]
    assert not (tmp_path / "out").exists()


def test_retrain_builds_scores_and_judges_a_challenger(
    store: ModelStore,
    prepared: Path,
    tiny_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    logged = []
    monkeypatch.setattr(retrain, "log_retrain", lambda report, config: logged.append(report))
    feedback = airline_feedback()
    config = RetrainConfig(holdout_share=0.25)
    report, challenger = retrain.retrain(store, feedback, prepared, tmp_path / "out", config)

    assert report.champion == "tiny-1"
    assert report.feedback_rows == len(feedback)
    assert challenger is not None
    assert challenger.parent == tmp_path / "out"
    assert report.challenger == challenger.name
    manifest = verify_bundle(challenger)
    held_out = sum(is_holdout(r["prediction_id"], 0.25) for r in feedback)
    assert manifest.extra["feedback_rows"] == len(feedback) - held_out
    assert manifest.extra["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert manifest.normaliser_options == read_manifest(tiny_bundle).normaliser_options

    assert set(report.metrics) == {"champion", "challenger"}
    for role in report.metrics.values():
        assert set(role) == {"test", FEEDBACK_SLICE}
        assert role[FEEDBACK_SLICE]["rows"] == held_out
    expected = decide_promotion(
        report.metrics["champion"], report.metrics["challenger"], config.tolerance
    )
    assert (report.promoted, report.reasons) == expected
    assert logged == [report]
    assert store.read_champion().version == "tiny-1"  # the caller promotes, never retrain


def test_retrain_fits_on_the_training_side_of_the_feedback_only(
    store: ModelStore, prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The challenger sees every training-side feedback tweet and no held-out one."""
    seen = {}
    original = retrain.fit_challenger

    def spy(features, feedback_train: pd.DataFrame, manifest, config):
        seen["feedback"] = feedback_train
        return original(features, feedback_train, manifest, config)

    monkeypatch.setattr(retrain, "fit_challenger", spy)
    monkeypatch.setattr(retrain, "log_retrain", lambda report, config: None)
    feedback = airline_feedback()
    retrain.retrain(store, feedback, prepared, tmp_path / "out", RetrainConfig(holdout_share=0.25))
    trained_ids = {r["prediction_id"] for r in feedback if not is_holdout(r["prediction_id"], 0.25)}
    assert len(seen["feedback"]) == len(trained_ids)
    assert set(seen["feedback"]["source"]) == {"feedback"}
