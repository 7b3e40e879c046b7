"""The kiosk's classifier: a verified model bundle run in ONNX Runtime or LiteRT.

`load_classifier` verifies the bundle (device/models/bundle.py) before it opens any model file,
then picks the runtime the bundle offers (LiteRT first when both are there and installed:
it is faster on the Pi's CPU). `infer` turns one aligned crop into class probabilities,
the Self-Cure attention weight, and the exact CAM sampled at the landmarks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device.errors import ModelError
from device.models.bundle import BundleStore, VerifiedBundle, pinned_signing_key, verify_bundle
from device.models.class_activation import landmark_attention
from device.models.runtimes import open_model, quantise
from device.models.runtimes.providers import DEFAULT_PROVIDERS
from device.vision.alignment import AlignmentParams

log = logging.getLogger(__name__)
RUNTIME_PREFERENCE = ("litert", "onnxruntime")


@dataclass
class ClassifierOutput:
    probs: np.ndarray  # (K,) softmax of the attention-scaled logits
    attention: float  # Self-Cure importance weight, 0..1
    # (K, 16) evidence map of every class, 0..1 (device/models/class_activation.py)
    region_attention: np.ndarray
    organ_attention: np.ndarray  # (K, 9)
    predicted: int = 0


_CHANNELS = np.arange(3)
_CHANNEL_OFFSETS = np.array([0, 256, 512], np.uint16)  # one histogram for all three channels
_UNIT = np.arange(256, dtype=np.float64) / 255.0  # every uint8 value as x/255


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


class ClassifierModel:
    """The classifier network in one runtime: crop batch in, (logits, attention, feature
    map C x h x w) out, whatever layout or output names the exported file uses.

    ONNX files name their outputs (`spec["outputs"]` maps logits/attention/features to
    names); LiteRT files are matched by shape: (1, K) logits, (1, 1) attention, 4-D
    features. The exporter's parity check runs this same class, so a model that passes
    parity is run on the kiosk exactly as it was checked.
    """

    def __init__(
        self,
        runtime: str,
        path: Path,
        spec: dict | None = None,
        threads: int = 2,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
    ):
        spec = spec or {}
        self.runtime = runtime
        self.model = open_model(runtime, path, threads=threads, providers=providers)
        self.nhwc = spec.get("input_layout", "NCHW") == "NHWC"
        self.features_nhwc = spec.get("features_layout", "NCHW") == "NHWC"
        outs = spec.get("outputs", {})
        names = {o.name: o for o in self.model.outputs}
        self.names = {}
        for key in ("logits", "attention", "features"):
            if outs.get(key, key) in names:
                self.names[key] = outs.get(key, key)
        if len(self.names) < 3:  # match by shape
            self.names = {}
            for o in self.model.outputs:
                key = (
                    "features"
                    if len(o.shape) == 4
                    else ("attention" if o.shape[-1] == 1 else "logits")
                )
                self.names[key] = o.name
        if set(self.names) != {"logits", "attention", "features"}:
            raise ModelError(
                f"{Path(path).name}: unexpected outputs {[(o.name, o.shape) for o in self.model.outputs]}"
            )

    def run(self, x: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        out = self.model.run(x)
        logits = out[self.names["logits"]][0]
        att = float(np.ravel(out[self.names["attention"]])[0])
        feats = out[self.names["features"]][0]
        if self.features_nhwc:
            feats = np.transpose(feats, (2, 0, 1))
        return logits, att, feats


class Classifier:
    """One loaded bundle. `infer(crop, pts_in_crop)` on an aligned crop (see .alignment)."""

    def __init__(
        self,
        bundle: VerifiedBundle,
        threads: int = 2,
        prefer: tuple[str, ...] = RUNTIME_PREFERENCE,
        providers: Sequence[str] = DEFAULT_PROVIDERS,
    ):
        m = bundle.manifest
        self.bundle = bundle  # the verified bundle: other routes stored in it load from here
        self.bundle_path = bundle.path
        self.bundle_id = bundle.bundle_id
        self.version = bundle.version
        self.manifest_sha256 = bundle.manifest_sha256
        self.validation = m["validation"]
        self.synthetic = bool(m.get("synthetic", False))
        self.class_names = tuple(m["class_names"])
        try:
            self.alignment = AlignmentParams.from_dict(m["alignment"])
            inp = m["input"]
            self.size = int(inp["size"])
            self._norm = inp.get("normalise", "fixed")
            if self._norm not in ("fixed", "instance"):
                raise ValueError(f"unknown normalisation {self._norm!r}")
            self._eps = float(inp.get("instance_eps", 1e-4))
            self._mean = np.asarray(inp["mean"], np.float32).reshape(1, 1, 3)
            self._std = np.asarray(inp["std"], np.float32).reshape(1, 1, 3)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"model bundle {bundle.path}: bad input or alignment spec ({exc})"
            ) from exc
        if self.size != self.alignment.size:
            raise ModelError(
                f"model bundle {bundle.path}: input size {self.size} != crop size {self.alignment.size}"
            )
        head = np.load(bundle.file(m["head"]["file"]), allow_pickle=False)
        if head.ndim != 2 or head.shape[0] != len(self.class_names):
            raise ModelError(
                f"model bundle {bundle.path}: head has shape {head.shape}, expected ({len(self.class_names)}, C+1)"
            )
        self.head_weights = head[:, :-1].astype(np.float32)
        self.threads = threads
        self._providers = tuple(providers)
        self.backend, self.runtime, self.model_spec = self._open(bundle, threads, prefer, providers)
        # fixed normalisation: one table for every crop
        fixed = (_UNIT[None, :] - self._mean.reshape(3, 1).astype(np.float64)) / self._std.reshape(
            3, 1
        ).astype(np.float64)
        self._lut = self._as_input(fixed)

    @staticmethod
    def _open(
        bundle: VerifiedBundle, threads: int, prefer: tuple[str, ...], providers: Sequence[str]
    ):
        models = {mod["runtime"]: mod for mod in bundle.manifest["models"]}
        order = [r for r in prefer if r in models] + [r for r in models if r not in prefer]
        errors = []
        for rt in order:
            try:
                spec = models[rt]
                model = ClassifierModel(rt, bundle.file(spec["file"]), spec, threads, providers)
                return model, rt, spec
            except ModelError as exc:
                errors.append(str(exc))
                log.warning(
                    "model bundle %s: %s runtime unavailable: %s", bundle.bundle_id, rt, exc
                )
        raise ModelError(f"model bundle {bundle.path}: no usable runtime ({'; '.join(errors)})")

    def set_threads(self, threads: int) -> None:
        """Reopen the model with `threads` inference threads (the frame path runs it beside
        the iris model on one thread each); same file, same runtime."""
        if threads != self.threads:
            self.backend = ClassifierModel(
                self.runtime,
                self.bundle.file(self.model_spec["file"]),
                self.model_spec,
                threads,
                self._providers,
            )
            self.threads = threads

    @property
    def bundle_meta(self) -> dict:
        """Which model produced a summary: `model_bundle` in every summary and report."""
        return {
            "id": self.bundle_id,
            "version": self.version,
            "manifest_sha256": self.manifest_sha256,
        }

    def preprocess(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The model's input for one crop: x/255, normalised per the manifest, in the
        model's layout and, for an integer input, already quantised.

        A pixel's input value depends only on its channel and its uint8 value, so the
        256 values of each channel are computed once per crop (instance statistics from
        the channel's histogram, in float64) and the crop is looked up through them: one
        pass over the pixels instead of eight float passes plus quantisation."""
        if crop_rgb.shape != (self.size, self.size, 3) or crop_rgb.dtype != np.uint8:
            raise ValueError(
                f"crop must be {self.size}x{self.size}x3 uint8, got {crop_rgb.shape} {crop_rgb.dtype}"
            )
        idx = crop_rgb + _CHANNEL_OFFSETS  # (channel, value) -> row of the flat table
        if self._norm == "fixed":
            lut = self._lut
        else:
            lut = self._as_input(self._instance_lut(np.bincount(idx.ravel(), minlength=768)))
        return lut.ravel().take(idx if self.backend.nhwc else idx.transpose(2, 0, 1))[None]

    def _instance_lut(self, counts: np.ndarray) -> np.ndarray:
        """(3, 256) float64 from the crop's (3 * 256) histogram: (v/255 - mean) /
        sqrt(var + eps) with the per-channel mean and variance of v/255."""
        counts = counts.reshape(3, 256)
        n = counts[0].sum()
        mean = counts @ _UNIT / n
        dev = _UNIT[None, :] - mean[:, None]
        var = (counts * dev * dev).sum(axis=1) / n
        return dev / np.sqrt(var + self._eps)[:, None]

    def _as_input(self, values: np.ndarray) -> np.ndarray:
        """(3, 256) normalised values -> the model's input dtype (quantised when integer)."""
        q = self.backend.model.input_quantisation
        return values.astype(np.float32) if q is None else quantise(values, q)

    def raw(self, crop_rgb: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(unscaled logits, attention, feature map C x h x w) for one crop."""
        return self.backend.run(self.preprocess(crop_rgb))

    def infer(self, crop_rgb: np.ndarray, pts_in_crop: np.ndarray) -> ClassifierOutput:
        logits, att, feats = self.raw(crop_rgb)
        att = float(np.clip(att, 0.0, 1.0))
        probs = _softmax(att * logits.astype(np.float64))
        _, regions, organs = landmark_attention(
            feats, self.head_weights, np.asarray(pts_in_crop), self.size
        )
        return ClassifierOutput(probs, att, regions, organs, int(np.argmax(probs)))


def load_classifier(
    bundle_dir: Path | str,
    signing_public_key: Path | str | Ed25519PublicKey,
    threads: int = 2,
    prefer: tuple[str, ...] = RUNTIME_PREFERENCE,
    providers: Sequence[str] = DEFAULT_PROVIDERS,
) -> Classifier:
    """Verify and load a bundle. `bundle_dir` is either one bundle (has manifest.json) or a
    device model store (has current.json): then the installed bundle in use is loaded."""
    path = Path(bundle_dir)
    key = pinned_signing_key(signing_public_key)
    if (path / "manifest.json").is_file() or not BundleStore.is_store(path):
        vb = verify_bundle(path, key)
    else:
        vb = BundleStore(path).current(key)
    return Classifier(vb, threads, prefer, providers)
