"""The quality gate on real faces made worse in known ways."""

import cv2
import numpy as np
import pytest

from device.vision.alignment import alignment_matrix
from device.vision.features import CANONICAL_CROP
from device.vision.frame_path import FramePipeline, PipelineConfig
from device.vision.quality import QualityThresholds, check, crop_stats, face_region, face_stats


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


def _close_up(pipeline, single_face, width=300):
    """The face alone, cut at its 68-point box (as in a face-photo set): half of the aligned
    crop then lies outside the image."""
    pts = _one(pipeline, single_face).pts68
    (x0, y0), (x1, y1) = pts.min(0).astype(int), pts.max(0).astype(int)
    face = single_face[y0:y1, x0:x1]
    return cv2.resize(face, None, fx=width / face.shape[1], fy=width / face.shape[1])


def test_close_up_face_is_not_too_dark(pipeline, single_face):
    """A well-lit face (mean grey about 108) filling the image: brightness is the face's, not
    a black border's (over the whole bordered crop it reads about 33: `too_dark`)."""
    close = (_close_up(pipeline, single_face).astype(np.float32) * 0.75).astype(np.uint8)
    r = _one(pipeline, close)
    assert r.ok, r.reason
    full = face_stats(
        single_face,
        _one(pipeline, single_face).pts68,
        *_canonical(_one(pipeline, single_face).pts68),
    )
    near = face_stats(close, r.pts68, *_canonical(r.pts68))
    assert abs(near[1] - 0.75 * full[1]) < 10  # the same face, the same brightness


def test_close_up_blur_check_sees_the_face_not_the_border_edge(single_face):
    """The border's edge must not count as detail. With a threshold between the two, the
    sharp close-up passes and the same close-up blurred (sigma 4 px) is `blurred`; measured
    on the whole black-bordered crop both read about 550-650 and both would pass."""
    strict = FramePipeline(PipelineConfig(quality=QualityThresholds(min_sharpness=150.0)))
    close = _close_up(strict, single_face, width=200)
    assert _one(strict, close).ok
    assert _one(strict, cv2.GaussianBlur(close, (0, 0), 4)).reason == "blurred"


def test_face_region_excludes_the_border():
    """Statistics over the hull only: a black band outside it changes nothing."""
    rng = np.random.default_rng(0)
    grey = rng.integers(100, 160, (112, 112)).astype(np.uint8)
    pts = np.array([[30, 30], [80, 30], [80, 90], [30, 90]], float)
    region = face_region(pts, 112)
    inside = crop_stats(grey, region)
    grey[:, :20] = 0
    assert crop_stats(grey, region) == inside
    assert crop_stats(grey)[1] < inside[1] - 10


def _canonical(pts68):
    return alignment_matrix(pts68, CANONICAL_CROP), CANONICAL_CROP.size
