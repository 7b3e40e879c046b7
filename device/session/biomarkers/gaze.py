"""Gaze yaw and pitch in degrees from the iris centre, and fixation/saccade counts.

Simple eyeball model: the iris centre lies on a sphere of radius EYEBALL_RADIUS_MM that
turns about its centre; the eye's corner-to-corner width is EYE_WIDTH_MM. The frame's
features give the iris offset in eye widths (device.vision.features: gaze_x along the
corner axis, positive = towards the subject's left; gaze_y across it, positive = down),
so an offset o (eye widths) is an angle asin(o * EYE_WIDTH_MM / EYEBALL_RADIUS_MM).
Angles are of the eye in the head, relative to where the eyes rested during the neutral
baseline (the fixation cross), so the camera's position does not enter.

Fixations and saccades follow the velocity-threshold rule (I-VT): a step faster than
SACCADE_DEG_S is a saccade; a saccade is counted when one starts, and a fixation when a
run of slower steps lasts at least MIN_FIXATION_S.
"""

from __future__ import annotations

import math

import numpy as np

EYE_WIDTH_MM = 30.0  # adult palpebral fissure length, corner to corner
EYEBALL_RADIUS_MM = 12.0  # adult eyeball radius
SACCADE_DEG_S = 100.0  # I-VT velocity threshold
MIN_FIXATION_S = 0.1
MAX_STEP_S = 0.25  # no velocity across a longer gap
GAZE_NAMES = ("gaze_yaw_deg", "gaze_pitch_deg")


def offset_to_degrees(offset_eye_widths: float) -> float:
    """Eyeball-model angle (degrees) of an iris offset given in eye widths."""
    s = offset_eye_widths * EYE_WIDTH_MM / EYEBALL_RADIUS_MM
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def gaze_angles(gaze_x: float, gaze_y: float, rest_x: float, rest_y: float) -> np.ndarray:
    """(yaw, pitch) degrees: yaw > 0 towards the subject's left, pitch > 0 down, both
    relative to the resting offsets (rest_x, rest_y) of the neutral baseline."""
    out = np.full(2, np.nan)
    if all(math.isfinite(v) for v in (gaze_x, gaze_y, rest_x, rest_y)):
        out[0] = offset_to_degrees(gaze_x - rest_x)
        out[1] = offset_to_degrees(gaze_y - rest_y)
    return out


class GazeEvents:
    """I-VT over consecutive gaze angles; holds the previous sample and the current run."""

    def __init__(self):
        self._prev: tuple[float, np.ndarray] | None = None
        self._in_saccade = False
        self._run_start: float | None = None
        self._run_counted = False

    def step(self, t: float, angles: np.ndarray) -> tuple[int, int, float]:
        """(saccades started, fixations completed, angular speed deg/s or NaN) at this frame."""
        if not np.isfinite(angles).all():
            self._prev, self._run_start = None, None
            return 0, 0, float("nan")
        prev, self._prev = self._prev, (t, np.asarray(angles, np.float64))
        if prev is None or not 0 < t - prev[0] <= MAX_STEP_S:
            self._in_saccade, self._run_start, self._run_counted = False, t, False
            return 0, 0, float("nan")
        speed = float(np.linalg.norm(angles - prev[1])) / (t - prev[0])
        saccades = fixations = 0
        if speed > SACCADE_DEG_S:
            if not self._in_saccade:
                saccades = 1
            self._in_saccade, self._run_start, self._run_counted = True, None, False
        else:
            if self._in_saccade or self._run_start is None:
                self._run_start, self._run_counted = prev[0], False
            self._in_saccade = False
            if not self._run_counted and t - self._run_start >= MIN_FIXATION_S:
                fixations, self._run_counted = 1, True
        return saccades, fixations, speed
