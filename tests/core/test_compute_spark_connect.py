"""The Spark engine over Spark Connect (``SPARK_REMOTE`` / ``sc://host:port/…``), against a real Spark
Connect server: pyspark's own ``SparkConnectServer`` started with ``spark-submit`` on ``local[2]`` (Java 17
from Debian), as a cluster's Connect endpoint would answer. The client side needs ``pyspark[connect]``
(grpcio), installed by ``requirements-spark.txt``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytest.importorskip("pyspark", reason="pip install -r requirements-spark.txt")
pytest.importorskip("grpc", reason="Spark Connect needs pyspark's connect extra: pip install -r requirements-spark.txt")

from core.compute import run_drift  # noqa: E402
from core.compute.protocol import EngineUnavailableError  # noqa: E402
from tests.core.test_compute import write_windows  # noqa: E402
from tests.servers import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ROWS = 2_000
SPLIT = datetime(2026, 1, 2, tzinfo=timezone.utc)
pytestmark = pytest.mark.timeout(900)  # a JVM start and a few dozen Spark jobs; slow only on a crowded machine


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A real Spark Connect server on loopback; its address as ``sc://127.0.0.1:PORT``."""
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    log = tmp_path_factory.mktemp("spark-connect") / "server.log"
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    cmd = [str(home / "bin" / "spark-submit"), "--master", "local[2]",
           "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
           "--conf", f"spark.connect.grpc.binding.port={port}",
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
           "--conf", "spark.driver.memory=1g", "spark-internal"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_windows(tmp_path_factory.mktemp("spark-connect-data"), rows=ROWS)


def _drift_cli(*args: str, env: dict[str, str] | None = None) -> dict:
    """``python -m core drift … --json`` in its own process, as automation runs it (pyspark allows one kind
    of session per process: this test process already holds the local one of test_compute_spark.py)."""
    out = subprocess.run([sys.executable, "-m", "core", "drift", *args, "--json"], capture_output=True, text=True,
                         timeout=840, cwd=ROOT, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def _same_within_bounds(exact: dict, sketched: dict) -> None:
    """The same drifted columns and findings; each exact KS inside the sketched figure's stated interval."""
    def drifted(report):
        return {c["column"] for c in report["columns"] if c["drifted"]}

    def findings(report):
        return sorted((f["kind"], tuple(f["columns"])) for f in report["schema"])

    assert drifted(sketched) == drifted(exact) and drifted(exact)
    assert findings(sketched) == findings(exact)
    by_name = {c["column"]: c for c in sketched["columns"]}
    checked = 0
    for col in exact["columns"]:
        if "ks" in col["tests"]:
            ks = by_name[col["column"]]["tests"]["ks"]
            low, high = ks["interval"]
            assert low - 1e-9 <= col["tests"]["ks"]["statistic"] <= high + 1e-9, col["column"]
            assert ks["error_bound"] >= 0
            checked += 1
    assert checked >= 3


def test_a_location_on_spark_connect_gives_the_in_process_findings_within_its_bounds(connect_server, files):
    exact = _drift_cli(str(files["reference"]), str(files["current"]), "--engine", "memory")
    # the location names the Connect server (an absolute path after the address); auto picks Spark from it
    remote = _drift_cli(f"{connect_server}/{files['both']}", "--timestamp", "ts", "--split", SPLIT.isoformat())
    assert remote["engine"]["name"] == "spark" and remote["engine"]["remote"] == connect_server
    assert remote["engine"]["master"] is None and remote["engine"]["exact"] is False
    assert 0 < remote["engine"]["ks_error_bound"] < 0.01
    assert (remote["n_reference"], remote["n_current"]) == (ROWS, ROWS)
    _same_within_bounds({**exact, "columns": [c for c in exact["columns"] if c["column"] != "ts"]}, remote)


def test_spark_remote_from_the_environment_is_used(connect_server, files):
    report = _drift_cli(str(files["reference"]), str(files["current"]), "--engine", "spark",
                        env={"SPARK_REMOTE": connect_server})
    assert report["engine"]["remote"] == connect_server and report["engine"]["name"] == "spark"


def test_a_connect_server_that_is_not_there_is_named():
    port = free_port()
    with pytest.raises(EngineUnavailableError, match=rf"Spark Connect at sc://127.0.0.1:{port} cannot be reached"):
        # paths on a cluster are the cluster's: nothing is checked here, the unreachable server is the error
        run_drift(f"sc://127.0.0.1:{port}//data/x.parquet", f"sc://127.0.0.1:{port}//data/y.parquet",
                  engine="auto", engine_options={"timeout": 30})
    out = subprocess.run([sys.executable, "-m", "core", "drift", f"sc://127.0.0.1:{port}/db.requests",
                          "--timestamp", "ts", "--split", SPLIT.isoformat()], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 4 and "cannot be reached" in out.stderr and "Traceback" not in out.stderr


def test_a_token_in_the_connect_address_is_never_shown():
    port = free_port()
    remote = f"sc://127.0.0.1:{port}/;token=SECRET-TOKEN-123"
    with pytest.raises(EngineUnavailableError) as caught:
        run_drift("/data/x.parquet", "/data/y.parquet", engine="spark", engine_options={"remote": remote, "timeout": 30})
    assert f"sc://127.0.0.1:{port}" in str(caught.value) and "SECRET-TOKEN-123" not in str(caught.value)
