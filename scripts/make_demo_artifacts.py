"""Make the schema-change demo's Great Expectations results and dbt artifacts with the real tools.

Run once, from the repository root, when the schema-change demo's data or story changes:

    pip install -r requirements-gx.txt -r requirements-dbt.txt
    python scripts/make_demo_artifacts.py

It writes ``core/demo/data/schema_change/quality/`` and ``core/demo/data/schema_change/dbt/``, which
are committed; ``core/demo/schema_change.py`` copies them into the demo bundle as they are, so the
app needs neither GX nor dbt at run time.

* **quality/**: a real GX 1.x file project in a temporary folder. The suite ``lab_results`` (the
  column set of the demo's prediction log, ``mean area`` within its reference range, a row
  count) is validated by a checkpoint once an hour, from 2026-01-20 22:00Z to
  2026-01-21 21:00Z, each run on the rows of the demo's datasets (reference before the 09:00Z change,
  current after it) of the hour before it. GX stamps each run with the time given to it
  (``RunIdentifier``). The stored results are copied trimmed (no tracebacks, no rendered content),
  with the suite as ``quality/expectations/lab_results.json``.
* **dbt/**: a real ``dbt build`` and ``dbt docs generate`` on DuckDB of a small project: a source
  ``lab_raw.lab_results`` (the lab measurements), a model ``stg_lab_results`` (the upstream export)
  and the feature model ``lab_features`` (``meta: feature_table: true``) with a ``not_null`` test on
  ``mean radius``. The nightly run (2026-01-21 02:00Z) on the reference rows is kept as
  ``dbt/previous/manifest.json``; then ``stg_lab_results`` becomes export v2 (``mean radius`` renamed
  ``radius_mean``, ``mean area`` in 0.1 mm² units) and is built at 08:48Z on the current rows (as
  they were before the export: the same values, old names and unit): ``dbt/manifest.json``,
  ``run_results.json`` and ``catalog.json``. dbt stamps artifacts with the wall clock, so this script
  moves every time in an artifact by one offset per run (the run's real start → its demo start,
  durations unchanged), and replaces the temporary project path with ``lab_features``. Manifests keep
  only what the lineage reader uses (no macros or docs blocks).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.demo import schema_change as demo  # noqa: E402

OUT = ROOT / "core" / "demo" / "data" / "schema_change"
GX_RUNS = [demo.t("2026-01-20T22:00") + timedelta(hours=h) for h in range(24)]
DBT_NIGHTLY = demo.t("2026-01-21T02:00")
DBT_RELEASE = demo.UPSTREAM_RELEASE  # 08:48Z: the upstream export v2 is deployed and built


def demo_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo's reference and current datasets, exactly as the generator writes them."""
    reference, current, _before, _after = demo._snapshots(np.random.default_rng(demo.SEED))
    return reference, current


# ------------------------------------------------------------------ Great Expectations

def _trim_validation(obj: dict) -> dict:
    results = []
    for r in obj["results"]:
        config = r["expectation_config"]
        info = r.get("exception_info") or {}
        if "raised_exception" not in info:  # GX keys it per metric when a metric raised
            info = next((v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")), {})
        result = {k: v for k, v in (r.get("result") or {}).items()
                  if k in ("observed_value", "element_count", "unexpected_count", "unexpected_percent",
                           "missing_count", "partial_unexpected_list", "details")}
        if isinstance(result.get("partial_unexpected_list"), list):
            result["partial_unexpected_list"] = result["partial_unexpected_list"][:5]
        message = str(info.get("exception_message") or "")
        results.append({
            "success": r["success"],
            "expectation_config": {"type": config["type"], "kwargs": config["kwargs"], "meta": config.get("meta") or {},
                                   "id": config.get("id")},
            "result": result,
            "exception_info": {"raised_exception": bool(info.get("raised_exception")),
                               "exception_message": message.strip().splitlines()[-1] if message.strip() else None,
                               "exception_traceback": None},
        })
    meta = obj["meta"]
    return {"success": obj["success"], "suite_name": obj["suite_name"], "statistics": obj.get("statistics"),
            "meta": {k: meta[k] for k in ("great_expectations_version", "active_batch_definition", "validation_time", "checkpoint_id",
                                          "run_id", "validation_id")
                     if k in meta},
            "results": results}


def make_quality(reference: pd.DataFrame, current: pd.DataFrame, out: Path) -> None:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from core.analysis.expectations import gx_frame

    rows = pd.concat([reference, current], ignore_index=True)
    ref_area = reference["mean area"]
    span = float(ref_area.max() - ref_area.min())
    with tempfile.TemporaryDirectory(prefix="demo-gx-") as tmp:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="file", project_root_dir=tmp)
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        batch = (context.data_sources.add_pandas("lab_systems").add_dataframe_asset("lab_results")
                 .add_batch_definition_whole_dataframe("hourly"))
        suite = context.suites.add(gx.ExpectationSuite(name="lab_results"))
        E = gx.expectations
        suite.add_expectation(E.ExpectTableColumnsToMatchSet(column_set=list(reference.columns), exact_match=True))
        suite.add_expectation(E.ExpectColumnValuesToBeBetween(
            column="mean area", min_value=max(0.0, round(float(ref_area.min()) - 0.1 * span, 1)),
            max_value=round(float(ref_area.max()) + 0.1 * span, 1), mostly=0.99))
        suite.add_expectation(E.ExpectTableRowCountToBeBetween(min_value=1))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name="lab_results_hourly", data=batch, suite=suite))
        checkpoint = context.checkpoints.add(gx.Checkpoint(name="lab_results_hourly",
                                                           validation_definitions=[definition]))
        ts = pd.to_datetime(rows["ts"], utc=True)
        for at in GX_RUNS:
            hour = rows[(ts > at - timedelta(hours=1)) & (ts <= at)]
            # the export's shape at that hour: v2 (renamed column) from the change on
            hour = hour.dropna(axis=1, how="all")
            checkpoint.run(batch_parameters={"dataframe": gx_frame(hour.reset_index(drop=True))},
                           run_id=RunIdentifier(run_name="hourly", run_time=at))
        stored = sorted((Path(tmp) / "gx" / "uncommitted" / "validations").rglob("*.json"))
        if len(stored) != len(GX_RUNS):
            raise SystemExit(f"GX stored {len(stored)} results for {len(GX_RUNS)} runs")
        shutil.rmtree(out, ignore_errors=True)
        (out / "lab_results_hourly").mkdir(parents=True)
        for f in stored:
            obj = _trim_validation(json.loads(f.read_text()))
            run_time = datetime.fromisoformat(obj["meta"]["run_id"]["run_time"]).astimezone(timezone.utc)
            (out / "lab_results_hourly" / f"{run_time:%Y%m%dT%H%M%SZ}.json").write_text(
                json.dumps(obj, indent=1, sort_keys=True) + "\n")
        (out / "expectations").mkdir()
        shutil.copy(Path(tmp) / "gx" / "expectations" / "lab_results.json", out / "expectations" / "lab_results.json")


# ------------------------------------------------------------------ dbt

def _quoted(col: str) -> str:
    return f'"{col}"'


def _project_files(feature_cols: list[str], *, v2: bool) -> dict[str, str]:
    renamed = {demo.RENAMED[0]: demo.RENAMED[1]} if v2 else {}
    stg_doc = ["ts", "request_id", *(renamed.get(c, c) for c in feature_cols)]
    stg_cols = "".join(f"      - name: {c}\n        quote: true\n" for c in stg_doc)
    if v2:
        stg_sql = ("-- lab-results export v2: column names normalised, areas in 0.1 mm² units\n"
                   "select * replace (\"mean area\" * 10 as \"mean area\") rename (\"mean radius\" as radius_mean)\n"
                   "from {{ source('lab_raw', 'lab_results') }}\n")
    else:
        stg_sql = ("-- lab-results export v1\n"
                   "select " + ",\n    ".join(["ts", "request_id", *map(_quoted, feature_cols)]) +
                   "\nfrom {{ source('lab_raw', 'lab_results') }}\n")
    return {
        "dbt_project.yml": ("name: lab_features\nversion: '1.0'\nprofile: lab_features\nmodel-paths: ['models']\n"
                            "models:\n  lab_features:\n    +materialized: table\n"),
        "models/sources.yml": ("version: 2\nsources:\n  - name: lab_raw\n    schema: raw\n    tables:\n"
                               "      - name: lab_results\n        description: lab measurements as the "
                               "instruments report them\n"),
        "models/stg_lab_results.sql": stg_sql,
        "models/lab_features.sql": "select * from {{ ref('stg_lab_results') }}\n",
        "models/schema.yml": (
            "version: 2\nmodels:\n"
            "  - name: stg_lab_results\n    description: the lab-results export (owned by lab-systems)\n"
            f"    columns:\n{stg_cols}"
            "  - name: lab_features\n    description: the lab-scorer's feature table\n"
            "    config:\n      meta: {feature_table: true}\n"
            "    columns:\n      - name: request_id\n        tests: [not_null]\n"
            "      - name: mean radius\n        quote: true\n        tests: [not_null]\n"
            "      - name: mean area\n        quote: true\n"),
    }


def _dbt(project: Path, *args: str) -> None:
    from dbt.cli.main import dbtRunner

    res = dbtRunner().invoke([*args, "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"])
    if res.exception is not None:
        raise SystemExit(f"dbt {' '.join(args)} failed: {res.exception}")


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def _shift(obj, offset: timedelta, lo: datetime, hi: datetime):
    """Every time in ``obj`` between ``lo`` and ``hi`` (the run's wall clock) moved by ``offset``."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "created_at" and isinstance(v, (int, float)) and lo.timestamp() <= v <= hi.timestamp():
                out[k] = v + offset.total_seconds()
            else:
                out[k] = _shift(v, offset, lo, hi)
        return out
    if isinstance(obj, list):
        return [_shift(v, offset, lo, hi) for v in obj]
    if isinstance(obj, str) and _ISO.match(obj):
        at = datetime.fromisoformat(obj.replace("Z", "+00:00"))
        aware = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        if lo <= aware <= hi:
            moved = (aware + offset).astimezone(timezone.utc)
            return moved.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return obj


def _run(project: Path, db: Path, raw: pd.DataFrame, at: datetime, out: Path, *, docs: bool) -> None:
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("create schema if not exists raw")
        con.register("frame", raw)
        con.execute("create or replace table raw.lab_results as select * from frame")
    finally:
        con.close()
    target = project / "target"
    shutil.rmtree(target, ignore_errors=True)
    start = datetime.now(timezone.utc)
    _dbt(project, "build")
    files = {"manifest.json": json.loads((target / "manifest.json").read_text()),
             "run_results.json": json.loads((target / "run_results.json").read_text())}
    if docs:
        _dbt(project, "docs", "generate")  # rewrites run_results.json: the build's copy is kept above
        files["catalog.json"] = json.loads((target / "catalog.json").read_text())
    end = datetime.now(timezone.utc) + timedelta(seconds=1)
    offset = at - start
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        data = _shift(data, offset, start - timedelta(minutes=5), end)
        data["metadata"].pop("invocation_id", None)  # a random id per run: kept out of the committed files
        if name == "manifest.json":
            data = {k: data[k] for k in ("metadata", "nodes", "sources", "exposures", "parent_map", "child_map")
                    if k in data}
        text = json.dumps(data, indent=1, sort_keys=True).replace(str(project), "lab_features")
        text = text.replace(str(db), "warehouse.duckdb")
        (out / name).write_text(text + "\n")


def make_dbt(reference: pd.DataFrame, current: pd.DataFrame, out: Path) -> None:
    features = [c for c in reference.columns if c not in ("ts", "request_id", "prediction", "probability_benign",
                                                          "label")]
    before = reference[["ts", "request_id", *features]]
    # the measurements behind the current rows, as the instruments report them (old name, old unit)
    after = current.rename(columns={demo.RENAMED[1]: demo.RENAMED[0]})
    after[demo.RESCALED[0]] = after[demo.RESCALED[0]] / demo.RESCALED[1]
    after = after[["ts", "request_id", *features]]
    old = {k: os.environ.get(k) for k in ("DBT_SEND_ANONYMOUS_USAGE_STATS", "DBT_PARTIAL_PARSE")}
    os.environ.update(DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_PARTIAL_PARSE="false")
    try:
        with tempfile.TemporaryDirectory(prefix="demo-dbt-") as tmp:
            project, db = Path(tmp) / "project", Path(tmp) / "warehouse.duckdb"

            def write(v2: bool) -> None:
                for name, text in _project_files(features, v2=v2).items():
                    (project / name).parent.mkdir(parents=True, exist_ok=True)
                    (project / name).write_text(text)

            write(v2=False)
            (project / "profiles.yml").write_text(
                "lab_features:\n  target: prod\n  outputs:\n    prod:\n      type: duckdb\n"
                f"      path: '{db}'\n      threads: 1\n")
            nightly = Path(tmp) / "nightly"
            _run(project, db, before, DBT_NIGHTLY, nightly, docs=False)
            write(v2=True)
            shutil.rmtree(out, ignore_errors=True)
            _run(project, db, after, DBT_RELEASE, out, docs=True)
            (out / "previous").mkdir()
            shutil.copy(nightly / "manifest.json", out / "previous" / "manifest.json")
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


def main() -> None:
    reference, current = demo_frames()
    make_quality(reference, current, OUT / "quality")
    make_dbt(reference, current, OUT / "dbt")
    for f in sorted(OUT.rglob("*.json")):
        size = f.stat().st_size
        print(f"{f.relative_to(ROOT)}  {size / 1024:.1f} KB")
        if size > 150_000:
            raise SystemExit(f"{f} is {size} bytes; trim it")


if __name__ == "__main__":
    main()
