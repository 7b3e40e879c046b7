"""Session accumulator: per-segment and whole-session statistics from a stream of frame
results, in bounded memory. No frame, crop or landmark track is kept: each frame updates
running sums and is forgotten; only the neutral baseline shape (one mean 68-point face)
is held, because displacement needs a reference.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from device.session.running_stats import RunningStats, json_float
from device.session.timeline import Segment, Timeline
from device.vision.facemap import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    ORGAN_KEYS,
    REGION_KEYS,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    organ_means,
    region_means,
)
from device.vision.features import FEATURE_INDEX, FEATURE_NAMES
from device.vision.frame_path import FrameResult
from device.wire.summary import SCHEMA_VERSION

DISPLACEMENT_NAMES = ("inner_eye_corner", "outer_eye_corner", "mouth_corner", "activity")
FALLBACK_BASELINE_FRAMES = 15  # without a baseline segment: the first good frames are neutral
BLINK_CLOSED_FRACTION = 0.7  # eye closed when EAR falls below this share of the open-eye EAR
RESPONSE_SD = 2.0  # response onset: activity above baseline mean + this many SDs


@dataclass
class _Block:
    """Running statistics of one segment (or the whole session)."""

    segment: Segment | None
    frames_seen: int = 0
    frames_used: int = 0
    frames_dropped: int = 0
    rejected: Counter = field(default_factory=Counter)
    features: RunningStats = field(default_factory=lambda: RunningStats(len(FEATURE_NAMES)))
    displacement: RunningStats = field(default_factory=lambda: RunningStats(len(DISPLACEMENT_NAMES)))
    regions: RunningStats = field(default_factory=lambda: RunningStats(len(REGION_KEYS)))
    organs: RunningStats = field(default_factory=lambda: RunningStats(len(ORGAN_KEYS)))
    blinks: int = 0
    first_t: float | None = None
    last_t: float | None = None
    onset_t: float | None = None
    # classifier: attention-weighted sums of the probabilities and of every class's region
    # and organ evidence; the summary reports the evidence of the block's predicted class
    cls_sum: np.ndarray | None = None
    cls_weight: float = 0.0
    cls_frames: int = 0
    attention: RunningStats = field(default_factory=lambda: RunningStats(1))
    region_att_sum: np.ndarray | None = None  # (K, 16)
    organ_att_sum: np.ndarray | None = None  # (K, 9)


class SessionAccumulator:
    def __init__(self, timeline: Timeline | None = None, class_names: tuple[str, ...] = ()):
        self.timeline = timeline
        self.class_names = tuple(class_names)
        self.whole = _Block(None)
        self.blocks = {s.name: _Block(s) for s in timeline.segments} if timeline else {}
        self._has_baseline_segment = bool(timeline and any(s.baseline for s in timeline.segments))
        self._baseline_sum = np.zeros((68, 2))
        self._baseline_n = 0
        self._open_ear = RunningStats(1)
        self._eye_closed = False

    # -- baseline -------------------------------------------------------------------
    @property
    def baseline(self) -> np.ndarray | None:
        return self._baseline_sum / self._baseline_n if self._baseline_n else None

    def _update_baseline(self, canon: np.ndarray, seg: Segment | None) -> None:
        if self._has_baseline_segment:
            if seg is not None and seg.baseline:
                self._baseline_sum += canon
                self._baseline_n += 1
        elif self._baseline_n < FALLBACK_BASELINE_FRAMES:
            self._baseline_sum += canon
            self._baseline_n += 1

    # -- frames ---------------------------------------------------------------------
    def add_dropped(self, n: int, t: float | None = None) -> None:
        """Frames the capture had to drop (queue full): counted, never silently lost."""
        self.whole.frames_dropped += n
        seg = self.timeline.segment_at(t) if (self.timeline and t is not None) else None
        if seg is not None:
            self.blocks[seg.name].frames_dropped += n

    def add(self, t: float, result: FrameResult) -> None:
        seg = self.timeline.segment_at(t) if self.timeline else None
        blocks = [self.whole] + ([self.blocks[seg.name]] if seg is not None else [])
        for b in blocks:
            b.frames_seen += 1
            if b.first_t is None:
                b.first_t = t
            b.last_t = t
        if not result.ok:
            for b in blocks:
                b.rejected[result.reason or "unknown"] += 1
            return
        self._update_baseline(result.canon, seg)
        disp, per_point = self._displacement(result.canon)
        blink = self._blink(result.features[FEATURE_INDEX["ear"]])
        regions = region_means(per_point) if per_point is not None else None
        organs = organ_means(per_point) if per_point is not None else None
        for b in blocks:
            b.frames_used += 1
            b.features.add(result.features)
            b.displacement.add(disp)
            if regions is not None:
                b.regions.add(regions)
                b.organs.add(organs)
            b.blinks += blink
            self._response_onset(b, t, disp[-1])
            if result.classifier is not None:
                self._add_classifier(b, result.classifier)

    def _displacement(self, canon: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        base = self.baseline
        if base is None or self._baseline_n < 3:
            return np.full(len(DISPLACEMENT_NAMES), np.nan), None
        d = np.linalg.norm(canon - base, axis=1)
        disp = np.array([
            (d[RIGHT_EYE_INNER] + d[LEFT_EYE_INNER]) / 2,
            (d[RIGHT_EYE_OUTER] + d[LEFT_EYE_OUTER]) / 2,
            (d[MOUTH_RIGHT] + d[MOUTH_LEFT]) / 2,
            d.mean(),
        ])
        return disp, d

    def _blink(self, ear: float) -> int:
        """1 when the eyes close on this frame (hysteresis against the open-eye EAR)."""
        if not np.isfinite(ear):
            return 0
        open_ear = self._open_ear.means()[0] if self._open_ear.n[0] >= 5 else None
        if open_ear is None:
            self._open_ear.add(np.array([ear]))
            return 0
        if not self._eye_closed and ear < BLINK_CLOSED_FRACTION * open_ear:
            self._eye_closed = True
            return 1
        if self._eye_closed and ear > 0.85 * open_ear:
            self._eye_closed = False
        if not self._eye_closed:
            self._open_ear.add(np.array([ear]))
        return 0

    def _response_onset(self, b: _Block, t: float, activity: float) -> None:
        seg = b.segment
        if seg is None or seg.baseline or b.onset_t is not None or not np.isfinite(activity):
            return
        ref = self._baseline_activity()
        if ref is not None and activity > ref[0] + RESPONSE_SD * ref[1]:
            b.onset_t = t

    def _baseline_activity(self) -> tuple[float, float] | None:
        for b in self.blocks.values():
            if b.segment.baseline and b.displacement.n[-1] > 2:
                return float(b.displacement.mean[-1]), float(b.displacement.sd()[-1])
        return None

    def _add_classifier(self, b: _Block, out) -> None:
        probs = np.asarray(out.probs, np.float64)
        w = float(out.attention)
        regions = np.asarray(out.region_attention, np.float64)
        organs = np.asarray(out.organ_attention, np.float64)
        if b.cls_sum is None:
            b.cls_sum = np.zeros_like(probs)
            b.region_att_sum = np.zeros_like(regions)
            b.organ_att_sum = np.zeros_like(organs)
        b.cls_sum += w * probs
        b.region_att_sum += w * regions
        b.organ_att_sum += w * organs
        b.cls_weight += w
        b.cls_frames += 1
        b.attention.add(np.array([w]))

    # -- summary --------------------------------------------------------------------
    def _block_summary(self, b: _Block) -> dict:
        out: dict = {}
        if b.segment is not None:
            out.update(b.segment.as_dict())
        duration = None
        if b.segment is not None:
            duration = b.segment.end - b.segment.start
        elif b.first_t is not None:
            duration = b.last_t - b.first_t
        out.update({
            "frames_seen": b.frames_seen,
            "frames_used": b.frames_used,
            "frames_dropped": b.frames_dropped,
            "rejected": dict(sorted(b.rejected.items())),
            "features": b.features.describe(FEATURE_NAMES),
            "displacement": b.displacement.describe(DISPLACEMENT_NAMES),
            "region_activity": {k: json_float(v) for k, v in zip(REGION_KEYS, b.regions.means(), strict=True)},
            "organ_activity": {k: json_float(v) for k, v in zip(ORGAN_KEYS, b.organs.means(), strict=True)},
            "blinks": b.blinks,
            "blink_rate_per_min": json_float(60.0 * b.blinks / duration) if duration and b.frames_used else None,
        })
        if b.segment is not None and not b.segment.baseline and b.segment.condition is not None:
            ref = self._baseline_activity()
            amp = b.displacement.means()[-1] - ref[0] if ref is not None else np.nan
            out["response"] = {
                "amplitude": json_float(amp),
                "latency_s": json_float(b.onset_t - b.segment.start) if b.onset_t is not None else None,
            }
        if b.cls_frames:
            names = self.class_names or tuple(f"class_{i}" for i in range(len(b.cls_sum)))
            weight = b.cls_weight if b.cls_weight > 0 else np.nan
            probs = b.cls_sum / weight
            k = int(np.nanargmax(probs)) if np.isfinite(probs).any() else 0
            out["classifier"] = {
                "frames": b.cls_frames,
                "probabilities": {n: json_float(p) for n, p in zip(names, probs, strict=True)},
                "attention_mean": json_float(b.attention.means()[0]),
                # where the evidence for the block's leading class sat (not a diagnosis)
                "attention_class": names[k],
                "region_attention": {k_: json_float(v) for k_, v in zip(REGION_KEYS, b.region_att_sum[k] / weight, strict=True)},
                "organ_attention": {k_: json_float(v) for k_, v in zip(ORGAN_KEYS, b.organ_att_sum[k] / weight, strict=True)},
            }
        return out

    def summary(self, meta: dict | None = None) -> dict:
        """The JSON-able summary: whole session and each segment. `meta` (device id, model
        bundle, source...) is merged at the top level."""
        s = {"schema_version": SCHEMA_VERSION}
        s.update(meta or {})
        s["session"] = self._block_summary(self.whole)
        s["segments"] = [self._block_summary(self.blocks[seg.name]) for seg in self.timeline.segments] if self.timeline else []
        s["baseline_frames"] = self._baseline_n
        return s
