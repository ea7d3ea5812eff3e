"""Benchmark: the timeline figure for 50,000 events vs a naive one-trace-per-event figure.

Run: ``python tests/bench/bench_timeline.py [N]`` (about 6 minutes for the default
50,000: the naive figure alone takes minutes to draw). Prints, side by side, the
time to build the figure and serialise it to JSON (what Streamlit sends to the
browser), the JSON size, and the time headless Chromium takes to draw it
(software WebGL, so absolute render times are pessimistic; the ratio is the point). The events are synthetic and seeded (five days, eight kinds,
2% spans). The naive figure is what a first attempt looks like: one
``go.Scatter`` per event, which plotly.js then renders as SVG.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.viz.timeline import build_timeline_figure, naive_timeline_figure  # noqa: E402

KINDS = ["deploy", "model_version", "config_change", "data_pipeline", "alert", "external", "log", "annotation"]
T0 = datetime(2026, 3, 10, tzinfo=timezone.utc)


def make_events(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    secs = np.sort(rng.integers(0, 5 * 86400, n))
    kinds = rng.choice(KINDS, n, p=[0.02, 0.01, 0.02, 0.05, 0.1, 0.01, 0.6, 0.19])
    ts = pd.to_datetime(T0) + pd.to_timedelta(secs, unit="s")
    ends = pd.Series(ts + pd.to_timedelta(rng.integers(60, 3600, n), unit="s")).where(rng.random(n) < 0.02)
    return pd.DataFrame({
        "timestamp": ts, "end": ends, "kind": kinds, "source": rng.choice(["argo", "airflow", "grafana", "slack"], n),
        "title": [f"event {i}" for i in range(n)], "author": "", "id": np.arange(n),
    })


def measure(build, repeat: int = 1) -> tuple[float, str]:
    """Best wall time of build + to_json over ``repeat`` runs, and the JSON."""
    best, js = float("inf"), ""
    for _ in range(repeat):
        t = time.perf_counter()
        js = build().to_json()
        best = min(best, time.perf_counter() - t)
    return best, js


def render_seconds(fig_json: str) -> float | None:
    """Time Plotly.newPlot plus two animation frames in headless Chromium (software WebGL); None without playwright."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        return None
    import plotly

    js_path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    html = ("<html><body><div id='g' style='width:1400px;height:800px'></div>"
            f"<script>{js_path.read_text(encoding='utf-8')}</script></body></html>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--use-gl=swiftshader", "--enable-webgl",
                                          "--ignore-gpu-blocklist"])
        page = browser.new_page()
        page.set_content(html)
        page.set_default_timeout(0)
        try:
            ms = page.evaluate(
                "async (s) => { const f = JSON.parse(s); const t = performance.now();"
                " await Plotly.newPlot('g', f.data, f.layout);"
                " await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));"
                " return performance.now() - t; }", fig_json)
        except Error:
            ms = None
        browser.close()
    return ms / 1000 if ms is not None else None


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    df = make_events(n)
    ours_t, ours_js = measure(lambda: build_timeline_figure(df), repeat=3)
    points_t, points_js = measure(lambda: build_timeline_figure(df, max_points_per_lane=n + 1), repeat=3)
    naive_t, naive_js = measure(lambda: naive_timeline_figure(df))
    fig = build_timeline_figure(df)
    rows = [
        ("workbench (one trace per lane, dense lanes binned)", ours_t, ours_js, len(fig.data)),
        ("workbench, every event a point (no binning)", points_t, points_js,
         len(build_timeline_figure(df, max_points_per_lane=n + 1).data)),
        ("naive (one SVG trace per event)", naive_t, naive_js, n),
    ]
    print(f"timeline figure for {n:,} synthetic events (seeded; lanes: "
          + ", ".join(f"{lane['lane']}={lane['events']} {lane['mode']}" for lane in fig.layout.meta["lanes"]) + ")")
    print(f"{'figure':<46}{'build+JSON s':>13}{'JSON MB':>9}{'traces':>8}{'render s':>10}")
    renders = []
    for name, t, js, traces in rows:
        r = render_seconds(js)
        renders.append(r)
        shown = f"{r:.2f}" if r is not None else "n/a"
        print(f"{name:<46}{t:>13.3f}{len(js) / 1e6:>9.2f}{traces:>8}{shown:>10}")
    import plotly.graph_objects as go

    base = render_seconds(go.Figure(go.Scattergl(x=[0, 1], y=[0, 1])).to_json())
    if base is not None:
        print(f"{'(empty WebGL figure: software WebGL start-up)':<46}{'':>13}{'':>9}{1:>8}{base:>10.2f}")
    r_ours, r_naive = renders[0], renders[2]
    render_ratio = f"x{r_naive / r_ours:.0f}" if (r_ours and r_naive) else "n/a"
    print(f"naive / workbench: build+JSON x{naive_t / ours_t:.0f}, JSON size x{len(naive_js) / len(ours_js):.1f}, "
          f"browser render {render_ratio}")


if __name__ == "__main__":
    main()
