"""The corpus study: which variants it trains, that each variant's source weights apply, and its
table (intervals and sample sizes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.utils.corpus import make_corpus, write_corpus_csv
from training import experiments, pipeline
from training.data import SelectionConfig, Source
from training.evaluate import compute_metrics
from training.train import TrainConfig

pytestmark = pytest.mark.code

S140 = Source("s140", (Path("a.csv"),))
SEMEVAL = Source("semeval", (Path("twitter-2013train-A.txt"),), kind="semeval")


def test_study_variants_cover_sources_weights_and_neutral_policies() -> None:
    variants = experiments.study_variants([S140, SEMEVAL], (1.0, 3.0), ("drop", "positive"))
    names = [name for name, _ in variants]
    assert names == [
        "without SemEval",
        "SemEval neutral=drop weight=1",
        "SemEval neutral=drop weight=3",
        "SemEval neutral=positive weight=1",
        "SemEval neutral=positive weight=3",
    ]
    assert variants[0][1] == [S140]
    last = variants[-1][1]
    assert last[0] == S140
    assert (last[1].weight, last[1].neutral) == (3.0, "positive")


def test_fit_study_variant_applies_the_variant_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(300, seed=3)
    half = len(corpus) // 2
    first = write_corpus_csv(tmp_path / "a.csv", corpus.iloc[:half])
    second = write_corpus_csv(tmp_path / "b.csv", corpus.iloc[half:])
    config = pipeline.JobConfig(
        work_dir=tmp_path / "work",
        train=TrainConfig(c_grid=(1.0,), min_df=1),
        selection=SelectionConfig(english_only=False),
    )
    pipeline.prepare_data([Source("a", (first,)), Source("b", (second,))], None, config)
    seen: list[np.ndarray] = []
    real = experiments.train.make_sample_weight

    def spy(is_airline, airline_weight, source_weight=None):
        seen.append(np.asarray(source_weight))
        return real(is_airline, airline_weight, source_weight)

    monkeypatch.setattr(experiments.train, "make_sample_weight", spy)
    metrics = experiments.fit_study_variant(config.work_dir, config, {"a": 1.0, "b": 4.0})
    train = pd.read_parquet(config.work_dir / "data" / "train.parquet")
    expected = np.where(train["source"] == "b", 4.0, 1.0)
    np.testing.assert_array_equal(seen[0], expected)
    assert "test" in metrics


def test_render_corpus_study_gives_intervals_and_sample_sizes() -> None:
    labels = np.array([1, 1, 0, 0, 0])
    metrics = compute_metrics(labels, np.array([0.9, 0.4, 0.3, 0.6, 0.1]), 0.5)
    rows = [("variant A", {"manual_test": metrics, "brand": metrics})]
    table = experiments.render_corpus_study(rows)
    assert table.splitlines()[0].startswith("| variant | manual_test AUC | manual_test acc |")
    assert "| variant A | 0.833 [" in table
    assert "manual_test: n=5 (2 neg.)" in table
    assert "brand: n=5 (2 neg.)" in table
