"""The LiteRT interpreter, from ai-edge-litert, or tflite-runtime on systems stuck on numpy < 2.

Both expose the same `Interpreter`; which one loaded is reported by `BACKEND`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.errors import ModelError

try:  # preferred: works with numpy 2
    from ai_edge_litert.interpreter import Interpreter as _Interpreter

    BACKEND = "ai-edge-litert"
except ImportError:  # pragma: no cover - fallback for old systems
    try:
        from tflite_runtime.interpreter import Interpreter as _Interpreter

        BACKEND = "tflite-runtime"
    except ImportError:
        _Interpreter = None
        BACKEND = None


class TFLiteModel:
    """One float32 model with one input; outputs returned by name as copies."""

    def __init__(self, path: Path, threads: int = 2):
        if _Interpreter is None:
            raise ModelError(
                "no LiteRT interpreter: install ai-edge-litert (pip install 'emoface-edge[device]'), "
                "or tflite-runtime on systems with numpy < 2"
            )
        try:
            self._it = _Interpreter(model_path=str(path), num_threads=threads)
            self._it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load {path}: {exc}") from exc
        inp = self._it.get_input_details()[0]
        self.input_index = inp["index"]
        self.input_shape = tuple(int(x) for x in inp["shape"])
        self.outputs = {d["name"]: d["index"] for d in self._it.get_output_details()}

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self._it.set_tensor(self.input_index, x)
        self._it.invoke()
        return {name: self._it.get_tensor(idx) for name, idx in self.outputs.items()}
