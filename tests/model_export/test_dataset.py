"""Site CSV parsing and crop extraction with the kiosk's own pipeline and alignment."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from device.errors import InputError, NoFaceError
from device.vision.alignment import AlignmentParams, template
from device.vision.facemap import LEFT_EYE, RIGHT_EYE
from model_export.dataset import extract_all, extract_participant, read_site_csv


def _site(tmp_path, testdata, rows: str, header: str = "participant_id,label,video") -> object:
    shutil.copy(testdata / "video" / "single_face.mp4", tmp_path / "a.mp4")
    shutil.copy(testdata / "video" / "no_face.mp4", tmp_path / "b.mp4")
    p = tmp_path / "site.csv"
    p.write_text(header + "\n" + rows)
    return p


def test_csv_parsed_with_scores_and_default_video(tmp_path, testdata):
    shutil.copy(testdata / "video" / "single_face.mp4", tmp_path / "p2.mp4")
    csv = _site(tmp_path, testdata, "p1,bd,a.mp4,12\np2,HC,,3\n", "participant_id,label,video,phq9")
    ps = read_site_csv(csv)
    assert [(p.pid, p.label, p.video.name, p.scores) for p in ps] == [
        ("p1", "BD", "a.mp4", {"phq9": 12.0}),
        ("p2", "HC", "p2.mp4", {"phq9": 3.0}),
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("p1,XX,a.mp4\n", r"site.csv:2: label 'XX' not one of BD, MDD, HC"),
        ("p1,BD,a.mp4\np1,HC,a.mp4\n", r"site.csv:3: participant p1 listed twice"),
        ("p1,BD,missing.mp4\n", r"site.csv:2: video .*missing.mp4 not found"),
    ],
)
def test_csv_errors_name_file_and_row(tmp_path, testdata, rows, message):
    with pytest.raises(InputError, match=message):
        read_site_csv(_site(tmp_path, testdata, rows))


def test_crops_come_from_the_kiosk_alignment_and_are_cached(tmp_path, testdata):
    p = read_site_csv(_site(tmp_path, testdata, "p1,BD,a.mp4\n"))[0]
    params = AlignmentParams(size=112)
    pc = extract_participant(p, params, rate=5.0, cache_dir=tmp_path / "cache")
    # 72 frames at 30 fps sampled at 5 frames/s -> every 6th frame
    assert pc.frames_seen == 12
    assert pc.n + sum(pc.rejected.values()) == 12 and pc.n >= 10
    assert pc.crops.shape == (pc.n, 112, 112, 3) and pc.crops.dtype == np.uint8
    assert np.all(np.isclose(np.diff(pc.times) / 0.2, np.round(np.diff(pc.times) / 0.2), atol=1e-4))
    # the eye centres of every crop land on the alignment template
    tpl = template(params)
    for pts in pc.pts:
        assert np.linalg.norm(pts[list(RIGHT_EYE)].mean(0) - tpl[0]) < 3.0
        assert np.linalg.norm(pts[list(LEFT_EYE)].mean(0) - tpl[1]) < 3.0
    cached = list((tmp_path / "cache").glob("p1-*.npz"))
    assert len(cached) == 1
    again = extract_participant(p, params, rate=5.0, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.crops, pc.crops)
    other = extract_participant(
        p, AlignmentParams(size=224), rate=5.0, cache_dir=tmp_path / "cache"
    )
    assert (
        other.crops.shape[1:] == (224, 224, 3)
        and len(list((tmp_path / "cache").glob("p1-*.npz"))) == 2
    )


def test_video_without_a_face_is_a_clear_error(tmp_path, testdata):
    ps = read_site_csv(_site(tmp_path, testdata, "p1,BD,b.mp4\n"))
    with pytest.raises(
        NoFaceError, match="participant p1: no frame of b.mp4 passed the quality gate"
    ):
        extract_all(ps, AlignmentParams(size=112), rate=2.0, progress=False)
