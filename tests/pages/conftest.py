"""AppTest fixtures: every page test runs the real app over a store seeded with the demo incidents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory, demo_bundles) -> Path:
    """A workbench home whose store holds the demo incidents (built once per session)."""
    import os

    from core.demo import ensure_demo_incidents
    from core.store import open_store

    home = tmp_path_factory.mktemp("workbench-home")
    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        store = open_store(f"sqlite:///{home / 'workbench.db'}")
        ensure_demo_incidents(store, demo_bundles)
        store.dispose()
    finally:
        if old is None:
            os.environ.pop("WORKBENCH_HOME", None)
        else:
            os.environ["WORKBENCH_HOME"] = old
    return home


@pytest.fixture
def workbench_home(seeded_home, tmp_path, monkeypatch) -> Path:
    """A private copy of the seeded home, so tests may edit freely."""
    home = tmp_path / "home"
    shutil.copytree(seeded_home, home)
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(ROOT)
    return home


@pytest.fixture
def empty_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty workbench home: the app builds the demo incidents itself, in the background."""
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(ROOT)
    return home


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_test(workbench_home):
    """``app_test("app_pages/logs.py", incident="demo-ctr-drop")`` -> a run AppTest on that page."""
    from streamlit.testing.v1 import AppTest

    def make(page: str | None = None, *, incident: str | None = None, timeout: float = 60, **params):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        if incident:
            at.query_params["incident"] = incident
        for k, v in params.items():
            at.query_params[k] = v
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at

    return make
