"""What moves where: the expression fields and the class-specific plants, as 68-point
displacements in units of the inter-ocular distance (IOD, outer eye corner to outer eye corner).

Axes are the image's: x to the right, y down. Fields are written for the points on the
image's left half (the subject's right side, iBUG points 36-41, 48...) as (outward, down)
and mirrored to the other side, so every movement is symmetric.

The plants (docs/synthetic_cohort.md has the table):
- HC: every emotional clip moves the whole face by its expression field, gain 1.0.
- BD: same fields, plus, under happiness and sadness only, extra outer-eye-corner movement
  (regions 5 and 8, the corners drop) and extra mouth-corner movement (regions 13 and 14).
- MDD: reduced reactivity (fields at gain 0.5) plus inner-eye-corner movement (regions 6
  and 7) in every emotional clip.
"""

from __future__ import annotations

import numpy as np

from device.vision.facemap import REGIONS
from device.wire.summary import EMOTIONS

CLASSES = ("BD", "MDD", "HC")

# Left/right mirror of the 68-point layout (points on the midline map to themselves).
_MIRROR_PAIRS = (
    [(i, 16 - i) for i in range(8)]
    + [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22)]
    + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (59, 55), (58, 56)]
    + [(60, 64), (61, 63), (67, 65)]
)
MIRROR = np.arange(68)
for _a, _b in _MIRROR_PAIRS:
    MIRROR[_a], MIRROR[_b] = _b, _a
_MIDLINE = {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}


def field(moves: dict[int, tuple[float, float]]) -> np.ndarray:
    """(68, 2) displacement from {point on the image's left or midline: (outward, down)}."""
    out = np.zeros((68, 2))
    for i, (outward, down) in moves.items():
        if i in _MIDLINE:
            out[i] = (0.0, down)
            continue
        out[i] = (-outward, down)
        out[MIRROR[i]] = (outward, down)
    return out


# Expression fields of a healthy control (gain 1.0), one per emotional condition.
EXPRESSION_FIELDS: dict[str, np.ndarray] = {
    "happiness": field(
        {
            48: (0.07, -0.09),
            49: (0.03, -0.04),
            59: (0.03, -0.03),
            60: (0.05, -0.06),
            67: (0.02, -0.02),
            50: (0.01, -0.02),
            51: (0.0, -0.015),
            2: (0.0, -0.015),
            3: (0.01, -0.025),
            4: (0.01, -0.025),
            31: (0.01, -0.01),
            40: (0.0, -0.02),
            41: (0.0, -0.025),
            36: (0.01, 0.0),
            19: (0.0, 0.01),
        }
    ),
    "sadness": field(
        {
            21: (0.0, -0.05),
            20: (0.0, -0.035),
            19: (0.0, -0.01),
            17: (0.0, 0.02),
            18: (0.0, 0.01),
            37: (0.0, 0.015),
            38: (0.0, 0.01),
            48: (-0.01, 0.07),
            49: (0.0, 0.03),
            59: (0.0, 0.03),
            60: (0.0, 0.05),
            67: (0.0, 0.02),
            57: (0.0, -0.02),
            58: (0.0, -0.015),
            4: (0.0, 0.015),
        }
    ),
    "anger": field(
        {
            17: (-0.02, 0.03),
            18: (-0.02, 0.04),
            19: (-0.03, 0.05),
            20: (-0.03, 0.05),
            21: (-0.03, 0.04),
            37: (0.0, 0.02),
            38: (0.0, 0.02),
            40: (0.0, -0.01),
            41: (0.0, -0.01),
            48: (-0.02, 0.0),
            60: (-0.02, 0.0),
            61: (0.0, 0.01),
            62: (0.0, 0.01),
            67: (0.0, -0.01),
            66: (0.0, -0.01),
            31: (0.015, -0.01),
            32: (0.01, -0.005),
            3: (0.01, 0.0),
        }
    ),
    "fear": field(
        {
            17: (0.0, -0.03),
            18: (0.0, -0.045),
            19: (0.0, -0.05),
            20: (0.0, -0.05),
            21: (-0.01, -0.045),
            37: (0.0, -0.03),
            38: (0.0, -0.03),
            40: (0.0, 0.01),
            41: (0.0, 0.01),
            48: (0.05, 0.02),
            60: (0.04, 0.02),
            59: (0.02, 0.04),
            58: (0.01, 0.05),
            57: (0.0, 0.05),
            67: (0.01, 0.04),
            66: (0.0, 0.045),
            5: (0.0, 0.02),
            6: (0.0, 0.03),
            7: (0.0, 0.035),
            8: (0.0, 0.04),
        }
    ),
}

# BD plant: the outer eye corners drop and move out (regions 5, 8), a downward slant of the eye
# that no class's expression field makes, under happiness and sadness (a shape change the
# landmark model follows; a squint inside the eye it mostly does not) ...
BD_OUTER_EYE = field({36: (0.05, 0.12), 37: (0.02, 0.09), 41: (0.02, 0.06)})
# ... and the mouth corners (regions 13, 14) move much further and in another direction than
# the shared field takes them: stretched sideways when happy (the field mostly lifts them),
# pulled down and out when sad (the field pulls them down and in). A control with a large
# gain therefore moves as far, but not the same way.
BD_MOUTH = {
    "happiness": field(
        {
            48: (0.13, -0.05),
            49: (0.05, -0.02),
            59: (0.06, -0.02),
            60: (0.10, -0.03),
            67: (0.04, -0.01),
        }
    ),
    "sadness": field(
        {
            48: (0.07, 0.12),
            49: (0.02, 0.05),
            59: (0.03, 0.07),
            60: (0.05, 0.09),
            67: (0.02, 0.05),
        }
    ),
}
# MDD plant: inner eye corners (regions 6, 7) drawn up and in (an oblique, "grief" upper lid).
MDD_INNER_EYE = field({39: (-0.07, -0.09), 38: (-0.03, -0.11), 40: (-0.04, -0.06)})

CLASS_GAIN = {"BD": 1.0, "MDD": 0.5, "HC": 1.0}  # reactivity of the shared expression fields

PLANTED_REGIONS: dict[str, tuple[int, ...]] = {"BD": (5, 8, 13, 14), "MDD": (6, 7), "HC": ()}
PLANTED_CONDITIONS: dict[str, tuple[str, ...]] = {
    "BD": ("happiness", "sadness"),
    "MDD": EMOTIONS,
    "HC": (),
}

PLANT_DESCRIPTION = {
    "BD": "bipolar-like: expression fields at full gain; under happiness and sadness clips, extra "
    "outer-eye-corner movement, the corners dropping and moving out (regions 5, 8), and extra "
    "mouth-corner movement (regions 13, 14: stretched sideways when happy, down and out when sad)",
    "MDD": "depression-like: reduced reactivity (expression fields at gain 0.5) with inner-eye-"
    "corner movement, up and inward (regions 6, 7), in every emotional clip",
    "HC": "control-like: even, moderate movement of the whole face (expression fields at gain 1.0), "
    "no extra regional movement",
}


def segment_field(label: str, condition: str | None, gain: float, plant: float) -> np.ndarray:
    """The full (68, 2) displacement of one participant at the peak of one clip (IOD units).

    `gain` scales the shared expression field (participant reactivity), `plant` the class plant.
    """
    if condition not in EXPRESSION_FIELDS:  # neutral, baseline or no condition
        return np.zeros((68, 2))
    out = EXPRESSION_FIELDS[condition] * (CLASS_GAIN[label] * gain)
    if label == "BD" and condition in PLANTED_CONDITIONS["BD"]:
        out = out + plant * (BD_OUTER_EYE + BD_MOUTH[condition])
    elif label == "MDD":
        out = out + plant * MDD_INNER_EYE
    return out


def region_points(numbers: tuple[int, ...]) -> list[int]:
    """The 68-point indices of the given facemap regions (union, sorted)."""
    return sorted({i for n in numbers for i in REGIONS[n][1]})
