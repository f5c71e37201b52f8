"""The edges of `bad-buzz run` and `bad-buzz serve`: the run report, its summary, the port check,
and the hand-over from the training process to a fresh serving process.

Why a fresh process: training leaves scikit-learn, pandas, MLflow and the corpus in memory
(~800 MB resident); the server needs none of it (~200 MB). `exec_serve` replaces the process image
with `bad-buzz serve`: the same PID (Ctrl-C and service managers keep working) and all the
training memory returned to the operating system.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.bundle import Manifest

REPORT_FILE = "run_report.json"


class ServeError(RuntimeError):
    """The server cannot start here (port taken, host unknown): one line that says what to pass."""


def check_port_free(host: str, port: int) -> None:
    """Bind and release `host:port` the way uvicorn will (SO_REUSEADDR), before starting it.

    Raises ServeError: the port is taken (with a free port to try) or the host does not resolve.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: cannot resolve ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except PermissionError as exc:
            raise ServeError(f"port {port} on {host} needs privileges; try --port 7071") from exc
        except OSError as exc:
            raise ServeError(
                f"port {port} on {host} is already in use ({exc.strerror}); "
                f"pick another with --port, e.g. --port {free_port(host)}"
            ) from exc


def free_port(host: str) -> int:
    """A port free on `host` now, to suggest in the error line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve_command(host: str, port: int) -> list[str]:
    """`bad-buzz serve` as argv, via this interpreter (the console script may not be on PATH)."""
    return [sys.executable, "-m", "training.cli", "serve", "--host", host, "--port", str(port)]


def exec_serve(host: str, port: int) -> None:
    """Replace this process with `bad-buzz serve`; never returns (see the module docstring)."""
    command = serve_command(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)  # noqa: S606 - our own interpreter and module, no shell


@contextlib.contextmanager
def captured_stdout(outputs: dict[str, Any], step: str) -> Iterator[None]:
    """Collect what a step prints into `outputs[step]` (parsed when it is JSON), not the screen."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        text = buffer.getvalue().strip()
        try:
            outputs[step] = json.loads(text)
        except ValueError:
            outputs[step] = text.splitlines()


def write_report(path: Path, outputs: dict[str, Any], manifest: Manifest | None) -> Path:
    """The whole run in one JSON file: each step's output and the published manifest."""
    report = {
        "finished_at": datetime.now(UTC).isoformat(),
        "command": " ".join(["bad-buzz", *sys.argv[1:]]),
        "steps": outputs,
        "bundle": manifest.model_dump(mode="json") if manifest else None,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def summary_lines(manifest: Manifest, store: str, report: Path) -> list[str]:
    """A few lines for the terminal; the details are in the report file."""
    metrics = manifest.metrics
    kind = manifest.extra.get("kind", "model")

    def figure(name: str) -> str:
        value = metrics.get(name)
        return "n/a" if value is None else f"{value:.3f}"

    return [
        f"model: {kind}, test accuracy {figure('test_accuracy')}, "
        f"negative recall {figure('test_recall_neg')}, threshold {manifest.threshold:.3f}",
        f"champion: {manifest.version} in {store}",
        f"report: {report}",
    ]
