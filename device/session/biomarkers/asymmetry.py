"""Facial asymmetry: how differently the two halves of the face moved from neutral.

Each point's displacement from the neutral baseline is compared with the displacement of
its mirror point (right <-> left in the iBUG layout), mirrored back (x negated): a
perfectly symmetric movement gives 0. The per-point mismatch is then averaged inside each
region and organ of the one table in device.vision.facemap, so the groups are the ones
the classifier's evidence and the explicit route use. Because a point and its mirror have
the same mismatch, a region and its mirror region read (nearly) the same: asymmetry says
how much, not which side. Unit: eye-centre distances (canonical frame).
"""

from __future__ import annotations

import numpy as np

from device.vision.facemap import organ_means, region_means

# iBUG 68 mirror pairs (subject's right <-> left); midline points map to themselves.
_PAIRS = (
    *((i, 16 - i) for i in range(8)),
    (17, 26),
    (18, 25),
    (19, 24),
    (20, 23),
    (21, 22),
    (31, 35),
    (32, 34),
    (36, 45),
    (37, 44),
    (38, 43),
    (39, 42),
    (40, 47),
    (41, 46),
    (48, 54),
    (49, 53),
    (50, 52),
    (55, 59),
    (56, 58),
    (60, 64),
    (61, 63),
    (65, 67),
)


def _mirror_index() -> np.ndarray:
    m = np.arange(68)
    for a, b in _PAIRS:
        m[a], m[b] = b, a
    return m


MIRROR_68 = _mirror_index()
_FLIP = np.array([-1.0, 1.0])


def point_asymmetry(canon: np.ndarray, base: np.ndarray) -> np.ndarray:
    """(68,) |d_p - mirror(d_m(p))| with d = canon - base (canonical frame, eye-centre units)."""
    d = canon[:, :2] - base[:, :2]
    return np.linalg.norm(d - d[MIRROR_68] * _FLIP, axis=1)


def region_organ_asymmetry(canon: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean point asymmetry in each of the 16 regions and 9 organs."""
    a = point_asymmetry(canon, base)
    return region_means(a), organ_means(a)
