"""`bad-buzz` on bad input: a non-zero exit and one `error:` line on stderr, never a traceback.

Most cases call `main()` in-process (fast); two run the real module in a subprocess to check
what a user's terminal gets. Progress lines ("… step", "✓ step (0.1 s)") may precede the error
line on stderr: they are the only other lines allowed there.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.settings import get_settings
from tests.utils.corpus import make_corpus, write_corpus_csv
from training import cli

pytestmark = pytest.mark.code

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRESS_MARKS = ("… ", "✓ ")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder with a local model store, and keep MLflow out of it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_STORE_PATH", str(tmp_path / "store"))
    for name in ("MODEL_STORE_CONNECTION_STRING", "MODEL_STORE_ACCOUNT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cli, "start_tracking", lambda settings: None)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def invoke(*args: object) -> Result:
        monkeypatch.setattr(sys, "argv", ["bad-buzz", *map(str, args)])
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return invoke


def assert_one_error_line(result: Result, *fragments: str) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.err
    assert lines[-1] == errors[0]
    assert all(line.startswith(PROGRESS_MARKS) for line in lines[:-1]), result.err
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def zipped_csv() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tweets.csv", "polarity,text\n0,bad day\n")
    return buffer.getvalue()


BAD_FILES = {
    "wrong_columns": ("polarity,tweet\n0,my flight is late\n", "unrecognised format"),
    "two_label_columns": (
        "polarity,label,text\n0,1,my flight is late\n",
        "expected columns polarity,text or label,text",
    ),
    "unknown_labels": ("polarity,text\n7,my flight is late\n0,so sad\n", "unknown labels '7'"),
    "header_only": ("polarity,text\n", "header but no rows"),
    "empty_file": ("", "file is empty"),
    "utf16": ("polarity,text\n0,bad day\n".encode("utf-16"), "unreadable encoding"),
    "zip": (zipped_csv(), "unreadable encoding"),
    "nul_bytes": (b"polarity,text\n0,bad\x00day\n", "unreadable encoding"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_prepare_refuses_a_bad_file_in_one_line(case: str, run, workspace: Path) -> None:
    content, fragment = BAD_FILES[case]
    source = write(workspace / f"{case}.csv", content)
    assert_one_error_line(run("prepare", "--data", source), f"{source}: ", fragment)
    assert not (workspace / ".local").exists()


def test_prepare_refuses_a_missing_file(run) -> None:
    assert_one_error_line(run("prepare", "--data", "nope.csv"), "nope.csv: no such file")


@pytest.mark.parametrize(
    "texts",
    [
        ["", "   "],  # nothing but empty tweets
        ["je suis tellement fatigué aujourd'hui, rien ne marche comme prévu"] * 2,
    ],
    ids=["empty_texts", "not_english"],
)
def test_prepare_refuses_data_that_selection_empties(texts: list[str], run, workspace) -> None:
    rows = "".join(f'{polarity},"{text}"\n' for polarity, text in zip((0, 4), texts, strict=True))
    source = write(workspace / "filtered.csv", "polarity,text\n" + rows)
    assert_one_error_line(run("prepare", "--data", source), "after selection")
    assert not (workspace / ".local" / "work" / "data" / "train.parquet").exists()


def test_prepare_refuses_a_data_dir_that_is_not_a_folder(run, workspace: Path) -> None:
    assert_one_error_line(run("prepare", "--data-dir", "missing"), "is not a folder")
    (workspace / "empty").mkdir()
    assert_one_error_line(run("prepare", "--data-dir", "empty"), "no training CSV")


def test_train_without_prepared_data(run) -> None:
    assert_one_error_line(run("train", "--work-dir", "work"), "no prepared data", "prepare")


@pytest.mark.parametrize("command", ["publish", "evaluate"])
def test_commands_needing_a_bundle_say_so(command: str, run) -> None:
    assert_one_error_line(run(command, "--bundle-root", "bundles"), "no bundle in bundles")


def test_publish_refuses_a_folder_that_is_not_a_bundle(run, workspace: Path) -> None:
    (workspace / "not-a-bundle").mkdir()
    assert_one_error_line(run("publish", "not-a-bundle"), "no manifest.json")


def test_rollback_without_history(run) -> None:
    assert_one_error_line(run("rollback"), "no previous champion")


def test_retrain_without_a_champion(run, workspace: Path) -> None:
    source = write_corpus_csv(workspace / "corpus.csv", make_corpus(200, seed=4))
    result = run("retrain", "--data", source, "--work-dir", "work")
    assert_one_error_line(result, "no champion")


def test_help_exits_zero(run) -> None:
    result = run("--help")
    assert result.code == 0
    assert "Usage:" in result.out
    for command in ("prepare", "train", "export", "publish", "retrain", "rollback"):
        assert command in result.out


def test_a_good_prepare_writes_only_progress_to_stderr(run, workspace: Path) -> None:
    source = write_corpus_csv(workspace / "corpus.csv", make_corpus(200, seed=4))
    result = run("prepare", "--data", source, "--work-dir", "work")
    assert result.code == 0, result
    assert '"fingerprint"' in result.out
    assert all(line.startswith(PROGRESS_MARKS) for line in result.err.strip().splitlines())
    assert (workspace / "work" / "data" / "train.parquet").is_file()


def test_a_usage_error_is_shown_without_a_traceback(run) -> None:
    result = run("prepare", "--no-such-option")
    assert result.code == 2
    assert "No such option: --no-such-option" in result.err
    assert "Traceback" not in result.err


# --- the real entry point --------------------------------------------------------------------


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MODEL_STORE_PATH": str(cwd / "store")}
    return subprocess.run(
        [sys.executable, "-m", "training.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_module_entry_point_prints_one_error_line(workspace: Path) -> None:
    process = run_module("prepare", "--data", "nope.csv", cwd=workspace)
    assert_one_error_line(
        Result(process.returncode, process.stdout, process.stderr), "nope.csv: no such file"
    )
    assert process.stdout == ""


def test_module_entry_point_usage_error_has_no_traceback(workspace: Path) -> None:
    process = run_module("prepare", "--no-such-option", cwd=workspace)
    assert process.returncode == 2
    assert "No such option" in process.stderr
    assert "Traceback" not in process.stderr
