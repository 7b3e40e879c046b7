"""Geometric action-unit proxies: how far the landmarks moved, against the session's neutral
baseline, in the direction that FACS action unit moves them.

These are proxies, not FACS codes: a landmark model sees shape, not the skin texture
(wrinkles, bulges) that coders also use. All inputs are canonical 68-point faces (see
device.vision.features: similarity-aligned on the eyes, unit = eye-centre distance, y down),
so head translation, scale and roll are already removed. Each proxy is an intensity >= 0
in eye-centre distances (AU45: a closure fraction 0..1); a movement in the opposite
direction reads 0, so opposites (AU12 lift, AU15 drop) are two proxies of one measure.
"""

from __future__ import annotations

import numpy as np

from device.vision.facemap import LOWER_LIP_INNER, MOUTH_LEFT, MOUTH_RIGHT, UPPER_LIP_INNER

AU_NAMES: tuple[str, ...] = (
    "AU1_inner_brow_raiser",
    "AU2_outer_brow_raiser",
    "AU4_brow_lowerer",
    "AU6_cheek_raiser",
    "AU12_lip_corner_puller",
    "AU15_lip_corner_depressor",
    "AU20_lip_stretcher",
    "AU25_lips_part",
    "AU26_jaw_drop",
    "AU45_blink",
)
AU_INDEX = {n: i for i, n in enumerate(AU_NAMES)}
# expressivity sums every proxy but the blink (a blink is not an expression)
EXPRESSION_AUS = tuple(i for i, n in enumerate(AU_NAMES) if not n.startswith("AU45"))

_INNER_BROW = [20, 21, 22, 23]
_OUTER_BROW = [17, 18, 25, 26]
_BROWS = list(range(17, 27))
_LOWER_LIDS = [40, 41, 46, 47]
_CORNERS = [MOUTH_RIGHT, MOUTH_LEFT]
_LIP_MIDLINE = [51, UPPER_LIP_INNER, LOWER_LIP_INNER, 57]
_CHIN = 8


def corner_lift(canon: np.ndarray, base: np.ndarray) -> float:
    """Upward movement of the mouth corners relative to the lip midline (> 0 = up)."""
    dy = canon[:, 1] - base[:, 1]
    return float(dy[_LIP_MIDLINE].mean() - dy[_CORNERS].mean())


def au_proxies(
    canon: np.ndarray, base: np.ndarray, eye_closure: float = float("nan")
) -> np.ndarray:
    """(len(AU_NAMES),) intensities for one frame.

    canon, base: canonical (68, 2) points of this frame and of the neutral baseline;
    eye_closure: 1 - EAR / open-eye reference (device.session.biomarkers.blinks), or NaN.
    """
    dy = canon[:, 1] - base[:, 1]
    out = np.empty(len(AU_NAMES))
    out[0] = -dy[_INNER_BROW].mean()
    out[1] = -dy[_OUTER_BROW].mean()
    gap = np.linalg.norm(canon[21] - canon[22])
    base_gap = np.linalg.norm(base[21] - base[22])
    out[2] = dy[_BROWS].mean() + (base_gap - gap)  # brows come down and together
    out[3] = -dy[_LOWER_LIDS].mean()  # the cheek pushes the lower lids up
    lift = corner_lift(canon, base)
    out[4] = lift
    out[5] = -lift
    width = np.linalg.norm(canon[MOUTH_LEFT] - canon[MOUTH_RIGHT])
    base_width = np.linalg.norm(base[MOUTH_LEFT] - base[MOUTH_RIGHT])
    out[6] = width - base_width
    opening = np.linalg.norm(canon[LOWER_LIP_INNER] - canon[UPPER_LIP_INNER])
    base_opening = np.linalg.norm(base[LOWER_LIP_INNER] - base[UPPER_LIP_INNER])
    out[7] = opening - base_opening
    out[8] = dy[_CHIN]
    out[9] = eye_closure
    return np.maximum(out, 0.0, where=np.isfinite(out), out=out)


def expressivity(aus: np.ndarray) -> float:
    """Sum of the expression proxies (every AU but the blink) on one frame."""
    return float(np.sum(aus[list(EXPRESSION_AUS)]))
