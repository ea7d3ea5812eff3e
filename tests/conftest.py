"""Shared fixtures: real SQLite and PostgreSQL stores, and the seeded demo bundles."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get("WORKBENCH_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def demo_bundles(tmp_path_factory) -> dict[str, Path]:
    """The three demo bundles, generated once per test session (id -> directory)."""
    from core.demo import generate_demo_bundles

    return generate_demo_bundles(tmp_path_factory.mktemp("demo-bundles"))


@pytest.fixture
def sqlite_store(tmp_path):
    from core.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


def _pg_available() -> bool:
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sqlalchemy.exc.OperationalError:
        return False


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}; .ci/run must start it")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    return PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin_url):
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy

    name = f"wb_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    base = pg_admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def pg_store(pg_url):
    from core.store import open_store

    store = open_store(pg_url)
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    """The same test against both backends."""
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


def reset_sentry() -> None:
    """Leave no Sentry client, scope data or trace propagation behind (sentry-sdk state is process-wide:
    a test that initialised it would otherwise add its trace headers to every later test's HTTP calls)."""
    import sentry_sdk

    sentry_sdk.flush()
    sentry_sdk.init(dsn=None, default_integrations=False, trace_propagation_targets=[])
    for scope in (sentry_sdk.get_global_scope(), sentry_sdk.get_isolation_scope(), sentry_sdk.get_current_scope()):
        scope.clear()
