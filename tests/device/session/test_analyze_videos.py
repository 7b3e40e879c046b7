"""The frame path on the three real videos, through the CLI as a user runs it."""

import json
import os
import subprocess
import sys

import pytest

from device.cli import main
from device.session.analyze import analyze_video


def test_one_face_video_finds_a_face_in_95_percent(pipeline, testdata):
    s = analyze_video(testdata / "video" / "single_face.mp4", pipeline=pipeline, progress=False)
    ses = s["session"]
    assert ses["frames_seen"] == 72
    assert ses["frames_seen"] - ses["rejected"].get("no_face", 0) >= 0.95 * ses["frames_seen"]
    assert s["face_found"] is True
    assert ses["features"]["ear"]["n"] >= 60
    assert 0.1 < ses["features"]["ear"]["mean"] < 0.5


def test_appear_leave_video_counts_faceless_frames_as_rejected(pipeline, testdata):
    s = analyze_video(testdata / "video" / "face_noface.mov", pipeline=pipeline, progress=False)
    ses = s["session"]
    assert ses["rejected"].get("no_face", 0) >= 50
    assert ses["frames_used"] >= 50
    assert ses["frames_used"] + sum(ses["rejected"].values()) == ses["frames_seen"]


def test_no_face_video_says_so_in_summary_and_exit_code(testdata, tmp_path, capsys):
    out = tmp_path / "s.json"
    rc = main(["analyze", str(testdata / "video" / "no_face.mp4"), "--out", str(out), "-q"])
    assert rc == 3
    s = json.loads(out.read_text())
    assert s["face_found"] is False
    assert s["session"]["frames_used"] == 0
    assert s["session"]["rejected"]["no_face"] == s["session"]["frames_seen"] > 0
    assert "no face" in capsys.readouterr().err


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (
            lambda d: (d / "text.mp4").write_text("not a video") and d / "text.mp4",
            "cannot open as a video",
        ),
    ],
)
def test_bad_input_gives_a_clear_error_without_traceback(tmp_path, make, expect):
    path = make(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "device.cli", "analyze", str(path), "-q"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert expect in proc.stderr
    assert "Traceback" not in proc.stderr


def _mjpg_copy(src, dst, keep_fraction=1.0):
    import cv2

    cap = cv2.VideoCapture(str(src))
    w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    while True:
        ok, f = cap.read()
        if not ok:
            break
        writer.write(f)
    writer.release()
    data = dst.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep_fraction)])


def test_truncated_file_is_an_error_and_keeps_the_readable_part(testdata, tmp_path):
    video = tmp_path / "cut.avi"
    _mjpg_copy(testdata / "video" / "single_face.mp4", video, keep_fraction=0.5)
    out = tmp_path / "s.json"
    proc = subprocess.run(
        [sys.executable, "-m", "device.cli", "analyze", str(video), "--out", str(out), "-q"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    assert "truncated" in proc.stderr and "Traceback" not in proc.stderr
    s = json.loads(out.read_text())
    assert s["input"]["truncated"] is True
    assert 0 < s["input"]["frames_decoded"] < s["input"]["frames_in_header"]


def test_analysing_writes_no_file_but_the_summary(testdata, tmp_path):
    """Privacy: no frame, crop or landmark track anywhere, including home and temp folders."""
    from device.models.landmark_store import default_model_dir

    work = tmp_path / "work"
    for d in ("work", "home", "tmp"):
        (tmp_path / d).mkdir()
    env = dict(
        os.environ,
        HOME=str(tmp_path / "home"),
        TMPDIR=str(tmp_path / "tmp"),
        XDG_CACHE_HOME=str(tmp_path / "home" / ".cache"),
        EMOFACE_MODEL_DIR=str(default_model_dir()),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "device.cli",
            "analyze",
            str(testdata / "video" / "face_noface.mov"),
            "--out",
            "summary.json",
            "-q",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["work/summary.json"]
    # and the summary itself carries no per-frame series
    s = json.loads((work / "summary.json").read_text())
    assert "landmarks" not in json.dumps(s)
