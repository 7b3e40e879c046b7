"""Device identity and MQTT topic names: the one place both are defined.

The device id is part of every topic, of the envelope header, of the broker ACL and of the
receiver's registry, so its rule lives here once. Topics are built and parsed only through
`TOPICS`, so the publisher, the receiver and the broker ACL template can never drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# lower-case letters, digits and '-', starting with a letter or digit, 1-63 characters:
# safe in an MQTT topic level, a TLS common name, a file name and a systemd unit name.
DEVICE_ID_PATTERN = r"[a-z0-9][a-z0-9-]{0,62}"
DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)
DEVICE_ID_RULE = "lower-case letters, digits and '-', 1-63 characters, not starting with '-'"

ROOT = "emoface"
RECEIVER_GROUP = "emoface-receivers"  # the receivers' shared-subscription group
# The receivers' certificate names: `emoface-receiver` and `emoface-receiver-<name>`. They
# fit the device-id rule, so they are reserved: no device may be enrolled under one, or its
# certificate would read every summary and write every ack.
RECEIVER_IDENTITY = "emoface-receiver"


def is_device_id(value: object) -> bool:
    return isinstance(value, str) and DEVICE_ID_RE.fullmatch(value) is not None


def is_receiver_identity(value: object) -> bool:
    """True for the receiver's name and every `emoface-receiver-...` name."""
    return isinstance(value, str) and (
        value == RECEIVER_IDENTITY or value.startswith(f"{RECEIVER_IDENTITY}-")
    )


@dataclass(frozen=True)
class Topic:
    """One per-device topic: `emoface/<device-id>/<leaf>`."""

    leaf: str

    def for_device(self, device_id: str) -> str:
        if not is_device_id(device_id):
            raise ValueError(f"device id {device_id!r}: {DEVICE_ID_RULE}")
        return f"{ROOT}/{device_id}/{self.leaf}"

    @property
    def wildcard(self) -> str:
        """Every device's topic of this kind (`emoface/+/<leaf>`), for the receiver and ACL."""
        return f"{ROOT}/+/{self.leaf}"

    def device_of(self, topic: str) -> str | None:
        """The device id in a topic of this kind, or None when it is not one."""
        m = re.fullmatch(rf"{ROOT}/({DEVICE_ID_PATTERN})/{re.escape(self.leaf)}", topic)
        return m.group(1) if m else None


SUMMARY = Topic("summary")  # device -> clinic: sealed envelopes (QoS 1)
ACK = Topic("ack")  # clinic -> device: {"message_id": ...} once stored

TOPICS = {"summary": SUMMARY, "ack": ACK}


def shared_subscription(topic: Topic, group: str = RECEIVER_GROUP) -> str:
    """`$share/<group>/emoface/+/<leaf>`: several receivers split one stream."""
    return f"$share/{group}/{topic.wildcard}"
