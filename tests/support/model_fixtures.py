"""Fixtures for the export tests: a small real network exported to ONNX, the same network
exported once per format of model_export.formats (INT8, through the parity run), and a
factory of signed bundles built from it with the real exporter and signer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.vision.alignment import AlignmentParams
from model_export.bundle_build import build_bundle
from model_export.formats import FORMATS, Exported, ExportJob, ModelFile, export_with_parity
from model_export.model import ModelConfig, ResNet18SCN
from model_export.onnx_export import export_onnx
from model_export.signing import create_dev_key, public_path
from model_export.train import predict_logits

SIZE = 112


def small_model(seed: int = 0, width: int = 8) -> ResNet18SCN:
    """A randomly initialised network whose BN gammas are non-zero (so no branch folds away)."""
    torch.manual_seed(seed)
    m = ResNet18SCN(ModelConfig(width=width))
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
        m.fc.weight.mul_(20)
    return m.eval()


@pytest.fixture(scope="session")
def model() -> ResNet18SCN:
    return small_model()


@pytest.fixture(scope="session")
def onnx_fp32(model, tmp_path_factory) -> Path:
    return export_onnx(model, SIZE, tmp_path_factory.mktemp("onnx") / "classifier_fp32.onnx")


@pytest.fixture(scope="session")
def keypair(tmp_path_factory) -> tuple[Ed25519PrivateKey, Path, Path]:
    priv = tmp_path_factory.mktemp("keys") / "signing.pem"
    key = create_dev_key(priv)
    return key, priv, public_path(priv)


@pytest.fixture
def make_bundle(model, onnx_fp32, keypair, tmp_path):
    """make_bundle(name, version, key=None) -> bundle dir (ONNX runtime, signed)."""

    def make(
        name: str = "b",
        version: int = 1,
        key: Ed25519PrivateKey | None = None,
        bundle_id: str = "test-bundle",
    ) -> Path:
        spec = {"precision": "fp32", "format": "onnx-fp32"}
        out, _ = build_bundle(
            tmp_path / name,
            model,
            [ModelFile("onnx", onnx_fp32, spec)],
            AlignmentParams(size=SIZE),
            ("BD", "MDD", "HC"),
            {"accuracy": 0.5, "held_out_participants": 3},
            key or keypair[0],
            bundle_id,
            version,
        )
        return out

    return make


@pytest.fixture(scope="session")
def crops() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(6, SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def calibration() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, size=(16, SIZE, SIZE, 3), dtype=np.uint8)


@pytest.fixture(scope="session", params=list(FORMATS))
def exported(request, model, crops, calibration, tmp_path_factory) -> Exported:
    """The small network as INT8 in each format (one export per format and test session),
    checked against torch on `crops` through the kiosk's runtime. A format whose tools are
    missing fails here: CI installs every export extra."""
    fmt = FORMATS[request.param]
    why = fmt.why_unavailable()
    assert why is None, f"{fmt.key} export tools missing: {why}"
    job = ExportJob(model, SIZE, tmp_path_factory.mktemp(fmt.key), calibration, threads=1)
    reference, _ = predict_logits(model, crops)
    # 6 random crops: the 99 % gate would refuse one flipped near-tie; the figures are
    # checked in the tests instead
    return export_with_parity(fmt, job, crops, reference, min_agreement=0.0)


def route_bundle(
    out: Path, model, onnx_fp32: Path, key, route: str, route_dir: Path, entry: dict
) -> Path:
    """A signed bundle of the small FP32 network plus one whole-session route (`route`:
    its manifest key, `entry`: its {"file", "meta", ...} entry, files in `route_dir`)."""
    bundle, _ = build_bundle(
        out,
        model,
        [ModelFile("onnx", onnx_fp32, {"precision": "fp32", "format": "onnx-fp32"})],
        AlignmentParams(size=SIZE),
        ("BD", "MDD", "HC"),
        {"accuracy": 0.5, "held_out_participants": 3},
        key,
        f"{route.replace('_', '-')}-bundle",
        1,
        extra_files=[route_dir / entry["file"], route_dir / entry["meta"]],
        routes={route: entry},
    )
    return bundle
