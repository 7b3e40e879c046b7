"""478 face points (468-point mesh + 10 iris points) with tracking, as MediaPipe does it:
the previous frame's landmarks place this frame's crop, and the detector runs only when
the track is lost (and every `detect_interval` frames to notice a second face).

A crop is a rotated square (centre, side, angle) warped to the model's input size.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from device.models.landmark_store import model_path
from device.models.runtimes import open_model
from device.vision.face_detector import Detection, FaceDetector

MESH_INPUT = 192
IRIS_INPUT = 64
# Eye corners (MediaPipe indices): subject's right eye, then left eye.
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
IRIS_OUTPUT = "output_iris"  # the iris model's other output (eye contours) is not used
TO_UNIT = np.float32(1.0 / 255.0)  # uint8 pixels -> the models' 0..1 input


@dataclass(frozen=True)
class Roi:
    """A rotated square in image pixels; angle in radians (the face's eye-line angle)."""

    cx: float
    cy: float
    side: float
    angle: float

    def to_crop(self, size: int) -> np.ndarray:
        """2x3 matrix image -> crop (size x size), crop x-axis along the eye line."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = size / self.side
        # rotate image by -angle about the centre, scale, move centre to the crop centre
        return np.array(
            [
                [k * c, k * s, size / 2 - k * (c * self.cx + s * self.cy)],
                [-k * s, k * c, size / 2 - k * (-s * self.cx + c * self.cy)],
            ],
            np.float32,
        )

    def from_crop(self, pts: np.ndarray, size: int) -> np.ndarray:
        """Crop pixel coordinates (N, 2+) back to the image; z is scaled like x and y."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        k = self.side / size
        u = (pts[:, 0] - size / 2) * k
        v = (pts[:, 1] - size / 2) * k
        out = np.empty_like(pts, dtype=np.float32)
        out[:, 0] = self.cx + c * u - s * v
        out[:, 1] = self.cy + s * u + c * v
        if pts.shape[1] > 2:
            out[:, 2:] = pts[:, 2:] * k
        return out


def roi_from_points(pts: np.ndarray, angle: float, scale: float) -> Roi:
    """The square around `pts` in the frame rotated by `angle`, enlarged by `scale`."""
    c, s = math.cos(angle), math.sin(angle)
    u = pts[:, 0] * c + pts[:, 1] * s
    v = -pts[:, 0] * s + pts[:, 1] * c
    uc, vc = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
    side = max(u.max() - u.min(), v.max() - v.min()) * scale
    return Roi(uc * c - vc * s, uc * s + vc * c, float(side), angle)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.atan2(float(b[1] - a[1]), float(b[0] - a[0]))


def roi_from_detection(det: Detection) -> Roi:
    angle = _angle(det.keypoints[0], det.keypoints[1])
    corners = np.array([[det.box[0], det.box[1]], [det.box[2], det.box[3]]])
    # The detector box is axis-aligned: centre and size from it, rotation from the eyes.
    cx, cy = corners.mean(0)
    side = max(det.box[2] - det.box[0], det.box[3] - det.box[1]) * 1.5
    return Roi(float(cx), float(cy), float(side), angle)


def roi_from_landmarks(pts: np.ndarray) -> Roi:
    return roi_from_points(pts[:468, :2], _angle(pts[33], pts[263]), 1.5)


@dataclass
class LandmarkResult:
    points: np.ndarray | None  # (478, 3) image pixels (z relative, same scale), or None
    n_faces: int  # faces seen by the detector at its last run (-1: not run since)
    presence: float  # the mesh model's face-presence probability
    detected: bool  # the detector ran on this frame


class FaceLandmarker:
    """Detector + mesh + iris with tracking. Not thread-safe: one per capture thread.

    Per frame: the mesh, then the iris model on both eyes, pruned to its iris output (the
    eye-contour branch, unused here, is cut out of the graph: same iris numbers, less
    work). Crops and model inputs live in buffers kept across frames; the returned points
    are new arrays every frame.

    threads=1: every model on one XNNPACK thread, both eyes in one batch-2 call.
    threads>=2: the mesh on `threads` XNNPACK threads (nothing else runs while it does);
    the two eyes at the same time on one thread each, one on a worker thread, taken back
    when the worker has not started (`FramePipeline` runs both eyes there beside the
    classifier instead). The detector, called rarely, stays on one thread. Measured on 2
    idle cores, within 5 % of 2-thread pools for every model and better than them when the
    other core is busy: each multi-threaded pool keeps a worker spinning after its calls
    (pthreadpool spins before it sleeps), which the other pools then compete with.
    """

    def __init__(
        self,
        model_dir: Path | None = None,
        threads: int = 2,
        detect_interval: int = 15,
        presence_threshold: float = 0.5,
        iris: bool = True,
    ):
        self.parallel = threads >= 2 and iris
        self.detector = FaceDetector(model_path("face_detection", model_dir), 1)
        self.mesh = open_model(
            "litert", model_path("face_landmark", model_dir), threads=max(1, threads)
        )
        iris_path = model_path("iris_landmark", model_dir) if iris else None
        self._eyes = [
            open_model("litert", iris_path, threads=1, outputs=(IRIS_OUTPUT,))
            for _ in range(2 if self.parallel else 0)
        ]
        self.iris = (
            open_model("litert", iris_path, threads=1, batch=2, outputs=(IRIS_OUTPUT,))
            if iris and not self.parallel
            else None
        )
        self.has_iris = iris
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="iris") if self.parallel else None
        self.detect_interval = max(1, detect_interval)
        self.presence_threshold = presence_threshold
        self._mesh_out = next(n for n in self.mesh.output_names if "21" in n)
        self._flag_out = next(n for n in self.mesh.output_names if "31" in n)
        self._mesh_crop = np.empty((MESH_INPUT, MESH_INPUT, 3), np.uint8)
        self._mesh_in = np.empty((1, MESH_INPUT, MESH_INPUT, 3), np.float32)
        self._eye_crop = np.empty((2, IRIS_INPUT, IRIS_INPUT, 3), np.uint8)
        self._iris_in = np.empty((2, IRIS_INPUT, IRIS_INPUT, 3), np.float32)
        self.reset()

    def reset(self) -> None:
        self._roi: Roi | None = None
        self._since_detect = 0
        self._n_faces = -1

    def _run_mesh(self, rgb: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        crop = cv2.warpAffine(
            rgb,
            roi.to_crop(MESH_INPUT),
            (MESH_INPUT, MESH_INPUT),
            dst=self._mesh_crop,
            flags=cv2.INTER_LINEAR,
        )
        np.multiply(crop, TO_UNIT, out=self._mesh_in[0])
        out = self.mesh.run(self._mesh_in)
        pts = out[self._mesh_out].reshape(468, 3)
        presence = 1.0 / (1.0 + math.exp(-float(out[self._flag_out].reshape(-1)[0])))
        return roi.from_crop(pts, MESH_INPUT), presence

    def _eye_input(self, i: int, rgb: np.ndarray, pts: np.ndarray) -> Roi:
        """Write eye i's model input (0: subject's right, 1: left, mirrored) into row i of
        the iris input buffer; returns its crop."""
        corners = RIGHT_EYE_CORNERS if i == 0 else LEFT_EYE_CORNERS
        a, b = pts[corners[0], :2], pts[corners[1], :2]
        angle = _angle(a, b) if i == 0 else _angle(b, a)
        side = float(np.linalg.norm(b - a)) * 2.3
        roi = Roi(float(a[0] + b[0]) / 2, float(a[1] + b[1]) / 2, side, angle)
        crop = cv2.warpAffine(
            rgb,
            roi.to_crop(IRIS_INPUT),
            (IRIS_INPUT, IRIS_INPUT),
            dst=self._eye_crop[i],
            flags=cv2.INTER_LINEAR,
        )
        # the model was trained on one eye: mirror the other, as MediaPipe does
        np.multiply(crop[:, ::-1] if i == 1 else crop, TO_UNIT, out=self._iris_in[i])
        return roi

    @staticmethod
    def _eye_points(i: int, roi: Roi, iris: np.ndarray) -> np.ndarray:
        """(5, 3) model output of eye i (crop pixels) -> image pixels."""
        if i == 1:
            iris[:, 0] = IRIS_INPUT - iris[:, 0]
        return roi.from_crop(iris, IRIS_INPUT)

    def _one_eye(self, i: int, rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
        roi = self._eye_input(i, rgb, pts)
        out = self._eyes[i].run(self._iris_in[i : i + 1])[IRIS_OUTPUT].reshape(5, 3)
        return self._eye_points(i, roi, out)

    def _run_iris(self, rgb: np.ndarray, pts: np.ndarray, split: bool = True) -> np.ndarray:
        """(10, 3): right-eye iris centre + ring, then left-eye centre + ring. In parallel
        mode with `split`, the left eye runs on the worker thread meanwhile."""
        if self.parallel:
            if not split:
                return np.concatenate([self._one_eye(0, rgb, pts), self._one_eye(1, rgb, pts)])
            left = self._worker.submit(self._one_eye, 1, rgb, pts)
            right = self._one_eye(0, rgb, pts)
            if left.cancel():  # the worker has not started it (the other core is busy)
                return np.concatenate([right, self._one_eye(1, rgb, pts)])
            return np.concatenate([right, left.result()])
        rois = [self._eye_input(0, rgb, pts), self._eye_input(1, rgb, pts)]
        iris = self.iris.run(self._iris_in)[IRIS_OUTPUT].reshape(2, 5, 3)
        return np.concatenate([self._eye_points(i, rois[i], iris[i]) for i in (0, 1)])

    def start_iris(self, rgb: np.ndarray, pts: np.ndarray) -> Future:
        """Both eyes on the worker thread (parallel mode): the caller does other work, then
        takes the (10, 3) points with `finish_iris`. `rgb` must stay unchanged until then."""
        if self._worker is None:
            raise RuntimeError("start_iris needs threads >= 2 and the iris model")
        return self._worker.submit(self._run_iris, rgb, pts, False)

    def finish_iris(self, job: Future, rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
        """The (10, 3) points of `start_iris`; run here if the worker has not begun them
        (a busy second core), so a late worker never holds the frame up."""
        if job.cancel():
            return self._run_iris(rgb, pts, False)
        return job.result()

    def _detect(self, rgb: np.ndarray) -> None:
        """Run the detector: count faces, and start a track on the largest when there is none."""
        self._since_detect = 0
        dets = self.detector.detect(rgb)
        self._n_faces = len(dets)
        if self._roi is None and dets:
            self._roi = roi_from_detection(max(dets, key=lambda d: d.width))

    def track(self, rgb: np.ndarray) -> LandmarkResult:
        """The detector when due and the mesh: 468 points (no iris), or None."""
        self._since_detect += 1
        detected = False
        if self._roi is None or self._since_detect >= self.detect_interval:
            self._detect(rgb)
            detected = True
            if self._roi is None:
                return LandmarkResult(None, 0, 0.0, True)
        pts, presence = self._run_mesh(rgb, self._roi)
        if presence < self.presence_threshold and not detected:
            # track lost: detect again on this same frame rather than drop it
            self._roi = None
            self._detect(rgb)
            detected = True
            if self._roi is None:
                return LandmarkResult(None, 0, presence, True)
            pts, presence = self._run_mesh(rgb, self._roi)
        if presence < self.presence_threshold:
            self._roi = None
            return LandmarkResult(None, self._n_faces, presence, detected)
        self._roi = roi_from_landmarks(pts)
        return LandmarkResult(pts, self._n_faces, presence, detected)

    def process(self, rgb: np.ndarray) -> LandmarkResult:
        """478 points (468 without the iris model) with tracking, or None."""
        res = self.track(rgb)
        if res.points is not None and self.has_iris:
            res.points = np.concatenate([res.points, self._run_iris(rgb, res.points)])
        return res

    def landmarks_in_box(
        self, rgb: np.ndarray, box: tuple[float, float, float, float]
    ) -> np.ndarray:
        """478 points for a face whose box is known (no detector, no tracking state): a
        first pass places a crop from the box, a second re-centres it on the first result."""
        x0, y0, x1, y1 = box
        roi = Roi((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * 1.5, 0.0)
        pts, _ = self._run_mesh(rgb, roi)
        pts, _ = self._run_mesh(rgb, roi_from_landmarks(pts))
        if self.has_iris:
            pts = np.concatenate([pts, self._run_iris(rgb, pts)])
        return pts
