"""The quality gate on real faces made worse in known ways."""

import cv2
import numpy as np
import pytest

from device.vision.quality import QualityThresholds, check


def _one(pipeline, rgb):
    pipeline.reset()
    return pipeline.process(rgb)


def test_good_face_passes(pipeline, single_face):
    r = _one(pipeline, single_face)
    assert r.ok and r.reason is None and r.n_faces == 1


def test_blank_frame_is_no_face(pipeline):
    r = _one(pipeline, np.full((480, 640, 3), 128, np.uint8))
    assert r.reason == "no_face" and not r.ok


def test_several_faces(pipeline, testdata):
    rgb = cv2.cvtColor(cv2.imread(str(testdata / "images" / "multi_face.jpg")), cv2.COLOR_BGR2RGB)
    assert _one(pipeline, rgb).reason == "several_faces"


def test_small_face(pipeline, single_face):
    small = cv2.resize(single_face, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((480, 640, 3), np.uint8)
    canvas[50 : 50 + small.shape[0], 100 : 100 + small.shape[1]] = small
    assert _one(pipeline, canvas).reason == "face_too_small"


def test_dark_and_bright(pipeline, single_face):
    dark = (single_face.astype(np.float32) * 0.12).astype(np.uint8)
    r = _one(pipeline, dark)
    assert r.reason in ("too_dark", "no_face")  # a face this dark may not even be found
    bright = np.clip(single_face.astype(np.float32) * 0.25 + 200, 0, 255).astype(np.uint8)
    assert _one(pipeline, bright).reason == "too_bright"


def test_blurred(pipeline, single_face):
    blurred = cv2.GaussianBlur(single_face, (0, 0), 6)
    r = _one(pipeline, blurred)
    assert r.reason == "blurred", r.reason


def test_head_turned_by_mirroring_half_the_face_is_not_needed_check_is_direct():
    pts = np.zeros((68, 2))
    pts[16, 0] = 200  # 200 px wide face
    t = QualityThresholds()
    assert check(1, pts, 40.0, 0.0, 100.0, 120.0, t) == "head_turned"
    assert check(1, pts, 0.0, -30.0, 100.0, 120.0, t) == "head_turned"
    assert check(1, pts, 10.0, 5.0, 100.0, 120.0, t) is None


@pytest.mark.parametrize("angle", [-25, 25])
def test_in_plane_rotation_is_tracked_and_passes(pipeline, single_face, angle):
    h, w = single_face.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(single_face, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    r = _one(pipeline, rotated)
    assert r.ok, r.reason
    assert abs(abs(r.pose[2]) - abs(angle)) < 8  # roll follows the rotation
