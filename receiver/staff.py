"""Clinic staff accounts, dashboard sessions and the audit log.

Accounts (a clinician or an admin) are made with `emoface provision staff add`; passwords are hashed with argon2id and never stored
or logged in clear. After MAX_FAILURES wrong passwords in a row an account is locked for
LOCK_S seconds. A dashboard login gives a random token (only its SHA-256 is stored) with
its own CSRF token, expiring SESSION_S later. `audit` records who did what to which
record, and when: every view of a session and every acknowledgement; an admin reads it.

The tables are created by the store's migrations (receiver.store.migrations, `STAFF_DDL`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from device.errors import InputError

STAFF_DDL = (
    """CREATE TABLE IF NOT EXISTS staff (
        username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0, locked_until {real} NOT NULL DEFAULT 0,
        created {real} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS web_sessions (
        token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
        created {real} NOT NULL, expires {real} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit (
        id {id}, at {real} NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL,
        target TEXT)""",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit(at)",
)

ROLES = ("clinician", "admin")
USERNAME_RE = re.compile(r"[a-z][a-z0-9._-]{1,31}")
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCK_S = 15 * 60
SESSION_S = 8 * 3600

_hasher = PasswordHasher()


class LoginRefused(Exception):
    """Wrong user or password, or a locked account (the message is safe to show)."""


@dataclass(frozen=True)
class WebSession:
    username: str
    role: str
    csrf: str
    expires: float


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_account(store, username: str, password: str, role: str = "clinician") -> None:
    if not USERNAME_RE.fullmatch(username or ""):
        raise InputError(f"username {username!r}: 2-32 of a-z 0-9 . _ -, starting with a letter")
    if role not in ROLES:
        raise InputError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password: at least {MIN_PASSWORD} characters")
    exists = store.backend.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchone()
    if exists:
        raise InputError(f"account {username!r} exists already")
    store.backend.execute(
        "INSERT INTO staff (username, role, password_hash, created) VALUES (?, ?, ?, ?)",
        (username, role, _hasher.hash(password), time.time()),
    )
    audit(store, "provisioning", "account_created", f"{username} ({role})")
    store.commit()


def list_accounts(store) -> list[tuple[str, str, bool]]:
    now = time.time()
    rows = store.backend.execute(
        "SELECT username, role, locked_until FROM staff ORDER BY username"
    ).fetchall()
    return [(u, r, lu > now) for u, r, lu in rows]


def login(store, username: str, password: str, now: float | None = None) -> tuple[str, WebSession]:
    """Check the password; returns (session token for the cookie, session). Raises LoginRefused."""
    now = time.time() if now is None else now
    row = store.backend.execute(
        "SELECT role, password_hash, failures, locked_until FROM staff WHERE username = ?",
        (username,),
    ).fetchone()
    if row is None:
        _hasher.hash(password)  # same work as a real check: no user-existence oracle by timing
        audit(store, username[:32] or "?", "login_failed", "unknown account")
        store.commit()
        raise LoginRefused("wrong user name or password")
    role, pw_hash, failures, locked_until = row
    if locked_until > now:
        audit(store, username, "login_refused", "account locked")
        store.commit()
        raise LoginRefused("account locked after repeated failures: try again later")
    try:
        _hasher.verify(pw_hash, password)
    except (VerificationError, InvalidHashError):
        failures += 1
        lock = now + LOCK_S if failures >= MAX_FAILURES else 0
        store.backend.execute(
            "UPDATE staff SET failures = ?, locked_until = ? WHERE username = ?",
            (0 if lock else failures, lock, username),
        )
        audit(store, username, "login_failed", "locked" if lock else f"failure {failures}")
        store.commit()
        raise LoginRefused("wrong user name or password") from None
    store.backend.execute(
        "UPDATE staff SET failures = 0, locked_until = 0 WHERE username = ?", (username,)
    )
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session = WebSession(username, role, csrf, now + SESSION_S)
    store.backend.execute(
        "INSERT INTO web_sessions (token_hash, username, csrf, created, expires)"
        " VALUES (?, ?, ?, ?, ?)",
        (_hash_token(token), username, csrf, now, session.expires),
    )
    audit(store, username, "login", None)
    store.commit()
    return token, session


def session_for(store, token: str | None, now: float | None = None) -> WebSession | None:
    """The live session of a cookie token, or None (unknown or expired)."""
    if not token:
        return None
    now = time.time() if now is None else now
    row = store.backend.execute(
        "SELECT s.username, a.role, s.csrf, s.expires FROM web_sessions s"
        " JOIN staff a ON a.username = s.username WHERE s.token_hash = ?",
        (_hash_token(token),),
    ).fetchone()
    store.commit()
    if row is None or row[3] <= now:
        return None
    return WebSession(*row)


def logout(store, token: str) -> None:
    store.backend.execute("DELETE FROM web_sessions WHERE token_hash = ?", (_hash_token(token),))
    store.commit()


def expire_sessions_of(store, username: str) -> None:
    """End every dashboard session of an account now (and tests: an expired session)."""
    store.backend.execute("UPDATE web_sessions SET expires = 0 WHERE username = ?", (username,))
    store.commit()


def audit(store, username: str, action: str, target: str | None) -> None:
    """One audit row in the caller's transaction: who did what to which record, and when."""
    store.backend.execute(
        "INSERT INTO audit (at, username, action, target) VALUES (?, ?, ?, ?)",
        (time.time(), username, action, target),
    )


def read_audit(store, limit: int = 500) -> list[tuple[float, str, str, str | None]]:
    rows = store.backend.execute(
        "SELECT at, username, action, target FROM audit ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    store.commit()
    return [tuple(r) for r in rows]
