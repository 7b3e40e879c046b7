"""INT8 TFLite export for LiteRT: litert-torch converts the float model, ai-edge-quantizer
quantises it statically (int8 weights and activations) with calibration crops from the
training set. Both live in the optional `export-tflite` extra (about 2 GB); without them
the bundle carries the ONNX model only."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np
import torch

from model_export.model import ResNet18SCN
from model_export.onnx_export import ExportError, normalise

log = logging.getLogger(__name__)


def available() -> str | None:
    """None when the TFLite tools import, else why not."""
    try:
        import ai_edge_quantizer  # noqa: F401
        import litert_torch  # noqa: F401
    except ImportError as exc:
        return f"{exc} (pip install 'emoface-edge[export-tflite]')"
    return None


def export_tflite_int8(
    model: ResNet18SCN, size: int, path: Path, calibration_crops: np.ndarray, threads: int = 2
) -> Path:
    why = available()
    if why:
        raise ExportError(f"TFLite export unavailable: {why}")
    import litert_torch
    from ai_edge_quantizer import quantizer, recipe

    fp32 = path.with_name(path.stem + "_fp32.tflite")
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
        edge = litert_torch.convert(model.eval(), (torch.zeros(1, 3, size, size),))
        edge.export(str(fp32))
        q = quantizer.Quantizer(str(fp32), recipe.static_wi8_ai8())
        from ai_edge_litert.interpreter import Interpreter

        sigs = Interpreter(model_path=str(fp32)).get_signature_list()
        sig = next(iter(sigs))
        inname = sigs[sig]["inputs"][0]
        data = {
            sig: [
                {inname: normalise(calibration_crops[i : i + 1])}
                for i in range(len(calibration_crops))
            ]
        }
        cal = q.calibrate(data, num_threads=threads)
        q.quantize(cal).export_model(str(path), overwrite=True)
    fp32.unlink(missing_ok=True)
    return path


def run_tflite(path: Path, crops: np.ndarray, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(attention-scaled logits, attention) per crop through the device's LiteRT back-end."""
    from device.classifier import _LiteRTBackend

    be = _LiteRTBackend(path, {"input_layout": "NCHW"}, threads)
    outs, atts = [], []
    x = normalise(crops)
    for i in range(len(x)):
        logits, att, _ = be.run(x[i : i + 1])
        outs.append(att * logits)
        atts.append(att)
    return np.stack(outs), np.asarray(atts)
