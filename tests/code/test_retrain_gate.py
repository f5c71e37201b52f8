"""Retraining from feedback: which feedback a retrain may use (window, frozen-set filter, one row
per text, hold-out by text hash, the ids it records), the cross-validated choices, and whole
retrains against a local model store, including the conditional promotion of the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.bundle import BundleError, read_manifest, verify_bundle
from shared.model_store import ModelStore
from shared.storage import LocalObjectStore
from tests.utils.corpus import make_corpus, write_corpus_csv
from training import domain_fit, pipeline, retrain
from training.export import PARITY_TOLERANCE
from training.feedback_data import (
    collapse_texts,
    feedback_frame,
    is_holdout,
    record_kind,
    select_feedback,
    text_key,
)
from training.retrain import FEEDBACK_SLICE, RetrainConfig

pytestmark = pytest.mark.code

NOW = datetime(2026, 11, 1, tzinfo=UTC)
FAST_FIT = domain_fit.DomainFitConfig(weights=(1.0, 10.0), folds=2, cv_base_rows=2000)


def record(index: int, text: str, label: str, **extra: str) -> dict[str, str]:
    predicted = "positive" if label == "negative" else "negative"
    return {
        "prediction_id": f"00000000-0000-4000-8000-{index:012d}",
        "text": text,
        "correct_label": label,
        "predicted_label": predicted,
        "flagged_at": "2026-10-30T12:00:00.000000Z",
        **extra,
    }


# --- which feedback a retrain uses ---------------------------------------------------------------


def test_text_key_matches_masked_and_raw_copies() -> None:
    raw = "@united My bag is LOST!! http://t.co/abc &amp; nobody cares"
    masked = "<mention> my bag is lost!! <url> & nobody cares"
    assert text_key(raw) == text_key(masked) == "my bag is lost nobody cares"


def test_holdout_is_by_text_not_by_id() -> None:
    texts = [f"tweet number {i} about my order" for i in range(400)]
    first = [is_holdout(text_key(t), 0.3) for t in texts]
    assert 0.24 < np.mean(first) < 0.36
    # the same texts flagged again under other ids land on the same side
    records = [record(i, t, "negative") for i, t in enumerate(texts)]
    records += [record(1000 + i, t.upper() + "!", "negative") for i, t in enumerate(texts)]
    selection = select_feedback(records, set(), 0.3, NOW)
    assert len(selection.train) + len(selection.holdout) == 400
    assert set(selection.train["text_key"]).isdisjoint(selection.holdout["text_key"])
    assert all(len(ids) == 2 for ids in selection.holdout["ids"])


def test_holdout_grows_monotonically_with_the_share() -> None:
    keys = [f"key {i}" for i in range(500)]
    small = {k for k in keys if is_holdout(k, 0.1)}
    assert small <= {k for k in keys if is_holdout(k, 0.3)}
    assert not any(is_holdout(k, 0.0) for k in keys)


def test_feedback_in_a_frozen_set_is_dropped_and_recorded() -> None:
    frozen = pd.DataFrame({"text": ["@delta worst flight EVER http://t.co/x", "so happy today"]})
    records = [
        record(0, "<mention> worst flight ever <url>", "positive"),  # a poisoned copy
        record(1, "so happy today!!", "negative"),
        record(2, "my order never arrived", "negative"),
    ]
    keys = retrain.frozen_text_keys([frozen])
    selection = select_feedback(records, keys, 0.0, NOW)
    ids = selection.ids_used()
    assert ids["dropped"]["in_frozen_set"] == [
        records[0]["prediction_id"],
        records[1]["prediction_id"],
    ]
    assert ids["trained"] == [records[2]["prediction_id"]]
    assert selection.train["text"].tolist() == ["my order never arrived"]


def test_conflicting_texts_go_and_repeats_count_once() -> None:
    frame, unusable = feedback_frame(
        [
            record(0, "the battery died", "negative"),
            record(1, "The battery died!", "negative"),
            record(2, "new phone is fine", "negative"),
            record(3, "new phone is fine", "positive"),
            {"prediction_id": "x", "text": "", "correct_label": "negative"},
            {"prediction_id": "y", "text": "neutral one", "correct_label": "neutral"},
        ]
    )
    assert unusable == ["x", "y"]
    rows, conflicting = collapse_texts(frame)
    assert rows["text_key"].tolist() == ["the battery died"]
    assert rows["ids"].tolist() == [
        [record(0, "", "")["prediction_id"], record(1, "", "")["prediction_id"]]
    ]
    assert sorted(conflicting) == [
        record(2, "", "")["prediction_id"],
        record(3, "", "")["prediction_id"],
    ]


def test_old_feedback_leaves_the_window() -> None:
    old = record(0, "old complaint about the store", "negative", flagged_at="2025-01-01T00:00:00Z")
    new = record(1, "fresh complaint about the store", "negative")
    selection = select_feedback([old, new], set(), 0.0, NOW, max_age_days=90)
    assert selection.ids_used()["dropped"]["too_old"] == [old["prediction_id"]]
    assert selection.train["text"].tolist() == ["fresh complaint about the store"]
    assert len(select_feedback([old, new], set(), 0.0, NOW, max_age_days=None).train) == 2


def test_kinds_corrections_and_confirmations() -> None:
    assert record_kind({"kind": "confirmation"}) == "confirmation"
    assert (
        record_kind({"correct_label": "negative", "predicted_label": "negative"}) == "confirmation"
    )
    assert record_kind({"correct_label": "negative", "predicted_label": "positive"}) == "correction"
    assert record_kind({}) == "correction"  # events from before confirmations existed


def test_ids_used_partition_every_record() -> None:
    records = [record(i, f"text {i % 50} of the shop", "negative") for i in range(120)]
    records.append({"prediction_id": "bad", "text": "", "correct_label": "negative"})
    ids = select_feedback(records, set(), 0.25, NOW).ids_used()
    groups = [ids["trained"], ids["held_out"], *ids["dropped"].values()]
    flat = [pid for group in groups for pid in group]
    assert sorted(flat) == sorted(r["prediction_id"] for r in records)


# --- cross-validated choices -------------------------------------------------------------------


def test_union_vocabulary_adds_feedback_terms_under_min_df() -> None:
    base = pd.Series(["the phone is good", "the phone is bad", "good day", "bad day"])
    feedback = pd.Series(["the ipad froze", "ipad froze again", "genius bar rude"])
    on = domain_fit.DomainFitConfig(feedback_min_df=2, feedback_vocabulary=True)
    vocabulary, added = domain_fit.union_vocabulary(base, feedback, 2, on)
    assert {"ipad", "froze", "ipad froze"} <= set(vocabulary)
    assert "genius" not in vocabulary  # in one feedback tweet only
    assert added == 3
    off = domain_fit.DomainFitConfig(feedback_vocabulary=False)
    assert "ipad" not in domain_fit.union_vocabulary(base, feedback, 2, off)[0]


def test_threshold_choice_keeps_the_base_accuracy_and_recall_floors() -> None:
    val_y = np.array([1, 0] * 50)
    val_p = np.where(val_y == 1, 0.6, 0.4)  # separable at 0.5 on the base
    fb_y = np.zeros(20, dtype=int)
    fb_p = np.full(20, 0.7)  # the domain wants a threshold above 0.7: no negatives caught
    t, fb_acc, val_acc = domain_fit.best_threshold(fb_y, fb_p, val_y, val_p, (0.99, 0.99, 0.5))
    assert 0.4 < t <= 0.6  # recall on the base must stay
    assert (fb_acc, val_acc) == (0.0, 1.0)
    t, fb_acc, _ = domain_fit.best_threshold(fb_y, fb_p, val_y, val_p, (0.4, 0.0, 0.5))
    assert t > 0.7
    assert fb_acc == 1.0
    # with an accuracy floor only, a recall floor still stops it
    t, fb_acc, _ = domain_fit.best_threshold(fb_y, fb_p, val_y, val_p, (0.4, 0.9, 0.5))
    assert t <= 0.6
    assert fb_acc == 0.0


def test_the_final_threshold_moves_only_as_far_as_the_base_floors_need() -> None:
    val_y = np.array([1, 0] * 50)
    val_p = np.where(val_y == 1, 0.6, 0.4)
    floors = (0.99, 0.99, 0.5)
    assert domain_fit.nearest_feasible(0.55, val_y, val_p, floors) == pytest.approx(0.55)
    moved = domain_fit.nearest_feasible(0.7, val_y, val_p, floors)  # would miss every negative
    assert 0.59 <= moved <= 0.6
    # floors no threshold can keep: the least bad one, not an error
    assert 0.4 < domain_fit.nearest_feasible(0.7, val_y, val_p, (1.5, 1.5, 0.5)) <= 0.6


def test_base_floors_start_from_the_champions_rule() -> None:
    val_y = np.array([1, 0] * 50)
    val_p = np.where(val_y == 1, 0.6, 0.4)
    accuracy_floor, recall_floor, threshold = domain_fit.base_floors(val_y, val_p, 0.78, 0.01)
    assert 0.4 < threshold <= 0.6
    assert accuracy_floor == pytest.approx(0.99)
    assert recall_floor == pytest.approx(0.99)


# --- whole retrains ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("retrain")
    source = write_corpus_csv(root / "corpus.csv", make_corpus(300, seed=2))
    pipeline.prepare_data([source], None, pipeline.JobConfig(work_dir=root / "work"))
    # the champion (tests/utils/bundles.py, fingerprint "tiny") counts as trained on this corpus
    report = root / "work" / "data" / "report.json"
    report.write_text(json.dumps({**json.loads(report.read_text()), "fingerprint": "tiny"}))
    return root / "work"


@pytest.fixture
def store(tmp_path: Path, tiny_bundle: Path) -> ModelStore:
    store = ModelStore(LocalObjectStore(tmp_path / "store"))
    store.publish(shutil.copytree(tiny_bundle, tmp_path / "champion"))
    return store


def airline_feedback(n: int = 160) -> list[dict[str, str]]:
    corpus = make_corpus(n, seed=3, domain="airline")
    corpus = corpus[corpus["text"].str.strip() != ""]
    labels = np.where(corpus["polarity"] == 0, "negative", "positive")
    return [
        record(i, t, lab) for i, (t, lab) in enumerate(zip(corpus["text"], labels, strict=True))
    ]


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
    assert not report.promoted
    assert report.reasons[0].startswith("only ")
    assert not (tmp_path / "out").exists()


def test_retrain_builds_scores_and_judges_a_challenger(
    store: ModelStore, prepared: Path, tiny_bundle: Path, tmp_path: Path, monkeypatch
) -> None:
    logged = []
    monkeypatch.setattr(retrain, "log_retrain", lambda report, config: logged.append(report))
    frozen_copy = pd.read_parquet(prepared / "data" / "test.parquet")["text"].iloc[0]
    feedback = [*airline_feedback(), record(9999, frozen_copy, "negative")]
    config = RetrainConfig(holdout_share=0.25, max_age_days=None, fit=FAST_FIT)
    report, challenger = retrain.retrain(store, feedback, prepared, tmp_path / "out", config)

    assert report.champion == "tiny-1"
    assert report.champion_etag == store.read_pointer()[1]
    assert challenger is not None
    assert report.challenger == challenger.name
    ids = report.feedback_ids
    assert ids["dropped"]["in_frozen_set"] == [record(9999, "", "")["prediction_id"]]
    assert set(ids["trained"]).isdisjoint(ids["held_out"])
    manifest = verify_bundle(challenger)
    assert manifest.extra["feedback_rows"] == report.feedback["train_rows"]
    assert manifest.extra["feedback_weight"] in FAST_FIT.weights
    assert manifest.extra["parity_max_abs_diff"] <= PARITY_TOLERANCE
    assert manifest.normaliser_options == read_manifest(tiny_bundle).normaliser_options
    assert manifest.threshold == pytest.approx(report.choice["threshold"])

    for role in report.metrics.values():
        assert set(role) == {"test", FEEDBACK_SLICE}
        assert role[FEEDBACK_SLICE]["rows"] == report.feedback["holdout_rows"]
    assert set(report.gate["frozen"]) == {"test"}
    assert report.gate["frozen"]["test"]["accuracy"]["rule"] in (
        "non_inferiority",
        "large_regression_only",
    )
    assert report.gate["domain"]["rows"] == report.feedback["holdout_rows"]
    assert any(line.startswith("domain feedback accuracy") for line in report.reasons)
    assert logged == [report]
    assert store.read_champion().version == "tiny-1"  # the caller promotes, never retrain


def test_retrain_trains_on_the_training_side_only(
    store: ModelStore, prepared: Path, tmp_path: Path, monkeypatch
) -> None:
    seen = {}
    original = retrain.fit_domain_challenger

    def spy(base, val, feedback, recipe, config, champion_val):
        seen["feedback"] = feedback
        seen["champion_val"] = champion_val
        return original(base, val, feedback, recipe, config, champion_val)

    monkeypatch.setattr(retrain, "fit_domain_challenger", spy)
    monkeypatch.setattr(retrain, "log_retrain", lambda report, config: None)
    feedback = airline_feedback()
    config = RetrainConfig(holdout_share=0.25, max_age_days=None, fit=FAST_FIT)
    report, _ = retrain.retrain(store, feedback, prepared, tmp_path / "out", config)
    held_keys = {text_key(r["text"]) for r in feedback if is_holdout(text_key(r["text"]), 0.25)}
    assert len(seen["feedback"]) == report.feedback["train_rows"]
    assert held_keys.isdisjoint(seen["feedback"]["text_key"])
    accuracy, recall = seen["champion_val"]  # the floors come from the champion itself
    assert 0.0 <= accuracy <= 1.0
    assert 0.0 <= recall <= 1.0


def test_exclude_frozen_makes_a_domain_set_trainable(prepared: Path) -> None:
    assert set(retrain.frozen_sets(prepared, ())) == {"test"}
    assert retrain.frozen_sets(prepared, ("test",)) == {}


def test_cli_promotes_only_if_the_champion_did_not_move(
    store: ModelStore, prepared: Path, tmp_path: Path, monkeypatch
) -> None:
    """An operator's rollback between the gate's read and the promotion wins: no promotion."""
    from typer.testing import CliRunner

    from training import cli

    report = retrain.RetrainReport(champion="tiny-1", promoted=True, reasons=["ok"])
    report.champion_etag = "stale-etag"
    challenger_dir = tmp_path / "challenger"
    shutil.copytree(store_bundle(store, tmp_path), challenger_dir)
    monkeypatch.setattr(retrain, "retrain", lambda *a, **k: (report, challenger_dir))
    monkeypatch.setenv("MODEL_STORE_PATH", str(store.objects.root))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    from shared.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(
        cli.app, ["retrain", "--work-dir", str(prepared), "--report", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert summary["promoted"] is False
    assert "champion changed" in summary["reasons"][-1]
    assert store.read_champion().version == "tiny-1"
    get_settings.cache_clear()


def store_bundle(store: ModelStore, tmp_path: Path) -> Path:
    """A second, different bundle to offer as the challenger."""
    from tests.utils.bundles import build_tiny_bundle

    return build_tiny_bundle(tmp_path / "tiny-2", version="tiny-2", threshold=0.4)


def test_old_dates_do_not_break_the_window() -> None:
    stamp = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    selection = select_feedback(
        [record(0, "a recent one", "negative", flagged_at=stamp)], set(), 0.0, NOW, 30
    )
    assert len(selection.train) == 1


def test_the_test_split_is_not_a_guard_for_a_champion_of_another_corpus(
    store: ModelStore, prepared: Path, tmp_path: Path, monkeypatch
) -> None:
    """A champion trained on another corpus may have trained on today's test split."""
    monkeypatch.setattr(retrain, "log_retrain", lambda report, config: None)
    other = tmp_path / "other-work"
    shutil.copytree(prepared, other)
    report_file = other / "data" / "report.json"
    report_file.write_text(json.dumps({**json.loads(report_file.read_text()), "fingerprint": "x"}))
    config = RetrainConfig(max_age_days=None, fit=FAST_FIT)
    report, _ = retrain.retrain(store, airline_feedback(), other, tmp_path / "out", config)
    assert "test" not in report.gate["frozen"]
    assert "test split left out" in report.reasons[-1]


def test_both_bundles_are_scored_as_each_alone_would_be(tiny_bundle: Path) -> None:
    """One featurisation serves champion and challenger: the numbers are each one's own."""
    from shared.inference import Predictor
    from training.retrain import score_bundles

    texts = ["my flight is delayed again", "great crew, thank you", "@someone"]
    sets = {"a": pd.DataFrame({"text": texts}), "empty": pd.DataFrame({"text": []})}
    predictors = (Predictor(tiny_bundle), Predictor(tiny_bundle))
    first, second = score_bundles(predictors, sets)
    alone = predictors[0].negative_probabilities(texts)
    assert np.array_equal(first["a"], alone)
    assert np.array_equal(second["a"], alone)
    assert "empty" not in first
