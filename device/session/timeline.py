"""A session's stimulus timeline: named, non-overlapping time segments.

File format (JSON), times in seconds from the start of capture:
    {"segments": [{"name": "baseline", "condition": "neutral", "start": 0, "end": 5,
                   "baseline": true}, {"name": "clip-happy-1", "condition": "happiness",
                   "start": 5, "end": 35}, ...]}
`baseline: true` marks the neutral reference that displacement and response measures use.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from device.errors import InputError
from device.wire.summary import CONDITIONS


@dataclass(frozen=True)
class Segment:
    name: str
    condition: str | None
    start: float
    end: float
    baseline: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


class Timeline:
    def __init__(self, segments: list[Segment]):
        self.segments = sorted(segments, key=lambda s: s.start)
        for a, b in zip(self.segments, self.segments[1:], strict=False):
            if b.start < a.end:
                raise InputError(f"timeline segments {a.name!r} and {b.name!r} overlap")
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise InputError("timeline segment names must be unique")
        self._starts = [s.start for s in self.segments]

    def segment_at(self, t: float) -> Segment | None:
        i = bisect.bisect_right(self._starts, t) - 1
        if i >= 0 and t < self.segments[i].end:
            return self.segments[i]
        return None

    @property
    def end(self) -> float:
        return self.segments[-1].end if self.segments else 0.0

    def to_dict(self) -> dict:
        return {"segments": [s.as_dict() for s in self.segments]}

    @classmethod
    def from_dict(cls, data: dict, source: str = "<timeline>") -> Timeline:
        if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
            raise InputError(f"{source}: a timeline is an object with a 'segments' list")
        segs = []
        for i, raw in enumerate(data["segments"]):
            where = f"{source}: segments[{i}]"
            if not isinstance(raw, dict):
                raise InputError(f"{where}: must be an object")
            unknown = set(raw) - {"name", "condition", "start", "end", "baseline"}
            if unknown:
                raise InputError(f"{where}: unknown keys {sorted(unknown)}")
            name = raw.get("name")
            if not isinstance(name, str) or not name:
                raise InputError(f"{where}.name: a non-empty string is required")
            cond = raw.get("condition")
            if cond is not None and cond not in CONDITIONS:
                raise InputError(
                    f"{where}.condition: {cond!r} is not one of {', '.join(CONDITIONS)} (or null)"
                )
            try:
                start, end = float(raw["start"]), float(raw["end"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{where}: start and end must be numbers (seconds)") from None
            if not 0 <= start < end:
                raise InputError(f"{where}: needs 0 <= start < end, got {start}..{end}")
            baseline = raw.get("baseline", False)
            if not isinstance(baseline, bool):
                raise InputError(f"{where}.baseline: must be true or false")
            segs.append(Segment(name, cond, start, end, baseline))
        return cls(segs)

    @classmethod
    def load(cls, path: Path | str) -> Timeline:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read timeline: {exc.strerror or exc}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: timeline is not valid JSON: {exc}") from exc
        return cls.from_dict(data, str(path))
