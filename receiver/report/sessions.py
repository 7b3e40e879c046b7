"""One row per patient session for `receiver list` and the dashboard: the session code,
device, local time, whether an urgent answer came in, and how complete the session was.

A session is known by its summary, by its alert, or by both (an alert arrives first; its
summary follows when the session ends). Rows of devices outside `devices` (another
clinic's, in a shared database) are never returned when a device set is given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from receiver.alerts import list_alerts


@dataclass
class SessionRow:
    code: str | None
    device_id: str
    when: float  # summary received, else alert received (epoch seconds)
    message_id: str | None = None  # the summary's, None while only the alert has come
    urgent: bool = False
    completeness: str = "alert only: summary not yet received"
    alert_ids: list[str] = field(default_factory=list)
    open_alerts: int = 0

    @property
    def local_time(self) -> str:
        return local_iso(self.when)


def local_iso(t: float | None) -> str:
    """ISO 8601 in the clinic's (this machine's) time zone, with its offset."""
    if t is None:
        return "-"
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def completeness(summary: dict) -> str:
    c = summary.get("completion") or {}
    status = c.get("status") or "unknown"
    reason = str(c["reason"]).replace("_", " ") if c.get("reason") else None
    return f"{status}: {reason}" if reason else status


def session_rows(
    store,
    device: str | None = None,
    code: str | None = None,
    urgent_only: bool = False,
    since: float | None = None,
    until: float | None = None,
    devices: set[str] | None = None,
    limit: int = 50,
) -> list[SessionRow]:
    rows: dict[tuple, SessionRow] = {}
    for r in store.list(device, limit=max(limit, 200)):
        if devices is not None and r["device_id"] not in devices:
            continue
        if code and r.get("session_code") != code:
            continue
        s = store.get(r["message_id"])["summary"]
        row = SessionRow(
            r.get("session_code"),
            r["device_id"],
            r["received"],
            r["message_id"],
            bool((s.get("flags") or {}).get("phq9_item9")),
            completeness(s),
        )
        rows[(row.device_id, row.code or row.message_id)] = row
    for a in list_alerts(store, code=code, limit=1000):
        if devices is not None and a.device_id not in devices:
            continue
        if device and a.device_id != device:
            continue
        key = (a.device_id, a.session_code)
        row = rows.get(key)
        if row is None:
            row = rows[key] = SessionRow(a.session_code, a.device_id, a.received)
        row.urgent = True
        row.alert_ids.append(a.message_id)
        row.open_alerts += a.open
    store.commit()
    out = [
        r
        for r in rows.values()
        if (not urgent_only or r.urgent)
        and (since is None or r.when >= since)
        and (until is None or r.when < until)
    ]
    out.sort(key=lambda r: r.when, reverse=True)
    return out[:limit]


def format_table(rows: list[SessionRow]) -> str:
    """`receiver list`: aligned columns, a header line, newest first."""
    head = ("CODE", "DEVICE", "LOCAL TIME", "URGENT", "COMPLETENESS", "MESSAGE ID")
    body = [
        (
            r.code or "-",
            r.device_id,
            r.local_time,
            ("YES (open)" if r.open_alerts else "yes") if r.urgent else "-",
            r.completeness,
            r.message_id or "-",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in (head, *body)) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
        for line in (head, *body)
    ]
    tz = time.strftime("%Z")
    return "\n".join(lines) + f"\n(times in the clinic's time zone, {tz})"
