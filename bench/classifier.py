"""Classifier latency and size: FP32 vs INT8, crop 112 and 224, 1 and 2 threads, in ONNX
Runtime and LiteRT, plus INT8-vs-FP32 top-1 agreement. Prints a table and writes JSON.

`int8` is the shipped quantisation (stem, first stage and heads kept FP32, see
model_export/onnx_export.FP32_STAGES); `int8-all` quantises those too, for comparison.
The network is the shipped ResNet-18 + Self-Cure heads (default: standard width 64 and the
bundle's last stride). With --checkpoint (a training run's model.pt) and --crops (a folder of
cached crop .npz files, e.g. WORKDIR/cache) agreement is measured on real aligned faces;
otherwise on a randomly initialised network and random crops (latency is what matters then).
The CPU may be shared with other work: compare ratios taken in one run.

    .venv/bin/python bench/classifier.py [--runs 50] [--width 64] [--last-stride 1]
        [--checkpoint WORKDIR/model.pt --crops WORKDIR/cache] [--formats onnx,litert]

Every model runs through the kiosk's own runtime (device/models/classifier.ClassifierModel).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, print_table, write_json  # noqa: E402

from device.errors import EmofaceError  # noqa: E402
from device.models.classifier import ClassifierModel  # noqa: E402
from model_export.formats import parse_formats  # noqa: E402
from model_export.model import ModelConfig, ResNet18SCN, model_config_from_dict  # noqa: E402
from model_export.onnx_export import export_onnx, normalise, quantize_onnx  # noqa: E402


def _model(args, size: int) -> tuple[ResNet18SCN, np.ndarray]:
    rng = np.random.default_rng(0)
    if args.checkpoint:
        ck = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
        m = ResNet18SCN(model_config_from_dict(ck["model"]))
        m.load_state_dict(ck["state_dict"])
        if args.crops:
            import cv2

            parts = [np.load(f)["crops"] for f in sorted(Path(args.crops).glob("*.npz"))]
            crops = np.concatenate(parts)[
                :: max(1, sum(len(p) for p in parts) // args.agreement_crops)
            ]
            if crops.shape[1] != size:
                crops = np.stack(
                    [cv2.resize(c, (size, size), interpolation=cv2.INTER_LINEAR) for c in crops]
                )
            return m.eval(), crops
    else:
        torch.manual_seed(0)
        m = ResNet18SCN(ModelConfig(width=args.width, last_stride=args.last_stride))
        with torch.no_grad():  # non-zero BN gammas so no residual branch is folded away
            for mod in m.modules():
                if isinstance(mod, torch.nn.BatchNorm2d):
                    mod.weight.uniform_(0.5, 1.5)
    return m.eval(), rng.integers(
        0, 256, size=(args.agreement_crops, size, size, 3), dtype=np.uint8
    )


def _time(fn, runs: int) -> float:
    for _ in range(5):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def _open(runtime: str, path: Path, threads: int):
    """One crop batch in, (logits, attention, features) out, as the kiosk runs the model."""
    return ClassifierModel(runtime, path, None, threads).run


def _top1(run, x: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(x)):
        logits, att = run(x[i : i + 1])[:2]
        out.append(int(np.argmax(np.ravel(att)[0] * np.ravel(logits))))
    return np.array(out)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--last-stride", type=int, default=1, choices=(1, 2))
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--crops", type=Path)
    ap.add_argument("--agreement-crops", type=int, default=200)
    ap.add_argument(
        "--formats",
        help="comma-separated model formats (model_export.formats: onnx, litert); ONNX is always "
        "built, as the FP32 reference (default: every format whose tools are installed)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS / "classifier.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    try:
        formats = {f.key for f in parse_formats(args.formats)}
    except EmofaceError as exc:
        ap.error(str(exc))
    tfl_why = None if "litert" in formats else "not in --formats (or its tools are not installed)"
    rows, results = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for size in args.sizes:
            model, crops = _model(args, size)
            x = normalise(crops)
            calib = crops[: min(100, len(crops))]
            files = {("onnxruntime", "fp32"): export_onnx(model, size, tmp / f"fp32_{size}.onnx")}
            files[("onnxruntime", "int8")] = quantize_onnx(
                files[("onnxruntime", "fp32")], tmp / f"int8_{size}.onnx", calib
            )
            # int8-all: the stem and layer1 quantised too (what the shipped INT8 keeps FP32)
            files[("onnxruntime", "int8-all")] = quantize_onnx(
                files[("onnxruntime", "fp32")], tmp / f"int8all_{size}.onnx", calib, ()
            )
            if not tfl_why:
                from model_export import tflite_export

                files[("litert", "fp32")] = tflite_export.export_tflite_fp32(
                    model, size, tmp / f"fp32_{size}.tflite"
                )
                files[("litert", "int8")] = tflite_export.export_tflite_int8(
                    model, size, tmp / f"int8_{size}.tflite", calib
                )
                files[("litert", "int8-all")] = tflite_export.export_tflite_int8(
                    model, size, tmp / f"int8all_{size}.tflite", calib, fp32_stages=()
                )
            ref_top1 = _top1(_open("onnxruntime", files[("onnxruntime", "fp32")], 2), x)
            for (rt, prec), path in files.items():
                agree = (
                    float((_top1(_open(rt, path, 2), x) == ref_top1).mean())
                    if prec != "fp32"
                    else 1.0
                )
                for th in args.threads:
                    run = _open(rt, path, th)
                    ms = _time(lambda run=run, x1=x[:1]: run(x1), args.runs)
                    mb = path.stat().st_size / 1e6
                    rows.append([rt, prec, size, th, ms, round(mb, 2), f"{agree:.3f}"])
                    results.append(
                        {
                            "runtime": rt,
                            "precision": prec,
                            "size": size,
                            "threads": th,
                            "ms_median": round(ms, 3),
                            "file_mb": round(mb, 3),
                            "top1_agreement_vs_fp32": round(agree, 4),
                        }
                    )
    print_table(
        ["runtime", "precision", "crop", "threads", "ms (median)", "MB", "top-1 agree"], rows
    )
    if tfl_why:
        print(f"LiteRT rows missing: {tfl_why}")
    source = (
        "trained checkpoint + cached crops"
        if args.checkpoint and args.crops
        else "random network, random crops"
    )
    out = write_json(
        args.out,
        {
            "machine": machine(),
            "model": {
                "width": args.width,
                "last_stride": args.last_stride,
                "checkpoint": str(args.checkpoint) if args.checkpoint else None,
            },
            "agreement_data": source,
            "runs": args.runs,
            "results": results,
        },
    )
    print(f"written {out} (agreement on {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
