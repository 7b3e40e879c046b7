"""The receiver's answer to a device: an acknowledgement or a refusal, signed by the clinic.

Published on `emoface/<device-id>/ack` (QoS 1) as canonical JSON (sorted keys, no spaces)::

    {"v": 1, "device_id": "<id>", "message_id": "<32 hex>", "status": "stored",
     "reason": null, "sig": "<base64 Ed25519 signature>"}

- `status` "stored": the summary is committed at the clinic (first time or again); the
  device removes it from its outbox.
- `status` "refused": the receiver refused it for a permanent reason (`reason` is one of
  PERMANENT_REASONS); resending cannot help, so the device moves it to its dead-letter
  table, keeps it there (exportable) and stops resending it. A transient failure (store
  down, registry unreadable, rate limit) gets no answer at all: the device keeps retrying.
- `sig` signs ``b"emoface.ack/1\\0"`` + the canonical JSON of every other field, with the
  clinic's ack-signing key (CLINIC/receiver/ack_signing.key); each device bundle pins its
  public half (`delivery.ack_public_key`). The device id is signed too, so an answer meant
  for one device is worthless on another's topic.

A device that pins the key acts only on answers that verify: a forged "stored" cannot
empty its outbox, a forged "refused" cannot bury a summary. A device without the key
(a bundle enrolled before acks were signed) accepts an unsigned "stored", as before, and
ignores every refusal. `parse_answer` never raises anything but AckError.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from device.errors import EmofaceError
from device.wire.topics import is_device_id

FORMAT_VERSION = 1
DOMAIN = b"emoface.ack/1\x00"
MAX_ANSWER = 1024  # bytes; anything longer on an ack topic is not an answer
STORED, REFUSED = "stored", "refused"
# the receiver's refusal reasons that no resend can cure (docs/delivery.md lists them all)
PERMANENT_REASONS = frozenset(
    {
        "too_large",
        "malformed",
        "version",
        "header",
        "decrypt",
        "signature",
        "summary",
        "topic_mismatch",
        "schema",
        "replay",
        "revoked",
        "created",
    }
)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_FIELDS = {"v", "device_id", "message_id", "status", "reason", "sig"}


class AckError(EmofaceError):
    """Something on an ack topic that is not a valid answer for this device."""

    exit_code = 5


@dataclass(frozen=True)
class Answer:
    device_id: str
    message_id: str
    status: str  # STORED or REFUSED
    reason: str | None = None  # a refusal's reason
    signed: bool = False  # set by parse_answer when the signature verified

    def check(self) -> None:
        if not is_device_id(self.device_id):
            raise AckError("answer: bad device_id")
        if not isinstance(self.message_id, str) or not _HEX32.fullmatch(self.message_id):
            raise AckError("answer: bad message_id")
        if self.status == STORED and self.reason is not None:
            raise AckError("answer: a 'stored' answer has no reason")
        if self.status == REFUSED and self.reason not in PERMANENT_REASONS:
            raise AckError("answer: a refusal needs a permanent reason")
        if self.status not in (STORED, REFUSED):
            raise AckError("answer: unknown status")

    def _body(self) -> dict:
        return {
            "v": FORMAT_VERSION,
            "device_id": self.device_id,
            "message_id": self.message_id,
            "status": self.status,
            "reason": self.reason,
        }


def _canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_answer(answer: Answer, key: Ed25519PrivateKey) -> bytes:
    """The payload to publish on the device's ack topic."""
    answer.check()
    body = answer._body()
    sig = key.sign(DOMAIN + _canonical(body))
    return _canonical({**body, "sig": base64.b64encode(sig).decode("ascii")})


def parse_answer(payload: bytes, device_id: str, key: Ed25519PublicKey | None) -> Answer:
    """Check an answer received on `device_id`'s ack topic. With `key` the signature must
    verify; without it only an unsigned-or-signed "stored" is accepted (legacy bundles)."""
    if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_ANSWER:
        raise AckError("answer: not bytes or too long")
    try:
        doc = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AckError("answer: not UTF-8 JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("message_id"), str):
        raise AckError("answer: not an object with a message_id")
    if key is None and set(doc) <= {"message_id", "status"} and doc.get("status") == STORED:
        a = Answer(device_id, doc["message_id"], STORED)  # the unsigned form of older receivers
        a.check()
        return a
    if set(doc) != _FIELDS or doc["v"] != FORMAT_VERSION or type(doc["v"]) is not int:
        raise AckError("answer: wrong set of fields or version")
    a = Answer(doc["device_id"], doc["message_id"], doc["status"], doc["reason"])
    a.check()
    if a.device_id != device_id:
        raise AckError(f"answer: meant for {a.device_id}, not {device_id}")
    if key is None:
        if a.status != STORED:
            raise AckError("answer: a refusal is acted on only when signed and verified")
        return a
    try:
        sig = base64.b64decode(doc["sig"], validate=True) if isinstance(doc["sig"], str) else b""
        key.verify(sig, DOMAIN + _canonical(a._body()))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise AckError("answer: signature does not verify") from exc
    return Answer(a.device_id, a.message_id, a.status, a.reason, signed=True)
