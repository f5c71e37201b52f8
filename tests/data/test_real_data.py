"""Expectations on the real files in ../shared/data (counts from their READMEs): Sentiment140,
SemEval and the brand set.

Skipped when a folder is absent; set SENTIMENT140_DIR, SEMEVAL_DIR or BRAND_CSV elsewhere.
Everything is loaded and selected once per module (~25 s, most of it the language filter).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from training.data import (
    BRAND_FILE,
    COLUMNS,
    FROZEN_SET_NAMES,
    NEGATIVE,
    SEMEVAL_HOLDOUT,
    FrozenFiles,
    SelectionConfig,
    Source,
    Splits,
    build_data_report,
    load_brand_csv,
    load_manual_test,
    load_semeval,
    load_source,
    load_sources,
    loose_key,
    read_semeval_file,
    select_tweets,
    semeval_files,
    split_data,
    text_key,
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


# --- SemEval and the brand set (../shared/data/semeval, ../shared/data/domain) -----------------

SEMEVAL_DIR = Path(os.environ.get("SEMEVAL_DIR", DATA_DIR.parent / "semeval"))
BRAND_CSV = Path(os.environ.get("BRAND_CSV", DATA_DIR.parent / "domain" / BRAND_FILE))
# The README's table: rows, negative, neutral, positive per file.
SEMEVAL_TABLE = {
    "twitter-2013train-A.txt": (9_684, 1_458, 4_586, 3_640),
    "twitter-2013dev-A.txt": (1_654, 340, 739, 575),
    "twitter-2013test-A.txt": (3_547, 559, 1_513, 1_475),
    "twitter-2014test-A.txt": (1_853, 202, 669, 982),
    "twitter-2014sarcasm-A.txt": (86, 40, 13, 33),
    "twitter-2015train-A.txt": (489, 66, 253, 170),
    "twitter-2015test-A.txt": (2_390, 365, 987, 1_038),
    "twitter-2016train-A.txt": (6_000, 863, 2_043, 3_094),
    "twitter-2016dev-A.txt": (1_999, 391, 765, 843),
    "twitter-2016devtest-A.txt": (2_000, 325, 681, 994),
    "twitter-2016test-A.txt": (20_632, 3_231, 10_342, 7_059),
}


@pytest.fixture(scope="module")
def semeval_dir() -> Path:
    missing = [name for name in SEMEVAL_TABLE if not (SEMEVAL_DIR / name).is_file()]
    if missing:
        pytest.skip(f"SemEval data absent: {len(missing)} files not in {SEMEVAL_DIR} (SEMEVAL_DIR)")
    return SEMEVAL_DIR


@pytest.fixture(scope="module")
def brand_csv() -> Path:
    if not BRAND_CSV.is_file():
        pytest.skip(f"brand data absent: {BRAND_CSV} (BRAND_CSV)")
    return BRAND_CSV


@pytest.fixture(scope="module")
def semeval(semeval_dir: Path) -> pd.DataFrame:
    return load_semeval(semeval_files(semeval_dir))


@pytest.mark.parametrize("name", list(SEMEVAL_TABLE))
def test_semeval_files_match_the_readme(semeval_dir: Path, name: str) -> None:
    rows = read_semeval_file(semeval_dir / name)
    counts = rows["sentiment"].value_counts()
    expected = SEMEVAL_TABLE[name]
    assert (len(rows), counts["negative"], counts["neutral"], counts["positive"]) == expected


def test_semeval_texts_come_out_clean(semeval_dir: Path, semeval: pd.DataFrame) -> None:
    texts = semeval["text"]
    assert not texts.str.contains(r"\\u[0-9a-fA-F]{4}").any()  # JSON escapes decoded
    assert not texts.str.endswith("\t").any()  # trailing empty fields gone
    assert texts.str.contains('""', regex=False).sum() <= 5  # layered quote escapes undone
    assert (texts.str.strip().str.len() > 0).all()
    # 2016test holds one quoted text that runs over two lines: one record, not two.
    rows = read_semeval_file(semeval_dir / "twitter-2016test-A.txt")
    kanye = rows.loc[rows["id"] == "638435681832960000", "text"].tolist()
    assert len(kanye) == 1
    assert kanye[0].endswith("1st black Female President!")


def test_semeval_duplicates_and_conflicts_are_dropped(semeval: pd.DataFrame) -> None:
    # README: 665 duplicate annotations across and within the files; one copy of each is kept
    # (688 measured: the same tweet under two ids counts too) and 180 rows of conflicts go.
    assert 600 <= semeval.attrs["duplicates_dropped"] <= 800
    assert 100 <= semeval.attrs["conflicts_dropped"] <= 300
    keys = [text_key(text) for text in semeval["text"]]
    assert len(keys) == len(set(keys))
    total_negative = sum(row[1] for row in SEMEVAL_TABLE.values())
    assert 7_500 <= int(semeval["label"].sum()) <= total_negative


def test_brand_csv_matches_its_readme(brand_csv: Path) -> None:
    binary = load_brand_csv(brand_csv)
    rest = load_brand_csv(brand_csv, neutral="positive")
    assert (len(binary), int(binary["label"].sum())) == (1_219 + 423, 1_219)
    assert (len(rest), int(rest["label"].sum())) == (1_219 + 423 + 2_162, 1_219)
    assert binary.attrs["not_relevant_dropped"] == 82
    assert binary["text"].str.contains("\n").any()  # multi-line quoted fields survive


def test_frozen_sets_never_leak_into_the_training_corpus(
    data_dir: Path, semeval_dir: Path, brand_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from training.pipeline import JobConfig, load_prepared, prepare_data

    sources = [
        Source("sentiment140", (data_dir / SAMPLE, data_dir / EXTRA)),
        Source("semeval", tuple(semeval_files(semeval_dir)), kind="semeval"),
    ]
    frozen = FrozenFiles(data_dir / MANUAL, semeval_dir / SEMEVAL_HOLDOUT, brand_csv)
    work_dir = tmp_path_factory.mktemp("prepared")
    config = JobConfig(work_dir=work_dir, selection=SelectionConfig(english_only=False))
    report = prepare_data(sources, None, config, frozen=frozen)
    frames, _ = load_prepared(work_dir)
    training = pd.concat([frames[name] for name in ("train", "val", "test")])
    corpus_keys = set(loose_key(training["text"]))
    for name in FROZEN_SET_NAMES:
        assert not set(loose_key(frames[name]["text"])) & corpus_keys - {""}, name
    assert report["frozen_sets"]["semeval_test"]["negative"] > 350
    assert report["frozen_sets"]["brand"]["rows"] > 1_400
    assert set(report["per_source"]) == {"sentiment140", "semeval"}
    assert report["per_source"]["semeval"]["rows"] > 20_000
