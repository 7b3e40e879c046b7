"""The three MediaPipe landmark models and the face-mesh triangulation, taken from the
`mediapipe==0.10.21` wheel.

Why a wheel: newer mediapipe wheels carry no models, and nothing may download weights at
run time. `emoface models fetch` (called by .ci/setup) downloads the wheel once without
dependencies, extracts the three files, checks their pinned SHA-256 and caches them. From the same
wheel it takes face_mesh_connections.py (Apache-2.0, pinned too) and writes the mesh's
triangles as pinned JSON (device.models.tessellation) for the standard-face route. The
kiosk then only ever reads the cache and re-checks the hashes before loading.
mediapipe itself is never imported.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from device.errors import ModelError
from device.fileio import sha256_file, write_atomic
from device.models import tessellation

MEDIAPIPE_VERSION = "0.10.21"


@dataclass(frozen=True)
class LandmarkModel:
    name: str
    wheel_path: str
    sha256: str
    size: int


MODELS = {
    "face_detection": LandmarkModel(
        "face_detection_short_range.tflite",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        229714,
    ),
    "face_landmark": LandmarkModel(
        "face_landmark.tflite",
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        1242398,
    ),
    "iris_landmark": LandmarkModel(
        "iris_landmark.tflite",
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        2640568,
    ),
}

# Data beside the models: the source of the mesh's edges (parsed, never imported).
MESH_SOURCE = LandmarkModel(
    "face_mesh_connections.py",
    "mediapipe/python/solutions/face_mesh_connections.py",
    "cc7171e44d0612db38720cb2fd2516c395992cdd7457efe341543be6f3c22d87",
    36170,
)


def default_model_dir() -> Path:
    env = os.environ.get("EMOFACE_MODEL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "emoface" / "landmark-models"


def model_path(key: str, model_dir: Path | None = None) -> Path:
    """Path of a verified cached model; raises ModelError with the fix when it is not there."""
    model = MODELS[key]
    path = (model_dir or default_model_dir()) / model.name
    if not path.exists():
        raise ModelError(
            f"landmark model {model.name} not found in {path.parent}; run `emoface models fetch`"
        )
    digest = sha256_file(path)
    if digest != model.sha256:
        raise ModelError(
            f"landmark model {path} has SHA-256 {digest}, expected {model.sha256}; "
            "delete it and run `emoface models fetch`"
        )
    return path


def tessellation_path(model_dir: Path | None = None) -> Path:
    """Path of the verified triangulation JSON; ModelError with the fix when absent or altered."""
    path = (model_dir or default_model_dir()) / tessellation.FILE_NAME
    if not path.exists():
        raise ModelError(
            f"face-mesh triangulation {path.name} not found in {path.parent}; "
            "run `emoface models fetch`"
        )
    digest = sha256_file(path)
    if digest != tessellation.SHA256:
        raise ModelError(
            f"face-mesh triangulation {path} has SHA-256 {digest}, expected "
            f"{tessellation.SHA256}; delete it and run `emoface models fetch`"
        )
    return path


def mesh_triangles(model_dir: Path | None = None) -> list[tuple[int, int, int]]:
    """The 852 triangles of the 468-point mesh, from the verified cache."""
    return tessellation.load_triangles(tessellation_path(model_dir).read_bytes())


def missing_data(model_dir: Path | None = None) -> list[str]:
    try:
        tessellation_path(model_dir)
    except ModelError:
        return ["tessellation"]
    return []


def missing_models(model_dir: Path | None = None) -> list[str]:
    out = []
    for key in MODELS:
        try:
            model_path(key, model_dir)
        except ModelError:
            out.append(key)
    return out


def extract_from_wheel(wheel: Path, model_dir: Path) -> list[Path]:
    """Take the three models and the mesh source out of a mediapipe wheel, verifying each
    before it lands, and write the triangulation JSON derived from that source (checked
    against its own pin). Returns the models' paths and the JSON's."""
    model_dir.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{wheel} is not a readable wheel: {exc}") from exc
    with zf:
        names = set(zf.namelist())
        for model in (*MODELS.values(), MESH_SOURCE):
            if model.wheel_path not in names:
                raise ModelError(
                    f"{wheel} has no {model.wheel_path}; is it mediapipe {MEDIAPIPE_VERSION}?"
                )
            data = zf.read(model.wheel_path)
            digest = hashlib.sha256(data).hexdigest()
            if digest != model.sha256:
                raise ModelError(
                    f"{model.wheel_path} in {wheel} has SHA-256 {digest}, expected {model.sha256}"
                )
            target = model_dir / model.name
            write_atomic(target, data, 0o644)
            if model is not MESH_SOURCE:
                written.append(target)
            else:
                written.append(_write_tessellation(data, model_dir))
    return written


def _write_tessellation(source: bytes, model_dir: Path) -> Path:
    data = tessellation.tessellation_json(source.decode("utf-8"))
    digest = hashlib.sha256(data).hexdigest()
    if digest != tessellation.SHA256:
        raise ModelError(
            f"face-mesh triangulation derived from {MESH_SOURCE.wheel_path} has SHA-256 "
            f"{digest}, expected {tessellation.SHA256}"
        )
    target = model_dir / tessellation.FILE_NAME
    write_atomic(target, data, 0o644)
    return target


def download_wheel(dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"mediapipe=={MEDIAPIPE_VERSION}",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(dest),
        "--quiet",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("mediapipe-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise ModelError(
            f"could not download mediapipe=={MEDIAPIPE_VERSION} (pip exit {proc.returncode}): "
            f"{proc.stderr.strip()[-500:] or 'no wheel produced'}; "
            "on an offline machine pass --wheel PATH to a copy of the wheel"
        )
    return wheels[0]


def fetch(
    model_dir: Path | None = None, wheel: Path | None = None, force: bool = False
) -> list[Path]:
    """Make sure the three verified models and the triangulation are in the cache; returns
    their paths."""
    model_dir = model_dir or default_model_dir()
    if not force and not missing_models(model_dir) and not missing_data(model_dir):
        return [model_dir / m.name for m in MODELS.values()] + [tessellation_path(model_dir)]
    if wheel is not None:
        if not Path(wheel).exists():
            raise ModelError(f"wheel {wheel} does not exist")
        return extract_from_wheel(Path(wheel), model_dir)
    with tempfile.TemporaryDirectory(prefix="emoface-mp-") as tmp:
        return extract_from_wheel(download_wheel(Path(tmp)), model_dir)


def add_cli(sub) -> None:
    p = sub.add_parser(
        "models",
        help="manage the landmark models (fetch from the mediapipe wheel, verify)",
        description="Fetch and verify MediaPipe's face detector, face landmark and iris models. "
        f"They are extracted from the mediapipe=={MEDIAPIPE_VERSION} wheel and checked against pinned SHA-256, "
        "with the face mesh's triangulation (FACEMESH_TESSELATION, Apache-2.0) as pinned JSON.",
    )
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    f = msub.add_parser("fetch", help="download (once) and verify the models into the cache")
    f.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="cache folder (default: $EMOFACE_MODEL_DIR or ~/.cache/emoface/landmark-models)",
    )
    f.add_argument(
        "--wheel",
        type=Path,
        default=None,
        help="use this local mediapipe wheel instead of downloading",
    )
    f.add_argument("--force", action="store_true", help="re-extract even when the cache is valid")
    f.set_defaults(func=_cmd_fetch)
    v = msub.add_parser("verify", help="check the cached models against their pinned hashes")
    v.add_argument("--dir", type=Path, default=None)
    v.set_defaults(func=_cmd_verify)


def _cmd_fetch(args) -> int:
    paths = fetch(args.dir, args.wheel, args.force)
    for p in paths:
        print(f"ok  {p}")
    return 0


def _cmd_verify(args) -> int:
    for key in MODELS:
        print(f"ok  {model_path(key, args.dir)}")
    print(f"ok  {tessellation_path(args.dir)}")
    return 0
