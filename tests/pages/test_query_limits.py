"""AppTest: a query over the limits in the Logs page's ``?q=`` is a clear error, never a traceback."""

from __future__ import annotations

PAGE = "app_pages/logs.py"


def test_deeply_nested_query_from_the_url_is_a_clear_error(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale", q="(" * 1000 + "timeout" + ")" * 1000)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and all("WORKBENCH_QUERY_MAX_DEPTH" in e for e in errors)
    assert any(e.startswith("**The query cannot run.** the query nests 1,000 levels deep") for e in errors)


def test_a_query_over_the_size_limit_is_a_clear_error(app_test):
    at = app_test(PAGE, incident="demo-fraud-stale", q=" OR ".join(f"t{i}" for i in range(5000)))
    assert not at.exception
    assert any("more than the 10,000 allowed" in e.value and "narrow the query" in e.value for e in at.error)
