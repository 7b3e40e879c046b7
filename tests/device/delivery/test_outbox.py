"""The device outbox and the Delivery facade, without a broker: durability settings,
bounds with a clear refusal, atomic export and its reading, key-file permissions."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time

import pytest

from device.config import config_from_dict
from device.delivery.keys import KeyFileError, load_private_key, make_dev_keyset
from device.delivery.outbox import Outbox, OutboxFull, read_export
from device.delivery.service import Delivery
from device.errors import EmofaceError, InputError
from device.wire.envelope import open_envelope
from device.wire.summary import SummaryError
from tests.support.delivery_helpers import make_summary


def dev_delivery(tmp_path, **limits) -> tuple[Delivery, object]:
    keys = make_dev_keyset(tmp_path / "keys")
    d = Delivery(
        keys.device_id,
        tmp_path / "data" / "outbox.sqlite",
        load_private_key(keys.device_signing_key_path),
        keys.clinic_private_key.public_key(),
        outbox_limits=limits,
    )
    return d, keys


def test_outbox_is_wal_with_full_sync(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite")
    assert ob.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert ob.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert stat.S_IMODE(os.stat(tmp_path / "o.sqlite").st_mode) == 0o600


def test_submit_seals_durably_and_only_an_ack_removes(tmp_path):
    d, keys = dev_delivery(tmp_path)
    ids = [d.submit(make_summary(i)) for i in range(5)]
    d.close()
    # a fresh connection (as after a crash) sees every summary, sealed and openable
    ob = Outbox(tmp_path / "data" / "outbox.sqlite")
    assert ob.message_ids() == ids
    h, s = open_envelope(ob.get(ids[2]), keys.clinic_private_key, keys.lookup)
    assert s == make_summary(2) and h.seq == 2 and h.message_id == ids[2]
    assert ob.ack([ids[0], "f" * 32]) == 1
    assert ob.message_ids() == ids[1:]
    assert ob.last_ack() is not None


def test_invalid_summary_is_refused_before_sealing(tmp_path):
    d, _ = dev_delivery(tmp_path)
    with pytest.raises(SummaryError):
        d.submit({"schema_version": "emoface.summary/1"})
    bad = make_summary()
    bad["session"]["features"]["track"] = list(range(500))  # a per-frame series
    with pytest.raises(SummaryError):
        d.submit(bad)
    assert d.status()["outbox_depth"] == 0


def test_full_by_items_refuses_new_sessions(tmp_path):
    d, _ = dev_delivery(tmp_path, max_items=3)
    for i in range(3):
        d.submit(make_summary(i))
    assert not d.can_accept()
    with pytest.raises(OutboxFull) as ei:
        d.submit(make_summary(9))
    assert isinstance(ei.value, EmofaceError) and ei.value.exit_code == 5
    assert "limit 3" in str(ei.value) and "export" in str(ei.value)
    st = d.status()
    assert st["outbox_depth"] == 3 and st["can_accept"] is False and st["full_reason"]


def test_full_by_bytes_and_by_age(tmp_path):
    d, _ = dev_delivery(tmp_path, max_bytes=1500)
    d.submit(make_summary(0))
    with pytest.raises(OutboxFull, match="bytes"):
        for i in range(10):
            d.submit(make_summary(i))
    d2, _ = dev_delivery(tmp_path / "age", max_age_days=1)
    d2.submit(make_summary(0))
    assert d2.can_accept()
    old = time.time() - 2 * 86400
    d2._outbox.db.execute("UPDATE items SET created = ?", (old,))
    assert not d2.can_accept()
    with pytest.raises(OutboxFull, match="days old"):
        d2.submit(make_summary(1))


def test_export_is_atomic_and_readable(tmp_path):
    d, _ = dev_delivery(tmp_path)
    ids = [d.submit(make_summary(i)) for i in range(4)]
    out = tmp_path / "usb" / "outbox.json"
    n = d._outbox.export(out)
    assert n == 4 and out.is_file()
    assert not list(out.parent.glob(".*.tmp"))  # no temp file left behind
    blobs = read_export(out)
    assert [b for b in blobs] == [d._outbox.get(i) for i in ids]
    # export --remove empties the outbox only after the file is complete
    assert d._outbox.export(tmp_path / "usb" / "second.json", remove=True) == 4
    assert d.status()["outbox_depth"] == 0


def test_export_with_crash_keeps_the_old_file(tmp_path, monkeypatch):
    d, _ = dev_delivery(tmp_path)
    d.submit(make_summary(1))
    out = tmp_path / "outbox.json"
    out.write_text("previous export")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(InputError, match="cannot write the export: disk full"):
        d._outbox.export(out, remove=True)
    monkeypatch.undo()
    assert out.read_text() == "previous export"
    assert d.status()["outbox_depth"] == 1  # nothing removed


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        json.dumps({"format": "other"}).encode(),
        json.dumps({"format": "emoface.outbox-export/1", "items": [{"envelope": "@@@"}]}).encode(),
    ],
)
def test_read_export_refuses_bad_files(tmp_path, content):
    p = tmp_path / "x.json"
    p.write_bytes(content)
    with pytest.raises(InputError):
        read_export(p)


def test_dev_keyset_private_files_are_0600_and_checked(tmp_path):
    ks = make_dev_keyset(tmp_path / "k")
    for p in (ks.device_signing_key_path, ks.clinic_private_key_path):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
        assert b"PRIVATE KEY" in p.read_bytes()
    assert make_dev_keyset(tmp_path / "k").key_id == ks.key_id  # reused, not replaced
    os.chmod(ks.device_signing_key_path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_private_key(ks.device_signing_key_path)


def test_from_config_without_broker_keeps_outbox_only(tmp_path):
    ks = make_dev_keyset(tmp_path / "k")
    cfg = config_from_dict(
        {
            "device": {"id": "kiosk-1", "data_dir": str(tmp_path / "data")},
            "delivery": {k: str(v) for k, v in ks.delivery_paths().items()},
        },
        tmp_path / "device.toml",
    )
    d = Delivery.from_config(cfg)
    d.start()
    mid = d.submit(make_summary())
    st = d.status()
    d.stop()
    assert st["broker"] is None and st["connected"] is False and st["outbox_depth"] == 1
    assert len(mid) == 32
    assert (tmp_path / "data" / "outbox.sqlite").is_file()


def test_from_config_requires_keys(tmp_path):
    cfg = config_from_dict({"device": {"id": "kiosk-1"}}, tmp_path / "device.toml")
    with pytest.raises(InputError, match="device_signing_key"):
        Delivery.from_config(cfg)


def test_integrity_check_on_a_fresh_outbox(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite")
    assert ob.integrity_check() == "ok"
    con = sqlite3.connect(tmp_path / "o.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
