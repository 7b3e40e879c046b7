"""The receiver's fast path keeps every check: one JSON parse per message, the signed bytes
stored as they came (no re-encoding), the size limit applied to those bytes, and a whole
batch checked, looked up and inserted at once, on real SQLite and a real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from device.wire.envelope import open_sealed
from device.wire.summary import MAX_BYTES, SummaryError, encode, validate_summary
from provisioning.registry import DeviceKeys
from receiver.service import Intake
from receiver.store import Store
from tests.support.delivery_helpers import make_summary
from tests.support.hostile import sealed

TOPIC = "emoface/{}/summary"


def stored_text(store: Store, message_id: str) -> str:
    row = store.db.execute(
        store.backend.sql("SELECT summary FROM summaries WHERE message_id = ?"), (message_id,)
    ).fetchone()
    return row[0]


def test_open_sealed_returns_the_signed_summary_bytes(clinic):
    h, blob = sealed(clinic, "dev-a", 1)
    opened = open_sealed(blob, clinic.load_hpke_key(), DeviceKeys(clinic.registry_path))
    assert opened.header == h
    assert opened.body == encode(make_summary(1, "hostile"))
    assert json.loads(opened.body) == opened.summary


def test_a_batch_is_stored_byte_for_byte_as_signed_once_each(clinic, store_url):
    intake = Intake(Store(store_url), clinic.load_hpke_key(), clinic.registry_path)
    try:
        items = [
            sealed(clinic, "dev-a", i, summary={**make_summary(i), "note": "é"}) for i in range(6)
        ]
        again = items[2]  # the same envelope twice in one batch: stored once, acked twice
        outs = intake.handle_batch([(blob, TOPIC.format("dev-a")) for _, blob in [*items, again]])
        intake.store.commit()
        assert [o.status for o in outs] == ["stored"] * 6 + ["duplicate"]
        for h, _ in items:
            text = stored_text(intake.store, h.message_id)
            assert text.encode() == encode({**make_summary(h.seq), "note": "é"})  # as signed
            assert intake.store.get(h.message_id)["summary"]["note"] == "é"
        assert intake.store.count() == 6
        # the next batch: already stored -> duplicate (acked again), never a second row
        outs = intake.handle_batch([(items[0][1], TOPIC.format("dev-a"))])
        intake.store.commit()
        assert outs[0].status == "duplicate" and intake.store.count() == 6
    finally:
        intake.store.close()


def test_the_size_limit_applies_to_the_signed_bytes(clinic, tmp_path):
    intake = Intake(Store(str(tmp_path / "r.sqlite")), clinic.load_hpke_key(), clinic.registry_path)
    try:
        big = make_summary(0)
        big["pad"] = "x" * (MAX_BYTES + 10)  # under MAX_ENVELOPE
        small = make_summary(1)
        small["pad"] = "x" * (MAX_BYTES - 1000)
        (_, b1), (_, b2) = (
            sealed(clinic, "dev-b", 0, summary=big),
            sealed(clinic, "dev-b", 1, summary=small),
        )
        outs = intake.handle_batch([(b1, TOPIC.format("dev-b")), (b2, TOPIC.format("dev-b"))])
        intake.store.commit()
        assert (outs[0].status, outs[0].reason) == ("rejected", "schema")
        assert outs[1].status == "stored"
        assert intake.store.rejection_counts() == {"schema": 1}
    finally:
        intake.store.close()


def _nested(value):
    s = make_summary(0)
    s["segments"] = [json.loads(json.dumps(s["session"])) | {"name": "clip"}]
    s["segments"][0]["features"]["deep"] = [{"x": [0.5, value]}]
    return s


@pytest.mark.parametrize(
    "summary, where",
    [
        (_nested(float("inf")), "non-finite"),
        (_nested(float("-inf")), "non-finite"),
        (_nested(float("nan")), "non-finite"),
        (_nested(2**53 + 1), "integer out of range"),
        (_nested(-(2**53) - 1), "integer out of range"),
        (_nested(list(range(65))), "list of 65 items"),
        (_nested({1: "x"}), "keys must be strings"),
        (_nested(b"bytes"), "unsupported type"),
        (_nested((1, 2)), "unsupported type"),
    ],
)
def test_the_one_pass_walk_still_finds_every_bad_value_deep_inside(summary, where):
    with pytest.raises(SummaryError, match=where) as err:
        validate_summary(summary)
    assert "summary.segments[0].features.deep[0].x" in str(err.value)  # the place, never the value


def test_a_deep_valid_summary_passes_the_one_pass_walk():
    validate_summary(_nested(None))
    validate_summary(_nested(True))
    validate_summary(_nested(2**53))
    validate_summary(_nested([1.5] * 64))
