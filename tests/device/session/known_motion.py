"""Faces with known motion for the biomarker tests: a frontal 68-point face (the head-pose
model's own mean face, projected), displacements planted in eye-centre units, head rotation
and translation through a pinhole camera, and iris points placed by the eyeball model.
Every FrameResult goes through the same functions as the frame path (alignment, canonical
frame, features, head pose) so the tests check the measures, not a copy of them."""

from __future__ import annotations

import math

import numpy as np

from device.session.biomarkers.gaze import EYE_WIDTH_MM, EYEBALL_RADIUS_MM
from device.vision.alignment import alignment_matrix
from device.vision.features import CANONICAL_CROP, frame_features, to_canonical
from device.vision.frame_path import FrameResult
from device.vision.headpose import OUTER_CANTHAL_MM, REFERENCE_68, head_pose_and_position

W, H = 640, 480
FPS = 30.0
IOD_UNITS = float(np.linalg.norm(REFERENCE_68[36:42].mean(0) - REFERENCE_68[42:48].mean(0)))
LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper, lower) lid point pairs


def rotation(yaw: float, pitch: float = 0.0) -> np.ndarray:
    a, b = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return ry @ rx


def face_3d(
    moves: dict[int, tuple[float, float]] | None = None, closure: float = 0.0
) -> np.ndarray:
    """REFERENCE_68 (unit: outer-eye-corner distance) with planted (dx, dy) moves given in
    eye-centre distances and a lid closure 0..1 (upper lids travel onto the lower lids)."""
    p = REFERENCE_68.copy()
    for i, (dx, dy) in (moves or {}).items():
        p[i, 0] += dx * IOD_UNITS
        p[i, 1] += dy * IOD_UNITS
    for up, low in LIDS:
        p[up, :2] += closure * (p[low, :2] - p[up, :2])
    return p


def project(p3: np.ndarray, yaw=0.0, pitch=0.0, position_mm=(0.0, 0.0, 600.0)) -> np.ndarray:
    """Image points of a 3D face (face units) turned by yaw/pitch and placed at position_mm."""
    cam = (rotation(yaw, pitch) @ p3.T).T + np.asarray(position_mm) / OUTER_CANTHAL_MM
    f = float(W)
    return np.stack([cam[:, 0] / cam[:, 2] * f + W / 2, cam[:, 1] / cam[:, 2] * f + H / 2], 1)


def iris_points(pts68: np.ndarray, yaw_deg: float = 0.0, pitch_deg: float = 0.0) -> np.ndarray:
    """(10, 2) image iris points (centre + 4 ring points per eye) for an eye-in-head gaze."""
    out = []
    for outer, inner in ((36, 39), (45, 42)):
        o, i = pts68[outer], pts68[inner]
        axis = i - o
        width = np.linalg.norm(axis)
        u = axis / width
        n = np.array([-u[1], u[0]])  # across the axis; same sense for both eyes after the flip
        if outer == 45:
            n = -n
        towards_left = u if outer == 36 else -u  # subject's left along this eye's axis
        ratio = EYEBALL_RADIUS_MM / EYE_WIDTH_MM
        c = (o + i) / 2 + towards_left * width * ratio * math.sin(math.radians(yaw_deg))
        c = c + n * width * ratio * math.sin(math.radians(pitch_deg))
        r = 0.2 * width
        out.append(np.stack([c, c + r * u, c + r * n, c - r * u, c - r * n]))
    return np.concatenate(out)


def frame(pts: np.ndarray, iris: np.ndarray | None = None, ok: bool = True) -> FrameResult:
    """A FrameResult made the way device.vision.frame_path makes one."""
    pose, position = head_pose_and_position(pts, W, H)
    m = alignment_matrix(pts, CANONICAL_CROP)
    canon = to_canonical(pts, m)
    iris_c = to_canonical(iris, m) if iris is not None else None
    feats = frame_features(canon, iris_c, pose)
    r = FrameResult(ok, None if ok else "blurred", pts, canon, feats, pose, 1)
    r.position_mm = position
    return r


def simple_frame(
    moves=None, closure=0.0, yaw=0.0, gaze=(0.0, 0.0), position_mm=(0.0, 0.0, 600.0)
) -> FrameResult:
    pts = project(face_3d(moves, closure), yaw=yaw, position_mm=position_mm)
    return frame(pts, iris_points(pts, *gaze))


def feed_jitter(acc, duration_s: float, seed: int = 0) -> None:
    """Every frame of `duration_s` at FPS into `acc`: the lips moving by small random
    amounts and the head turning a little, a kiosk-sized session of plausible noise."""
    rng = np.random.default_rng(seed)
    for i in range(int(duration_s * FPS)):
        moves = {p: tuple(rng.normal(0, 0.01, 2)) for p in range(48, 68)}
        acc.add(i / FPS, simple_frame(moves, yaw=float(rng.normal(0, 2))))
