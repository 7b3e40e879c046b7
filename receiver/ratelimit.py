"""Per-device limits on refusals, so one hostile or broken device cannot drown the receiver.

Every refusal costs a log line and a row in the rejections table; a device that floods
junk would otherwise fill both and slow every other device's summaries. `RefusalLimiter`
counts refusals per device in a fixed window (default 20 per 60 s). Beyond the limit:

- further refusals of that device are only counted: no log line, no row, no refusal
  answer; one line per window says how many were suppressed;
- the device's next messages are not even opened (no decryption) until the window ends;
  they get no ack, so a well-behaved device simply resends them later (transient).

Counts never include any content: only the device id and numbers are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 20
DEFAULT_WINDOW_S = 60.0


class RefusalLimiter:
    """Counts refusals per device per window; `note` says whether this one may be recorded."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        if limit < 1 or window_s <= 0:
            raise ValueError("limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._window: dict[str, tuple[float, int]] = {}  # device -> (window start, refusals)
        self.suppressed_total = 0

    def _roll(self, key: str, now: float) -> tuple[float, int]:
        start, n = self._window.get(key, (now, 0))
        if now - start >= self.window_s:
            if n > self.limit:
                log.warning(
                    "device %s: %d refusals in %.0f s, %d of them not logged or recorded",
                    key,
                    n,
                    self.window_s,
                    n - self.limit,
                )
            start, n = now, 0
        return start, n

    def note(self, device_id: str | None) -> bool:
        """Count one refusal; True while the device is within its limit (log and record
        it), False once it is over (count only)."""
        key = device_id or "?"
        with self._lock:
            now = self.clock()
            start, n = self._roll(key, now)
            n += 1
            self._window[key] = (start, n)
            if n == self.limit + 1:
                log.warning(
                    "device %s: more than %d refusals in %.0f s; its messages are dropped"
                    " unopened until the window ends",
                    key,
                    self.limit,
                    self.window_s,
                )
            if n > self.limit:
                self.suppressed_total += 1
                return False
            return True

    def blocked(self, device_id: str | None) -> bool:
        """True while the device is over its limit in the current window."""
        key = device_id or "?"
        with self._lock:
            start, n = self._roll(key, self.clock())
            self._window[key] = (start, n)
            return n > self.limit
