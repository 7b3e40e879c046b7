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
from model_export.onnx_export import FP32_STAGES, ExportError, normalise

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
    model: ResNet18SCN,
    size: int,
    path: Path,
    calibration_crops: np.ndarray,
    threads: int = 2,
    fp32_stages: tuple[str, ...] = FP32_STAGES,
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
        q = quantizer.Quantizer(str(fp32), _recipe(recipe, fp32_stages))
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


def _recipe(recipe_module, fp32_stages: tuple[str, ...]):
    """Static int8 weights and activations, except what stays FP32 in the ONNX model too
    (onnx_export.FP32_STAGES): the two linear heads and the early full-resolution stages.
    litert-torch names a tensor after the module path of the op that makes it
    (`...Sequential_layer1/...`), its first `;`-separated part being the op's own module."""
    from ai_edge_quantizer import algorithm_manager, recipe_manager

    rm = recipe_manager.RecipeManager()
    rm.add_static_config(
        regex=".*",
        operation_name=recipe_module.TFLOperationName.ALL_SUPPORTED,
        activation_num_bits=8,
        weight_num_bits=8,
    )
    keep = algorithm_manager.AlgorithmName.NO_QUANTIZE
    rm.add_quantization_config(
        regex=".*",
        operation_name=recipe_module.TFLOperationName.FULLY_CONNECTED,
        algorithm_key=keep,
    )
    if fp32_stages:
        rm.add_quantization_config(
            regex=rf"^[^;]*Sequential_({'|'.join(fp32_stages)})/.*",
            operation_name=recipe_module.TFLOperationName.ALL_SUPPORTED,
            algorithm_key=keep,
        )
    return rm.get_quantization_recipe()


def run_tflite(path: Path, crops: np.ndarray, threads: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(attention-scaled logits, attention) per crop through the device's LiteRT back-end."""
    from device.models.classifier import _LiteRTBackend

    be = _LiteRTBackend(path, {"input_layout": "NCHW"}, threads)
    outs, atts = [], []
    x = normalise(crops)
    for i in range(len(x)):
        logits, att, _ = be.run(x[i : i + 1])
        outs.append(att * logits)
        atts.append(att)
    return np.stack(outs), np.asarray(atts)
