"""Bar charts for the report, drawn with matplotlib's Agg backend (no display needed) into PNG bytes.

Each bar carries its 95% Wilson interval as an error bar, and the x labels give each set's n.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from agentdistill.evaluate.report_table import ResultsTable  # noqa: E402

# Colour-blind friendly (Okabe-Ito), then tab10 for more series.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def _series_names(table: ResultsTable) -> list[str]:
    multi_model = len({r.model for r in table.rows}) > 1
    return [f"{r.label} ({r.model})" if multi_model else r.label for r in table.rows]


def accuracy_figure(table: ResultsTable) -> Figure:
    """Grouped bars: one group per test set, one bar per method (run), with 95% Wilson error bars."""
    sets = [c.name for c in table.set_columns]
    n_series = max(1, len(table.rows))
    width = min(0.8 / n_series, 0.3)
    fig_w = max(6.0, min(14.0, 1.2 + len(sets) * (0.9 + 0.28 * n_series)))
    fig, ax = plt.subplots(figsize=(fig_w, 4.2), dpi=110)
    names = _series_names(table)
    colors = PALETTE + list(plt.get_cmap("tab10").colors)  # type: ignore[attr-defined]
    for i, row in enumerate(table.rows):
        xs, ys, lo, hi = [], [], [], []
        for j, name in enumerate(sets):
            v = row.accuracy.get(name)
            if v is not None:
                xs.append(j + (i - (n_series - 1) / 2) * width)
                ys.append(v)
                ci = row.interval.get(name)
                lo.append(max(0.0, v - 100 * ci.low) if ci else 0.0)
                hi.append(max(0.0, 100 * ci.high - v) if ci else 0.0)
        bars = ax.bar(
            xs,
            ys,
            width * 0.92,
            label=names[i],
            color=colors[i % len(colors)],
            yerr=[lo, hi],
            error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "#555555"},
        )
        if n_series <= 6 and len(sets) <= 8:
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2, color="#333333")
    ns = {name: {ci.n for r in table.rows if (ci := r.interval.get(name)) is not None} for name in sets}
    ax.set_xticks(range(len(sets)), [f"{s}\n(n={ns[s].pop()})" if len(ns[s]) == 1 else s for s in sets])
    ax.set_ylabel("Accuracy (%), 95% Wilson interval")
    top = max(
        [100 * ci.high for r in table.rows for ci in r.interval.values() if ci is not None]
        + [v for r in table.rows for v in r.accuracy.values() if v is not None]
        or [0.0]
    )
    ax.set_ylim(0, min(100.0, max(10.0, top * 1.18 + 2)))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    fig.tight_layout()
    # the legend goes under the tick labels (two lines when they carry n), measured once they are laid out
    fig.canvas.draw()
    labels = ax.xaxis.get_tightbbox(fig.canvas.get_renderer())  # type: ignore[attr-defined]
    below = ax.transAxes.inverted().transform((0, labels.y0))[1] if labels is not None else -0.1
    ax.legend(
        fontsize=8,
        frameon=False,
        loc="upper center",
        bbox_to_anchor=(0.5, below - 0.02),
        ncol=min(3, n_series),
    )
    return fig


def figure_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def accuracy_chart_png(table: ResultsTable) -> bytes:
    return figure_png(accuracy_figure(table))


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
