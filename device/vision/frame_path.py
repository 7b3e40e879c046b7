"""The frame path: one RGB frame in, one FrameResult out (landmarks, quality, features,
classifier output). Holds only the tracker's state; everything it computes stays in RAM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.config import PipelineSection
from device.vision.alignment import align_face, alignment_matrix, transform_points
from device.vision.face_landmarker import FaceLandmarker
from device.vision.facemap import mp478_to_68
from device.vision.features import CANONICAL_CROP, frame_features, to_canonical
from device.vision.headpose import head_pose_and_position
from device.vision.quality import QualityThresholds, check, face_stats


@dataclass(frozen=True)
class PipelineConfig:
    """What FramePipeline needs. The defaults are the device config's ([pipeline] in
    device.config.PipelineSection; the quality gate's in QualityThresholds), never copies."""

    threads: int = PipelineSection.threads
    detect_interval: int = PipelineSection.detect_interval
    iris: bool = True
    model_dir: Path | None = None  # landmark models; None = the default cache
    quality: QualityThresholds = field(default_factory=QualityThresholds)

    @classmethod
    def from_device_config(cls, cfg) -> PipelineConfig:
        p = cfg.pipeline
        return cls(
            threads=p.threads,
            detect_interval=p.detect_interval,
            model_dir=cfg.model.landmark_dir,
            quality=p.quality_thresholds(),
        )


@dataclass
class FrameResult:
    ok: bool  # passed the quality gate
    reason: str | None  # why not (see device.vision.quality.REASONS)
    pts68: np.ndarray | None = None  # 68x2 image pixels
    canon: np.ndarray | None = None  # 68x2 canonical frame (see device.vision.features)
    features: np.ndarray | None = None  # FEATURE_NAMES order
    pose: tuple[float, float, float] | None = None
    n_faces: int = 0
    classifier: Any = None  # ClassifierOutput when a classifier is loaded and the frame passed
    position_mm: np.ndarray | None = None  # head position (x, y, z) mm, face-size scale (headpose)
    mesh: np.ndarray | None = None  # the landmarker's (478, 3) points, by reference (no copy)


class FramePipeline:
    def __init__(self, config: PipelineConfig | None = None, classifier=None):
        self.config = config or PipelineConfig()
        self.landmarker = FaceLandmarker(
            self.config.model_dir,
            self.config.threads,
            self.config.detect_interval,
            iris=self.config.iris,
        )
        self.classifier = classifier
        if classifier is not None and self.landmarker.parallel:
            # it runs beside the iris model: one XNNPACK thread each (see FaceLandmarker)
            classifier.set_threads(1)

    def reset(self) -> None:
        """Forget the track (a new patient, a new video)."""
        self.landmarker.reset()

    def process(self, rgb: np.ndarray) -> FrameResult:
        lm_ = self.landmarker
        overlap = lm_.parallel and self.classifier is not None
        # With two threads and a classifier, the iris model runs on the landmarker's worker
        # thread while this one does the quality gate and the classifier (the features,
        # which need the iris, come after): both cores busy, same numbers as in sequence.
        lm = lm_.track(rgb) if overlap else lm_.process(rgb)
        if lm.points is None:
            return FrameResult(False, "no_face", n_faces=max(lm.n_faces, 0))
        iris_job = lm_.start_iris(rgb, lm.points) if overlap else None
        try:
            pts68 = mp478_to_68(lm.points)[:, :2]
            h, w = rgb.shape[:2]
            pose, position_mm = head_pose_and_position(pts68, w, h)
            # One alignment serves the quality crop and the canonical frame of the features.
            m = alignment_matrix(pts68, CANONICAL_CROP)
            sharpness, brightness = face_stats(rgb, pts68, m, CANONICAL_CROP.size)
            reason = check(
                lm.n_faces, pts68, pose[0], pose[1], sharpness, brightness, self.config.quality
            )
            canon = to_canonical(pts68, m)
            classified = None
            if reason is None and self.classifier is not None:
                crop, m_cls = align_face(rgb, pts68, self.classifier.alignment)
                classified = self.classifier.infer(crop, transform_points(pts68, m_cls))
        finally:  # never leave the worker writing while the caller moves on
            points = lm.points
            if iris_job is not None:
                points = np.concatenate([points, lm_.finish_iris(iris_job, rgb, points)])
        iris = to_canonical(points[468:478], m) if points.shape[0] >= 478 else None
        feats = frame_features(canon, iris, pose)
        result = FrameResult(reason is None, reason, pts68, canon, feats, pose, lm.n_faces)
        result.position_mm = position_mm
        result.mesh = points
        result.classifier = classified
        return result
