"""The multi-source corpus: SemEval and brand loaders on fixture files that reproduce each quirk
of the real files, named weighted sources, de-duplication across sources, frozen-set exclusion,
and the per-source report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training import pipeline
from training.cli import options as cli_options
from training.cli.sources import resolve_plan
from training.data import (
    COLUMNS,
    DataError,
    FrozenFiles,
    SelectionConfig,
    Source,
    clean_semeval_text,
    dedupe_frozen,
    load_brand_csv,
    load_corpus,
    load_frozen_sets,
    load_semeval,
    parse_semeval_lines,
    parse_source_spec,
    select_tweets,
    semeval_files,
    text_key,
)
from training.train import make_sample_weight

pytestmark = pytest.mark.code

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
SEMEVAL_DIR = FIXTURES / "semeval"
BRAND = FIXTURES / "domain" / "brand_sample.csv"
NO_LANGUAGE = SelectionConfig(english_only=False, balance=False)

# --- SemEval ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text\t", "plain text"),  # trailing empty field (2016 test file)
        ("plain text\t\t", "plain text"),
        ('"wrapped in quotes"', "wrapped in quotes"),
        ('"she said ""thanks"" twice"', 'she said "thanks" twice'),
        ('"\\""lost my bag\\"" - @x"', '"lost my bag" - @x'),
        ('"a lone quote at the start', '"a lone quote at the start'),
        ('"\\""""@joke: the best\\"""""', '"@joke: the best"'),  # quotes escaped in layers
        ("cancelled\\u002c again", "cancelled, again"),
        ("today\\u2019s flight", "today\u2019s flight"),
        ("angry \\ud83d\\ude21 now", "angry \U0001f621 now"),
        ("fish &amp; chips", "fish &amp; chips"),  # entities are the normaliser's job
        ('"two\nlines"\t', "two\nlines"),
    ],
)
def test_clean_semeval_text(raw: str, expected: str) -> None:
    assert clean_semeval_text(raw) == expected


def test_parse_semeval_lines_joins_a_newline_inside_quotes() -> None:
    lines = ['1\tnegative\t"first line', 'second line"\t', "2\tpositive\tok", ""]
    records = parse_semeval_lines(lines, Path("x.txt"))
    assert records == [("1", "negative", '"first line\nsecond line"\t'), ("2", "positive", "ok")]


def test_parse_semeval_lines_refuses_text_before_the_first_record() -> None:
    with pytest.raises(DataError, match="line 1 is not"):
        parse_semeval_lines(["polarity,text", "1\tnegative\tbad"], Path("x.txt"))


def test_load_semeval_fixture_handles_every_quirk() -> None:
    frame = load_semeval(semeval_files(SEMEVAL_DIR))
    assert tuple(frame.columns) == COLUMNS
    texts = dict(zip(frame["text"], frame["label"], strict=True))
    assert texts == {
        "my flight got cancelled, again. worst airline ever": 1,
        "loved the crew today\u2019s service was great": 0,
        'she said "thank you" and smiled all the way home': 0,
        '"lost my bag" - @someone again, terrible customer service': 1,
        "so angry right now \U0001f621 the wifi is down": 1,
        '"a lone quote at the start stays': 0,
        "delayed for three hours at the airport,\nnobody told us anything": 1,
        "fish &amp; chips on the plane were amazing": 0,
        "great landing, smooth flight, thank you captain": 0,
    }
    # 100 twice in one file and 101 in both files (once escaped, once not): one copy each.
    assert frame.attrs["duplicates_dropped"] == 2
    # id 106 (negative and neutral) and ids 202/203 (same text, negative and neutral): all four.
    assert frame.attrs["conflicts_dropped"] == 4
    assert frame.attrs["neutral_dropped"] == 2
    assert set(frame["source"]) == {"twitter-2013train-A.txt", "twitter-2016test-A.txt"}


def test_load_semeval_keeps_neutral_as_not_negative_when_asked() -> None:
    dropped = load_semeval(semeval_files(SEMEVAL_DIR), neutral="drop")
    kept = load_semeval(semeval_files(SEMEVAL_DIR), neutral="positive")
    assert len(kept) == len(dropped) + 2
    assert kept.attrs["neutral_as_positive"] == 2
    assert kept.attrs["neutral_dropped"] == 0
    assert kept.loc[kept["text"] == "new terminal opens on monday", "label"].tolist() == [0]
    assert int(kept["label"].sum()) == int(dropped["label"].sum())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"id,label,text\n1,negative,bad\n", "is not `tweet_id<TAB>label<TAB>text`"),
        (b"1\tnegative\tcaf\xe9 bad\n", "not UTF-8"),
        (b"1\tneutral\tjust news\n", "no labelled rows"),
    ],
)
def test_load_semeval_errors_are_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "twitter-2099test-A.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_semeval([path])


def test_semeval_files_needs_subtask_a_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no SemEval files"):
        semeval_files(tmp_path)


# --- brand CSV -------------------------------------------------------------------------------


def test_load_brand_csv_follows_the_contract() -> None:
    frame = load_brand_csv(BRAND)
    assert tuple(frame.columns) == COLUMNS
    assert frame["label"].tolist() == [1, 0, 1, 1, 1]
    assert frame["text"][0] == "@Apple my phone died again,\nthird time this week #fail"
    assert "café" in frame["text"][1]  # latin-1 decoded
    assert frame.attrs == {
        "neutral_dropped": 2,
        "neutral_as_positive": 0,
        "not_relevant_dropped": 1,
    }


def test_load_brand_csv_keeps_neutral_as_not_negative_and_never_not_relevant() -> None:
    frame = load_brand_csv(BRAND, neutral="positive")
    assert frame["label"].tolist() == [1, 0, 0, 1, 1, 0, 1]
    assert not frame["text"].str.contains("apple pie").any()
    assert frame.attrs["neutral_as_positive"] == 2


def test_load_brand_csv_refuses_another_layout(tmp_path: Path) -> None:
    path = tmp_path / "brand.csv"
    path.write_text("sentiment,text\n1,bad\n", encoding="latin-1")
    with pytest.raises(DataError, match="12-column brand CSV"):
        load_brand_csv(path)
    with pytest.raises(DataError, match="neutral must be one of"):
        load_brand_csv(BRAND, neutral="negative")  # type: ignore[arg-type]


def test_dedupe_frozen_drops_repeats_and_conflicts() -> None:
    frozen = dedupe_frozen(load_brand_csv(BRAND, neutral="positive"))
    # the retweet twice: one copy; "the battery is awful" negative and neutral: both gone.
    assert len(frozen) == 4
    assert frozen.attrs["repeats_dropped"] == 3
    assert frozen.attrs["neutral_as_positive"] == 2


# --- sources and the corpus ------------------------------------------------------------------


def write_labelled(path: Path, rows: list[tuple[int, str]]) -> Path:
    pd.DataFrame(rows, columns=["polarity", "text"]).to_csv(path, index=False)
    return path


def test_parse_source_spec(tmp_path: Path) -> None:
    csv_file = write_labelled(tmp_path / "a.csv", [(0, "bad"), (4, "good")])
    assert parse_source_spec(f"mine={csv_file}") == Source("mine", (csv_file,), 1.0, "csv")
    assert parse_source_spec(f"mine={csv_file}:2.5").weight == 2.5
    semeval = parse_source_spec(f"sem={SEMEVAL_DIR}:3", neutral="positive")
    assert (semeval.kind, semeval.weight, semeval.neutral, len(semeval.paths)) == (
        "semeval",
        3.0,
        "positive",
        2,
    )
    assert parse_source_spec(f"one={SEMEVAL_DIR / 'twitter-2013train-A.txt'}").kind == "semeval"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-equals-sign", "expected NAME=PATH"),
        ("=x.csv", "expected NAME=PATH"),
        ("a=missing.csv", "no such file or folder"),
        ("a={csv}:heavy", "is not a number"),
        ("a={csv}:0", "positive number"),
        ("a={csv}:nan", "positive number"),
    ],
)
def test_parse_source_spec_errors(tmp_path: Path, spec: str, message: str) -> None:
    csv_file = write_labelled(tmp_path / "a.csv", [(0, "bad")])
    with pytest.raises(DataError, match=message):
        parse_source_spec(spec.format(csv=csv_file))


def test_load_corpus_names_and_weights_each_source(tmp_path: Path) -> None:
    csv_file = write_labelled(tmp_path / "a.csv", [(0, "bad day"), (4, "good day"), (2, "meh")])
    sources = [
        Source("s140", (csv_file,)),
        Source("semeval", tuple(semeval_files(SEMEVAL_DIR)), 3.0, "semeval"),
    ]
    corpus = load_corpus(sources)
    assert corpus.groupby("source")["weight"].unique().to_dict() == {
        "s140": [1.0],
        "semeval": [3.0],
    }
    assert (corpus["source"] == "s140").sum() == 2
    assert corpus.attrs["neutral_dropped"] == 1 + 2
    with pytest.raises(DataError, match="unique"):
        load_corpus([Source("x", (csv_file,)), Source("x", (csv_file,))])


def test_duplicates_across_sources_keep_the_first_and_conflicts_go(tmp_path: Path) -> None:
    csv_file = write_labelled(
        tmp_path / "a.csv",
        [
            (4, "Fish & chips on the plane were AMAZING"),  # = SemEval 201 (entity, case)
            (4, "great landing, smooth flight, thank you captain"),  # SemEval says 0 too
            (0, "so angry right now \U0001f621 the wifi is down"),  # SemEval: negative too
            (4, "my flight got cancelled, again. worst airline ever"),  # SemEval: negative
            (0, "a tweet only here"),
        ],
    )
    semeval = Source("semeval", tuple(semeval_files(SEMEVAL_DIR)), kind="semeval")
    corpus = load_corpus([Source("s140", (csv_file,)), semeval])
    selected, steps = select_tweets(corpus, NO_LANGUAGE)
    keys = [text_key(t) for t in selected["text"]]
    assert len(keys) == len(set(keys))
    by_key = dict(zip(keys, selected["source"], strict=True))
    assert by_key["fish & chips on the plane were amazing"] == "s140"  # first source wins
    assert "my flight got cancelled, again. worst airline ever" not in by_key  # conflict
    removed = {step["step"]: step["removed"] for step in steps}
    assert removed["drop_exact_duplicates"] == 3
    assert removed["drop_conflicting_labels"] == 2


def test_make_sample_weight_multiplies_source_and_airline_weights() -> None:
    airline = np.array([True, False, True, False])
    assert make_sample_weight(airline, 1.0) is None
    assert make_sample_weight(airline, 1.0, np.ones(4)) is None
    assert make_sample_weight(airline, 2.0).tolist() == [2.0, 1.0, 2.0, 1.0]
    weights = make_sample_weight(airline, 2.0, np.array([1.0, 1.0, 3.0, 3.0]))
    assert weights.tolist() == [2.0, 1.0, 6.0, 3.0]


def test_frozen_sets_load_and_deduplicate(tmp_path: Path) -> None:
    manual = write_labelled(tmp_path / "manual.csv", [(0, "bad"), (4, "good"), (2, "meh")])
    frozen = load_frozen_sets(
        FrozenFiles(
            manual_test=manual,
            semeval_test=SEMEVAL_DIR / "twitter-2016test-A.txt",
            brand=BRAND,
        )
    )
    assert list(frozen) == ["manual_test", "semeval_test", "brand", "brand_rest"]
    assert len(frozen["manual_test"]) == 2
    assert len(frozen["brand"]) == 4
    assert frozen["brand"]["label"].tolist() == [1, 0, 1, 1]
    assert set(frozen["brand_rest"]["label"]) == {0, 1}
    assert frozen["semeval_test"]["text"].str.contains("fish &amp; chips").any()


# --- prepare: frozen-set exclusion and the per-source report -----------------------------------


@pytest.fixture
def prepared(tmp_path: Path) -> tuple[pipeline.JobConfig, dict]:
    rows = [(0, f"my flight number {i} was delayed again, so annoyed") for i in range(40)]
    rows += [(4, f"my flight number {i} landed early, so happy") for i in range(40)]
    rows += [
        (0, "@Apple the battery is awful!!"),  # in the brand set (loosely): must go
        (4, "Great landing, smooth flight, thank you captain http://t.co/x"),  # SemEval holdout
    ]
    csv_file = write_labelled(tmp_path / "s140.csv", rows)
    semeval = Source("semeval", tuple(semeval_files(SEMEVAL_DIR)), 2.0, "semeval")
    frozen = FrozenFiles(semeval_test=SEMEVAL_DIR / "twitter-2016test-A.txt", brand=BRAND)
    config = pipeline.JobConfig(work_dir=tmp_path / "work", selection=NO_LANGUAGE)
    report = pipeline.prepare_data([Source("s140", (csv_file,)), semeval], None, config, frozen)
    return config, report


def test_prepare_never_trains_on_a_frozen_tweet(prepared: tuple[pipeline.JobConfig, dict]) -> None:
    config, report = prepared
    frames, _ = pipeline.load_prepared(config.work_dir)
    assert {"semeval_test", "brand", "brand_rest"} <= set(frames)
    training = pd.concat([frames[name] for name in ("train", "val", "test")])
    frozen_keys = {
        text_key(text)
        for name in ("semeval_test", "brand", "brand_rest")
        for text in frames[name]["text"]
    }
    assert not any("battery is awful" in text for text in training["text"])
    assert not any("thank you captain" in text for text in training["text"])
    assert not {text_key(text) for text in training["text"]} & frozen_keys
    semeval_files_used = report["per_source"]["semeval"]["files"]
    assert not any(name.endswith("twitter-2016test-A.txt") for name in semeval_files_used)
    assert report["semeval_holdout"] == "twitter-2016test-A.txt"
    assert report["steps"][-1]["step"] == "drop_frozen_overlap"  # balance is off here
    # the two above, and SemEval 101 of the 2013 file, which the held-out 2016 file holds too
    assert report["steps"][-1]["removed"] == 3
    assert (
        report["steps"][-1]["by_source"]["semeval"]
        == report["steps"][0]["by_source"]["semeval"] - 1
    )


def test_prepare_reports_per_source_and_keeps_weights(
    prepared: tuple[pipeline.JobConfig, dict],
) -> None:
    config, report = prepared
    per_source = report["per_source"]
    assert set(per_source) == {"s140", "semeval"}
    assert sum(item["rows"] for item in per_source.values()) == report["labels"]["rows"]
    for name, item in per_source.items():
        removed = sum(item["removed_by_step"].values())
        assert item["loaded"] - removed == item["rows"], name
        assert sum(item["splits"].values()) == item["rows"], name
    assert per_source["semeval"]["weight"] == 2.0
    assert per_source["s140"]["removed_by_step"]["drop_frozen_overlap"] == 2
    train = pd.read_parquet(config.work_dir / "data" / "train.parquet")
    assert dict(train.groupby("source")["weight"].first()) == {"s140": 1.0, "semeval": 2.0}
    assert report["frozen_sets"]["brand"]["rows"] == 4


# --- the CLI's source plan -------------------------------------------------------------------


@pytest.fixture
def shared_layout(tmp_path: Path) -> Path:
    """../shared/data as laid out on the machine: sentiment140/, semeval/, domain/."""
    s140 = tmp_path / "sentiment140"
    s140.mkdir()
    write_labelled(s140 / "train.csv", [(0, "bad day"), (4, "good day")])
    write_labelled(s140 / "testdata.manual.2009.csv", [(0, "awful"), (4, "lovely")])
    (tmp_path / "semeval").mkdir()
    for path in semeval_files(SEMEVAL_DIR):
        (tmp_path / "semeval" / path.name).write_bytes(path.read_bytes())
    (tmp_path / "semeval" / cli_options.SEMEVAL_HOLDOUT).write_text("9\tnegative\tbad\n", "utf-8")
    (tmp_path / "domain").mkdir()
    (tmp_path / "domain" / cli_options.BRAND_FILE).write_bytes(BRAND.read_bytes())
    return tmp_path


def test_data_dir_picks_up_semeval_and_the_brand_set_beside_it(
    shared_layout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sources, frozen = resolve_plan(None, shared_layout / "sentiment140", None)
    assert [(s.name, s.kind) for s in sources] == [("sentiment140", "csv"), ("semeval", "semeval")]
    assert [p.name for p in sources[0].paths] == ["train.csv"]
    assert frozen.manual_test.name == "testdata.manual.2009.csv"
    assert frozen.semeval_test.name == cli_options.SEMEVAL_HOLDOUT
    assert frozen.brand.name == cli_options.BRAND_FILE
    err = capsys.readouterr().err
    assert "also training on" in err
    assert "brand set, never trained on" in err


def test_no_auto_sources_trains_on_sentiment140_only(shared_layout: Path) -> None:
    sources, frozen = resolve_plan(None, shared_layout / "sentiment140", None, auto=False)
    assert [s.name for s in sources] == ["sentiment140"]
    assert (frozen.semeval_test, frozen.brand) == (None, None)


def test_explicit_sources_weights_and_holdout(shared_layout: Path) -> None:
    semeval = shared_layout / "semeval"
    sources, frozen = resolve_plan(
        None,
        None,
        None,
        sources=[f"extra={shared_layout / 'sentiment140' / 'train.csv'}:0.5"],
        semeval_dir=shared_layout / "semeval",
        semeval_weight=2.0,
        neutral=cli_options.Neutral.positive,
        semeval_holdout="twitter-2016test-A.txt",
    )
    assert [(s.name, s.weight) for s in sources] == [("semeval", 2.0), ("extra", 0.5)]
    assert sources[0].neutral == "positive"
    assert frozen.semeval_test.name == "twitter-2016test-A.txt"
    with pytest.raises(cli_options.UserError, match="not a file"):
        resolve_plan(None, None, None, semeval_dir=semeval, semeval_holdout="nope.txt")
    with pytest.raises(cli_options.UserError, match="must be > 0"):
        resolve_plan(None, None, None, semeval_dir=semeval, semeval_weight=0.0)
    with pytest.raises(DataError, match="no SemEval files"):
        resolve_plan(None, None, None, semeval_dir=shared_layout)
