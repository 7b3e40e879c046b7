"""68-point accuracy against dlib's points on the shared PASCAL VOC faces.

The faces are small (50-110 px), so each is run on an upscaled crop around its annotated
box, as the issue asks. NME = mean point error / outer-eye-corner distance, averaged over
faces. MediaPipe's own FaceMesh graph scores about 0.063 on this set.
"""

import xml.etree.ElementTree as ET

import cv2
import numpy as np

from device.vision.facemap import mp478_to_68


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


CROP = 256


def _faces(testdata):
    d = testdata / "dlib_faces"
    for xml in ("testing_with_face_landmarks.xml", "training_with_face_landmarks.xml"):
        for im in ET.parse(d / xml).getroot().iter("image"):
            rgb = read_rgb(d / im.get("file"))
            for box in im.iter("box"):
                t, left, w, h = (float(box.get(k)) for k in ("top", "left", "width", "height"))
                parts = sorted(box.iter("part"), key=lambda p: int(p.get("name")))
                gt = np.array([[float(p.get("x")), float(p.get("y"))] for p in parts])
                yield rgb, (left, t, w, h), gt


def _nme(pipeline, testdata):
    all_pts, no_jaw = [], []
    for rgb, (left, t, w, h), gt in _faces(testdata):
        k = CROP / (2.0 * max(w, h))
        m = np.array(
            [[k, 0, CROP / 2 - k * (left + w / 2)], [0, k, CROP / 2 - k * (t + h / 2)]], np.float32
        )
        crop = cv2.warpAffine(
            rgb, m, (CROP, CROP), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )
        box = (
            CROP / 2 - k * w / 2,
            CROP / 2 - k * h / 2,
            CROP / 2 + k * w / 2,
            CROP / 2 + k * h / 2,
        )
        pts = mp478_to_68(pipeline.landmarker.landmarks_in_box(crop, box))[:, :2]
        pts = (pts - m[:, 2]) / k
        err = np.linalg.norm(pts - gt, axis=1) / np.linalg.norm(gt[36] - gt[45])
        all_pts.append(err.mean())
        no_jaw.append(err[17:].mean())
    return len(all_pts), float(np.mean(all_pts)), float(np.mean(no_jaw))


def test_68_point_map_matches_dlib_within_0_08(pipeline, testdata):
    n, nme, nme_no_jaw = _nme(pipeline, testdata)
    print(f"\n{n} faces: NME all 68 points {nme:.4f}, without jaw (17-67) {nme_no_jaw:.4f}")
    assert n >= 40
    assert nme < 0.08
    assert nme_no_jaw < nme  # the jaw line is where the two schemes differ most


def test_a_wrong_map_would_fail(pipeline, testdata):
    """Guard that the metric can fail: mirroring the points left-right breaks it."""
    _rgb, _box, gt = next(iter(_faces(testdata)))
    mirrored = gt.copy()
    mirrored[:, 0] = 2 * gt[:, 0].mean() - gt[:, 0]
    err = np.linalg.norm(mirrored - gt, axis=1).mean() / np.linalg.norm(gt[36] - gt[45])
    assert err > 0.08
