"""The session's 468-point displacement field (device.session.mesh_field) on a real mesh
read by the LiteRT landmark model: pose, distance and position drop out of the canonical
frame, a planted displacement is recovered per condition, memory stays bounded, and the
accumulator feeds it from the frame path's mesh without putting it in the summary."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

from device.session.mesh_field import EMOTIONS, MeshField, canonical_mesh


@pytest.fixture(scope="module")
def mesh(testdata):
    from device.vision.face_landmarker import FaceLandmarker

    cap = cv2.VideoCapture(str(testdata / "video" / "single_face.mp4"))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    pts = FaceLandmarker(threads=1).process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).points
    assert pts is not None and pts.shape == (478, 3)
    return pts.astype(np.float64)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = (
        f(math.radians(a)) for a in (yaw, pitch, roll) for f in (math.cos, math.sin)
    )
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ rx @ ry


def test_canonical_mesh_drops_pose_distance_and_position(mesh):
    ref = canonical_mesh(mesh)
    centre = mesh[:468].mean(0)
    moved = (mesh - centre) @ _rotation(20, -12, 8).T * 1.7 + centre + np.array([55.0, -30.0, 9.0])
    np.testing.assert_allclose(canonical_mesh(moved), ref, atol=1e-9)
    # face-size scale: the temple-to-temple width is 1
    assert 0.9 < np.ptp(ref[:, 0]) < 1.4


def test_planted_displacement_is_recovered_per_condition(mesh):
    rng = np.random.default_rng(0)
    field = MeshField()
    corner = [33, 263]  # the outer eye corners (MediaPipe), moved down and out
    plant = np.zeros((478, 3))
    width = np.linalg.norm(mesh[454] - mesh[234])
    plant[33] = (-0.02 * width, 0.03 * width, 0)
    plant[263] = (0.02 * width, 0.03 * width, 0)
    for _ in range(30):
        field.add("neutral", mesh + rng.normal(0, 0.2, mesh.shape))
        field.add("sadness", mesh + plant + rng.normal(0, 0.2, mesh.shape))
    field.add("unknown", mesh + plant)  # not a condition: ignored
    field.add("fear", None)  # no mesh: ignored
    disp = field.displacement()
    assert set(disp) == {"sadness"} and field.frames()["sadness"] == 30
    mag = np.linalg.norm(disp["sadness"], axis=1)
    top = set(np.argsort(-mag)[:2].tolist())
    assert top == set(corner), np.argsort(-mag)[:5]
    assert mag[corner].min() == pytest.approx(0.036, rel=0.3)  # sqrt(0.02^2+0.03^2) widths
    assert np.median(mag) < 0.005
    # bounded: the same few arrays whatever the number of frames
    assert sum(a.nbytes for a in field._sum.values()) == (1 + len(EMOTIONS)) * 468 * 3 * 8


def test_accumulator_feeds_the_field_from_the_frame_path_and_keeps_it_out_of_the_summary(
    testdata,
):
    from device.session.analyze import analyze_video
    from device.session.timeline import Segment, Timeline

    box = []
    timeline = Timeline(
        [Segment("baseline", "neutral", 0, 1, True), Segment("happy", "happiness", 1, 2.4)]
    )
    s = analyze_video(
        testdata / "video" / "single_face.mp4", timeline, progress=False, on_accumulator=box.append
    )
    frames = box[0].mesh_field.frames()
    assert frames["neutral"] >= 10 and frames["happiness"] >= 10
    assert frames["neutral"] + frames["happiness"] <= s["session"]["frames_used"]
    assert set(box[0].mesh_field.displacement()) == {"happiness"}
    assert "standard_face" not in s  # no bundle, no route; and never the field
    assert len(json.dumps(s)) < 200_000
