"""Figures comparing a reference and a current column: overlaid histograms, ECDFs, category bars.

Data in, Plotly figure out; large columns are summarised (binned counts, ECDF at
quantiles) before plotting so a million-row column draws instantly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.analysis import schema as sch
from core.analysis.stattests import sorted_quantiles

REF_COLOR = "#636EFA"
CUR_COLOR = "#EF553B"
ECDF_POINTS = 1000
TOP_CATEGORIES = 20
QUANTILES = (("min", 0.0), ("1%", 0.01), ("5%", 0.05), ("25%", 0.25), ("median", 0.5), ("75%", 0.75),
             ("95%", 0.95), ("99%", 0.99), ("max", 1.0))


def _layout(fig: go.Figure, title: str, x: str, y: str, dark: bool) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template="plotly_dark" if dark else "plotly_white",
        font={"size": 18 if dark else 13}, height=380, margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    return fig


def _is_time(*series: pd.Series) -> bool:
    return any(pd.api.types.is_datetime64_any_dtype(s.dtype) for s in series)


def _as_time(ns: np.ndarray) -> pd.DatetimeIndex:
    """Nanoseconds since the epoch (as floats) back to UTC timestamps."""
    return pd.to_datetime(np.round(np.asarray(ns, dtype=float)).astype("int64"), utc=True)


def _numeric(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):  # nanoseconds, whatever the stored unit
        times = pd.to_datetime(series.dropna(), utc=True).dt.as_unit("ns")
        return np.sort(times.astype("int64").to_numpy(dtype=float))
    return np.sort(sch.numeric_values(series))


def histogram_figure(reference: pd.Series, current: pd.Series, *, title: str = "", bins: int = 60,
                     log_x: bool = False, dark: bool = False) -> go.Figure:
    """Overlaid histograms (share of non-null rows per bin) on common bins.

    With ``log_x`` the bins are even in log10 space, so a ×10 scale change shows as two
    separate bumps instead of one squashed bar.
    """
    a, b = _numeric(reference), _numeric(current)
    fig = go.Figure()
    both = np.concatenate([a, b])
    if both.size == 0:
        return _layout(fig, title or "no values", "", "", dark)
    timed = _is_time(reference, current)
    log_x = log_x and not timed  # a log scale of dates means nothing
    if log_x:
        positive = both[both > 0]
        if positive.size == 0:
            log_x = False
    if log_x:
        edges = np.logspace(np.log10(positive.min()), np.log10(positive.max()), bins + 1)
    else:
        lo, hi = float(both.min()), float(both.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    for values, name, color in ((a, "reference", REF_COLOR), (b, "current", CUR_COLOR)):
        if values.size == 0:
            continue
        counts, _ = np.histogram(values, bins=edges)
        centers = np.sqrt(edges[:-1] * edges[1:]) if log_x else (edges[:-1] + edges[1:]) / 2
        x, width = (_as_time(centers), np.diff(edges) / 1e6) if timed else (centers, np.diff(edges))  # ms on dates
        fig.add_bar(x=x, y=counts / values.size, width=width, name=f"{name} (n={values.size:,})",
                    marker_color=color, opacity=0.55)
    fig.update_layout(barmode="overlay", bargap=0)
    if log_x:
        fig.update_xaxes(type="log")
    return _layout(fig, title, "time (UTC)" if timed else "value", "share of rows", dark)


def ecdf_figure(reference: pd.Series, current: pd.Series, *, title: str = "", dark: bool = False) -> go.Figure:
    """Both empirical CDFs (drawn at up to 1000 quantiles each); the KS statistic is their largest gap."""
    fig = go.Figure()
    probs = np.linspace(0, 1, ECDF_POINTS)
    for series, name, color in ((reference, "reference", REF_COLOR), (current, "current", CUR_COLOR)):
        values = _numeric(series)
        if values.size == 0:
            continue
        xs = sorted_quantiles(values, probs) if values.size > ECDF_POINTS else values
        ys = probs if values.size > ECDF_POINTS else np.arange(1, values.size + 1) / values.size
        fig.add_scatter(x=_as_time(xs) if _is_time(series) else xs, y=ys, mode="lines",
                        line={"shape": "hv", "color": color}, name=name)
    return _layout(fig, title, "time (UTC)" if _is_time(reference, current) else "value", "cumulative share", dark)


def category_shares(reference: pd.Series, current: pd.Series, top: int = TOP_CATEGORIES) -> pd.DataFrame:
    """Share of each category (nulls as "(null)") in both samples, the most changed first."""
    def shares(series: pd.Series) -> pd.Series:
        counts = sch.category_labels(series).astype("string").fillna("(null)").value_counts()
        return counts / max(int(counts.sum()), 1)

    ref, cur = shares(reference), shares(current)
    table = pd.DataFrame({"reference": ref, "current": cur}).fillna(0.0)
    table["change"] = table["current"] - table["reference"]
    table = table.reindex(table["change"].abs().sort_values(ascending=False).index)
    table.index.name = "value"
    return table.head(top)


def category_figure(reference: pd.Series, current: pd.Series, *, title: str = "", dark: bool = False) -> go.Figure:
    """Side-by-side bars of category shares (the 20 most changed categories)."""
    table = category_shares(reference, current)
    fig = go.Figure()
    labels = [str(v) for v in table.index]
    fig.add_bar(x=labels, y=table["reference"], name="reference", marker_color=REF_COLOR)
    fig.add_bar(x=labels, y=table["current"], name="current", marker_color=CUR_COLOR)
    fig.update_layout(barmode="group")
    return _layout(fig, title, "value", "share of rows", dark)


def _duration(ns: float) -> str:
    if not np.isfinite(ns):
        return "—"
    sign, seconds = ("-" if ns < 0 else ""), abs(ns) / 1e9
    if seconds < 60:
        return f"{sign}{seconds:.0f}s"
    minutes = int(seconds // 60)
    if minutes < 60 * 48:
        return f"{sign}{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{sign}{minutes}m"
    return f"{sign}{minutes // 1440}d {(minutes % 1440) // 60}h"


def _time_quantile_table(a: np.ndarray, b: np.ndarray, reference: pd.Series, current: pd.Series) -> pd.DataFrame:
    """The quantile table of a time column: dates (UTC), spreads and shifts as durations, counts as text."""
    def when(values: np.ndarray, q: float) -> float:
        return float(sorted_quantiles(values, [q])[0]) if values.size else np.nan

    def date(ns: float) -> str:
        return "—" if not np.isfinite(ns) else f"{_as_time([ns])[0]:%Y-%m-%d %H:%M:%S}"

    rows = {}
    for label, q in QUANTILES:
        x, y = when(a, q), when(b, q)
        rows[label] = (date(x), date(y), _duration(y - x))
    x, y = (float(a.mean()) if a.size else np.nan), (float(b.mean()) if b.size else np.nan)
    rows["mean"] = (date(x), date(y), _duration(y - x))
    sa, sb = (float(a.std()) if a.size else np.nan), (float(b.std()) if b.size else np.nan)
    rows["std"] = (_duration(sa), _duration(sb), "")
    rows["n (non-null)"] = (f"{a.size:,}", f"{b.size:,}", "")
    rows["nulls"] = (f"{len(reference) - a.size:,}", f"{len(current) - b.size:,}", "")
    return pd.DataFrame.from_dict(rows, orient="index", columns=["reference (UTC)", "current (UTC)", "shift"])


def freshness_lag(reference: pd.DataFrame, current: pd.DataFrame, column: str, row_time: str) -> pd.DataFrame:
    """How far an event-time column lags the row time (``row_time - column``), as durations, per sample.

    A data-freshness view: a feature refreshed every 30 minutes lags by about 30 minutes; a refresh
    job that stopped makes the lag grow by hours.
    """
    rows = {}
    lags = []
    for frame in (reference, current):
        lag = (pd.to_datetime(frame[row_time], utc=True) - pd.to_datetime(frame[column], utc=True)).dropna()
        lags.append(np.sort(lag.dt.total_seconds().to_numpy(dtype=float) * 1e9))
    for label, q in (("median", 0.5), ("90%", 0.9), ("99%", 0.99), ("max", 1.0)):
        rows[label] = tuple(_duration(float(sorted_quantiles(v, [q])[0])) if v.size else "—" for v in lags)
    rows["rows"] = tuple(f"{v.size:,}" for v in lags)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["reference", "current"]).rename_axis(
        f"{row_time} − {column}")


def quantile_table(reference: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Quantiles, mean, standard deviation, n and null count of both samples, with their ratio.

    Time columns show dates (UTC) and the shift between the samples as a duration instead.
    """
    rows = {}
    a, b = _numeric(reference), _numeric(current)
    if _is_time(reference, current):
        return _time_quantile_table(a, b, reference, current)
    for label, q in QUANTILES:
        rows[label] = (
            float(sorted_quantiles(a, [q])[0]) if a.size else np.nan,
            float(sorted_quantiles(b, [q])[0]) if b.size else np.nan,
        )
    rows["mean"] = (float(a.mean()) if a.size else np.nan, float(b.mean()) if b.size else np.nan)
    rows["std"] = (float(a.std()) if a.size else np.nan, float(b.std()) if b.size else np.nan)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["reference", "current"])
    with np.errstate(divide="ignore", invalid="ignore"):
        table["current / reference"] = table["current"] / table["reference"].where(table["reference"] != 0)
    counts = pd.DataFrame(
        {"reference": [a.size, len(reference) - a.size], "current": [b.size, len(current) - b.size]},
        index=["n (non-null)", "nulls"],
    ).astype(float)
    return pd.concat([table, counts])
