"""Where opened summaries live at the clinic: SQLite by default, PostgreSQL through a URL.

Each summary is stored once: message_id is the primary key and (device_id, boot_id, seq)
is unique, so a resend is recognised and a replayed sequence number with another message
id is refused even when several receivers share one PostgreSQL database. Rejections are
kept too (reason, device, time; never the payload) for `emoface receiver stats`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from device.errors import EmofaceError, InputError
from device.wire.envelope import Header

_DDL = {
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


class StoreError(EmofaceError):
    exit_code = 5


class Store:
    """A thin DB-API wrapper; `?` placeholders are rewritten for psycopg."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError as exc:
                raise StoreError(
                    "PostgreSQL store needs psycopg: pip install 'emoface-edge[receiver-postgres]'"
                ) from exc
            self.kind = "postgres"
            try:
                self.db = psycopg.connect(url)
            except Exception as exc:
                raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        else:
            path = Path(url.removeprefix("sqlite:///") if url.startswith("sqlite:") else url)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.kind = "sqlite"
            try:
                self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{path}: cannot open store: {exc}") from exc
        for stmt in _DDL[self.kind]:
            self._x(stmt)
        self.commit()

    def _x(self, sql: str, params: tuple = ()):
        if self.kind == "postgres":
            sql = sql.replace("?", "%s")
        cur = self.db.cursor()
        cur.execute(sql, params)
        return cur

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

    def close(self) -> None:
        self.db.close()

    # -- writing (inside the caller's batch transaction) ---------------------------------------
    def existing(self, header: Header) -> str | None:
        """ "duplicate" when this message id is stored, "replay" when its (device, boot, seq)
        is stored under another message id, else None."""
        row = self._x(
            "SELECT message_id FROM summaries WHERE message_id = ? OR"
            " (device_id = ? AND boot_id = ? AND seq = ?) LIMIT 2",
            (header.message_id, header.device_id, header.boot_id, header.seq),
        ).fetchall()
        if not row:
            return None
        return "duplicate" if any(r[0] == header.message_id for r in row) else "replay"

    def insert(self, header: Header, summary: dict, received: float) -> bool:
        cur = self._x(
            "INSERT INTO summaries (message_id, device_id, key_id, boot_id, seq, created,"
            " received, schema_version, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (
                header.message_id,
                header.device_id,
                header.key_id,
                header.boot_id,
                header.seq,
                float(header.created),
                received,
                summary["schema_version"],
                json.dumps(summary, sort_keys=True),
            ),
        )
        return cur.rowcount == 1

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
        sql = "SELECT message_id, device_id, seq, created, received, schema_version FROM summaries"
        params: tuple = ()
        if device_id:
            sql += " WHERE device_id = ?"
            params = (device_id,)
        sql += " ORDER BY received DESC LIMIT ?"
        rows = self._x(sql, (*params, limit)).fetchall()
        keys = ("message_id", "device_id", "seq", "created", "received", "schema_version")
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

    def rejection_counts(self) -> dict[str, int]:
        rows = self._x("SELECT reason, count(*) FROM rejections GROUP BY reason").fetchall()
        return {r: n for r, n in rows}

    def device_counts(self) -> dict[str, int]:
        rows = self._x("SELECT device_id, count(*) FROM summaries GROUP BY device_id").fetchall()
        return {d: n for d, n in rows}
