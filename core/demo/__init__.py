"""Seeded, deterministic demo incidents, written as incident bundles.

``generate_demo_bundles`` writes the three demo bundles; ``ensure_demo_incidents``
writes them under the workbench home on first start and imports them into the
store. The same generators feed the tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from core.demo import ctr_drop, fraud_stale, schema_change

GENERATORS = {
    schema_change.ID: schema_change.build,
    ctr_drop.ID: ctr_drop.build,
    fraud_stale.ID: fraud_stale.build,
}
DEMO_IDS = tuple(GENERATORS)
# Bump when a generator changes, so stored demo bundles are rebuilt.
GENERATOR_VERSION = "3"


def generate_demo_bundles(target_dir: Path | str, ids: tuple[str, ...] = DEMO_IDS) -> dict[str, Path]:
    """Write the demo bundles as directories under ``target_dir``; returns id -> path.

    Safe when several processes start at once: generation holds a lock file in
    ``target_dir``, each bundle is written under a private temporary name and renamed into
    place complete, and folders left by a killed generation are removed.
    """
    from core.paths import inside
    from core.store.locks import file_lock

    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    with file_lock(target_dir / ".lock"):
        for leftover in target_dir.glob(".*.tmp"):  # only a killed generation leaves these
            shutil.rmtree(leftover, ignore_errors=True)
        for demo_id in ids:
            path = inside(target_dir, demo_id)
            if not _current(path):
                token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
                tmp = inside(target_dir, f".{demo_id}.{token}.tmp")
                try:
                    GENERATORS[demo_id](tmp)
                    (tmp / ".generator-version").write_text(GENERATOR_VERSION)
                    if path.exists():
                        os.replace(path, tmp.with_suffix(".old.tmp"))
                    try:
                        os.replace(tmp, path)
                    except OSError:
                        if not _current(path):  # not a concurrent writer of the same version
                            raise
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                    shutil.rmtree(tmp.with_suffix(".old.tmp"), ignore_errors=True)
            out[demo_id] = path
    return out


def _current(path: Path) -> bool:
    stamp = path / ".generator-version"
    return stamp.is_file() and stamp.read_text() == GENERATOR_VERSION


def ensure_demo_incidents(store, bundles: dict[str, Path] | None = None, *, registry: bool = True) -> list[str]:
    """Make sure the store holds the demo incidents, with their fishbones and MLflow registry.

    Generates the bundles under the workbench home on first start (unless ``bundles``
    is given), imports any demo incident the store lacks, pre-draws each demo
    fishbone once, and logs the demo models into the embedded MLflow store.
    Safe to call from several processes at once: on one machine they take turns on a
    lock file in the home; across machines (PostgreSQL) the unique incident id makes a
    second import of a demo a no-op. Returns the demo ids.
    """
    from core.demo.fishbones import demo_fishbone_spec, seed_fishbone
    from core.store import workbench_home
    from core.flows.import_bundle import import_bundle
    from core.store.locks import file_lock
    from core.store.incidents import find_incident

    with file_lock(workbench_home() / ".demo.lock"):
        missing = [i for i in DEMO_IDS if find_incident(store, i) is None]
        registry = registry and (bool(missing) or not (workbench_home() / "mlflow.db").exists())
        if bundles is None and (missing or registry):
            bundles = generate_demo_bundles(workbench_home() / "demo-bundles")
        for demo_id in missing:
            import_bundle(store, bundles[demo_id], copy=False, if_exists="skip")
            seed_fishbone(store, demo_id, demo_fishbone_spec(demo_id), only_if_empty=True)
        if registry:
            from core.demo.mlflow_registry import seed_demo_registry

            seed_demo_registry(None, bundles)
    return list(DEMO_IDS)
