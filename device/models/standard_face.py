"""The standard-digital-face route on the device: the session's own 3D displacement field
(device.session.mesh_field, per emotional condition against the neutral baseline) is
compared by cosine similarity with each class's standard face (the mean field of that
class's training participants, model_export.standard_face), per condition and over all
conditions together; the most similar class is the route's answer.

The standard faces come from the signed bundle (`standard_face` manifest entry: an .npz of
arrays and a JSON of names and validation figures); the file's SHA-256 is checked against
the signed manifest again as it is read. Both fields are centred on the cohort's mean field
(stored in the bundle beside them) before the comparison, so the similarity measures how a
face departs from the average response rather than the average response itself, which
every class shares.

What reaches the summary is small: similarities per class and condition, the answer, the
frames behind it. Never the field. A research aid, not a diagnosis.
"""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np

from device.errors import ModelError
from device.session.mesh_field import EMOTIONS, MESH_POINTS, MeshField

OVERALL = "overall"
MIN_FRAMES = 3  # per condition, and for the neutral baseline
ARRAYS = ("standard", "centre", "neutral")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na <= 1e-12 or nb <= 1e-12:
        return 0.0
    return float(np.clip(np.dot(a.ravel(), b.ravel()) / (na * nb), -1.0, 1.0))


def similarities(
    field: dict[str, np.ndarray], standard: np.ndarray, centre: np.ndarray
) -> np.ndarray:
    """(K, len(EMOTIONS) + 1) cosine similarities of a session's field ({emotion: (468, 3)})
    with each class's standard face (standard: (K, 4, 468, 3), centre: (4, 468, 3)); the last
    column is over every condition the session has. NaN where the session lacks a condition."""
    k = standard.shape[0]
    out = np.full((k, len(EMOTIONS) + 1), np.nan)
    have = [i for i, c in enumerate(EMOTIONS) if c in field]
    if not have:
        return out
    mine = {i: field[EMOTIONS[i]] - centre[i] for i in have}
    for j in range(k):
        for i in have:
            out[j, i] = cosine(mine[i], standard[j, i] - centre[i])
        out[j, -1] = cosine(
            np.concatenate([mine[i].ravel() for i in have]),
            np.concatenate([(standard[j, i] - centre[i]).ravel() for i in have]),
        )
    return out


def usable_field(mesh_field: MeshField) -> tuple[dict[str, np.ndarray], str | None]:
    """The conditions with enough frames, or ({}, why none)."""
    frames = mesh_field.frames()
    if frames["neutral"] < MIN_FRAMES:
        return {}, f"fewer than {MIN_FRAMES} neutral baseline frames with a face mesh"
    field = {c: f for c, f in mesh_field.displacement().items() if frames[c] >= MIN_FRAMES}
    if not field:
        return {}, f"no emotional condition with {MIN_FRAMES} usable frames"
    return field, None


class StandardFaceRoute:
    """The class standard faces of a bundle, and the comparison."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict):
        try:
            self.class_names = tuple(str(c) for c in meta["class_names"])
            conditions = tuple(meta["conditions"])
        except (KeyError, TypeError) as exc:
            raise ModelError(f"standard face: metadata lacks {exc}") from exc
        if conditions != EMOTIONS:
            raise ModelError(
                f"standard face: conditions {conditions} differ from this device's {EMOTIONS}"
            )
        standard = np.asarray(arrays["standard"], np.float64)
        centre = np.asarray(arrays["centre"], np.float64)
        want = (len(self.class_names), len(EMOTIONS), MESH_POINTS, 3)
        if standard.shape != want or centre.shape != want[1:]:
            raise ModelError(
                f"standard face: arrays of shape {standard.shape} / {centre.shape}, expected "
                f"{want} / {want[1:]}"
            )
        if not (np.isfinite(standard).all() and np.isfinite(centre).all()):
            raise ModelError("standard face: non-finite values in the standard faces")
        self.standard, self.centre = standard, centre
        self.neutral = np.asarray(arrays["neutral"], np.float64)
        self.cv = meta.get("cv")

    @classmethod
    def from_bundle(cls, bundle) -> StandardFaceRoute | None:
        """The route stored in a verified bundle (device.models.bundle.VerifiedBundle), or None
        when it has none. Each file is hashed again against the signed manifest as it is read."""
        spec = bundle.manifest.get("standard_face")
        if spec is None:
            return None
        try:
            data = {k: _read_checked(bundle, spec[k]) for k in ("file", "meta")}
            meta = json.loads(data["meta"].decode("utf-8"))
            with np.load(io.BytesIO(data["file"]), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in ARRAYS}
        except (KeyError, TypeError, ValueError, OSError) as exc:
            raise ModelError(
                f"model bundle {bundle.path}: bad standard_face entry ({exc})"
            ) from exc
        return cls(arrays, meta)

    def predict(self, mesh_field: MeshField) -> dict:
        """The route's summary block."""
        frames = mesh_field.frames()
        field, why = usable_field(mesh_field)
        block: dict = {"frames": frames, "answer": None, "similarity": {}}
        if why is not None:
            block["reason"] = why
            return block
        sim = similarities(field, self.standard, self.centre)
        cols = (*EMOTIONS, OVERALL)
        block["similarity"] = {
            name: {
                c: round(float(v), 5) for c, v in zip(cols, sim[k], strict=True) if np.isfinite(v)
            }
            for k, name in enumerate(self.class_names)
        }
        block["answer"] = self.class_names[int(np.argmax(sim[:, -1]))]
        block["conditions"] = [c for c in EMOTIONS if c in field]
        return block


def _read_checked(bundle, name: str) -> bytes:
    path = bundle.file(name)
    data = path.read_bytes()
    want = bundle.manifest["files"][name]["sha256"]
    if hashlib.sha256(data).hexdigest() != want:
        raise ModelError(f"model bundle {bundle.path}: {name} does not match its signed SHA-256")
    return data
