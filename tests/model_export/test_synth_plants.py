"""The synthetic cohort's planted dynamics, on the generator's own 68-point targets (no video):
the planted regions move more in the intended class, per stimulus segment. Also the warp that
turns targets into pixels, and the stored astronaut landmarks against the kiosk's frame path.
"""

from __future__ import annotations

import numpy as np
import pytest

from device.vision.facemap import REGIONS, region_means
from model_export.synth import CohortSpec, plan, stimulus_timeline
from model_export.synth.expressions import (
    EMOTIONS,
    PLANTED_REGIONS,
    field,
    region_points,
    segment_field,
)
from model_export.synth.face import base_face, measure_landmarks
from model_export.synth.participant import blink_closure, landmark_track
from model_export.synth.render import ClosedEyes
from model_export.synth.warp import PiecewiseAffineWarp

FPS = 15
R = {n: n - 1 for n in REGIONS}  # region number -> column of region_means


@pytest.fixture(scope="module")
def displacement():
    """Per participant: {condition: (16,) mean region displacement from baseline, in IOD}."""
    face = base_face()
    timeline = stimulus_timeline(seconds_per_clip=4.0)
    out: dict[str, list[dict[str, np.ndarray]]] = {"BD": [], "MDD": [], "HC": []}
    for p in plan(CohortSpec(n_per_class=8, seed=3)):
        pts = landmark_track(p, timeline, FPS, face.pts68, face.interocular)
        t = np.arange(len(pts)) / FPS
        base = pts[t < timeline.segments[0].end].mean(0)
        per = {}
        for seg in timeline.segments[1:]:
            sel = (t >= seg.start + 1.0) & (t < seg.end)  # after the response has risen
            d = np.linalg.norm(pts[sel] - base, axis=2).mean(0) / face.interocular
            per[seg.condition] = region_means(d.astype(np.float32))
        out[p.label].append(per)
    return out


def _mean(rows, conditions, regions) -> float:
    return float(
        np.mean([[r[c][[R[n] for n in regions]].mean() for c in conditions] for r in rows])
    )


def test_bd_moves_outer_eye_and_mouth_corners_more_under_happy_and_sad(displacement):
    for regions in ((5, 8), (13, 14)):
        bd = _mean(displacement["BD"], ("happiness", "sadness"), regions)
        for other in ("HC", "MDD"):
            assert bd > 1.5 * _mean(displacement[other], ("happiness", "sadness"), regions), (
                regions,
                other,
            )
    # ... but not under anger and fear, where BD looks like HC
    bd_af = _mean(displacement["BD"], ("anger", "fear"), (5, 8, 13, 14))
    hc_af = _mean(displacement["HC"], ("anger", "fear"), (5, 8, 13, 14))
    assert 0.6 < bd_af / hc_af < 1.6


def test_mdd_reduced_reactivity_with_inner_eye_corner_movement(displacement):
    mdd = _mean(displacement["MDD"], EMOTIONS, (6, 7))
    for other in ("HC", "BD"):
        assert mdd > 3.0 * _mean(displacement[other], EMOTIONS, (6, 7)), other
    # every MDD participant shows it, not just the average
    for rows in displacement["MDD"]:
        assert _mean([rows], EMOTIONS, (6, 7)) > 0.03
    unplanted = [n for n in REGIONS if n not in (5, 6, 7, 8, 13, 14)]
    assert _mean(displacement["MDD"], EMOTIONS, unplanted) < 0.75 * _mean(
        displacement["HC"], EMOTIONS, unplanted
    )


def test_hc_moves_evenly(displacement):
    """HC's movement is spread over the face: the lowest spread across regions of all classes."""

    def spread(rows, conditions):
        m = np.mean([[r[c] for c in conditions] for r in rows], axis=(0, 1))
        return float(m.std() / m.mean())

    assert spread(displacement["HC"], ("happiness", "sadness")) < spread(
        displacement["BD"], ("happiness", "sadness")
    )
    assert spread(displacement["HC"], EMOTIONS) < spread(displacement["MDD"], EMOTIONS)
    assert _mean(displacement["HC"], EMOTIONS, tuple(REGIONS)) > 0.01  # it does move


def test_baseline_is_the_same_for_every_class():
    """Nothing is planted in the neutral baseline: the classes differ only in their responses."""
    for label in ("BD", "MDD", "HC"):
        assert not segment_field(label, "neutral", 1.0, 1.0).any()
        assert not segment_field(label, None, 1.0, 1.0).any()


def test_plants_touch_only_their_regions():
    hc = segment_field("HC", "happiness", 1.0, 1.0)
    bd = segment_field("BD", "happiness", 1.0, 1.0)
    moved = set(np.flatnonzero(np.abs(bd - hc).sum(1) > 1e-9))
    assert moved <= set(region_points(PLANTED_REGIONS["BD"]))
    mdd = segment_field("MDD", "anger", 1.0, 1.0) - 0.5 * segment_field("HC", "anger", 1.0, 1.0)
    moved = set(np.flatnonzero(np.abs(mdd).sum(1) > 1e-9))
    assert moved <= set(region_points(PLANTED_REGIONS["MDD"]))


def test_fields_are_mirror_symmetric():
    f = field({48: (0.1, -0.2), 51: (0.5, 0.3)})
    assert np.allclose(f[48], (-0.1, -0.2)) and np.allclose(f[54], (0.1, -0.2))
    assert np.allclose(f[51], (0.0, 0.3))  # midline: vertical only


def test_participants_differ_and_are_deterministic():
    a, b = plan(CohortSpec(n_per_class=3, seed=1)), plan(CohortSpec(n_per_class=3, seed=1))
    assert a == b
    c = plan(CohortSpec(n_per_class=3, seed=2))
    assert [p.gain for p in a] != [p.gain for p in c]
    assert sorted(p.label for p in a) == ["BD"] * 3 + ["HC"] * 3 + ["MDD"] * 3
    assert len({round(p.latency_s, 6) for p in a}) == len(a)
    assert len({p.participant_id for p in a}) == len(a)


def test_warp_identity_and_moves_a_marker():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (200, 240, 3), dtype=np.uint8)
    src = np.array([[60, 60], [180, 60], [120, 100], [80, 150], [160, 150]], float)
    warp = PiecewiseAffineWarp(src, img.shape, margin=0.3)
    assert np.array_equal(warp.apply(img, src), img)
    marked = np.zeros((200, 240), np.uint8)
    marked[98:103, 118:123] = 255  # a dot on the middle control point
    dst = src.copy()
    dst[2] += (8, -6)
    out = warp.apply(marked, dst)
    ys, xs = np.nonzero(out > 127)
    assert abs(xs.mean() - 128) < 1.0 and abs(ys.mean() - 94) < 1.0
    # outside the box round the points nothing changes
    x0, y0, x1, y1 = warp.box
    outside = np.ones(img.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(warp.apply(img, dst)[outside], img[outside])


def test_stored_astronaut_landmarks_match_the_frame_path():
    face = base_face()
    measured = measure_landmarks(np.array(face.rgb))
    assert np.abs(measured - face.pts68).max() < 1.0
    assert 55 < face.interocular < 70


def test_blinks_close_the_eyes_at_the_participants_rate():
    p = plan(CohortSpec(n_per_class=1, seed=0))[0]
    closure = blink_closure(p, 60 * FPS, FPS)  # one minute
    starts = np.flatnonzero((closure >= 1.0)[1:] & ~(closure >= 1.0)[:-1])
    assert 0.4 * p.blink_per_min <= len(starts) <= 1.6 * p.blink_per_min
    assert (closure[closure > 0] <= 1.0).all() and (closure == 0).mean() > 0.8


def test_closed_eyes_cover_the_iris_and_flat_lids_do_not_break_the_warp():
    face = base_face()
    src = np.array(face.rgb)
    closed = ClosedEyes.build(src, face.pts68)
    shut = closed.blend(src, 1.0, np.empty_like(src))
    for eye in (slice(36, 42), slice(42, 48)):
        x, y = np.round(face.pts68[eye].mean(0)).astype(int)
        iris_open = src[y - 2 : y + 3, x - 2 : x + 3].mean()
        iris_shut = shut[y - 2 : y + 3, x - 2 : x + 3].mean()
        assert iris_shut > iris_open + 40  # dark iris replaced by lid skin
    assert np.array_equal(closed.blend(src, 0.0, np.empty_like(src)), src)
    lids_down = face.pts68.copy()
    for up, low in ((37, 41), (38, 40), (43, 47), (44, 46)):
        lids_down[up] = lids_down[low]  # zero-area triangles
    out = PiecewiseAffineWarp(face.pts68, src.shape).apply(shut, lids_down)
    assert out.shape == src.shape
