"""The store's schema, as an ordered list of forward migrations recorded in `schema_version`.

To add a migration: append `Migration(<last version + 1>, "what it does", (steps...))` to
MIGRATIONS; a step is portable SQL (`?` placeholders, `{id}` `{blob}` `{real}` types) or a
function taking the Backend. Never edit or reorder a released migration; only append.

Every store open runs `migrate()`: under a lock shared by all receivers on one database it
applies in order, in one transaction, the migrations newer than the recorded
version, so an upgraded receiver keeps every stored summary. A store written by a newer
receiver (a version this code does not know) is refused rather than guessed at.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from receiver.alerts import ALERT_DDL
from receiver.staff import STAFF_DDL
from receiver.store.backend import Backend, StoreError

Step = str | Callable[[Backend], None]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    steps: tuple[Step, ...]


def _backfill_session_code(db: Backend) -> None:
    """Copy session.code out of each stored summary (older summaries have none: NULL)."""
    last = ""
    while True:  # in pages by message id: a large store is never read whole
        rows = db.execute(
            "SELECT message_id, summary FROM summaries WHERE message_id > ?"
            " ORDER BY message_id LIMIT 500",
            (last,),
        ).fetchall()
        if not rows:
            return
        updates = []
        for message_id, text in rows:
            code = session_code(json.loads(text))
            if code is not None:
                updates.append((code, message_id))
        db.executemany("UPDATE summaries SET session_code = ? WHERE message_id = ?", updates)
        last = rows[-1][0]


def _summaries_lz4(db: Backend) -> None:
    """PostgreSQL: compress the summary column with lz4 instead of pglz. A 48 KB kiosk
    summary costs the server ~1.2 ms of CPU to store with pglz, ~0.35 ms with lz4, and
    takes a little less room (measured: bench/delivery.py, docs/delivery.md). Rows already
    stored keep pglz (PostgreSQL reads both). Skipped where the server has no lz4 (older
    than 14 or built without it); SQLite stores text uncompressed."""
    if db.kind != "postgres":
        return
    row = db.execute(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    ).fetchone()
    if row is None or "lz4" not in (row[0] or []):
        return
    db.execute("ALTER TABLE summaries ALTER COLUMN summary SET COMPRESSION lz4")


def session_code(summary: dict) -> str | None:
    """The short code printed for the patient, when the summary carries one."""
    session = summary.get("session")
    code = session.get("code") if isinstance(session, dict) else None
    return code if isinstance(code, str) else None


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "summaries and rejections (the schema before versioning)",
        (
            """CREATE TABLE IF NOT EXISTS summaries (
                message_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, key_id TEXT NOT NULL,
                boot_id TEXT NOT NULL, seq BIGINT NOT NULL, created {real} NOT NULL,
                received {real} NOT NULL, schema_version TEXT NOT NULL,
                summary TEXT NOT NULL, UNIQUE (device_id, boot_id, seq))""",
            "CREATE INDEX IF NOT EXISTS summaries_device ON summaries(device_id, received)",
            """CREATE TABLE IF NOT EXISTS rejections (
                id {id}, received {real} NOT NULL,
                reason TEXT NOT NULL, device_id TEXT, message_id TEXT, detail TEXT)""",
        ),
    ),
    Migration(
        2,
        "session code column (looked up by code, exported) and an index for export --since",
        (
            "ALTER TABLE summaries ADD COLUMN session_code TEXT",
            _backfill_session_code,
            "CREATE INDEX IF NOT EXISTS summaries_code ON summaries(session_code)",
            "CREATE INDEX IF NOT EXISTS summaries_received ON summaries(received)",
        ),
    ),
    Migration(
        3,
        "urgent alerts (receiver.alerts); staff accounts, dashboard sessions, audit log "
        "(receiver.staff)",
        (*ALERT_DDL, *STAFF_DDL),
    ),
    Migration(4, "PostgreSQL: summaries compressed with lz4 (cheaper to store)", (_summaries_lz4,)),
]

_VERSION_DDL = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied {real} NOT NULL)"""


def latest() -> int:
    return MIGRATIONS[-1].version


def current_version(db: Backend) -> int:
    if not db.table_exists("schema_version"):
        return 0
    row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] or 0


def _check_order() -> None:
    versions = [m.version for m in MIGRATIONS]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f"store migrations must be numbered 1, 2, 3...: got {versions}")


def migrate(db: Backend, target: int | None = None) -> list[int]:
    """Bring the schema to `target` (default: the latest); return the versions applied."""
    _check_order()
    target = latest() if target is None else target
    applied: list[int] = []
    try:
        db.begin_exclusive()
        db.execute(_VERSION_DDL)
        version = current_version(db)
        if version > latest():
            raise StoreError(
                f"{db.name}: store schema version {version} is newer than this receiver "
                f"knows ({latest()}): upgrade the receiver"
            )
        for m in MIGRATIONS:
            if version < m.version <= target:
                for step in m.steps:
                    if callable(step):
                        step(db)
                    else:
                        db.execute(step)
                db.execute(
                    "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
                    (m.version, m.name, time.time()),
                )
                applied.append(m.version)
        db.commit()
    except StoreError:
        db.rollback()
        raise
    except Exception as exc:
        db.rollback()
        raise StoreError(f"{db.name}: schema migration failed: {exc}") from exc
    return applied
