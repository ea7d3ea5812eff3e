"""Log template mining and the baseline-vs-window template diff."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.logpatterns import (
    DECREASED, INCREASED, NEW, UNCHANGED, VANISHED, Mask, PatternConfig, assign_templates, diff_patterns,
    mask_lines,
)
from core.bundle import read_bundle
from core.errors import InvalidInputError
from core.models import TimeWindow
from core.sources.local_logs import LocalLogSource

BASE = TimeWindow.parse("2024-05-01T00:00:00Z/2024-05-03T00:00:00Z")  # 48 h
WIN = TimeWindow.parse("2024-05-03T00:00:00Z/2024-05-03T12:00:00Z")  # 12 h: a quarter of the baseline


def lines(rng: np.random.Generator, spec: dict[str, int]) -> list[str]:
    out = []
    for template, n in spec.items():
        out += [template.format(a=rng.integers(0, 10**6), b=rng.integers(0, 999), ip=f"10.0.{i % 250}.{i % 7}")
                for i in range(n)]
    rng.shuffle(out)
    return out


def test_masks_replace_variable_parts():
    masked = mask_lines(["user 42 from 10.1.2.3:8080 at /var/log/app.log id 0xdeadBEEF",
                         "req 123e4567-e89b-12d3-a456-426614174000 at Fri Jun 17 07:07:00 2005 ok",
                         "account acc-12345, using default"]).to_pylist()
    assert masked == ["user <*> from <IP> at <PATH> id <HEX>", "req <UUID> at <DATE> ok",
                      "account <*>, using default"]
    with pytest.raises(InvalidInputError, match="not a valid RE2"):
        mask_lines(["x"], PatternConfig(extra_masks=(Mask("(?<=a)b"),)))


def test_assignment_groups_lines_and_keeps_counts_exact():
    rng = np.random.default_rng(1)
    data = lines(rng, {"opened session {a} for user u{b}": 500, "closed session {a} after {b} ms": 300,
                       "cache refresh completed": 200})
    a = assign_templates(data)
    assert len(a.ids) == 1000
    counts = sorted(np.unique(a.ids, return_counts=True)[1].tolist())
    assert counts == [200, 300, 500]
    assert sorted(a.templates[int(i)] for i in np.unique(a.ids)) == [
        "cache refresh completed", "closed session <*> after <*> ms", "opened session <*> for user <*>"]
    assert a.unique_lines == 3 and not a.sampled


def test_sampling_trains_on_a_subset_but_counts_every_line():
    rng = np.random.default_rng(2)
    data = [f"job {w} finished step {s}" for w, s in zip(rng.choice(["alpha", "beta", "gamma", "delta"], 4000),
                                                         rng.choice(["load", "save", "sync"], 4000))]
    data += ["disk full on volume vol_a"] * 50
    config = PatternConfig(max_unique=5, seed=3)
    a = assign_templates(data, config)
    assert a.sampled and a.trained_lines == 5 and a.unique_lines == 13
    assert len(a.ids) == 4050
    disk = [cid for cid, t in a.templates.items() if t.startswith("disk full")]
    assert disk and int((a.ids == disk[0]).sum()) == 50


def test_diff_finds_new_vanished_and_rate_changes_scaled_by_window_length():
    rng = np.random.default_rng(3)
    # per hour in the baseline: steady 100, rising 10, falling 40, gone 5
    base = lines(rng, {"steady request {a} served in {b} ms": 4800, "retrying ledger write attempt={b}": 480,
                       "cache warmup chunk {a} loaded": 1920, "legacy endpoint called by {ip}": 240})
    # the window is 12 h: expected steady 1200, rising 120 (we give 600), falling 480 (we give 60)
    win = lines(rng, {"steady request {a} served in {b} ms": 1210, "retrying ledger write attempt={b}": 600,
                      "cache warmup chunk {a} loaded": 60, "feature cache miss for account acc-{a}, using default": 25})
    diff = diff_patterns(base, win, baseline=BASE, window=WIN)
    by = {c.template: c for c in diff.changes}
    new = by["feature cache miss for account <*>, using default"]
    assert new.status == NEW and new.window_count == 25 and new.baseline_count == 0
    assert "acc-" in new.example
    gone = by["legacy endpoint called by <IP>"]
    assert gone.status == VANISHED and gone.expected == pytest.approx(60.0)
    up = by["retrying ledger write attempt=<*>"]
    assert up.status == INCREASED and up.expected == pytest.approx(120.0) and up.ratio == pytest.approx(5.0)
    down = by["cache warmup chunk <*> loaded"]
    assert down.status == DECREASED and down.ratio == pytest.approx(60 / 480)
    steady = by["steady request <*> served in <*> ms"]
    assert steady.status == UNCHANGED and steady.q_value > 0.01
    assert [c.status for c in diff.changes][:1] == [NEW]
    assert diff.baseline_lines == len(base) and diff.window_lines == len(win)
    d = diff.to_dict()
    assert d["summary"] == {NEW: 1, INCREASED: 1, VANISHED: 1, DECREASED: 1, UNCHANGED: 1}


def test_equal_rates_over_unequal_windows_are_not_flagged():
    rng = np.random.default_rng(4)
    base = lines(rng, {"tick {a}": 4800})
    win = lines(rng, {"tick {a}": 1200})  # 100 per hour in both
    diff = diff_patterns(base, win, baseline=BASE, window=WIN)
    assert [c.status for c in diff.changes] == [UNCHANGED]
    assert diff.changes[0].p_value > 0.05


def test_empty_windows_and_bad_parameters():
    with pytest.raises(InvalidInputError, match="window .* has no log lines"):
        diff_patterns(["a"], [], baseline=BASE, window=WIN)
    with pytest.raises(InvalidInputError, match="baseline .* has no log lines"):
        diff_patterns([], ["a"], baseline=BASE, window=WIN)
    with pytest.raises(InvalidInputError, match="alpha"):
        diff_patterns(["a"], ["a"], baseline=BASE, window=WIN, alpha=2)


def test_fraud_demo_shows_the_cache_miss_template_as_new(demo_bundles):
    bundle = read_bundle(demo_bundles["demo-fraud-stale"])
    source = LocalLogSource(bundle.log_files())
    diff = diff_patterns(source.messages("", bundle.baseline), source.messages("", bundle.window),
                         baseline=bundle.baseline, window=bundle.window)
    new = {c.template: c for c in diff.new}
    miss = new["feature cache miss for account <*>, using default"]
    assert miss.window_count == source.count('"feature cache miss"', bundle.window) > 1000
    assert miss.q_value < 1e-10
    assert "timeout waiting for fraud decision txn=<*> after <*> ms" in new
    assert not diff.sampled


def test_schema_demo_shows_the_imputed_column_warning_as_new(demo_bundles):
    bundle = read_bundle(demo_bundles["demo-schema-change"])
    source = LocalLogSource(bundle.log_files())
    diff = diff_patterns(source.messages("", bundle.baseline), source.messages("", bundle.window),
                         baseline=bundle.baseline, window=bundle.window)
    assert [c.template for c in diff.new] == ["column 'mean radius' missing from request, imputed training median"]
