"""The kiosk service loads the configured bundle with the configured ONNX Runtime
providers (CPU here; a Jetson config names cuda or tensorrt)."""

from __future__ import annotations

import pytest

from device.config import config_from_dict
from device.errors import ConfigError
from device.kiosk.service import load_model


def _cfg(tmp_path, bundle, key, providers):
    return config_from_dict(
        {
            "device": {"data_dir": str(tmp_path / "data")},
            "pipeline": {"threads": 1},
            "model": {
                "bundle_dir": str(bundle),
                "signing_public_key": str(key),
                "onnx_providers": providers,
            },
        },
        tmp_path / "device.toml",
    )


@pytest.mark.parametrize("providers", [["auto"], ["cuda", "cpu"], ["cpu"]])
def test_the_configured_providers_reach_the_classifier(make_bundle, keypair, tmp_path, providers):
    clf = load_model(_cfg(tmp_path, make_bundle(), keypair[2], providers))
    assert clf.runtime == "onnxruntime"
    assert clf.backend.model.requested == tuple(providers)
    # this machine's onnxruntime is the CPU build: whatever was asked, CPU runs it
    assert clf.backend.model.providers == ["CPUExecutionProvider"]


def test_an_unknown_provider_is_a_config_error_naming_the_key(make_bundle, keypair, tmp_path):
    with pytest.raises(ConfigError, match=r"device.toml: model.onnx_providers"):
        _cfg(tmp_path, make_bundle(), keypair[2], ["gpu"])
