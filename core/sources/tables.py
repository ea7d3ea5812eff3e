"""The one reader of tables by file suffix: CSV, Parquet, JSON Lines (and ``.txt`` as CSV where asked).

Every place that reads a table file picks its pandas reader here (datasets, series files,
bundle datasets), so a suffix means the same thing everywhere and a bad file gives the same
message: ``NAME: cannot be read as PARQUET (ArrowInvalid: …); check the file and its extension``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from core.errors import InvalidInputError

__all__ = ["TABLE_SUFFIXES", "read_table", "reader_for", "table_columns"]

#: The suffixes of a table file, in the order messages name them.
TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".ndjson")


def _json_lines(source: Any, **kwargs: Any) -> pd.DataFrame:
    return pd.read_json(source, lines=True, **kwargs)


_READERS: dict[str, Callable[..., pd.DataFrame]] = {
    ".parquet": pd.read_parquet, ".csv": pd.read_csv, ".txt": pd.read_csv,
    ".jsonl": _json_lines, ".ndjson": _json_lines,
}


def reader_for(suffix: str, allowed: Iterable[str] = TABLE_SUFFIXES, *, name: str = "") -> Callable[..., pd.DataFrame]:
    """The pandas reader of ``suffix`` (``.csv``, ``.parquet``, ``.jsonl``/``.ndjson``, ``.txt`` as CSV).

    Raises:
        InvalidInputError: ``suffix`` is not in ``allowed``.
    """
    suffix = suffix.lower()
    if suffix not in tuple(allowed) or suffix not in _READERS:
        raise InvalidInputError(f"{name}: unsupported file type '{suffix or '(none)'}'; use .parquet, .csv or .jsonl")
    return _READERS[suffix]


def read_table(source: Path | str | bytes, *, name: str | None = None, suffix: str | None = None,
               allowed: Iterable[str] = TABLE_SUFFIXES, **kwargs: Any) -> pd.DataFrame:
    """Read a table file (a path, or the bytes of an upload with its ``name``) by its suffix.

    Args:
        source: a path, or the file's bytes.
        name: the name shown in messages (default: the file name); its suffix is used for bytes.
        suffix: the format, when it is not the name's suffix.
        allowed: the suffixes this caller accepts.
        kwargs: passed to the pandas reader (e.g. ``nrows`` for CSV).

    Raises:
        InvalidInputError: unsupported suffix, missing file, or a file that is not what its suffix says.
    """
    path = None if isinstance(source, (bytes, bytearray)) else Path(source)
    shown = name or (path.name if path is not None else "the file")
    suffix = (suffix or Path(name or (path.name if path is not None else "")).suffix).lower()
    read = reader_for(suffix, allowed, name=shown)
    try:
        return read(io.BytesIO(source) if path is None else path, **kwargs)
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - readers raise many types; all mean "bad file"
        raise InvalidInputError(
            f"{shown}: cannot be read as {suffix[1:].upper()} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'}); check the file and its extension"
        ) from exc


def table_columns(path: Path | str) -> list[str]:
    """The column names of a table file, reading only its schema (Parquet) or first rows.

    Raises:
        InvalidInputError: as :func:`read_table`.
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as exc:  # noqa: BLE001 - any reader failure means the file is unreadable
            raise InvalidInputError(f"{path.name}: cannot be read as PARQUET ({type(exc).__name__}); "
                                    "check the file and its extension") from exc
    return list(read_table(path, nrows=5).columns)
