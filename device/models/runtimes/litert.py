"""LiteRT back-end: ai-edge-litert's interpreter, or tflite-runtime on systems held at
numpy < 2 (tflite-runtime 2.14 does not import under numpy 2)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from device.errors import ModelError
from device.models.runtimes import Runtime, TensorInfo, quantise, register
from device.models.runtimes.providers import DEFAULT_PROVIDERS
from device.models.runtimes.tflite_prune import keep_outputs, prune_available

try:  # preferred: works with numpy 2
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # pragma: no cover - older systems ship tflite-runtime instead
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError:
        Interpreter = None


@register
class LiteRTRuntime(Runtime):
    key = "litert"
    suffix = ".tflite"
    missing = (
        None
        if Interpreter is not None
        else "no LiteRT interpreter: install ai-edge-litert (pip install 'emoface-edge[device]'), "
        "or tflite-runtime on systems with numpy < 2"
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
        # providers are ONNX Runtime's; LiteRT runs on the CPU with XNNPACK here
        try:
            content = Path(path).read_bytes()
            if outputs and prune_available():
                content = keep_outputs(content, outputs, where=str(path))
            self._it = Interpreter(model_content=content, num_threads=threads)
            self._in = self._it.get_input_details()[0]
            if batch != 1:
                shape = [int(batch), *(int(v) for v in self._in["shape"][1:])]
                self._it.resize_tensor_input(self._in["index"], shape)
            self._it.allocate_tensors()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load {path} in LiteRT: {exc}") from exc
        self._in = self._it.get_input_details()[0]
        every = self._it.get_output_details()
        missing = sorted(set(outputs or ()) - {d["name"] for d in every})
        if missing:
            raise ModelError(f"{path}: no output named {missing}")
        self._out = [d for d in every if not outputs or d["name"] in outputs]
        self._fetch = [(o["name"], o["index"], o) for o in self._out]
        self.inputs = [_info(self._in)]
        self.outputs = [_info(d) for d in self._out]

    @property
    def input_quantisation(self) -> tuple[float, int, np.dtype] | None:
        d = self._in
        if d["dtype"] == np.float32:
            return None
        scale, zero = d["quantization"]
        return float(scale), int(zero), np.dtype(d["dtype"])

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        d = self._in
        if d["dtype"] != np.float32 and x.dtype != d["dtype"]:
            x = quantise(x, self.input_quantisation)
        self._it.set_tensor(d["index"], x)
        self._it.invoke()
        return {name: _dequantise(self._it.get_tensor(i), o) for name, i, o in self._fetch}


def _info(d: dict) -> TensorInfo:
    return TensorInfo(d["name"], tuple(int(v) for v in d["shape"]), np.dtype(d["dtype"]))


def _dequantise(v: np.ndarray, d: dict) -> np.ndarray:
    scale, zero = d.get("quantization", (0.0, 0))
    if v.dtype != np.float32 and scale:
        return (v.astype(np.float32) - zero) * np.float32(scale)
    return v
