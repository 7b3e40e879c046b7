"""ONNX Runtime back-end, with execution providers from config (CPU everywhere; CUDA or
TensorRT on a Jetson whose onnxruntime build has them; see providers.py)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from device.errors import ModelError
from device.models.runtimes import Runtime, TensorInfo, register
from device.models.runtimes.providers import DEFAULT_PROVIDERS, select_providers

_DTYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}


@register
class OnnxRuntime(Runtime):
    key = "onnxruntime"
    suffix = ".onnx"
    # Looked up, not imported: importing onnxruntime writes a telemetry cache under
    # ~/.cache, which a kiosk that only runs LiteRT must not do (nothing but the summary
    # may appear on disk). A kiosk may ship LiteRT only.
    missing = (
        None
        if importlib.util.find_spec("onnxruntime") is not None
        else "onnxruntime is not installed (pip install 'emoface-edge[device]')"
    )

    def __init__(
        self,
        path: Path,
        threads: int = 2,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
        *,
        batch: int = 1,
        outputs: Sequence[str] | None = None,
    ):
        import onnxruntime as ort

        try:
            chosen = select_providers(providers, ort.get_available_providers())
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), so, providers=chosen)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ModelError(f"cannot load {path} in ONNX Runtime: {exc}") from exc
        self.requested = tuple(providers)  # as configured, before availability
        self.providers = self.session.get_providers()  # what runs
        self.inputs = [_info(a) for a in self.session.get_inputs()]
        every = [_info(a) for a in self.session.get_outputs()]
        missing = sorted(set(outputs or ()) - {o.name for o in every})
        if missing:
            raise ModelError(f"{path}: no output named {missing}")
        self.outputs = [o for o in every if not outputs or o.name in outputs]
        lead = self.inputs[0].shape[0] if self.inputs[0].shape else 1
        if batch != 1 and lead not in (-1, batch):
            raise ModelError(f"{path}: input batch is fixed at {lead}, cannot run {batch}")
        self._input = self.inputs[0].name
        self._names = [o.name for o in self.outputs]

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self._names, self.session.run(self._names, {self._input: x}), strict=True))


def _info(arg) -> TensorInfo:
    shape = tuple(int(v) if isinstance(v, int) else -1 for v in arg.shape)
    return TensorInfo(arg.name, shape, np.dtype(_DTYPES.get(arg.type, np.float32)))
