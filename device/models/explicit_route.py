"""The explicit-biomarker route on the device: a tree ensemble (trained on the workstation
by model_export.explicit_route, exported to ONNX) over one session-level biomarker vector
made from the session's own summary, run at session end through the runtime registry.

The vector is defined here, once, because the device must build exactly what training
used: for each emotional condition, the region activity and lift, the organ activity, the
action-unit proxies and the expressivity of that condition's segments minus those of the
neutral baseline,
then a few whole-session measures (blinks, head movement, gaze). Missing values are NaN
(the exported model imputes them as training did).

Per session it also names the biomarkers that pushed the predicted class most: each one
in turn is set to the training cohort's median and the drop in the class's probability is
its contribution (one batched model call). This is a ranking of evidence, not a diagnosis.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from device.errors import ModelError
from device.models.runtimes import open_model
from device.models.runtimes.providers import DEFAULT_PROVIDERS
from device.session.biomarkers.action_units import AU_NAMES
from device.vision.facemap import ORGAN_KEYS, REGION_KEYS
from device.wire.summary import EMOTIONS

_AUS = tuple(n for n in AU_NAMES if not n.startswith("AU45"))
_SESSION = (
    ("blinks.rate_per_min", ("blinks", "rate_per_min")),
    ("blinks.duration_s", ("blinks", "duration_s", "mean")),
    ("head.angular_speed_deg_s", ("head_motion", "angular_speed_deg_s", "mean")),
    ("head.angular_speed_sd", ("head_motion", "angular_speed_deg_s", "sd")),
    ("head.translation_speed_mm_s", ("head_motion", "translation_speed_mm_s", "mean")),
    ("gaze.yaw_sd_deg", ("gaze", "gaze_yaw_deg", "sd")),
    ("gaze.pitch_sd_deg", ("gaze", "gaze_pitch_deg", "sd")),
)
TOP_BIOMARKERS = 5


@dataclass(frozen=True)
class VectorSpec:
    """Names of the vector's elements and the region / organ each one belongs to (or None)."""

    names: tuple[str, ...]
    region: tuple[str | None, ...]
    organ: tuple[str | None, ...]


def _spec() -> VectorSpec:
    names, region, organ = [], [], []
    for c in EMOTIONS:
        for r in REGION_KEYS:
            names.append(f"{c}.region.{r}")
            region.append(r)
            organ.append(None)
        for r in REGION_KEYS:
            names.append(f"{c}.lift.{r}")
            region.append(r)
            organ.append(None)
        for o in ORGAN_KEYS:
            names.append(f"{c}.organ.{o}")
            region.append(None)
            organ.append(o)
        for a in _AUS:
            names.append(f"{c}.{a}")
            region.append(None)
            organ.append(None)
        names.append(f"{c}.expressivity")
        region.append(None)
        organ.append(None)
    for n, _ in _SESSION:
        names.append(f"session.{n}")
        region.append(None)
        organ.append(None)
    return VectorSpec(tuple(names), tuple(region), tuple(organ))


VECTOR = _spec()


def _segment_values(seg: dict) -> np.ndarray:
    """Region activity and lift, organ activity, AU means and expressivity of one segment."""
    bio = seg.get("biomarkers") or {}
    aus = bio.get("action_units") or {}
    vals = [seg.get("region_activity", {}).get(r) for r in REGION_KEYS]
    vals += [seg.get("region_lift", {}).get(r) for r in REGION_KEYS]
    vals += [seg.get("organ_activity", {}).get(o) for o in ORGAN_KEYS]
    vals += [(aus.get(a) or {}).get("mean") for a in _AUS]
    vals.append((bio.get("expressivity") or {}).get("mean"))
    return np.array([np.nan if v is None else float(v) for v in vals])


def _weighted_mean(blocks: list[dict], width: int) -> np.ndarray:
    rows = [
        (_segment_values(s), s.get("frames_used", 0)) for s in blocks if s.get("frames_used", 0) > 0
    ]
    if not rows:
        return np.full(width, np.nan)
    v = np.stack([r for r, _ in rows])
    w = np.array([n for _, n in rows], float)[:, None] * np.isfinite(v)
    with np.errstate(invalid="ignore"):
        return np.where(w.sum(0) > 0, np.nansum(v * w, 0) / np.maximum(w.sum(0), 1e-12), np.nan)


def _dig(d: dict, path: tuple[str, ...]):
    for k in path:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def biomarker_vector(summary: dict) -> np.ndarray:
    """(len(VECTOR.names),) float32 from a session summary (device.session.accumulator)."""
    segs = summary.get("segments") or []
    width = 2 * len(REGION_KEYS) + len(ORGAN_KEYS) + len(_AUS) + 1
    neutral = _weighted_mean([s for s in segs if s.get("baseline")], width)
    neutral = np.where(np.isfinite(neutral), neutral, 0.0)
    parts = [
        _weighted_mean(
            [s for s in segs if s.get("condition") == c and not s.get("baseline")], width
        )
        - neutral
        for c in EMOTIONS
    ]
    bio = (summary.get("session") or {}).get("biomarkers") or {}
    tail = [_dig(bio, path) for _, path in _SESSION]
    parts.append(np.array([np.nan if v is None else float(v) for v in tail]))
    return np.concatenate(parts).astype(np.float32)


class ExplicitRoute:
    """The loaded ONNX tree ensemble and what it needs (class names, medians)."""

    META_KEYS = ("class_names", "feature_names", "reference")

    def __init__(
        self, model_path, meta: dict, threads: int = 1, providers: Sequence[str] = DEFAULT_PROVIDERS
    ):
        missing = [k for k in self.META_KEYS if k not in meta]
        if missing:
            raise ModelError(f"explicit route: metadata lacks {', '.join(missing)}")
        if tuple(meta["feature_names"]) != VECTOR.names:
            raise ModelError(
                "explicit route: the bundle's biomarker vector differs from this device's "
                "(trained with another software version); retrain or update the device"
            )
        self.class_names = tuple(meta["class_names"])
        self.reference = np.asarray(meta["reference"], np.float32)
        self.model = open_model("onnxruntime", model_path, threads=threads, providers=providers)
        self.cv = meta.get("cv")

    @classmethod
    def from_bundle(
        cls, bundle, threads: int = 1, providers: Sequence[str] = DEFAULT_PROVIDERS
    ) -> ExplicitRoute | None:
        """The route stored in a verified bundle (device.models.bundle.VerifiedBundle), or None
        when the bundle has none."""
        spec = bundle.manifest.get("explicit_route")
        if spec is None:
            return None
        try:
            meta = json.loads(bundle.file(spec["meta"]).read_text(encoding="utf-8"))
            return cls(bundle.file(spec["file"]), meta, threads, providers)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model bundle {bundle.path}: bad explicit_route entry ({exc})"
            ) from exc

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        out = self.model.run(np.ascontiguousarray(x, np.float32))
        return np.asarray(out["probabilities"], np.float64)

    def predict(self, summary: dict) -> dict:
        """The route's block for the summary: probabilities and the top contributing biomarkers."""
        x = biomarker_vector(summary)
        batch = np.repeat(x[None], len(x) + 1, axis=0)
        idx = np.arange(len(x))
        batch[idx + 1, idx] = self.reference
        p = self.probabilities(batch)
        k = int(np.argmax(p[0]))
        drop = p[0, k] - p[1:, k]
        order = [int(i) for i in np.argsort(-drop)[:TOP_BIOMARKERS] if drop[i] > 0]
        return {
            "probabilities": {
                n: round(float(v), 5) for n, v in zip(self.class_names, p[0], strict=True)
            },
            "leading_class": self.class_names[k],
            "top_biomarkers": [
                {
                    "name": VECTOR.names[i],
                    "region": VECTOR.region[i],
                    "organ": VECTOR.organ[i],
                    "contribution": round(float(drop[i]), 5),
                }
                for i in order
            ],
        }
