"""The summary's `standard_face` block: small, in range, and no place for a field."""

from __future__ import annotations

import copy

import pytest

from device.wire.summary import SummaryError, encode, validate_summary


def _summary() -> dict:
    block = {"frames_seen": 300, "frames_used": 280, "rejected": {"blur": 20}, "features": {}}
    sims = {
        c: {"happiness": 0.41, "sadness": -0.2, "anger": 0.05, "fear": 0.1, "overall": v}
        for c, v in (("BD", 0.62), ("MDD", -0.31), ("HC", 0.12))
    }
    return {
        "schema_version": "emoface.summary/1",
        "session": dict(block),
        "segments": [],
        "standard_face": {
            "frames": {"neutral": 40, "happiness": 50, "sadness": 50, "anger": 49, "fear": 50},
            "answer": "BD",
            "similarity": sims,
            "conditions": ["happiness", "sadness", "anger", "fear"],
        },
    }


def test_a_route_block_validates_and_stays_small():
    s = _summary()
    validate_summary(s)
    assert len(encode({"b": s["standard_face"]})) < 700


def test_a_block_without_an_answer_must_say_why():
    s = _summary()
    s["standard_face"] = {"frames": {"neutral": 0}, "answer": None, "similarity": {}}
    with pytest.raises(SummaryError, match=r"standard_face\.reason"):
        validate_summary(s)
    s["standard_face"]["reason"] = "fewer than 3 neutral baseline frames with a face mesh"
    validate_summary(s)


@pytest.mark.parametrize(
    "edit, where",
    [
        (lambda b: b["similarity"]["BD"].update(overall=1.5), r"similarity\.BD\.overall"),
        (lambda b: b["similarity"]["HC"].update(neutral=0.2), r"similarity\.HC"),
        (lambda b: b.update(answer="XYZ"), r"answer"),
        (lambda b: b["frames"].update(happiness=301), r"frames\.happiness"),
        (lambda b: b["frames"].update(happiness=-1), r"frames\.happiness"),
        (lambda b: b.update(field=[[0.0, 0.0, 0.0]] * 3), r"unknown keys"),
        (lambda b: b.update(conditions=["neutral"]), r"conditions"),
        (lambda b: b["similarity"].update({f"c{i}": {} for i in range(9)}), r"more than 8"),
    ],
)
def test_out_of_range_or_smuggled_content_is_refused(edit, where):
    s = copy.deepcopy(_summary())
    edit(s["standard_face"])
    with pytest.raises(SummaryError, match=where):
        validate_summary(s)


def test_a_field_cannot_ride_along_as_a_long_list():
    s = _summary()
    s["standard_face"]["conditions"] = ["happiness"] * 468
    with pytest.raises(SummaryError, match="no per-frame data"):
        validate_summary(s)
