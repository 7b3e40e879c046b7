"""Blinks from the eye aspect ratio (EAR): a running high percentile as the open-eye
reference, a closing threshold with hysteresis, and statistics of what was found.

Why a running percentile: the first frames of a session are not guaranteed to be open-eye
frames. A reference built from them can sit so low that a blink among them never crosses
the threshold. The 90th percentile of the last few seconds of EARs (the current frame
included) is an open eye as long as the eyes are closed less than a tenth of the time,
and it follows slow changes (squinting, head pitch). Memory: one fixed-size ring buffer.

A blink starts when the EAR falls below CLOSED_FRACTION of the reference and ends when it
is back half-way between the blink's deepest EAR and the reference: eyes often reopen
narrower than before (a smile, a squint), and a fixed reopening level would then hold
the blink open for seconds. A new blink can start only after the EAR has been above
REARM_FRACTION of the reference, so noise around the closing level is not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_PERCENTILE = 90.0  # open-eye reference: this percentile of the recent EARs
REFERENCE_WINDOW = 150  # frames in the reference window (5 s at 30 frames/s)
MIN_REFERENCE_FRAMES = 2  # a closure can be judged from the second usable frame on
CLOSED_FRACTION = 0.75  # closed when EAR < this share of the open-eye reference
REARM_FRACTION = 0.8  # a new blink needs the EAR above this share first (hysteresis)
MAX_BLINK_S = 1.0  # a closure longer than this is eyes shut, not a blink: not timed


@dataclass(frozen=True)
class BlinkStep:
    """What one frame told the tracker."""

    closed: bool  # the eye is closed on this frame
    onset: bool  # a blink starts on this frame
    closure: float  # 1 - EAR / reference, clipped to 0..1 (NaN without a reference): AU45
    duration_s: float = float("nan")  # a blink ended on this frame: how long the eye was closed
    interval_s: float = float("nan")  # a blink started on this frame: time since the previous onset


class BlinkTracker:
    """Feed `step(t, ear)` with every usable frame in time order."""

    def __init__(self, window: int = REFERENCE_WINDOW):
        self._ring = np.full(window, np.nan)
        self._n = 0
        self.closed = False
        self.count = 0
        self._armed = True
        self._deepest = float("nan")
        self._closed_at: float | None = None
        self._last_onset: float | None = None

    @property
    def reference(self) -> float | None:
        k = min(self._n, len(self._ring))
        if k < MIN_REFERENCE_FRAMES:
            return None
        return float(np.percentile(self._ring[:k], REFERENCE_PERCENTILE))

    def step(self, t: float, ear: float) -> BlinkStep:
        if not np.isfinite(ear):
            return BlinkStep(self.closed, False, float("nan"))
        self._ring[self._n % len(self._ring)] = ear
        self._n += 1
        ref = self.reference
        if ref is None or ref <= 0:
            return BlinkStep(False, False, float("nan"))
        closure = float(np.clip(1.0 - ear / ref, 0.0, 1.0))
        if self._armed and ear < CLOSED_FRACTION * ref:
            self.closed, self._armed, self._deepest = True, False, ear
            self.count += 1
            interval = t - self._last_onset if self._last_onset is not None else float("nan")
            self._closed_at = self._last_onset = t
            return BlinkStep(True, True, closure, interval_s=interval)
        if self.closed:
            self._deepest = min(self._deepest, ear)
            if ear > (self._deepest + ref) / 2:
                self.closed = False
                closed_at, self._closed_at = self._closed_at, None
                if closed_at is not None and t - closed_at <= MAX_BLINK_S:
                    return BlinkStep(False, False, closure, duration_s=t - closed_at)
        elif not self._armed and ear > REARM_FRACTION * ref:
            self._armed = True
        return BlinkStep(self.closed, False, closure)
