"""W&B runs from run folders: real offline runs made with the wandb package (WANDB_MODE=offline).

The runs are made once per module in a subprocess (so no wandb state stays in the test process), in a
temporary git repository, so the record log carries a real commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("wandb")

from core.analysis.rundiff import diff_runs  # noqa: E402
from core.errors import InvalidInputError, NotFoundError  # noqa: E402
from core.sources.factory import open_source  # noqa: E402
from core.sources.runs_wandb import WandbFolderSource, read_record_file, run_folders  # noqa: E402

SCRIPT = textwrap.dedent("""
    import sys, wandb
    root = sys.argv[1]
    for name, lr, size, acc, alias in (("train-good", 0.001, 128, 0.91, "staging"),
                                       ("train-incident", 0.01, 64, 0.78, "production")):
        run = wandb.init(project="image-classifier", dir=root, name=name, tags=["demo"],
                         config={"lr": lr, "input_size": size, "optimizer": {"name": "adam", "beta1": 0.9}})
        for epoch in range(3):
            run.log({"epoch": epoch, "val_accuracy": acc - 0.05 * (2 - epoch)})
        run.summary["test_accuracy"] = acc
        data = wandb.Artifact("train-images", type="dataset")
        data.add_file(f"{root}/data-{size}.txt")
        run.log_artifact(data)  # use_artifact needs a server; offline runs log the data they saw
        model = wandb.Artifact("product-classifier", type="model", metadata={"input_size": size})
        model.add_file(f"{root}/model-{name}.bin")
        run.log_artifact(model, aliases=[alias])
        run.finish()
""")


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("wandb")
    for name in ("train-good", "train-incident"):
        (root / f"model-{name}.bin").write_bytes(name.encode() * 50)
    for size in (128, 64):
        (root / f"data-{size}.txt").write_text(f"images at {size} px\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.email=a@b.c", "-c", "user.name=t", "commit", "-q",
                    "--allow-empty", "-m", "train"], check=True)
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(root),
           "WANDB_CONFIG_DIR": str(root / ".config"), "WANDB_CACHE_DIR": str(root / ".cache"),
           "WANDB_DATA_DIR": str(root / ".data")}
    env.pop("WANDB_API_KEY", None)
    subprocess.run([sys.executable, "-c", SCRIPT, str(root)], cwd=root, env=env, check=True, timeout=180)
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    return root, commit


def test_offline_runs_are_read_with_config_summary_history_and_commit(runs_dir):
    root, commit = runs_dir
    folders = run_folders(root)
    assert len(folders) == 2 and all(f.name.startswith("offline-run-") for f in folders)
    source = WandbFolderSource(root)
    by_name = {r.name: r for r in source.runs()}
    good = by_name["train-good"]
    assert good.state == "finished" and good.project == "image-classifier"
    assert good.config["lr"] == 0.001 and good.config["optimizer"]["name"] == "adam"
    assert good.summary["test_accuracy"] == pytest.approx(0.91)
    assert good.git_commit == commit
    hist = source.history(good.run_id)
    assert list(hist["epoch"]) == [0, 1, 2]
    assert hist["val_accuracy"].iloc[-1] == pytest.approx(0.91)
    record = source.get_run(good.run_id)
    assert record.params["optimizer.name"] == "adam" and record.params["lr"] == "0.001"
    assert record.metrics["test_accuracy"] == pytest.approx(0.91)
    assert record.tags["mlflow.source.git.commit"] == commit
    assert [d.name for d in record.datasets] == ["train-images"]
    assert [a.path for a in record.artifacts] == ["product-classifier/model-train-good.bin"]


def test_the_same_diff_as_mlflow_last_good_vs_incident(runs_dir):
    root, _ = runs_dir
    source = open_source("runs", f"wandb:{root}")
    hist = source.registry_history("product-classifier")
    assert [v.version for v in hist.versions] == [0, 1]
    assert hist.aliases["production"] == 1 and hist.aliases["staging"] == 0 and hist.aliases["latest"] == 1
    diff = diff_runs(source.get_run(hist.version(0).run_id), source.get_run(hist.version(1).run_id))
    changed = {p.key: (p.a, p.b) for p in diff.changed_params}
    assert changed == {"lr": ("0.001", "0.01"), "input_size": ("128", "64")}
    assert {m.key for m in diff.changed_metrics} >= {"test_accuracy", "val_accuracy"}
    assert [d.name for d in diff.changed_datasets] == ["train-images"]  # another digest of the data
    assert diff.code_change is None  # both runs from the same commit


def test_runs_and_model_versions_become_timeline_events(runs_dir):
    root, _ = runs_dir
    events = open_source("wandb", root).events()
    kinds = sorted(e["kind"] for e in events)
    assert kinds == ["annotation", "annotation", "model_version", "model_version"]
    titles = [e["title"] for e in events if e["kind"] == "model_version"]
    assert any("product-classifier v1 logged (W&B)" in t and "production" in t for t in titles)


def test_search_runs_and_models(runs_dir):
    root, _ = runs_dir
    source = WandbFolderSource(root / "wandb")
    table = source.search_runs(params=["lr"], metrics=["test_accuracy"])
    assert list(table["name"]) == ["train-incident", "train-good"]  # newest first
    assert source.list_models() == ["product-classifier"]
    with pytest.raises(NotFoundError, match="no W&B model artifact named 'nope'"):
        source.registry_history("nope")
    with pytest.raises(NotFoundError, match="W&B run 'zzz' not found"):
        source.get_run("zzz")


def test_an_unfinished_record_log_keeps_what_was_written(runs_dir, tmp_path):
    root, _ = runs_dir
    folder = run_folders(root)[0]
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    log = next(copy.glob("run-*.wandb"))
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2 + 3])  # cut inside a record, as a crashed run leaves it
    run = read_record_file(log)
    assert run.config["lr"] in (0.001, 0.01)
    assert run.state == "running"  # no exit record
    assert len(run.warnings) == 1 and ("left out" in run.warnings[0] or "middle of a record" in run.warnings[0])


def test_other_layouts_are_refused_with_the_expected_layout(tmp_path):
    (tmp_path / "mlruns").mkdir()
    with pytest.raises(InvalidInputError, match="holds no W&B run; give a W&B run folder"):
        open_source("runs", f"wandb:{tmp_path}")
    bogus = tmp_path / "offline-run-x" / "run-x.wandb"
    bogus.parent.mkdir()
    bogus.write_bytes(b"not a record log")
    with pytest.raises(InvalidInputError, match="does not start with ':W&B'"):
        WandbFolderSource(bogus.parent)
    with pytest.raises(InvalidInputError, match="not found"):
        open_source("runs", f"wandb:{tmp_path / 'missing'}")


def test_an_exported_run_folder_needs_no_record_log(tmp_path):
    files = tmp_path / "run-abc123" / "files"
    files.mkdir(parents=True)
    (files / "config.yaml").write_text("wandb_version: 1\nlr:\n  desc: null\n  value: 0.003\n")
    (files / "wandb-summary.json").write_text('{"accuracy": 0.8, "_runtime": 60}')
    (files / "wandb-metadata.json").write_text('{"startedAt": "2026-02-01T10:00:00Z", "git": {"commit": "abc"}}')
    (files / "wandb-history.jsonl").write_text('{"_step": 0, "loss": 1.0}\n{"_step": 1, "loss": 0.5}\n')
    source = WandbFolderSource(tmp_path)
    rec = source.get_run("abc123")
    assert rec.params == {"lr": "0.003"} and rec.metrics == {"accuracy": 0.8}
    assert rec.tags["mlflow.source.git.commit"] == "abc"
    assert rec.end_time.isoformat() == "2026-02-01T10:01:00+00:00"
    assert list(source.history("abc123")["loss"]) == [1.0, 0.5]
    (files / "wandb-summary.json").write_text("{broken")
    with pytest.raises(InvalidInputError, match="wandb-summary.json: not valid JSON"):
        WandbFolderSource(tmp_path)


def test_the_api_needs_a_key_and_a_project(monkeypatch):
    from core.config import load_settings

    with pytest.raises(InvalidInputError, match="WANDB_API_KEY is not set"):
        open_source("runs", "wandb", settings=load_settings(environ={}))
    with pytest.raises(InvalidInputError, match="WANDB_ENTITY and WANDB_PROJECT"):
        open_source("runs", "wandb", settings=load_settings(environ={"WANDB_API_KEY": "k" * 40}))
    src = open_source("runs", "wandb", settings=load_settings(environ={
        "WANDB_API_KEY": "secret-key-123", "WANDB_ENTITY": "team", "WANDB_PROJECT": "p"}))
    assert "secret-key-123" not in repr(src) and "team/p" in src.display_uri


# ------------------------------------------------------------------ the public API, replayed

class _Replay:
    """A local GraphQL endpoint answering the wandb client's own queries (captured from wandb 0.31: Viewer,
    Runs, Run, ServerFeaturesQuery, RunOutputArtifacts, RunInputArtifacts) in the W&B API's response shape,
    filled with the values of the module's real offline runs. No W&B server runs here."""

    def __init__(self, runs, key):
        import json
        import re
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw)
                op = re.search(r"(?:query|mutation)\s+(\w+)", body["query"]).group(1)
                replay.seen.append(op)
                auth = self.headers.get("Authorization", "")
                import base64
                if base64.b64decode(auth.split()[-1]).decode().split(":")[-1] != key:
                    out, code = b'{"errors": [{"message": "permission denied"}]}', 401
                else:
                    out, code = json.dumps(replay.answer(op, body.get("variables") or {})).encode(), 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.runs = runs
        # W&B numbers each artifact's versions in logging order; the folders' precise end times give it here
        self.index: dict[tuple[str, str], int] = {}
        for r in sorted(runs, key=lambda r: r.end_time):
            for a in r.artifacts:
                if a.logged and (a.name, a.digest) not in self.index:
                    self.index[(a.name, a.digest)] = sum(1 for n, _ in self.index if n == a.name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    PROJECT = {"id": "UHJvamVjdDox", "internalId": "1", "name": "image-classifier", "entity": {"name": "shop-ml"}}

    def _run(self, r, full):
        import json

        node = {"id": f"UnVuOnYx{r.run_id}", "projectId": 1, "tags": list(r.tags), "name": r.run_id,
                "displayName": r.name, "sweepName": None, "state": r.state, "group": None, "jobType": None,
                "commit": r.git_commit, "readOnly": False, "createdAt": "2026-03-01T09:00:00",  # one second for all: only version numbers order them
                "heartbeatAt": r.end_time.strftime("%Y-%m-%dT%H:%M:%S"), "description": None, "notes": None,
                "historyLineCount": len(r.history), "user": {"name": "ana", "username": "ana"}}
        if full:
            config = {k: {"value": v, "desc": None} for k, v in r.config.items() if k != "_wandb"}
            node.update({"config": json.dumps(config), "summaryMetrics": json.dumps(r.summary),
                         "systemMetrics": "{}", "historyKeys": None})
        return node

    def _artifact(self, a, i):
        import json

        seq = {"__typename": "ArtifactSequence", "name": a.name, "project": self.PROJECT}
        return {"__typename": "Artifact", "id": f"QXJ0aWZhY3Q6{i}", "artifactSequence": seq,
                "versionIndex": self.index[(a.name, a.digest)],
                "artifactType": {"name": a.type}, "description": None, "metadata": json.dumps(a.metadata),
                "ttlDurationSeconds": -1, "ttlIsInherited": True, "tags": [], "historyStep": None,
                "state": "COMMITTED", "size": 100, "digest": a.digest, "commitHash": "c0ffee", "fileCount": 1,
                "createdAt": "2026-03-01T00:00:00", "updatedAt": "2026-03-01T00:00:00",
                "aliases": [{"__typename": "ArtifactAlias", "id": f"al{i}{x}", "alias": x,
                             "artifactCollection": {"__typename": "ArtifactSequence", "name": a.name,
                                                    "project": self.PROJECT}} for x in a.aliases]}

    def answer(self, op, variables):
        by_id = {r.run_id: r for r in self.runs}
        if op == "Viewer":
            return {"data": {"viewer": {"id": "VXNlcjox", "entity": "shop-ml", "username": "ana", "email": "a@shop",
                                        "flags": "{}", "teams": {"edges": []}}}}
        if op == "ServerFeaturesQuery":
            return {"data": {"serverInfo": {"features": []}}}
        if op == "Runs":
            edges = [{"node": self._run(r, False), "cursor": r.run_id} for r in self.runs]
            return {"data": {"project": {"internalId": "1", "runCount": len(edges), "readOnly": False, "runs": {
                "edges": edges, "pageInfo": {"endCursor": None, "hasNextPage": False}}}}}
        if op == "Run":
            return {"data": {"project": {"run": self._run(by_id[variables["name"]], True)}}}
        if op in ("RunOutputArtifacts", "RunInputArtifacts"):
            r = by_id[variables["run"]]
            arts = [a for a in r.artifacts if op == "RunOutputArtifacts"]
            edges = [{"node": self._artifact(a, i)} for i, a in enumerate(arts)]
            return {"data": {"project": {"run": {"artifacts": {"totalCount": len(edges), "edges": edges, "pageInfo": {
                "__typename": "PageInfo", "endCursor": None, "hasNextPage": False}}}}}}
        return {"errors": [{"message": f"no recorded answer for {op}"}]}


@pytest.fixture(scope="module")
def api(runs_dir):
    key = "0123456789abcdef0123456789abcdef01234567"  # 40 characters, as W&B keys
    replay = _Replay(WandbFolderSource(runs_dir[0]).runs(), key)
    yield replay, key
    replay.server.shutdown()


def test_the_api_gives_the_same_runs_and_registry_as_the_folders(api, runs_dir):
    from core.config import load_settings

    replay, key = api
    env = {"WANDB_API_KEY": key, "WANDB_ENTITY": "shop-ml", "WANDB_PROJECT": "image-classifier",
           "WANDB_BASE_URL": replay.url}
    source = open_source("runs", "wandb", settings=load_settings(environ=env))
    folders = WandbFolderSource(runs_dir[0])
    hist = source.registry_history("product-classifier")
    assert [v.version for v in hist.versions] == [0, 1] and hist.aliases["production"] == 1
    a, b = (source.get_run(hist.version(n).run_id) for n in (0, 1))
    assert a.params == folders.get_run(a.run_id).params
    assert a.metrics["test_accuracy"] == pytest.approx(0.91)
    assert a.tags["mlflow.source.git.commit"] == runs_dir[1]
    diff = diff_runs(a, b)
    assert {p.key for p in diff.changed_params} == {"lr", "input_size"}
    assert {"Viewer", "Runs", "Run", "RunOutputArtifacts"} <= set(replay.seen)


def test_a_refused_key_is_a_clear_error_without_the_key(api):
    from core.config import load_settings
    from core.errors import SourceUnavailableError

    replay, _key = api
    env = {"WANDB_API_KEY": "f" * 40, "WANDB_ENTITY": "shop-ml",
           "WANDB_PROJECT": "image-classifier", "WANDB_BASE_URL": replay.url, "WANDB_TIMEOUT": "5"}
    source = open_source("runs", "wandb", settings=load_settings(environ=env))
    with pytest.raises(SourceUnavailableError, match="refused the API key") as err:
        source.list_models()
    assert "f" * 40 not in str(err.value) and replay.url in str(err.value)


def test_without_the_wandb_package_record_logs_are_skipped_at_import_and_named_elsewhere(runs_dir, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb.proto" or name.startswith("wandb.proto"):
            raise ImportError("No module named 'wandb'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    source = WandbFolderSource(runs_dir[0])
    assert source.events() == []  # a bundle with W&B runs still imports
    with pytest.raises(InvalidInputError, match="needs the wandb package; pip install -r requirements-wandb.txt"):
        source.list_models()
