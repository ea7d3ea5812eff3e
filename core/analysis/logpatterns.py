"""Log templates (drain3) and how they changed between a baseline and an incident window.

How it stays fast on millions of lines: variable parts (times, UUIDs, IPs, paths,
hex, any token with a digit) are masked with vectorised RE2 regexes (pyarrow),
identical masked lines are collapsed with their counts, and only the distinct
masked lines go through Drain (at most ``max_unique`` of them train the tree, a
seeded sample when there are more; every distinct line is then matched to the
final tree). Counting is exact for every line; what sampling can cost is a rare
template being absorbed into a near one, which ``bench_patterns.py`` measures.

The diff tests each template's count in the window against its baseline rate
scaled to the window length: given ``n = baseline + window`` lines of a template,
under an unchanged rate the window count is Binomial(n, Tw / (Tb + Tw)); the
two-sided p-value is twice the smaller exact tail. P-values are corrected with Benjamini-Hochberg across templates.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from drain3.drain import Drain
from scipy.stats import binom

from core.analysis.stattests import benjamini_hochberg
from core.errors import InvalidInputError
from core.models import TimeWindow

PARAM = "<*>"


@dataclass(frozen=True)
class Mask:
    """A variable part of log lines: an RE2 regular expression and what it is replaced with."""

    pattern: str
    name: str = PARAM


DATE_MASK = Mask(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+"
                 r"\d{1,2}\s+\d\d:\d\d:\d\d(?:\s+\d{4})?", "<DATE>")
DEFAULT_MASKS: tuple[Mask, ...] = (
    Mask(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "<UUID>"),
    Mask(r"(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?", "<IP>"),
    Mask(r"(?:[A-Za-z]:)?(?:[/\\][\w.\-]+){2,}[/\\]?", "<PATH>"),
    Mask(r"\b0[xX][0-9a-fA-F]+\b", "<HEX>"),
    Mask(r"[\w\-.:]*\d[\w\-.:]*", PARAM),
)


@dataclass(frozen=True)
class PatternConfig:
    """How lines are masked and clustered.

    Attributes:
        sim_th: Drain similarity threshold (share of equal tokens to join a template).
        depth: Drain tree depth.
        max_children: Drain's maximum children per tree node.
        extra_masks: source-specific masks, applied after the date mask and before the defaults.
        masks: the generic masks.
        max_unique: at most this many distinct masked lines train the tree (a seeded sample beyond).
        seed: seed of that sample.
    """

    sim_th: float = 0.4
    depth: int = 4
    max_children: int = 100
    extra_masks: tuple[Mask, ...] = ()
    masks: tuple[Mask, ...] = DEFAULT_MASKS
    max_unique: int = 50_000
    seed: int = 0

    def all_masks(self) -> tuple[Mask, ...]:
        return (DATE_MASK, *self.extra_masks, *self.masks)

    def to_dict(self) -> dict[str, Any]:
        return {"sim_th": self.sim_th, "depth": self.depth, "max_unique": self.max_unique,
                "extra_masks": [m.pattern for m in self.extra_masks]}


class _Drain(Drain):
    """Drain whose tree also routes tokens holding a mask (``(<*>)``, ``id=<*>``) as parameters."""

    @staticmethod
    def has_numbers(s: str) -> bool:  # noqa: D401 - overrides drain3's digit test
        return "<" in s or any(ch.isdigit() for ch in s)


def _mask_chunk(arr: pa.Array, masks: tuple[Mask, ...]) -> pa.Array:
    arr = pc.fill_null(arr, "")
    for m in masks:
        try:
            arr = pc.replace_substring_regex(arr, m.pattern, m.name)
        except pa.ArrowInvalid as exc:
            raise InvalidInputError(f"mask /{m.pattern}/ is not a valid RE2 regular expression ({exc})") from None
    return pc.utf8_trim_whitespace(arr)


def mask_lines(lines: Sequence[str] | pa.Array, config: PatternConfig = PatternConfig()) -> pa.Array:
    """The lines with every mask applied (vectorised RE2, in parallel chunks for large inputs)."""
    arr = lines if isinstance(lines, (pa.Array, pa.ChunkedArray)) else pa.array(list(lines), type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    masks = config.all_masks()
    workers = min(4, os.cpu_count() or 1)
    if len(arr) < 200_000 or workers == 1:
        return _mask_chunk(arr, masks)
    step = -(-len(arr) // workers)
    chunks = [arr.slice(i, step) for i in range(0, len(arr), step)]
    with ThreadPoolExecutor(max_workers=workers) as pool:  # pyarrow kernels release the GIL
        done = list(pool.map(lambda c: _mask_chunk(c, masks), chunks))
    return pa.concat_arrays(done)


@dataclass(frozen=True)
class TemplateAssignment:
    """Every line's template id, the templates, and how the tree was trained."""

    ids: np.ndarray
    templates: dict[int, str]
    examples: dict[int, str]
    unique_lines: int
    trained_lines: int

    @property
    def sampled(self) -> bool:
        return self.trained_lines < self.unique_lines


def assign_templates(lines: Sequence[str] | pa.Array, config: PatternConfig = PatternConfig()) -> TemplateAssignment:
    """Mine templates over ``lines`` and give each line its template id."""
    raw = lines if isinstance(lines, (pa.Array, pa.ChunkedArray)) else pa.array(list(lines), type=pa.string())
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    masked = mask_lines(raw, config)
    uniques = pc.unique(masked)
    idx = pc.index_in(masked, value_set=uniques).to_numpy(zero_copy_only=False)
    uniq_list = uniques.to_pylist()
    n_unique = len(uniq_list)
    first = np.full(n_unique, -1, dtype=np.int64)
    order = np.arange(len(idx))[::-1]
    first[idx[::-1]] = order  # the last write wins: the first occurrence
    drain = _Drain(depth=config.depth, sim_th=config.sim_th, max_children=config.max_children)
    train = np.arange(n_unique)
    if n_unique > config.max_unique:
        rng = np.random.default_rng(config.seed)
        train = np.sort(rng.choice(n_unique, size=config.max_unique, replace=False))
    trained_id = {}
    for u in train:
        trained_id[int(u)] = drain.add_log_message(uniq_list[u])[0].cluster_id
    cluster_of = np.empty(n_unique, dtype=np.int64)
    for u, text in enumerate(uniq_list):
        c = drain.tree_search(drain.root_node, text.split())
        if c is not None:
            cluster_of[u] = c.cluster_id
        elif u in trained_id:
            cluster_of[u] = trained_id[u]
        else:  # an untrained line that matches nothing: a template of its own
            cluster_of[u] = drain.add_log_message(text)[0].cluster_id
    ids = cluster_of[idx]
    templates = {c.cluster_id: c.get_template() for c in drain.clusters}
    examples: dict[int, str] = {}
    raw_list = None
    for u in np.argsort(first):
        cid = int(cluster_of[u])
        if cid not in examples:
            if raw_list is None:
                raw_list = raw
            examples[cid] = str(raw_list[int(first[u])].as_py() or "")
    return TemplateAssignment(ids=ids, templates=templates, examples=examples,
                              unique_lines=n_unique, trained_lines=len(train))


# ------------------------------------------------------------------ diff

NEW = "new"
VANISHED = "vanished"
INCREASED = "increased"
DECREASED = "decreased"
UNCHANGED = "unchanged"
_ORDER = {NEW: 0, INCREASED: 1, VANISHED: 2, DECREASED: 3, UNCHANGED: 4}


@dataclass(frozen=True)
class TemplateChange:
    """One template's counts in both windows and the test of its rate."""

    template_id: int
    template: str
    status: str
    baseline_count: int
    window_count: int
    expected: float
    ratio: float | None
    p_value: float
    q_value: float
    example: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("template_id", "template", "status", "baseline_count", "window_count",
                                               "expected", "ratio", "p_value", "q_value", "example")}


@dataclass(frozen=True)
class PatternDiff:
    """Templates of the window against the baseline: new, vanished, and significant rate changes."""

    baseline: TimeWindow
    window: TimeWindow
    baseline_lines: int
    window_lines: int
    changes: tuple[TemplateChange, ...]
    alpha: float
    min_ratio: float
    unique_lines: int
    trained_lines: int
    config: PatternConfig = field(default_factory=PatternConfig)
    read_fraction: float = 1.0  # share of each window's lines read (a server-side sample at one shared rate)

    def by_status(self, status: str) -> tuple[TemplateChange, ...]:
        return tuple(c for c in self.changes if c.status == status)

    @property
    def new(self) -> tuple[TemplateChange, ...]:
        return self.by_status(NEW)

    @property
    def vanished(self) -> tuple[TemplateChange, ...]:
        return self.by_status(VANISHED)

    @property
    def changed(self) -> tuple[TemplateChange, ...]:
        return tuple(c for c in self.changes if c.status in (INCREASED, DECREASED))

    @property
    def sampled(self) -> bool:
        return self.trained_lines < self.unique_lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline.to_dict(), "window": self.window.to_dict(),
            "baseline_lines": self.baseline_lines, "window_lines": self.window_lines,
            "alpha": self.alpha, "min_ratio": self.min_ratio, "unique_lines": self.unique_lines,
            "trained_lines": self.trained_lines, "sampled": self.sampled, "read_fraction": self.read_fraction,
            "config": self.config.to_dict(),
            "summary": {s: len(self.by_status(s)) for s in _ORDER},
            "templates": [c.to_dict() for c in self.changes],
        }


def _binom_two_sided(k: np.ndarray, n: np.ndarray, p: float) -> np.ndarray:
    """Two-sided binomial test p-values, vectorised (twice the smaller tail, capped at 1)."""
    k = k.astype(float)
    n = n.astype(float)
    lower = binom.cdf(k, n, p)
    upper = binom.sf(k - 1, n, p)
    out = np.minimum(1.0, 2.0 * np.minimum(lower, upper))
    return np.where(n > 0, out, 1.0)


def diff_patterns(
    baseline_lines: Sequence[str] | pa.Array,
    window_lines: Sequence[str] | pa.Array,
    *,
    baseline: TimeWindow,
    window: TimeWindow,
    config: PatternConfig = PatternConfig(),
    alpha: float = 0.01,
    min_ratio: float = 1.5,
) -> PatternDiff:
    """Compare the templates of ``window_lines`` with those of ``baseline_lines``.

    Args:
        baseline_lines: messages of the baseline window, in time order.
        window_lines: messages of the incident window, in time order.
        baseline: the baseline window (its length scales the expected counts).
        window: the incident window.
        config: masking and clustering settings.
        alpha: false-discovery rate for a change to count as significant.
        min_ratio: a significant change must also change the rate by at least this factor.

    Returns:
        PatternDiff with every template, new ones first.

    Raises:
        InvalidInputError: a window has no lines, or the parameters are out of range.
    """
    nb, nw = len(baseline_lines), len(window_lines)
    if nw == 0:
        raise InvalidInputError(
            f"the window {window.to_dict()['start']}/{window.to_dict()['end']} has no log lines; "
            "widen it or check the query and the source")
    if nb == 0:
        raise InvalidInputError(
            f"the baseline {baseline.to_dict()['start']}/{baseline.to_dict()['end']} has no log lines to compare "
            "with; pick a baseline period where the service was logging")
    if not 0 < alpha < 1 or min_ratio < 1:
        raise InvalidInputError("alpha must be in (0, 1) and min_ratio at least 1")
    b_arr = baseline_lines if isinstance(baseline_lines, pa.Array) else pa.array(list(baseline_lines), pa.string())
    w_arr = window_lines if isinstance(window_lines, pa.Array) else pa.array(list(window_lines), pa.string())
    assignment = assign_templates(pa.concat_arrays([b_arr, w_arr]), config)
    ids = assignment.ids
    tids = np.array(sorted(assignment.templates), dtype=np.int64)
    pos = np.searchsorted(tids, ids)
    bc = np.bincount(pos[:nb], minlength=len(tids))
    wc = np.bincount(pos[nb:], minlength=len(tids))
    tb = baseline.duration.total_seconds()
    tw = window.duration.total_seconds()
    share = tw / (tb + tw)
    scale = tw / tb
    keep = (bc + wc) > 0
    pvals = _binom_two_sided(wc, bc + wc, share)
    qvals = np.ones(len(tids))
    qvals[keep] = benjamini_hochberg(pvals[keep])
    changes = []
    for i in np.nonzero(keep)[0]:
        b, w = int(bc[i]), int(wc[i])
        expected = b * scale
        ratio = (w / expected) if expected > 0 else None
        significant = qvals[i] < alpha
        if b == 0:
            status = NEW
        elif w == 0 and expected >= 1:
            status = VANISHED
        elif significant and ratio is not None and ratio >= min_ratio:
            status = INCREASED
        elif significant and ratio is not None and ratio <= 1 / min_ratio:
            status = DECREASED
        else:
            status = UNCHANGED
        tid = int(tids[i])
        changes.append(TemplateChange(
            template_id=tid, template=assignment.templates[tid], status=status, baseline_count=b, window_count=w,
            expected=float(expected), ratio=None if ratio is None else float(ratio), p_value=float(pvals[i]),
            q_value=float(qvals[i]), example=assignment.examples.get(tid, ""),
        ))
    changes.sort(key=lambda c: (_ORDER[c.status], c.q_value, -c.window_count))
    return PatternDiff(baseline=baseline, window=window, baseline_lines=nb, window_lines=nw,
                       changes=tuple(changes), alpha=alpha, min_ratio=min_ratio,
                       unique_lines=assignment.unique_lines, trained_lines=assignment.trained_lines, config=config)
