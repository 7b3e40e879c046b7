"""Biomarkers v2 through the accumulator, on faces with known motion (tests/device/session/
known_motion.py): planted blinks, smiles, brow raises, head turns and gaze shifts at known
frames, recovered within stated tolerances. The first four tests are the defects of the
first version (blink in the first frames, baseline with blink frames, rate over covered
time, response latency that was always null)."""

import json

import numpy as np
import pytest

from device.session.accumulator import SessionAccumulator
from device.session.biomarkers.action_units import AU_INDEX, AU_NAMES, au_proxies
from device.session.biomarkers.asymmetry import MIRROR_68, point_asymmetry
from device.session.biomarkers.blinks import BlinkTracker
from device.session.biomarkers.registration import register_to_baseline
from device.session.timeline import Segment, Timeline
from device.vision.facemap import ORGAN_KEYS, organ_means
from device.vision.features import FEATURE_INDEX, FEATURE_NAMES
from device.vision.frame_path import FrameResult
from device.wire.summary import MAX_BYTES, encode, validate_summary
from tests.device.session.known_motion import FPS, feed_jitter, simple_frame

OPEN = simple_frame()
SMILE = {48: (-0.06, -0.08), 54: (0.06, -0.08)}  # corners out and up (eye-centre units)


def _ear_frame(ear: float) -> FrameResult:
    f = OPEN.features.copy()
    f[FEATURE_INDEX["ear"]] = ear
    return FrameResult(True, None, OPEN.pts68, OPEN.canon, f, OPEN.pose, 1)


def _feed(acc, frames, t0=0.0):
    for i, fr in enumerate(frames):
        acc.add(t0 + i / FPS, fr)


# -- the defects ---------------------------------------------------------------------
def test_a_blink_in_the_first_five_usable_frames_is_counted():
    """The EARs of the report: the old open-eye reference (mean of the first five) put the
    threshold below the lowest EAR and the blink was lost."""
    ears = [0.231, 0.268, 0.198, 0.161, 0.156] + [0.25, 0.27, 0.26, 0.265, 0.255] * 6
    acc = SessionAccumulator()
    _feed(acc, [_ear_frame(e) for e in ears])
    s = acc.summary()["session"]
    assert s["blinks"] == 1
    assert s["biomarkers"]["blinks"]["count"] == 1
    # it closed on frame 3 and opened on frame 5: duration two frames
    assert s["biomarkers"]["blinks"]["duration_s"]["mean"] == pytest.approx(2 / FPS, abs=1e-4)


def test_baseline_without_timeline_leaves_out_blink_frames_and_rejected_frames():
    """No timeline: the first 15 usable frames are the neutral face, but not the ones with
    closing eyes (a blink there inflated every eye and brow figure), nor gate failures."""
    closing = [simple_frame(closure=c) for c in (0.0, 0.5, 1.0, 1.0, 0.5)]
    rejected = simple_frame(moves={i: (0.0, 0.3) for i in range(68)})
    rejected.ok, rejected.reason = False, "blurred"
    frames = [OPEN, OPEN, *closing, rejected, OPEN, *[OPEN] * 30]
    acc = SessionAccumulator()
    _feed(acc, frames)
    np.testing.assert_allclose(acc.baseline, OPEN.canon, atol=1e-9)
    s = acc.summary()["session"]
    assert s["blinks"] == 1
    # eye and brow activity come from the blink frames alone, measured against the open face
    used = [f for f in frames if f.ok][2:]  # displacement starts with the third baseline frame
    per_frame = [
        organ_means(np.linalg.norm(register_to_baseline(f.canon, OPEN.canon) - OPEN.canon, axis=1))
        for f in used
    ]
    expected = dict(zip(ORGAN_KEYS, np.mean(per_frame, axis=0), strict=True))
    for organ in ("right_eye", "left_eye", "REyC", "LEyC"):
        assert s["organ_activity"][organ] == pytest.approx(expected[organ], abs=1e-5)


def test_blink_rate_is_per_covered_time():
    """158 frames at 30 frames/s cover 158/30 s, not the 157/30 s between first and last."""
    ears = [0.3] * 158
    for start in (40, 110):
        ears[start : start + 3] = [0.08] * 3
    acc = SessionAccumulator()
    _feed(acc, [_ear_frame(e) for e in ears])
    assert acc.summary()["session"]["blink_rate_per_min"] == pytest.approx(
        60 * 2 / (158 / FPS), abs=1e-3
    )
    b = acc.summary()["session"]["biomarkers"]
    assert b["covered_s"] == pytest.approx(158 / FPS, abs=1e-4)
    assert b["blinks"]["rate_per_min"] == pytest.approx(60 * 2 / (158 / FPS), abs=1e-3)
    assert b["blinks"]["interval_s"]["mean"] == pytest.approx(70 / FPS, abs=1e-4)


def _smile_session(latency_s: float | None, rng):
    """2 s of neutral face with small landmark noise and a slow brow drift, then a 3 s
    happiness clip whose smile starts `latency_s` after the clip (None: no response)."""
    tl = Timeline([Segment("baseline", "neutral", 0, 2, True), Segment("clip", "happiness", 2, 5)])
    acc = SessionAccumulator(tl)
    for i in range(int(5 * FPS)):
        t = i / FPS
        moves = {p: tuple(rng.normal(0, 0.004, 2)) for p in range(68)}
        drift = 0.01 * np.sin(2 * np.pi * 0.4 * t)
        for p in range(17, 27):
            moves[p] = (moves[p][0], moves[p][1] + drift)
        if latency_s is not None and t >= 2 + latency_s:
            k = min(1.0, (t - 2 - latency_s) / 0.3)
            for p, (dx, dy) in SMILE.items():
                moves[p] = (moves[p][0] + k * dx, moves[p][1] + k * dy)
        acc.add(t, simple_frame(moves))
    return acc.summary()


def test_response_latency_is_found_when_there_is_a_response():
    s = _smile_session(0.6, np.random.default_rng(3))
    resp = s["segments"][1]["response"]
    # the onset lies between the planted start and the end of its 0.3 s ramp
    assert 0.6 - 1 / FPS <= resp["latency_s"] <= 0.9
    assert "latency_reason" not in resp and resp["amplitude"] > 0


def test_no_response_says_why():
    s = _smile_session(None, np.random.default_rng(4))
    resp = s["segments"][1]["response"]
    assert resp["latency_s"] is None and "never above baseline" in resp["latency_reason"]
    # a clip before any baseline has no reference at all
    acc = SessionAccumulator(
        Timeline([Segment("clip", "happiness", 0, 1), Segment("b", "neutral", 1, 2, True)])
    )
    _feed(acc, [OPEN] * 30)
    assert acc.summary()["segments"][0]["response"]["latency_reason"] == "no_baseline"


# -- action units, asymmetry ------------------------------------------------------------
def test_action_unit_proxies_read_the_planted_movement_and_nothing_else():
    base = OPEN.canon
    cases = {
        "AU12_lip_corner_puller": ({48: (0, -0.05), 54: (0, -0.05)}, 0.05),
        "AU15_lip_corner_depressor": ({48: (0, 0.04), 54: (0, 0.04)}, 0.04),
        "AU1_inner_brow_raiser": ({p: (0, -0.03) for p in (20, 21, 22, 23)}, 0.03),
        "AU2_outer_brow_raiser": ({p: (0, -0.03) for p in (17, 18, 25, 26)}, 0.03),
        "AU26_jaw_drop": ({8: (0, 0.1)}, 0.1),
        "AU6_cheek_raiser": ({p: (0, -0.02) for p in (40, 41, 46, 47)}, 0.02),
    }
    for name, (moves, size) in cases.items():
        canon = base.copy()
        for p, (dx, dy) in moves.items():
            canon[p] += (dx, dy)
        aus = au_proxies(canon, base)
        assert aus[AU_INDEX[name]] == pytest.approx(size, rel=1e-6), name
        others = [v for n, v in zip(AU_NAMES, aus, strict=True) if n not in (name, "AU45_blink")]
        assert max(others) < 0.5 * size, (name, dict(zip(AU_NAMES, aus, strict=True)))


def test_a_smile_under_head_motion_is_seen_in_the_canonical_frame():
    """The whole frame path's geometry: a smile on a face that turns and moves reads as
    AU12 (within 30 %: the alignment also uses the mouth corners), brows stay still."""
    acc = SessionAccumulator(
        Timeline([Segment("b", "neutral", 0, 1, True), Segment("c", "happiness", 1, 2)])
    )
    for i in range(60):
        t = i / FPS
        moves = {p: (dx * (t >= 1), dy * (t >= 1)) for p, (dx, dy) in SMILE.items()}
        acc.add(
            t, simple_frame(moves, yaw=4 * np.sin(3 * t), position_mm=(20 * t, 0, 600 + 30 * t))
        )
    clip = acc.summary()["segments"][1]["biomarkers"]["action_units"]
    assert clip["AU12_lip_corner_puller"]["mean"] == pytest.approx(0.08, rel=0.3)
    assert (
        clip["AU1_inner_brow_raiser"]["max"] < 0.01
        and clip["AU15_lip_corner_depressor"]["max"] < 0.01
    )


def test_asymmetry_is_zero_for_a_symmetric_smile_and_shows_a_one_sided_one():
    base = OPEN.canon
    assert (MIRROR_68[MIRROR_68] == np.arange(68)).all()
    sym, one = base.copy(), base.copy()
    sym[48] += (-0.05, -0.05)
    sym[54] += (0.05, -0.05)
    one[54] += (0.05, -0.05)
    # the canonical face is symmetric only up to the mean face's rounding
    assert point_asymmetry(sym, base).max() < 1e-9
    a = point_asymmetry(one, base)
    assert a[54] == pytest.approx(np.hypot(0.05, 0.05)) and a[48] == a[54]
    assert a[np.r_[0:48, 49:54, 55:68]].max() == 0


# -- head, gaze, blinks ----------------------------------------------------------------
def test_head_turn_and_translation_speeds_are_recovered():
    """Yaw sweeps at 30 deg/s while the head moves 50 mm/s sideways (through solvePnP)."""
    acc = SessionAccumulator()
    for i in range(60):
        t = i / FPS
        acc.add(t, simple_frame(yaw=-15 + 30 * t, position_mm=(-25 + 50 * t, 0, 600)))
    h = acc.summary()["session"]["biomarkers"]["head_motion"]
    assert h["angular_speed_deg_s"]["mean"] == pytest.approx(30, rel=0.1)
    assert h["translation_speed_mm_s"]["mean"] == pytest.approx(50, rel=0.1)
    assert h["angular_speed_deg_s"]["n"] == 59


def test_gaze_angles_and_saccades_are_recovered():
    """Eyes rest at 0 during the baseline, jump to 15 deg left at frame 60, to 10 deg down
    at frame 120: two saccades, three fixations, angles within 1 degree."""
    acc = SessionAccumulator(
        Timeline([Segment("b", "neutral", 0, 1, True), Segment("x", None, 1, 6)])
    )
    for i in range(180):
        gaze = (0.0, 0.0) if i < 60 else (15.0, 0.0) if i < 120 else (0.0, 10.0)
        acc.add(i / FPS, simple_frame(gaze=gaze))
    s = acc.summary()
    g = s["session"]["biomarkers"]["gaze"]
    assert g["saccades"] == 2 and g["fixations"] == 3
    x = s["segments"][1]["biomarkers"]["gaze"]
    assert x["gaze_yaw_deg"]["max"] == pytest.approx(15, abs=1.0)
    assert x["gaze_pitch_deg"]["max"] == pytest.approx(10, abs=1.0)


def test_planted_blinks_give_count_duration_and_interval():
    """Blinks of 4 closed frames every 2 s on the landmark face: count, rate, duration and
    interval within one frame."""
    closure = np.zeros(300)
    for start in range(20, 300, 60):
        closure[start : start + 4] = 1.0
    frames = {c: simple_frame(closure=c) for c in (0.0, 1.0)}
    acc = SessionAccumulator()
    _feed(acc, [frames[c] for c in closure])
    b = acc.summary()["session"]["biomarkers"]["blinks"]
    assert b["count"] == 5
    assert b["duration_s"]["mean"] == pytest.approx(4 / FPS, abs=1 / FPS)
    assert b["interval_s"]["mean"] == pytest.approx(2.0, abs=1 / FPS)
    assert b["rate_per_min"] == pytest.approx(5 / 10 * 60, rel=0.01)


def test_blink_reference_follows_a_slow_change_of_eye_opening():
    """A squint narrows the eye by a quarter over 5 s and holds for 15 s: no blink, because
    the reference follows; a real blink during the squint is still found."""
    bt = BlinkTracker()
    onsets = 0
    for i in range(900):
        ear = 0.3 if i < 300 else 0.3 - 0.075 * min(1.0, (i - 300) / 150)
        onsets += bt.step(i / FPS, ear).onset
    assert onsets == 0
    assert bt.step(30.0, 0.1).onset and bt.count == 1


def test_summary_stays_statistics_only_with_many_segments():
    """A full kiosk-like timeline: 1 baseline + 15 clips + rests; the summary validates,
    holds no list longer than the limit and stays under the size cap."""
    segs = [Segment("baseline", "neutral", 0, 2, True)]
    conds = ("happiness", "sadness", "anger", "fear", "neutral")
    t = 2.0
    for k in range(15):
        segs.append(Segment(f"clip-{k}", conds[k % 5], t, t + 1))
        segs.append(Segment(f"rest-{k}", None, t + 1, t + 1.5))
        t += 1.5
    acc = SessionAccumulator(Timeline(segs))
    feed_jitter(acc, t)
    s = acc.summary({"device_id": "x"})
    validate_summary(s)
    assert len(encode(s)) < MAX_BYTES
    assert set(s["session"]["expressivity_by_condition"]) == set(conds)
    assert "per_frame" not in json.dumps(s)
    assert len(FEATURE_NAMES) + len(AU_NAMES) < 64
