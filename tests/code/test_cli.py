"""`bad-buzz` on bad input: a non-zero exit and one `error:` line on stderr, never a traceback.

Most cases call `main()` in-process (fast); two run the real module in a subprocess to check
what a user's terminal gets. Progress lines ("… step", "✓ step (0.1 s)") may precede the error
line on stderr: they are the only other lines allowed there.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.settings import get_settings
from tests.utils.bundles import build_tiny_bundle
from tests.utils.corpus import make_corpus, write_corpus_csv
from training import cli
from training.cli import options as cli_options

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
    monkeypatch.setattr(cli_options, "start_tracking", lambda settings: None)
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


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("FEEDBACK_MAX_PER_HOUR", "abc", "FEEDBACK_MAX_PER_HOUR: Input should be a valid integer"),
        ("AUTH_MODE", "bogus", "AUTH_MODE: Input should be 'none' or 'api_key'"),
    ],
)
def test_a_bad_setting_is_named_with_its_rule(
    variable: str, value: str, fragment: str, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not pydantic's first line ("1 validation error for Settings"): which and why."""
    monkeypatch.setenv(variable, value)
    assert_one_error_line(run("harvest"), fragment)


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


# --- every command against fresh state: one line and an exit code, never a traceback ----------

ORIGINAL_START_TRACKING = cli_options.start_tracking
DEFAULT_BUNDLE = REPO_ROOT / "models" / "default"


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store just created (tables only), made once: migrations take seconds."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root = tmp_path_factory.mktemp("mlflow-template")
    SqlAlchemyStore(f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri())
    return root / "mlflow.db"


@pytest.fixture
def fresh_mlflow(workspace: Path, monkeypatch: pytest.MonkeyPatch, empty_mlflow_db: Path) -> str:
    """A brand-new MLflow tracking store in the test's folder, really configured by commands."""
    (workspace / "mlruns").mkdir()
    shutil.copyfile(empty_mlflow_db, workspace / "mlruns" / "mlflow.db")
    uri = f"sqlite:///{workspace / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setattr(cli_options, "start_tracking", ORIGINAL_START_TRACKING)
    get_settings.cache_clear()
    return uri


@pytest.fixture
def busy_port():
    """A loopback port somebody else already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# command -> (arguments after the command, fragment of the one error line); "empty" is an empty
# folder, the store is empty, MLflow is fresh, nothing is prepared. None: the command succeeds.
FRESH_STATE: dict[str, tuple[list[str], str | None]] = {
    "prepare": (["--data-dir", "empty"], "no training CSV"),
    "train": ([], "no prepared data"),
    "export": ([], "no prepared data"),
    "evaluate": ([str(DEFAULT_BUNDLE)], "no prepared data"),
    "publish": ([], "no bundle in"),
    "run": (["--data-dir", "empty", "--no-serve"], "no training CSV"),
    "serve": (["--port", "{busy_port}"], "already in use"),
    "ablation": ([], "no prepared data"),
    "corpus-study": (["--data-dir", "empty"], "no training CSV"),
    "compare-airline": ([], "no prepared data"),
    "harvest": ([], None),
    "retrain": (["--data-dir", "empty"], "no training CSV"),
    "rollback": ([], "no previous champion"),
    "repair": ([], "no stored version can serve (the store is empty)"),
}


def test_every_command_has_a_fresh_state_case() -> None:
    """A new command must say how it behaves on a fresh machine: add it to FRESH_STATE."""
    import typer.main

    assert set(typer.main.get_command(cli.app).commands) == set(FRESH_STATE)


@pytest.mark.parametrize("command", list(FRESH_STATE))
def test_command_on_fresh_state(
    command: str, run, workspace: Path, fresh_mlflow: str, busy_port: int
) -> None:
    arguments, fragment = FRESH_STATE[command]
    (workspace / "empty").mkdir()
    result = run(command, *(a.format(busy_port=busy_port) for a in arguments))
    if fragment is None:
        assert (result.code, "Traceback" in result.err) == (0, False), result
    else:
        assert_one_error_line(result, fragment)


def test_publish_of_a_bundle_registered_elsewhere_into_a_fresh_mlflow(
    run, workspace: Path, fresh_mlflow: str
) -> None:
    """models/default names a registry version this tracking store never had: warn, succeed."""
    from shared.bundle import read_manifest

    result = run("publish", DEFAULT_BUNDLE)
    assert result.code == 0, result
    assert "Traceback" not in result.err
    version = read_manifest(DEFAULT_BUNDLE).version
    assert result.out.strip() == f"published {version} as champion"
    warnings = [line for line in result.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.err
    assert "MLflow alias 'champion' not moved" in warnings[0]
    assert (workspace / "store" / "champion.json").is_file()


def test_a_third_party_exception_is_one_named_line(run, monkeypatch, fresh_mlflow) -> None:
    """An exception the project does not know (MLflow's, here) still ends in one line, exit 1."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus://nowhere")
    get_settings.cache_clear()
    result = run("train")
    assert result.code == 1, result
    assert "Traceback" not in result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert "Exception" in last
    assert "--debug" in last
    assert "bogus" in last


def test_debug_shows_the_traceback(run, monkeypatch, fresh_mlflow) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "bogus://nowhere")
    get_settings.cache_clear()
    result = run("--debug", "train")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err
    assert result.err.strip().splitlines()[-1].startswith("error: ")


def test_serve_on_a_busy_port_suggests_another(run, busy_port: int) -> None:
    line = assert_one_error_line(run("serve", "--port", busy_port), f"port {busy_port}", "--port")
    suggested = int(line.rsplit("--port ", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", suggested))  # the suggestion was free


def test_run_checks_the_port_before_training(run, workspace: Path, busy_port: int) -> None:
    source = write_corpus_csv(workspace / "corpus.csv", make_corpus(200, seed=4))
    result = run("run", "--data", source, "--port", busy_port, "--work-dir", "work")
    assert_one_error_line(result, "already in use")
    assert not (workspace / "work").exists()  # nothing was trained


# --- the model store from the CLI: every state can be recovered -------------------------------


@pytest.fixture(scope="module")
def cli_bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-bundles")
    return {v: build_tiny_bundle(root / v, version=v) for v in ("v1", "v2", "v3")}


def store_of(workspace: Path):
    from shared.model_store import ModelStore
    from shared.storage import LocalObjectStore

    return ModelStore(LocalObjectStore(workspace / "store"))


def test_publish_and_rollback_over_a_truncated_pointer(run, workspace, cli_bundles) -> None:
    for version in ("v1", "v2"):
        assert run("publish", cli_bundles[version]).code == 0
    pointer_file = workspace / "store" / "champion.json"
    pointer_file.write_bytes(pointer_file.read_bytes()[:25])
    assert_one_error_line(run("rollback"), "not valid", "bad-buzz repair", "stored: v1, v2")
    result = run("publish", cli_bundles["v3"])
    assert result.code == 0, result
    assert "note: replaced an invalid champion.json" in result.err
    pointer = store_of(workspace).read_champion()
    assert (pointer.version, pointer.previous) == ("v3", ["v2", "v1"])


@pytest.mark.parametrize("command", [["repair"], ["rollback", "--to", "v1"]])
def test_a_truncated_pointer_is_repaired_from_the_cli(
    command: list[str], run, workspace, cli_bundles
) -> None:
    for version in ("v1", "v2"):
        assert run("publish", cli_bundles[version]).code == 0
    (workspace / "store" / "champion.json").write_bytes(b'{"version": "v2", "prev')
    result = run(*command)
    assert result.code == 0, result
    expected = "v2" if command == ["repair"] else "v1"
    assert expected in result.out.strip().splitlines()[-1]
    assert store_of(workspace).read_champion().version == expected
    assert run("repair").out.strip() == f"champion.json is fine: champion {expected} serves"


def test_rollback_onto_a_corrupt_model_is_refused(run, workspace, cli_bundles) -> None:
    for version in ("v1", "v2"):
        assert run("publish", cli_bundles[version]).code == 0
    model = workspace / "store" / "v1" / "model.onnx"
    model.write_bytes(model.read_bytes()[:100])
    before = (workspace / "store" / "champion.json").read_bytes()
    assert_one_error_line(run("rollback"), "previous champion version v1", "sha256", "--to")
    assert (workspace / "store" / "champion.json").read_bytes() == before
    result = run("repair")  # the champion v2 still serves: nothing to do
    assert result.out.strip() == "champion.json is fine: champion v2 serves"


def test_rollback_keeps_the_version_rolled_back_from(run, workspace, cli_bundles) -> None:
    for version in ("v1", "v2", "v3"):
        assert run("publish", cli_bundles[version]).code == 0
    assert run("rollback").out.strip() == "champion is now v2"
    assert run("rollback", "--to", "v3").out.strip() == "champion is now v3"
    assert_one_error_line(run("rollback", "--to", "v9"), "no published version v9", "v1, v2, v3")


def test_publish_refuses_a_bundle_that_does_not_load(run, workspace, cli_bundles) -> None:
    from shared.bundle import read_manifest, sha256_file, write_manifest

    bundle = workspace / "garbage"
    shutil.copytree(cli_bundles["v1"], bundle)
    (bundle / "model.onnx").write_bytes(b"not an onnx graph")
    manifest = read_manifest(bundle)
    sha = sha256_file(bundle / "model.onnx")
    write_manifest(bundle, manifest.model_copy(update={"model_sha256": sha}))
    assert_one_error_line(run("publish", bundle), "does not load and score in onnxruntime")
    assert store_of(workspace).list_versions() == []


# --- `bad-buzz run`: a report file, a short summary, a fresh serving process -----------------


def mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_run_serves_from_a_fresh_process_and_reports_to_a_file(workspace: Path) -> None:
    import httpx

    from tests.utils.processes import free_port, stop_process

    source = write_corpus_csv(workspace / "corpus.csv", make_corpus(200, seed=4))
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "MODEL_STORE_PATH": str(workspace / "store"),
        "MODEL_CACHE_DIR": str(workspace / "cache"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workspace / 'mlflow.db'}",
        "TRANSLATION_ENABLED": "false",
        "TELEMETRY_EXPORTER": "none",
    }
    command = [sys.executable, "-m", "training.cli", "run", "--data", str(source)]
    command += ["--work-dir", "work", "--bundle-root", "bundles", "--port", str(port)]
    with (workspace / "out.txt").open("wb") as out, (workspace / "err.txt").open("wb") as err:
        process = subprocess.Popen(command, cwd=workspace, env=env, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert health is not None, (workspace / "err.txt").read_text()[-2000:]
        maps = mapped_files(process.pid)  # the same PID, a new process image
        answer = httpx.post(f"http://127.0.0.1:{port}/api/predict", json={"text": "bad day"})
    finally:
        stop_process(process)
    assert "/sklearn/" not in maps  # the training process's memory is gone
    assert "/pandas/" not in maps
    report = json.loads((workspace / "work" / "run_report.json").read_text())
    assert set(report["steps"]) == {"prepare", "train", "export", "publish"}
    assert answer.json()["model_version"] == report["bundle"]["version"]
    lines = (workspace / "out.txt").read_text().strip().splitlines()
    assert len(lines) <= 6, lines
    assert not any(line.startswith(("{", "[", " ")) for line in lines), lines
    assert lines[-2] == f"report: {Path('work') / 'run_report.json'}"
