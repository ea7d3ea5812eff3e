"""Advisory file locks that serialise work of several processes on one machine.

Two app replicas starting at once on a fresh home both migrate the SQLite store and build
the demo bundles; a lock file makes them take turns. The lock is released when the block
ends or the process dies, even by kill -9. Where ``fcntl`` is missing (not POSIX) the lock
is a no-op, and the database constraints alone keep the result consistent.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


@contextmanager
def file_lock(path: Path | str) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def try_lock(fh: IO) -> bool:
    """Take the lock of an open file without waiting; False when another process holds it."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def lock(fh: IO) -> None:
    """Take the lock of an open file, waiting for it."""
    if fcntl is not None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
