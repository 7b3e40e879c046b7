"""Training the standard-digital-face route: each class's standard face is the mean, over
that class's training participants, of their per-condition 3D displacement fields on the
landmark model's 468-point mesh (device.session.mesh_field: canonical, pose-normalised,
face-size scaled, against each participant's own neutral baseline). The device compares a
session's field with each standard face by cosine similarity (device.models.standard_face).

Evaluation is by participant-level k-fold cross-validation (the same folds as the explicit
route: model_export.splits.kfold with the same seed over the same training participants):
the standard faces and the cohort centre are built on each fold's training participants
only and scored on its held-out ones; accuracy, per-class F1 and one-vs-rest AUROC with
bootstrap 95 % CIs (participants resampled). For AUROC and for combining routes, the
overall similarities become probabilities by a softmax at a fixed temperature (not fitted).

The fields come from the same frame-path pass that makes the explicit route's summaries
(session_summaries' accumulator hook): nothing is rendered or read twice, and no field is
written anywhere except the class means that go into the bundle.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.models.standard_face import MIN_FRAMES, similarities
from device.session.mesh_field import EMOTIONS, MESH_POINTS, MeshField
from model_export.evaluate import evaluate_with_cis, softmax_rows
from model_export.splits import kfold

FILE = "standard_face.npz"
META_FILE = "standard_face.json"
TEMPERATURE = 0.1  # softmax(similarity / T): a fixed monotone map, so accuracy is unchanged


@dataclass(frozen=True)
class ParticipantField:
    """One participant's mean fields ({emotion: (468, 3)}) and mean neutral mesh."""

    fields: dict[str, np.ndarray]
    neutral: np.ndarray | None
    frames: dict[str, int]


def participant_field(mesh_field: MeshField) -> ParticipantField:
    frames = mesh_field.frames()
    if frames["neutral"] < MIN_FRAMES:
        return ParticipantField({}, None, frames)
    fields = {c: f for c, f in mesh_field.displacement().items() if frames[c] >= MIN_FRAMES}
    return ParticipantField(fields, mesh_field.neutral(), frames)


@dataclass
class StandardFaces:
    class_names: tuple[str, ...]
    standard: np.ndarray  # (K, 4, 468, 3)
    centre: np.ndarray  # (4, 468, 3): unweighted mean of the class standard faces
    neutral: np.ndarray  # (468, 3): canonical mean-neutral mesh of the participants
    participants: dict[str, int]  # per class


def build_standard_faces(
    people: list[ParticipantField], labels: list[str], class_names: tuple[str, ...]
) -> StandardFaces:
    """Per class and condition, the mean field over the participants that have it."""
    std = np.zeros((len(class_names), len(EMOTIONS), MESH_POINTS, 3))
    for k, c in enumerate(class_names):
        for i, e in enumerate(EMOTIONS):
            rows = [
                p.fields[e]
                for p, lab in zip(people, labels, strict=True)
                if lab == c and e in p.fields
            ]
            if rows:
                std[k, i] = np.mean(rows, axis=0)
    neutrals = [p.neutral for p in people if p.neutral is not None]
    neutral = np.mean(neutrals, axis=0) if neutrals else np.zeros((MESH_POINTS, 3))
    counts = {
        c: sum(lab == c and bool(p.fields) for p, lab in zip(people, labels, strict=True))
        for c in class_names
    }
    return StandardFaces(class_names, std, std.mean(axis=0), neutral, counts)


def softmax(sim: np.ndarray) -> np.ndarray:
    """Similarities -> probabilities at the fixed temperature (a missing one counts as 0)."""
    return softmax_rows(np.nan_to_num(sim, nan=0.0) / TEMPERATURE)


def scores(people: list[ParticipantField], faces: StandardFaces) -> np.ndarray:
    """(n, K) overall similarities (0 where a participant has no usable field)."""
    out = np.zeros((len(people), len(faces.class_names)))
    for n, p in enumerate(people):
        if p.fields:
            out[n] = np.nan_to_num(similarities(p.fields, faces.standard, faces.centre)[:, -1])
    return out


def cross_validate(
    people: list[ParticipantField],
    labels: list[str],
    pids: list[str],
    class_names: tuple[str, ...],
    seed: int = 0,
    folds: int = 5,
    n_boot: int = 1000,
) -> tuple[dict, np.ndarray]:
    """Participant-level k-fold figures with CIs and the out-of-fold probabilities."""
    y = np.array([class_names.index(lab) for lab in labels])
    smallest = min(int(np.sum(y == k)) for k in range(len(class_names)))
    if smallest < 2:
        raise ValueError(
            f"standard face: every class needs 2 participants (smallest has {smallest})"
        )
    folds = min(folds, smallest)
    index = {pid: i for i, pid in enumerate(pids)}
    oof = np.zeros((len(people), len(class_names)))
    for train_ids, test_ids in kfold(pids, labels, k=folds, seed=seed):
        tr = [index[p] for p in train_ids]
        te = [index[p] for p in test_ids]
        faces = build_standard_faces([people[i] for i in tr], [labels[i] for i in tr], class_names)
        oof[te] = softmax(scores([people[i] for i in te], faces))
    cv = evaluate_with_cis(y, oof, class_names, n_boot=n_boot, seed=seed)
    cv["folds"] = folds
    cv["without_field"] = int(sum(not p.fields for p in people))
    return cv, oof


def export_standard_faces(faces: StandardFaces, cv: dict, out_dir: Path) -> dict:
    """standard_face.npz (float32 arrays) and standard_face.json into a bundle directory;
    returns the manifest entry."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        standard=faces.standard.astype(np.float32),
        centre=faces.centre.astype(np.float32),
        neutral=faces.neutral.astype(np.float32),
    )
    (out_dir / FILE).write_bytes(buf.getvalue())
    meta = {
        "class_names": list(faces.class_names),
        "conditions": list(EMOTIONS),
        "participants_per_class": faces.participants,
        "mesh": "MediaPipe 468-point face mesh, canonical frame of device.session.mesh_field",
        "comparison": "cosine similarity of fields centred on the cohort mean (centre)",
        "cv": {
            k: cv[k] for k in ("participants", "accuracy", "accuracy_ci95", "macro_f1", "folds")
        },
    }
    (out_dir / META_FILE).write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return {"file": FILE, "meta": META_FILE}


def standard_face_for_bundle(
    people: list[ParticipantField],
    labels: list[str],
    pids: list[str],
    class_names: tuple[str, ...],
    out_dir: Path,
    seed: int = 0,
    triangles: list[tuple[int, int, int]] | None = None,
) -> tuple[dict, list[Path], dict, np.ndarray | None]:
    """CV, the standard faces on every training participant, export and pictures. Returns
    (manifest entries, files for the bundle, the report block, out-of-fold probabilities)."""
    try:
        cv, oof = cross_validate(people, labels, pids, class_names, seed=seed)
    except ValueError as exc:
        return {}, [], {"skipped": str(exc)}, None
    faces = build_standard_faces(people, labels, class_names)
    entry = export_standard_faces(faces, cv, out_dir)
    report = {"cross_validation": cv, "participants_per_class": faces.participants}
    if triangles is not None:
        from model_export.standard_face_pictures import render_standard_faces

        report["pictures"] = [
            str(p) for p in render_standard_faces(faces, triangles, Path(out_dir) / "pictures")
        ]
    return {"standard_face": entry}, [Path(out_dir) / FILE, Path(out_dir) / META_FILE], report, oof
