"""The ack/refusal format (device/wire/ack.py): signed by the clinic, bound to one device,
and acted on only when it verifies."""

from __future__ import annotations

import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.wire.ack import (
    REFUSED,
    STORED,
    AckError,
    Answer,
    parse_answer,
    sign_answer,
)

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key()
MID = uuid.uuid4().hex


def test_a_signed_ack_and_refusal_round_trip():
    for ans in (Answer("dev-a", MID, STORED), Answer("dev-a", MID, REFUSED, "schema")):
        got = parse_answer(sign_answer(ans, KEY), "dev-a", PUB)
        assert (got.device_id, got.message_id, got.status, got.reason) == (
            ans.device_id,
            ans.message_id,
            ans.status,
            ans.reason,
        )
        assert got.signed


def tampered(payload: bytes, **change) -> bytes:
    doc = json.loads(payload)
    doc.update(change)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "payload",
    [
        # a forged "stored" (no signature, as an older receiver sent it)
        json.dumps({"message_id": MID, "status": "stored"}).encode(),
        # signed by another key
        sign_answer(Answer("dev-a", MID, STORED), Ed25519PrivateKey.generate()),
        # a refusal turned into an ack, or aimed at another message
        tampered(
            sign_answer(Answer("dev-a", MID, REFUSED, "schema"), KEY), status="stored", reason=None
        ),
        tampered(sign_answer(Answer("dev-a", MID, STORED), KEY), message_id=uuid.uuid4().hex),
        # an answer for dev-b replayed on dev-a's topic
        sign_answer(Answer("dev-b", MID, STORED), KEY),
        b"not json",
        b"[]",
        b"{}",
        b"\xff" * 10,
        b" " * 5000,
        b"[" * 5000,
    ],
)
def test_anything_that_does_not_verify_is_refused(payload):
    with pytest.raises(AckError):
        parse_answer(payload, "dev-a", PUB)


def test_without_the_key_only_a_stored_ack_is_accepted():
    legacy = json.dumps({"message_id": MID, "status": "stored"}).encode()
    assert parse_answer(legacy, "dev-a", None).status == STORED
    assert (
        parse_answer(sign_answer(Answer("dev-a", MID, STORED), KEY), "dev-a", None).status == STORED
    )
    with pytest.raises(AckError, match="refusal"):
        parse_answer(sign_answer(Answer("dev-a", MID, REFUSED, "schema"), KEY), "dev-a", None)


@pytest.mark.parametrize(
    "answer",
    [
        Answer("dev-a", MID, REFUSED, "rate_limited"),  # transient reasons are never refusals
        Answer("dev-a", MID, REFUSED, None),
        Answer("dev-a", MID, STORED, "schema"),
        Answer("dev-a", "xyz", STORED),
        Answer("Dev/A", MID, STORED),
        Answer("dev-a", MID, "maybe"),
    ],
)
def test_only_well_formed_answers_can_be_signed(answer):
    with pytest.raises(AckError):
        sign_answer(answer, KEY)
