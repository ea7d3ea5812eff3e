"""Great Expectations: stored validation results read as findings, suites generated and run with real GX."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

gx = pytest.importorskip("great_expectations")

from core.analysis.expectations import load_suite, suggest_suite, suite_json, validate_frame  # noqa: E402
from core.bundle import write_bundle  # noqa: E402
from core.errors import BundleError, InvalidInputError  # noqa: E402
from core.sources.factory import open_source  # noqa: E402
from core.sources.quality_gx import GxQualitySource  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc)


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(100, 10, n), "country": rng.choice(["DE", "FR", "US"], n),
                         "items": rng.integers(1, 5, n)})


def _gx_project(root: Path, frames: list[tuple[datetime, pd.DataFrame]]) -> Path:
    """A real GX file project with one checkpoint run per (time, frame); returns its gx/ folder."""
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx.get_context(mode="file", project_root_dir=str(root))
    source = context.data_sources.add_pandas("payments")
    batch = source.add_dataframe_asset("features").add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name="features"))
    E = gx.expectations
    suite.add_expectation(E.ExpectTableColumnsToMatchSet(column_set=["amount", "country", "items"], exact_match=True))
    suite.add_expectation(E.ExpectColumnMeanToBeBetween(column="items", min_value=1, max_value=4))
    suite.add_expectation(E.ExpectTableRowCountToBeBetween(min_value=100))
    suite.add_expectation(E.ExpectColumnValuesToBeInSet(column="country", value_set=["DE", "FR", "US"]))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="features", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="nightly", validation_definitions=[definition]))
    for at, frame in frames:
        checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name="nightly", run_time=at))
    return root / "gx"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Three nightly runs: fine, then the column ``items`` renamed and rows dropping, then the same again."""
    good = _frame()
    broken = _frame(50, seed=1).rename(columns={"items": "item_count"})
    root = tmp_path_factory.mktemp("gxproject")
    return _gx_project(root, [(T0, good), (T0 + timedelta(days=1), broken), (T0 + timedelta(days=2), broken)])


def _stored(project: Path) -> list[Path]:
    return sorted((project / "uncommitted" / "validations").rglob("*.json"))


def test_a_gx_project_gives_the_failing_checks_and_since_when(project):
    source = open_source("quality", str(project))
    assert isinstance(source, GxQualitySource)
    assert len(_stored(project)) == 3
    found = {(f.expectation, f.column): f for f in source.findings()}
    cols = found[("expect_table_columns_to_match_set", None)]
    assert cols.category == "schema"
    assert cols.since == T0 + timedelta(days=1)  # the first failing run, not the first run
    assert cols.last == T0 + timedelta(days=2) and cols.failed_runs == 2
    assert sorted(cols.observed) == ["amount", "country", "item_count"]
    assert found[("expect_table_row_count_to_be_between", None)].category == "volume"
    assert found[("expect_table_row_count_to_be_between", None)].observed == 50
    items = found[("expect_column_mean_to_be_between", "items")]
    assert items.category == "schema" and "does not exist" in str(items.observed)  # the renamed column
    assert ("expect_column_values_to_be_in_set", "country") not in found  # it passed every run
    # before the rename nothing fails; the results table has one row per expectation run
    assert source.findings(until=T0) == []
    table = source.results()
    assert len(table) == 12 and set(table["success"]) == {True, False}
    events = source.events()
    assert {e["kind"] for e in events} == {"alert"}
    assert min(e["timestamp"] for e in events) == (T0 + timedelta(days=1)).isoformat()  # events.jsonl text


def test_a_folder_of_results_and_a_bundle_quality_folder(project, tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    for i, f in enumerate(_stored(project)):
        shutil.copy(f, folder / f"run{i}.json")
    assert len(open_source("quality", str(folder)).findings()) == 3
    # a checkpoint result holding the validation results, in one file
    combined = {"run_results": {f"r{i}": {"validation_result": json.loads(f.read_text())}
                                for i, f in enumerate(_stored(project))}}
    one = tmp_path / "checkpoint.json"
    one.write_text(json.dumps(combined))
    assert len(open_source("quality", str(one)).findings()) == 3

    bundle = _bundle(tmp_path / "b", columns=["amount", "country", "items", "item_count"])
    shutil.copytree(folder, bundle / "quality")
    source = open_source("quality", f"bundle:{bundle}")
    assert {f.expectation for f in source.findings()} >= {"expect_table_columns_to_match_set"}


def _bundle(path: Path, columns: list[str]) -> Path:
    manifest = {
        "id": "gx-1", "title": "GX", "summary": "", "service": "svc",
        "kpi": {"metric": "kpi", "direction": "higher_is_better"},
        "window": {"start": "2026-03-01T00:00:00Z", "end": "2026-03-04T00:00:00Z"},
        "datasets": {"features": {"file": "datasets/f.csv"}},
    }
    metrics = {"kpi": pd.DataFrame({"timestamp": pd.date_range("2026-03-01", periods=3, freq="D", tz="UTC"),
                                    "value": [1.0, 2.0, 3.0]})}
    return write_bundle(path, manifest, metrics=metrics, datasets={"f.csv": pd.DataFrame({c: [1] for c in columns})})


def test_bad_results_are_refused_whole_naming_the_file(project, tmp_path):
    good = _stored(project)[0]
    text = good.read_text()

    def folder_with(name: str, content: str) -> Path:
        d = tmp_path / name
        d.mkdir()
        shutil.copy(good, d / "a_good.json")
        (d / "b_bad.json").write_text(content)
        return d

    with pytest.raises(InvalidInputError, match=r"b_bad\.json: is not valid JSON.*cut off"):
        GxQualitySource(folder_with("cut", text[: len(text) // 2]))
    partial = json.loads(text)
    del partial["results"][0]["expectation_config"]
    with pytest.raises(InvalidInputError, match=r"b_bad\.json: result: results\[0\] has no 'expectation_config'"):
        GxQualitySource(folder_with("partial", json.dumps(partial)))
    no_time = json.loads(text)
    no_time["meta"].pop("run_id")
    no_time["meta"].pop("validation_time")
    with pytest.raises(InvalidInputError, match=r"b_bad\.json: result: no run time"):
        GxQualitySource(folder_with("notime", json.dumps(no_time)))
    with pytest.raises(InvalidInputError, match=r"b_bad\.json: is not a GX validation result"):
        GxQualitySource(folder_with("other", json.dumps({"hello": 1})))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="no GX validation results found"):
        open_source("quality", str(empty))
    # a result naming a column that none of the bundle's datasets has
    bundle = _bundle(tmp_path / "b", columns=["amount", "country"])
    shutil.copytree(_stored(project)[0].parent, bundle / "quality")
    with pytest.raises(InvalidInputError, match=r"names column 'items', which is in none of the datasets"):
        open_source("quality", str(bundle))
    # a bundle without quality/ says so
    with pytest.raises(BundleError, match="has no quality/ folder"):
        open_source("quality", str(_bundle(tmp_path / "b2", columns=["amount"])))


def test_a_generated_suite_passes_on_its_reference_and_catches_incident_changes():
    reference = _frame(500)
    suite = suggest_suite(reference, "payments")
    types = {e["type"] for e in suite["expectations"]}
    assert {"expect_table_columns_to_match_set", "expect_column_values_to_be_in_type_list",
            "expect_column_proportion_of_non_null_values_to_be_between", "expect_column_values_to_be_between",
            "expect_column_values_to_be_in_set"} <= types
    assert validate_frame(reference, suite).success
    assert validate_frame(_frame(300, seed=5), suite).success  # same process, other sample: no false alarm

    current = _frame(300, seed=5)
    current["amount"] = current["amount"] * 100  # cents instead of euros
    current.loc[current.index[:90], "country"] = None  # 30 % nulls
    current["items"] = current["items"].astype(str)  # retyped
    report = validate_frame(current.rename(columns={"country": "country_code"}), suite)
    failed = {(r.expectation, r.column): r for r in report.failed}
    assert failed[("expect_table_columns_to_match_set", None)].category == "schema"
    assert failed[("expect_column_values_to_be_in_set", "country")].observed == "column country is missing"
    assert failed[("expect_column_values_to_be_in_type_list", "items")].category == "schema"
    assert failed[("expect_column_mean_to_be_between", "amount")].category == "distribution"

    nulls = _frame(300, seed=6)
    nulls.loc[nulls.index[:90], "country"] = None
    report = validate_frame(nulls, suite)
    assert [(r.expectation, r.column) for r in report.failed] == [
        ("expect_column_proportion_of_non_null_values_to_be_between", "country")]


def test_a_saved_suite_is_read_by_gx_itself(tmp_path):
    suite = suggest_suite(_frame(), "payments")
    context = gx.get_context(mode="file", project_root_dir=str(tmp_path))
    (tmp_path / "gx" / "expectations" / "payments.json").write_text(suite_json(suite))
    stored = context.suites.get("payments")
    assert len(stored.expectations) == len(suite["expectations"])
    again = load_suite(tmp_path / "gx" / "expectations" / "payments.json")
    assert validate_frame(_frame(), again).success
    (tmp_path / "bad.json").write_text('{"name": "x", "expectations": [{"kwargs": {}}]}')
    with pytest.raises(InvalidInputError, match=r"bad\.json: expectations\[0\] needs 'type'"):
        load_suite(tmp_path / "bad.json")


def test_without_gx_installed_the_checks_say_how_to_install(tmp_path):
    code = ("import sys; sys.modules['great_expectations'] = None\n"
            "import pandas as pd\n"
            "from core.analysis.expectations import suggest_suite\n"
            "from core.errors import InvalidInputError\n"
            "try:\n    suggest_suite(pd.DataFrame({'a': [1]}))\n"
            "except InvalidInputError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "pip install -r requirements-gx.txt" in out.stdout, out.stderr


# ---------------------------------------------------------------- triage


def _incident_bundle(path: Path) -> Path:
    """A KPI that drops at T0 + 1 day, with the payments columns before and after the rename."""
    times = pd.date_range(T0, T0 + timedelta(days=3), freq="h", inclusive="left")
    rng = np.random.default_rng(3)
    values = np.where(times < T0 + timedelta(days=1), 0.9, 0.6) + rng.normal(0, 0.005, len(times))
    manifest = {
        "id": "gx-incident", "title": "Payments model degraded", "summary": "", "service": "payments",
        "kpi": {"metric": "kpi", "direction": "higher_is_better"},
        "window": {"start": (T0 + timedelta(hours=12)).isoformat(), "end": (T0 + timedelta(days=3)).isoformat()},
        "baseline": {"start": T0.isoformat(), "end": (T0 + timedelta(hours=12)).isoformat()},
        "datasets": {"features": {"file": "datasets/f.csv"}},
    }
    frame = pd.DataFrame({"amount": [1.0], "country": ["DE"], "items": [1], "item_count": [1]})
    return write_bundle(path, manifest, metrics={"kpi": pd.DataFrame({"timestamp": times, "value": values})},
                        datasets={"f.csv": frame})


@pytest.fixture()
def quality_step():
    import core.triage as tr
    from core.triage.steps.quality import QualityStep

    added = "quality" not in [s.name for s in tr.registered_steps()]
    if added:
        tr.register(QualityStep())
    yield
    if added:
        tr.unregister("quality")


def test_failed_checks_are_triage_evidence(project, tmp_path, quality_step):
    from core.triage import triage_bundle

    bundle = _incident_bundle(tmp_path / "b")
    shutil.copytree(project / "uncommitted" / "validations", bundle / "quality")
    result = triage_bundle(bundle)
    step = next(s for s in result.steps if s.name == "quality")
    assert step.status == "ok" and "failing" in step.summary
    by_class = {h.root_cause.value: h for h in result.hypotheses}
    schema = [s for s in by_class["schema_change"].signals if s.rule == "gx_schema_check_failed"]
    assert schema and schema[0].strength == 1.0 and "since 2026-03-02 00:00" in schema[0].evidence.detail
    assert any(s.rule == "gx_freshness_check_failed" for s in by_class["stale_data"].signals)
    assert result.hypotheses[0].root_cause.value == "schema_change"


def test_without_a_quality_folder_the_step_is_skipped_and_lowers_no_confidence(tmp_path, quality_step):
    import core.triage as tr
    from core.triage import triage_bundle

    bundle = _incident_bundle(tmp_path / "b")
    with_step = triage_bundle(bundle)
    step = next(s for s in with_step.not_configured if s.name == "quality")  # not used, not "unchecked"
    assert step.status == "skipped" and "no quality/ folder" in step.summary
    assert "quality" not in {s.name for s in with_step.skipped}
    tr.unregister("quality")
    try:
        without = triage_bundle(bundle)
    finally:
        tr.register(__import__("core.triage.steps.quality", fromlist=["x"]).QualityStep())
    assert [h.confidence for h in with_step.hypotheses] == [h.confidence for h in without.hypotheses]


def test_a_broken_quality_folder_fails_the_step_not_triage(tmp_path, quality_step):
    from core.triage import triage_bundle

    bundle = _incident_bundle(tmp_path / "b")
    (bundle / "quality").mkdir()
    (bundle / "quality" / "run.json").write_text('{"results": [')
    result = triage_bundle(bundle)
    step = next(s for s in result.steps if s.name == "quality")
    assert step.status == "failed" and "run.json: is not valid JSON" in step.summary


# ---------------------------------------------------------------- command line


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "quality", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_cli_lists_failing_checks_with_exit_codes(project, tmp_path):
    out = _cli(str(project), "--json")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["checks"] == 4 and data["runs"] == 12
    assert {f["expectation"] for f in data["failed"]} == {
        "expect_table_columns_to_match_set", "expect_column_mean_to_be_between", "expect_table_row_count_to_be_between"}
    text = _cli(str(project))
    assert text.returncode == 1 and "3 of 4 check(s) failing" in text.stdout and "since 2026-03-02 00:00" in text.stdout
    passing = tmp_path / "passing"
    passing.mkdir()
    shutil.copy(_stored(project)[0], passing / "run.json")
    assert _cli(str(passing)).returncode == 0
    (passing / "cut.json").write_text('{"results": [')
    bad = _cli(str(passing))
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "cut.json: is not valid JSON" in bad.stderr and "Traceback" not in bad.stderr


def test_a_checkpoint_summary_needs_a_run_time_and_the_source_meets_its_protocol(tmp_path):
    from great_expectations.core.run_identifier import RunIdentifier

    from core.sources.protocols import DataQualitySource

    context = gx.get_context(mode="ephemeral")
    batch = context.data_sources.add_pandas("p").add_dataframe_asset("f").add_batch_definition_whole_dataframe("w")
    suite = context.suites.add(gx.ExpectationSuite(name="s"))
    suite.add_expectation(gx.expectations.ExpectColumnToExist(column="gone"))
    definition = context.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name="c", validation_definitions=[definition]))
    result = checkpoint.run(batch_parameters={"dataframe": _frame(10)}, run_id=RunIdentifier(run_time=T0))
    summary = result.describe_dict()
    (tmp_path / "summary.json").write_text(json.dumps(summary, default=str))
    with pytest.raises(InvalidInputError, match=r"summary\.json: a checkpoint summary .* carries no run time"):
        GxQualitySource(tmp_path / "summary.json")
    (tmp_path / "summary.json").write_text(json.dumps({**summary, "run_time": T0.isoformat()}, default=str))
    source = GxQualitySource(tmp_path / "summary.json")
    assert isinstance(source, DataQualitySource)
    [finding] = source.findings()
    assert (finding.expectation, finding.column, finding.category, finding.since) == (
        "expect_column_to_exist", "gone", "schema", T0)
