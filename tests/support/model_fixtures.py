"""Fixtures for the export tests: a small real network exported to ONNX, and a factory of
signed bundles built from it with the real exporter and signer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.vision.alignment import AlignmentParams
from model_export.bundle_build import build_bundle
from model_export.model import ModelConfig, ResNet18SCN
from model_export.onnx_export import export_onnx
from model_export.signing import create_dev_key, public_path

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
        spec = {
            "runtime": "onnxruntime",
            "path": onnx_fp32,
            "precision": "fp32",
            "input": "input",
            "outputs": {"logits": "logits", "attention": "attention", "features": "features"},
            "input_layout": "NCHW",
            "features_layout": "NCHW",
        }
        out, _ = build_bundle(
            tmp_path / name,
            model,
            [spec],
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
