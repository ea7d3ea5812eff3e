"""The incident store: SQLite by default, PostgreSQL when ``DATABASE_URL`` is set.

``open_store()`` connects, runs the Alembic migrations up to head and returns a
:class:`Store`. Repository functions live in the sibling modules
(``incidents``, ``timeline``, ``evidence``, ``actions``, ``fishbone``) and take
the store as their first argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from core.config import settings
from core.errors import StoreError
from core.redact import redact, redact_url, unparsable_url, url_secrets

__all__ = ["Store", "default_url", "normalize_url", "open_store", "redact_url", "upgrade", "workbench_home"]

# The driver each SQLAlchemy dialect needs, and how to install it (for the "driver missing" message).
_DRIVERS = {"mysql": "pip install mysqlclient, or pip install pymysql and write mysql+pymysql://",
            "mariadb": "pip install mariadb", "mssql": "pip install pyodbc", "oracle": "pip install oracledb",
            "postgresql": "pip install psycopg2-binary"}

MIGRATIONS = Path(__file__).parent / "migrations"


def workbench_home() -> Path:
    """Folder for the embedded store, demo bundles and MLflow data (``WORKBENCH_HOME``)."""
    home = settings().store.home or Path.cwd() / ".workbench"
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_url() -> str:
    return settings().store.database_url or f"sqlite:///{workbench_home() / 'workbench.db'}"


def normalize_url(url: str) -> str:
    """postgres:// and postgresql:// use the psycopg2 driver this project installs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


@dataclass(frozen=True)
class Store:
    engine: Engine
    url: str

    def __repr__(self) -> str:
        return f"Store(url={redact_url(self.url)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    def as_user(self, identity, via: str = "") -> "Store":
        """This store acting as ``identity`` (a :class:`core.team.Identity`): every write is checked
        against its access role and audited with ``via`` (the page or command it came from)."""
        from core.team.guard import ACTOR_OPTION, VIA_OPTION

        return Store(engine=self.engine.execution_options(**{ACTOR_OPTION: identity, VIA_OPTION: via}), url=self.url)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def open_store(url: str | None = None, *, migrate: bool = True) -> Store:
    """Connect to the store at ``url`` (default: ``DATABASE_URL`` or the embedded SQLite file).

    Raises:
        StoreError: the database cannot be opened or migrated; the message names the
            redacted URL and the fix.
    """
    raw = url or default_url()
    url = normalize_url(raw)
    secrets = url_secrets(raw)
    shown = redact_url(url)

    def fail(reason: str, fix: str) -> StoreError:
        return StoreError(redact(f"cannot open the store {shown}: {reason}. {fix}", secrets))

    check = "Check DATABASE_URL (unset it to use the embedded SQLite store) and that the database is running."
    try:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                parent = Path(path).parent
                if not parent.exists():
                    raise fail(f"folder {parent} does not exist", "Create it or point DATABASE_URL elsewhere")
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                                   connect_args={"connect_timeout": 5})
        __import__("core.team.guard", fromlist=["install"]).install(engine)  # role check + audit of every write
        store = Store(engine=engine, url=url)
        if migrate:
            upgrade(store)
        else:
            with engine.connect():
                pass
        return store
    except StoreError:
        raise
    except ImportError as exc:
        dialect = url.split(":", 1)[0].split("+", 1)[0]
        how = _DRIVERS.get(dialect, "install the Python driver of that database")
        raise fail(f"the {dialect} database driver is not installed ({exc})",
                   f"Install it ({how}), or unset DATABASE_URL to use the embedded SQLite store") from None
    except (ValueError, TypeError):  # the URL does not parse (a bad port, a stray bracket)
        # neither the URL nor the parser's message (it quotes a piece, maybe of the password) is shown
        raise StoreError(
            f"cannot open the store: the database URL ({unparsable_url(raw)}) does not parse (a port that is "
            "not a number, or ambiguous punctuation). Check DATABASE_URL's host and port, percent-encode "
            "@ : / ? # in the user name and password, or unset it to use the embedded SQLite store") from None
    except (SQLAlchemyError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise fail(reason, check) from exc


def upgrade(store: Store) -> None:
    """Run the Alembic migrations up to head (idempotent, safe from several processes)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    database = store.engine.url.database if store.dialect == "sqlite" else None
    if database and database != ":memory:":
        from core.store.locks import file_lock

        # serialise concurrent first starts on one SQLite file (its DDL is not transactional here)
        with file_lock(f"{database}.migrate.lock"):
            return _upgrade(store, cfg, command)
    _upgrade(store, cfg, command)


def _upgrade(store: Store, cfg, command) -> None:
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            # serialise concurrent first starts of several replicas
            from sqlalchemy import text

            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        conn.execution_options(workbench_migrating=True)  # schema changes are not checked or audited
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
