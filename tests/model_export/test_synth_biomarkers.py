"""Biomarkers v2 on videos with known motion, through the kiosk's whole frame path:
synthetic participants rendered with blinks, a smile and a response latency planted at
known times, and the real videos in ../shared/testdata checked against a simple peak rule
on our own EAR series."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.signal import find_peaks

from device.session.analyze import analyze_video
from device.session.timeline import Segment, Timeline
from device.vision.features import FEATURE_INDEX
from device.vision.frame_path import FramePipeline
from device.vision.sources import VideoFileSource
from model_export.synth import CohortSpec, plan
from model_export.synth.face import base_face
from model_export.synth.participant import blink_closure
from model_export.synth.render import render_participant

FPS = 30
TIMELINE = Timeline(
    [Segment("baseline", "neutral", 0, 3, True), Segment("happy", "happiness", 3, 7)]
)


@pytest.fixture(scope="module")
def frame_path() -> FramePipeline:
    return FramePipeline()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, frame_path):
    """One BD and one HC participant, 20 blinks/min, rendered and analysed once."""
    out = tmp_path_factory.mktemp("synth-bio")
    face = base_face()
    people = {p.label: p for p in plan(CohortSpec(n_per_class=2, seed=5))}
    runs = {}
    for label in ("BD", "HC"):
        p = dataclasses.replace(people[label], blink_per_min=20.0)
        video = out / f"{p.participant_id}.mp4"
        tr = render_participant(p, TIMELINE, face, video, FPS, (640, 480))
        closure = blink_closure(p, len(tr.source_pts), FPS)
        onsets = (
            np.flatnonzero((closure[1:] > 0) & (closure[:-1] == 0)) + 1
        )  # not one under way at frame 0
        runs[label] = (p, onsets / FPS, analyze_video(video, TIMELINE, frame_path, progress=False))
    return runs


def test_planted_blinks_are_found_with_their_intervals(rendered):
    for label, (_, onsets, s) in rendered.items():
        b = s["session"]["biomarkers"]["blinks"]
        assert abs(b["count"] - len(onsets)) <= 1, (label, b["count"], onsets)
        if b["count"] == len(onsets) > 1:
            assert b["interval_s"]["mean"] == pytest.approx(np.diff(onsets).mean(), abs=2 / FPS)
        # whole planted blink 0.26 s, of which 0.1 s fully closed
        assert 0.08 <= b["duration_s"]["mean"] <= 0.27, label


def test_planted_smile_and_response_latency_are_recovered(rendered):
    for label, (p, _, s) in rendered.items():
        base, happy = s["segments"]
        au12 = "AU12_lip_corner_puller"
        assert (
            happy["biomarkers"]["action_units"][au12]["mean"]
            > 5 * base["biomarkers"]["action_units"][au12]["mean"]
        )
        assert (
            s["session"]["expressivity_by_condition"]["happiness"]
            > s["session"]["expressivity_by_condition"]["neutral"]
        )
        # the response starts at the planted latency and rises over rise_s (smoothstep)
        lat = happy["response"]["latency_s"]
        assert lat is not None, (label, happy["response"])
        assert p.latency_s - 1 / FPS <= lat <= p.latency_s + p.rise_s, (
            label,
            lat,
            p.latency_s,
            p.rise_s,
        )


@pytest.mark.parametrize("video", ["single_face.mp4", "face_noface.mov"])
def test_real_video_blinks_match_a_peak_rule_on_the_ear_series(testdata, frame_path, video):
    """A peer-style rule (EAR minima with prominence >= a quarter of the median EAR) on the
    same frames finds the same blinks; the one blink in these clips lasts 0.1-0.3 s."""
    path = testdata / "video" / video
    ears = []
    frame_path.reset()
    with VideoFileSource(path) as src:
        for frame in src:
            r = frame_path.process(frame.rgb)
            if r.ok:
                ears.append(r.features[FEATURE_INDEX["ear"]])
    ears = np.array(ears)
    peaks, _ = find_peaks(-ears, prominence=0.25 * np.median(ears))
    s = analyze_video(path, pipeline=frame_path, progress=False)
    b = s["session"]["biomarkers"]
    assert b["blinks"]["count"] == len(peaks) >= 1
    assert 0.1 <= b["blinks"]["duration_s"]["mean"] <= 0.3
    assert b["covered_s"] == pytest.approx(
        s["session"]["frames_used"] / s["input"]["fps"], rel=0.02
    )
    head = b["head_motion"]["angular_speed_deg_s"]
    assert 0 < head["mean"] < 60 and head["n"] >= s["session"]["frames_used"] - 2
