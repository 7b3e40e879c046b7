"""From a site CSV to a signed bundle in one call, as five named stages:

1. prepare_data: read the CSV, crop every video (cached), split by participant;
2. train_network: optional cross-validation, then the shipped model and its checkpoint;
3. export_models: every selected format of model_export.formats as INT8, each through the
   99 % parity gate on the held-out crops (run as the kiosk runs it);
4. evaluate_held_out: participant-level figures of the first exported INT8 model;
5. package_bundle: report, manifest from the formats table, signature.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device.errors import EmofaceError, InputError
from device.vision.alignment import AlignmentParams
from model_export.bundle_build import build_bundle
from model_export.config import ModelConfig, RunConfig
from model_export.dataset import (
    CLASS_NAMES,
    Participant,
    ParticipantCrops,
    extract_all,
    read_site_csv,
)
from model_export.evaluate import evaluate_participants, participant_probs, softmax_rows
from model_export.explicit_route import explicit_route_for_bundle
from model_export.formats import (
    FORMATS,
    Exported,
    ExportFormat,
    ExportJob,
    export_with_parity,
    parse_formats,
)
from model_export.model import CHECKPOINT_ERRORS
from model_export.report import write_report
from model_export.route_comparison import compare
from model_export.signing import signing_key
from model_export.splits import kfold, train_test_split
from model_export.standard_face import participant_field, standard_face_for_bundle
from model_export.train import FrameSet, predict_frames, predict_logits, train_model

log = logging.getLogger(__name__)
STAGES = ("prepare data", "train", "export", "evaluate", "package")


@dataclass
class RunResult:
    bundle_dir: Path
    public_key: Path
    report_json: Path
    report_html: Path
    report: dict
    test_ids: list[str]
    checkpoint: Path


@dataclass
class PreparedData:
    """Stage 1: the participants' crops, split by participant."""

    participants: list[Participant]
    counts: dict[str, int]
    alignment: AlignmentParams
    crops: list[ParticipantCrops]  # every participant
    train: list[ParticipantCrops]
    test: list[ParticipantCrops]
    train_ids: list[str]
    test_ids: list[str]
    seconds: float

    @property
    def test_crops(self) -> np.ndarray:
        return np.concatenate([p.crops for p in self.test])


@dataclass
class Trained:
    """Stage 2: the shipped FP32 network."""

    model: torch.nn.Module
    history: list
    checkpoint: Path
    cross_validation: dict | None
    seconds: float


@dataclass
class Exports:
    """Stage 3: the INT8 models that passed the parity gate, in table order."""

    models: list[Exported]
    skipped: dict[str, str]  # format key -> why it was not exported
    fp32_scaled_logits: np.ndarray  # the FP32 network on the held-out crops: the reference
    fp32_attention: np.ndarray
    seconds: float

    def parity_report(self) -> dict:
        out: dict = {"reference": "the FP32 network in torch (attention-scaled logits)"}
        for e in self.models:
            out[f"{e.format.runtime}_int8"] = e.parity
            out[f"{e.format.runtime}_int8_bytes"] = e.path.stat().st_size
        for key, why in self.skipped.items():
            out[f"{FORMATS[key].runtime}_int8"] = f"not exported: {why}"
        return out


@dataclass
class Evaluation:
    """Stage 4: held-out participants, with the INT8 model of `evaluated`."""

    evaluated: Exported
    test: dict
    test_fp32: dict
    rows: list[dict]


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
    except CHECKPOINT_ERRORS as exc:
        raise InputError(
            f"--pretrained {path}: not an `emoface pretrain` checkpoint ({exc})"
        ) from None
    for key in ("width", "last_stride", "input_norm"):
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


@contextlib.contextmanager
def _stage(name: str):
    n = STAGES.index(name) + 1
    log.info("stage %d/%d: %s", n, len(STAGES), name)
    t0 = time.perf_counter()
    yield
    log.info("stage %d/%d: %s done in %.1f s", n, len(STAGES), name, time.perf_counter() - t0)


def prepare_data(cfg: RunConfig) -> PreparedData:
    """Read the site CSV, crop every participant's video with the kiosk's alignment (cached
    in WORKDIR/cache) and split by participant, stratified by label."""
    participants = read_site_csv(cfg.csv)
    counts = {c: sum(p.label == c for p in participants) for c in CLASS_NAMES}
    missing = [c for c, n in counts.items() if n < 2]
    if missing:
        raise InputError(f"{cfg.csv}: classes {missing} have fewer than 2 participants ({counts})")
    alignment = AlignmentParams(size=cfg.crop_size, scale=cfg.crop_scale)
    t0 = time.perf_counter()
    pcs = extract_all(participants, alignment, cfg.rate, cfg.workdir / "cache", cfg.progress)
    seconds = time.perf_counter() - t0
    train_ids, test_ids = train_test_split(
        [p.pid for p in participants],
        [p.label for p in participants],
        cfg.test_fraction,
        cfg.split_seed,
    )
    tr = [p for p in pcs if p.participant.pid in train_ids]
    te = [p for p in pcs if p.participant.pid in test_ids]
    log.info("split by participant: %d train, %d test (seed %d)", len(tr), len(te), cfg.split_seed)
    return PreparedData(participants, counts, alignment, pcs, tr, te, train_ids, test_ids, seconds)


def train_network(cfg: RunConfig, data: PreparedData) -> Trained:
    """Cross-validate when asked (reported only), then train the shipped network on the
    training split and save WORKDIR/model.pt."""
    cv = cross_validate(data.crops, cfg) if cfg.cv_folds > 1 else None
    init = load_pretrained(cfg.pretrained, cfg.model, data.alignment) if cfg.pretrained else None
    t0 = time.perf_counter()
    model, history = train_model(
        _frames(data.train), cfg.model, cfg.train, init_state=init, progress=cfg.progress
    )
    seconds = time.perf_counter() - t0
    ckpt = cfg.workdir / "model.pt"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "model": asdict(cfg.model),
            "alignment": data.alignment.as_dict(),
            "class_names": CLASS_NAMES,
            "train_ids": data.train_ids,
            "test_ids": data.test_ids,
        },
        ckpt,
    )
    return Trained(model, history, ckpt, cv, seconds)


def export_models(
    cfg: RunConfig, data: PreparedData, trained: Trained, formats: list[ExportFormat]
) -> Exports:
    """Each format as INT8 in WORKDIR/export, calibrated on training crops and checked
    against the FP32 network on the held-out crops (ExportError below the gate)."""
    t0 = time.perf_counter()
    out_dir = cfg.workdir / "export"
    out_dir.mkdir(exist_ok=True)
    test_crops = data.test_crops
    job = ExportJob(
        trained.model,
        cfg.crop_size,
        out_dir,
        _calibration(data.train, cfg.calibration_crops, cfg.split_seed),
        cfg.train.threads,
        cfg.model.input_norm,
    )
    ref_scaled, ref_att = predict_logits(trained.model, test_crops)
    models = [
        export_with_parity(fmt, job, test_crops, ref_scaled, cfg.min_agreement) for fmt in formats
    ]
    skipped = {}
    for key, fmt in FORMATS.items():
        if fmt not in formats:
            skipped[key] = fmt.why_unavailable() or "not in --formats"
            log.warning("%s export skipped: %s", fmt.title, skipped[key])
    return Exports(models, skipped, ref_scaled, ref_att, time.perf_counter() - t0)


def evaluate_held_out(cfg: RunConfig, data: PreparedData, exports: Exports) -> Evaluation:
    """Participant-level figures on the held-out participants with the first exported INT8
    model (what the device computes), and the FP32 network's beside them."""
    te = data.test
    evaluated = exports.models[0]
    p_int8, rows = _participant_rows(
        te,
        _split_by_frames(softmax_rows(evaluated.scaled_logits), te),
        _split_by_frames(evaluated.attention, te),
    )
    p_fp32, _ = _participant_rows(
        te,
        _split_by_frames(softmax_rows(exports.fp32_scaled_logits), te),
        _split_by_frames(exports.fp32_attention, te),
    )
    y_test = np.array([p.participant.y for p in te])
    test = evaluate_participants(y_test, p_int8, CLASS_NAMES, seed=cfg.split_seed)
    test_fp32 = evaluate_participants(y_test, p_fp32, CLASS_NAMES, seed=cfg.split_seed)
    return Evaluation(evaluated, test, test_fp32, rows)


def package_bundle(
    cfg: RunConfig,
    data: PreparedData,
    trained: Trained,
    exports: Exports,
    evaluation: Evaluation,
    key: Ed25519PrivateKey,
    public_key: Path,
) -> RunResult:
    """Write WORKDIR/report (JSON and HTML) and the signed bundle; the bundle's model
    entries come from the formats table."""
    created = datetime.now(UTC)
    bundle_id = (
        cfg.bundle_id
        or f"emoface-{'synthetic' if cfg.synthetic else 'site'}-{created:%Y%m%d-%H%M%S}"
    )
    test, evaluated = evaluation.test, evaluation.evaluated
    report = {
        "bundle_id": bundle_id,
        "synthetic": cfg.synthetic,
        "data": {
            "csv": str(cfg.csv),
            "participants": len(data.participants),
            "per_class": data.counts,
            "sample_rate_fps": cfg.rate,
            "crop_seconds": round(data.seconds, 1),
        },
        "split": {
            "unit": "participant",
            "stratified": True,
            "seed": cfg.split_seed,
            "test_fraction": cfg.test_fraction,
            "train_ids": data.train_ids,
            "test_ids": data.test_ids,
        },
        "evaluated_model": f"{evaluated.format.runtime} INT8 (the model the device runs)",
        "formats": [e.format.key for e in exports.models],
        "test": test,
        "test_fp32": {
            k: evaluation.test_fp32[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")
        },
        "participants": evaluation.rows,
        "cross_validation": trained.cross_validation,
        "parity": exports.parity_report(),
        "training": {
            "config": cfg.train.as_dict(),
            "model": asdict(cfg.model),
            "history": trained.history,
            "seconds": round(trained.seconds, 1),
            "train_frames": int(sum(p.n for p in data.train)),
        },
        "export_seconds": round(exports.seconds, 1),
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
        "int8_top1_agreement": evaluated.parity["top1_agreement"],
        "int8_agreement_gate": cfg.min_agreement,
        "data": "SYNTHETIC cohort: says nothing about clinical accuracy"
        if cfg.synthetic
        else "site's own held-out participants",
    }
    routes, route_files = session_level_routes(cfg, data, report)
    compared = (report.get("routes_compared") or {}).get("routes") or {}
    if compared:  # each session-level route's CV figures travel in the signed manifest
        validation["routes_cv"] = {
            r: {k: v[k] for k in ("participants", "accuracy", "accuracy_ci95", "macro_f1")}
            for r, v in compared.items()
        }
    rjson, rhtml = write_report(cfg.workdir / "report", report)
    bundle_dir, msha = build_bundle(
        cfg.bundle_dir or cfg.workdir / "bundle",
        trained.model,
        [e.model_file() for e in exports.models],
        data.alignment,
        CLASS_NAMES,
        validation,
        key,
        bundle_id,
        cfg.bundle_version,
        extra_files=[rjson, *route_files],
        synthetic=cfg.synthetic,
        model_config=asdict(cfg.model),
        routes=routes,
    )
    report["bundle"] = {
        "path": str(bundle_dir),
        "manifest_sha256": msha,
        "public_key": str(public_key),
    }
    return RunResult(
        bundle_dir, public_key, rjson, rhtml, report, data.test_ids, trained.checkpoint
    )


def session_level_routes(cfg: RunConfig, data: PreparedData, report: dict) -> tuple[dict, list]:
    """The explicit-marker and standard-face routes, trained from one frame-path pass over
    the training participants' videos (the explicit route's summaries; the accumulator's
    mesh field of the same pass feeds the standard face), then compared under the same
    participant folds. Fills report["explicit_route"], ["standard_face"] and
    ["routes_compared"]; returns (manifest entries, files for the bundle)."""
    if not cfg.explicit_route:
        why = "left out (--no-explicit-route)"
        report["explicit_route"] = {"skipped": why}
        report["standard_face"] = {"skipped": f"{why}: it reads the same frame-path pass"}
        return {}, []
    fields: dict = {}
    keep: dict = {}
    routes, files, report["explicit_route"] = explicit_route_for_bundle(
        data.participants,
        data.train_ids,
        cfg.workdir / "explicit_route",
        cfg.split_seed,
        cfg.progress,
        on_accumulator=lambda i, acc: fields.__setitem__(i, participant_field(acc.mesh_field)),
        keep=keep,
    )
    if not keep:
        report["standard_face"] = {"skipped": "no training summaries (see explicit_route)"}
        return routes, files
    train = keep["train"]
    labels, pids = [p.label for p in train], [p.pid for p in train]
    try:
        from device.models.landmark_store import mesh_triangles

        triangles = mesh_triangles()
    except EmofaceError as exc:
        log.warning("standard-face pictures skipped: %s", exc)
        triangles = None
    sf_routes, sf_files, report["standard_face"], sf_oof = standard_face_for_bundle(
        [fields[i] for i in range(len(train))],
        labels,
        pids,
        CLASS_NAMES,
        cfg.workdir / "standard_face",
        cfg.split_seed,
        triangles,
    )
    routes.update(sf_routes)
    files += sf_files
    probs = {"explicit": keep["result"].oof}
    if sf_oof is not None:
        probs["standard_face"] = sf_oof
    report["routes_compared"] = compare(
        np.array([CLASS_NAMES.index(lab) for lab in labels]),
        probs,
        CLASS_NAMES,
        f"{report['explicit_route']['cross_validation']['folds']}-fold cross-validation by "
        f"participant on the {len(train)} training participants (the same folds for each route)",
        missing={
            "network": "not cross-validated on these folds (its own CV, when --cv-folds is "
            "set, runs on other folds); it is compared on the held-out participants"
        },
        seed=cfg.split_seed,
    )
    return routes, files


def run(cfg: RunConfig) -> RunResult:
    """The five stages in order. The formats and the signing key are checked first, so a
    wrong --formats or key fails before hours of cropping and training."""
    t_start = time.perf_counter()
    formats = parse_formats(cfg.formats)
    cfg.workdir.mkdir(parents=True, exist_ok=True)
    key, pub_path, made = signing_key(cfg.signing_key, cfg.workdir)
    if made:
        log.warning(
            "no signing key given: made a DEVELOPMENT key %s (pin %s on test devices only)",
            cfg.workdir / "dev-model-signing-key.pem",
            pub_path,
        )
    with _stage("prepare data"):
        data = prepare_data(cfg)
    with _stage("train"):
        trained = train_network(cfg, data)
    with _stage("export"):
        exports = export_models(cfg, data, trained, formats)
    with _stage("evaluate"):
        evaluation = evaluate_held_out(cfg, data, exports)
    with _stage("package"):
        result = package_bundle(cfg, data, trained, exports, evaluation, key, pub_path)
    result.report["bundle"]["total_seconds"] = round(time.perf_counter() - t_start, 1)
    (cfg.workdir / "report" / "report.json").write_text(
        json.dumps(result.report, indent=2, sort_keys=True) + "\n"
    )
    return result
