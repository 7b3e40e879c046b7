"""Assemble and sign a model bundle (the format device/models/bundle.py verifies)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.fileio import sha256_file
from device.models.bundle import FORMAT, FORMAT_VERSION, sign_manifest
from device.vision.alignment import AlignmentParams
from model_export.formats import FORMATS, ModelFile
from model_export.model import INSTANCE_EPS, MEAN, STD, ResNet18SCN
from model_export.onnx_export import ExportError

HEAD_FILE = "classifier_head.npy"


def head_array(model: ResNet18SCN) -> np.ndarray:
    """(K, C+1) float32: class-head weights and bias, for the device's exact CAM."""
    w = model.fc.weight.detach().numpy()
    b = model.fc.bias.detach().numpy()
    return np.concatenate([w, b[:, None]], axis=1).astype(np.float32)


# Default versions count hours from this epoch: they grow with every release an hour apart
# and stay far below the device's bound (device.models.bundle.MAX_VERSION: 114 years).
VERSION_EPOCH = 1767225600  # 2026-01-01T00:00:00Z


def default_version(now: float | None = None) -> int:
    """Hours since 2026-01-01 UTC (at least 1): a version that grows without a counter file.
    Two bundles built within the same hour need an explicit --bundle-version."""
    t = time.time() if now is None else now
    return max(1, int((t - VERSION_EPOCH) // 3600))


def build_bundle(
    out_dir: Path,
    model: ResNet18SCN,
    models: Sequence[ModelFile],
    alignment: AlignmentParams,
    class_names: tuple[str, ...],
    validation: dict,
    key: Ed25519PrivateKey,
    bundle_id: str,
    version: int | None = None,
    extra_files: list[Path] = (),
    synthetic: bool = False,
    model_config: dict | None = None,
    routes: dict | None = None,
) -> tuple[Path, str]:
    """Copy model files in, write the head, the manifest and its signature. Each model entry
    comes from its format's row in model_export.formats.FORMATS (runtime, format, spec).
    `routes`: further manifest entries for the other diagnostic routes (e.g. "explicit_route":
    {"file", "meta", "runtime"}), whose files come in through `extra_files`.
    Returns (bundle dir, manifest SHA-256)."""
    for m in models:
        fmt = FORMATS.get(m.format)
        if fmt is None:
            raise ExportError(
                f"{m.path}: unknown export format {m.format!r} (known: {', '.join(FORMATS)})"
            )
        if Path(m.path).suffix != fmt.suffix:
            raise ExportError(f"{m.path}: a {fmt.key} model file must end in {fmt.suffix}")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    np.save(out_dir / HEAD_FILE, head_array(model))
    entries = []
    for m in models:
        name = Path(m.path).name
        shutil.copy2(m.path, out_dir / name)
        entries.append(FORMATS[m.format].manifest_entry(name, **m.spec))
    for f in extra_files:
        shutil.copy2(f, out_dir / Path(f).name)
    files = {
        p.name: {"sha256": sha256_file(p), "size": p.stat().st_size}
        for p in sorted(out_dir.iterdir())
        if p.is_file()
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "bundle_id": bundle_id,
        "version": int(version if version is not None else default_version()),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": bool(synthetic),
        "class_names": list(class_names),
        "input": {
            "size": alignment.size,
            "color": "RGB",
            "layout": "NCHW",
            "dtype": "float32",
            "normalise": (model_config or {}).get("input_norm", "instance"),
            "instance_eps": INSTANCE_EPS,
            "mean": list(MEAN),
            "std": list(STD),
            "scale": "x/255 then (x-mean)/std",
        },
        "alignment": alignment.as_dict(),
        "outputs": {
            "logits": "raw class scores; probabilities = softmax(attention * logits)",
            "attention": "Self-Cure importance weight in 0..1",
            "features": "last feature map (N,C,h,w); CAM_k = head[k, :C] . features",
        },
        "head": {"file": HEAD_FILE, "layout": "(K, C+1): weights then bias"},
        "models": entries,
        "model": model_config or {},
        "validation": validation,
        "files": files,
        "note": "A screening aid for clinicians, not a diagnosis.",
        **(routes or {}),
    }
    return out_dir, sign_manifest(out_dir, manifest, key)
