"""What the receiver answers a device: signed acks, and signed refusals for good.

The message format is device/wire/ack.py; this module decides what to say and signs it
with the clinic's ack-signing key (CLINIC/receiver/ack_signing.key, found next to the
registry unless given). Only permanent refusals are answered, and only to the device
whose topic the message came on (so a device can never make the receiver refuse another
device's summary); an offline import answers nobody. Without the key (an old clinic
folder) acks go out unsigned and refusals are not sent: devices keep resending.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.delivery.keys import load_private_key
from device.wire.ack import PERMANENT_REASONS, REFUSED, STORED, Answer, sign_answer
from device.wire.envelope import EnvelopeError, peek_header
from device.wire.topics import ACK, SUMMARY

log = logging.getLogger(__name__)


# A refusal's detail may be logged and stored; it must carry no decrypted content. What is
# kept: the leading "where" of a schema message (summary.segments[2].frames_seen: ...) and
# fixed words; anything quoted, any number beyond small indices, is cut.
_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\"|\{.*\}|\[.*?\])")
MAX_DETAIL = 200


def content_free(detail: str) -> str:
    """`detail` with quoted values and bracketed data removed, and cut short."""
    text = _QUOTED.sub(
        lambda m: m.group(0) if re.fullmatch(r"\[\d+\]", m.group(0)) else "…", detail
    )
    return text[:MAX_DETAIL]


def clinic_ack_key(registry_path: Path) -> Ed25519PrivateKey | None:
    """The ack-signing key of the clinic whose registry is `registry_path`, if it has one."""
    path = Path(registry_path).parent / "receiver" / "ack_signing.key"
    if not path.exists():
        log.warning("%s missing: acks go out unsigned and refusals are not sent", path)
        return None
    return load_private_key(path, Ed25519PrivateKey)


class Answers:
    """Builds (topic, payload) pairs for the receiver to publish after its commit."""

    def __init__(self, key: Ed25519PrivateKey | None):
        self.key = key

    def stored(self, device_id: str, message_id: str) -> tuple[str, bytes]:
        a = Answer(device_id, message_id, STORED)
        if self.key is None:
            return ACK.for_device(device_id), json.dumps(
                {"message_id": message_id, "status": STORED}
            ).encode()
        return ACK.for_device(device_id), sign_answer(a, self.key)

    def refusal(
        self, reason: str | None, header, payload: bytes, topic: str | None
    ) -> tuple[str, bytes] | None:
        """A signed refusal for a permanently refused message, or None (transient reason,
        no key, offline import, or no message id to name)."""
        if self.key is None or topic is None or reason not in PERMANENT_REASONS:
            return None
        device = SUMMARY.device_of(topic)
        if device is None:
            return None
        message_id = header.message_id if header is not None else None
        if message_id is None:
            try:
                h = peek_header(payload)[0]
            except EnvelopeError:
                return None  # no readable header: nothing the device could match
            message_id = h.message_id
        a = Answer(device, message_id, REFUSED, reason)
        return ACK.for_device(device), sign_answer(a, self.key)
