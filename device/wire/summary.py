"""The biomarker summary's schema: the one document that leaves the device (sealed).

It holds statistics only. `validate_summary` is run by the device before sealing and by
the receiver after opening; besides structure it enforces the privacy rule that no
per-frame track can ride along: any list longer than MAX_LIST is refused.
"""

from __future__ import annotations

import json
import math

from device.errors import InputError

SCHEMA_VERSION = "emoface.summary/1"
MAX_LIST = 64  # segments, questionnaire items... never a frame-by-frame series
MAX_BYTES = 256 * 1024
REQUIRED = {"schema_version": str, "session": dict, "segments": list}
BLOCK_REQUIRED = {"frames_seen": int, "frames_used": int, "rejected": dict, "features": dict}


class SummaryError(InputError):
    """A summary that does not follow the schema (the message says where)."""


def _walk(obj, path: str) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise SummaryError(f"{path}: keys must be strings")
            _walk(v, f"{path}.{k}")
    elif isinstance(obj, list):
        if len(obj) > MAX_LIST:
            raise SummaryError(f"{path}: list of {len(obj)} items (max {MAX_LIST}): no per-frame data may leave the device")
        for i, v in enumerate(obj):
            _walk(v, f"{path}[{i}]")
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise SummaryError(f"{path}: non-finite number")
    elif obj is not None and not isinstance(obj, str | int | bool):
        raise SummaryError(f"{path}: unsupported type {type(obj).__name__}")


def _require(obj: dict, spec: dict, path: str) -> None:
    for key, tp in spec.items():
        if key not in obj:
            raise SummaryError(f"{path}: missing {key!r}")
        if not isinstance(obj[key], tp) or (tp is int and isinstance(obj[key], bool)):
            raise SummaryError(f"{path}.{key}: expected {tp.__name__}")


def validate_summary(summary: dict) -> None:
    """Raise SummaryError naming the first problem; return None when the summary is valid."""
    if not isinstance(summary, dict):
        raise SummaryError("summary: must be an object")
    _require(summary, REQUIRED, "summary")
    if summary["schema_version"] != SCHEMA_VERSION:
        raise SummaryError(f"summary.schema_version: {summary['schema_version']!r} is not {SCHEMA_VERSION!r}")
    _walk(summary, "summary")
    _require(summary["session"], BLOCK_REQUIRED, "summary.session")
    for i, seg in enumerate(summary["segments"]):
        if not isinstance(seg, dict):
            raise SummaryError(f"summary.segments[{i}]: must be an object")
        _require(seg, {"name": str, **BLOCK_REQUIRED}, f"summary.segments[{i}]")
    if len(encode(summary)) > MAX_BYTES:
        raise SummaryError(f"summary: larger than {MAX_BYTES} bytes")


def encode(summary: dict) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces): what gets signed and sealed."""
    return json.dumps(summary, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
