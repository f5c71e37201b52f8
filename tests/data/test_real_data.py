"""Expectations on the real Sentiment140 files in ../shared/data (counts from its README).

Skipped when the folder is absent; set SENTIMENT140_DIR to point elsewhere. Everything is loaded
and selected once per module (~25 s, most of it the language filter).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from training.data import (
    COLUMNS,
    NEGATIVE,
    SelectionConfig,
    Splits,
    build_data_report,
    load_manual_test,
    load_source,
    load_sources,
    loose_key,
    select_tweets,
    split_data,
)

pytestmark = pytest.mark.data

DEFAULT_DIR = Path(__file__).parents[2].parent / "shared/data/sentiment140"
DATA_DIR = Path(os.environ.get("SENTIMENT140_DIR", DEFAULT_DIR))
SAMPLE = "training_sample_47k.csv"
EXTRA = "extra_text_only.csv"
MANUAL = "testdata.manual.2009.06.14.csv"


@pytest.fixture(scope="module")
def data_dir() -> Path:
    missing = [name for name in (SAMPLE, EXTRA, MANUAL) if not (DATA_DIR / name).is_file()]
    if missing:
        pytest.skip(f"real data absent: {', '.join(missing)} not in {DATA_DIR} (SENTIMENT140_DIR)")
    return DATA_DIR


@pytest.fixture(scope="module")
def sample(data_dir: Path) -> pd.DataFrame:
    return load_source(data_dir / SAMPLE)


@pytest.fixture(scope="module")
def extra(data_dir: Path) -> pd.DataFrame:
    return load_source(data_dir / EXTRA)


@pytest.fixture(scope="module")
def manual(data_dir: Path) -> pd.DataFrame:
    return load_manual_test(data_dir / MANUAL)


@pytest.fixture(scope="module")
def selection(data_dir: Path, manual: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    combined = load_sources([data_dir / SAMPLE, data_dir / EXTRA])
    return select_tweets(combined, SelectionConfig(), exclude=manual)


@pytest.fixture(scope="module")
def splits(selection: tuple[pd.DataFrame, list[dict]]) -> Splits:
    return split_data(selection[0])


@pytest.mark.parametrize(
    ("name", "rows", "negative", "neutral"),
    [(SAMPLE, 47_375, 24_717, 0), (EXTRA, 127_375, 63_501, 0), (MANUAL, 359, 177, 139)],
)
def test_counts_match_the_readme(
    data_dir: Path, name: str, rows: int, negative: int, neutral: int
) -> None:
    df = load_source(data_dir / name)
    assert (len(df), int((df["label"] == NEGATIVE).sum())) == (rows, negative)
    assert df.attrs["neutral_dropped"] == neutral


@pytest.mark.parametrize("fixture", ["sample", "extra", "manual"])
def test_schema_labels_and_nulls(request: pytest.FixtureRequest, fixture: str) -> None:
    df = request.getfixturevalue(fixture)
    assert tuple(df.columns) == COLUMNS
    assert str(df["label"].dtype) == "int8"
    assert set(df["label"].unique()) == {0, 1}
    assert not df.isna().any().any()
    assert (df["text"].str.strip().str.len() > 0).all()


def test_users_are_known_only_where_the_format_has_them(
    sample: pd.DataFrame, extra: pd.DataFrame
) -> None:
    assert (sample["user"].str.len() > 0).all()
    assert (extra["user"] == "").all()


def test_sources_overlap_and_must_be_deduplicated_before_splitting(
    sample: pd.DataFrame, extra: pd.DataFrame
) -> None:
    # The README says "about 26k"; the files hold 21,7xx distinct shared texts (measured).
    shared = set(sample["text"]) & set(extra["text"])
    assert 20_000 <= len(shared) <= 27_000


def test_manual_test_set_is_disjoint_from_the_sources(
    sample: pd.DataFrame, extra: pd.DataFrame, manual: pd.DataFrame
) -> None:
    assert not set(manual["text"]) & (set(sample["text"]) | set(extra["text"]))


def test_selection_steps_only_remove_rows(selection: tuple[pd.DataFrame, list[dict]]) -> None:
    _, steps = selection
    rows = [step["rows"] for step in steps]
    assert rows == sorted(rows, reverse=True)
    assert rows[0] == 47_375 + 127_375
    removed = {step["step"]: step["removed"] for step in steps}
    assert removed["english_only"] < 0.005 * rows[0]  # lenient filter: well under 1 %
    assert 20_000 <= removed["drop_exact_duplicates"] <= 27_000  # mostly cross-source copies


def test_selection_is_balanced_and_unique(selection: tuple[pd.DataFrame, list[dict]]) -> None:
    selected, _ = selection
    counts = selected["label"].value_counts()
    assert counts[0] == counts[1] > 70_000
    assert not selected["text"].duplicated().any()


def test_no_text_in_two_splits(splits: Splits) -> None:
    train, val, test = (set(frame["text"]) for _, frame in splits.items())
    assert not train & test
    assert not train & val
    assert not val & test


def test_manual_test_set_does_not_leak_into_train(splits: Splits, manual: pd.DataFrame) -> None:
    assert not set(loose_key(manual["text"])) & set(loose_key(splits.train["text"]))


def test_data_report_is_json(
    selection: tuple[pd.DataFrame, list[dict]], splits: Splits, manual: pd.DataFrame
) -> None:
    selected, steps = selection
    report = json.loads(json.dumps(build_data_report(steps, selected, splits, manual_test=manual)))
    assert report["manual_test"]["rows"] == 359
    assert report["manual_test"]["neutral_dropped"] == 139
    assert all(split["airline"] > 0 for split in report["splits"].values())
    assert abs(report["splits"]["test"]["negative_share"] - 0.5) < 0.01
