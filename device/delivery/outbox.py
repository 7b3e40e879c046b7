"""The device's durable outbox: sealed envelopes wait here until the clinic acknowledges them.

SQLite in WAL mode with synchronous=FULL, so a summary that `put` returned for survives
kill -9 and power loss. Nothing is ever dropped silently: a summary leaves only when the
receiver's ack for its message id arrives (`ack`), or when an operator exports it to a
file for an offline clinic (`export(..., remove=True)`). A summary the clinic refused for
good (a signed refusal, device/wire/ack.py) moves to the `dead_letters` table
(`dead_letter`): kept with its reason, counted in `stats`, exportable, never resent. When
the outbox reaches its item, byte or age bound, `put` raises OutboxFull and `can_accept`
turns False, so the kiosk refuses to start a new session rather than lose one.

An instance is one connection: use it from one thread at a time (the publisher thread opens
its own; Delivery guards the caller-side one with a lock).
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from device.errors import EmofaceError, InputError
from device.fileio import read_bounded, write_atomic
from device.wire.envelope import MAX_ENVELOPE, Header

EXPORT_FORMAT = "emoface.outbox-export/1"
MAX_EXPORT_BYTES = 4 * 1024**3

# The columns of a queued message, shared by the queue and the dead letters it moves to.
_MESSAGE_COLUMNS = """\
    message_id   TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    boot_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    created      REAL NOT NULL,
    queued       REAL NOT NULL,
    blob         BLOB NOT NULL,
    size         INTEGER NOT NULL,
"""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS items (
{_MESSAGE_COLUMNS}    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    priority     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS items_due ON items(next_attempt, queued);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
{_MESSAGE_COLUMNS}    reason       TEXT NOT NULL,
    refused      REAL NOT NULL
);
"""


class OutboxFull(EmofaceError):
    """The outbox reached a bound; no new session may start until it drains or is exported."""

    exit_code = 5


class OutboxError(EmofaceError):
    """The outbox file cannot be opened or is damaged."""

    exit_code = 5


@dataclass(frozen=True)
class OutboxItem:
    message_id: str
    device_id: str
    seq: int
    created: float
    blob: bytes
    attempts: int


class Outbox:
    """One SQLite connection to the outbox file (use one instance per thread)."""

    def __init__(
        self,
        path: Path,
        max_items: int = 5000,
        max_bytes: int = 200_000_000,
        max_age_days: float = 90,
    ):
        self.path = Path(path)
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_age_s = max_age_days * 86400.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError as exc:
            raise InputError(
                f"{self.path}: cannot create the outbox: {exc.strerror or exc} "
                "(is device.data_dir a writable folder?)"
            ) from exc
        try:
            self.db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.executescript(_SCHEMA)
            self._add_priority_column()
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"{self.path}: cannot open outbox: {exc}") from exc

    def _add_priority_column(self) -> None:
        """Outboxes written before urgent alerts existed lack `priority`: add it (0)."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(items)")}
        if "priority" not in cols:
            self.db.execute("ALTER TABLE items ADD COLUMN priority INTEGER NOT NULL DEFAULT 0")

    # -- capacity ---------------------------------------------------------------------
    def stats(self) -> dict:
        n, size, oldest = self.db.execute(
            "SELECT count(*), coalesce(sum(size), 0), min(created) FROM items"
        ).fetchone()
        dead = self.db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        return {"items": n, "bytes": size, "oldest_created": oldest, "dead_letters": dead}

    def full_reason(self, extra_bytes: int = 0, now: float | None = None) -> str | None:
        """Why the outbox cannot take another summary, or None when it can."""
        now = time.time() if now is None else now
        s = self.stats()
        if s["items"] + 1 > self.max_items:
            return f"outbox holds {s['items']} summaries (limit {self.max_items})"
        if s["bytes"] + extra_bytes > self.max_bytes:
            return f"outbox holds {s['bytes']} bytes (limit {self.max_bytes})"
        if s["oldest_created"] is not None and now - s["oldest_created"] > self.max_age_s:
            days = (now - s["oldest_created"]) / 86400
            return f"oldest summary is {days:.0f} days old (limit {self.max_age_s / 86400:.0f})"
        return None

    def can_accept(self) -> bool:
        return self.full_reason() is None

    # -- queue ------------------------------------------------------------------------
    def put(self, header: Header, blob: bytes, priority: int = 0) -> None:
        """Store a sealed envelope durably (committed and fsynced when this returns).

        Higher `priority` is sent first (urgent alerts: 1). An urgent item is taken even
        when the outbox is full: it is tiny, and losing it would be worse."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            reason = self.full_reason(len(blob)) if priority <= 0 else None
            if reason:
                raise OutboxFull(
                    f"{reason}: connect the station to the clinic network or run "
                    f"`emoface outbox export FILE` before starting a new session"
                )
            self.db.execute(
                "INSERT INTO items (message_id, device_id, boot_id, seq, created, queued, blob,"
                " size, priority) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    header.message_id,
                    header.device_id,
                    header.boot_id,
                    header.seq,
                    header.created,
                    time.time(),
                    blob,
                    len(blob),
                    priority,
                ),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def due(self, now: float, limit: int = 100) -> list[OutboxItem]:
        rows = self.db.execute(
            "SELECT message_id, device_id, seq, created, blob, attempts FROM items"
            " WHERE next_attempt <= ? ORDER BY priority DESC, queued LIMIT ?",
            (now, limit),
        ).fetchall()
        return [OutboxItem(*r) for r in rows]

    def mark_sent(self, schedule: dict[str, float]) -> None:
        """Record a send attempt: {message_id: when to retry if no ack has come}."""
        if not schedule:
            return
        with self._tx():
            self.db.executemany(
                "UPDATE items SET attempts = attempts + 1, next_attempt = ? WHERE message_id = ?",
                [(t, m) for m, t in schedule.items()],
            )

    def mark_sent_retry(self, schedule: dict[str, float]) -> None:
        """Move the next attempt of some summaries (a refused or unheard publish)."""
        if not schedule:
            return
        with self._tx():
            self.db.executemany(
                "UPDATE items SET next_attempt = ? WHERE message_id = ?",
                [(t, m) for m, t in schedule.items()],
            )

    def retry_all_now(self) -> None:
        """After a reconnect: every unacknowledged summary is due again."""
        with self._tx():
            self.db.execute("UPDATE items SET next_attempt = 0")

    def ack(self, message_ids: list[str]) -> int:
        """Remove acknowledged summaries; returns how many were still here."""
        if not message_ids:
            return 0
        with self._tx():
            cur = self.db.executemany(
                "DELETE FROM items WHERE message_id = ?", [(m,) for m in message_ids]
            )
            n = cur.rowcount
            self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_ack', ?)",
                (repr(time.time()),),
            )
        return n

    def dead_letter(self, refusals: dict[str, str]) -> int:
        """Move refused summaries ({message_id: reason}) from the queue to the dead-letter
        table; returns how many were still queued."""
        if not refusals:
            return 0
        now = time.time()
        n = 0
        with self._tx():
            for mid, reason in refusals.items():
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO dead_letters (message_id, device_id, boot_id, seq,"
                    " created, queued, blob, size, reason, refused) SELECT message_id,"
                    " device_id, boot_id, seq, created, queued, blob, size, ?, ? FROM items"
                    " WHERE message_id = ?",
                    (reason, now, mid),
                )
                n += cur.rowcount
                self.db.execute("DELETE FROM items WHERE message_id = ?", (mid,))
        return n

    def dead_letters(self) -> list[dict]:
        """The refused summaries: message id, reason, when queued and refused (no blob)."""
        rows = self.db.execute(
            "SELECT message_id, seq, created, queued, reason, refused FROM dead_letters"
            " ORDER BY refused"
        ).fetchall()
        keys = ("message_id", "seq", "created", "queued", "reason", "refused")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def last_ack(self) -> float | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_ack'").fetchone()
        return float(row[0]) if row else None

    def get(self, message_id: str) -> bytes | None:
        row = self.db.execute("SELECT blob FROM items WHERE message_id = ?", (message_id,))
        r = row.fetchone()
        return r[0] if r else None

    def depth(self) -> int:
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    def message_ids(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT message_id FROM items ORDER BY queued")]

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]

    # -- offline export -----------------------------------------------------------------
    def export(self, path: Path, remove: bool = False, dead_letters: bool = False) -> int:
        """Write every waiting summary (or, with `dead_letters`, every refused one) to one
        file, atomically; optionally remove them."""
        table = "dead_letters" if dead_letters else "items"
        rows = self.db.execute(
            f"SELECT message_id, device_id, blob FROM {table} ORDER BY queued"
        ).fetchall()
        doc = {
            "format": EXPORT_FORMAT,
            "exported": time.time(),
            "items": [
                {"message_id": m, "device_id": d, "envelope": base64.b64encode(b).decode()}
                for m, d, b in rows
            ],
        }
        try:
            write_atomic(Path(path), json.dumps(doc, indent=0).encode())
        except OSError as exc:
            raise InputError(f"{path}: cannot write the export: {exc.strerror or exc}") from exc
        if remove:
            self.ack_exported([r[0] for r in rows], table)
        return len(rows)

    def ack_exported(self, message_ids: list[str], table: str = "items") -> None:
        if table not in ("items", "dead_letters"):
            raise ValueError(table)
        with self._tx():
            self.db.executemany(
                f"DELETE FROM {table} WHERE message_id = ?", [(m,) for m in message_ids]
            )

    def close(self) -> None:
        self.db.close()

    def _tx(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, et, ev, tb):
                db.execute("COMMIT" if et is None else "ROLLBACK")
                return False

        return _Tx()


def read_export(path: Path) -> list[bytes]:
    """The envelopes of an export file (the receiver checks each one as if it came by MQTT)."""
    path = Path(path)
    data = read_bounded(path, MAX_EXPORT_BYTES, "export")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not an outbox export (invalid JSON)") from exc
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise InputError(f"{path}: not an {EXPORT_FORMAT} file")
    items = doc.get("items")
    if not isinstance(items, list):
        raise InputError(f"{path}: no item list")
    out = []
    for i, it in enumerate(items):
        env = it.get("envelope") if isinstance(it, dict) else None
        if not isinstance(env, str) or len(env) > 2 * MAX_ENVELOPE:
            raise InputError(f"{path}: item {i} has no envelope")
        try:
            out.append(base64.b64decode(env, validate=True))
        except ValueError as exc:
            raise InputError(f"{path}: item {i} is not base64") from exc
    return out
