"""A rendered synthetic cohort: the training dataset layout, SYNTHETIC labelling, determinism,
the CLI, and the kiosk's own frame path on the videos (faces found, quality gate passed,
planted regions moving more in the intended class)."""

from __future__ import annotations

import argparse
import csv
import json

import cv2
import numpy as np
import pytest

from device.errors import EmofaceError, InputError
from device.session.timeline import CONDITIONS, Timeline
from device.vision.facemap import region_means
from device.vision.frame_path import FramePipeline
from device.vision.sources import VideoFileSource
from model_export.synth import CohortSpec, generate_cohort, plan
from model_export.synth.cli import add_cli
from model_export.synth.cohort import stimulus_timeline
from model_export.synth.face import base_face
from model_export.synth.render import tracks

SPEC = dict(n_per_class=2, seed=5, seconds_per_clip=2.5, fps=15)
N_FRAMES = int((2.0 + 4 * 2.5) * 15)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "cohort"
    csv_path = generate_cohort(out, workers=2, progress=False, **SPEC)
    return out, csv_path


def _rows(csv_path):
    with open(csv_path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_layout_is_the_training_dataset_format(cohort):
    out, csv_path = cohort
    assert csv_path == out / "participants.csv"
    rows = _rows(csv_path)
    assert list(rows[0]) == ["participant_id", "label", "video", "timeline", "phq9", "gad7"]
    assert sorted(r["label"] for r in rows) == ["BD", "BD", "HC", "HC", "MDD", "MDD"]
    assert all(r["participant_id"].startswith("syn") for r in rows)
    for r in rows:
        assert (out / r["video"]).is_file() and r["video"].endswith(".mp4")
        tl = Timeline.load(out / r["timeline"])
        assert {s.condition for s in tl.segments} == set(CONDITIONS)
        assert tl.segments[0].baseline and tl.segments[0].condition == "neutral"
        assert tl.end == pytest.approx(12.0)
        assert 0 <= int(r["phq9"]) <= 27 and 0 <= int(r["gad7"]) <= 21


def test_dataset_reader_accepts_it(cohort):
    dataset = pytest.importorskip("model_export.dataset")
    people = dataset.read_site_csv(cohort[1])
    assert len(people) == 6 and all(p.timeline is not None for p in people)


def test_labelled_synthetic_everywhere(cohort):
    out, _ = cohort
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic"] is True and "SYNTHETIC" in manifest["notice"]
    assert manifest["seed"] == 5 and manifest["n_per_class"] == 2
    assert manifest["plants"]["BD"]["planted_regions"] == [5, 8, 13, 14]
    assert manifest["plants"]["MDD"]["planted_regions"] == [6, 7]
    assert manifest["source_face"]["sha256"] == base_face().sha256
    assert len(manifest["participants"]) == 6
    readme = (out / "README.md").read_text()
    assert readme.startswith("# SYNTHETIC") and "seed **5**" in readme
    for label in ("BD", "MDD", "HC"):
        assert label in readme


def test_videos_have_the_promised_shape(cohort):
    out, csv_path = cohort
    for r in _rows(csv_path)[:2]:
        cap = cv2.VideoCapture(str(out / r["video"]))
        assert (
            cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 640 and cap.get(cv2.CAP_PROP_FRAME_HEIGHT) == 480
        )
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(15)
        n = 0
        while cap.grab():
            n += 1
        cap.release()
        assert n == N_FRAMES


def test_deterministic_and_independent_of_workers(cohort, tmp_path):
    """Same arguments -> same frames, whether rendered in one process or two."""
    out, csv_path = cohort
    again = generate_cohort(tmp_path / "again", workers=1, progress=False, **SPEC)
    assert _rows(again) == _rows(csv_path)
    m1 = json.loads((out / "manifest.json").read_text())
    m2 = json.loads((tmp_path / "again" / "manifest.json").read_text())
    assert m1 == m2
    for r in _rows(csv_path)[:2]:
        a = cv2.VideoCapture(str(out / r["video"]))
        b = cv2.VideoCapture(str(tmp_path / "again" / r["video"]))
        for _ in range(N_FRAMES):
            (ok_a, fa), (ok_b, fb) = a.read(), b.read()
            assert ok_a and ok_b and np.array_equal(fa, fb)
        a.release()
        b.release()


def test_refuses_to_clobber(cohort, tmp_path):
    out, _ = cohort
    with pytest.raises(InputError, match="--force"):
        generate_cohort(out, progress=False, **SPEC)
    other = tmp_path / "not_a_cohort"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        generate_cohort(other, progress=False, **SPEC)
    assert (other / "precious.txt").read_text() == "keep me"
    for bad in (
        dict(n_per_class=0),
        dict(fps=0),
        dict(size=(641, 480)),
        dict(seconds_per_clip=0.1),
    ):
        with pytest.raises(EmofaceError):
            CohortSpec(**bad)


def _cli():
    parser = argparse.ArgumentParser(prog="emoface")
    add_cli(parser.add_subparsers())
    return parser


def test_cli_writes_and_replaces_a_cohort(tmp_path, capsys):
    out = tmp_path / "c"
    args = [
        "synth-cohort",
        str(out),
        "--per-class",
        "1",
        "--seconds-per-clip",
        "1",
        "--baseline-seconds",
        "1",
        "--fps",
        "5",
        "--size",
        "320x240",
        "--workers",
        "1",
        "-q",
    ]
    ns = _cli().parse_args(args)
    assert ns.func(ns) == 0
    assert "SYNTHETIC cohort of 3 participants" in capsys.readouterr().out
    cap = cv2.VideoCapture(str(out / "videos" / "syn001.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 320
    cap.release()
    ns = _cli().parse_args(args)
    with pytest.raises(InputError):
        ns.func(ns)
    ns = _cli().parse_args([*args, "--force", "--seed", "9"])
    assert ns.func(ns) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 9
    with pytest.raises(SystemExit):
        _cli().parse_args(["synth-cohort", str(out), "--size", "big"])


def test_cli_help_says_synthetic(capsys):
    with pytest.raises(SystemExit):
        _cli().parse_args(["synth-cohort", "--help"])
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "--per-class" in text and "--seed" in text


@pytest.fixture(scope="module")
def measured(cohort):
    """The kiosk's frame path over every video: gate pass rate and, per participant and clip,
    the mean displacement of each region from the baseline (landmarks mapped back into the
    astronaut's pixels with the generator's known head pose, in inter-ocular distances)."""
    out, csv_path = cohort
    face = base_face()
    timeline = stimulus_timeline(SPEC["seconds_per_clip"])
    people = {p.participant_id: p for p in plan(CohortSpec(**SPEC))}
    pipeline = FramePipeline()
    result = {}
    for r in _rows(csv_path):
        poses = tracks(people[r["participant_id"]], timeline, face, SPEC["fps"], (640, 480)).poses
        pipeline.reset()
        src = VideoFileSource(out / r["video"])
        pts, times, n, n_ok = [], [], 0, 0
        for i, frame in enumerate(src):
            res = pipeline.process(frame.rgb)
            n += 1
            if res.ok:
                n_ok += 1
                a = poses[i]
                pts.append((res.pts68 - a[:, 2]) @ np.linalg.inv(a[:, :2]).T)
                times.append(frame.t)
        src.close()
        pts, times = np.asarray(pts), np.asarray(times)
        base = pts[times < timeline.segments[0].end].mean(0)
        per = {}
        for seg in timeline.segments[1:]:
            sel = (times >= seg.start + 1.0) & (times < seg.end)
            d = np.linalg.norm(pts[sel] - base, axis=2).mean(0) / face.interocular
            per[seg.condition] = region_means(d.astype(np.float32))
        result[r["participant_id"]] = (r["label"], n_ok / n, per)
    return result


def test_frame_path_finds_the_face_and_passes_the_gate(measured):
    for pid, (_, ok_share, _) in measured.items():
        assert ok_share >= 0.9, pid


def _class_mean(measured, label, conditions, regions):
    vals = [
        per[c][[n - 1 for n in regions]].mean()
        for lab, _, per in measured.values()
        if lab == label
        for c in conditions
    ]
    return float(np.mean(vals))


def test_frame_path_sees_bd_mouth_corners_move_more_under_happy_and_sad(measured):
    bd = _class_mean(measured, "BD", ("happiness", "sadness"), (13, 14))
    for other in ("HC", "MDD"):
        assert bd > 1.25 * _class_mean(measured, other, ("happiness", "sadness"), (13, 14)), other


def test_frame_path_sees_bd_outer_eye_corners_move_more_under_happy_and_sad(measured):
    """Against HC, and against BD's own anger and fear clips. (Not against MDD: the landmark
    model follows MDD's inner-corner lift by moving the whole eye contour.)"""
    bd = _class_mean(measured, "BD", ("happiness", "sadness"), (5, 8))
    assert bd > 1.3 * _class_mean(measured, "HC", ("happiness", "sadness"), (5, 8))
    assert bd > 1.2 * _class_mean(measured, "BD", ("anger", "fear"), (5, 8))


def test_frame_path_sees_mdd_inner_eye_corners_move_and_less_elsewhere(measured):
    emotions = ("happiness", "sadness", "anger", "fear")
    mdd = _class_mean(measured, "MDD", emotions, (6, 7))
    for other in ("HC", "BD"):
        assert mdd > 1.25 * _class_mean(measured, other, emotions, (6, 7)), other
    mouth = (13, 14, 15, 16)
    assert _class_mean(measured, "MDD", emotions, mouth) < 0.8 * _class_mean(
        measured, "HC", emotions, mouth
    )
