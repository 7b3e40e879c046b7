import pytest

from device.wire.summary import SummaryError, validate_summary


def test_summary_validation_refuses_per_frame_series():
    ok = {
        "schema_version": "emoface.summary/1",
        "segments": [],
        "session": {"frames_seen": 1, "frames_used": 1, "rejected": {}, "features": {}},
    }
    validate_summary(ok)
    with pytest.raises(SummaryError, match="per-frame"):
        validate_summary({**ok, "track": list(range(1000))})
    with pytest.raises(SummaryError, match="non-finite"):
        validate_summary({**ok, "x": float("nan")})
    with pytest.raises(SummaryError, match="schema_version"):
        validate_summary({**ok, "schema_version": "other/9"})
