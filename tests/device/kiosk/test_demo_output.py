"""`emoface demo` for a person: reproducible (the same video gives the same summary, every
frame of the recording analysed in order) and printed in words, without raw dicts, epoch
times or pygame's banner."""

from __future__ import annotations

import re

from device.kiosk.demo import run_demo


def _figures(summary: dict) -> dict:
    """Everything in the summary that comes from the video (not times, ids or keys)."""
    return {"session": summary["session"] | {"code": None}, "segments": summary["segments"]}


def test_the_same_video_gives_the_same_summary(tmp_path, video):
    runs = [
        run_demo(video=video, workdir=tmp_path / f"run{i}", clip_s=0.5, questionnaires=False)
        for i in range(2)
    ]
    a, b = (_figures(r["summary"]) for r in runs)
    # every frame of the recording analysed: the timeline at the video's 30 frames/s
    seen = a["session"]["frames_seen"]
    assert seen > 0 and a["session"]["frames_dropped"] == 0
    assert a == b
    amplitudes = [s.get("response", {}).get("amplitude") for s in a["segments"]]
    assert any(v is not None for v in amplitudes)

    # ... and it is printed for a person
    view = runs[0]["view"]
    assert "{" not in view and "None" not in view
    assert not re.search(r"\b1[6-9]\d{8}(\.\d+)?\b", view), "an epoch time is printed"
    assert "UTC" in view and "usable" in view and "amplitude" in view
    # the demo leaves a runnable device config behind
    assert (tmp_path / "run0" / "device.toml").is_file()
