"""Registering a frame's canonical face onto the neutral baseline on points that no
expression moves, before any baseline-relative measure.

The canonical frame is aligned on the eye centres, nose tip and mouth corners (the
classifier crop's anchors). Those points move in expressions and blinks, so a movement of
the eye corners or mouth would shift the whole canonical face and show up as motion of the
brows or the cheeks. A least-squares similarity fit on the nose (bridge and base) and the
upper face contour next to the ears takes that shift out, so each region's displacement
is its own.
"""

from __future__ import annotations

import numpy as np

STABLE_POINTS = np.array([0, 1, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35])


def register_to_baseline(canon: np.ndarray, base: np.ndarray) -> np.ndarray:
    """canon (68, 2) mapped by the similarity that best fits its STABLE_POINTS onto base's."""
    src, dst = canon[STABLE_POINTS, :2], base[STABLE_POINTS, :2]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    # complex-number form of the 2D similarity: d ~ a * s with a = scale * e^{i angle}
    zs, zd = s[:, 0] + 1j * s[:, 1], d[:, 0] + 1j * d[:, 1]
    denom = float(np.vdot(zs, zs).real)
    if denom <= 0:
        return canon[:, :2].copy()
    a = np.vdot(zs, zd) / denom
    z = (canon[:, 0] - mu_s[0]) + 1j * (canon[:, 1] - mu_s[1])
    out = a * z
    return np.stack([out.real + mu_d[0], out.imag + mu_d[1]], axis=1)
