"""An enrolled but hostile (or broken) device against the receiver: signed refusals that
stop resends for good, forged acks that empty nothing, a per-device refusal budget, range
and time checks, no decrypted content in logs or the rejections table, and a registry
that turns bad while the receiver runs."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.delivery.outbox import Outbox
from device.wire.ack import STORED, Answer, sign_answer
from receiver.ratelimit import RefusalLimiter
from receiver.service import Intake
from receiver.store import Store
from tests.support.delivery_helpers import (
    device_broker,
    make_delivery,
    make_summary,
    raw_publish,
    receiver_broker,
    stored,
    wait_for,
)
from tests.support.hostile import Client, sealed

SECRET = "ZQXJVW"  # stands for decrypted content that must never be logged or recorded


def bad_summary(i: int = 0) -> dict:
    s = make_summary(i, SECRET)
    s["session"]["frames_seen"] = -5  # finding 10: a negative count was stored
    return s


def rejection_rows(path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT reason, device_id, message_id, detail FROM rejections").fetchall()
    finally:
        db.close()


@pytest.fixture
def intake(clinic, tmp_path):
    i = Intake(Store(str(tmp_path / "r.sqlite")), clinic.load_hpke_key(), clinic.registry_path)
    yield i
    i.store.close()


@pytest.mark.parametrize(
    "change, reason",
    [
        (lambda s: s["session"].update(frames_seen=-1), "schema"),
        (lambda s: s["segments"][0].update(frames_used=10**9), "schema"),
        (lambda s: s["session"].update(frames_used=s["session"]["frames_seen"] + 1), "schema"),
        (lambda s: s["session"]["rejected"].update(no_face=-3), "schema"),
        (lambda s: s["session"]["features"].update(big=10**30), "schema"),
    ],
)
def test_out_of_range_counts_are_refused(intake, clinic, change, reason):
    s = make_summary(1)
    change(s)
    _, blob = sealed(clinic, "dev-a", summary=s)
    out = intake.handle(blob, "emoface/dev-a/summary")
    assert (out.status, out.reason) == ("rejected", reason)
    assert intake.store.count() == 0


@pytest.mark.parametrize(
    "offset, ok", [(-3 * 86400, True), (3600, True), (3 * 86400, False), (-500 * 86400, False)]
)
def test_created_must_be_plausible(intake, clinic, offset, ok):
    _, blob = sealed(clinic, "dev-a", created=round(time.time() + offset, 3))
    out = intake.handle(blob, "emoface/dev-a/summary")
    assert out.status == ("stored" if ok else "rejected")
    if not ok:
        assert out.reason == "created"


def test_a_refusal_logs_and_records_no_decrypted_content(intake, clinic, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    s = make_summary(2, SECRET)
    s["session"]["code"] = SECRET + "!"
    s["session"][SECRET] = "x"
    for summary in (bad_summary(), s):
        _, blob = sealed(clinic, "dev-a", summary=summary)
        assert intake.handle(blob, "emoface/dev-a/summary").reason == "schema"
    intake.store.commit()
    rows = rejection_rows(tmp_path / "r.sqlite")
    assert len(rows) == 2 and all(r[0] == "schema" for r in rows)
    assert SECRET not in repr(rows)
    assert "schema" in caplog.text and SECRET not in caplog.text


def test_the_refusal_budget_is_per_device_and_per_window():
    now = [0.0]
    lim = RefusalLimiter(limit=3, window_s=10, clock=lambda: now[0])
    assert [lim.note("a") for _ in range(5)] == [True, True, True, False, False]
    assert lim.blocked("a") and not lim.blocked("b") and lim.note("b")
    now[0] = 10.5
    assert not lim.blocked("a") and lim.note("a")
    assert lim.suppressed_total == 2


def test_a_flood_of_junk_is_rate_limited_and_others_get_through(clinic, receiver, caplog):
    """Finding 10: every refusal added a row and a log line, and another device's summaries
    waited up to 32 s meanwhile."""
    caplog.set_level(logging.INFO)
    junk = [sealed(clinic, "dev-b", i, summary=bad_summary(i))[1] for i in range(60)]
    junk += [b"\x00junk" * 50] * 140
    good = [sealed(clinic, "dev-c", i) for i in range(20)]
    t0 = time.monotonic()
    raw_publish(device_broker(clinic, "dev-b"), "dev-b", "emoface/dev-b/summary", junk)
    raw_publish(
        device_broker(clinic, "dev-c"), "dev-c", "emoface/dev-c/summary", [b for _, b in good]
    )
    wait_for(
        lambda: stored(receiver.store_path).count() == 20, timeout=20, what="dev-c's summaries"
    )
    took = time.monotonic() - t0
    wait_for(
        lambda: sum(receiver.counters().get(k, 0) for k in ("rejected", "rate_limited")) >= 200,
        timeout=20,
        what="every junk message counted",
    )
    c = receiver.counters()
    assert c["rejected"] + c.get("rate_limited", 0) >= 200 and c.get("rate_limited", 0) > 0
    rows = rejection_rows(receiver.store_path)
    assert 0 < len([r for r in rows if r[1] == "dev-b"]) <= 20
    lines = [
        r for r in caplog.records if "dev-b" in r.getMessage() and "rejected" in r.getMessage()
    ]
    assert len(lines) <= 20
    assert took < 15, f"dev-c waited {took:.1f} s behind the flood"


def test_a_permanent_refusal_is_answered_and_the_device_stops_resending(clinic, receiver, tmp_path):
    d = make_delivery(clinic, "dev-a", tmp_path / "dev-a", validate=False, ack_timeout=1.0)
    d.start()
    try:
        bad = d.submit(bad_summary())
        good = d.submit(make_summary(7))
        wait_for(lambda: d.status()["outbox_depth"] == 0, timeout=20, what="outbox to empty")
        st = d.status()
        assert st["dead_letters"] == 1 and st["dead_lettered"] == 1
        published = st["published"]
        time.sleep(2.5)  # over two ack timeouts: a summary still queued would be resent
        assert d.status()["published"] == published
    finally:
        d.close()
    ob = Outbox(tmp_path / "dev-a" / "outbox.sqlite")
    assert [x["message_id"] for x in ob.dead_letters()] == [bad]
    assert [x["reason"] for x in ob.dead_letters()] == ["schema"]
    assert stored(receiver.store_path).message_ids() == [good]


def test_forged_acks_do_not_empty_the_outbox(clinic, live_broker, tmp_path):
    """Finding 2's consequence: forged acks emptied an outbox with no receiver running."""
    d = make_delivery(clinic, "dev-b", tmp_path / "dev-b", ack_timeout=1.0)
    d.start()
    forger = Client(receiver_broker(clinic, "two"), "forger")  # even with a receiver's TLS key
    try:
        mid = d.submit(make_summary(1))
        wait_for(lambda: d.status()["published"] >= 1, what="the publish")
        topic = "emoface/dev-b/ack"
        forgeries = [
            b'{"message_id": "%s", "status": "stored"}' % mid.encode(),
            sign_answer(Answer("dev-b", mid, STORED), Ed25519PrivateKey.generate()),
            sign_answer(Answer("dev-b", mid, "refused", "schema"), Ed25519PrivateKey.generate()),
        ]
        for f in forgeries:
            forger.client.publish(topic, f, qos=1)
        wait_for(
            lambda: (
                d.publisher.status().get("bad_answers", 0) >= 3 or d.status()["outbox_depth"] == 0
            ),
            what="the forged answers to be handled",
        )
        assert d.status()["outbox_depth"] == 1 and d.status()["dead_letters"] == 0
    finally:
        forger.close()
        d.close()
    assert Outbox(tmp_path / "dev-b" / "outbox.sqlite").message_ids() == [mid]


def test_a_registry_that_turns_bad_keeps_the_last_good_one(clinic, receiver, caplog):
    """Finding 3: an unreadable devices.json killed the receiver thread for good."""
    path = clinic.registry_path
    good = path.read_bytes()
    try:
        path.write_text('{"format": "emoface.devices/1", "devices": {"dev-a": {"oops": 1}}}')
        h, blob = sealed(clinic, "dev-a", 1)
        raw_publish(device_broker(clinic, "dev-a"), "dev-a", "emoface/dev-a/summary", [blob])
        wait_for(
            lambda: h.message_id in stored(receiver.store_path).message_ids(),
            what="a summary stored with the last good registry",
        )
        assert receiver.is_alive() and not receiver.died.is_set()
        assert "devices.dev-a" in receiver.intake.keys.error
        assert "still using the last good registry" in caplog.text
    finally:
        path.write_bytes(good)
        os.utime(path, ns=(time.time_ns(), time.time_ns()))
    h2, blob2 = sealed(clinic, "dev-a", 2)
    raw_publish(device_broker(clinic, "dev-a"), "dev-a", "emoface/dev-a/summary", [blob2])
    wait_for(
        lambda: h2.message_id in stored(receiver.store_path).message_ids(), what="after the fix"
    )
    assert receiver.intake.keys.error is None


def test_the_receiver_store_is_private(tmp_path):
    """Finding 8: a store given with --store elsewhere was created 0644."""
    os.umask(0o022)
    s = Store(str(tmp_path / "elsewhere" / "summaries.sqlite"))
    s.close()
    assert stat.S_IMODE(os.stat(tmp_path / "elsewhere" / "summaries.sqlite").st_mode) == 0o600


def test_an_offline_import_is_never_rate_limited(intake, clinic):
    from receiver.service import import_file

    blobs = [sealed(clinic, "dev-a", i, summary=bad_summary(i))[1] for i in range(30)]
    assert import_file(intake, blobs) == {"rejected:schema": 30}
    # while over MQTT the same device's 21st refusal is only counted
    outs = [intake.handle(b, "emoface/dev-a/summary").reason for b in blobs[:22]]
    assert outs[:20] == ["schema"] * 20 and outs[20:] == ["rate_limited"] * 2
