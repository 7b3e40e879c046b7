"""INT8 TFLite export for LiteRT (the "litert" row of model_export.formats): litert-torch
converts the float model, ai-edge-quantizer quantises it statically (int8 weights and
activations) with calibration crops from the training set. Both live in the optional
`export-tflite` extra (about 2 GB); without them the bundle carries the ONNX model only."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from model_export.model import ResNet18SCN
from model_export.onnx_export import FP32_STAGES, ExportError, normalise

if TYPE_CHECKING:
    from model_export.formats import ExportJob

log = logging.getLogger(__name__)


def export_tflite_fp32(model: ResNet18SCN, size: int, path: Path) -> Path:
    """The float network as a .tflite file (litert-torch), its conversion noise silenced."""
    import litert_torch

    noise = io.StringIO()
    with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
        edge = litert_torch.convert(model.eval(), (torch.zeros(1, 3, size, size),))
        edge.export(str(path))
    return path


def export_int8(job: ExportJob, path: Path, fp32_stages: tuple[str, ...] = FP32_STAGES) -> Path:
    """The "litert" row of model_export.formats: the INT8 model of `job` into `path`."""
    return export_tflite_int8(
        job.model,
        job.size,
        path,
        job.calibration,
        job.threads,
        fp32_stages,
        job.norm,
    )


def export_tflite_int8(
    model: ResNet18SCN,
    size: int,
    path: Path,
    calibration_crops: np.ndarray,
    threads: int = 2,
    fp32_stages: tuple[str, ...] = FP32_STAGES,
    norm: str = "instance",
) -> Path:
    from model_export.formats import FORMATS

    why = FORMATS["litert"].why_unavailable()
    if why:
        raise ExportError(f"TFLite export unavailable: {why}")
    from ai_edge_quantizer import quantizer, recipe

    fp32 = export_tflite_fp32(model, size, path.with_name(path.stem + "_fp32.tflite"))
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
        q = quantizer.Quantizer(str(fp32), _recipe(recipe, fp32_stages))
        from ai_edge_litert.interpreter import Interpreter

        sigs = Interpreter(model_path=str(fp32)).get_signature_list()
        sig = next(iter(sigs))
        inname = sigs[sig]["inputs"][0]
        data = {
            sig: [
                {inname: normalise(calibration_crops[i : i + 1], norm)}
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
