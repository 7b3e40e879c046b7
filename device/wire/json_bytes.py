"""Reading a summary's signed JSON bytes fast, with exactly the standard library's result.

The receiver parses every summary it stores (~50 KB, ~2,400 numbers from the kiosk): the
standard library's `json.loads` takes about 1 ms of that, orjson about a quarter. orjson is
used only where it is proven to read the bytes as `json.loads` would, so a summary is
accepted or refused, and for the same reason, whichever parser read it:

- orjson refuses what the standard library reads leniently (NaN, Infinity, 1e400, lone
  surrogate escapes): on any orjson error the bytes go to `json.loads`, and the schema
  refuses those values with the reason and message it always gave.
- orjson reads an integer beyond 64 bits as a float, which the schema's integer range check
  would then miss. So orjson is used only when `numbers_in_range` shows from the bytes alone
  that no number token can be out of range: no run of 16 or more digits except a fraction's
  (an integer of at most 15 digits is below 2**53) and no positive exponent (so no float can
  overflow to infinity). Digits inside strings can only send a summary to the slow path.
- Nesting: orjson reads up to 1024 levels, the standard library fails a little below 1000.
  The schema refuses anything deeper than `summary.MAX_DEPTH` (16), so the difference never
  decides a summary's fate.

A True `in_range` from `loads` tells the schema check that the numbers were checked here;
it then only has to look at the containers. Without orjson installed (a kiosk needs none)
everything goes through the standard library.
"""

from __future__ import annotations

import json

try:
    import orjson
except ImportError:  # optional: the receiver's speed-up, never needed for correctness
    orjson = None

_DIGITS = b"123456789+E"
# every digit (and the exponent's `+`) becomes "0", "E" becomes "e": then a few substring
# counts decide, at C speed, what a scan token by token would
_FOLD = bytes.maketrans(_DIGITS, b"0" * 10 + b"e")
_RUN = b"0" * 16


def numbers_in_range(body: bytes) -> bool:
    """True when no number token in `body` can be an integer beyond 15 digits or a float
    that overflows: every run of 16+ digits (counted non-overlapping) starts right after a
    "." and is shorter than 32, and no digit is followed by an exponent with a digit or
    "+". Conservative: digits inside strings may make it False, never wrongly True."""
    folded = body.translate(_FOLD)
    if b"0e0" in folded:
        return False
    runs = folded.count(_RUN)
    return runs == 0 or runs == folded.count(b"." + _RUN)


def loads(body: bytes) -> tuple[object, bool]:
    """(value, in_range): the JSON value of `body` as `json.loads(body.decode("utf-8"))`
    reads it, and whether `numbers_in_range(body)` held (then orjson read it). Raises what
    the standard library raises (UnicodeDecodeError, ValueError, RecursionError). The one
    difference: nesting between the two parsers' limits (~1000 and 1024 levels) is read
    here, where the standard library gives up; the schema refuses it (MAX_DEPTH)."""
    if orjson is not None and numbers_in_range(body):
        try:
            return orjson.loads(body), True
        except orjson.JSONDecodeError:
            pass  # the standard library decides, and says why
    return json.loads(body.decode("utf-8")), False
