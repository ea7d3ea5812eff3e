"""AppTest of the Large data panel (ui/backends.py) on the Distributions page."""

from __future__ import annotations

from tests.core.test_compute import write_windows

PAGE = "app_pages/distributions.py"


def _panel(at):
    return next(e for e in at.expander if e.label.startswith("Large data"))


def test_a_folder_split_by_time_runs_on_duckdb_and_says_so(app_test, tmp_path):
    files = write_windows(tmp_path / "data", rows=500)
    at = app_test(PAGE, incident="demo-ctr-drop")
    assert not at.exception
    at.text_input(key="backends_ref").input(str(files["both"])).run()
    assert any("auto will run on DuckDB" in c.value for c in _panel(at).caption)
    at.text_input(key="backends_ts").input("ts").run()
    at.text_input(key="backends_split").input("2026-01-02T00:00:00Z").run()
    at.text_input(key="backends_prediction").input("score").run()
    at.button(key="backends_run").click().run()
    assert not at.exception
    panel = _panel(at)
    assert any(s.value.startswith("Ran on DuckDB") for s in panel.success)
    assert any("KS within" in i.value for i in panel.info)
    metrics = {m.label: m.value for m in panel.metric}
    assert metrics["Reference rows"] == "500" and metrics["Current rows"] == "500"
    table = panel.dataframe[0].value
    assert set(table.loc[table["verdict"].str.startswith("drifted"), "column"]) >= {"amount", "shifted"}
    assert "±" in " ".join(table["effect size"])
    assert any("collapsed" in m.value for m in panel.markdown)


def test_a_missing_location_is_a_message(app_test, tmp_path):
    at = app_test(PAGE, incident="demo-ctr-drop")
    at.text_input(key="backends_ref").input(str(tmp_path / "nowhere")).run()
    at.text_input(key="backends_cur").input(str(tmp_path / "nowhere2")).run()
    at.selectbox(key="backends_engine").set_value("duckdb").run()
    at.button(key="backends_run").click().run()
    assert not at.exception
    assert any("no such file, folder or table" in e.value for e in _panel(at).error)
