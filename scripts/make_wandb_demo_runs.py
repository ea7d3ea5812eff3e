"""Make the W&B runs of the downscaled-images demo with the real wandb package (run once; the output is committed).

Two training runs of the product classifier are logged offline (``WANDB_MODE=offline``) in a scratch git
repository: config, per-epoch history, summary, the training data and the model as artifacts (the second
run's model carries the ``production`` alias). wandb stamps every record with the wall clock, so the
record logs are then re-written with their times moved to the demo's dates (the run start, the
environment's start, every ``_timestamp`` and system-stats time) — same records, same W&B log format,
valid checksums — and copied to ``core/demo/data/image_downscale/wandb/``. Debug logs are left out.

    python scripts/make_wandb_demo_runs.py
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import zlib
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "core" / "demo" / "data" / "image_downscale" / "wandb"
BLOCK = 32768
#: run name -> when it finished (UTC), as the demo's timeline has it
ENDS = {"train-v1": datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc),
        "train-v2": datetime(2026, 3, 9, 14, 30, tzinfo=timezone.utc)}

TRAIN = textwrap.dedent("""
    import sys, wandb
    root = sys.argv[1]
    plans = (("train-v1", 0.0010, 12, 0.902, [], "2026-03-02T11:00:00Z"),
             ("train-v2", 0.0007, 16, 0.914, ["production"], "2026-03-09T15:10:00Z"))
    for name, lr, epochs, acc, aliases, deployed in plans:
        run = wandb.init(project="product-classifier", entity="shop-ml", dir=root, name=name,
                         tags=["resnet18", "photos-128"], job_type="train",
                         config={"architecture": "resnet18", "input_size": 128, "jpeg_quality_train": 92,
                                 "lr": lr, "epochs": epochs, "batch_size": 64,
                                 "augment": {"flip": True, "crop": 0.9, "downscale": False}})
        for epoch in range(epochs):
            frac = (epoch + 1) / epochs
            run.log({"epoch": epoch, "train_loss": 1.6 * (1 - frac) + 0.18, "val_accuracy": acc - 0.25 * (1 - frac) ** 2})
        run.summary.update({"test_accuracy": acc, "test_accuracy_64px_q55": acc - 0.17})
        data = wandb.Artifact("product-photos", type="dataset", metadata={"images": 48000, "side": 128})
        data.add_file(f"{root}/photos-{name}.txt")
        run.log_artifact(data)
        model = wandb.Artifact("product-classifier", type="model",
                               metadata={"input_size": 128, "deployed_at": deployed, "service": "product-classifier"})
        model.add_file(f"{root}/model-{name}.pt")
        run.log_artifact(model, aliases=aliases)
        run.finish()
""")


def _records(data: bytes) -> list[bytes]:
    pos, out, pending = 7, [], b""
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            out.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            out.append(pending + chunk)
    return out


def _write(header: bytes, records: list[bytes]) -> bytes:
    """W&B's log format: 32 KiB blocks of (crc32 of type+data, length, type) + data, records split across blocks."""
    out = bytearray(header)
    for rec in records:
        first = True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < 7:
                out += b"\x00" * left
                continue
            room = left - 7
            piece, rec = rec[:room], rec[room:]
            kind = (1 if not rec else 2) if first else (4 if not rec else 3)
            out += struct.pack("<IHB", zlib.crc32(bytes([kind]) + piece) & 0xFFFFFFFF, len(piece), kind) + piece
            first = False
            if not rec:
                break
    return bytes(out)


def _shift(path: Path, end: datetime) -> None:
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    recs = []
    for chunk in _records(data):
        rec = pb.Record()
        rec.ParseFromString(chunk)
        recs.append(rec)
    start = next(r.run.start_time for r in recs if r.WhichOneof("record_type") == "run")
    runtime = next((r.exit.runtime for r in recs if r.WhichOneof("record_type") == "exit"), 1)
    delta = int(end.timestamp()) - runtime - start.seconds

    def items(rec, kind):
        return rec.history.item if kind == "history" else rec.summary.update

    for rec in recs:
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            rec.run.start_time.seconds += delta
        elif kind == "environment" and rec.environment.HasField("started_at"):
            rec.environment.started_at.seconds += delta
        elif kind == "stats":
            rec.stats.timestamp.seconds += delta
        elif kind in ("history", "summary"):
            for item in items(rec, kind):
                if (item.key or (item.nested_key[-1] if item.nested_key else "")) == "_timestamp":
                    item.value_json = json.dumps(float(item.value_json) + delta)
    path.write_bytes(_write(data[:7], [r.SerializeToString() for r in recs]))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in ENDS:
            (root / f"model-{name}.pt").write_bytes(name.encode() * 64)
            (root / f"photos-{name}.txt").write_text(f"product photos, 128 px, snapshot for {name}\n")
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        subprocess.run(["git", "-C", str(root), "-c", "user.email=ml@shop.example", "-c", "user.name=shop-ml", "commit",
                        "-q", "--allow-empty", "-m", "train product classifier"], check=True)
        env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(root),
               "WANDB_CONFIG_DIR": str(root / ".config"), "WANDB_CACHE_DIR": str(root / ".cache"),
               "WANDB_DATA_DIR": str(root / ".data")}
        env.pop("WANDB_API_KEY", None)
        subprocess.run([sys.executable, "-c", TRAIN, str(root)], cwd=root, env=env, check=True)
        if OUT.exists():
            shutil.rmtree(OUT)
        OUT.mkdir(parents=True)
        from core.sources.runs_wandb import read_record_file

        for folder in sorted((root / "wandb").glob("offline-run-*")):
            log = next(folder.glob("run-*.wandb"))
            name = read_record_file(log).name
            _shift(log, ENDS[name])
            run = read_record_file(log)
            target = OUT / f"offline-run-{run.start_time:%Y%m%d_%H%M%S}-{run.run_id}"
            target.mkdir()
            shutil.copy2(log, target / log.name)
            if (folder / "files").is_dir():
                shutil.copytree(folder / "files", target / "files")
            print(f"{target.relative_to(ROOT)}: {run.name} {run.start_time:%Y-%m-%d %H:%M} → {run.end_time:%H:%M} UTC")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
