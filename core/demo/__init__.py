"""Seeded, deterministic demo incidents, written as incident bundles.

``generate_demo_bundles`` writes the demo bundles; ``ensure_demo_incidents``
writes them under the workbench home on first start and imports them into the
store. The same generators feed the tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from core.demo import ctr_drop, fraud_stale, images_demo, schema_change

GENERATORS = {
    schema_change.ID: schema_change.build,
    ctr_drop.ID: ctr_drop.build,
    fraud_stale.ID: fraud_stale.build,
    images_demo.ID: images_demo.build,
}
DEMO_IDS = tuple(GENERATORS)
# Bump when a generator changes, so stored demo bundles are rebuilt.
GENERATOR_VERSION = "5"  # 5: a Delta table (schema change), a Feast snapshot (fraud)


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


DEMO_TITLES = {
    schema_change.ID: "schema change",
    ctr_drop.ID: "CTR drop",
    fraud_stale.ID: "fraud stale features",
    images_demo.ID: "downscaled images",
}
"""Short names of the demos, for progress messages."""


def missing_demos(store) -> list[str]:
    """The demo ids the store does not hold yet (three quick lookups; no lock, no generation)."""
    from core.store.incidents import find_incident

    return [i for i in DEMO_IDS if find_incident(store, i) is None]


def stale_demo_bundles() -> list[str]:
    """Demo ids whose bundle under the workbench home was written by an older generator."""
    from core.store import workbench_home

    folder = workbench_home() / "demo-bundles"
    return [i for i in DEMO_IDS if (folder / i).is_dir() and not _current(folder / i)]


def demos_complete(store) -> bool:
    """True when the store holds every demo incident, their bundles are current and the embedded MLflow
    registry exists."""
    from core.store import workbench_home

    return not missing_demos(store) and not stale_demo_bundles() and (workbench_home() / "mlflow.db").exists()


def ensure_demo_incidents(store, bundles: dict[str, Path] | None = None, *, registry: bool = True,
                          progress=None) -> list[str]:
    """Make sure the store holds the demo incidents, with their fishbones and MLflow registry.

    Generates the bundles under the workbench home on first start (unless ``bundles``
    is given), imports any demo incident the store lacks, pre-draws each demo
    fishbone once, and logs the demo models into the embedded MLflow store.
    Safe to call from several processes at once: on one machine they take turns on a
    lock file in the home; across machines (PostgreSQL) the unique incident id makes a
    second import of a demo a no-op. Returns the demo ids.

    ``progress(step, done, total)``, when given, is called as the work goes: ``step`` is a
    sentence such as "Building demo 2 of 4: schema change — importing events…", ``done`` and
    ``total`` count the demos in the store (``total`` is the number of demos).
    """
    from core.demo.fishbones import demo_fishbone_spec, seed_fishbone
    from core.store import workbench_home
    from core.flows.import_bundle import import_bundle
    from core.store.locks import file_lock
    from core.store.incidents import find_incident

    total = len(DEMO_IDS)
    report = progress or (lambda _step, _done, _total: None)
    with file_lock(workbench_home() / ".demo.lock"):
        missing = [i for i in DEMO_IDS if find_incident(store, i) is None]
        registry = registry and (bool(missing) or not (workbench_home() / "mlflow.db").exists())
        done = total - len(missing)
        given = bundles is not None
        bundles = dict(bundles or {})
        stale = [] if given else stale_demo_bundles()
        if stale:  # a newer generator adds data (the stored incidents point at these folders)
            report(f"Updating the data of {len(stale)} demo(s)…", done, total)
            bundles.update(generate_demo_bundles(workbench_home() / "demo-bundles", tuple(stale)))
        for demo_id in missing:
            name = f"Building demo {DEMO_IDS.index(demo_id) + 1} of {total}: {DEMO_TITLES[demo_id]}"
            if demo_id not in bundles and not given:
                report(f"{name} — generating its data…", done, total)
                bundles.update(generate_demo_bundles(workbench_home() / "demo-bundles", (demo_id,)))

            def events(step, n, of, name=name):
                if step == "events" and of:
                    report(f"{name} — importing events ({n:,} of {of:,})…", done, total)

            report(f"{name} — importing events…", done, total)
            import_bundle(store, bundles[demo_id], copy=False, if_exists="skip", progress=events)
            report(f"{name} — drawing its fishbone…", done, total)
            seed_fishbone(store, demo_id, demo_fishbone_spec(demo_id), only_if_empty=True)
            done += 1
        if registry:
            report("Logging the demo models into the MLflow registry…", done, total)
            if not given:
                bundles = generate_demo_bundles(workbench_home() / "demo-bundles")
            from core.demo.mlflow_registry import seed_demo_registry

            seed_demo_registry(None, bundles)
        report("The demo incidents are ready.", done, total)
    return list(DEMO_IDS)
