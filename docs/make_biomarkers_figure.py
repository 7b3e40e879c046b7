"""Draws docs/biomarkers.png: (a) the action-unit proxies as arrows on the project's mean
face (device.vision.headpose.REFERENCE_68, no real person), (b) the blink rule on the EAR
series of the defect report (a blink in the first five frames) and a later blink, and (c)
the eyeball model's angle for an iris offset. Everything is computed by the device's own
functions. Run: .venv/bin/python docs/make_biomarkers_figure.py"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from device.session.biomarkers.action_units import AU_NAMES, au_proxies  # noqa: E402
from device.session.biomarkers.blinks import CLOSED_FRACTION, BlinkTracker  # noqa: E402
from device.session.biomarkers.gaze import offset_to_degrees  # noqa: E402
from device.vision.headpose import REFERENCE_68  # noqa: E402

# the direction each proxy reads, on its own points (eye-centre units, y down)
ARROWS = {
    "AU1": ([20, 21, 22, 23], (0, -1)),
    "AU2": ([17, 18, 25, 26], (0, -1)),
    "AU4": (list(range(17, 27)), (0, 1)),
    "AU6": ([40, 41, 46, 47], (0, -1)),
    "AU12": ([48, 54], (0, -1)),
    "AU15": ([48, 54], (0, 1)),
    "AU20": ([48, 54], (1, 0)),
    "AU25": ([66], (0, 1)),
    "AU26": ([8], (0, 1)),
}
COLOURS = plt.cm.tab10(np.linspace(0, 1, 10))


def _face_panel(ax) -> None:
    p = REFERENCE_68[:, :2] / np.linalg.norm(
        REFERENCE_68[36:42, :2].mean(0) - REFERENCE_68[42:48, :2].mean(0)
    )
    ax.scatter(p[:, 0], p[:, 1], s=6, c="0.4")
    for k, (name, (idx, (dx, dy))) in enumerate(ARROWS.items()):
        for i in idx:
            sx = dx * (1 if name != "AU20" or p[i, 0] > 0 else -1)
            ax.annotate(
                "",
                xy=(p[i, 0] + 0.15 * sx, p[i, 1] + 0.15 * dy),
                xytext=tuple(p[i]),
                arrowprops={"arrowstyle": "->", "color": COLOURS[k], "lw": 1.5},
            )
        ax.text(1.05, 0.95 - 0.075 * k, name, color=COLOURS[k], transform=ax.transAxes, fontsize=9)
    # check the arrows against the function: each planted move reads on its own proxy
    base = p.copy()
    for name, (idx, (dx, dy)) in ARROWS.items():
        moved = base.copy()
        for i in idx:
            moved[i] += (0.05 * dx * (1 if name != "AU20" or p[i, 0] > 0 else -1), 0.05 * dy)
        aus = au_proxies(moved, base)
        top = AU_NAMES[int(np.argmax(aus[:-1]))]
        assert top.startswith(name + "_"), (name, top)
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.set_title("(a) AU proxies: landmark moves vs neutral")
    ax.axis("off")


def _blink_panel(ax) -> None:
    ears = [0.231, 0.268, 0.198, 0.161, 0.156] + [0.25, 0.27, 0.26, 0.265, 0.255] * 4
    ears[30:34] = [0.2, 0.12, 0.1, 0.18]
    ears += [0.26, 0.255, 0.265, 0.26, 0.25, 0.262]
    bt = BlinkTracker()
    t = np.arange(len(ears)) / 30
    refs, closed = [], []
    for ti, e in zip(t, ears, strict=True):
        st = bt.step(ti, e)
        refs.append(bt.reference or np.nan)
        closed.append(st.closed)
    refs = np.array(refs)
    ax.plot(t, ears, "o-", ms=3, label="EAR")
    ax.plot(t, refs, label="open-eye reference (P90)")
    ax.plot(t, CLOSED_FRACTION * refs, "--", label=f"closing level ({CLOSED_FRACTION:g} x ref)")
    ax.fill_between(t, 0, 0.3, where=closed, color="orange", alpha=0.3, label="closed")
    mean5 = np.mean(ears[:5])
    ax.axhline(0.7 * mean5, color="red", lw=0.8, ls=":", label="old level (0.7 x mean of first 5)")
    ax.set_xlabel("time (s)")
    ax.set_ylim(0.05, 0.3)
    ax.set_title(f"(b) blinks: {bt.count} found")
    ax.legend(fontsize=7, loc="lower right")


def _gaze_panel(ax) -> None:
    o = np.linspace(-0.35, 0.35, 200)
    ax.plot(o, [offset_to_degrees(x) for x in o])
    ax.set_xlabel("iris offset from rest (eye widths)")
    ax.set_ylabel("gaze angle (deg)")
    ax.set_title("(c) eyeball model: asin(o * 30 mm / 12 mm)")
    ax.grid(alpha=0.3)


def main() -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    _face_panel(axes[0])
    _blink_panel(axes[1])
    _gaze_panel(axes[2])
    fig.tight_layout()
    out = Path(__file__).with_name("biomarkers.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
