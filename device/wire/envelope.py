"""The sealed envelope: what a summary looks like on the wire (format version 1).

Layout (all integers big-endian)::

    offset  size  field
    0       4     magic b"EMFE"
    4       1     format version (1)
    5       2     header length H (1..MAX_HEADER)
    7       H     header: canonical JSON (sorted keys, no spaces, UTF-8) of
                  {"v", "device_id", "key_id", "boot_id", "seq", "message_id", "created"}
    7+H     rest  HPKE single-shot output: enc (32 bytes) || AEAD ciphertext

    HPKE suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305
    HPKE info:  b"emoface.envelope/1\\0" || header bytes      (the header is bound in)
    plaintext:  Ed25519 signature (64 bytes) || summary (canonical JSON, UTF-8)
    signed:     b"emoface.envelope/1\\0" || H (2 bytes) || header bytes || summary bytes

The header travels in clear so a receiver can route and refuse early (unknown or revoked
device) without decrypting, but any change to it makes decryption fail. The signature sits
inside the encryption so only the clinic learns which device's key signed which summary.
The whole envelope is at most MAX_ENVELOPE bytes. `open_envelope` never raises anything
but EnvelopeError on any input, with `.reason` one of REASONS.
"""

from __future__ import annotations

import json
import math
import re
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from device.errors import EmofaceError
from device.wire import json_bytes
from device.wire.topics import is_device_id

MAGIC = b"EMFE"
FORMAT_VERSION = 1
DOMAIN = b"emoface.envelope/1\x00"
MAX_HEADER = 1024
MAX_ENVELOPE = 512 * 1024
SIGNATURE_LEN = 64
ENC_LEN = 32
TAG_LEN = 16
_PREFIX = struct.Struct(">4sBH")
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
MAX_SEQ = 2**53  # exact in every JSON reader
# When a summary may say it was made, seen from the receiver's clock: it may have waited in
# an outbox or on a USB stick for a long time (the outbox refuses new sessions after 90
# days by default), but not for years, and a device clock may run a little fast (the kiosk
# checks its clock at start) but not by days. Outside the window: refused as "created".
CREATED_MAX_AGE_S = 400 * 86400.0
CREATED_MAX_AHEAD_S = 86400.0


def created_plausible(created: float, now: float) -> bool:
    """True when `created` lies within the window around `now` (both Unix seconds)."""
    return now - CREATED_MAX_AGE_S <= created <= now + CREATED_MAX_AHEAD_S


# Why an envelope was refused (the receiver adds its own: revoked, replay, schema, topic).
REASONS = (
    "too_large",  # over MAX_ENVELOPE
    "malformed",  # framing: magic, lengths, truncation
    "version",  # unknown format version
    "header",  # header not canonical JSON or a field out of range
    "unknown_device",  # lookup found no key for (device_id, key_id)
    "decrypt",  # HPKE failed: wrong clinic key, tampered ciphertext or header
    "signature",  # Ed25519 signature does not verify
    "summary",  # decrypted payload is not a JSON object with a schema_version
)


class EnvelopeError(EmofaceError):
    """An envelope that could not be sealed or opened; `.reason` is machine-readable."""

    exit_code = 5

    def __init__(self, reason: str, message: str = ""):
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


@dataclass(frozen=True)
class Header:
    """Who sent a summary, when, and its place in that device's stream.

    (device_id, boot_id, seq) is unique per summary: boot_id is fresh every time the
    delivery service starts, seq counts from 0 within it. message_id is the outbox key
    and what the receiver acknowledges.
    """

    device_id: str
    key_id: str
    boot_id: str
    seq: int
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=lambda: round(time.time(), 3))
    schema_version: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        self.check()
        return _canonical(
            {
                "v": self.schema_version,
                "device_id": self.device_id,
                "key_id": self.key_id,
                "boot_id": self.boot_id,
                "seq": self.seq,
                "message_id": self.message_id,
                "created": self.created,
            }
        )

    def check(self) -> None:
        """Raise EnvelopeError("header") unless every field is in range."""
        ok = (
            self.schema_version == FORMAT_VERSION
            and is_device_id(self.device_id)
            and isinstance(self.key_id, str)
            and _HEX16.fullmatch(self.key_id)
            and isinstance(self.boot_id, str)
            and _HEX32.fullmatch(self.boot_id)
            and isinstance(self.message_id, str)
            and _HEX32.fullmatch(self.message_id)
            and type(self.seq) is int
            and 0 <= self.seq < MAX_SEQ
            and type(self.created) in (int, float)
            and math.isfinite(self.created)
            and 0 <= self.created < 1e11
        )
        if not ok:
            raise EnvelopeError("header", f"field out of range in {self!r}")

    @classmethod
    def from_bytes(cls, data: bytes) -> Header:
        try:
            d = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise EnvelopeError("header", "not UTF-8 JSON") from exc
        keys = {"v", "device_id", "key_id", "boot_id", "seq", "message_id", "created"}
        if not isinstance(d, dict) or set(d) != keys:
            raise EnvelopeError("header", "wrong set of fields")
        if d["v"] != FORMAT_VERSION or type(d["v"]) is not int:
            raise EnvelopeError("version", f"header version {d['v']!r}")
        h = cls(
            device_id=d["device_id"],
            key_id=d["key_id"],
            boot_id=d["boot_id"],
            seq=d["seq"],
            message_id=d["message_id"],
            created=d["created"],
        )
        h.check()
        if h.to_bytes() != data:
            raise EnvelopeError("header", "not in canonical form")
        return h


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _signed_bytes(header_bytes: bytes, summary_bytes: bytes) -> bytes:
    return DOMAIN + struct.pack(">H", len(header_bytes)) + header_bytes + summary_bytes


def seal(
    summary: dict,
    header: Header,
    signing_key: Ed25519PrivateKey,
    clinic_public_key: X25519PublicKey,
) -> bytes:
    """Sign `summary` with the device key and encrypt it to the clinic, header bound in."""
    if not isinstance(summary, dict) or not isinstance(summary.get("schema_version"), str):
        raise EnvelopeError("summary", "a summary is a dict with a string schema_version")
    try:
        body = _canonical(summary)
    except (TypeError, ValueError) as exc:
        raise EnvelopeError("summary", f"not JSON-able: {exc}") from exc
    hb = header.to_bytes()
    if len(hb) > MAX_HEADER:
        raise EnvelopeError("header", "header too long")
    sig = signing_key.sign(_signed_bytes(hb, body))
    ct = SUITE.encrypt(sig + body, clinic_public_key, info=DOMAIN + hb)
    blob = _PREFIX.pack(MAGIC, FORMAT_VERSION, len(hb)) + hb + ct
    if len(blob) > MAX_ENVELOPE:
        raise EnvelopeError("too_large", f"{len(blob)} bytes > {MAX_ENVELOPE}")
    return blob


def peek_header(blob: bytes) -> tuple[Header, bytes, bytes]:
    """Parse the clear part: (header, header bytes, HPKE ciphertext). Nothing is verified."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise EnvelopeError("malformed", "not bytes")
    blob = bytes(blob)
    if len(blob) > MAX_ENVELOPE:
        raise EnvelopeError("too_large", f"{len(blob)} bytes > {MAX_ENVELOPE}")
    if len(blob) < _PREFIX.size:
        raise EnvelopeError("malformed", "shorter than the fixed prefix")
    magic, version, hlen = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise EnvelopeError("malformed", "bad magic")
    if version != FORMAT_VERSION:
        raise EnvelopeError("version", f"format version {version}")
    if not 0 < hlen <= MAX_HEADER:
        raise EnvelopeError("malformed", f"header length {hlen}")
    end = _PREFIX.size + hlen
    if len(blob) < end + ENC_LEN + TAG_LEN + SIGNATURE_LEN:
        raise EnvelopeError("malformed", "truncated")
    hb = blob[_PREFIX.size : end]
    return Header.from_bytes(hb), hb, blob[end:]


@dataclass(frozen=True)
class Opened:
    """An opened envelope: its header, the summary, and the summary exactly as signed.

    `body` is the verified plaintext the device signed (canonical JSON from an honest
    device): a receiver can store it as it came instead of encoding the summary again.
    `numbers_checked`: every number in `body` is known to be in the schema's range
    (`json_bytes.loads`), so the schema check may skip the scalars.
    """

    header: Header
    summary: dict
    body: bytes
    numbers_checked: bool = False


def open_envelope(
    blob: bytes,
    clinic_private_key: X25519PrivateKey,
    lookup_device_key: Callable[[str, str], Ed25519PublicKey | None],
) -> tuple[Header, dict]:
    """Check, decrypt and verify an envelope; return (header, summary).

    `lookup_device_key(device_id, key_id)` returns the device's public key or None when
    unknown; it may itself raise EnvelopeError (e.g. reason "revoked").
    """
    opened = open_sealed(blob, clinic_private_key, lookup_device_key)
    return opened.header, opened.summary


def open_sealed(
    blob: bytes,
    clinic_private_key: X25519PrivateKey,
    lookup_device_key: Callable[[str, str], Ed25519PublicKey | None],
) -> Opened:
    """`open_envelope` that also hands back the signed summary bytes (the receiver's path:
    one JSON parse per message, and the store writes the bytes the signature covers)."""
    header, hb, ct = peek_header(blob)
    pub = lookup_device_key(header.device_id, header.key_id)
    if pub is None:
        raise EnvelopeError("unknown_device", f"{header.device_id} key {header.key_id}")
    try:
        plain = SUITE.decrypt(ct, clinic_private_key, info=DOMAIN + hb)
    except Exception as exc:  # any failure of HPKE (InvalidTag, ValueError...) is a refusal
        raise EnvelopeError("decrypt", "HPKE open failed") from exc
    if len(plain) < SIGNATURE_LEN:
        raise EnvelopeError("signature", "no signature")
    sig, body = plain[:SIGNATURE_LEN], plain[SIGNATURE_LEN:]
    try:
        pub.verify(sig, _signed_bytes(hb, body))
    except InvalidSignature as exc:
        raise EnvelopeError("signature", f"bad signature from {header.device_id}") from exc
    try:
        summary, in_range = json_bytes.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EnvelopeError("summary", "payload is not UTF-8 JSON") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("schema_version"), str):
        raise EnvelopeError("summary", "payload is not an object with a schema_version")
    return Opened(header, summary, body, in_range)
