"""Refuse to start while the clock is obviously wrong.

A Pi without a real-time clock boots at its last saved time (or 1970) until NTP answers.
Summaries carry a creation time and certificates have validity windows, so a kiosk that
records sessions with a wrong clock produces records the clinic cannot trust. The floor
is this software's release month: no correct clock can be earlier.
"""

from __future__ import annotations

import calendar
import time

from device.errors import EmofaceError

EARLIEST = calendar.timegm((2026, 11, 1, 0, 0, 0))  # 2026-11-01T00:00Z
LATEST = calendar.timegm((2100, 1, 1, 0, 0, 0))


class ClockError(EmofaceError):
    exit_code = 2


def check_clock(now: float | None = None) -> None:
    """Raise ClockError when the wall clock is before the release date or absurdly late."""
    now = time.time() if now is None else now
    if not EARLIEST <= now < LATEST:
        shown = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(now))
        raise ClockError(
            f"the system clock reads {shown}, which cannot be right: wait for network time "
            "(timedatectl show -p NTPSynchronized) or set the clock, then start again"
        )
