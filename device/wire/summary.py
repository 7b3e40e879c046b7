"""The biomarker summary's schema: the one document that leaves the device (sealed).

It holds statistics only. `validate_summary` is run by the device before sealing and by
the receiver after opening; besides structure it enforces the privacy rule that no
per-frame track can ride along: any list longer than MAX_LIST is refused. It checks ranges
too: frame counts are 0..MAX_FRAMES with frames_used <= frames_seen, rejection counts are
non-negative, no integer anywhere exceeds what every JSON reader holds exactly, and nothing
nests deeper than MAX_DEPTH (a kiosk summary: 6 levels).

The standard-face route's block (`standard_face`), when present, is checked for shape and
range: cosine similarities in -1..1 for at most MAX_CLASSES classes and the four emotions
plus "overall", an answer among those classes (or null with a reason), frame counts within
the session's. It can never carry the displacement field itself.

An error message names the place (`summary.segments[2].frames_seen`) and the rule, never
the value found there: the receiver logs and records refusals, and decrypted content must
appear in neither.
"""

from __future__ import annotations

import json
import math
import re

from device.errors import InputError
from device.wire.alert import is_session_code

SCHEMA_VERSION = "emoface.summary/1"
MAX_LIST = 64  # segments, questionnaire items... never a frame-by-frame series
MAX_BYTES = 256 * 1024
REQUIRED = {"schema_version": str, "session": dict, "segments": list}
BLOCK_REQUIRED = {"frames_seen": int, "frames_used": int, "rejected": dict, "features": dict}
MAX_FRAMES = 10**8  # about 230 days at 5 frames/s: far beyond any session
MAX_INT = 2**53  # exact in every JSON reader
# containers inside containers, the summary itself level 1; far below where JSON readers
# give up (~1000), so every reader reads a stored summary back
MAX_DEPTH = 16
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")
MAX_CLASSES = 8
# The conditions a summary's segments carry (the stimulus clips): neutral, then the four
# emotions each measured against it. The one list for device, workstation and receiver.
CONDITIONS = ("neutral", "happiness", "sadness", "anger", "fear")
EMOTIONS = CONDITIONS[1:]
_SIMILARITY_KEYS = frozenset((*EMOTIONS, "overall"))
_FRAME_KEYS = frozenset(CONDITIONS)
_STANDARD_FACE_KEYS = frozenset(("frames", "answer", "similarity", "conditions", "reason"))


class SummaryError(InputError):
    """A summary that does not follow the schema (the message says where)."""


def _walk(obj, path: str, depth: int = 1) -> None:
    if isinstance(obj, dict | list) and depth > MAX_DEPTH:
        raise SummaryError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise SummaryError(f"{path}: keys must be strings")
            _walk(v, f"{path}.{k if _PLAIN_KEY.fullmatch(k) else '<key>'}", depth + 1)
    elif isinstance(obj, list):
        if len(obj) > MAX_LIST:
            raise SummaryError(
                f"{path}: list of {len(obj)} items (max {MAX_LIST}): no per-frame data may leave the device"
            )
        for i, v in enumerate(obj):
            _walk(v, f"{path}[{i}]", depth + 1)
    elif isinstance(obj, float):
        if not math.isfinite(obj):
            raise SummaryError(f"{path}: non-finite number")
    elif isinstance(obj, int) and not isinstance(obj, bool):
        if not -MAX_INT <= obj <= MAX_INT:
            raise SummaryError(f"{path}: integer out of range (|n| <= 2**53)")
    elif obj is not None and not isinstance(obj, str | int | bool):
        raise SummaryError(f"{path}: unsupported type {type(obj).__name__}")


def _plain(obj) -> bool:
    """True when `_walk` would find nothing wrong: the same rules, checked without building
    a path for every value (the device runs this on every summary it seals). Exact types
    only, so anything unusual falls back to `_walk`, which names the place. It goes level by
    level (the depth comes free); only containers go to the next level, scalars are checked
    where they are met (a summary holds thousands)."""
    level = [obj]
    for _ in range(MAX_DEPTH):
        deeper = []
        for o in level:
            if type(o) is dict:
                for k in o:
                    if type(k) is not str:
                        return False
                values = o.values()
            elif type(o) is list and len(o) <= MAX_LIST:
                values = o
            else:
                return False
            for v in values:
                t = type(v)
                if t is float:
                    if v - v != 0.0:  # not finite: inf - inf and nan - nan are nan
                        return False
                elif t is dict or t is list:
                    deeper.append(v)
                elif t is int:
                    if not -MAX_INT <= v <= MAX_INT:
                        return False
                elif not (t is str or t is bool or v is None):
                    return False
        if not deeper:
            return True
        level = deeper
    return False


def _containers_plain(obj) -> bool:
    """`_plain` for a value a JSON parser made from bytes whose numbers are known to be in
    range (`json_bytes.loads` says so): keys are strings and scalars are JSON's, so only
    the containers are left to check, list lengths and depth."""
    level = [obj]
    for _ in range(MAX_DEPTH):
        deeper = []
        add = deeper.append
        for o in level:
            if type(o) is dict:
                values = o.values()
            elif type(o) is list and len(o) <= MAX_LIST:
                values = o
            else:
                return False
            for v in values:
                if type(v) is dict or type(v) is list:
                    add(v)
        if not deeper:
            return True
        level = deeper
    return False


def _require(obj: dict, spec: dict, path: str) -> None:
    for key, tp in spec.items():
        if key not in obj:
            raise SummaryError(f"{path}: missing {key!r}")
        if not isinstance(obj[key], tp) or (tp is int and isinstance(obj[key], bool)):
            raise SummaryError(f"{path}.{key}: expected {tp.__name__}")


def _check_counts(block: dict, path: str) -> None:
    """Frame and rejection counts: non-negative, bounded, frames_used <= frames_seen."""
    for key in ("frames_seen", "frames_used"):
        if not 0 <= block[key] <= MAX_FRAMES:
            raise SummaryError(f"{path}.{key}: must be 0..{MAX_FRAMES}")
    if block["frames_used"] > block["frames_seen"]:
        raise SummaryError(f"{path}.frames_used: more than frames_seen")
    for reason, n in block["rejected"].items():
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= block["frames_seen"]:
            raise SummaryError(f"{path}.rejected.{reason}: must be a count 0..frames_seen")


def validate_summary(
    summary: dict, encoded: bytes | None = None, numbers_checked: bool = False
) -> None:
    """Raise SummaryError naming the first problem; return None when the summary is valid.

    `encoded`: the summary's JSON bytes when the caller holds them already (the receiver:
    the signed bytes it stores); the size limit then applies to them, with no re-encoding.
    `numbers_checked`: `summary` is what `json_bytes.loads(encoded)` returned with
    `in_range` True, so its scalars need no second look."""
    if not isinstance(summary, dict):
        raise SummaryError("summary: must be an object")
    _require(summary, REQUIRED, "summary")
    if summary["schema_version"] != SCHEMA_VERSION:
        raise SummaryError(f"summary.schema_version: not {SCHEMA_VERSION!r}")
    fast = _containers_plain if numbers_checked and encoded is not None else _plain
    if not fast(summary):
        _walk(summary, "summary")
    _require(summary["session"], BLOCK_REQUIRED, "summary.session")
    _check_counts(summary["session"], "summary.session")
    code = summary["session"].get("code")
    if code is not None and not is_session_code(code):
        raise SummaryError("summary.session.code: not a session code")
    for i, seg in enumerate(summary["segments"]):
        if not isinstance(seg, dict):
            raise SummaryError(f"summary.segments[{i}]: must be an object")
        _require(seg, {"name": str, **BLOCK_REQUIRED}, f"summary.segments[{i}]")
        _check_counts(seg, f"summary.segments[{i}]")
    if "standard_face" in summary:
        _check_standard_face(summary["standard_face"], summary["session"]["frames_seen"])
    if len(encoded if encoded is not None else encode(summary)) > MAX_BYTES:
        raise SummaryError(f"summary: larger than {MAX_BYTES} bytes")


def _check_standard_face(block, frames_seen: int) -> None:
    """The standard-face route's block: similarities, answer and frame counts only."""
    path = "summary.standard_face"
    if not isinstance(block, dict):
        raise SummaryError(f"{path}: must be an object")
    if set(block) - _STANDARD_FACE_KEYS:
        raise SummaryError(
            f"{path}: unknown keys (allowed: {', '.join(sorted(_STANDARD_FACE_KEYS))})"
        )
    _require(block, {"frames": dict, "similarity": dict}, path)
    frames = block["frames"]
    if set(frames) - _FRAME_KEYS:
        raise SummaryError(f"{path}.frames: keys must be among {', '.join(sorted(_FRAME_KEYS))}")
    for k, n in frames.items():
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= frames_seen:
            raise SummaryError(f"{path}.frames.{k}: must be a count 0..session.frames_seen")
    sim = block["similarity"]
    if len(sim) > MAX_CLASSES:
        raise SummaryError(f"{path}.similarity: more than {MAX_CLASSES} classes")
    for cls, row in sim.items():
        where = f"{path}.similarity.{cls if _PLAIN_KEY.fullmatch(cls) else '<key>'}"
        if not isinstance(row, dict) or set(row) - _SIMILARITY_KEYS:
            raise SummaryError(
                f"{where}: must map {', '.join(sorted(_SIMILARITY_KEYS))} to similarities"
            )
        for k, v in row.items():
            if not isinstance(v, int | float) or isinstance(v, bool) or not -1.0 <= v <= 1.0:
                raise SummaryError(f"{where}.{k}: cosine similarity must be a number in -1..1")
    answer = block.get("answer")
    if answer is None:
        if not isinstance(block.get("reason"), str):
            raise SummaryError(f"{path}.reason: a block without an answer must say why")
    elif not isinstance(answer, str) or answer not in sim:
        raise SummaryError(f"{path}.answer: must be one of the compared classes")
    conds = block.get("conditions", [])
    if not isinstance(conds, list) or any(c not in EMOTIONS for c in conds):
        raise SummaryError(f"{path}.conditions: must list emotional conditions")


def encode(summary: dict) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces): what gets signed and sealed."""
    return json.dumps(summary, sort_keys=True, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )
