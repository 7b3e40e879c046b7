"""The one real face the synthetic cohort animates: scikit-image's astronaut (Eileen Collins,
a NASA portrait in the public domain), and its 68 landmark points.

The points were measured once with the kiosk's own frame path (`FramePipeline.process(...)
.pts68`) and are stored beside this module, so that generating a cohort needs no landmark
model and gives the same videos wherever it runs; `measure_landmarks()` re-measures them
and a test checks that the stored copy still agrees with the frame path.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from device.errors import EmofaceError

LANDMARKS_FILE = Path(__file__).with_name("astronaut_68.json")
IMAGE_SOURCE = (
    "scikit-image skimage.data.astronaut(): NASA portrait of astronaut Eileen Collins, "
    "public domain (https://commons.wikimedia.org/wiki/File:Eileen_Collins.jpg)"
)


@dataclass(frozen=True)
class BaseFace:
    """The source image (RGB uint8) and its 68 points (x, y) in that image's pixels."""

    rgb: np.ndarray
    pts68: np.ndarray
    sha256: str  # of the raw image bytes, recorded in every cohort manifest

    @property
    def interocular(self) -> float:
        """Outer eye corner to outer eye corner (points 36 and 45), the unit of every movement."""
        return float(np.linalg.norm(self.pts68[45] - self.pts68[36]))


def load_image() -> np.ndarray:
    """The astronaut as a contiguous RGB uint8 array; it ships inside scikit-image."""
    try:
        from skimage import data
    except ImportError as exc:
        raise EmofaceError(
            "the synthetic cohort needs scikit-image for its public-domain face: "
            "pip install scikit-image"
        ) from exc
    return np.ascontiguousarray(data.astronaut())


def image_sha256(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()


def measure_landmarks(rgb: np.ndarray | None = None) -> np.ndarray:
    """68 points of the astronaut found by the kiosk's frame path (needs the landmark models)."""
    from device.vision.frame_path import FramePipeline

    rgb = load_image() if rgb is None else rgb
    result = FramePipeline().process(rgb)
    if result.pts68 is None:
        raise EmofaceError(f"the frame path found no face in the astronaut image ({result.reason})")
    return np.asarray(result.pts68, dtype=np.float64)


def save_landmarks(pts68: np.ndarray, rgb: np.ndarray, path: Path = LANDMARKS_FILE) -> None:
    """Store measured points (used when the landmark models change: see docs/synthetic_cohort.md)."""
    doc = {
        "source": IMAGE_SOURCE,
        "image_sha256": image_sha256(rgb),
        "measured_with": "device.vision.frame_path.FramePipeline().process(astronaut).pts68",
        "pts68": [[round(float(x), 3), round(float(y), 3)] for x, y in pts68],
    }
    text = json.dumps(doc, indent=1)
    # one point per line keeps the file short and its diffs readable
    text = re.sub(r"\[\s+(-?[\d.]+),\s+(-?[\d.]+)\s+\]", r"[\1, \2]", text)
    path.write_text(text + "\n", encoding="utf-8")


@lru_cache(maxsize=1)
def base_face() -> BaseFace:
    """The astronaut and her stored 68 points; refuses an image that is not the one measured."""
    rgb = load_image()
    doc = json.loads(LANDMARKS_FILE.read_text(encoding="utf-8"))
    sha = image_sha256(rgb)
    if sha != doc["image_sha256"]:
        raise EmofaceError(
            "scikit-image's astronaut differs from the image the stored landmarks were measured on "
            f"({sha[:12]} vs {doc['image_sha256'][:12]}); re-measure with "
            "`python -m model_export.synth.face`"
        )
    pts = np.asarray(doc["pts68"], dtype=np.float64)
    if pts.shape != (68, 2):
        raise EmofaceError(f"{LANDMARKS_FILE}: expected 68 points, got {pts.shape}")
    rgb.setflags(write=False)
    return BaseFace(rgb, pts, sha)


if __name__ == "__main__":  # re-measure and store the points
    image = load_image()
    save_landmarks(measure_landmarks(image), image)
    print(f"wrote {LANDMARKS_FILE}")
