"""Read an outbox export (`emoface outbox export`) one envelope at a time.

An export is one JSON object `{"format": ..., "exported": ..., "items": [{...}, ...]}` and
may hold hundreds of megabytes; `read_export` in the device package parses it whole. Here
the file is read in chunks and each item is decoded on its own, so memory stays bounded
by one item (an envelope is at most MAX_ENVELOPE bytes) however large the file is. The
top-level fields other than `items` must be small; `format` must come before `items` and
name the export format, as `emoface outbox export` writes it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path

from device.delivery.outbox import EXPORT_FORMAT
from device.errors import InputError
from device.wire.envelope import MAX_ENVELOPE

CHUNK = 1 << 16
MAX_ITEM_CHARS = 2 * MAX_ENVELOPE + 4096  # base64 of the largest envelope, plus its keys
MAX_FIELD_CHARS = 4096  # any other top-level value
_WS = " \t\r\n"
_DECODER = json.JSONDecoder()


class _Reader:
    """A sliding window over the file: never holds more than one value plus a chunk."""

    def __init__(self, f, path: Path):
        self.f, self.path, self.buf, self.pos, self.eof = f, path, "", 0, False

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.f.read(CHUNK)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                raise InputError(f"{self.path}: truncated export (unexpected end of file)")

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise InputError(f"{self.path}: not an outbox export (expected {ch!r})")
        self.pos += 1

    def value(self, limit: int, what: str):
        """Decode one JSON value of at most `limit` characters."""
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except RecursionError as exc:
                raise InputError(f"{self.path}: {what} is nested too deeply") from exc
            except ValueError as exc:
                if len(self.buf) - self.pos > limit:
                    raise InputError(f"{self.path}: {what} is larger than {limit} bytes") from exc
                if not self._fill():
                    raise InputError(f"{self.path}: {what} is not valid JSON") from exc
                continue
            if end - self.pos > limit:
                raise InputError(f"{self.path}: {what} is larger than {limit} bytes")
            # a number at the window's end may continue in the next chunk
            at_edge = end == len(self.buf) and not isinstance(obj, dict | list | str)
            if at_edge and self._fill():
                continue
            self.pos = end
            return obj


def iter_export(path: Path) -> Iterator[bytes]:
    """The envelopes of an export file, one at a time; a clear InputError on anything else."""
    path = Path(path)
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise InputError(f"{path}: cannot read export: {exc.strerror or exc}") from exc
    with f:
        try:
            yield from _items(_Reader(f, path), path)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not an outbox export (not UTF-8 text)") from exc
        except OSError as exc:
            raise InputError(f"{path}: cannot read export: {exc.strerror or exc}") from exc


def _items(r: _Reader, path: Path) -> Iterator[bytes]:
    r.expect("{")
    seen_format = False
    while True:
        if r.peek() == "}":
            raise InputError(f"{path}: no item list")
        key = r.value(256, "a key")
        if not isinstance(key, str):
            raise InputError(f"{path}: not an outbox export")
        r.expect(":")
        if key == "items":
            if not seen_format:
                raise InputError(f"{path}: not an {EXPORT_FORMAT} file")
            yield from _item_list(r, path)
            return
        value = r.value(MAX_FIELD_CHARS, f"field {key!r}")
        if key == "format":
            if value != EXPORT_FORMAT:
                raise InputError(f"{path}: not an {EXPORT_FORMAT} file")
            seen_format = True
        if r.peek() == ",":
            r.pos += 1
        else:
            r.expect("}")
            raise InputError(f"{path}: no item list")


def _item_list(r: _Reader, path: Path) -> Iterator[bytes]:
    r.expect("[")
    if r.peek() == "]":
        return
    i = 0
    while True:
        it = r.value(MAX_ITEM_CHARS, f"item {i}")
        env = it.get("envelope") if isinstance(it, dict) else None
        if not isinstance(env, str) or len(env) > 2 * MAX_ENVELOPE:
            raise InputError(f"{path}: item {i} has no envelope")
        try:
            yield base64.b64decode(env, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise InputError(f"{path}: item {i} is not base64") from exc
        i += 1
        if r.peek() == ",":
            r.pos += 1
            continue
        r.expect("]")
        return
