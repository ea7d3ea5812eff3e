"""Start, wait for and stop the real servers that tests run as subprocesses (MLflow, Prometheus, Streamlit)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def running(cmd: list[str], log_path: Path, ready: Callable[[], bool], *, what: str, timeout: float = 90,
            **popen) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` with output to ``log_path`` until ``ready()`` holds; stop it on exit.

    Raises:
        RuntimeError: the process exited or was not ready in time; the message ends with its log.
    """
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                state = "exited" if proc.poll() is not None else f"was not ready after {timeout:.0f} s"
                raise RuntimeError(f"{what} {state}:\n{Path(log_path).read_text()[-2000:]}")
            time.sleep(0.25)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
