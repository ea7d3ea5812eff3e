"""The training baseline: the data a model was trained on, as its MLflow run records it.

MLflow records a run's datasets as *dataset inputs* (``mlflow.log_input(mlflow.data.from_pandas(df,
source=…), context="training")``): a name, a digest, a source (JSON such as ``{"uri": "…"}``) and a
context tag. :func:`training_inputs` picks the run's training inputs (context ``training``; when no input
has a context, every input); :func:`read_training_data` reads one from its source when the source is a
local file (CSV, Parquet, JSONL), a Delta table (at the recorded ``delta_table_version`` if any) or a
partition folder, and checks the rows against the recorded digest with MLflow's own digest function
(``digest_matches``: True, False, or None when the digest cannot be recomputed).

A run without dataset inputs, a source that is not a local path (``s3://…``) or a path that does not
exist is an :class:`~core.errors.InvalidInputError` saying so: nothing is guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pandas as pd

from core.errors import InvalidInputError
from core.sources.mlflow_runs import DatasetRef, RunRecord

__all__ = ["TrainingData", "read_training_data", "source_location", "training_inputs", "training_run_of_model"]


@dataclass(frozen=True)
class TrainingData:
    """The rows a model was trained on, where they came from and whether they match the recorded digest."""

    frame: pd.DataFrame
    dataset: DatasetRef
    location: str
    digest_matches: bool | None

    @property
    def label(self) -> str:
        return f"training data {self.dataset.name} ({self.dataset.digest})"

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset.to_dict(), "location": self.location, "rows": len(self.frame),
                "digest_matches": self.digest_matches}


def training_inputs(run: RunRecord) -> list[DatasetRef]:
    """The run's training datasets: inputs with context ``training``, else every input when none has a context.

    Raises:
        InvalidInputError: the run records no dataset input.
    """
    if not run.datasets:
        raise InvalidInputError(
            f"MLflow run {run.label} records no dataset inputs; log the training data with "
            "mlflow.log_input(mlflow.data.from_pandas(df, source=PATH), context='training')"
        )
    training = [d for d in run.datasets if d.context == "training"]
    if training:
        return training
    if all(not d.context for d in run.datasets):
        return list(run.datasets)
    contexts = sorted({d.context for d in run.datasets})
    raise InvalidInputError(f"MLflow run {run.label} records no training dataset (contexts: {', '.join(contexts)})")


def source_location(dataset: DatasetRef) -> tuple[str, dict[str, Any]]:
    """The local path of a dataset input's source and the source's JSON fields.

    Raises:
        InvalidInputError: the source names no path, or a remote one.
    """
    try:
        fields = json.loads(dataset.source) if dataset.source else {}
    except ValueError:
        fields = {"uri": dataset.source}
    if not isinstance(fields, dict):
        fields = {}
    raw = next((str(fields[k]) for k in ("uri", "path", "url") if fields.get(k)), "")
    if not raw:
        raise InvalidInputError(f"dataset input {dataset.name} has no source path (source: {dataset.source[:120]!r})")
    parsed = urlparse(raw)
    if parsed.scheme in ("", "file"):
        return (unquote(parsed.path) if parsed.scheme == "file" else raw), fields
    raise InvalidInputError(
        f"dataset input {dataset.name} lives at {raw[:160]}, which this machine cannot read; copy it locally "
        "or log the input with a local source path"
    )


def _recomputed_digest(frame: pd.DataFrame) -> str | None:
    try:
        from mlflow.data.digest_utils import compute_pandas_digest
    except ImportError:  # pragma: no cover - mlflow is a dependency of the app
        return None
    try:
        return str(compute_pandas_digest(frame))
    except (TypeError, ValueError):
        return None


def read_training_data(dataset: DatasetRef, *, limit: int | None = None) -> TrainingData:
    """Read a training dataset input from its local source and check its digest.

    Raises:
        InvalidInputError: no local source, the path does not exist, or the file is unreadable.
    """
    path_text, fields = source_location(dataset)
    path = Path(path_text).expanduser()
    if not path.exists():
        raise InvalidInputError(f"the training data of {dataset.name} was at {path}, which no longer exists")
    if path.is_dir():
        from core.sources.datasets_delta import open_versions

        table = open_versions(path).table()
        version = fields.get("delta_table_version", fields.get("version"))
        frame = table.read(version=version, limit=limit)
    else:
        from core.sources.datasets import read_dataset

        frame = read_dataset(path, limit=limit)
    recomputed = _recomputed_digest(frame)
    matches = None if recomputed is None or not dataset.digest else recomputed == dataset.digest
    return TrainingData(frame, dataset, str(path), matches)


def training_run_of_model(source: Any, model: str, version: int | None = None) -> str:
    """The run id of ``model``'s version (default: its newest), from the registry.

    Raises:
        InvalidInputError: the version does not exist or has no run.
        NotFoundError: the model is not registered.
    """
    history = source.registry_history(model)
    if not history.versions:
        raise InvalidInputError(f"model '{model}' has no versions")
    record = history.version(int(version)) if version is not None else history.versions[-1]
    if not record.run_id:
        raise InvalidInputError(f"model '{model}' version {record.version} names no MLflow run")
    return record.run_id
