"""The export-formats table: each format exports, loads through the kiosk's runtime registry
and matches the torch network; the table agrees with the registry; --formats is parsed
with clear errors; the bundle's model entries come from the table."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from device.cli import main as emoface
from device.errors import InputError
from device.models.bundle import verify_bundle
from device.models.classifier import ClassifierModel, load_classifier
from device.models.runtimes import RUNTIMES, open_model, runtime_for_suffix
from device.vision.alignment import AlignmentParams
from model_export import formats as formats_module
from model_export.bundle_build import build_bundle
from model_export.formats import FORMATS, ExportJob, ModelFile, export_with_parity, parse_formats
from model_export.onnx_export import FP32_STAGES, ExportError
from model_export.train import predict_logits
from tests.support.model_fixtures import SIZE


def test_table_agrees_with_the_device_runtime_registry():
    assert list(FORMATS) == ["onnx", "litert"]
    for key, fmt in FORMATS.items():
        assert fmt.key == key
        assert fmt.runtime in RUNTIMES, fmt
        assert fmt.suffix == RUNTIMES[fmt.runtime].suffix
        assert runtime_for_suffix(fmt.suffix) == fmt.runtime
        assert fmt.file_name.endswith(fmt.suffix)
        assert fmt.extra in ("export", "export-tflite")
    assert {f.runtime for f in FORMATS.values()} == set(RUNTIMES)


def test_each_format_exports_loads_on_the_device_runtime_and_matches_torch(exported, model, crops):
    fmt = exported.format
    assert exported.path.suffix == fmt.suffix and exported.path.name == fmt.file_name
    assert exported.parity["fp32_stages"] == list(FP32_STAGES)

    # the kiosk's registry opens it: one (1, 3, S, S) input, logits, attention, feature map
    rt = open_model(fmt.runtime, exported.path, threads=1)
    assert rt.key == fmt.runtime
    assert tuple(rt.input_shape)[-3:] == (3, SIZE, SIZE)
    shapes = sorted(len(o.shape) for o in rt.outputs)
    assert shapes == [2, 2, 4], rt.outputs

    # the parity run is the kiosk's ClassifierModel, and its figures are what it computes
    clf = ClassifierModel(fmt.runtime, exported.path, fmt.manifest_entry(exported.path.name), 1)
    logits, att, feats = clf.run(np.zeros((1, 3, SIZE, SIZE), np.float32))
    assert logits.shape == (3,) and 0.0 <= att <= 1.0 and feats.ndim == 3
    scaled, att = fmt.run(exported.path, crops, threads=1)
    np.testing.assert_array_equal(scaled, exported.scaled_logits)
    np.testing.assert_array_equal(att, exported.attention)

    # INT8 against the FP32 torch network
    ref, ref_att = predict_logits(model, crops)
    assert exported.parity["crops"] == len(crops)
    assert exported.parity["top1_agreement"] >= 5 / 6, exported.parity
    assert (scaled.argmax(1) == ref.argmax(1)).mean() == exported.parity["top1_agreement"]
    assert np.abs(scaled - ref).max() < 0.25 * np.abs(ref).max() + 0.05
    assert np.abs(att - ref_att).max() < 0.05


def test_the_bundle_writes_model_entries_from_the_table(exported, model, keypair, tmp_path):
    fmt = exported.format
    out, _ = build_bundle(
        tmp_path / "bundle",
        model,
        [exported.model_file()],
        AlignmentParams(size=SIZE),
        ("BD", "MDD", "HC"),
        {"accuracy": 0.5, "held_out_participants": 3},
        keypair[0],
        "formats-test",
        1,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    (entry,) = manifest["models"]
    assert entry["export_format"] == fmt.key and entry["runtime"] == fmt.runtime
    assert entry["file"] == fmt.file_name and entry["precision"] == "int8"
    assert entry["file"] in manifest["files"]
    verify_bundle(out, keypair[2])
    clf = load_classifier(out, keypair[2], threads=1, prefer=(fmt.runtime,))
    assert clf.runtime == fmt.runtime


def test_build_bundle_refuses_a_file_that_is_not_its_format(onnx_fp32, model, keypair, tmp_path):
    args = (AlignmentParams(size=SIZE), ("BD", "MDD", "HC"), {}, keypair[0], "x", 1)
    with pytest.raises(ExportError, match=r"a litert model file must end in \.tflite"):
        build_bundle(tmp_path / "b", model, [ModelFile("litert", onnx_fp32)], *args)
    with pytest.raises(ExportError, match="unknown export format 'tflite'"):
        build_bundle(tmp_path / "b", model, [ModelFile("tflite", onnx_fp32)], *args)


def test_parse_formats():
    assert [f.key for f in parse_formats("onnx,litert")] == ["onnx", "litert"]
    # table order, whatever the order asked; spaces and repeats are fine
    assert [f.key for f in parse_formats(" litert , onnx,litert")] == ["onnx", "litert"]
    assert [f.key for f in parse_formats(["litert"])] == ["litert"]
    # None: every format whose tools are installed (CI installs all)
    assert [f.key for f in parse_formats(None)] == list(FORMATS)
    with pytest.raises(InputError, match=r"unknown export format 'tflite' \(known: onnx, litert\)"):
        parse_formats("onnx,tflite")
    with pytest.raises(InputError, match="name at least one of onnx, litert"):
        parse_formats(" , ")


def test_an_unavailable_format_names_its_extra(monkeypatch):
    missing = dataclasses.replace(FORMATS["litert"], tools=("no_such_module_for_emoface",))
    monkeypatch.setitem(formats_module.FORMATS, "litert", missing)
    assert "pip install 'emoface-edge[export-tflite]'" in missing.why_unavailable()
    with pytest.raises(InputError, match=r"litert requested but unavailable: .*\[export-tflite\]"):
        parse_formats("onnx,litert")
    assert [f.key for f in parse_formats(None)] == ["onnx"]


def test_cli_refuses_unknown_or_unavailable_formats_before_any_work(tmp_path, capsys, monkeypatch):
    args = ["train", "--csv", str(tmp_path / "none.csv"), "--workdir", str(tmp_path / "w")]
    assert emoface([*args, "--formats", "onnx,tflite", "-q"]) == 2
    assert "unknown export format 'tflite'" in capsys.readouterr().err
    missing = dataclasses.replace(FORMATS["litert"], tools=("no_such_module_for_emoface",))
    monkeypatch.setitem(formats_module.FORMATS, "litert", missing)
    assert emoface([*args, "--formats", "litert", "-q"]) == 2
    assert "export-tflite" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()


def test_the_same_network_and_calibration_export_to_the_same_bytes(
    exported, model, crops, calibration, tmp_path
):
    """Reproducible INT8: a second export of the same network with the same calibration
    crops gives a byte-identical file, so a rerun of a training chain cannot differ here."""
    reference, _ = predict_logits(model, crops)
    again = export_with_parity(
        exported.format,
        ExportJob(model, SIZE, tmp_path, calibration, threads=1),
        crops,
        reference,
        min_agreement=0.0,
    )
    assert again.path.read_bytes() == exported.path.read_bytes(), exported.format.key
    np.testing.assert_array_equal(again.scaled_logits, exported.scaled_logits)
