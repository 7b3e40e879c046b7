"""Alignment, head pose and features: pure functions checked against known geometry."""

import math

import numpy as np

from device.vision.alignment import (
    AlignmentParams,
    align_face,
    anchors_from_68,
    similarity_transform,
    template,
)
from device.vision.features import FEATURE_INDEX, eye_aspect_ratio
from device.vision.headpose import REFERENCE_68, head_pose


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(10, 2)) * 50
    a, s, t = math.radians(17), 1.7, np.array([12.0, -5.0])
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    dst = s * src @ r.T + t
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], s * r, atol=1e-9) and np.allclose(m[:, 2], t, atol=1e-9)


def test_similarity_transform_is_the_least_squares_optimum_without_reflection():
    """With noise, no nearby rotation/scale/shift fits better; a mirrored target still
    gets a proper rotation (a face is never flipped)."""
    rng = np.random.default_rng(3)
    src = rng.normal(size=(5, 2)) * 40
    dst = 0.8 * src[:, ::-1] + rng.normal(size=(5, 2)) * 3  # mirrored and noisy

    def cost(m):
        return float(((src @ m[:, :2].T + m[:, 2] - dst) ** 2).sum())

    m = similarity_transform(src, dst)
    assert np.linalg.det(m[:, :2]) > 0
    a, b = m[0, 0], m[1, 0]
    for da, db in rng.normal(size=(200, 2)) * 1e-3:
        near = m.copy()
        near[:, :2] = [[a + da, -(b + db)], [b + db, a + da]]
        near[:, 2] = dst.mean(0) - near[:, :2] @ src.mean(0)
        assert cost(near) >= cost(m)
    same = similarity_transform(np.ones((5, 2)), dst)  # no spread: shift only
    assert np.allclose(same[:, :2], np.eye(2)) and np.allclose(same[:, 2], dst.mean(0) - 1)


def test_aligned_crop_puts_eyes_on_the_template(pipeline, single_face):
    pipeline.reset()
    pts = pipeline.process(single_face).pts68
    for size in (112, 224):
        params = AlignmentParams(size=size)
        crop, m = align_face(single_face, pts, params)
        assert crop.shape == (size, size, 3)
        anchors = anchors_from_68(pts) @ m[:, :2].T + m[:, 2]
        assert np.abs(anchors[:2] - template(params)[:2]).max() < 0.06 * size


def test_alignment_params_round_trip_and_validate():
    p = AlignmentParams(size=224, scale=0.8)
    assert AlignmentParams.from_dict(p.as_dict()) == p
    try:
        AlignmentParams(size=112, scale=5.0)
    except ValueError as exc:
        assert "scale" in str(exc)
    else:
        raise AssertionError("scale 5.0 accepted")


def _project(yaw, pitch):
    a, b = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    p = (ry @ rx @ REFERENCE_68.T).T * 100 + np.array([0, 0, 600])
    return np.stack([p[:, 0] / p[:, 2] * 640 + 320, p[:, 1] / p[:, 2] * 640 + 240], 1)


def test_head_pose_recovers_yaw_and_pitch():
    for yaw, pitch in ((0, 0), (25, 0), (-20, 10), (0, -15)):
        y, p, r = head_pose(_project(yaw, pitch), 640, 480)
        assert abs(y - yaw) < 1.5 and abs(p - pitch) < 1.5 and abs(r) < 1.5


def test_eye_aspect_ratio():
    open_eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], float)
    closed = open_eye * np.array([1, 0.1])
    assert math.isclose(eye_aspect_ratio(open_eye), 2 / 3)
    assert eye_aspect_ratio(closed) < 0.1


def test_features_on_a_real_face(pipeline, single_face):
    pipeline.reset()
    f = pipeline.process(single_face).features
    assert 0.15 < f[FEATURE_INDEX["ear"]] < 0.45
    assert 0.3 < f[FEATURE_INDEX["iris_x_right"]] < 0.7  # looking roughly ahead
    assert 0.2 < f[FEATURE_INDEX["iris_size_ratio"]] < 0.6
    assert f[FEATURE_INDEX["brow_height_right"]] > 0
