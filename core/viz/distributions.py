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


def _numeric(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return np.sort(series.dropna().astype("int64").to_numpy(dtype=float))
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
        fig.add_bar(x=centers, y=counts / values.size, width=np.diff(edges), name=f"{name} (n={values.size:,})",
                    marker_color=color, opacity=0.55)
    fig.update_layout(barmode="overlay", bargap=0)
    if log_x:
        fig.update_xaxes(type="log")
    return _layout(fig, title, "value", "share of rows", dark)


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
        fig.add_scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": color}, name=name)
    return _layout(fig, title, "value", "cumulative share", dark)


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


def quantile_table(reference: pd.Series, current: pd.Series) -> pd.DataFrame:
    """Quantiles, mean, standard deviation, n and null count of both samples, with their ratio."""
    rows = {}
    a, b = _numeric(reference), _numeric(current)
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
