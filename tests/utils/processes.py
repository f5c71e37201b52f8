"""Child processes of the tests (Azurite, uvicorn): stopped the same way everywhere."""

from __future__ import annotations

import socket
import subprocess


def stop_process(process: subprocess.Popen | None, timeout: float = 15.0) -> None:
    """Terminate, wait, and kill if it will not go: a test never leaves a server behind."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A loopback port nobody listens on now (the service started next binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
