"""The one place for the face's point layouts: MediaPipe 478 -> dlib/iBUG 68, the 9 organ
groups and the 16 regions (see docs/facemap.md for the picture).

Side convention: "right"/"left" are the subject's, as in iBUG: dlib points 36-41 are the
subject's right eye, which appears on the left of an unmirrored image.
"""

from __future__ import annotations

import numpy as np

# dlib index -> MediaPipe index, or a pair whose mean is used. From DESIGN.md.
_MP_TO_68: tuple[int | tuple[int, int], ...] = (
    # jaw 0-16
    127,
    234,
    93,
    (132, 58),
    (58, 172),
    136,
    150,
    176,
    152,
    400,
    379,
    365,
    (397, 288),
    361,
    323,
    454,
    356,
    # right brow 17-21, left brow 22-26
    70,
    63,
    105,
    66,
    107,
    336,
    296,
    334,
    293,
    300,
    # nose bridge 27-30, nose base 31-35
    (168, 6),
    (197, 195),
    5,
    4,
    75,
    97,
    2,
    326,
    305,
    # right eye 36-41, left eye 42-47
    33,
    160,
    158,
    133,
    153,
    144,
    362,
    385,
    387,
    263,
    373,
    380,
    # outer lip 48-59
    61,
    39,
    37,
    0,
    267,
    269,
    291,
    321,
    314,
    17,
    84,
    91,
    # inner lip 60-67
    78,
    82,
    13,
    312,
    308,
    317,
    14,
    87,
)
assert len(_MP_TO_68) == 68


def _mapping_matrix() -> np.ndarray:
    """A (68, 478) averaging matrix: pts68 = M @ pts478 handles the paired points in one matmul."""
    m = np.zeros((68, 478), dtype=np.float32)
    for i, src in enumerate(_MP_TO_68):
        if isinstance(src, tuple):
            m[i, src[0]] = m[i, src[1]] = 0.5
        else:
            m[i, src] = 1.0
    return m


MP_TO_68_MATRIX = _mapping_matrix()
# Single-index gather is faster than the matmul; the pairs are fixed afterwards.
_SINGLE = np.array([s[0] if isinstance(s, tuple) else s for s in _MP_TO_68])
_PAIRS = [(i, s[0], s[1]) for i, s in enumerate(_MP_TO_68) if isinstance(s, tuple)]

# Iris points in the 478 layout (subject's right / left).
RIGHT_IRIS_CENTER, RIGHT_IRIS_RING = 468, (469, 470, 471, 472)
LEFT_IRIS_CENTER, LEFT_IRIS_RING = 473, (474, 475, 476, 477)


def mp478_to_68(points: np.ndarray) -> np.ndarray:
    """Map MediaPipe points (478 or 468, any number of columns) to the 68-point iBUG layout."""
    if points.shape[0] < 468:
        raise ValueError(f"expected at least 468 points, got {points.shape[0]}")
    out = points[_SINGLE].astype(np.float32, copy=True)
    for i, a, b in _PAIRS:
        out[i] = 0.5 * (points[a] + points[b])
    return out


# 68-point named anchors used by features and alignment.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_INNER, LEFT_EYE_OUTER = 36, 39, 42, 45
MOUTH_RIGHT, MOUTH_LEFT = 48, 54
UPPER_LIP_INNER, LOWER_LIP_INNER = 62, 66
NOSE_TIP = 30
RIGHT_EYE = tuple(range(36, 42))
LEFT_EYE = tuple(range(42, 48))

# The 9 organ groups (Emoface). Abbreviations follow the paper.
ORGANS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "REyC": tuple(range(17, 22)),  # right brow (subject's right)
    "LEyC": tuple(range(22, 27)),  # left brow
    "nose_bridge": tuple(range(27, 31)),
    "nose_base": tuple(range(31, 36)),
    "right_eye": RIGHT_EYE,
    "left_eye": LEFT_EYE,
    "OLC": tuple(range(48, 60)),  # outer lip contour
    "ILC": tuple(range(60, 68)),  # inner lip contour
}

# The organ groups in words, for reports (sides are the subject's, as above).
ORGAN_NAMES: dict[str, str] = {
    "jaw": "jaw line",
    "REyC": "right eyebrow",
    "LEyC": "left eyebrow",
    "nose_bridge": "nose bridge",
    "nose_base": "base of the nose",
    "right_eye": "right eye",
    "left_eye": "left eye",
    "OLC": "outer lip contour",
    "ILC": "inner lip contour",
}

# The 16 regions. The paper numbers them without index lists; this table is the project's
# definition. Anchors kept from the paper: 5 and 8 are the outer eye corners, 6 and 7 the
# inner ones (numbered left to right as the face appears in an unmirrored image).
REGIONS: dict[int, tuple[str, tuple[int, ...]]] = {
    1: ("right brow, outer", (17, 18, 19)),
    2: ("right brow, inner", (19, 20, 21)),
    3: ("left brow, inner", (22, 23, 24)),
    4: ("left brow, outer", (24, 25, 26)),
    5: ("right eye, outer corner", (36, 37, 41)),
    6: ("right eye, inner corner", (38, 39, 40)),
    7: ("left eye, inner corner", (42, 43, 47)),
    8: ("left eye, outer corner", (44, 45, 46)),
    9: ("nose bridge", (27, 28, 29, 30)),
    10: ("nose base", (31, 32, 33, 34, 35)),
    11: ("right cheek", (1, 2, 3, 4, 31, 48)),
    12: ("left cheek", (12, 13, 14, 15, 35, 54)),
    13: ("right mouth corner", (48, 49, 59, 60, 67)),
    14: ("left mouth corner", (53, 54, 55, 63, 64, 65)),
    15: ("upper lip", (50, 51, 52, 61, 62, 63)),
    16: ("lower lip and chin", (56, 57, 58, 65, 66, 67, 7, 8, 9)),
}

REGION_KEYS = tuple(f"R{n}" for n in REGIONS)
ORGAN_KEYS = tuple(ORGANS)


def _membership(groups: list[tuple[int, ...]]) -> np.ndarray:
    """(n_groups, 68) row-normalised matrix: group means of any per-point quantity in one matmul."""
    m = np.zeros((len(groups), 68), dtype=np.float32)
    for g, idx in enumerate(groups):
        m[g, list(idx)] = 1.0 / len(idx)
    return m


REGION_MATRIX = _membership([idx for _, idx in REGIONS.values()])
ORGAN_MATRIX = _membership(list(ORGANS.values()))


def region_means(per_point: np.ndarray) -> np.ndarray:
    """Mean of a per-point (68,) quantity inside each of the 16 regions."""
    return REGION_MATRIX @ per_point


def organ_means(per_point: np.ndarray) -> np.ndarray:
    """Mean of a per-point (68,) quantity inside each of the 9 organ groups."""
    return ORGAN_MATRIX @ per_point
