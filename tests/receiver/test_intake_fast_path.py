"""The receiver's fast path for large summaries keeps every refusal: numbers the fast JSON
read cannot vouch for go the standard library's way and are refused for the reason they
always were, a kiosk-sized summary is stored byte for byte as signed, and the store's
cheaper layout (16 KB SQLite pages, lz4 on PostgreSQL) is what a new store gets. Real
SQLite and a real PostgreSQL."""

from __future__ import annotations

import random
import struct
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from device.delivery.keys import key_id, load_private_key, load_public_key
from device.wire.envelope import DOMAIN, FORMAT_VERSION, MAGIC, SUITE, Header, open_sealed
from device.wire.summary import encode
from provisioning.registry import DeviceKeys
from receiver.service import Intake, import_file
from receiver.store import Store
from receiver.store.backend import SQLITE_PAGE_SIZE
from tests.support.delivery_helpers import make_summary

TOPIC = "emoface/dev-c/summary"


def seal_raw(clinic, device_id: str, body: bytes, seq: int) -> tuple[Header, bytes]:
    """An envelope around any summary bytes, built by the documented layout
    (device/wire/envelope.py): `seal` itself would refuse NaN and friends."""
    b = clinic.bundle_dir(device_id)
    sk = load_private_key(b / "signing.key")
    ck = load_public_key(b / "clinic_hpke.pub", X25519PublicKey)
    h = Header(device_id, key_id(sk.public_key()), uuid.uuid4().hex, seq)
    hb = h.to_bytes()
    sig = sk.sign(DOMAIN + struct.pack(">H", len(hb)) + hb + body)
    ct = SUITE.encrypt(sig + body, ck, info=DOMAIN + hb)
    return h, struct.pack(">4sBH", MAGIC, FORMAT_VERSION, len(hb)) + hb + ct


def kiosk_like(i: int) -> dict:
    """Shaped like the kiosk's biomarkers summary: hundreds of small stat objects whose
    floats are rounded to 5 decimals (device.session's json_float)."""
    rng = random.Random(i)

    def stats() -> dict:
        return {
            "max": round(rng.uniform(0, 0.05), 5),
            "mean": round(rng.uniform(0, 0.01), 5),
            "min": 0.0,
            "n": rng.randint(0, 200),
            "sd": round(rng.uniform(0, 0.01), 5),
        }

    def block(name: str | None) -> dict:
        out = {
            "frames_seen": 150,
            "frames_used": 141,
            "rejected": {"blurred": 5, "head_turned": 4},
            "features": {f"AU{k}": stats() for k in range(40)},
            "asymmetry": {f"R{k}": round(rng.uniform(0, 0.04), 5) for k in range(16)},
            "small": 2e-05,  # Python writes this with an exponent: a negative one is harmless
        }
        return out if name is None else {"name": name, **out}

    return {
        "schema_version": "emoface.summary/1",
        "session": block(None),
        "segments": [block(f"clip-{k}") for k in range(8)],
    }


@pytest.fixture
def intake(clinic, store_url):
    it = Intake(Store(store_url), clinic.load_hpke_key(), clinic.registry_path)
    yield it
    it.store.close()


def test_a_kiosk_sized_summary_takes_the_fast_path_and_is_stored_as_signed(clinic, intake):
    items = [seal_raw(clinic, "dev-c", encode(kiosk_like(i)), i) for i in range(3)]
    opened = open_sealed(items[0][1], clinic.load_hpke_key(), DeviceKeys(clinic.registry_path))
    assert opened.numbers_checked  # proven from the bytes: orjson read it
    assert len(opened.body) > 25_000
    outs = intake.handle_batch([(blob, TOPIC) for _, blob in items])
    intake.store.commit()
    assert [o.status for o in outs] == ["stored"] * 3
    for i, (h, _) in enumerate(items):
        row = intake.store.get(h.message_id)
        assert row["summary"] == kiosk_like(i)
        text = intake.store.db.execute(
            intake.store.backend.sql("SELECT summary FROM summaries WHERE message_id = ?"),
            (h.message_id,),
        ).fetchone()[0]
        assert text.encode() == encode(kiosk_like(i))


def _body_with(value_text: str) -> bytes:
    s = kiosk_like(0)
    s["segments"][3]["features"]["AU7"]["max"] = "@VALUE@"
    return encode(s).replace(b'"@VALUE@"', value_text.encode())


@pytest.mark.parametrize(
    "value, rule",
    [
        ("NaN", "non-finite"),
        ("-Infinity", "non-finite"),
        ("1e400", "non-finite"),
        ("9007199254740993", "integer out of range"),  # 2**53 + 1
        ("18446744073709551616", "integer out of range"),  # orjson alone would read a float
        ("-" + "9" * 30, "integer out of range"),
    ],
)
def test_numbers_the_fast_read_cannot_vouch_for_are_refused_as_before(clinic, intake, value, rule):
    h, blob = seal_raw(clinic, "dev-c", _body_with(value), 0)
    out = intake.handle(blob, TOPIC)
    intake.store.commit()
    assert (out.status, out.reason) == ("rejected", "schema")
    (detail,) = intake.store.db.execute(
        intake.store.backend.sql("SELECT detail FROM rejections WHERE message_id = ?"),
        (h.message_id,),
    ).fetchone()
    assert rule in detail and "summary.segments[3].features.AU7.max" in detail
    assert value not in detail  # the place and the rule, never the value
    assert intake.store.count() == 0


def test_a_summary_nested_past_the_parsers_limits_is_refused_not_stored(clinic, intake):
    s = make_summary(0)
    s["session"]["features"]["deep"] = "@VALUE@"
    body = encode(s).replace(b'"@VALUE@"', b"[" * 1010 + b"]" * 1010)
    _, blob = seal_raw(clinic, "dev-c", body, 0)
    out = intake.handle(blob, TOPIC)
    intake.store.commit()
    assert out.status == "rejected" and out.reason in ("schema", "summary")
    assert intake.store.count() == 0


def test_an_offline_import_is_never_rate_limited_but_mqtt_refusals_are(clinic, intake):
    bad = [seal_raw(clinic, "dev-c", _body_with("NaN"), i)[1] for i in range(25)]
    assert import_file(intake, bad) == {"rejected:schema": 25}  # an operator's import: all
    reasons = [intake.handle(b, TOPIC).reason for b in bad]
    assert "rate_limited" in reasons and reasons[0] == "schema"


def test_a_new_sqlite_store_uses_large_pages(tmp_path):
    s = Store(str(tmp_path / "r.sqlite"))
    try:
        assert s.db.execute("PRAGMA page_size").fetchone()[0] == SQLITE_PAGE_SIZE
        assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        s.close()


def test_postgres_compresses_summaries_with_lz4(postgres_url):
    s = Store(postgres_url)
    try:
        (method,) = s.db.execute(
            "SELECT attcompression FROM pg_attribute"
            " WHERE attrelid = 'summaries'::regclass AND attname = 'summary'"
        ).fetchone()
        assert method == "l"  # lz4
        h = Header("dev-c", "0" * 16, uuid.uuid4().hex, 0)
        assert s.insert(h, kiosk_like(0), 1.0)
        s.commit()
        assert s.get(h.message_id)["summary"] == kiosk_like(0)
        (used,) = s.db.execute(
            "SELECT pg_column_compression(summary) FROM summaries WHERE message_id = %s",
            (h.message_id,),
        ).fetchone()
        assert used == "lz4"
    finally:
        s.close()
