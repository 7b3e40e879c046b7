"""The one inference-runtime registry: both back-ends open real models (MediaPipe's LiteRT
face detector, an exported ONNX classifier), errors name the file and the fix, and the
ONNX Runtime provider choice (CPU here, CUDA/TensorRT on a Jetson) follows config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from device.errors import ModelError
from device.models import runtimes
from device.models.classifier import ClassifierModel
from device.models.landmark_store import model_path
from device.models.runtimes import RUNTIMES, Runtime, open_model, register, runtime_for_suffix
from device.models.runtimes.providers import (
    DEFAULT_PROVIDERS,
    ONNX_PROVIDERS,
    check_provider_names,
    select_providers,
)

CPU, CUDA, TRT = (ONNX_PROVIDERS[k] for k in ("cpu", "cuda", "tensorrt"))


def test_registry_holds_both_backends_with_their_file_suffixes():
    assert {k: c.suffix for k, c in RUNTIMES.items()} == {
        "litert": ".tflite",
        "onnxruntime": ".onnx",
    }
    assert runtime_for_suffix(".onnx") == "onnxruntime"
    assert runtime_for_suffix(".tflite") == "litert"
    with pytest.raises(ModelError, match=r"no runtime reads \.pt files"):
        runtime_for_suffix(".pt")
    # CI installs both: a missing one is a broken install, not a skip
    assert runtimes.available_runtimes() == {"litert": None, "onnxruntime": None}


def test_unknown_runtime_is_refused_with_the_known_ones():
    with pytest.raises(
        ModelError, match=r"unknown runtime 'tensorflow' \(known: litert, onnxruntime\)"
    ):
        open_model("tensorflow", "x.pb")


def test_litert_runs_the_real_face_detector():
    rt = open_model("litert", model_path("face_detection"), threads=1)
    assert rt.input_shape == (1, 128, 128, 3)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
    a, b = rt.run(x), rt.run(x)
    assert set(a) == set(rt.output_names) and len(a) == 2
    for name in a:
        assert a[name].dtype == np.float32 and np.array_equal(a[name], b[name])
    assert sorted(v.shape for v in a.values()) == [(1, 896, 1), (1, 896, 16)]


def test_onnxruntime_runs_the_exported_classifier_like_torch(model, onnx_fp32, crops):
    rt = open_model("onnxruntime", onnx_fp32, threads=1)
    assert rt.output_names == ["logits", "attention", "features"]
    assert rt.providers == [CPU]
    x = (crops[:2].astype(np.float32) / 255).transpose(0, 3, 1, 2)
    x = np.ascontiguousarray((x - 0.5) / 0.25)
    out = rt.run(x)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    np.testing.assert_allclose(out["logits"], ref[0].numpy(), rtol=1e-3, atol=1e-3)


def test_classifier_model_maps_outputs_for_either_runtime(onnx_fp32, crops):
    cm = ClassifierModel("onnxruntime", onnx_fp32, {}, threads=1)
    x = np.zeros((1, 3, 112, 112), np.float32)
    logits, att, feats = cm.run(x)
    assert logits.shape == (3,) and isinstance(att, float) and feats.ndim == 3


@pytest.mark.parametrize("runtime", ["litert", "onnxruntime"])
def test_a_corrupt_model_file_is_a_model_error_naming_the_file(runtime, tmp_path):
    bad = tmp_path / f"broken{RUNTIMES[runtime].suffix}"
    bad.write_bytes(b"\x00not a model" * 64)
    with pytest.raises(ModelError, match=r"cannot load .*broken"):
        open_model(runtime, bad, threads=1)


def test_a_new_backend_is_one_class_and_one_register(tmp_path):
    @register
    class Echo(Runtime):
        key, suffix = "echo", ".echo"

        def __init__(self, path, threads=2, providers=DEFAULT_PROVIDERS):
            self.inputs = self.outputs = []

        def run(self, x):
            return {"y": x * 2}

    try:
        rt = open_model("echo", tmp_path / "m.echo")
        assert rt.run(np.ones(2, np.float32))["y"].tolist() == [2, 2]
        assert runtime_for_suffix(".echo") == "echo"
    finally:
        RUNTIMES.pop("echo")

    class NoSuffix(Runtime):
        key = "nosuffix"

    with pytest.raises(TypeError, match="file suffix"):
        register(NoSuffix)


def test_an_unavailable_backend_says_what_to_install():
    @register
    class Missing(Runtime):
        key, suffix, missing = "missing", ".missing", "pip install missing-runtime"

    try:
        with pytest.raises(ModelError, match="missing unavailable: pip install missing-runtime"):
            open_model("missing", "m.missing")
    finally:
        RUNTIMES.pop("missing")


@pytest.mark.parametrize(
    ("wanted", "available", "chosen"),
    [
        (["cpu"], [CPU], [CPU]),
        (["auto"], [CPU], [CPU]),  # this machine
        (["auto"], [CUDA, CPU], [CUDA, CPU]),  # a Jetson with the CUDA build
        (["auto"], [TRT, CUDA, CPU], [TRT, CUDA, CPU]),  # ... and TensorRT
        (["cuda"], [TRT, CUDA, CPU], [CUDA, CPU]),  # CPU is always the last resort
        (["tensorrt"], [CPU], [CPU]),  # asked for, not built in: skipped, CPU runs
        (["cpu", "cuda"], [CUDA, CPU], [CPU, CUDA]),  # the config's order is kept
        (["cuda", "auto"], [TRT, CUDA, CPU], [CUDA, TRT, CPU]),  # no duplicates
    ],
)
def test_provider_selection(wanted, available, chosen):
    assert select_providers(wanted, available) == chosen


def test_unknown_provider_names_are_refused():
    with pytest.raises(
        ValueError,
        match=r"unknown ONNX Runtime provider 'gpu' \(known: auto, tensorrt, cuda, cpu\)",
    ):
        check_provider_names(["cpu", "gpu"])
    with pytest.raises(ModelError, match="unknown ONNX Runtime provider 'npu'"):
        open_model("onnxruntime", "any.onnx", providers=["npu"])


def test_auto_providers_run_on_this_cpu(onnx_fp32):
    rt = open_model("onnxruntime", onnx_fp32, threads=1, providers=["auto"])
    assert rt.providers == [CPU]
