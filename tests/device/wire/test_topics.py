"""The one device-id rule and the one topic table: what they accept, what they refuse, and
that the publisher, the receiver, the envelope, the registry and the broker ACL all use them."""

from __future__ import annotations

import pytest

from device.delivery.publisher import Publisher
from device.errors import InputError
from device.wire.envelope import EnvelopeError, Header
from device.wire.topics import (
    ACK,
    DEVICE_ID_RE,
    RECEIVER_GROUP,
    SUMMARY,
    TOPICS,
    is_device_id,
    shared_subscription,
)
from provisioning.broker import RECEIVE, SEND, SUB, access_rules
from provisioning.clinic import RECEIVER_IDENTITY, enroll, init_clinic, revoke
from provisioning.registry import check_device_id
from receiver.service import ReceiverService

GOOD_IDS = ["a", "0", "kiosk-017", "dev-a", "9-lives", "a-", "a" * 63, "a--b"]
BAD_IDS = [
    "",
    "-a",
    "Kiosk",
    "kiosk_1",
    "kiosk.1",
    "kiosk 1",
    "a" * 64,
    "+",
    "#",
    "a/b",
    "dev+",
    "dev#",
    "dev/",
    "kiosk-1\n",
    "ké",
    None,
    17,
    b"dev-a",
]


@pytest.mark.parametrize("device_id", GOOD_IDS)
def test_the_rule_accepts_lower_case_digits_and_dashes(device_id):
    assert is_device_id(device_id)
    assert DEVICE_ID_RE.fullmatch(device_id)
    assert check_device_id(device_id) == device_id
    assert SUMMARY.device_of(SUMMARY.for_device(device_id)) == device_id
    assert ACK.device_of(ACK.for_device(device_id)) == device_id


@pytest.mark.parametrize("device_id", BAD_IDS)
def test_the_rule_refuses_everything_else_everywhere(device_id):
    assert not is_device_id(device_id)
    for topic in TOPICS.values():
        with pytest.raises(ValueError, match="device id"):
            topic.for_device(device_id)
    with pytest.raises(InputError):
        check_device_id(device_id)
    header = Header(device_id, "0" * 16, "0" * 32, 0, message_id="0" * 32, created=1.0)
    with pytest.raises(EnvelopeError) as exc:
        header.to_bytes()
    assert exc.value.reason == "header"


def test_the_topic_table():
    assert TOPICS == {"summary": SUMMARY, "ack": ACK}
    assert SUMMARY.for_device("kiosk-017") == "emoface/kiosk-017/summary"
    assert ACK.for_device("kiosk-017") == "emoface/kiosk-017/ack"
    assert SUMMARY.wildcard == "emoface/+/summary"
    assert ACK.wildcard == "emoface/+/ack"
    assert shared_subscription(SUMMARY) == f"$share/{RECEIVER_GROUP}/emoface/+/summary"
    assert shared_subscription(SUMMARY, "g2") == "$share/g2/emoface/+/summary"


@pytest.mark.parametrize(
    "topic",
    [
        "emoface/+/summary",
        "emoface/#",
        "emoface/#/summary",
        "emoface/dev-a/ack",  # another kind of topic
        "emoface/dev-a/summary/x",
        "emoface/dev-a/summary/",
        "/emoface/dev-a/summary",
        "emoface//summary",
        "emoface/a/b/summary",
        "emoface/Dev-a/summary",
        "emoface/-dev/summary",
        f"emoface/{'a' * 64}/summary",
        "EMOFACE/dev-a/summary",
        "other/dev-a/summary",
        "$share/emoface-receivers/emoface/dev-a/summary",
        "emoface/dev-a/summary\n",
        "emoface/dev-a/summarx",
        "",
    ],
)
def test_device_of_refuses_foreign_and_malformed_topics(topic):
    assert SUMMARY.device_of(topic) is None


def test_device_of_parses_its_own_kind_only():
    assert SUMMARY.device_of("emoface/dev-a/summary") == "dev-a"
    assert SUMMARY.device_of(f"emoface/{'a' * 63}/summary") == "a" * 63
    assert ACK.device_of("emoface/dev-a/ack") == "dev-a"
    assert ACK.device_of("emoface/dev-a/summary") is None


def test_the_access_rules_use_exactly_the_topic_table(tmp_path):
    clinic = init_clinic(tmp_path / "clinic", "T", "127.0.0.1", 8883)
    for d in ("kiosk-1", "kiosk-2", "gone"):
        enroll(clinic, d)
    revoke(clinic, "gone")
    receiver = [
        (SUB, f"$share/+/{SUMMARY.wildcard}"),
        (SUB, SUMMARY.wildcard),
        (RECEIVE, SUMMARY.wildcard),
        (SEND, ACK.wildcard),
    ]

    def device(d):
        return [
            (SEND, SUMMARY.for_device(d)),
            (SUB, ACK.for_device(d)),
            (RECEIVE, ACK.for_device(d)),
        ]

    assert access_rules(clinic) == {
        RECEIVER_IDENTITY: receiver,
        "kiosk-1": device("kiosk-1"),
        "kiosk-2": device("kiosk-2"),
    }


def test_publisher_and_receiver_subscribe_through_the_table(tmp_path):
    from device.delivery.mqtt_loop import BrokerSettings

    broker = BrokerSettings("mqtt://127.0.0.1:1")
    pub = Publisher("kiosk-1", tmp_path / "o.sqlite", broker)
    assert pub.subscription == ACK.for_device("kiosk-1")
    assert ReceiverService(broker, dict).subscription == shared_subscription(SUMMARY)
    assert ReceiverService(broker, dict, group="g").subscription == shared_subscription(
        SUMMARY, "g"
    )
