"""The envelope: round trip, every tampering refused with its reason, and property tests
that the parser only ever raises EnvelopeError, whatever the bytes."""

from __future__ import annotations

import dataclasses
import json
import struct
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from device.delivery.keys import key_id
from device.wire.envelope import (
    MAX_ENVELOPE,
    MAX_SEQ,
    EnvelopeError,
    Header,
    open_envelope,
    peek_header,
    seal,
)
from tests.support.delivery_helpers import make_summary

SK = Ed25519PrivateKey.generate()
CK = X25519PrivateKey.generate()
KID = key_id(SK.public_key())


def header(seq: int = 0, device: str = "dev-a") -> Header:
    return Header(device, KID, uuid.uuid4().hex, seq)


def lookup(device_id: str, kid: str):
    return SK.public_key() if (device_id, kid) == ("dev-a", KID) else None


def reason(blob, clinic_key=CK, lk=lookup) -> str:
    with pytest.raises(EnvelopeError) as ei:
        open_envelope(blob, clinic_key, lk)
    return ei.value.reason


GOOD_HEADER = header(7)
GOOD = seal(make_summary(1), GOOD_HEADER, SK, CK.public_key())


def test_round_trip_returns_header_and_summary():
    h, s = open_envelope(GOOD, CK, lookup)
    assert h == GOOD_HEADER
    assert s == make_summary(1)
    assert GOOD[:4] == b"EMFE" and GOOD[4] == 1


def test_header_is_readable_in_clear_but_summary_is_not():
    h, _, _ = peek_header(GOOD)
    assert h.device_id == "dev-a" and h.seq == 7
    assert b"blink_rate" not in GOOD  # the summary is encrypted


def test_tampered_ciphertext_is_refused():
    b = bytearray(GOOD)
    b[-5] ^= 0x01
    assert reason(bytes(b)) == "decrypt"


def test_tampered_header_is_refused():
    # same length, still canonical JSON, another sequence number: HPKE info no longer matches
    hb = GOOD_HEADER.to_bytes()
    forged = dataclasses.replace(GOOD_HEADER, seq=8).to_bytes()
    assert len(forged) == len(hb)
    blob = GOOD.replace(hb, forged)
    assert reason(blob) == "decrypt"


def test_non_canonical_header_is_refused():
    hb = GOOD_HEADER.to_bytes()
    spaced = json.dumps(json.loads(hb), sort_keys=True).encode()
    blob = GOOD[:5] + struct.pack(">H", len(spaced)) + spaced + GOOD[7 + len(hb) :]
    assert reason(blob) == "header"


def test_wrong_clinic_key_is_refused():
    assert reason(GOOD, clinic_key=X25519PrivateKey.generate()) == "decrypt"


def test_unknown_device_is_refused():
    blob = seal(make_summary(), header(device="dev-z"), SK, CK.public_key())
    assert reason(blob) == "unknown_device"


def test_signature_by_another_key_is_refused():
    # a device that knows the clinic public key but not dev-a's signing key
    blob = seal(make_summary(), header(), Ed25519PrivateKey.generate(), CK.public_key())
    assert reason(blob) == "signature"


def test_lookup_may_refuse_with_its_own_reason():
    def revoked(d, k):
        raise EnvelopeError("revoked", d)

    assert reason(GOOD, lk=revoked) == "revoked"


def test_size_limit_on_seal_and_open():
    big = make_summary()
    big["session"]["features"]["pad"] = "x" * MAX_ENVELOPE
    with pytest.raises(EnvelopeError) as ei:
        seal(big, header(), SK, CK.public_key())
    assert ei.value.reason == "too_large"
    assert reason(GOOD + b"\0" * MAX_ENVELOPE) == "too_large"


def test_bad_magic_version_and_truncation():
    assert reason(b"XXXX" + GOOD[4:]) == "malformed"
    assert reason(GOOD[:4] + b"\x02" + GOOD[5:]) == "version"
    assert reason(GOOD[:40]) == "malformed"
    assert reason(b"") == "malformed"


def test_header_fields_are_checked():
    for bad in (
        dict(device_id="Dev-A"),
        dict(device_id="dev/+"),
        dict(device_id="#"),
        dict(seq=-1),
        dict(seq=MAX_SEQ),
        dict(message_id="not-hex"),
        dict(key_id="zz"),
        dict(created=float("nan")),
    ):
        with pytest.raises(EnvelopeError) as ei:
            dataclasses.replace(GOOD_HEADER, **bad).to_bytes()
        assert ei.value.reason == "header"


def test_summary_must_be_an_object_with_schema_version():
    with pytest.raises(EnvelopeError):
        seal({"no": "version"}, header(), SK, CK.public_key())


# -- properties ---------------------------------------------------------------------------------
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_envelope_error(data):
    with pytest.raises(EnvelopeError) as ei:
        open_envelope(data, CK, lookup)
    assert ei.value.reason in ("malformed", "version", "header", "too_large", "unknown_device")


@given(st.binary(max_size=600))
def test_random_bytes_after_a_valid_prefix_only_raise_envelope_error(tail):
    hb = GOOD_HEADER.to_bytes()
    blob = GOOD[: 7 + len(hb)] + tail
    with pytest.raises(EnvelopeError):
        open_envelope(blob, CK, lookup)


@given(st.data())
def test_any_byte_change_or_truncation_is_refused(data):
    blob = bytearray(GOOD)
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert"]))
    if kind == "flip":
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        i = data.draw(st.integers(0, len(blob)))
        blob[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    with pytest.raises(EnvelopeError):
        open_envelope(bytes(blob), CK, lookup)


@given(
    device=st.from_regex(r"[a-z0-9][a-z0-9-]{0,62}", fullmatch=True),
    seq=st.integers(0, MAX_SEQ - 1),
    created=st.floats(0, 1e10, allow_nan=False),
)
def test_header_round_trips(device, seq, created):
    h = Header(device, KID, uuid.uuid4().hex, seq, created=created)
    assert Header.from_bytes(h.to_bytes()) == h


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=8)
    ),
    max_leaves=20,
)
HEADER_KEYS = ["v", "device_id", "key_id", "boot_id", "seq", "message_id", "created"]


@given(
    fields=st.dictionaries(st.sampled_from(HEADER_KEYS) | st.text(max_size=8), JSON, max_size=9),
    version=st.integers(0, 255),
    tail=st.binary(min_size=0, max_size=200),
)
def test_well_framed_garbage_headers_only_raise_envelope_error(fields, version, tail):
    try:
        hb = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        hb = b"{}"
    hb = hb[:1024]
    blob = b"EMFE" + bytes([version]) + struct.pack(">H", len(hb)) + hb + tail + b"\0" * 112
    with pytest.raises(EnvelopeError):
        open_envelope(blob, CK, lookup)
