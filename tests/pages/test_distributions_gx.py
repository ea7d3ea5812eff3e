"""AppTest of the Distributions page's data checks: real Great Expectations, run on request, saved as a GX suite."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("great_expectations")

PAGE = "app_pages/distributions.py"


def test_data_checks_run_on_request_and_save_the_suite(app_test):
    at = app_test(PAGE, incident="demo-schema-change")
    assert not at.exception
    assert "Data checks (Great Expectations)" in [e.label for e in at.expander]
    assert not any("check(s) failed" in w.value for w in at.warning)  # nothing runs before the click
    at.button(key="distributions_gx_run").click().run(timeout=120)
    assert not at.exception
    message = next(w.value for w in at.warning if "check(s) failed" in w.value)
    assert not message.startswith("0 of")
    table = next(df.value for df in at.dataframe if "expectation" in df.value.columns)
    failed = table[table["result"] == "FAIL"]
    assert "schema" in set(failed["category"])  # the renamed column fails the column-set check
    assert "expect_table_columns_to_match_set" in set(failed["expectation"])
