"""Loading, selection, splitting and reporting on hand-written fixtures; the archive download
against a loopback HTTP server (no test touches the internet)."""

from __future__ import annotations

import io
import json
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from training import download
from training.data import (
    COLUMNS,
    NEGATIVE,
    POSITIVE,
    DataError,
    SelectionConfig,
    airline_pattern,
    balance_classes,
    build_data_report,
    data_fingerprint,
    drop_author_repeats,
    drop_conflicting_labels,
    drop_empty,
    drop_exact_duplicates,
    drop_overlap,
    filter_english,
    is_airline,
    is_english,
    load_labelled_csv,
    load_manual_test,
    load_sentiment140_csv,
    load_source,
    load_sources,
    repair_mojibake,
    select_tweets,
    split_data,
    vocabulary_size,
)

pytestmark = pytest.mark.code

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
S140 = FIXTURES / "sentiment140_sample.csv"
MANUAL = FIXTURES / "manual_sample.csv"
POLARITY = FIXTURES / "labelled_polarity.csv"
LABEL = FIXTURES / "labelled_label.csv"
NAMED = FIXTURES / "labelled_named.csv"
LATIN1 = FIXTURES / "labelled_latin1.csv"
ROW = '"0","1","Mon Apr 06 22:19:45 PDT 2009","NO_QUERY","user","{text}"\n'


def make_frame(rows: list[tuple[str, int] | tuple[str, int, str]]) -> pd.DataFrame:
    """A loader-shaped frame from (text, label[, user]) tuples."""
    return pd.DataFrame(
        {
            "text": [row[0] for row in rows],
            "label": pd.array([row[1] for row in rows], dtype="int8"),
            "user": [row[2] if len(row) > 2 else "" for row in rows],
            "source": "test",
        }
    )


# --- loaders -----------------------------------------------------------------------------------


def test_sentiment140_loader_returns_the_common_schema() -> None:
    df = load_sentiment140_csv(S140)
    assert tuple(df.columns) == COLUMNS
    assert str(df["label"].dtype) == "int8"
    assert len(df) == 24
    assert (df["label"] == NEGATIVE).sum() == 13
    assert df["user"].iloc[0] == "alice"
    assert set(df["source"]) == {S140.name}
    assert not df.isna().any().any()


def test_sentiment140_loader_decodes_latin1_and_keeps_quotes_and_commas() -> None:
    texts = load_sentiment140_csv(S140)["text"].tolist()
    assert "the café was closed and it's raining" in texts
    assert 'she said "no" again, so sad' in texts
    assert "missed the bus, then the train, then the meeting" in texts
    assert "headache all day and no sleep tonight &amp; no coffee" in texts  # entities stay raw


def test_sentiment140_loader_repairs_mojibake() -> None:
    texts = load_sentiment140_csv(S140)["text"].tolist()
    assert "Café au lait in Paris, what a morning" in texts
    assert "don\ufffdt want to go back to work tomorrow" in texts
    assert not any("Ã" in text or "ï¿½" in text for text in texts)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("cafÃ©", "café"),
        ("café", "café"),  # genuine latin-1 character: untouched
        ("donï¿½t", "don\ufffdt"),  # the original file lost this character: one U+FFFD
        ("â\x99¥ you", "♥ you"),
        ("cafÃ© and ç", "cafÃ© and ç"),  # does not round-trip as a whole: untouched
        ("plain ascii", "plain ascii"),
    ],
)
def test_repair_mojibake(raw: str, expected: str) -> None:
    assert repair_mojibake(pd.Series([raw], dtype=str)).tolist() == [expected]


@pytest.mark.parametrize(
    ("path", "rows", "negatives", "neutral"),
    [(POLARITY, 12, 7, 0), (LABEL, 8, 4, 0), (NAMED, 6, 3, 1), (LATIN1, 6, 3, 0)],
)
def test_labelled_loader(path: Path, rows: int, negatives: int, neutral: int) -> None:
    df = load_labelled_csv(path)
    assert tuple(df.columns) == COLUMNS
    assert (len(df), int((df["label"] == NEGATIVE).sum())) == (rows, negatives)
    assert df.attrs["neutral_dropped"] == neutral


def test_labelled_loader_reads_utf8_falls_back_to_latin1_and_repairs() -> None:
    utf8 = load_labelled_csv(POLARITY)["text"].tolist()
    assert "why does everything break at once \U0001f62d" in utf8
    assert "the café was closed again" in utf8  # mojibake inside a UTF-8 file
    assert 'the hotel lost our booking, "sorry" is all they said' in utf8
    latin1 = load_labelled_csv(LATIN1)["text"].tolist()
    assert "paid £40 for a 20 minute ride, never again" in latin1


def test_labelled_loader_keeps_an_optional_user_column() -> None:
    assert load_labelled_csv(LABEL)["user"].tolist()[:2] == ["user0", "user1"]
    assert set(load_labelled_csv(POLARITY)["user"]) == {""}


@pytest.mark.parametrize("path", [S140, MANUAL, POLARITY, LABEL, NAMED, LATIN1])
def test_load_source_sniffs_the_format(path: Path) -> None:
    expected = load_sentiment140_csv(path) if path in (S140, MANUAL) else load_labelled_csv(path)
    pd.testing.assert_frame_equal(load_source(path), expected)


def test_load_sources_concatenates_and_counts_neutral() -> None:
    df = load_sources([S140, NAMED, POLARITY])
    assert len(df) == 24 + 6 + 12
    assert df["source"].unique().tolist() == [S140.name, NAMED.name, POLARITY.name]
    assert df.attrs["neutral_dropped"] == 1


def test_load_manual_test_drops_and_counts_neutral() -> None:
    df = load_manual_test(MANUAL)
    assert (len(df), df.attrs["neutral_dropped"]) == (6, 2)
    assert set(df["label"]) == {NEGATIVE, POSITIVE}


# --- loader errors ---------------------------------------------------------------------------

S140_ERRORS = [
    ("missing", None, "no such file"),
    ("empty", b"", "file is empty"),
    ("blank", b"\n \n", "file is empty"),
    ("zip", b"PK\x03\x04rest-of-a-zip", "unreadable encoding"),
    ("utf16", "polarity,text\n0,hi\n".encode("utf-16"), "unreadable encoding"),
    ("five", b'"0","1","date","q","text"\n', "expected 6 columns"),
    ("ragged", (ROW.format(text="a") + ROW[:-1] + ',"x"\n').encode(), "malformed CSV"),
    ("labels", (ROW + ROW.replace('"0"', '"5"', 1) + ROW.replace('"0"', '"1"', 1)).encode(),
     "'1', '5'"),
    ("neutral", ROW.replace('"0"', '"2"', 1).encode(), "no labelled rows"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "content", "message"), S140_ERRORS, ids=[e[0] for e in S140_ERRORS]
)
def test_sentiment140_loader_errors(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / f"{name}.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        load_sentiment140_csv(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


LABELLED_ERRORS = [
    ("nocolumn", "polarity,tweet\n0,hi\n", "expected columns polarity,text or label,text"),
    ("both", "polarity,label,text\n0,1,hi\n", "expected columns polarity,text or label,text"),
    ("header", "label,text\n", "header but no rows"),
    ("labels", "label,text\n1,a\nmaybe,b\n4,c\n", "unknown labels '4', 'maybe'"),
    ("polarity", "polarity,text\n1,a\n", "unknown labels '1'; expected 0/4"),
]


@pytest.mark.parametrize(
    ("name", "content", "message"), LABELLED_ERRORS, ids=[e[0] for e in LABELLED_ERRORS]
)
def test_labelled_loader_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as caught:
        load_labelled_csv(path)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("content", ["polarity,tweet\n0,hi\n", "hello world\n", '"0","1","x"\n'])
def test_load_source_rejects_unknown_formats(tmp_path: Path, content: str) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=r"odd\.csv: unrecognised format .*polarity,text"):
        load_source(path)


def test_load_sources_needs_at_least_one_file() -> None:
    with pytest.raises(DataError, match="no data files"):
        load_sources([])


# --- selection -------------------------------------------------------------------------------


def test_drop_empty() -> None:
    df = make_frame([("", 1), ("   ", 0), ("\t\n", 1), ("ok", 0)])
    assert drop_empty(df)["text"].tolist() == ["ok"]


@pytest.mark.parametrize(
    ("text", "english"),
    [
        ("my flight got delayed again, stuck at the gate for 3 hours", True),
        ("@bob check this http://bit.ly/x so good", True),
        ("my dog is in my room SNORING!", True),  # low-confidence "af": kept
        ("also gut", True),  # too short to judge
        ("Ich habe heute keine Lust auf die Arbeit und bleibe lieber zu Hause", False),
        ("Eu não consigo abrir os links do twitter hoje", False),
        ("je suis tellement fatigué ce soir, je vais dormir", False),
    ],
)
def test_is_english_is_lenient(text: str, english: bool) -> None:
    assert is_english([text]).tolist() == [english]


def test_filter_english_keeps_rows_and_order() -> None:
    df = make_frame([("what a lovely day it is", 0), ("je suis tellement fatigué ce soir", 1)])
    assert filter_english(df)["text"].tolist() == ["what a lovely day it is"]
    assert len(filter_english(df, min_confidence=1.01)) == 2  # nothing is that sure


def test_drop_exact_duplicates_keeps_the_first() -> None:
    df = make_frame([("a b", 1, "x"), ("a b", 1, "y"), ("a b", 0, "z"), ("c", 0, "x")])
    assert drop_exact_duplicates(df)["user"].tolist() == ["x", "z", "x"]


def test_drop_conflicting_labels_drops_every_copy() -> None:
    df = make_frame([("same", 1), ("same", 0), ("same", 1), ("other", 0), ("other", 0)])
    assert drop_conflicting_labels(df)["text"].tolist() == ["other", "other"]


def test_drop_author_repeats() -> None:
    df = make_frame(
        [
            ("Good morning! http://t.co/1", 0, "ann"),
            ("good morning @bob", 0, "ann"),  # same message by the same user
            ("good morning", 0, "ben"),  # another user may say it too
            ("good morning", 0, ""),  # unknown users are never merged
            ("good morning", 0, ""),
            ("good night", 0, "ann"),
        ]
    )
    assert drop_author_repeats(df)["user"].tolist() == ["ann", "ben", "", "", "ann"]


def test_drop_overlap_matches_loosely() -> None:
    train = load_sentiment140_csv(S140)
    kept = drop_overlap(train, load_manual_test(MANUAL))
    assert len(train) - len(kept) == 2  # alice's tweet, with and without the URL
    assert not kept["text"].str.startswith("my flight got delayed").any()


def test_balance_classes_downsamples_the_majority_with_a_seed() -> None:
    df = make_frame([(f"neg {i}", 1) for i in range(7)] + [(f"pos {i}", 0) for i in range(3)])
    balanced = balance_classes(df, seed=1)
    assert balanced["label"].value_counts().to_dict() == {1: 3, 0: 3}
    assert balanced.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(balanced, balance_classes(df, seed=1))
    seeds = {tuple(balance_classes(df, seed=seed)["text"]) for seed in range(10)}
    assert len(seeds) > 1


def test_balance_classes_needs_two_labels() -> None:
    with pytest.raises(DataError, match="only one label"):
        balance_classes(make_frame([("a", 1), ("b", 1)]))


def test_select_tweets_records_every_step() -> None:
    df = load_sources([S140, POLARITY])
    selected, steps = select_tweets(df, SelectionConfig(), exclude=load_manual_test(MANUAL))
    removed = {step["step"]: step["removed"] for step in steps}
    assert removed == {
        "loaded": 0,
        "drop_empty": 0,
        "english_only": 0,
        "drop_exact_duplicates": 2,  # two tweets appear in both sources
        "drop_conflicting_labels": 2,  # "same old story" is labelled both ways
        "drop_author_repeats": 1,  # alice's tweet with a URL
        "drop_frozen_overlap": 1,  # alice's tweet is in the manual test set
        "balance_classes": 2,  # 16 negative, 14 positive left
    }
    assert steps[-1]["rows"] == len(selected) == 28
    assert steps[-1]["negative"] == steps[-1]["positive"] == 14
    assert selected.index.tolist() == list(range(28))


def test_select_tweets_steps_can_be_switched_off() -> None:
    config = SelectionConfig(
        english_only=False, dedupe=False, drop_conflicts=False, dedupe_author=False, balance=False
    )
    selected, steps = select_tweets(load_sources([S140, POLARITY]), config)
    assert [step["step"] for step in steps] == ["loaded", "drop_empty"]
    assert len(selected) == 36


# --- airline slice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my flight was late", True),
        ("FLIGHTS!", True),
        ("#delta lost my bag", True),
        ("@united thanks for nothing", True),
        ("flying american   airlines tomorrow", True),
        ("British Airways again", True),
        ("o'hare is a zoo", True),
        ("we stood united", True),  # the vocabulary is broad by design
        ("the gateway is down", False),
        ("jetset lifestyle", False),
        ("reunited with my cat", False),
        ("hello world", False),
    ],
)
def test_is_airline(text: str, expected: bool) -> None:
    assert is_airline([text]).tolist() == [expected]


def test_is_airline_takes_custom_terms_and_compiles_once() -> None:
    assert is_airline(["I love cats", "dogs"], ["cats", "hot dog"]).tolist() == [True, False]
    assert is_airline(["anything"], []).tolist() == [False]
    assert airline_pattern(("a", "b")) is airline_pattern(("a", "b"))


# --- splits, fingerprint, report -------------------------------------------------------------


@pytest.fixture
def labelled_200() -> pd.DataFrame:
    rows = [(f"negative tweet {i}", 1) for i in range(60)] + [(f"good {i}", 0) for i in range(140)]
    return make_frame(rows)


def test_split_data_is_stratified_disjoint_and_complete(labelled_200: pd.DataFrame) -> None:
    splits = split_data(labelled_200, test_size=0.1, val_size=0.1, seed=42)
    assert [len(frame) for _, frame in splits.items()] == [160, 20, 20]
    for _, frame in splits.items():
        assert frame["label"].mean() == pytest.approx(0.3, abs=0.03)
    texts = [set(frame["text"]) for _, frame in splits.items()]
    assert not texts[0] & texts[1]
    assert not texts[0] & texts[2]
    assert not texts[1] & texts[2]
    assert set().union(*texts) == set(labelled_200["text"])


def test_split_data_is_deterministic(labelled_200: pd.DataFrame) -> None:
    first, again = split_data(labelled_200, seed=7), split_data(labelled_200, seed=7)
    for (_, a), (_, b) in zip(first.items(), again.items(), strict=True):
        pd.testing.assert_frame_equal(a, b)
    other = split_data(labelled_200, seed=8)
    assert set(other.test["text"]) != set(first.test["text"])


def test_split_data_without_validation(labelled_200: pd.DataFrame) -> None:
    splits = split_data(labelled_200, test_size=0.2, val_size=0.0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (160, 0, 40)


@pytest.mark.parametrize(("test_size", "val_size"), [(0.0, 0.1), (0.5, 0.5), (1.2, 0.0)])
def test_split_data_rejects_bad_sizes(
    labelled_200: pd.DataFrame, test_size: float, val_size: float
) -> None:
    with pytest.raises(DataError, match="bad split sizes"):
        split_data(labelled_200, test_size=test_size, val_size=val_size)


def test_split_data_too_small() -> None:
    with pytest.raises(DataError, match="cannot split 3 rows"):
        split_data(make_frame([("a", 1), ("b", 0), ("c", 1)]))


def test_fingerprint_depends_on_text_and_label_only(labelled_200: pd.DataFrame) -> None:
    fingerprint = data_fingerprint(labelled_200)
    assert len(fingerprint) == 64
    shuffled = labelled_200.sample(frac=1.0, random_state=3).assign(user="someone")
    assert data_fingerprint(shuffled) == fingerprint
    flipped = labelled_200.copy()
    flipped.loc[0, "label"] = 0
    assert data_fingerprint(flipped) != fingerprint
    assert data_fingerprint(labelled_200.iloc[1:]) != fingerprint


def test_vocabulary_size_lowercases() -> None:
    assert vocabulary_size(["Hello hello, world", "WORLD!"]) == 2


def test_build_data_report_is_json_and_complete() -> None:
    df = load_sources([S140, POLARITY])
    manual = load_manual_test(MANUAL)
    selected, steps = select_tweets(df, SelectionConfig(english_only=False), exclude=manual)
    splits = split_data(selected, test_size=0.2, val_size=0.2)
    report = json.loads(json.dumps(build_data_report(steps, selected, splits, manual_test=manual)))
    assert report["steps"][0]["step"] == "loaded"
    assert report["labels"] == {"rows": 28, "negative": 14, "positive": 14, "negative_share": 0.5}
    assert set(report["text_length"]) == {"min", "p50", "p95", "max"}
    assert report["text_length"]["min"] <= report["text_length"]["p50"]
    assert report["vocabulary_size"] > 50
    assert report["airline_rows"] == sum(s["airline"] for s in report["splits"].values()) > 0
    assert sum(s["rows"] for s in report["splits"].values()) == 28
    assert report["manual_test"]["neutral_dropped"] == 2
    assert report["fingerprint"] == data_fingerprint(selected)


# --- download (loopback server only) ---------------------------------------------------------


def build_archive(members: tuple[str, ...] = download.EXPECTED_MEMBERS, rows: int = 400) -> bytes:
    """A small stand-in for the official zip, big enough to be cut in the middle."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            archive.writestr(member, "".join(ROW.format(text=f"tweet {i}") for i in range(rows)))
    return buffer.getvalue()


@dataclass
class FakeArchiveServer:
    """What the loopback server serves and what it was asked."""

    payload: bytes
    url: str = ""
    ranges: list[str | None] = field(default_factory=list)
    truncate_next: int | None = None
    honour_range: bool = True
    status: int = 200


def make_handler(state: FakeArchiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested = self.headers.get("Range")
            state.ranges.append(requested)
            if state.status != 200:
                self.send_error(state.status)
                return
            start = int(requested[6:].split("-")[0]) if requested and state.honour_range else 0
            if start >= len(state.payload) > 0:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(state.payload)}")
                self.end_headers()
                return
            body = state.payload[start:]
            self.send_response(206 if start else 200)
            if start:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(state.payload) - 1}/{len(state.payload)}"
                )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut, state.truncate_next = state.truncate_next, None
            self.wfile.write(body if cut is None else body[:cut])  # then the connection closes

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def archive_server() -> Iterator[FakeArchiveServer]:
    state = FakeArchiveServer(payload=build_archive())
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/{download.ARCHIVE_NAME}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def fetch(cache: Path, server: FakeArchiveServer, **kwargs: object) -> Path:
    return download.download_sentiment140(cache, url=server.url, timeout=5, **kwargs)


def test_download_extracts_records_and_then_uses_the_cache(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    folder = fetch(tmp_path, archive_server)
    assert sorted(path.name for path in folder.iterdir()) == sorted(download.EXPECTED_MEMBERS)
    df = load_sentiment140_csv(folder / download.TRAINING_MEMBER)
    assert len(df) == 400
    record = json.loads((tmp_path / f"{download.ARCHIVE_NAME}.json").read_text())
    assert record["size"] == len(archive_server.payload)
    assert record["sha256"] == download.sha256_of(tmp_path / download.ARCHIVE_NAME)
    assert not (tmp_path / f"{download.ARCHIVE_NAME}.part").exists()
    assert fetch(tmp_path, archive_server) == folder
    assert archive_server.ranges == [None]  # the second call never went out


def test_download_resumes_after_a_truncated_response(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    archive_server.truncate_next = 5000
    folder = fetch(tmp_path, archive_server)
    assert archive_server.ranges == [None, "bytes=5000-"]
    assert (tmp_path / download.ARCHIVE_NAME).read_bytes() == archive_server.payload
    assert (folder / download.MANUAL_TEST_MEMBER).is_file()


def test_download_resumes_a_part_file_left_by_an_earlier_run(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    (tmp_path / f"{download.ARCHIVE_NAME}.part").write_bytes(archive_server.payload[:1234])
    fetch(tmp_path, archive_server)
    assert archive_server.ranges == ["bytes=1234-"]
    assert (tmp_path / download.ARCHIVE_NAME).read_bytes() == archive_server.payload


def test_download_starts_over_when_the_server_ignores_ranges(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    archive_server.honour_range = False
    (tmp_path / f"{download.ARCHIVE_NAME}.part").write_bytes(b"stale bytes from elsewhere")
    fetch(tmp_path, archive_server)
    assert (tmp_path / download.ARCHIVE_NAME).read_bytes() == archive_server.payload


def test_download_stops_after_its_attempts_and_the_next_run_resumes(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    archive_server.truncate_next = 100
    with pytest.raises(DataError, match=r"stopped 1 times .*run again to resume"):
        fetch(tmp_path, archive_server, attempts=1)
    assert (tmp_path / f"{download.ARCHIVE_NAME}.part").stat().st_size == 100
    fetch(tmp_path, archive_server)
    assert archive_server.ranges == [None, "bytes=100-"]
    assert (tmp_path / download.ARCHIVE_NAME).read_bytes() == archive_server.payload


@pytest.mark.parametrize(
    ("payload", "kwargs", "message"),
    [
        (b"<html>not a zip</html>", {}, "not a valid zip"),
        (build_archive((download.TRAINING_MEMBER,)), {}, "lacks testdata.manual"),
        (build_archive(), {"expected_sha256": "0" * 64}, "has sha256 .* expected 0{64}"),
    ],
    ids=["not-a-zip", "missing-member", "wrong-sha256"],
)
def test_download_verification_failures(
    tmp_path: Path,
    archive_server: FakeArchiveServer,
    payload: bytes,
    kwargs: dict[str, str],
    message: str,
) -> None:
    archive_server.payload = payload
    with pytest.raises(DataError, match=message):
        fetch(tmp_path, archive_server, **kwargs)
    assert not (tmp_path / f"{download.ARCHIVE_NAME}.part").exists()  # never resumed
    assert not (tmp_path / download.ARCHIVE_NAME).exists()


def test_download_trusts_on_first_use_then_detects_a_changed_archive(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    fetch(tmp_path, archive_server)
    (tmp_path / download.ARCHIVE_NAME).unlink()
    archive_server.payload = build_archive(rows=401)
    with pytest.raises(DataError, match="differs from the one first recorded"):
        fetch(tmp_path, archive_server)


def test_download_replaces_a_corrupted_cached_archive(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    fetch(tmp_path, archive_server)
    archive = tmp_path / download.ARCHIVE_NAME
    archive.write_bytes(archive_server.payload[:-1] + b"X")
    fetch(tmp_path, archive_server)
    assert archive.read_bytes() == archive_server.payload
    assert len(archive_server.ranges) == 2


def test_download_accepts_an_archive_copied_in_by_hand(
    tmp_path: Path, archive_server: FakeArchiveServer
) -> None:
    (tmp_path / download.ARCHIVE_NAME).write_bytes(archive_server.payload)
    fetch(tmp_path, archive_server)
    assert archive_server.ranges == []
    assert (tmp_path / f"{download.ARCHIVE_NAME}.json").is_file()


def test_download_reports_http_errors(tmp_path: Path, archive_server: FakeArchiveServer) -> None:
    archive_server.status = 404
    with pytest.raises(DataError, match=r"answered HTTP 404.*--data PATH"):
        fetch(tmp_path, archive_server)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_download_offline_fails_at_once_with_one_actionable_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/{download.ARCHIVE_NAME}"
    with pytest.raises(DataError) as caught:
        download.download_sentiment140(tmp_path, url=url, timeout=2)
    message = str(caught.value)
    assert message.startswith("cannot download Sentiment140 (no network:")
    assert "--data PATH" in message
    assert "training_sample_47k.csv" in message
    assert "\n" not in message


def test_download_times_out_at_once_on_a_silent_server(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/{download.ARCHIVE_NAME}"
        with pytest.raises(
            DataError, match=r"^cannot download Sentiment140 \(no network: .*--data"
        ):
            download.download_sentiment140(tmp_path, url=url, timeout=0.5)
