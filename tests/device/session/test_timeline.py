import json

import pytest

from device.errors import InputError
from device.session.timeline import Timeline


def test_timeline_lookup_and_validation(tmp_path):
    tl = Timeline.from_dict(
        {
            "segments": [
                {"name": "b", "condition": "neutral", "start": 0, "end": 2, "baseline": True},
                {"name": "h", "condition": "happiness", "start": 3, "end": 5},
            ]
        }
    )
    assert (
        tl.segment_at(1.0).name == "b"
        and tl.segment_at(2.5) is None
        and tl.segment_at(4.99).name == "h"
    )
    p = tmp_path / "t.json"
    p.write_text(json.dumps(tl.to_dict()))
    assert Timeline.load(p).to_dict() == tl.to_dict()
    for bad, msg in [
        ({"segments": [{"name": "a", "condition": "joy", "start": 0, "end": 1}]}, "condition"),
        ({"segments": [{"name": "a", "start": 2, "end": 1}]}, "start < end"),
        (
            {
                "segments": [
                    {"name": "a", "start": 0, "end": 2},
                    {"name": "b", "start": 1, "end": 3},
                ]
            },
            "overlap",
        ),
        ({"segs": []}, "segments"),
    ]:
        with pytest.raises(InputError, match=msg):
            Timeline.from_dict(bad)
