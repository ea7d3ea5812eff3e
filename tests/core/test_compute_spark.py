"""The Spark engine (pyspark ``local[2]``, Java 17 from Debian): the in-process findings within its bounds.

One Spark session for the module (started once by the first report); the data is small so the
module stays around a minute on a shared machine.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytest.importorskip("pyspark", reason="pip install -r requirements-spark.txt")

from core.compute import DriftOptions, TableNotFoundError, run_drift  # noqa: E402
from core.errors import InvalidInputError  # noqa: E402
from tests.core.test_compute import assert_same_within_bounds, write_windows  # noqa: E402

ROWS = 2_000
SPLIT = datetime(2026, 1, 2, tzinfo=timezone.utc)
OPTIONS = DriftOptions(prediction="score", exclude=("ts", "seen_at", "steady"), multivariate=False)
pytestmark = pytest.mark.timeout(900)  # one Spark session start; slow only on a crowded machine


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_windows(tmp_path_factory.mktemp("spark"), rows=ROWS)


@pytest.fixture(scope="module")
def spark_run(files):
    """The one Spark report of the module: a folder cut at a time, engine picked by ``auto``."""
    return run_drift(f"spark:{files['both']}", engine="auto", timestamp="ts", split=SPLIT, options=OPTIONS)


def test_spark_gives_the_in_process_findings_within_its_bounds(files, spark_run):
    report, choice = spark_run
    exact, _ = run_drift(str(files["reference"]), str(files["current"]), engine="memory", options=OPTIONS)
    assert choice.name == "spark"
    assert (report.n_reference, report.n_current) == (ROWS, ROWS)
    assert_same_within_bounds(exact, report)
    assert report.engine["name"] == "spark" and report.engine["master"] == "local[2]"


def test_a_table_that_does_not_exist_is_named(spark_run):
    with pytest.raises(TableNotFoundError, match="no_such_db.requests"):
        run_drift("no_such_db.requests", "no_such_db.requests", engine="spark")


def test_a_location_on_another_spark_is_refused(files, spark_run):
    with pytest.raises(InvalidInputError, match="another Spark"):  # the engine was given its own Spark
        run_drift("sc://elsewhere:15002/db.t", str(files["current"]), engine="spark",
                  engine_options={"master": "local[2]"})
    with pytest.raises(InvalidInputError, match="name two Sparks"):
        run_drift("sc://one:15002/db.t", "spark://two:7077/db.t", engine="auto")
