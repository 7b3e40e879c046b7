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
    min_sharpness: float = 20.0
    min_brightness: float = 40.0
    max_brightness: float = 220.0


def face_width_px(pts68: np.ndarray) -> float:
    """Jaw width (points 0 to 16): robust to expression, grows with distance to the camera."""
    return float(np.linalg.norm(pts68[16, :2] - pts68[0, :2]))


def crop_stats(grey_crop: np.ndarray) -> tuple[float, float]:
    """(sharpness, brightness) of an aligned grey crop: variance of the Laplacian and mean."""
    lap = cv2.Laplacian(grey_crop, cv2.CV_32F)
    return float(lap.var()), float(grey_crop.mean())


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
