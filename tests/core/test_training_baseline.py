"""The training baseline: a real MLflow run (SQLite store) that records its training data as a dataset input."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInputError
from core.sources.mlflow_runs import DatasetRef, MlflowRunSource
from core.sources.training_baseline import read_training_data, source_location, training_inputs

ROOT = Path(__file__).resolve().parents[2]


def _frame(seed: int, shift: float = 0.0, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"amount": rng.normal(40 + shift, 8, n), "merchant": rng.choice(["a", "b", "c"], n)})


@pytest.fixture(scope="module")
def tracking(tmp_path_factory):
    """A run with a training dataset input (real mlflow.data digest), one without, and a registered model."""
    import mlflow.data
    from mlflow.entities import DatasetInput, InputTag

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    source = MlflowRunSource(uri, create=True)
    client = source.client
    train = _frame(1)
    path = root / "train.parquet"
    train.to_parquet(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = mlflow.data.from_pandas(train, source=str(path), name="fraud-train")
    exp = client.create_experiment("fraud")
    trained = client.create_run(exp).info.run_id
    client.log_inputs(trained, datasets=[DatasetInput(dataset._to_mlflow_entity(),
                                                      [InputTag("mlflow.data.context", "training")])])
    client.set_terminated(trained)
    bare = client.create_run(exp).info.run_id
    client.set_terminated(bare)
    client.create_registered_model("fraud-model")
    client.create_model_version("fraud-model", f"runs:/{trained}/model", run_id=trained)
    incident = root / "incident.parquet"
    _frame(2, shift=15.0).to_parquet(incident, index=False)
    return {"uri": uri, "trained": trained, "bare": bare, "digest": dataset.digest, "incident": incident,
            "train": path, "source": source}


def test_the_runs_training_input_is_read_back_and_its_digest_checked(tracking):
    run = tracking["source"].get_run(tracking["trained"], artifacts=False)
    (ref,) = training_inputs(run)
    assert ref.digest == tracking["digest"] and ref.context == "training"
    data = read_training_data(ref)
    assert len(data.frame) == 500 and data.digest_matches is True and data.location == str(tracking["train"])
    _frame(9).to_parquet(tracking["train"].parent / "changed.parquet", index=False)
    moved = DatasetRef(ref.name, ref.digest, "training", ref.source_type,
                       json.dumps({"uri": str(tracking["train"].parent / "changed.parquet")}))
    assert read_training_data(moved).digest_matches is False  # the file no longer holds what the model saw


def test_runs_without_usable_training_data_are_named(tracking, tmp_path):
    bare = tracking["source"].get_run(tracking["bare"], artifacts=False)
    with pytest.raises(InvalidInputError, match="records no dataset inputs; log the training data"):
        training_inputs(bare)
    with pytest.raises(InvalidInputError, match="cannot read; copy it locally"):
        source_location(DatasetRef("d", "x", source=json.dumps({"uri": "s3://bucket/train.parquet"})))
    with pytest.raises(InvalidInputError, match="no longer exists"):
        read_training_data(DatasetRef("d", "x", source=json.dumps({"uri": str(tmp_path / "gone.parquet")})))


def _cli(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "versions", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def test_cli_compares_the_incident_data_with_the_training_data(tracking):
    out = _cli(tracking["incident"], "--training-run", tracking["trained"], "--tracking-uri", tracking["uri"], "--json")
    assert out.returncode == 1, out.stderr
    data = json.loads(out.stdout)
    assert data["digest_matches"] is True and data["run_id"] == tracking["trained"]
    assert any(c["column"] == "amount" and c["drifted"] for c in data["drift"]["columns"])
    assert not any(c["column"] == "merchant" and c["drifted"] for c in data["drift"]["columns"])
    by_model = _cli(tracking["incident"], "--model", "fraud-model", "--tracking-uri", tracking["uri"])
    assert by_model.returncode == 1 and "fraud-train" in by_model.stdout
    bare = _cli(tracking["incident"], "--training-run", tracking["bare"], "--tracking-uri", tracking["uri"])
    assert bare.returncode == 2 and "records no dataset inputs" in bare.stderr and "Traceback" not in bare.stderr
