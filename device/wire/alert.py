"""The urgent-answer alert: the second payload kind the device seals (beside the summary).

When a patient gives an answer the clinic must hear about at once (by default any PHQ-9
item 9 answer above "Not at all"), the kiosk seals a small alert in the same envelope as a
summary (same signature, encryption, outbox and acknowledgement) and sends it ahead of
everything else. It says which session (its human-readable code), which device, when, and
which item; nothing else, so a hook or pager that sees it learns no questionnaire content.

The session-code rule lives here too, because the code travels in both payloads and the
receiver checks it: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L).
"""

from __future__ import annotations

import re
import time

from device.errors import InputError
from device.wire.topics import is_device_id

SCHEMA_VERSION = "emoface.alert/1"
SUMMARY_SCHEMA_PREFIX = "emoface.summary/"
SESSION_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SESSION_CODE_LENGTH = 6
_CODE_RE = re.compile(f"[{SESSION_CODE_ALPHABET}]{{{SESSION_CODE_LENGTH}}}")
_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
# the items that can raise an alert, as "<instrument>:<item number>"
ITEMS = ("PHQ-9:9",)
FIELDS = ("schema_version", "session_code", "device_id", "time", "item")


class AlertError(InputError):
    """An alert that does not follow its schema (the message says which field)."""


def is_session_code(value: object) -> bool:
    return isinstance(value, str) and _CODE_RE.fullmatch(value) is not None


def payload_kind(payload: dict) -> str:
    """ "alert" or "summary", from an opened payload's schema_version (else "unknown")."""
    sv = payload.get("schema_version") if isinstance(payload, dict) else None
    if sv == SCHEMA_VERSION:
        return "alert"
    if isinstance(sv, str) and sv.startswith(SUMMARY_SCHEMA_PREFIX):
        return "summary"
    return "unknown"


def iso_utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def make_alert(session_code: str, device_id: str, item: str, when: float | None = None) -> dict:
    """A validated alert document for `item` (one of ITEMS) raised now or at `when`."""
    alert = {
        "schema_version": SCHEMA_VERSION,
        "session_code": session_code,
        "device_id": device_id,
        "time": iso_utc(time.time() if when is None else when),
        "item": item,
    }
    validate_alert(alert)
    return alert


def validate_alert(alert: dict) -> None:
    """Raise AlertError naming the first problem; exactly the five fields, each in range."""
    if not isinstance(alert, dict):
        raise AlertError("alert: must be an object")
    extra = sorted(set(alert) - set(FIELDS))
    missing = [f for f in FIELDS if f not in alert]
    if extra or missing:
        raise AlertError(f"alert: unexpected fields {extra}, missing {missing}")
    if alert["schema_version"] != SCHEMA_VERSION:
        raise AlertError(
            f"alert.schema_version: {alert['schema_version']!r} is not {SCHEMA_VERSION!r}"
        )
    if not is_session_code(alert["session_code"]):
        raise AlertError(f"alert.session_code: {alert['session_code']!r} is not a session code")
    if not is_device_id(alert["device_id"]):
        raise AlertError(f"alert.device_id: {alert['device_id']!r} is not a device id")
    if not isinstance(alert["time"], str) or not _TIME_RE.fullmatch(alert["time"]):
        raise AlertError(
            f"alert.time: {alert['time']!r} is not ISO 8601 UTC (YYYY-MM-DDTHH:MM:SSZ)"
        )
    if alert["item"] not in ITEMS:
        raise AlertError(f"alert.item: {alert['item']!r} is not one of {', '.join(ITEMS)}")
