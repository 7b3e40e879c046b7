"""Per-frame biomarkers: pure functions of one frame's points, no state.

Everything geometric is measured in a canonical face frame: the 68 points mapped by the
same similarity alignment as the classifier's crop, in units of the template's eye-centre
distance, so numbers do not depend on how far the patient sits or how the head rolls.
Baseline-relative quantities (eye-corner and mouth-corner displacement, region and organ
motion energy) need the session's neutral baseline and are computed by the accumulator.
"""

from __future__ import annotations

import numpy as np

from device.vision.alignment import AlignmentParams, template, transform_points
from device.vision.facemap import (
    LEFT_EYE,
    LOWER_LIP_INNER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    RIGHT_EYE,
    UPPER_LIP_INNER,
)

# The canonical frame is the 112-px alignment crop, rescaled to eye-centre distance units.
CANONICAL_CROP = AlignmentParams(size=112)
_UNIT = float(np.linalg.norm(template(CANONICAL_CROP)[1] - template(CANONICAL_CROP)[0]))

# Order of the per-frame feature vector. Keep names stable: they are the summary's keys.
FEATURE_NAMES: tuple[str, ...] = (
    "ear_right",
    "ear_left",
    "ear",
    "brow_height_right",
    "brow_height_left",
    "lip_opening",
    "mouth_width",
    "mouth_corner_lift",
    "iris_x_right",
    "iris_x_left",
    "iris_y_right",
    "iris_y_left",
    "gaze_x",
    "gaze_y",
    "iris_size_ratio",
    "yaw",
    "pitch",
    "roll",
)
FEATURE_INDEX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def to_canonical(points: np.ndarray, crop_matrix: np.ndarray) -> np.ndarray:
    """Points (N, 2+) into the canonical frame, given the image -> CANONICAL_CROP matrix."""
    return transform_points(points, crop_matrix) / _UNIT


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """Soukupova and Cech's EAR on six eye points (corner, top, top, corner, bottom, bottom)."""
    v = np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])
    h = np.linalg.norm(eye[0] - eye[3])
    return float(v / (2.0 * h)) if h > 0 else float("nan")


def _iris_in_eye(centre: np.ndarray, outer: np.ndarray, inner: np.ndarray) -> tuple[float, float]:
    """Iris centre along the corner-to-corner axis (0 = outer corner, 1 = inner) and across it
    (in eye widths, positive = down)."""
    axis = inner - outer
    width2 = float(axis @ axis)
    if width2 <= 0:
        return float("nan"), float("nan")
    rel = centre - outer
    along = float(rel @ axis) / width2
    across = float(axis[0] * rel[1] - axis[1] * rel[0]) / width2
    return along, across


def frame_features(
    canon: np.ndarray, iris: np.ndarray | None, pose: tuple[float, float, float]
) -> np.ndarray:
    """The feature vector (FEATURE_NAMES order) for one frame.

    canon: canonical 68 points; iris: (10, 2+) iris points in the same canonical frame
    (right centre + ring, left centre + ring) or None; pose: (yaw, pitch, roll) degrees.
    """
    f = np.full(len(FEATURE_NAMES), np.nan, dtype=np.float64)
    re, le = canon[list(RIGHT_EYE)], canon[list(LEFT_EYE)]
    f[0], f[1] = eye_aspect_ratio(re), eye_aspect_ratio(le)
    f[2] = (f[0] + f[1]) / 2
    # brows: height of the brow above the eye centre (y grows downwards)
    f[3] = float(re[:, 1].mean() - canon[17:22, 1].mean())
    f[4] = float(le[:, 1].mean() - canon[22:27, 1].mean())
    f[5] = float(np.linalg.norm(canon[LOWER_LIP_INNER] - canon[UPPER_LIP_INNER]))
    f[6] = float(np.linalg.norm(canon[MOUTH_LEFT] - canon[MOUTH_RIGHT]))
    mouth_centre_y = (canon[UPPER_LIP_INNER, 1] + canon[LOWER_LIP_INNER, 1]) / 2
    f[7] = float(mouth_centre_y - (canon[MOUTH_RIGHT, 1] + canon[MOUTH_LEFT, 1]) / 2)
    if iris is not None:
        rx, ry = _iris_in_eye(iris[0, :2], canon[36], canon[39])
        lx, ly = _iris_in_eye(iris[5, :2], canon[45], canon[42])
        ly = -ly  # that eye's axis runs the other way: keep "positive = down" for both
        f[8], f[9], f[10], f[11] = rx, lx, ry, ly
        # gaze proxy in image terms: positive x = towards the subject's left
        f[12] = ((rx - 0.5) - (lx - 0.5)) / 2
        f[13] = (ry + ly) / 2
        # ring points 1 and 3 are the horizontal extremes of each iris
        d_r = np.linalg.norm(iris[1, :2] - iris[3, :2])
        d_l = np.linalg.norm(iris[6, :2] - iris[8, :2])
        w_r = np.linalg.norm(canon[39] - canon[36])
        w_l = np.linalg.norm(canon[45] - canon[42])
        f[14] = float((d_r / w_r + d_l / w_l) / 2) if w_r > 0 and w_l > 0 else np.nan
    f[15], f[16], f[17] = pose
    return f
