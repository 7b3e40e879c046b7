"""The report's figures, drawn on the receiver with matplotlib and inlined as SVG text (no
files, no network): responses by condition, and activity on the schematic face map."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

plt.rcParams.update({"font.size": 9, "svg.hashsalt": "emoface", "font.family": "DejaVu Sans"})


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def responses_svg(rows: list[dict]) -> str:
    """Bars: response amplitude per clip against the neutral baseline (% eye-to-eye distance)."""
    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    labels = [r["condition"] for r in rows]
    vals = [np.nan if r["amplitude_pct"] is None else r["amplitude_pct"] for r in rows]
    colours = ["#7a7a7a" if c == "neutral" else "#2e7dd2" for c in labels]
    ax.bar(range(len(rows)), vals, color=colours)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(rows)), labels)
    ax.set_ylabel("response amplitude\n(% of eye-to-eye distance)")
    ax.set_title("Facial response to each clip, against the neutral baseline")
    for i, v in enumerate(vals):
        if np.isfinite(v):
            ax.annotate(f"{v:.2f}", (i, v), ha="center", va="bottom" if v >= 0 else "top")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def _hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull (monotone chain) of a few 2D points, in order."""
    pts = sorted(map(tuple, pts))
    if len(pts) < 3:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def facemap_svg(legend: dict, regions: list[dict], value: str, title: str) -> str:
    """The 16 regions on the schematic mean face, shaded by `value` (numbered as in the table)."""
    pts = np.array(legend["points"])
    vals = np.array([np.nan if r[value] is None else r[value] for r in regions], float)
    finite = vals[np.isfinite(vals)]
    vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    cmap = plt.get_cmap("Oranges")
    fig, ax = plt.subplots(figsize=(3.4, 3.6))
    for r, v in zip(regions, vals, strict=True):
        idx = legend["regions"][r["key"]]["points"]
        poly = _hull(pts[idx])
        colour = cmap(0.15 + 0.85 * v / vmax) if np.isfinite(v) else "#eeeeee"
        ax.add_patch(Polygon(poly, closed=True, fc=colour, ec="#555555", lw=0.6, alpha=0.9))
        cx, cy = pts[idx].mean(0)
        ax.text(cx, cy, r["key"][1:], ha="center", va="center", fontsize=7)
    ax.plot(pts[:, 0], pts[:, 1], ".", color="#333333", ms=2)
    ax.set_xlim(-0.05, 1.05)
    ax.set_ylim(pts[:, 1].max() + 0.05, pts[:, 1].min() - 0.08)  # image y runs down
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
    fig.colorbar(sm, ax=ax, fraction=0.04, pad=0.02)
    return _svg(fig)
