"""End to end over a real mosquitto (TLS, client certificates, ACL): broker restarts,
an outage, topic isolation, every kind of bad message, offline export, shared load."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import Counter

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from device.delivery.keys import key_id, load_private_key, load_public_key
from device.delivery.outbox import Outbox
from device.wire.envelope import MAX_ENVELOPE, Header, peek_header, seal
from provisioning.clinic import enroll, revoke
from receiver.service import Intake, ReceiverService, import_file
from receiver.store import Store
from tests.support.delivery_helpers import (
    Listener,
    device_broker,
    make_delivery,
    make_summary,
    raw_publish,
    receiver_broker,
    stored,
    wait_for,
)

pytestmark = pytest.mark.broker

NOT_AUTHORIZED = 0x87


def device_keys(clinic, device_id):
    b = clinic.bundle_dir(device_id)
    sk = load_private_key(b / "signing.key")
    return sk, load_public_key(b / "clinic_hpke.pub", X25519PublicKey)


def sealed(clinic, device_id, i=0, seq=None, boot=None, summary=None, signing_key=None):
    sk, ck = device_keys(clinic, device_id)
    sk = signing_key or sk
    h = Header(device_id, key_id(sk.public_key()), boot or uuid.uuid4().hex, seq or 0)
    return h, seal(summary or make_summary(i, "raw"), h, sk, ck)


def test_1000_summaries_from_3_devices_survive_two_broker_restarts(
    clinic, live_broker, receiver, tmp_path
):
    devices = {d: make_delivery(clinic, d, tmp_path / d) for d in ("dev-a", "dev-b", "dev-c")}
    for d in devices.values():
        d.start()
    submitted: dict[str, list[str]] = {d: [] for d in devices}
    counts = {"dev-a": 334, "dev-b": 333, "dev-c": 333}
    progress = Counter()

    def produce(name):
        for i in range(counts[name]):
            submitted[name].append(devices[name].submit(make_summary(i, name)))
            progress["n"] += 1
            time.sleep(0.004)

    threads = [threading.Thread(target=produce, args=(n,)) for n in devices]
    for t in threads:
        t.start()
    wait_for(lambda: progress["n"] >= 300, what="300 submissions")
    live_broker.restart()
    wait_for(lambda: progress["n"] >= 650, what="650 submissions")
    live_broker.restart()
    for t in threads:
        t.join()
    try:
        wait_for(
            lambda: all(d.status()["outbox_depth"] == 0 for d in devices.values()),
            timeout=90,
            what="every outbox to drain",
        )
    finally:
        for d in devices.values():
            d.close()
    store = stored(receiver.store_path)
    all_ids = [m for ids in submitted.values() for m in ids]
    assert len(all_ids) == len(set(all_ids)) == 1000
    assert store.count() == 1000
    assert sorted(store.message_ids()) == sorted(all_ids)
    assert store.device_counts() == counts
    # exactly once by content too: every (device, i) appears once
    seen = Counter()
    for m in all_ids:
        f = store.get(m)["summary"]["session"]["features"]
        seen[(f["tag"], f["i"])] += 1
    assert len(seen) == 1000 and set(seen.values()) == {1}
    assert receiver.counters()["stored"] == 1000


def test_50_sessions_wait_out_a_whole_outage(clinic, live_broker, receiver, tmp_path):
    live_broker.stop()
    d = make_delivery(clinic, "dev-b", tmp_path / "dev-b")
    d.start()
    try:
        ids = [d.submit(make_summary(i, "outage")) for i in range(50)]
        time.sleep(1.0)
        st = d.status()
        assert st["outbox_depth"] == 50 and not st["connected"] and st["can_accept"]
        live_broker.start()
        wait_for(lambda: d.status()["outbox_depth"] == 0, timeout=60, what="outbox to drain")
        assert d.status()["connected"]
    finally:
        d.close()
    assert sorted(stored(receiver.store_path).message_ids()) == sorted(ids)


def test_a_device_cannot_publish_or_listen_on_another_devices_topics(clinic, receiver):
    a = device_broker(clinic, "dev-a")
    _, blob = sealed(clinic, "dev-a")
    rcs = raw_publish(a, "dev-a-evil", "emoface/dev-b/summary", [blob])
    assert rcs[0].value == NOT_AUTHORIZED and rcs[0].is_failure
    time.sleep(0.5)
    assert stored(receiver.store_path).count() == 0
    assert receiver.counters().get("stored", 0) == 0
    # eavesdropping: dev-a subscribes to dev-b's acks and to every summary; dev-b to its acks
    evil = Listener(a, "dev-a-evil", ["emoface/dev-b/ack", "emoface/+/summary", "emoface/#"])
    own = Listener(device_broker(clinic, "dev-b"), "dev-b-listen", ["emoface/dev-b/ack"])
    try:
        h, blob_b = sealed(clinic, "dev-b", 1)
        # on the listener's own connection: a second one with dev-b's certificate would
        # take over its client id (the broker binds client ids to certificates)
        own.client.publish("emoface/dev-b/summary", blob_b, qos=1)
        wait_for(lambda: own.messages, what="dev-b's ack")
        time.sleep(0.3)
    finally:
        evil.close()
        own.close()
    assert own.messages[0][0] == "emoface/dev-b/ack"
    assert h.message_id.encode() in own.messages[0][1]
    assert evil.messages == []


def test_bad_messages_are_rejected_with_their_reason_and_the_receiver_keeps_running(
    clinic, live_broker, receiver
):
    a = device_broker(clinic, "dev-a")
    topic = "emoface/dev-a/summary"
    good_h, good = sealed(clinic, "dev-a", 1)
    hb = good_h.to_bytes()

    flipped = bytearray(good)
    flipped[-3] ^= 0x40
    forged_header = good.replace(hb, dataclasses.replace(good_h, seq=9).to_bytes())
    _, same_seq = sealed(clinic, "dev-a", 2, seq=good_h.seq, boot=good_h.boot_id)
    _, unknown_key = sealed(clinic, "dev-a", 3, signing_key=Ed25519PrivateKey.generate())
    bad_schema = make_summary(4, "raw")
    del bad_schema["segments"]
    _, schema = sealed(clinic, "dev-a", summary=bad_schema)
    _, other_device = sealed(clinic, "dev-b", 5)  # dev-b's envelope carried on dev-a's topic
    oversized = good[: 7 + len(hb)] + b"\0" * (MAX_ENVELOPE + 10 - 7 - len(hb))

    cases = [
        (good, None),
        (bytes(flipped), "decrypt"),
        (forged_header, "decrypt"),
        (good, "replay"),  # the same envelope again
        (same_seq, "replay"),  # another message reusing (device, boot, seq)
        (unknown_key, "unknown_device"),
        (schema, "schema"),
        (other_device, "topic_mismatch"),
        (b"\x00\x01random bytes" * 7, "malformed"),
        (oversized, "too_large"),
    ]
    rcs = raw_publish(a, "dev-a-raw", topic, [p for p, _ in cases])
    assert all(not rc.is_failure for rc in rcs)
    expected = Counter(r for _, r in cases if r)
    wait_for(
        lambda: all(receiver.counters().get(r, 0) >= n for r, n in expected.items()),
        what=f"rejections {dict(expected)}",
    )
    c = receiver.counters()
    assert {r: c.get(r, 0) for r in expected} == dict(expected)
    store = stored(receiver.store_path)
    assert store.message_ids() == [good_h.message_id]
    assert store.rejection_counts() == {r: n for r, n in expected.items() if r != "replay"} | {
        "replay": 1
    }

    # a revoked device: enrolled, heard, revoked (receiver refuses), then the broker too
    enroll(clinic, "dev-r")
    live_broker.rewrite_config()
    live_broker.restart()  # the access file is read at start
    wait_for(lambda: receiver.ready.is_set(), what="receiver to reconnect")
    r = device_broker(clinic, "dev-r")
    h1, before = sealed(clinic, "dev-r", 6)
    assert not raw_publish(r, "dev-r-raw", "emoface/dev-r/summary", [before])[0].is_failure
    wait_for(lambda: receiver.counters().get("stored", 0) == 2, what="dev-r's first summary")
    revoke(clinic, "dev-r")
    _, after = sealed(clinic, "dev-r", 7)
    assert not raw_publish(r, "dev-r-raw", "emoface/dev-r/summary", [after])[0].is_failure
    wait_for(lambda: receiver.counters().get("revoked", 0) == 1, what="revoked rejection")
    live_broker.rewrite_config()
    live_broker.restart()  # the CRL is read at start; the ACL also on SIGHUP
    with pytest.raises((AssertionError, OSError)):
        raw_publish(r, "dev-r-raw", "emoface/dev-r/summary", [after], connect_timeout=2)

    # still running: a fresh good message is stored
    h2, good2 = sealed(clinic, "dev-a", 8)
    wait_for(lambda: receiver.ready.is_set(), what="receiver to reconnect")
    raw_publish(a, "dev-a-raw", topic, [good2])
    wait_for(lambda: h2.message_id in stored(receiver.store_path).message_ids(), what="good2")
    assert h1.message_id in stored(receiver.store_path).message_ids()


def test_offline_export_goes_through_the_same_checks(clinic, tmp_path):
    d = make_delivery(clinic, "dev-c", tmp_path / "dev-c")
    d.publisher = None  # an offline clinic: outbox only
    ids = [d.submit(make_summary(i, "usb")) for i in range(5)]
    ob = Outbox(tmp_path / "dev-c" / "outbox.sqlite")
    blobs = [ob.get(m) for m in ids]
    from device.delivery.outbox import read_export

    n = ob.export(tmp_path / "usb" / "export.json", remove=True)
    assert n == 5 and ob.depth() == 0
    intake = Intake(
        Store(str(tmp_path / "clinic.sqlite")), clinic.load_hpke_key(), clinic.registry_path
    )
    exported = read_export(tmp_path / "usb" / "export.json")
    assert exported == blobs
    tampered = bytearray(exported[0])
    tampered[-1] ^= 1
    res = import_file(intake, [*exported, bytes(tampered)])
    assert res == Counter({"stored": 5, "rejected:decrypt": 1})
    res = import_file(intake, exported)  # imported twice: nothing stored twice
    assert res == Counter({"duplicate": 5})
    assert sorted(intake.store.message_ids()) == sorted(ids)
    assert peek_header(exported[0])[0].device_id == "dev-c"


def test_two_receivers_split_the_load(clinic, live_broker, receiver, tmp_path):
    key = clinic.load_hpke_key()
    second = ReceiverService(
        receiver_broker(clinic, "two"),
        lambda: Intake(Store(str(tmp_path / "second.sqlite")), key, clinic.registry_path),
        group="test",
    ).start()
    assert second.ready.wait(10)
    d = make_delivery(clinic, "dev-c", tmp_path / "dev-c")
    d.start()
    try:
        ids = [d.submit(make_summary(i, "split")) for i in range(60)]
        wait_for(lambda: d.status()["outbox_depth"] == 0, what="outbox to drain")
    finally:
        d.close()
        second.stop()
    one = set(stored(receiver.store_path).message_ids())
    two = set(stored(tmp_path / "second.sqlite").message_ids())
    assert one | two == set(ids)
    assert one and two, "the shared subscription should give each receiver a share"


def test_a_refused_publish_is_an_error_and_the_summary_stays(clinic, receiver, tmp_path):
    # a mis-configured bundle: dev-a's certificate, but the device id (topic) of dev-b
    from device.delivery.service import Delivery

    sk, ck = device_keys(clinic, "dev-a")
    d = Delivery(
        "dev-b",
        tmp_path / "o.sqlite",
        sk,
        ck,
        broker=device_broker(clinic, "dev-a"),
        ack_timeout=3.0,
    )
    d.start()
    try:
        mid = d.submit(make_summary(0, "refused"))
        # the broker refuses already the subscription to dev-b's acks (and would refuse
        # the publish on dev-b's topic)
        wait_for(
            lambda: "Not authorized" in (d.status()["last_error"] or ""),
            what="the broker's refusal",
        )
        st = d.status()
        assert st["published"] == 0 and st["acked"] == 0
        assert "Not authorized" in st["last_error"]
        assert st["outbox_depth"] == 1
    finally:
        d.close()
    assert Outbox(tmp_path / "o.sqlite").message_ids() == [mid]
    assert stored(receiver.store_path).count() == 0
