"""The receiver store on real SQLite and a real PostgreSQL (every test runs on both):
schema versions and forward migrations, once-only storage, batches, paged reads."""

from __future__ import annotations

import json
import os
import threading
import uuid

import pytest

from device.errors import InputError
from device.wire.envelope import Header
from receiver.store import MIGRATIONS, Backend, Migration, Store, StoreError, migrate, redacted
from receiver.store import migrations as migrations_module
from tests.support.delivery_helpers import make_summary

# The schema every receiver wrote before the store was versioned (copied verbatim).
OLD_SCHEMA = {
    "sqlite": [
        """CREATE TABLE IF NOT EXISTS summaries (
            message_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, key_id TEXT NOT NULL,
            boot_id TEXT NOT NULL, seq BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,
            received DOUBLE PRECISION NOT NULL, schema_version TEXT NOT NULL,
            summary TEXT NOT NULL, UNIQUE (device_id, boot_id, seq))""",
        "CREATE INDEX IF NOT EXISTS summaries_device ON summaries(device_id, received)",
        """CREATE TABLE IF NOT EXISTS rejections (
            id INTEGER PRIMARY KEY AUTOINCREMENT, received DOUBLE PRECISION NOT NULL,
            reason TEXT NOT NULL, device_id TEXT, message_id TEXT, detail TEXT)""",
    ],
    "postgres": [
        """CREATE TABLE IF NOT EXISTS summaries (
            message_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, key_id TEXT NOT NULL,
            boot_id TEXT NOT NULL, seq BIGINT NOT NULL, created DOUBLE PRECISION NOT NULL,
            received DOUBLE PRECISION NOT NULL, schema_version TEXT NOT NULL,
            summary TEXT NOT NULL, UNIQUE (device_id, boot_id, seq))""",
        "CREATE INDEX IF NOT EXISTS summaries_device ON summaries(device_id, received)",
        """CREATE TABLE IF NOT EXISTS rejections (
            id BIGSERIAL PRIMARY KEY, received DOUBLE PRECISION NOT NULL,
            reason TEXT NOT NULL, device_id TEXT, message_id TEXT, detail TEXT)""",
    ],
}


def header(device="dev-a", seq=0, boot=None, message_id=None) -> Header:
    h = Header(device, "k" * 16, boot or uuid.uuid4().hex, seq)
    if message_id:
        h.message_id = message_id
    return h


def coded(i: int, code: str | None) -> dict:
    s = make_summary(i, "store")
    if code is not None:
        s["session"]["code"] = code
    return s


def write_old_store(url: str, n: int) -> list[str]:
    """A store as today's receivers leave it: old tables, no schema_version, n summaries
    (every other one carrying a session code) and one rejection."""
    db = Backend(url)
    for stmt in OLD_SCHEMA[db.kind]:
        db.execute(stmt)
    ids = []
    for i in range(n):
        h = header(seq=i, boot="b" * 32)
        s = coded(i, f"C{i:04d}" if i % 2 == 0 else None)
        db.execute(
            "INSERT INTO summaries (message_id, device_id, key_id, boot_id, seq, created,"
            " received, schema_version, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                h.message_id,
                h.device_id,
                h.key_id,
                h.boot_id,
                h.seq,
                h.created,
                1000.0 + i,
                s["schema_version"],
                json.dumps(s, sort_keys=True),
            ),
        )
        ids.append(h.message_id)
    db.execute(
        "INSERT INTO rejections (received, reason, device_id, message_id, detail)"
        " VALUES (?, ?, ?, ?, ?)",
        (5.0, "signature", "dev-b", None, "bad signature"),
    )
    db.commit()
    db.close()
    return ids


def test_a_new_store_is_at_the_latest_version_and_reopening_applies_nothing(store_url):
    s = Store(store_url)
    assert s.migrated == [m.version for m in MIGRATIONS]
    assert s.schema_version() == MIGRATIONS[-1].version
    s.close()
    again = Store(store_url)
    assert again.migrated == []
    assert again.schema_version() == MIGRATIONS[-1].version
    again.close()


def test_an_old_unversioned_store_is_migrated_forward_with_nothing_lost(store_url):
    ids = write_old_store(store_url, 1200)  # more than one backfill page
    s = Store(store_url)
    assert s.migrated == [m.version for m in MIGRATIONS]
    assert sorted(s.message_ids()) == sorted(ids)
    assert s.rejection_counts() == {"signature": 1}
    for i, mid in enumerate(ids):
        row = s.get(mid)
        assert row["summary"] == coded(i, f"C{i:04d}" if i % 2 == 0 else None)
        assert row["seq"] == i
    # the new column was filled from the stored summaries
    assert s.find_by_code("C0004") == [ids[4]]
    assert s.find_by_code("C1198") == [ids[1198]]  # the last backfill page too
    assert s.find_by_code("C0005") == []
    # and the migrated store keeps working: once-only storage still holds
    h = header(seq=3, boot="b" * 32)
    assert s.existing(h) == "replay"
    assert s.insert(header(seq=99), coded(99, "NEW1"), 2000.0)
    s.commit()
    assert s.count() == 1201
    s.close()


def test_a_store_newer_than_this_receiver_is_refused(store_url):
    Store(store_url).close()
    db = Backend(store_url)
    db.execute(
        "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
        (MIGRATIONS[-1].version + 1, "from the future", 0.0),
    )
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this receiver knows"):
        Store(store_url)


def test_a_failing_migration_changes_nothing(store_url, monkeypatch):
    Store(store_url).close()
    broken = Migration(
        MIGRATIONS[-1].version + 1,
        "half applied",
        ("CREATE TABLE extra (id {id}, note TEXT)", "INSERT INTO no_such_table VALUES (1)"),
    )
    monkeypatch.setattr(migrations_module, "MIGRATIONS", [*MIGRATIONS, broken])
    db = Backend(store_url)
    with pytest.raises(StoreError, match="schema migration failed"):
        migrate(db)
    assert not db.table_exists("extra")
    assert migrations_module.current_version(db) == MIGRATIONS[-1].version
    db.close()


def test_migrations_are_numbered_from_one_without_gaps():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_each_summary_is_stored_once_and_a_replayed_sequence_is_recognised(store_url):
    s = Store(store_url)
    h = header(seq=7)
    assert s.existing(h) is None
    assert s.insert(h, coded(1, "AB12"), 1.0)
    s.commit()
    assert s.existing(h) == "duplicate"
    assert not s.insert(h, coded(1, "AB12"), 2.0)
    replay = header(seq=7, boot=h.boot_id)
    assert s.existing(replay) == "replay"
    assert not s.insert(replay, coded(2, None), 3.0)
    s.commit()
    assert s.count() == 1
    assert s.list()[0]["session_code"] == "AB12"
    assert s.find_by_code("AB12") == [h.message_id]
    s.close()


def test_a_batch_is_checked_and_inserted_in_one_go(store_url):
    s = Store(store_url)
    old = header(seq=1, boot="c" * 32)
    s.insert(old, coded(0, None), 1.0)
    s.commit()
    batch = [header(seq=i, boot="c" * 32) for i in range(2, 402)]
    replayed = header(seq=1, boot="c" * 32)
    seen = s.existing_many([*batch, old, replayed])
    assert seen == {old.message_id: "duplicate", replayed.message_id: "replay"}
    new = s.insert_many(
        [(h, coded(i, f"K{i}"), 5.0) for i, h in enumerate(batch)] + [(old, coded(0, None), 5.0)]
    )
    s.commit()
    assert new == {h.message_id for h in batch}
    assert s.count() == 401
    s.close()


def test_a_batch_keeps_the_given_text_and_an_old_sqlite_gets_the_same_result(tmp_path, monkeypatch):
    """The text the receiver passes (the signed bytes) is stored verbatim; without
    RETURNING (SQLite < 3.35) the rows go in one at a time with the same outcome."""
    for label, version in (("new", None), ("old", (3, 34, 1))):
        if version:
            monkeypatch.setattr("receiver.store.summaries.sqlite3.sqlite_version_info", version)
        s = Store(str(tmp_path / f"{label}.sqlite"))
        heads = [header(seq=i, boot="f" * 32) for i in range(5)]
        texts = [json.dumps(coded(i, None), sort_keys=True) for i in range(5)]
        first = s.insert_many([(h, coded(i, None), 1.0, texts[i]) for i, h in enumerate(heads)])
        again = s.insert_many([(heads[0], coded(0, None), 2.0, texts[0])])
        s.commit()
        assert first == {h.message_id for h in heads} and again == set()
        rows = dict(s.db.execute("SELECT message_id, summary FROM summaries").fetchall())
        assert rows == {h.message_id: texts[i] for i, h in enumerate(heads)}
        s.close()


def test_two_writers_inserting_the_same_batch_store_each_summary_once(store_url):
    """Two connections (two receivers after a redelivery) race on overlapping batches."""
    Store(store_url).close()
    heads = [header(seq=i, boot="d" * 32) for i in range(300)]
    results: dict[str, set[str]] = {}
    barrier = threading.Barrier(2)

    def writer(name, part):
        s = Store(store_url)
        barrier.wait()
        results[name] = s.insert_many([(h, coded(0, None), 1.0) for h in part])
        s.commit()
        s.close()

    threads = [
        threading.Thread(target=writer, args=("a", heads[:200])),
        threading.Thread(target=writer, args=("b", heads[100:])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["a"].isdisjoint(results["b"])
    assert results["a"] | results["b"] == {h.message_id for h in heads}
    s = Store(store_url)
    assert s.count() == 300
    s.close()


def test_paged_reading_returns_every_summary_since_a_time_in_order(store_url):
    s = Store(store_url)
    heads = [header(seq=i, boot="e" * 32) for i in range(23)]
    for i, h in enumerate(heads):
        s.insert(h, coded(i, None), 100.0 + i // 2)  # pairs share a received time
    s.commit()
    got = list(s.iter_summaries(batch=4))
    assert [g["message_id"] for g in got] == [
        h.message_id
        for h in sorted(heads, key=lambda h: (100.0 + heads.index(h) // 2, h.message_id))
    ]
    since = [g["seq"] for g in s.iter_summaries(since=105.0, batch=3)]
    assert sorted(since) == list(range(10, 23))
    s.close()


def test_a_read_only_open_of_a_missing_sqlite_store_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no receiver store"):
        Store(str(tmp_path / "nothing.sqlite"), create=False)
    assert not (tmp_path / "nothing.sqlite").exists()


def test_a_new_sqlite_store_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "deep" / "s.sqlite"
    Store(str(path)).close()
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_an_unreachable_postgres_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL"):
        Store(f"postgresql://postgres@/x?host={tmp_path}&port=1")


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError):
        Store(str(bad))


def test_receivers_starting_together_migrate_a_new_store_once(store_url):
    """Several receivers opening one fresh database at once: one applies the migrations
    (under the store's lock), the others find them applied."""
    barrier = threading.Barrier(4)
    applied: list[list[int]] = []
    errors: list[Exception] = []

    def opener():
        barrier.wait()
        try:
            s = Store(store_url)
            applied.append(s.migrated)
            s.close()
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(applied, key=len) == [[], [], [], [m.version for m in MIGRATIONS]]
    db = Backend(store_url)
    rows = db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    db.close()
    assert [r[0] for r in rows] == [m.version for m in MIGRATIONS]


def test_a_store_url_in_a_message_never_shows_the_password(tmp_path):
    assert redacted("postgresql://emo:s3cret@db:5432/emo?sslmode=require") == (
        "postgresql://emo:***@db:5432/emo?sslmode=require"
    )
    assert redacted("postgres://db/emo?password=s3cret&x=1") == "postgres://db/emo?password=***&x=1"
    assert redacted(str(tmp_path / "s.sqlite")) == str(tmp_path / "s.sqlite")
    with pytest.raises(StoreError) as err:
        Store(f"postgresql://emo:s3cret@/emo?host={tmp_path}&port=1")
    assert "s3cret" not in str(err.value)
