"""Urgent-answer alerts at the clinic: stored apart from summaries, shown first, acknowledged
by a clinician (who, when, note), and announced by an optional hook command.

An alert (device.wire.alert) carries only the session code, device, time and item. Intake
stores it with `record_alert` inside the receiver's batch transaction and logs it at
WARNING (message id, device and item only; no session code in the log). `HookRunner`, a
thread beside the receiver, runs the clinic's hook command once per new alert with the
session code, device and time in its environment (never questionnaire content); a failure
is logged and retried with backoff until `max_attempts`.

The tables are created by the store's migrations (receiver.store.migrations, `ALERT_DDL`).
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass

from device.wire.envelope import Header

log = logging.getLogger(__name__)

ALERT_DDL = (
    """CREATE TABLE IF NOT EXISTS alerts (
        message_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, boot_id TEXT NOT NULL,
        seq BIGINT NOT NULL, session_code TEXT NOT NULL, item TEXT NOT NULL,
        alert_time TEXT NOT NULL, created {real} NOT NULL, received {real} NOT NULL,
        hook_state TEXT NOT NULL DEFAULT 'pending', hook_attempts INTEGER NOT NULL DEFAULT 0,
        hook_next {real} NOT NULL DEFAULT 0, hook_error TEXT,
        acked_by TEXT, acked_at {real}, ack_note TEXT,
        UNIQUE (device_id, boot_id, seq))""",
    "CREATE INDEX IF NOT EXISTS alerts_code ON alerts(session_code)",
    "CREATE INDEX IF NOT EXISTS alerts_open ON alerts(acked_at, received)",
)

_COLUMNS = (
    "message_id", "device_id", "session_code", "item", "alert_time", "created", "received",
    "hook_state", "hook_attempts", "hook_error", "acked_by", "acked_at", "ack_note",
)  # fmt: skip


@dataclass(frozen=True)
class Alert:
    message_id: str
    device_id: str
    session_code: str
    item: str
    alert_time: str  # ISO 8601 UTC, from the device
    created: float
    received: float
    hook_state: str
    hook_attempts: int
    hook_error: str | None
    acked_by: str | None
    acked_at: float | None
    ack_note: str | None

    @property
    def open(self) -> bool:
        return self.acked_at is None

    @property
    def item_words(self) -> str:
        return ITEM_WORDS.get(self.item, self.item)


ITEM_WORDS = {
    "PHQ-9:9": "PHQ-9 item 9 (thoughts of being better off dead or of self-harm) "
    "answered above \u201cNot at all\u201d",
}


def record_alert(store, header: Header, alert: dict, received: float) -> bool:
    """Insert a validated alert in the caller's transaction; False when already stored."""
    cur = store.backend.execute(
        "INSERT INTO alerts (message_id, device_id, boot_id, seq, session_code, item,"
        " alert_time, created, received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (
            header.message_id,
            header.device_id,
            header.boot_id,
            header.seq,
            alert["session_code"],
            alert["item"],
            alert["time"],
            float(header.created),
            received,
        ),
    )
    new = cur.rowcount == 1
    if new:
        log.warning(
            "URGENT ALERT from %s (message %s): %s; see the dashboard's alert queue",
            header.device_id,
            header.message_id,
            alert["item"],
        )
    return new


def list_alerts(
    store, open_only: bool = False, code: str | None = None, limit: int = 200
) -> list[Alert]:
    sql = f"SELECT {', '.join(_COLUMNS)} FROM alerts"
    where, params = [], []
    if open_only:
        where.append("acked_at IS NULL")
    if code:
        where.append("session_code = ?")
        params.append(code)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY received DESC LIMIT ?"
    rows = store.backend.execute(sql, (*params, limit)).fetchall()
    return [Alert(*r) for r in rows]


def get_alert(store, message_id: str) -> Alert | None:
    row = store.backend.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM alerts WHERE message_id = ?", (message_id,)
    ).fetchone()
    return Alert(*row) if row else None


def acknowledge(store, message_id: str, who: str, note: str, when: float | None = None) -> bool:
    """Record that `who` has seen the alert (committed); False when unknown or already done."""
    cur = store.backend.execute(
        "UPDATE alerts SET acked_by = ?, acked_at = ?, ack_note = ?"
        " WHERE message_id = ? AND acked_at IS NULL",
        (who, time.time() if when is None else when, note[:2000], message_id),
    )
    store.commit()
    return cur.rowcount == 1


def codes_with_alerts(store) -> set[str]:
    return {r[0] for r in store.backend.execute("SELECT DISTINCT session_code FROM alerts")}


# -- the hook ----------------------------------------------------------------------------------
class HookRunner:
    """Runs `command` once per new alert; environment EMOFACE_SESSION_CODE, EMOFACE_DEVICE,
    EMOFACE_ALERT_TIME. Retries a failure (non-zero exit, timeout, not found) with backoff."""

    def __init__(
        self,
        store_factory,
        command: str,
        poll_s: float = 0.2,
        timeout_s: float = 30.0,
        max_attempts: int = 8,
        backoff_s: float = 5.0,
    ):
        self.store_factory = store_factory  # called on the runner's thread
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("empty hook command")
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> HookRunner:
        self._thread = threading.Thread(target=self._loop, name="emoface-alert-hook", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        store = self.store_factory()
        try:
            while not self._stop.is_set():
                try:
                    self.run_due(store)
                except Exception:
                    log.exception("alert hook pass failed; trying again")
                    store.rollback()
                self._stop.wait(self.poll_s)
        finally:
            store.close()

    def run_due(self, store, now: float | None = None) -> int:
        """Run the hook for every alert whose turn has come; returns how many ran."""
        now = time.time() if now is None else now
        rows = store.backend.execute(
            "SELECT message_id, device_id, session_code, alert_time, hook_attempts FROM alerts"
            " WHERE hook_state = 'pending' AND hook_next <= ? ORDER BY received",
            (now,),
        ).fetchall()
        store.commit()
        for message_id, device_id, code, when, attempts in rows:
            error = self._run_one(code, device_id, when)
            attempts += 1
            if error is None:
                state, nxt = "done", 0.0
                log.info("alert hook ran for message %s", message_id)
            elif attempts >= self.max_attempts:
                state, nxt = "failed", 0.0
                log.error(
                    "alert hook for message %s failed %d times, giving up: %s",
                    message_id, attempts, error,
                )  # fmt: skip
            else:
                state, nxt = "pending", time.time() + self.backoff_s * 2 ** (attempts - 1)
                log.error(
                    "alert hook for message %s failed (attempt %d, retrying): %s",
                    message_id, attempts, error,
                )  # fmt: skip
            store.backend.execute(
                "UPDATE alerts SET hook_state = ?, hook_attempts = ?, hook_next = ?,"
                " hook_error = ? WHERE message_id = ?",
                (state, attempts, nxt, error, message_id),
            )
            store.commit()
            self.runs += 1
        return len(rows)

    def _run_one(self, code: str, device_id: str, when: str) -> str | None:
        env = dict(os.environ)
        env.update(EMOFACE_SESSION_CODE=code, EMOFACE_DEVICE=device_id, EMOFACE_ALERT_TIME=when)
        try:
            proc = subprocess.run(
                self.argv, env=env, capture_output=True, timeout=self.timeout_s, check=False
            )
        except FileNotFoundError:
            return f"command not found: {self.argv[0]}"
        except subprocess.TimeoutExpired:
            return f"timed out after {self.timeout_s:g} s"
        except OSError as exc:
            return f"cannot run: {exc}"
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip()[-200:]
            return f"exit status {proc.returncode}" + (f": {tail}" if tail else "")
        return None
