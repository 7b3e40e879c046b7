"""Session accumulator: per-segment and whole-session statistics from a stream of frame
results, in bounded memory. No frame, crop or landmark track is kept: each frame updates
running sums and is forgotten; only the neutral baseline shape (one mean 68-point face)
and a few fixed-size tracker states (blink reference window, previous pose and gaze) are
held. The measures themselves are defined in device.session.biomarkers (docs/biomarkers.md).
The standard-face route's 3D displacement field is kept as running sums of canonical
meshes (device.session.mesh_field): read at session end by the route, never summarised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from device.session.biomarkers.action_units import AU_NAMES, au_proxies, expressivity
from device.session.biomarkers.asymmetry import region_organ_asymmetry
from device.session.biomarkers.blinks import BlinkTracker
from device.session.biomarkers.gaze import GAZE_NAMES, GazeEvents, gaze_angles
from device.session.biomarkers.head_motion import HEAD_MOTION_NAMES, HeadMotion
from device.session.biomarkers.registration import register_to_baseline
from device.session.mesh_field import EMOTIONS, MeshField
from device.session.running_stats import RunningStats, json_float
from device.session.timeline import CONDITIONS, Segment, Timeline
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
FALLBACK_BASELINE_FRAMES = 15  # without a baseline segment: the first usable open-eye frames
MIN_BASELINE_FRAMES = 3  # baseline-relative measures start once the baseline has this many
REFERENCE_FROM_FRAME = 10  # the baseline's own activity is measured from this baseline frame on
RESPONSE_SD = 2.0  # response onset: activity above baseline mean + this many SDs...
ONSET_FRAMES = 3  # ...on this many consecutive usable frames (the onset is the first of them)
_POSE = [FEATURE_INDEX["yaw"], FEATURE_INDEX["pitch"], FEATURE_INDEX["roll"]]
_GAZE = [FEATURE_INDEX["gaze_x"], FEATURE_INDEX["gaze_y"]]


def _stats(n: int):
    return field(default_factory=lambda: RunningStats(n))


@dataclass
class _Block:
    """Running statistics of one segment (or the whole session)."""

    segment: Segment | None
    frames_seen: int = 0
    frames_used: int = 0
    frames_dropped: int = 0
    rejected: Counter = field(default_factory=Counter)
    features: RunningStats = _stats(len(FEATURE_NAMES))
    displacement: RunningStats = _stats(len(DISPLACEMENT_NAMES))
    regions: RunningStats = _stats(len(REGION_KEYS))
    region_lift: RunningStats = _stats(len(REGION_KEYS))
    organs: RunningStats = _stats(len(ORGAN_KEYS))
    aus: RunningStats = _stats(len(AU_NAMES))
    expressivity: RunningStats = _stats(1)
    asym_regions: RunningStats = _stats(len(REGION_KEYS))
    asym_organs: RunningStats = _stats(len(ORGAN_KEYS))
    head: RunningStats = _stats(len(HEAD_MOTION_NAMES))
    gaze: RunningStats = _stats(len(GAZE_NAMES))
    saccades: int = 0
    fixations: int = 0
    blinks: int = 0
    blink_duration: RunningStats = _stats(1)
    blink_interval: RunningStats = _stats(1)
    first_t: float | None = None
    last_t: float | None = None
    onset_t: float | None = None
    above_since: float | None = None  # first frame of the current run above the onset threshold
    above_run: int = 0
    # classifier: attention-weighted sums of the probabilities and of every class's region
    # and organ evidence; the summary reports the evidence of the block's predicted class
    cls_sum: np.ndarray | None = None
    cls_weight: float = 0.0
    cls_frames: int = 0
    attention: RunningStats = _stats(1)
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
        self._baseline_gaze = RunningStats(2)  # resting iris offsets during the baseline
        self._baseline_activity = RunningStats(1)  # the baseline's own activity (onset reference)
        self._blink = BlinkTracker()
        self._head = HeadMotion()
        self._gaze_events = GazeEvents()
        self._by_condition = {c: RunningStats(1) for c in CONDITIONS}  # expressivity
        self.mesh_field = MeshField()  # the standard-face route's input (not in the summary)

    # -- baseline -------------------------------------------------------------------
    @property
    def baseline(self) -> np.ndarray | None:
        return self._baseline_sum / self._baseline_n if self._baseline_n else None

    def _is_baseline_frame(self, seg: Segment | None) -> bool:
        if self._has_baseline_segment:
            return seg is not None and seg.baseline
        return self._baseline_n < FALLBACK_BASELINE_FRAMES

    def _update_baseline(self, result: FrameResult) -> None:
        self._baseline_sum += result.canon
        self._baseline_n += 1
        self._baseline_gaze.add(result.features[_GAZE])

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
            self._head.reset()
            return
        blink = self._blink.step(t, float(result.features[FEATURE_INDEX["ear"]]))
        in_baseline = self._is_baseline_frame(seg)
        if in_baseline and not blink.closed:  # a closing eye is not the neutral face
            self._update_baseline(result)
            self.mesh_field.add("neutral", result.mesh)
        elif not blink.closed and seg is not None and seg.condition in EMOTIONS:
            self.mesh_field.add(seg.condition, result.mesh)
        base = self.baseline
        ready = base is not None and self._baseline_n >= MIN_BASELINE_FRAMES
        face = register_to_baseline(result.canon, base) if ready else None
        disp, per_point = self._displacement(face)
        aus = au_proxies(face, base, blink.closure) if ready else np.full(len(AU_NAMES), np.nan)
        expr = expressivity(aus) if ready else np.nan
        asym = region_organ_asymmetry(face, base) if ready else None
        if ready and in_baseline and not blink.closed and self._baseline_n >= REFERENCE_FROM_FRAME:
            self._baseline_activity.add(disp[-1:])
        head = self._head.step(t, result.features[_POSE], result.position_mm)
        rest = self._baseline_gaze.means()
        angles = np.full(2, np.nan)
        if ready and not blink.closed:  # a lid over the iris moves its landmark, not the eye
            angles = gaze_angles(*result.features[_GAZE], *rest)
        saccades, fixations, _ = self._gaze_events.step(t, angles)
        regions = region_means(per_point) if ready else None
        lift = region_means(base[:, 1] - face[:, 1]) if ready else None
        organs = organ_means(per_point) if ready else None
        for b in blocks:
            b.frames_used += 1
            b.features.add(result.features)
            b.displacement.add(disp)
            if ready:
                b.regions.add(regions)
                b.region_lift.add(lift)
                b.organs.add(organs)
                b.aus.add(aus)
                b.expressivity.add(np.array([expr]))
                b.asym_regions.add(asym[0])
                b.asym_organs.add(asym[1])
            b.head.add(head)
            b.gaze.add(angles)
            b.saccades += saccades
            b.fixations += fixations
            b.blinks += blink.onset
            b.blink_duration.add(np.array([blink.duration_s]))
            b.blink_interval.add(np.array([blink.interval_s]))
            if not blink.closed:  # a blink moves the lids, it is not a response
                self._response_onset(b, t, disp[-1])
            if result.classifier is not None:
                self._add_classifier(b, result.classifier)
        if seg is not None and seg.condition is not None and ready:
            self._by_condition[seg.condition].add(np.array([expr]))

    def _displacement(self, face: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Named displacements and the per-point distances of a registered face from neutral."""
        if face is None:
            return np.full(len(DISPLACEMENT_NAMES), np.nan), None
        canon, base = face, self.baseline
        d = np.linalg.norm(canon - base, axis=1)
        disp = np.array(
            [
                (d[RIGHT_EYE_INNER] + d[LEFT_EYE_INNER]) / 2,
                (d[RIGHT_EYE_OUTER] + d[LEFT_EYE_OUTER]) / 2,
                (d[MOUTH_RIGHT] + d[MOUTH_LEFT]) / 2,
                d.mean(),
            ]
        )
        return disp, d

    # -- response ------------------------------------------------------------------
    def _onset_reference(self) -> tuple[float, float] | None:
        """Mean and SD of the baseline's own activity. Measured only once the baseline holds
        REFERENCE_FROM_FRAME frames: the first frames are compared with a baseline made of
        little more than themselves, and their spread would raise the threshold out of reach."""
        ref = self._baseline_activity
        if ref.n[0] < 3:
            return None
        return float(ref.mean[0]), float(ref.sd()[0])

    def _response_onset(self, b: _Block, t: float, activity: float) -> None:
        seg = b.segment
        if seg is None or seg.baseline or b.onset_t is not None or not np.isfinite(activity):
            return
        ref = self._onset_reference()
        if ref is None:
            return
        if activity > ref[0] + RESPONSE_SD * ref[1]:
            if b.above_run == 0:
                b.above_since = t
            b.above_run += 1
            if b.above_run >= ONSET_FRAMES:
                b.onset_t = b.above_since
        else:
            b.above_run = 0

    def _response(self, b: _Block) -> dict:
        ref = self._onset_reference()
        amp = b.displacement.means()[-1] - ref[0] if ref is not None else np.nan
        if b.onset_t is not None:
            latency, reason = json_float(b.onset_t - b.segment.start), None
        elif b.frames_used == 0:
            latency, reason = None, "no_usable_frames"
        elif ref is None:
            latency, reason = None, "no_baseline"
        else:
            latency = None
            reason = (
                f"activity never above baseline mean + {RESPONSE_SD:g} SD for {ONSET_FRAMES} frames"
            )
        out = {"amplitude": json_float(amp), "latency_s": latency}
        if reason is not None:
            out["latency_reason"] = reason
        return out

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
    def frame_period(self) -> float | None:
        """Seconds per captured frame over the whole session (dropped frames included)."""
        w = self.whole
        n = w.frames_seen + w.frames_dropped
        if w.first_t is None or n < 2 or w.last_t <= w.first_t:
            return None
        return (w.last_t - w.first_t) / (n - 1)

    def _covered_s(self, b: _Block) -> float | None:
        """Time the usable frames of a block cover: each frame stands for one frame period.
        Rates divide by this, not by last - first frame time (one period short) nor by the
        segment's length (which counts time no usable frame saw)."""
        period = self.frame_period()
        return b.frames_used * period if period else None

    @staticmethod
    def _keyed(names, values) -> dict:
        return {k: json_float(v) for k, v in zip(names, values, strict=True)}

    def _biomarkers(self, b: _Block) -> dict:
        covered = self._covered_s(b)
        return {
            "covered_s": json_float(covered) if covered else None,
            "action_units": b.aus.describe(AU_NAMES),
            "expressivity": b.expressivity.describe(("sum_of_action_units",))[
                "sum_of_action_units"
            ],
            "asymmetry": {
                "regions": self._keyed(REGION_KEYS, b.asym_regions.means()),
                "organs": self._keyed(ORGAN_KEYS, b.asym_organs.means()),
            },
            "head_motion": b.head.describe(HEAD_MOTION_NAMES),
            "gaze": {
                **b.gaze.describe(GAZE_NAMES),
                "fixations": b.fixations,
                "saccades": b.saccades,
            },
            "blinks": {
                "count": b.blinks,
                "rate_per_min": json_float(60.0 * b.blinks / covered) if covered else None,
                "duration_s": b.blink_duration.describe(("s",))["s"],
                "interval_s": b.blink_interval.describe(("s",))["s"],
            },
        }

    def _block_summary(self, b: _Block) -> dict:
        out: dict = {}
        if b.segment is not None:
            out.update(b.segment.as_dict())
        bio = self._biomarkers(b)
        out.update(
            {
                "frames_seen": b.frames_seen,
                "frames_used": b.frames_used,
                "frames_dropped": b.frames_dropped,
                "rejected": dict(sorted(b.rejected.items())),
                "features": b.features.describe(FEATURE_NAMES),
                "displacement": b.displacement.describe(DISPLACEMENT_NAMES),
                "region_activity": self._keyed(REGION_KEYS, b.regions.means()),
                # signed: mean upward movement of each region's points from neutral (> 0 = up)
                "region_lift": self._keyed(REGION_KEYS, b.region_lift.means()),
                "organ_activity": self._keyed(ORGAN_KEYS, b.organs.means()),
                "blinks": b.blinks,
                "blink_rate_per_min": bio["blinks"]["rate_per_min"],
                "biomarkers": bio,
            }
        )
        if b.segment is not None and not b.segment.baseline and b.segment.condition is not None:
            out["response"] = self._response(b)
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
                "region_attention": self._keyed(REGION_KEYS, b.region_att_sum[k] / weight),
                "organ_attention": self._keyed(ORGAN_KEYS, b.organ_att_sum[k] / weight),
            }
        return out

    def summary(self, meta: dict | None = None) -> dict:
        """The JSON-able summary: whole session and each segment. `meta` (device id, model
        bundle, source...) is merged at the top level."""
        s = {"schema_version": SCHEMA_VERSION}
        s.update(meta or {})
        s["session"] = self._block_summary(self.whole)
        s["session"]["expressivity_by_condition"] = {
            c: json_float(r.means()[0]) for c, r in self._by_condition.items() if r.n[0]
        }
        s["segments"] = (
            [self._block_summary(self.blocks[seg.name]) for seg in self.timeline.segments]
            if self.timeline
            else []
        )
        s["baseline_frames"] = self._baseline_n
        return s
