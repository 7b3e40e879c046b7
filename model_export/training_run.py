"""From a site CSV to a signed bundle in one call: crop, split by participant, train,
evaluate, export ONNX (+ TFLite), quantise, check parity, report, sign."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from pickle import UnpicklingError

import numpy as np
import torch

from device.errors import InputError
from device.vision.alignment import AlignmentParams
from model_export import tflite_export
from model_export.bundle_build import build_bundle
from model_export.dataset import CLASS_NAMES, ParticipantCrops, extract_all, read_site_csv
from model_export.evaluate import evaluate_participants, participant_probs
from model_export.model import ModelConfig
from model_export.onnx_export import (
    ExportError,
    export_onnx,
    parity,
    quantize_onnx,
    quantize_until_parity,
    run_onnx,
)
from model_export.report import write_report
from model_export.signing import signing_key
from model_export.splits import kfold, train_test_split
from model_export.train import FrameSet, TrainConfig, predict_frames, train_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    csv: Path
    workdir: Path
    bundle_dir: Path | None = None  # default: WORKDIR/bundle
    rate: float = 5.0  # sampled frames per second of video
    crop_size: int = 112
    crop_scale: float = AlignmentParams.scale  # face size in the crop (1.0 = ArcFace's tight crop)
    test_fraction: float = 0.3
    split_seed: int = 0
    cv_folds: int = 0  # > 1: also cross-validate by participant (reported, not shipped)
    calibration_crops: int = 500
    min_agreement: float = 0.99  # INT8 vs FP32 top-1 agreement gate
    tflite: str = "auto"  # auto | yes | no
    signing_key: Path | None = None
    bundle_id: str | None = None
    bundle_version: int | None = None
    pretrained: Path | None = None
    synthetic: bool = False
    progress: bool = True
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class RunResult:
    bundle_dir: Path
    public_key: Path
    report_json: Path
    report_html: Path
    report: dict
    test_ids: list[str]
    checkpoint: Path


def _frames(pcs: list[ParticipantCrops]) -> FrameSet:
    crops = np.concatenate([p.crops for p in pcs])
    labels = np.concatenate([np.full(p.n, p.participant.y) for p in pcs])
    owner = np.concatenate([np.full(p.n, i) for i, p in enumerate(pcs)])
    return FrameSet(crops, labels, owner)


def _calibration(pcs: list[ParticipantCrops], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    per = max(1, int(np.ceil(n / len(pcs))))
    parts = [p.crops[np.sort(rng.choice(p.n, size=min(per, p.n), replace=False))] for p in pcs]
    return np.concatenate(parts)[:n]


def _participant_rows(
    pcs: list[ParticipantCrops], frame_probs: list[np.ndarray], atts: list[np.ndarray]
) -> tuple[np.ndarray, list[dict]]:
    probs, rows = [], []
    for pc, fp, a in zip(pcs, frame_probs, atts, strict=True):
        pp = participant_probs(fp, a)
        probs.append(pp)
        pred = CLASS_NAMES[int(pp.argmax())]
        rows.append(
            {
                "participant_id": pc.participant.pid,
                "label": pc.participant.label,
                "predicted": pred,
                "correct": pred == pc.participant.label,
                "probabilities": {
                    n: round(float(v), 4) for n, v in zip(CLASS_NAMES, pp, strict=True)
                },
                "frames_sampled": pc.frames_seen,
                "frames_used": pc.n,
                "rejected": pc.rejected,
                "mean_attention": round(float(np.mean(a)), 4),
            }
        )
    return np.stack(probs), rows


def _split_by_frames(values: np.ndarray, pcs: list[ParticipantCrops]) -> list[np.ndarray]:
    return np.split(values, np.cumsum([p.n for p in pcs])[:-1])


def cross_validate(pcs: list[ParticipantCrops], cfg: RunConfig) -> dict:
    """K-fold by participant with FP32 models; pooled out-of-fold participant predictions."""
    pids = [p.participant.pid for p in pcs]
    labels = [p.participant.label for p in pcs]
    by_id = {p.participant.pid: p for p in pcs}
    oof: dict[str, np.ndarray] = {}
    for i, (tr, te) in enumerate(kfold(pids, labels, cfg.cv_folds, cfg.split_seed)):
        log.info("cross-validation fold %d/%d", i + 1, cfg.cv_folds)
        model, _ = train_model(
            _frames([by_id[p] for p in tr]), cfg.model, cfg.train, progress=cfg.progress
        )
        for p in te:
            fp, a = predict_frames(model, by_id[p].crops)
            oof[p] = participant_probs(fp, a)
    y = np.array([by_id[p].participant.y for p in pids])
    res = evaluate_participants(
        y, np.stack([oof[p] for p in pids]), CLASS_NAMES, seed=cfg.split_seed
    )
    res["folds"] = cfg.cv_folds
    return res


def load_pretrained(path: Path, model: ModelConfig, alignment: AlignmentParams) -> dict:
    """The backbone of an `emoface pretrain` checkpoint, refused when it cannot seed this
    network: another width or last stride (nothing would load), or another crop (the
    features were learnt on differently framed faces)."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
        state, arch = ck["state_dict"], ck.get("model", {})
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, EOFError, UnpicklingError) as exc:
        raise InputError(f"--pretrained {path}: not an `emoface pretrain` checkpoint ({exc})") from None
    for key in ("width", "last_stride"):
        have, want = arch.get(key), getattr(model, key)
        if have is not None and have != want:
            raise InputError(f"--pretrained {path}: {key} {have} != this run's {want}")
    if "alignment" in ck:
        have = AlignmentParams.from_dict(ck["alignment"])
        if (have.size, have.scale) != (alignment.size, alignment.scale):
            raise InputError(
                f"--pretrained {path}: crops of size {have.size} scale {have.scale}, this run uses "
                f"size {alignment.size} scale {alignment.scale} (--crop-size/--crop-scale)"
            )
    return state


def run(cfg: RunConfig) -> RunResult:
    t_start = time.perf_counter()
    workdir = cfg.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    participants = read_site_csv(cfg.csv)
    counts = {c: sum(p.label == c for p in participants) for c in CLASS_NAMES}
    missing = [c for c, n in counts.items() if n < 2]
    if missing:
        raise InputError(f"{cfg.csv}: classes {missing} have fewer than 2 participants ({counts})")
    alignment = AlignmentParams(size=cfg.crop_size, scale=cfg.crop_scale)
    key, pub_path, made = signing_key(cfg.signing_key, workdir)
    if made:
        log.warning(
            "no signing key given: made a DEVELOPMENT key %s (pin %s on test devices only)",
            workdir / "dev-model-signing-key.pem",
            pub_path,
        )

    t0 = time.perf_counter()
    pcs = extract_all(participants, alignment, cfg.rate, workdir / "cache", cfg.progress)
    t_crop = time.perf_counter() - t0
    train_ids, test_ids = train_test_split(
        [p.pid for p in participants],
        [p.label for p in participants],
        cfg.test_fraction,
        cfg.split_seed,
    )
    tr = [p for p in pcs if p.participant.pid in train_ids]
    te = [p for p in pcs if p.participant.pid in test_ids]
    log.info("split by participant: %d train, %d test (seed %d)", len(tr), len(te), cfg.split_seed)

    cv = cross_validate(pcs, cfg) if cfg.cv_folds > 1 else None

    init = load_pretrained(cfg.pretrained, cfg.model, alignment) if cfg.pretrained else None
    t0 = time.perf_counter()
    model, history = train_model(
        _frames(tr), cfg.model, cfg.train, init_state=init, progress=cfg.progress
    )
    t_train = time.perf_counter() - t0
    ckpt = workdir / "model.pt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "model": asdict(cfg.model),
            "alignment": alignment.as_dict(),
            "class_names": CLASS_NAMES,
            "train_ids": train_ids,
            "test_ids": test_ids,
        },
        ckpt,
    )

    # --- export and parity on held-out crops -----------------------------------------
    t0 = time.perf_counter()
    exp = workdir / "export"
    exp.mkdir(exist_ok=True)
    test_crops = np.concatenate([p.crops for p in te])
    calib = _calibration(tr, cfg.calibration_crops, cfg.split_seed)
    threads = cfg.train.threads
    fp32_path = export_onnx(model, cfg.crop_size, exp / "classifier_fp32.onnx")
    torch_probs, torch_att = predict_frames(model, test_crops)
    fp32_logits, _ = run_onnx(fp32_path, test_crops, threads)
    int8_path, (int8_logits, int8_att), onnx_parity = quantize_until_parity(
        lambda stages: quantize_onnx(fp32_path, exp / "classifier_int8.onnx", calib, stages),
        lambda path: run_onnx(path, test_crops, threads),
        fp32_logits,
        "ONNX Runtime INT8",
        cfg.min_agreement,
    )
    parity_report = {
        "torch_vs_onnx_fp32": parity(
            np.log(torch_probs + 1e-12), _log_softmax(fp32_logits), "ONNX FP32"
        ),
        "onnxruntime_int8": onnx_parity,
        "onnxruntime_int8_bytes": int8_path.stat().st_size,
    }
    models = [
        {
            "runtime": "onnxruntime",
            "path": int8_path,
            "precision": "int8",
            "format": "onnx-qdq-per-channel",
            "input": "input",
            "outputs": {"logits": "logits", "attention": "attention", "features": "features"},
            "input_layout": "NCHW",
            "features_layout": "NCHW",
        }
    ]
    tfl_why = tflite_export.available() if cfg.tflite != "no" else "disabled (--tflite no)"
    if cfg.tflite == "yes" and tfl_why:
        raise ExportError(f"TFLite export requested but unavailable: {tfl_why}")
    if not tfl_why:
        tfl, _, parity_report["litert_int8"] = quantize_until_parity(
            lambda stages: tflite_export.export_tflite_int8(
                model, cfg.crop_size, exp / "classifier_int8.tflite", calib, threads, stages
            ),
            lambda path: tflite_export.run_tflite(path, test_crops, threads),
            fp32_logits,
            "LiteRT INT8",
            cfg.min_agreement,
        )
        parity_report["litert_int8_bytes"] = tfl.stat().st_size
        models.insert(
            0,
            {
                "runtime": "litert",
                "path": tfl,
                "precision": "int8",
                "format": "tflite-static-int8",
                "input_layout": "NCHW",
                "features_layout": "NCHW",
            },
        )
    else:
        parity_report["litert_int8"] = f"not exported: {tfl_why}"
        log.warning("TFLite export skipped: %s", tfl_why)
    t_export = time.perf_counter() - t0

    # --- participant-level evaluation (what the device computes: the INT8 model) -------
    y_test = np.array([p.participant.y for p in te])
    frame_probs_int8 = _softmax(int8_logits)
    p_int8, rows = _participant_rows(
        te, _split_by_frames(frame_probs_int8, te), _split_by_frames(int8_att, te)
    )
    p_fp32, _ = _participant_rows(
        te, _split_by_frames(torch_probs, te), _split_by_frames(torch_att, te)
    )
    test = evaluate_participants(y_test, p_int8, CLASS_NAMES, seed=cfg.split_seed)
    test_fp32 = evaluate_participants(y_test, p_fp32, CLASS_NAMES, seed=cfg.split_seed)

    created = datetime.now(UTC)
    bundle_id = (
        cfg.bundle_id
        or f"emoface-{'synthetic' if cfg.synthetic else 'site'}-{created:%Y%m%d-%H%M%S}"
    )
    report = {
        "bundle_id": bundle_id,
        "synthetic": cfg.synthetic,
        "data": {
            "csv": str(cfg.csv),
            "participants": len(participants),
            "per_class": counts,
            "sample_rate_fps": cfg.rate,
            "crop_seconds": round(t_crop, 1),
        },
        "split": {
            "unit": "participant",
            "stratified": True,
            "seed": cfg.split_seed,
            "test_fraction": cfg.test_fraction,
            "train_ids": train_ids,
            "test_ids": test_ids,
        },
        "evaluated_model": "onnxruntime INT8 (the model the device runs)",
        "test": test,
        "test_fp32": {k: test_fp32[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")},
        "participants": rows,
        "cross_validation": cv,
        "parity": parity_report,
        "training": {
            "config": cfg.train.as_dict(),
            "model": asdict(cfg.model),
            "history": history,
            "seconds": round(t_train, 1),
            "train_frames": int(sum(p.n for p in tr)),
        },
        "export_seconds": round(t_export, 1),
    }
    validation = {
        "held_out_participants": test["participants"],
        "unit": "participant",
        "accuracy": test["accuracy"],
        "balanced_accuracy": test["balanced_accuracy"],
        "macro_f1": test["macro_f1"],
        "per_class": {
            n: {k: v[k] for k in ("n", "precision", "recall", "f1", "auroc", "auroc_ci95")}
            for n, v in test["per_class"].items()
        },
        "confusion_matrix": test["confusion_matrix"],
        "split_seed": cfg.split_seed,
        "int8_top1_agreement": parity_report["onnxruntime_int8"]["top1_agreement"],
        "int8_agreement_gate": cfg.min_agreement,
        "data": "SYNTHETIC cohort: says nothing about clinical accuracy"
        if cfg.synthetic
        else "site's own held-out participants",
    }
    rjson, rhtml = write_report(workdir / "report", report)
    bundle_dir, msha = build_bundle(
        cfg.bundle_dir or workdir / "bundle",
        model,
        models,
        alignment,
        CLASS_NAMES,
        validation,
        key,
        bundle_id,
        cfg.bundle_version,
        extra_files=[rjson],
        synthetic=cfg.synthetic,
        model_config=asdict(cfg.model),
    )
    report["bundle"] = {
        "path": str(bundle_dir),
        "manifest_sha256": msha,
        "public_key": str(pub_path),
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    (workdir / "report" / "report.json").write_text(
        json.dumps(report, indent=2, sort_keys=True) + "\n"
    )
    return RunResult(bundle_dir, pub_path, rjson, rhtml, report, test_ids, ckpt)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    return np.log(_softmax(z) + 1e-12)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def with_overrides(cfg: RunConfig, **kw) -> RunConfig:
    return replace(cfg, **kw)
