"""The kiosk's classifier: a verified model bundle run in ONNX Runtime or LiteRT.

`load_classifier` verifies the bundle (device/models/bundle.py) before it opens any model file,
then picks the runtime the bundle offers (LiteRT first when both are there and installed:
it is faster on the Pi's CPU). `infer` turns one aligned crop into class probabilities,
the Self-Cure attention weight, and the exact CAM sampled at the landmarks.

`ModelSlot` holds the classifier in use and swaps in an update only once the new bundle is
installed and loaded; a refused update leaves the previous one running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from device.errors import ModelError
from device.models.bundle import BundleStore, VerifiedBundle, load_public_key, verify_bundle
from device.models.class_activation import landmark_attention
from device.vision.alignment import AlignmentParams

log = logging.getLogger(__name__)
RUNTIME_PREFERENCE = ("litert", "onnxruntime")


@dataclass
class ClassifierOutput:
    probs: np.ndarray  # (K,) softmax of the attention-scaled logits
    attention: float  # Self-Cure importance weight, 0..1
    region_attention: np.ndarray  # (K, 16) evidence map of every class, 0..1 (device/models/class_activation.py)
    organ_attention: np.ndarray  # (K, 9)
    predicted: int = 0


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


class _OnnxBackend:
    def __init__(self, path: Path, spec: dict, threads: int):
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError(
                "onnxruntime is not installed (pip install 'emoface-edge[device]')"
            ) from exc
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ModelError(f"cannot load {path.name} in ONNX Runtime: {exc}") from exc
        self.input = spec.get("input", self.sess.get_inputs()[0].name)
        outs = spec.get("outputs", {})
        self.names = [outs.get(k, k) for k in ("logits", "attention", "features")]
        self.nhwc = spec.get("input_layout", "NCHW") == "NHWC"

    def run(self, x: np.ndarray):
        logits, att, feats = self.sess.run(self.names, {self.input: x})
        return logits[0], float(np.ravel(att)[0]), feats[0]


class _LiteRTBackend:
    def __init__(self, path: Path, spec: dict, threads: int):
        from device.models.runtimes import litert

        if litert._Interpreter is None:
            raise ModelError("no LiteRT interpreter installed (pip install ai-edge-litert)")
        try:
            self.it = litert._Interpreter(model_path=str(path), num_threads=threads)
            self.it.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load {path.name} in LiteRT: {exc}") from exc
        self.inp = self.it.get_input_details()[0]
        self.nhwc = spec.get("input_layout", "NCHW") == "NHWC"
        self.features_nhwc = spec.get("features_layout", "NCHW") == "NHWC"
        # Outputs are matched by shape: (1, K) logits, (1, 1) attention, 4-D features.
        self.out = {}
        for d in self.it.get_output_details():
            shape = tuple(d["shape"])
            key = "features" if len(shape) == 4 else ("attention" if shape[-1] == 1 else "logits")
            self.out[key] = d
        if set(self.out) != {"logits", "attention", "features"}:
            raise ModelError(
                f"{path.name}: unexpected outputs {[tuple(d['shape']) for d in self.it.get_output_details()]}"
            )

    @staticmethod
    def _get(it, d) -> np.ndarray:
        v = it.get_tensor(d["index"])
        scale, zero = d.get("quantization", (0.0, 0))
        if v.dtype != np.float32 and scale:
            v = (v.astype(np.float32) - zero) * scale
        return v

    def run(self, x: np.ndarray):
        d = self.inp
        if d["dtype"] != np.float32:
            scale, zero = d["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(d["dtype"])
        self.it.set_tensor(d["index"], x)
        self.it.invoke()
        logits = self._get(self.it, self.out["logits"])[0]
        att = float(np.ravel(self._get(self.it, self.out["attention"]))[0])
        feats = self._get(self.it, self.out["features"])[0]
        if self.features_nhwc:
            feats = np.transpose(feats, (2, 0, 1))
        return logits, att, feats


_BACKENDS = {"onnxruntime": _OnnxBackend, "litert": _LiteRTBackend}


class Classifier:
    """One loaded bundle. `infer(crop, pts_in_crop)` on an aligned crop (see .alignment)."""

    def __init__(
        self, bundle: VerifiedBundle, threads: int = 2, prefer: tuple[str, ...] = RUNTIME_PREFERENCE
    ):
        m = bundle.manifest
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
        self.backend, self.runtime, self.model_spec = self._open(bundle, threads, prefer)

    @staticmethod
    def _open(bundle: VerifiedBundle, threads: int, prefer: tuple[str, ...]):
        models = {mod["runtime"]: mod for mod in bundle.manifest["models"]}
        order = [r for r in prefer if r in models] + [r for r in models if r not in prefer]
        errors = []
        for rt in order:
            try:
                spec = models[rt]
                return _BACKENDS[rt](bundle.file(spec["file"]), spec, threads), rt, spec
            except ModelError as exc:
                errors.append(str(exc))
                log.warning(
                    "model bundle %s: %s runtime unavailable: %s", bundle.bundle_id, rt, exc
                )
        raise ModelError(f"model bundle {bundle.path}: no usable runtime ({'; '.join(errors)})")

    def preprocess(self, crop_rgb: np.ndarray) -> np.ndarray:
        if crop_rgb.shape != (self.size, self.size, 3) or crop_rgb.dtype != np.uint8:
            raise ValueError(
                f"crop must be {self.size}x{self.size}x3 uint8, got {crop_rgb.shape} {crop_rgb.dtype}"
            )
        x = crop_rgb.astype(np.float32) * np.float32(1 / 255)
        if self._norm == "instance":  # per-crop, per-channel standardisation
            mean = x.mean(axis=(0, 1), keepdims=True)
            x = (x - mean) / np.sqrt(((x - mean) ** 2).mean(axis=(0, 1), keepdims=True) + self._eps)
        else:
            x = (x - self._mean) / self._std
        x = x[None] if self.backend.nhwc else np.transpose(x, (2, 0, 1))[None]
        return np.ascontiguousarray(x)

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
) -> Classifier:
    """Verify and load a bundle. `bundle_dir` is either one bundle (has manifest.json) or a
    device model store (has current.json): then the installed bundle in use is loaded."""
    path = Path(bundle_dir)
    key = load_public_key(signing_public_key)
    if (path / "manifest.json").is_file() or not BundleStore.is_store(path):
        vb = verify_bundle(path, key)
    else:
        vb = BundleStore(path).current(key)
    return Classifier(vb, threads, prefer)


class ModelSlot:
    """The classifier in use on a kiosk, backed by a model store. `update` installs and loads
    a new bundle; when anything is refused the previous classifier stays loaded and installed."""

    def __init__(
        self, store_dir: Path | str, signing_public_key, threads: int = 2, prefer=RUNTIME_PREFERENCE
    ):
        self.store = BundleStore(store_dir)
        self.key = load_public_key(signing_public_key)
        self.threads = threads
        self.prefer = prefer
        self.classifier: Classifier | None = None
        if self.store.current_record() is not None:
            self.classifier = Classifier(self.store.current(self.key), threads, prefer)

    def update(self, bundle_dir: Path | str) -> Classifier:
        previous_record = self.store.current_record()
        vb = self.store.install(bundle_dir, self.key)
        try:
            clf = Classifier(vb, self.threads, self.prefer)
        except ModelError:
            if (
                previous_record is not None
                and previous_record["manifest_sha256"] != vb.manifest_sha256
            ):
                from device.models.bundle import CURRENT, _write_json_atomically

                _write_json_atomically(self.store.root / CURRENT, previous_record)
            raise
        self.classifier = clf
        return clf
