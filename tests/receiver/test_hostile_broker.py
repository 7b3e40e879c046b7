"""An enrolled but hostile device against the real broker config (mosquitto 2.0, the
dynamic-security access file written by `provision broker-config`): it cannot join the
receivers' shared subscription, cannot be enrolled under a receiver's name, cannot knock
another device off by borrowing its client id, and cannot leave a retained summary."""

from __future__ import annotations

import time

import pytest

from device.errors import InputError
from provisioning.broker import access_rules
from provisioning.clinic import enroll, init_clinic
from provisioning.registry import Registry
from tests.support.delivery_helpers import (
    device_broker,
    raw_publish,
    receiver_broker,
    stored,
    wait_for,
)
from tests.support.hostile import NOT_AUTHORIZED, Client, sealed


def test_a_device_cannot_join_the_receivers_shared_subscription(clinic, receiver):
    """Finding 1: a member of the receivers' group took its round-robin share of every
    device's summaries and the broker dropped them on the read ACL, PUBACK success."""
    thief = Client(device_broker(clinic, "dev-b"), "dev-b")
    try:
        for topic in (
            "$share/test/emoface/+/summary",
            "$share/emoface-receivers/emoface/+/summary",
        ):
            rcs = thief.subscribe(topic)
            assert rcs[0].is_failure and rcs[0].value == NOT_AUTHORIZED, (topic, rcs)
        blobs = [sealed(clinic, "dev-a", i)[1] for i in range(20)]
        rcs = raw_publish(device_broker(clinic, "dev-a"), "dev-a", "emoface/dev-a/summary", blobs)
        assert not any(rc.is_failure for rc in rcs)
        wait_for(
            lambda: stored(receiver.store_path).count() == 20,
            timeout=15,
            what="all 20 summaries at the receiver",
        )
        assert thief.messages == []
    finally:
        thief.close()


def test_a_device_subscribes_to_nothing_but_its_own_ack_topic(clinic, live_broker):
    d = Client(device_broker(clinic, "dev-c"), "dev-c")
    try:
        assert not d.subscribe("emoface/dev-c/ack")[0].is_failure
        for topic in (
            "emoface/+/summary",
            "emoface/dev-a/ack",
            "emoface/#",
            "#",
            "$SYS/#",
            "$CONTROL/dynamic-security/v1/response",
        ):
            assert d.subscribe(topic)[0].value == NOT_AUTHORIZED, topic
    finally:
        d.close()


def test_the_receivers_name_cannot_be_enrolled_as_a_device(tmp_path):
    """Finding 2: `enroll emoface-receiver` succeeded and that certificate could read every
    summary and write every ack."""
    c = init_clinic(tmp_path / "clinic", "T", "127.0.0.1", 8883)
    for name in ("emoface-receiver", "emoface-receiver-2", "emoface-receiver-x"):
        with pytest.raises(InputError, match="reserved"):
            enroll(c, name)
    assert c.registry().devices == {}
    # a registry edited by hand (or written before the rule) is refused, not turned into access
    reg = Registry.load(c.registry_path)
    reg.add("emoface-receiver", "0" * 16, "pem", 1)
    reg.save()
    with pytest.raises(InputError, match="reserved name"):
        access_rules(c)


def test_a_device_cannot_publish_acks(clinic, live_broker):
    """The other half of finding 2: a forged ack on another device's ack topic."""
    for topic in ("emoface/dev-a/ack", "emoface/dev-b/ack"):
        rcs = raw_publish(device_broker(clinic, "dev-b"), "dev-b", topic, [b'{"message_id":"x"}'])
        assert rcs[0].value == NOT_AUTHORIZED, topic


def test_a_client_id_is_bound_to_its_certificate(clinic, live_broker):
    """Finding 6: dev-b connecting with client id `dev-a` disconnected dev-a, again and again."""
    victim = Client(device_broker(clinic, "dev-a"), "dev-a")
    try:
        impostors = [Client(device_broker(clinic, "dev-b"), "dev-a") for _ in range(3)]
        time.sleep(1.0)
        for imp in impostors:
            imp.close()
        assert victim.disconnects() == 0, victim.events
        assert victim.client.is_connected()
    finally:
        victim.close()


def test_retained_summaries_are_refused_and_never_replayed(clinic, live_broker):
    """Finding 7: a retained publish on a summary topic was kept and replayed to every
    receiver that subscribed later."""
    _, blob = sealed(clinic, "dev-a", 1)
    pub = Client(device_broker(clinic, "dev-a"), "dev-a")
    try:
        pub.client.publish("emoface/dev-a/summary", blob, qos=1, retain=True)
        wait_for(lambda: pub.disconnects() or pub.puback, timeout=5, what="the broker's answer")
        refused = [e for e in pub.events if e[0] == "disconnect" and e[1].is_failure]
        assert refused or any(rc.is_failure for rc in pub.puback.values()), pub.events
    finally:
        pub.close()
    late = Client(receiver_broker(clinic, "two"), "late-receiver")
    try:
        assert not late.subscribe("emoface/+/summary")[0].is_failure
        time.sleep(0.5)
        assert late.messages == []
    finally:
        late.close()
