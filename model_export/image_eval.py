"""`emoface evaluate`: a pretrain checkpoint or a signed model bundle, scored on a labelled
photo folder with the model's own crop (read from the checkpoint or the bundle manifest).

Images go through the same intake as training (model_export.intake), so a photo the model
never sees is reported as dropped, not silently skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.errors import InputError, ModelError
from device.vision.alignment import AlignmentParams
from model_export.evaluate import evaluate_images
from model_export.intake import IntakeRules, intake_images


class _Checkpoint:
    """A pretrain checkpoint as a batch predictor."""

    def __init__(self, path: Path):
        import torch

        from model_export.model import CHECKPOINT_ERRORS, ResNet18SCN, model_config_from_dict

        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
            self.classes = tuple(ck["classes"])
            model_cfg = model_config_from_dict({**ck["model"], "num_classes": len(self.classes)})
            self.alignment = AlignmentParams.from_dict(ck["alignment"])
            self.model = ResNet18SCN(model_cfg)
            self.model.load_state_dict(ck["state_dict"])
        except CHECKPOINT_ERRORS as exc:
            raise InputError(f"{path}: not an `emoface pretrain` checkpoint ({exc})") from None
        self.model.eval()

    def predict(self, crops: np.ndarray) -> np.ndarray:
        from model_export.train import predict_logits

        return predict_logits(self.model, crops)[0].argmax(1)


class _Bundle:
    """A verified model bundle (the kiosk's own classifier code) as a batch predictor."""

    def __init__(self, path: Path, signing_key: Path | None):
        from device.models.classifier import load_classifier

        if signing_key is None:
            raise InputError(
                f"{path}: a model bundle needs --signing-key (the model-signing public key)"
            )
        self.classifier = load_classifier(path, signing_key)
        self.classes = self.classifier.class_names
        self.alignment = self.classifier.alignment

    def predict(self, crops: np.ndarray) -> np.ndarray:
        out = []
        for crop in crops:
            logits, att, _ = self.classifier.raw(crop)
            out.append(int(np.argmax(float(np.clip(att, 0, 1)) * np.asarray(logits, np.float64))))
        return np.asarray(out, int)


def load_predictor(path: Path, signing_key: Path | None = None):
    path = Path(path)
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise ModelError(f"{path}: a folder but not a model bundle (no manifest.json)")
        return _Bundle(path, signing_key)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint or bundle")
    return _Checkpoint(path)


def evaluate_path(
    model: Path,
    images: Path,
    signing_key: Path | None = None,
    progress: bool = True,
    n_boot: int = 1000,
) -> dict:
    """Figures of `model` on ROOT/<class>/<image> (only the folders named like model classes)."""
    predictor = load_predictor(model, signing_key)
    images = Path(images)
    if not images.is_dir():
        raise InputError(f"{images}: not a directory")
    present = tuple(c for c in predictor.classes if (images / c).is_dir())
    if not present:
        raise InputError(
            f"{images}: no folder named like a model class ({', '.join(predictor.classes)})"
        )
    data, report = intake_images(
        images, predictor.alignment, IntakeRules(), classes=present, progress=progress
    )
    y_true = np.asarray([predictor.classes.index(present[i]) for i in data.labels], int)
    y_pred = predictor.predict(data.crops)
    subjects = (
        data.subjects
        if len(set(data.subjects)) < len(data.subjects) or (images / "labels.csv").is_file()
        else None
    )
    figures = evaluate_images(y_true, y_pred, predictor.classes, subjects, n_boot)
    return {
        "model": str(model),
        "images": str(images),
        "intake": report.as_dict(),
        "figures": figures,
    }
