"""Where opened summaries live at the clinic: SQLite by default, PostgreSQL through a URL.

Each summary is stored once: message_id is the primary key and (device_id, boot_id, seq)
is unique, so a resend is recognised and a replayed sequence number with another message
id is refused even when several receivers share one PostgreSQL database. Rejections are
kept too (reason, device, time; never the payload) for `emoface receiver stats`. Writes
happen inside the caller's transaction: the receiver commits once per batch.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from device.errors import InputError
from device.wire.envelope import Header
from receiver.store.backend import Backend, StoreError, is_postgres, sqlite_path
from receiver.store.migrations import current_version, migrate, session_code

_INSERT_HEAD = (
    "INSERT INTO summaries (message_id, device_id, key_id, boot_id, seq, created,"
    " received, schema_version, summary, session_code)"
)
_ROW_PLACEHOLDERS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class SignedRow(NamedTuple):
    """A checked summary as the receiver stores it: the signed JSON text as it came and the
    two fields the store indexes. A batch of these holds no parsed summaries (600 objects
    each for a kiosk summary), which the receiver drops as soon as they are checked."""

    header: Header
    received: float
    text: str
    schema_version: str
    session_code: str | None

    @classmethod
    def of(cls, header: Header, summary: dict, received: float, text: str | None = None):
        """From a parsed summary; without `text` (a direct insert) it is encoded here."""
        if text is None:  # keys as they are
            text = json.dumps(summary, separators=(",", ":"), ensure_ascii=False)
        return cls(header, received, text, summary["schema_version"], session_code(summary))


class Store:
    """The receiver's store; `Store(url)` opens it and brings its schema up to date.

    `create=False` is for read-only commands: a missing SQLite file is a clear error
    instead of a new empty store.
    """

    def __init__(self, url: str, create: bool = True):
        self.url = url
        if not create and not is_postgres(url) and not sqlite_path(url).is_file():
            raise InputError(f"{sqlite_path(url)}: no receiver store there")
        self.backend = Backend(url, create)
        self.kind = self.backend.kind
        self.db = self.backend.db
        self.migrated = migrate(self.backend)

    def _x(self, sql: str, params: tuple | list = ()):
        return self.backend.execute(sql, params)

    def schema_version(self) -> int:
        return current_version(self.backend)

    def commit(self) -> None:
        self.backend.commit()

    def rollback(self) -> None:
        self.backend.rollback()

    def close(self) -> None:
        self.backend.close()

    # -- writing (inside the caller's batch transaction) ---------------------------------------
    def existing(self, header: Header) -> str | None:
        """ "duplicate" when this message id is stored, "replay" when its (device, boot, seq)
        is stored under another message id, else None."""
        return self.existing_many([header]).get(header.message_id)

    def existing_many(self, headers: list[Header]) -> dict[str, str]:
        """`existing` for a whole batch in one query: message id -> "duplicate" | "replay"."""
        if not headers:
            return {}
        out: dict[str, str] = {}
        for chunk in _chunks(headers, 200):
            ids = [h.message_id for h in chunk]
            triples = [(h.device_id, h.boot_id, h.seq) for h in chunk]
            where = " OR ".join(["(device_id = ? AND boot_id = ? AND seq = ?)"] * len(chunk))
            rows = self._x(
                "SELECT message_id, device_id, boot_id, seq FROM summaries WHERE message_id IN"
                f" ({', '.join('?' * len(ids))}) OR {where}",
                (*ids, *[v for t in triples for v in t]),
            ).fetchall()
            stored_ids = {r[0] for r in rows}
            stored_seqs = {(r[1], r[2], r[3]) for r in rows}
            for h in chunk:
                if h.message_id in stored_ids:
                    out[h.message_id] = "duplicate"
                elif (h.device_id, h.boot_id, h.seq) in stored_seqs:
                    out[h.message_id] = "replay"
        return out

    def insert(self, header: Header, summary: dict, received: float) -> bool:
        return bool(self.insert_many([(header, summary, received)]))

    def insert_many(self, items: Iterable[tuple]) -> set[str]:
        """Insert a batch of (header, summary, received[, text]); see `insert_rows`. `text`
        is the summary's JSON as signed; without it the summary is encoded."""
        return self.insert_rows([SignedRow.of(*it) for it in items])

    def insert_rows(self, items: Iterable[SignedRow]) -> set[str]:
        """Insert a batch in one statement per 500 rows (sorted by message id, so concurrent
        receivers lock rows in one order); return the message ids that were new. A row
        another receiver committed meanwhile is skipped, never stored twice."""
        items = sorted(items, key=lambda it: it.header.message_id)
        new: set[str] = set()
        if self.kind == "sqlite" and sqlite3.sqlite_version_info < (3, 35, 0):
            for it in items:  # an older SQLite (no RETURNING): one row at a time
                sql = f"{_INSERT_HEAD} VALUES {_ROW_PLACEHOLDERS} ON CONFLICT DO NOTHING"
                if self._x(sql, _row(it)).rowcount == 1:
                    new.add(it.header.message_id)
            return new
        for chunk in _chunks(items, 500):
            # RETURNING names exactly the rows this statement added (SQLite >= 3.35 too)
            values = ", ".join([_ROW_PLACEHOLDERS] * len(chunk))
            rows = self._x(
                f"{_INSERT_HEAD} VALUES {values} ON CONFLICT DO NOTHING RETURNING message_id",
                [v for it in chunk for v in _row(it)],
            ).fetchall()
            new.update(r[0] for r in rows)
        return new

    def reject(self, reason: str, device_id: str | None, message_id: str | None, detail: str):
        self._x(
            "INSERT INTO rejections (received, reason, device_id, message_id, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (time.time(), reason, device_id, message_id, detail[:500]),
        )

    # -- reading ----------------------------------------------------------------------------
    def count(self) -> int:
        return self._x("SELECT count(*) FROM summaries").fetchone()[0]

    def message_ids(self) -> list[str]:
        return [r[0] for r in self._x("SELECT message_id FROM summaries").fetchall()]

    def list(self, device_id: str | None = None, limit: int = 50) -> list[dict]:
        sql = (
            "SELECT message_id, device_id, seq, created, received, schema_version, session_code"
            " FROM summaries"
        )
        params: tuple = ()
        if device_id:
            sql += " WHERE device_id = ?"
            params = (device_id,)
        sql += " ORDER BY received DESC LIMIT ?"
        rows = self._x(sql, (*params, limit)).fetchall()
        keys = (
            "message_id",
            "device_id",
            "seq",
            "created",
            "received",
            "schema_version",
            "session_code",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def get(self, message_id: str) -> dict:
        row = self._x(
            "SELECT message_id, device_id, key_id, boot_id, seq, created, received, summary"
            " FROM summaries WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            raise InputError(f"no summary with message id {message_id!r}")
        keys = ("message_id", "device_id", "key_id", "boot_id", "seq", "created", "received")
        out = dict(zip(keys, row[:7], strict=True))
        out["summary"] = json.loads(row[7])
        return out

    def find_by_code(self, code: str) -> list[str]:
        """Message ids of the summaries carrying this session code (normally one)."""
        rows = self._x(
            "SELECT message_id FROM summaries WHERE session_code = ? ORDER BY received", (code,)
        ).fetchall()
        return [r[0] for r in rows]

    def iter_summaries(self, since: float | None = None, batch: int = 500) -> Iterator[dict]:
        """Every stored summary received at or after `since`, oldest first, read in pages
        of `batch` rows so an export of any size runs in bounded memory."""
        last: tuple[float, str] = (since if since is not None else float("-inf"), "")
        first = True
        while True:
            cond = (
                "received >= ?" if first else "(received > ? OR (received = ? AND message_id > ?))"
            )
            params: tuple = (last[0],) if first else (last[0], last[0], last[1])
            rows = self._x(
                "SELECT message_id, device_id, boot_id, seq, created, received, schema_version,"
                f" session_code, summary FROM summaries WHERE {cond}"
                " ORDER BY received, message_id LIMIT ?",
                (*params, batch),
            ).fetchall()
            self.backend.commit()  # end the read transaction between pages
            if not rows:
                return
            keys = (
                "message_id",
                "device_id",
                "boot_id",
                "seq",
                "created",
                "received",
                "schema_version",
                "session_code",
            )
            for r in rows:
                out = dict(zip(keys, r[:8], strict=True))
                out["summary"] = json.loads(r[8])
                yield out
            last = (rows[-1][5], rows[-1][0])
            first = False

    def rejection_counts(self) -> dict[str, int]:
        rows = self._x("SELECT reason, count(*) FROM rejections GROUP BY reason").fetchall()
        return {r: n for r, n in rows}

    def device_counts(self) -> dict[str, int]:
        rows = self._x("SELECT device_id, count(*) FROM summaries GROUP BY device_id").fetchall()
        return {d: n for d, n in rows}


def _row(it: SignedRow) -> tuple:
    h = it.header
    return (
        h.message_id,
        h.device_id,
        h.key_id,
        h.boot_id,
        h.seq,
        float(h.created),
        it.received,
        it.schema_version,
        it.text,
        it.session_code,
    )


def _chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


__all__ = ["SignedRow", "Store", "StoreError"]
