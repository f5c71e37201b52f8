"""Service fixtures for integration tests: a real Azurite blob service on a free loopback port.

Azurite runs with --inMemoryPersistence, so `stop()` followed by `start()` (same port, same
connection string) comes back EMPTY: fault tests that restart it must re-publish what they need.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.processes import free_port, stop_process

AZURITE_BINARY = "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
# The well-known, public Azurite development key (documented by Microsoft, hard-coded in
# Azurite's own source); not a secret.
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
START_TIMEOUT_SECONDS = 30.0


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Azurite:
    """One azurite-blob process that tests may stop and restart on the same port."""

    def __init__(self, binary: str, workspace: Path, port: int) -> None:
        self.binary = binary
        self.workspace = workspace
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_path = workspace / "azurite.stderr.log"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT};"
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start (or restart) on `self.port`; returns once the port accepts connections."""
        if self.running:
            return
        command = [
            *(self.binary, "--blobHost", "127.0.0.1", "--blobPort", str(self.port)),
            *("--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry"),
        ]  # no --location: Azurite 3.35 refuses it with --inMemoryPersistence; cwd instead
        with self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                command, cwd=self.workspace, stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not accepts_connections(self.port):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                stderr = self.stderr_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"azurite-blob did not listen on {self.port}:\n{stderr}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Kill the process; the port stops accepting connections at once."""
        stop_process(self.process, timeout=10)
        self.process = None


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A running Azurite for the whole session (in-memory: a restart loses all data)."""
    binary = shutil.which(AZURITE_BINARY)
    if binary is None:
        pytest.skip(f"{AZURITE_BINARY} not on PATH (npm install -g azurite)")
    service = Azurite(binary, tmp_path_factory.mktemp("azurite"), free_port())
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def blob_container(azurite: Azurite) -> str:
    """A fresh container name; restarts Azurite if an earlier fault test left it stopped."""
    azurite.start()
    return f"test-{uuid.uuid4().hex[:20]}"
