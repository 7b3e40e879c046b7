"""ONNX export (three outputs), static INT8 quantisation and the parity gate."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from model_export.model import to_input
from model_export.onnx_export import (
    FP32_LADDER,
    FP32_STAGES,
    ExportError,
    parity,
    quantize_onnx,
    quantize_until_parity,
    run_onnx,
)


def test_onnx_has_three_outputs_and_matches_torch(onnx_fp32, model, crops):
    g = onnx.load(str(onnx_fp32)).graph
    assert [o.name for o in g.output] == ["logits", "attention", "features"]
    scaled, att = run_onnx(onnx_fp32, crops, threads=1)
    with torch.no_grad():
        logits, a, _ = model(to_input(torch.from_numpy(crops)))
    np.testing.assert_allclose(scaled, (a * logits).numpy(), atol=1e-3)
    np.testing.assert_allclose(att, a.view(-1).numpy(), atol=1e-5)


def test_int8_is_qdq_per_channel_and_close(onnx_fp32, crops, tmp_path):
    rng = np.random.default_rng(3)
    calib = rng.integers(0, 256, size=(16, 112, 112, 3), dtype=np.uint8)
    int8 = quantize_onnx(onnx_fp32, tmp_path / "int8.onnx", calib)
    g = onnx.load(str(int8)).graph
    ops = {n.op_type for n in g.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # per-channel: some weight scale initialisers are vectors, not scalars
    scales = [
        i for i in g.initializer if i.name.endswith("_scale") and len(i.dims) == 1 and i.dims[0] > 1
    ]
    assert scales, "expected per-channel weight scales"
    ref, _ = run_onnx(onnx_fp32, crops, threads=1)
    got, _ = run_onnx(int8, crops, threads=1)
    assert np.abs(ref - got).max() < 0.25 * np.abs(ref).max() + 0.05
    assert int8.stat().st_size < onnx_fp32.stat().st_size


def test_parity_gate_refuses_disagreement():
    ref = np.array([[2.0, 0.0, 0.0]] * 99 + [[0.0, 2.0, 0.0]])
    ok = parity(ref, ref + 0.01, "same")
    assert ok["top1_agreement"] == 1.0 and ok["max_abs_logit_diff"] == pytest.approx(0.01)
    flipped = ref.copy()
    flipped[:2] = [0.0, 3.0, 0.0]
    with pytest.raises(
        ExportError, match=r"top-1 agreement with FP32 is 0\.980 on 100 held-out crops, below 0\.99"
    ):
        parity(ref, flipped, "INT8")


def _ladder_fakes(ref: np.ndarray, wrong_rows: dict[tuple[str, ...], int], tmp_path):
    """quantize/run stand-ins: the model made with FP32 set S disagrees on wrong_rows[S] crops."""
    made = []

    def quantize(stages):
        made.append(stages)
        return tmp_path / f"{'+'.join(stages)}.onnx"

    def run(path):
        stages = tuple(path.stem.split("+"))
        out = ref.copy()
        out[: wrong_rows[stages]] = [0.0, 3.0, 0.0]
        return out, np.ones(len(ref))

    return quantize, run, made


def test_quantize_until_parity_takes_the_first_set_that_passes(tmp_path):
    ref = np.array([[2.0, 0.0, 0.0]] * 200)
    first, second = FP32_LADDER
    quantize, run, made = _ladder_fakes(ref, {first: 0, second: 0}, tmp_path)
    path, (logits, _), result = quantize_until_parity(quantize, run, ref, "INT8")
    assert made == [first] and path.stem == "+".join(first)
    assert result["fp32_stages"] == list(first) and result["top1_agreement"] == 1.0

    quantize, run, made = _ladder_fakes(ref, {first: 4, second: 1}, tmp_path)
    path, (logits, _), result = quantize_until_parity(quantize, run, ref, "INT8")
    assert made == [first, second] and result["fp32_stages"] == list(second)
    assert result["top1_agreement"] == 0.995 and (logits.argmax(1) != 0).sum() == 1


def test_quantize_until_parity_refuses_when_no_set_passes(tmp_path):
    ref = np.array([[2.0, 0.0, 0.0]] * 100)
    first, second = FP32_LADDER
    quantize, run, made = _ladder_fakes(ref, {first: 5, second: 3}, tmp_path)
    with pytest.raises(ExportError, match=r"INT8: top-1 agreement with FP32 is 0\.970"):
        quantize_until_parity(quantize, run, ref, "INT8")
    assert made == [first, second]


def test_int8_keeps_the_early_stages_and_heads_fp32(onnx_fp32, tmp_path):
    rng = np.random.default_rng(4)
    calib = rng.integers(0, 256, size=(8, 112, 112, 3), dtype=np.uint8)
    int8 = quantize_onnx(onnx_fp32, tmp_path / "int8.onnx", calib)
    g = onnx.load(str(int8)).graph
    made_by = {o: n for n in g.node for o in n.output}

    def weight_is_int8(node) -> bool:
        src = made_by.get(node.input[1])
        return src is not None and src.op_type == "DequantizeLinear"

    convs = [n for n in g.node if n.op_type in ("Conv", "Gemm")]
    kept = {n.name for n in convs if not weight_is_int8(n)}
    assert kept, "expected FP32 layers"
    for n in convs:
        early = n.name.startswith(tuple(f"/{s}/" for s in FP32_STAGES))
        assert (n.name in kept) == (early or n.op_type == "Gemm"), n.name
    assert any(n.name.startswith("/layer4/") and weight_is_int8(n) for n in convs)
