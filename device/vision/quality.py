"""The quality gate: is this frame good enough to measure, and if not, why not.

Reasons are stable strings (they are summary keys and drive the kiosk's camera-check
prompts). The first failing check wins, in the order of REASONS.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

REASONS = (
    "no_face",
    "several_faces",
    "face_too_small",
    "head_turned",
    "blurred",
    "too_dark",
    "too_bright",
)


@dataclass(frozen=True)
class QualityThresholds:
    min_face_px: float = 80.0
    max_yaw_deg: float = 30.0
    max_pitch_deg: float = 25.0
    # on the face region (face_stats): 25 is where a Gaussian blur of sigma 6 px on a
    # 560-px portrait fails, the operating point 20 had on the whole bordered crop
    min_sharpness: float = 25.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0


def face_width_px(pts68: np.ndarray) -> float:
    """Jaw width (points 0 to 16): robust to expression, grows with distance to the camera."""
    return float(np.linalg.norm(pts68[16, :2] - pts68[0, :2]))


def crop_stats(grey_crop: np.ndarray, region: np.ndarray | None = None) -> tuple[float, float]:
    """(sharpness, brightness) of an aligned grey crop: variance of the Laplacian and mean,
    over `region` (a boolean mask of the crop) when given, else over the whole crop."""
    lap = cv2.Laplacian(grey_crop, cv2.CV_32F)
    if region is None or not region.any():
        return float(lap.var()), float(grey_crop.mean())
    return float(lap[region].var()), float(grey_crop[region].mean())


def face_region(pts_in_crop: np.ndarray, size: int) -> np.ndarray:
    """Boolean mask of the face inside an aligned crop: the convex hull of the 68 points
    (jaw and brows), shrunk by a pixel so the Laplacian never sees the hull's own edge."""
    mask = np.zeros((size, size), np.uint8)
    hull = cv2.convexHull(np.round(pts_in_crop[:, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    inner = cv2.erode(mask, np.ones((3, 3), np.uint8))
    return (inner if inner.any() else mask).astype(bool)


def face_stats(
    rgb: np.ndarray, pts68: np.ndarray, matrix: np.ndarray, size: int
) -> tuple[float, float]:
    """(sharpness, brightness) of the face itself, for the kiosk and training alike.

    The grey crop is warped with a replicated border and measured only inside the face
    hull: a close-up face leaves half of an aligned crop outside the image, and a black
    border there would read as darkness (too_dark on a well-lit face) and its edge as
    detail (a blurred face passing the sharpness check)."""
    crop = cv2.warpAffine(
        rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    pts = pts68[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    return crop_stats(crop, face_region(pts, size))


def check(
    n_faces: int,
    pts68: np.ndarray | None,
    yaw: float,
    pitch: float,
    sharpness: float,
    brightness: float,
    t: QualityThresholds,
) -> str | None:
    """None when the frame passes, else the first reason it fails."""
    if pts68 is None:
        return "no_face"
    if n_faces > 1:
        return "several_faces"
    if face_width_px(pts68) < t.min_face_px:
        return "face_too_small"
    if not (abs(yaw) <= t.max_yaw_deg and abs(pitch) <= t.max_pitch_deg):
        return "head_turned"
    if brightness < t.min_brightness:
        return "too_dark"
    if brightness > t.max_brightness:
        return "too_bright"
    if sharpness < t.min_sharpness:
        return "blurred"
    return None
