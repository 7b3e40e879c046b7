"""The export formats, in one table: what `--formats` accepts, what the training run's export
stage makes and checks, and what the bundle builder writes into the manifest.

A row's `runtime` is a key of the kiosk's inference-runtime registry
(device.models.runtimes.RUNTIMES): the bundle builder writes it into each model entry and
the kiosk opens the file through that registry, so the device never imports this module.
The file suffix is the registry back-end's own. The parity run goes through the kiosk's
`ClassifierModel` on that runtime, so an export that passes the gate is checked exactly as
the kiosk will run it.

This module imports neither torch nor the export tools (the command line reads it for
`--help`); the export functions load them when called.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.errors import InputError
from device.models.runtimes import RUNTIMES


@dataclass(frozen=True)
class ExportJob:
    """What every format's export function gets: the FP32 network and its calibration."""

    model: Any  # model_export.model.ResNet18SCN (not imported here: no torch for --help)
    size: int  # crop size in pixels
    out_dir: Path
    calibration: np.ndarray  # (N, S, S, 3) uint8 training crops
    threads: int = 2
    norm: str = "instance"  # the network's input normalisation (ModelConfig.input_norm)


def run_on_device(
    runtime: str,
    path: Path,
    crops: np.ndarray,
    threads: int = 2,
    spec: Mapping | None = None,
    norm: str = "instance",
) -> tuple[np.ndarray, np.ndarray]:
    """(attention-scaled logits (N, K), attention (N,)) of the model file `path` on `crops`
    (N, S, S, 3) uint8, one crop at a time through the kiosk's ClassifierModel."""
    from device.models.classifier import ClassifierModel
    from model_export.onnx_export import normalise

    model = ClassifierModel(runtime, Path(path), dict(spec or {}), threads)
    x = normalise(crops, norm)
    if model.nhwc:
        x = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))
    scaled, atts = [], []
    for i in range(len(x)):
        logits, att, _ = model.run(x[i : i + 1])
        scaled.append(np.float32(att) * logits.astype(np.float32))
        atts.append(att)
    k = len(scaled[0]) if scaled else 0
    return np.asarray(scaled, np.float32).reshape(-1, k), np.asarray(atts, np.float32)


@dataclass(frozen=True)
class ExportFormat:
    key: str  # what --formats names
    runtime: str  # device.models.runtimes.RUNTIMES key the kiosk opens the file with
    title: str  # for messages and the parity log
    extra: str  # the pip extra that installs the export tools
    tools: tuple[str, ...]  # modules the export imports (the availability check)
    # export(job, path, fp32_stages) -> `path`, the INT8 file, with `fp32_stages`
    # (onnx_export.FP32_LADDER) and the heads kept FP32
    export: Callable[[ExportJob, Path, tuple[str, ...]], Path]
    spec: Mapping[str, Any] = field(default_factory=dict)  # model-entry fields of the manifest
    # parity(runtime, path, crops, threads, spec, norm) -> (scaled logits, attention)
    parity: Callable[..., tuple[np.ndarray, np.ndarray]] = run_on_device

    @property
    def suffix(self) -> str:
        """The model-file suffix: the device back-end's own."""
        return RUNTIMES[self.runtime].suffix

    @property
    def file_name(self) -> str:
        return f"classifier_int8{self.suffix}"

    def why_unavailable(self) -> str | None:
        """None when this format can be exported and checked here, else what to install."""
        for module in self.tools:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return f"{exc} (pip install 'emoface-edge[{self.extra}]')"
        why = RUNTIMES[self.runtime].why_unavailable()
        return f"the {self.runtime} runtime for its parity check: {why}" if why else None

    def run(
        self, path: Path, crops: np.ndarray, threads: int = 2, norm: str = "instance"
    ) -> tuple[np.ndarray, np.ndarray]:
        """The parity run: (scaled logits, attention) of `path` on crops, as the kiosk runs it."""
        return self.parity(self.runtime, path, crops, threads, self.spec, norm)

    def manifest_entry(self, file: str, **spec) -> dict:
        """The bundle manifest's `models` entry for a file of this format."""
        return {
            "runtime": self.runtime,
            "export_format": self.key,
            **self.spec,
            **spec,
            "file": file,
        }


def _export_onnx(job: ExportJob, path: Path, fp32_stages: tuple[str, ...]) -> Path:
    from model_export.onnx_export import export_int8

    return export_int8(job, path, fp32_stages)


def _export_litert(job: ExportJob, path: Path, fp32_stages: tuple[str, ...]) -> Path:
    from model_export.tflite_export import export_int8

    return export_int8(job, path, fp32_stages)


_LAYOUT = {"input_layout": "NCHW", "features_layout": "NCHW"}

# In table order: the first selected format's INT8 model is the one the report evaluates.
FORMATS: dict[str, ExportFormat] = {
    f.key: f
    for f in (
        ExportFormat(
            key="onnx",
            runtime="onnxruntime",
            title="ONNX Runtime INT8",
            extra="export",
            tools=("torch", "onnx", "onnxruntime.quantization"),
            export=_export_onnx,
            spec={
                "precision": "int8",
                "format": "onnx-qdq-per-channel",
                "input": "input",
                "outputs": {"logits": "logits", "attention": "attention", "features": "features"},
                **_LAYOUT,
            },
        ),
        ExportFormat(
            key="litert",
            runtime="litert",
            title="LiteRT INT8",
            extra="export-tflite",
            tools=("torch", "litert_torch", "ai_edge_quantizer"),
            export=_export_litert,
            # LiteRT files are matched by output shape (device ClassifierModel)
            spec={"precision": "int8", "format": "tflite-static-int8", **_LAYOUT},
        ),
    )
}


def parse_formats(value: str | Iterable[str] | None) -> list[ExportFormat]:
    """The formats named in `value` ("onnx,litert" or a sequence of keys), in table order;
    None: every format whose tools are installed. InputError (exit 2) names an unknown key,
    or what to install for an unavailable one."""
    if value is None:
        chosen = [f for f in FORMATS.values() if f.why_unavailable() is None]
        if not chosen:
            whys = "; ".join(f"{k}: {f.why_unavailable()}" for k, f in FORMATS.items())
            raise InputError(f"no export format can be made here ({whys})")
        return chosen
    keys = [k.strip() for k in (value.split(",") if isinstance(value, str) else value)]
    keys = [k for k in keys if k]
    if not keys:
        raise InputError(f"--formats: name at least one of {', '.join(FORMATS)}")
    unknown = [k for k in keys if k not in FORMATS]
    if unknown:
        raise InputError(
            f"--formats: unknown export format {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(FORMATS)})"
        )
    chosen = [f for k, f in FORMATS.items() if k in keys]
    for f in chosen:
        why = f.why_unavailable()
        if why:
            raise InputError(f"--formats: {f.key} requested but unavailable: {why}")
    return chosen


@dataclass(frozen=True)
class ModelFile:
    """A model file for the bundle: its format (a FORMATS key) and fields that override the
    row's manifest spec (e.g. {"precision": "fp32"})."""

    format: str
    path: Path
    spec: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Exported:
    """One format's INT8 model that passed the parity gate, and its held-out outputs."""

    format: ExportFormat
    path: Path
    scaled_logits: np.ndarray  # (N, K) on the held-out crops
    attention: np.ndarray  # (N,)
    parity: dict  # parity figures and the FP32 stages the model kept

    def model_file(self) -> ModelFile:
        return ModelFile(self.format.key, self.path)


def export_with_parity(
    fmt: ExportFormat,
    job: ExportJob,
    crops: np.ndarray,
    reference: np.ndarray,
    min_agreement: float,
) -> Exported:
    """Export `fmt` as INT8 and check it on `crops` against `reference` (the FP32 network's
    attention-scaled logits) with the parity gate; quantises again with more FP32 stages
    (onnx_export.FP32_LADDER) before it refuses the export (ExportError)."""
    from model_export.onnx_export import quantize_until_parity

    path, (scaled, att), result = quantize_until_parity(
        lambda stages: fmt.export(job, job.out_dir / fmt.file_name, stages),
        lambda p: fmt.run(p, crops, job.threads, job.norm),
        reference,
        fmt.title,
        min_agreement,
    )
    return Exported(fmt, path, scaled, att, result)
