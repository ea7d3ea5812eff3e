"""Errors raised by the core.

Every error a user can cause or meet carries a message that names the problem and
says how to fix it. Pages show ``str(error)`` with ``st.error``; the command line
prints it on one line to stderr and exits non-zero.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class of every expected error of the workbench."""

    exit_code = 2


class InvalidInputError(WorkbenchError, ValueError):
    """The user's input (a file, a query, a time, a parameter) cannot be used."""


class MissingPackageError(InvalidInputError):
    """An optional extra (deltalake, wandb, feast, GX, pyspark…) that this input needs is not installed;
    the message says what to install. Bundle import skips such a folder instead of failing."""


class NotFoundError(WorkbenchError, LookupError):
    """A named object (incident, run, model, file) does not exist."""


class ConcurrentEditError(WorkbenchError):
    """A stale write was refused because someone else changed the object first."""

    exit_code = 3

    def __init__(self, what: str, current: object | None = None):
        super().__init__(
            f"{what} was changed by someone else while you were editing. "
            "Your change was not saved: check the current version, then apply your change again."
        )
        self.current = current


class SourceUnavailableError(WorkbenchError):
    """An external source (Elasticsearch, Prometheus, MLflow, a database) cannot be reached."""

    exit_code = 4


class StoreError(WorkbenchError):
    """The incident store cannot be opened or migrated."""

    exit_code = 4


class BundleError(InvalidInputError):
    """An incident bundle is invalid; ``problems`` lists every problem found."""

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = list(problems or [])
