"""One database connection behind a small interface, so the store's SQL runs on SQLite
(one clinic PC) and PostgreSQL (several receivers sharing one database) alike.

SQL is written once with `?` placeholders; for PostgreSQL they become `%s`. DDL may use
`{id}` (an auto-increment primary key), `{blob}` and `{real}` so one statement fits both.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path

from device.errors import EmofaceError

POSTGRES_PREFIXES = ("postgresql://", "postgres://")
SQLITE_PAGE_SIZE = 16384  # for a new store file

_TYPES = {
    "sqlite": {
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "blob": "BLOB",
        "real": "DOUBLE PRECISION",
    },
    "postgres": {"id": "BIGSERIAL PRIMARY KEY", "blob": "BYTEA", "real": "DOUBLE PRECISION"},
}


class StoreError(EmofaceError):
    """The store cannot be opened, migrated or written."""

    exit_code = 5


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_PREFIXES)


def redacted(url: str) -> str:
    """The store URL fit for a log or an error message: any password replaced by ***."""
    if not is_postgres(url):
        return url
    scheme, rest = url.split("://", 1)
    netloc, sep, tail = rest.partition("/")
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    tail = re.sub(r"(?i)(password=)[^&]*", r"\1***", tail)
    return f"{scheme}://{netloc}{sep}{tail}"


def sqlite_path(url: str) -> Path:
    """`sqlite:///path`, `sqlite:path` or a bare path."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return Path(url.removeprefix("sqlite:") if url.startswith("sqlite:") else url)


class Backend:
    """A DB-API connection plus the dialect; the caller decides when to commit."""

    kind: str

    def __init__(self, url: str, create: bool = True):
        self.url = url
        self.name = redacted(url)  # for messages: never the password
        if is_postgres(url):
            self.kind = "postgres"
            self.db = _connect_postgres(url)
        else:
            self.kind = "sqlite"
            self.db = _connect_sqlite(sqlite_path(url), create)

    @property
    def integrity_errors(self) -> tuple:
        if self.kind == "postgres":
            import psycopg

            return (psycopg.IntegrityError,)
        return (sqlite3.IntegrityError,)

    def sql(self, text: str) -> str:
        text = text.format(**_TYPES[self.kind]) if "{" in text else text
        return text.replace("?", "%s") if self.kind == "postgres" else text

    def execute(self, text: str, params: tuple | list = ()):
        cur = self.db.cursor()
        cur.execute(self.sql(text), params)
        return cur

    def executemany(self, text: str, rows: list) -> None:
        if rows:
            self.db.cursor().executemany(self.sql(text), rows)

    def begin_exclusive(self) -> None:
        """Serialise schema changes between processes sharing this database."""
        if self.kind == "postgres":
            self.execute("SELECT pg_advisory_xact_lock(715517)")
        else:
            if self.db.in_transaction:
                self.db.commit()
            self.db.execute("BEGIN IMMEDIATE")

    def table_exists(self, name: str) -> bool:
        if self.kind == "postgres":
            row = self.execute("SELECT to_regclass(?)", (name,)).fetchone()
            return row[0] is not None
        row = self.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def columns(self, table: str) -> set[str]:
        if self.kind == "postgres":
            rows = self.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?",
                (table,),
            ).fetchall()
            return {r[0] for r in rows}
        return {r[1] for r in self.execute(f"PRAGMA table_info({table})").fetchall()}

    def commit(self) -> None:
        self.db.commit()

    def rollback(self) -> None:
        self.db.rollback()

    def close(self) -> None:
        self.db.close()


def _connect_postgres(url: str):
    try:
        import psycopg
    except ImportError as exc:
        raise StoreError(
            "PostgreSQL store needs psycopg: pip install 'emoface-edge[receiver-postgres]'"
        ) from exc
    try:
        return psycopg.connect(url, connect_timeout=10)
    except Exception as exc:
        raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc


def _connect_sqlite(path: Path, create: bool):
    if not create and not path.is_file():
        raise StoreError(f"{path}: no store there (give --store or --clinic of a receiver)")
    if path.exists() and not path.is_file():
        raise StoreError(f"{path}: not a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        if new:
            # decrypted summaries: readable by the receiver's user only
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        return _sqlite_setup(path, new)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise StoreError(f"{path}: cannot open store: {exc}") from exc


def _sqlite_setup(path: Path, new: bool, wait_s: float = 30.0):
    """A connection in WAL mode. Receivers opening one new file together can find it
    "locked" at once: switching a fresh file to WAL is a write that SQLite refuses
    without waiting when another connection is part-way through the same switch (its busy
    timeout does not apply). That is retried here until `wait_s` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        db = sqlite3.connect(path, timeout=wait_s, check_same_thread=False)
        try:
            if new:
                # a summary is 20-50 KB: 16 KB pages store one in 3-4 pages instead of
                # 5-13 and take about half the CPU per insert; fixed once the file has content
                db.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
