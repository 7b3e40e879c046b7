"""The frame path: one RGB frame in, one FrameResult out (landmarks, quality, features,
classifier output). Holds only the tracker's state; everything it computes stays in RAM.

Only the landmarker carries state from frame to frame (the track); everything after it
(`_rest`: geometry, quality gate, classifier, features) depends on its own frame. So a
stream of frames keeps both cores busy: `stream` runs frame N+1's landmarks on a worker
while frame N's rest (and the caller's own work on its result) runs on the calling thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from device.config import PipelineSection
from device.vision.alignment import align_face, alignment_matrix, transform_points
from device.vision.face_landmarker import FaceLandmarker, LandmarkResult
from device.vision.facemap import mp478_to_68
from device.vision.features import CANONICAL_CROP, frame_features, to_canonical
from device.vision.headpose import head_pose_and_position
from device.vision.quality import QualityThresholds, check, face_stats

T = TypeVar("T")


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


@dataclass
class _Measured:
    """One frame measured from its landmarks: all but the network and the features."""

    points: np.ndarray  # 468 or 478 landmarker points
    n_faces: int
    pts68: np.ndarray
    pose: tuple[float, float, float]
    position_mm: np.ndarray
    matrix: np.ndarray  # image -> canonical crop
    reason: str | None


class FramePipeline:
    def __init__(self, config: PipelineConfig | None = None, classifier=None):
        self.config = config or PipelineConfig()
        self.landmarker = FaceLandmarker(
            self.config.model_dir,
            self.config.threads,
            self.config.detect_interval,
            iris=self.config.iris,
        )
        self._stream_landmarker: FaceLandmarker | None = None  # made by the first stream
        self._streaming = False
        self.classifier = classifier
        if classifier is not None and self.landmarker.parallel:
            # it runs beside the iris model, or beside the next frame's landmarks in a
            # stream: one XNNPACK thread each (see FaceLandmarker)
            classifier.set_threads(1)

    def reset(self) -> None:
        """Forget the track (a new patient, a new video)."""
        self.landmarker.reset()
        if self._stream_landmarker is not None:
            self._stream_landmarker.reset()

    @property
    def _iris_beside_classifier(self) -> bool:
        """Two threads, the iris model and a classifier: the work splits over two threads."""
        return self.landmarker.parallel and self.classifier is not None

    def process(self, rgb: np.ndarray) -> FrameResult:
        lm_ = self.landmarker
        if not self._iris_beside_classifier:
            return self._rest(rgb, lm_.process(rgb))
        # With two threads and a classifier, the iris model runs on the landmarker's worker
        # thread while this one does the quality gate and the classifier (the features,
        # which need the iris, come after): both cores busy, same numbers as in sequence.
        lm = lm_.track(rgb)
        if lm.points is None:
            return _no_face(lm)
        job = lm_.start_iris(rgb, lm.points)
        try:
            measured = self._measure(rgb, lm)
            classified = self._classify(rgb, measured)
        finally:  # never leave the worker writing while the caller moves on
            iris = lm_.finish_iris(job, rgb, lm.points)
        measured.points = np.concatenate([lm.points, iris])
        return self._conclude(measured, classified)

    def stream(
        self, items: Iterable[T], rgb_of: Callable[[T], np.ndarray] = lambda x: x
    ) -> Iterator[tuple[T, FrameResult]]:
        """(item, result) for every item, in order, with the numbers `process` gives; a
        stream starts a fresh track. One stream at a time per pipeline.

        With two threads, the iris model and a classifier, the next frame's landmarks run
        on a worker thread (one XNNPACK thread) while this thread finishes the current
        frame (classifier on one thread, features) and the caller works on its result:
        both cores stay busy for offline analysis. Otherwise the rest of a frame is too
        light to balance the landmarks, and `process` already splits them over the
        threads. Each frame must stay unchanged until its result is yielded."""
        if self._streaming:
            raise RuntimeError("this pipeline is already running a stream: finish or close it")
        self._streaming = True
        try:
            if not self._iris_beside_classifier:
                self.landmarker.reset()
                for item in items:
                    yield item, self.process(rgb_of(item))
            else:
                yield from self._pipelined(items, rgb_of)
        finally:
            self._streaming = False

    def _pipelined(
        self, items: Iterable[T], rgb_of: Callable[[T], np.ndarray]
    ) -> Iterator[tuple[T, FrameResult]]:
        if self._stream_landmarker is None:
            self._stream_landmarker = FaceLandmarker(
                self.config.model_dir, 1, self.config.detect_interval, iris=self.config.iris
            )
        lm_ = self._stream_landmarker
        lm_.reset()
        with ThreadPoolExecutor(1, thread_name_prefix="landmarks") as worker:
            pending: tuple[T, Future] | None = None
            try:
                for item in items:
                    job = worker.submit(lm_.process, rgb_of(item))
                    if pending is not None:
                        yield pending[0], self._rest(rgb_of(pending[0]), pending[1].result())
                    pending = (item, job)
                if pending is not None:
                    yield pending[0], self._rest(rgb_of(pending[0]), pending[1].result())
                    pending = None
            finally:  # a caller that stops early: the worker finishes (the with waits)
                if pending is not None:
                    pending[1].cancel()

    def _rest(self, rgb: np.ndarray, lm: LandmarkResult) -> FrameResult:
        """Everything after the landmarks, for one frame."""
        if lm.points is None:
            return _no_face(lm)
        measured = self._measure(rgb, lm)
        return self._conclude(measured, self._classify(rgb, measured))

    def _measure(self, rgb: np.ndarray, lm: LandmarkResult) -> _Measured:
        """Geometry and the quality gate, from the landmarks of a face."""
        pts68 = mp478_to_68(lm.points)[:, :2]
        h, w = rgb.shape[:2]
        pose, position_mm = head_pose_and_position(pts68, w, h)
        # One alignment serves the quality crop and the canonical frame of the features.
        m = alignment_matrix(pts68, CANONICAL_CROP)
        sharpness, brightness = face_stats(rgb, pts68, m, CANONICAL_CROP.size)
        reason = check(
            lm.n_faces, pts68, pose[0], pose[1], sharpness, brightness, self.config.quality
        )
        return _Measured(lm.points, lm.n_faces, pts68, pose, position_mm, m, reason)

    def _classify(self, rgb: np.ndarray, measured: _Measured):
        """The classifier on the aligned crop of a frame that passed the gate, else None."""
        if measured.reason is not None or self.classifier is None:
            return None
        crop, m_cls = align_face(rgb, measured.pts68, self.classifier.alignment)
        return self.classifier.infer(crop, transform_points(measured.pts68, m_cls))

    def _conclude(self, measured: _Measured, classified: Any) -> FrameResult:
        """The canonical frame and the features, with the classifier's output."""
        points, m, pose = measured.points, measured.matrix, measured.pose
        canon = to_canonical(measured.pts68, m)
        iris = to_canonical(points[468:478], m) if points.shape[0] >= 478 else None
        feats = frame_features(canon, iris, pose)
        result = FrameResult(
            measured.reason is None,
            measured.reason,
            measured.pts68,
            canon,
            feats,
            pose,
            measured.n_faces,
        )
        result.position_mm = measured.position_mm
        result.mesh = points
        result.classifier = classified
        return result


def _no_face(lm: LandmarkResult) -> FrameResult:
    return FrameResult(False, "no_face", n_faces=max(lm.n_faces, 0))
