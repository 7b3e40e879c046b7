"""`emoface receiver export`: stored sessions as one table for research, CSV or Parquet.

One row per stored summary (one kiosk session): who and when (session code, device,
message id, created and received times in UTC), then every number the summary holds for
the whole session - biomarkers, classifier probabilities, quality figures (frames seen,
used, dropped, rejected by reason), capture statistics - and the questionnaire totals.
Columns are flattened key paths (`session.biomarkers.blinks.rate_per_min`,
`questionnaire.PHQ-9.total`). No free text ever leaves: strings are dropped, as are
per-item answers and any key that is not a plain identifier.

The export reads the store in pages twice (first the column set, then the rows) and
writes as it goes, so memory stays bounded whatever the store's size; the file appears
atomically when complete.
"""

from __future__ import annotations

import csv
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from device.errors import InputError
from receiver.store import Store

FORMATS = ("csv", "parquet")
LEADING = ("session_code", "device_id", "message_id", "created_utc", "received_utc", "completion")
_KEY = re.compile(r"[A-Za-z0-9_:\-]{1,64}")
_COMPLETION = {"complete", "incomplete"}
# top-level blocks whose numbers describe the whole session (segments are left out)
_BLOCKS = ("session", "flags", "capture")
_QUESTIONNAIRE_FIELDS = ("complete", "total", "max_total", "item9_flag")
ROW_GROUP = 1000


def parse_since(text: str | None) -> float | None:
    """`2026-11-30`, `2026-11-30T08:00`, `2026-11-30T08:00:00Z` (UTC unless an offset is
    given) -> seconds since the epoch; None -> None (everything)."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"--since {text!r}: expected a date or time like 2026-11-30 or 2026-11-30T08:00Z"
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _flatten(obj, prefix: str, out: dict[str, float]) -> None:
    if isinstance(obj, bool):
        out[prefix] = 1.0 if obj else 0.0
    elif isinstance(obj, int | float):
        if isinstance(obj, float) and not math.isfinite(obj):
            return
        out[prefix] = float(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and _KEY.fullmatch(k):
                _flatten(v, f"{prefix}.{k}", out)
    # strings (free text), lists (per-item answers, segments) and None are left out


def session_row(stored: dict) -> dict:
    """One export row from a stored summary (`Store.iter_summaries` item)."""
    s = stored["summary"]
    completion = (
        (s.get("completion") or {}).get("status") if isinstance(s.get("completion"), dict) else None
    )
    row: dict = {
        "session_code": stored.get("session_code"),
        "device_id": stored["device_id"],
        "message_id": stored["message_id"],
        "created_utc": _iso(stored["created"]),
        "received_utc": _iso(stored["received"]),
        "completion": completion if completion in _COMPLETION else None,
    }
    numbers: dict[str, float] = {}
    for block in _BLOCKS:
        if isinstance(s.get(block), dict):
            _flatten(s[block], block, numbers)
    qs = s.get("questionnaires")
    if isinstance(qs, dict):
        for name, q in qs.items():
            if not (isinstance(name, str) and _KEY.fullmatch(name) and isinstance(q, dict)):
                continue
            for f in _QUESTIONNAIRE_FIELDS:
                _flatten(q.get(f), f"questionnaire.{name}.{f}", numbers)
    row.update(numbers)
    return row


class Progress:
    """`rows written` on stderr, at most twice a second (a terminal only)."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.last = 0.0

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.enabled and (final or now - self.last > 0.5):
            self.last = now
            end = "\n" if final else "\r"
            print(f"exported {done} sessions", end=end, file=sys.stderr, flush=True)


def export(
    store: Store,
    out: Path,
    fmt: str,
    since: float | None = None,
    progress: Callable[[int, bool], None] | None = None,
) -> int:
    """Write the table to `out`; return the number of rows."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    out = Path(out)
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give a file name")
    columns: dict[str, None] = {}
    for stored in store.iter_summaries(since):
        for k in session_row(stored):
            columns.setdefault(k, None)
    names = list(LEADING) + sorted(k for k in columns if k not in LEADING)
    rows = (session_row(s) for s in store.iter_summaries(since))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            written = _write_csv(tmp, names, rows, progress)
        else:
            written = _write_parquet(tmp, names, rows, progress)
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"{out}: cannot write export: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    if progress:
        progress(written, True)
    return written


def _write_csv(path: Path, names: list[str], rows: Iterator[dict], progress) -> int:
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=names, restval="", extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})
            n += 1
            if progress and n % 200 == 0:
                progress(n, False)
    return n


def _write_parquet(path: Path, names: list[str], rows: Iterator[dict], progress) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InputError(
            "--format parquet needs pyarrow: pip install 'emoface-edge[receiver]'"
        ) from exc
    fields = [pa.field(k, pa.string()) for k in LEADING]
    fields += [pa.field(k, pa.float64()) for k in names[len(LEADING) :]]
    schema = pa.schema(fields)
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        page: list[dict] = []
        for row in rows:
            page.append(row)
            if len(page) >= ROW_GROUP:
                writer.write_table(_table(pa, schema, names, page))
                n += len(page)
                page = []
                if progress:
                    progress(n, False)
        if page or n == 0:
            writer.write_table(_table(pa, schema, names, page))
            n += len(page)
    return n


def _table(pa, schema, names: list[str], page: list[dict]):
    return pa.table({k: [r.get(k) for r in page] for k in names}, schema=schema)
