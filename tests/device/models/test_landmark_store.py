import shutil
import zipfile

import pytest

from device.errors import ModelError
from device.models import landmark_store as lm


def test_cached_models_verify():
    for key in lm.MODELS:
        assert lm.model_path(key).exists()


def test_corrupt_model_is_refused_with_the_fix(tmp_path):
    for m in lm.MODELS.values():
        shutil.copy(lm.default_model_dir() / m.name, tmp_path / m.name)
    p = tmp_path / lm.MODELS["face_landmark"].name
    data = bytearray(p.read_bytes())
    data[1000] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA-256.*emoface models fetch"):
        lm.model_path("face_landmark", tmp_path)
    assert lm.missing_models(tmp_path) == ["face_landmark"]


def test_missing_model_names_the_command(tmp_path):
    with pytest.raises(ModelError, match="emoface models fetch"):
        lm.model_path("iris_landmark", tmp_path)


def test_wheel_with_tampered_model_is_refused(tmp_path):
    wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for m in lm.MODELS.values():
            zf.writestr(m.wheel_path, b"not the real model")
    with pytest.raises(ModelError, match="SHA-256"):
        lm.extract_from_wheel(wheel, tmp_path / "cache")
    assert not (tmp_path / "cache" / lm.MODELS["face_detection"].name).exists()


def test_wheel_that_is_not_a_zip_is_refused(tmp_path):
    bad = tmp_path / "x.whl"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a readable wheel"):
        lm.extract_from_wheel(bad, tmp_path / "cache")


def test_real_models_extract_from_a_wheel_built_from_the_cache(tmp_path):
    """The extraction path itself, on a wheel holding the real files."""
    wheel = tmp_path / "mediapipe-0.10.21-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for m in (*lm.MODELS.values(), lm.MESH_SOURCE):
            zf.write(lm.default_model_dir() / m.name, m.wheel_path)
    paths = lm.fetch(tmp_path / "cache", wheel=wheel)
    assert len(paths) == 4 and not lm.missing_models(tmp_path / "cache")
    assert not lm.missing_data(tmp_path / "cache")
