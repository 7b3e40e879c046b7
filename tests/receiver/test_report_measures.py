"""The report's per-clip measures come from the summary the kiosk's own frame path made of a
face with known motion (a synthetic participant who smiles during the happiness clip), in
the units the report states."""

from __future__ import annotations

import pytest

from device.session.analyze import analyze_video
from device.session.timeline import Segment, Timeline
from device.vision.frame_path import FramePipeline
from model_export.synth import CohortSpec, plan
from model_export.synth.face import base_face
from model_export.synth.render import render_participant
from receiver.report.content import Report, load_legend
from receiver.report.measures import action_units_by_condition, clip_measures
from receiver.report.render import render_html

FPS = 30
TIMELINE = Timeline(
    [
        Segment("baseline", "neutral", 0, 3, True),
        Segment("clip-neutral", "neutral", 3, 5),
        Segment("clip-happy", "happiness", 5, 9),
    ]
)


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("report-measures")
    person = next(p for p in plan(CohortSpec(n_per_class=1, seed=3)) if p.label == "HC")
    video = out / "p.mp4"
    render_participant(person, TIMELINE, base_face(), video, FPS, (640, 480))
    return analyze_video(video, TIMELINE, FramePipeline(), progress=False)


def test_one_row_per_clip_with_the_summarys_own_figures(summary):
    rows = clip_measures(summary)
    assert [r["condition"] for r in rows] == ["neutral", "happiness"]
    for row, seg in zip(rows, summary["segments"][1:], strict=True):
        b = seg["biomarkers"]
        assert row["blinks"] == b["blinks"]["count"]
        assert row["expressivity_pct"] == pytest.approx(100 * b["expressivity"]["mean"], abs=0.05)
        assert row["head_deg_s"] == pytest.approx(
            b["head_motion"]["angular_speed_deg_s"]["mean"], abs=0.05
        )
        assert row["gaze_yaw_sd"] == pytest.approx(b["gaze"]["gaze_yaw_deg"]["sd"], abs=0.05)
    # the planted smile: more expression in the happiness clip than in the neutral one
    assert rows[1]["expressivity_pct"] > rows[0]["expressivity_pct"]


def test_action_unit_table_shows_the_planted_smile_per_condition(summary):
    (table,) = action_units_by_condition(summary)
    assert table["conditions"] == ["neutral", "happiness"]
    smile = next(r for r in table["rows"] if r["key"] == "AU12_lip_corner_puller")
    neutral, happy = smile["values"]
    assert happy > 3 * max(neutral, 0.01), smile
    assert "smile" in smile["words"]


def test_an_older_summary_without_biomarkers_shows_gaps_not_numbers():
    old = {"segments": [{"name": "c1", "condition": "fear", "frames_used": 10}]}
    (row,) = clip_measures(old)
    assert row["condition"] == "fear"
    assert all(row[k] is None for k in ("expressivity_pct", "blinks", "head_deg_s", "gaze_yaw_sd"))
    assert action_units_by_condition(old) == []


def test_the_rendered_report_carries_the_tables_in_words(summary):
    record = {"summary": summary, "device_id": "dev-a", "message_id": "m" * 32,
              "created": 1796240000.0, "received": 1796240001.0}  # fmt: skip
    html = render_html(Report(record, [], load_legend()))
    assert "lip corners pulled up, smile (AU12)" in html
    assert "Head turning speed (degrees/s)" in html
    assert "Gaze variability" not in html  # the v1 columns give way to the v2 table
    happy = clip_measures(summary)[1]
    assert f'<td class="num">{happy["expressivity_pct"]:.1f}</td>' in html
