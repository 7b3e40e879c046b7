"""Inference runtimes behind one small interface, chosen by name from one registry.

Every model the kiosk runs (MediaPipe's landmark models, the classifier) is opened through
`open_model(runtime, path, threads=..., providers=...)`, which returns a `Runtime`: one
input in, named float32 outputs back (INT8 input and output tensors are quantised and
dequantised here, so callers never see a scale or a zero point). A back-end is a class
with a registry key, the model-file suffix it reads and a `why_unavailable()` check;
LiteRT and ONNX Runtime ship here, and the exporter, the bundle loader and the benches all
look back-ends up by key in `RUNTIMES`, so adding one is one module and one `register`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.errors import ModelError
from device.models.runtimes.providers import DEFAULT_PROVIDERS


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype


class Runtime:
    """One loaded model. Subclasses set `inputs`/`outputs` and implement `run`."""

    key: str = ""  # registry key, e.g. "litert"
    suffix: str = ""  # model file suffix this back-end reads, e.g. ".tflite"
    missing: str | None = None  # set at import when the back-end's package is absent
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]

    @classmethod
    def why_unavailable(cls) -> str | None:
        """None when this back-end can run here, else what to install."""
        return cls.missing

    def __init__(
        self,
        path: Path,
        threads: int = 2,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        *,
        batch: int = 1,
        outputs: Sequence[str] | None = None,
    ):
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.inputs[0].shape

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    @property
    def input_quantisation(self) -> tuple[float, int, np.dtype] | None:
        """(scale, zero point, dtype) of an integer input, None for a float one. `run`
        quantises float input itself; a caller that can make the integer values more
        cheaply (a lookup table on uint8 pixels) passes them in that dtype instead."""
        return None

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Feed the single input, return every output by name as float32 (dequantised)."""
        raise NotImplementedError


def quantise(values: np.ndarray, q: tuple[float, int, np.dtype]) -> np.ndarray:
    """Float input values -> an integer input of `q` = (scale, zero point, dtype), as the
    model's own quantisation defines it (round to nearest, clipped to the dtype)."""
    scale, zero, dtype = q
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero), info.min, info.max).astype(dtype)


RUNTIMES: dict[str, type[Runtime]] = {}


def register(cls: type[Runtime]) -> type[Runtime]:
    """Class decorator: make a back-end available under its `key`."""
    if not cls.key or not cls.suffix.startswith("."):
        raise TypeError(f"{cls.__name__} needs a key and a file suffix")
    RUNTIMES[cls.key] = cls
    return cls


def runtime_for_suffix(suffix: str) -> str:
    for key, cls in RUNTIMES.items():
        if cls.suffix == suffix:
            return key
    raise ModelError(f"no runtime reads {suffix} files (known: {', '.join(RUNTIMES)})")


def available_runtimes() -> dict[str, str | None]:
    """Every registered back-end with None (usable) or why it is not."""
    return {key: cls.why_unavailable() for key, cls in RUNTIMES.items()}


def open_model(
    runtime: str,
    path: Path | str,
    *,
    threads: int = 2,
    providers: Sequence[str] = DEFAULT_PROVIDERS,
    batch: int = 1,
    outputs: Sequence[str] | None = None,
) -> Runtime:
    """Open `path` with the named back-end; ModelError names the file and the fix.

    `batch` > 1 sets the input's leading dimension (one call for several crops); outputs
    then hold the batch's results in order, row after row. `outputs` names the outputs the
    caller reads: the others may be left uncomputed (LiteRT drops their operators) and
    are not returned."""
    cls = RUNTIMES.get(runtime)
    if cls is None:
        raise ModelError(f"unknown runtime {runtime!r} (known: {', '.join(RUNTIMES)})")
    why = cls.why_unavailable()
    if why:
        raise ModelError(f"{runtime} unavailable: {why}")
    extra: dict = {}  # only when asked for: a back-end may not take these options
    if batch != 1:
        extra["batch"] = int(batch)
    if outputs:
        extra["outputs"] = tuple(outputs)
    try:
        return cls(Path(path), threads=threads, providers=providers, **extra)
    except TypeError as exc:
        if not extra:
            raise
        raise ModelError(f"{runtime} cannot open {path} with {sorted(extra)}: {exc}") from exc


# The back-ends register themselves on import.
from device.models.runtimes import litert as _litert  # noqa: E402,F401
from device.models.runtimes import onnx as _onnx  # noqa: E402,F401
