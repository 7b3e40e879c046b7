"""Head movement between consecutive usable frames: angular speed (deg/s) and translation
speed (mm/s).

Angular speed is the norm of the change of (yaw, pitch, roll) over the time step, a
small-angle approximation of the rotation between the two poses that is close for the
few degrees a head turns in one frame. Translation comes from solvePnP's translation
vector (device.vision.headpose), scaled to millimetres with an average adult
outer-eye-corner distance, so it is a face-size scale, not a calibrated distance.
Steps across a gap longer than MAX_STEP_S (dropped or rejected frames) are not measured:
a speed over a gap would average away the movement.
"""

from __future__ import annotations

import numpy as np

MAX_STEP_S = 0.25  # longest time step a speed is measured over
HEAD_MOTION_NAMES = ("angular_speed_deg_s", "translation_speed_mm_s")


class HeadMotion:
    """Remembers only the previous frame's pose and position."""

    def __init__(self):
        self._prev: tuple[float, np.ndarray, np.ndarray | None] | None = None

    def reset(self) -> None:
        """Forget the previous frame (after a rejected frame, so no speed spans the gap)."""
        self._prev = None

    def step(self, t: float, pose: np.ndarray, position_mm: np.ndarray | None) -> np.ndarray:
        """(angular speed, translation speed) for the step ending at this frame; NaN when
        there is no previous frame close enough in time."""
        out = np.full(2, np.nan)
        pose = np.asarray(pose, np.float64)
        if not np.isfinite(pose).all():
            self._prev = None
            return out
        prev, self._prev = self._prev, (t, pose, position_mm)
        if prev is None:
            return out
        dt = t - prev[0]
        if not 0 < dt <= MAX_STEP_S:
            return out
        out[0] = float(np.linalg.norm(pose - prev[1])) / dt
        if position_mm is not None and prev[2] is not None:
            out[1] = float(np.linalg.norm(np.asarray(position_mm) - prev[2])) / dt
        return out
