"""Image-set intake for training: every photo of ROOT/<class>/<image> either becomes an
aligned crop or is dropped with a reason, and the per-class count of both is reported.

A photo is not a kiosk video frame, so the kiosk's video rules are adapted, not copied:
- small faces are upscaled around the detection (as the landmark-accuracy test does for
  stills) instead of being dropped for an 80 px jaw; only faces too small to upscale
  (`face_too_small`, a detection box under `min_face_px`) are dropped;
- a face that fills the whole photo gets a replicated margin so the detector sees it;
- one dominant face in a group photo is kept (`several_faces` only when a second face is
  nearly as large);
- the sharpness check is left out (an upscaled photo is soft by nature) and the head-pose
  limits are wider; brightness is measured on the face (device.vision.quality.face_stats).

A class that loses more than `max_drop_share` of its images stops the run unless the user
says to go on: silently training on a third of a class skews everything after it.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from device.errors import InputError, NoFaceError
from device.vision.alignment import AlignmentParams, align_face, alignment_matrix
from device.vision.face_landmarker import FaceLandmarker
from device.vision.facemap import mp478_to_68
from device.vision.features import CANONICAL_CROP, to_canonical
from device.vision.headpose import head_pose
from device.vision.quality import QualityThresholds, face_stats
from model_export.config import INTAKE_MAX_DROP_SHARE

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
DROP_REASONS = (
    "unreadable",
    "no_face",
    "several_faces",
    "face_too_small",
    "head_turned",
    "too_dark",
    "too_bright",
)
UPSCALE_PX = 256  # side of the square the face is resampled into before the landmarks
LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class IntakeRules:
    """What a training photo must satisfy (see the module docstring for why)."""

    min_face_px: float = 24.0  # detection box width below which upscaling only invents pixels
    max_yaw_deg: float = 45.0
    max_pitch_deg: float = 35.0
    second_face_ratio: float = 0.6  # a second face at least this wide (vs the largest) = ambiguous
    min_brightness: float = QualityThresholds.min_brightness
    max_brightness: float = QualityThresholds.max_brightness
    max_drop_share: float = INTAKE_MAX_DROP_SHARE  # per class; more stops the run unless go_on

    def __post_init__(self):
        if not 0 <= self.max_drop_share <= 1:
            raise InputError(f"max drop share {self.max_drop_share} must be between 0 and 1")


@dataclass
class ImageSet:
    """Kept images: aligned crops (N,S,S,3) uint8, the 68 points in the canonical frame
    (N,68,2), class index, file (relative to the root) and subject of each."""

    crops: np.ndarray
    canon: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    files: list[str]
    subjects: list[str]

    def subset(self, idx: np.ndarray) -> ImageSet:
        idx = np.asarray(idx, int)
        return ImageSet(
            self.crops[idx],
            self.canon[idx],
            self.labels[idx],
            self.classes,
            [self.files[i] for i in idx],
            [self.subjects[i] for i in idx],
        )


@dataclass
class IntakeReport:
    """Per class: images seen, kept, and dropped by reason; plus every dropped file."""

    classes: tuple[str, ...]
    seen: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    dropped: dict = field(default_factory=dict)  # class -> Counter(reason)
    drops: list = field(default_factory=list)  # (file, class, reason)

    def drop(self, file: str, cls: str, reason: str) -> None:
        self.dropped.setdefault(cls, Counter())[reason] += 1
        self.drops.append((file, cls, reason))

    def drop_share(self, cls: str) -> float:
        return 1.0 - self.kept[cls] / self.seen[cls] if self.seen[cls] else 0.0

    def as_dict(self) -> dict:
        return {
            "classes": {
                c: {
                    "images": self.seen[c],
                    "kept": self.kept[c],
                    "dropped": sum(self.dropped.get(c, Counter()).values()),
                    "drop_share": round(self.drop_share(c), 4),
                    "reasons": dict(sorted(self.dropped.get(c, Counter()).items())),
                }
                for c in self.classes
            },
            "dropped_files": [{"file": f, "class": c, "reason": r} for f, c, r in self.drops],
        }

    def table(self) -> str:
        reasons = [
            r for r in DROP_REASONS if any(r in self.dropped.get(c, {}) for c in self.classes)
        ]
        head = ["class", "images", "kept", "dropped", "share", *reasons]
        rows = [
            [
                c,
                self.seen[c],
                self.kept[c],
                self.seen[c] - self.kept[c],
                f"{self.drop_share(c):.0%}",
            ]
            + [self.dropped.get(c, Counter())[r] for r in reasons]
            for c in self.classes
        ]
        tot = [sum(r[i] for r in rows) for i in (1, 2, 3)]
        rows.append(
            ["all", *tot, f"{tot[2] / max(tot[0], 1):.0%}"]
            + [sum(self.dropped.get(c, Counter())[r] for c in self.classes) for r in reasons]
        )
        width = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
        return "\n".join(
            "  ".join(
                str(x).rjust(w) if i else str(x).ljust(w)
                for i, (x, w) in enumerate(zip(r, width, strict=True))
            )
            for r in [head, *rows]
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")

    def check(self, max_drop_share: float, go_on: bool) -> None:
        """Refuse a run in which a class lost more than `max_drop_share` of its images."""
        over = {c: self.drop_share(c) for c in self.classes if self.drop_share(c) > max_drop_share}
        if over and not go_on:
            lost = ", ".join(f"{c} {s:.0%}" for c, s in over.items())
            raise InputError(
                f"classes lost more than {max_drop_share:.0%} of their images in intake ({lost}); "
                "see the intake table and its dropped-file list, or pass --keep-going to train anyway"
            )


def read_subjects(root: Path) -> dict[str, str]:
    """{file relative to root: subject} from ROOT/labels.csv (columns file, subject), or {}."""
    path = root / LABELS_FILE
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not {"file", "subject"} <= set(reader.fieldnames or []):
            raise InputError(f"{path}: needs columns file and subject (has {reader.fieldnames})")
        return {
            row["file"].strip(): row["subject"].strip() for row in reader if row["subject"].strip()
        }


def list_images(
    root: Path, classes: tuple[str, ...] | None = None
) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """(classes, [(image file, class index)]). Training needs at least two class folders;
    with `classes` given (evaluating a model on some of its classes) one is enough."""
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    if not classes:
        classes = tuple(sorted(d.name for d in root.iterdir() if d.is_dir()))
        if len(classes) < 2:
            raise InputError(f"{root}: needs one folder per class (found {len(classes)})")
    missing = [c for c in classes if not (root / c).is_dir()]
    if missing:
        raise InputError(f"{root}: no folder for classes {missing}")
    files = [
        (f, i)
        for i, c in enumerate(classes)
        for f in sorted((root / c).iterdir())
        if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    return classes, files


class PhotoFaces:
    """The 68 points of the one face of a photo, or the reason there is none usable."""

    def __init__(self, rules: IntakeRules, threads: int = 2):
        self.rules = rules
        self.landmarker = FaceLandmarker(threads=threads, detect_interval=1)

    def _detect(self, rgb: np.ndarray):
        dets = self.landmarker.detector.detect(rgb)
        if dets:
            return dets
        # a face filling the photo: give the detector the margin it was trained with
        h, w = rgb.shape[:2]
        pad = max(h, w) // 3
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        dets = self.landmarker.detector.detect(padded)
        for d in dets:
            d.box[:] = d.box - pad
            d.keypoints[:] = d.keypoints - pad
        return dets

    def points(self, rgb: np.ndarray) -> tuple[np.ndarray | None, str | None]:
        r = self.rules
        dets = sorted(self._detect(rgb), key=lambda d: -d.width)
        if not dets:
            return None, "no_face"
        if len(dets) > 1 and dets[1].width >= r.second_face_ratio * dets[0].width:
            return None, "several_faces"
        x0, y0, x1, y1 = (float(v) for v in dets[0].box)
        side = max(x1 - x0, y1 - y0)
        if side < r.min_face_px:
            return None, "face_too_small"
        # resample a square of twice the box around it to UPSCALE_PX, then find the points there
        k = UPSCALE_PX / (2.0 * side)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        m = np.array([[k, 0, UPSCALE_PX / 2 - k * cx], [0, k, UPSCALE_PX / 2 - k * cy]], np.float32)
        up = cv2.warpAffine(
            rgb, m, (UPSCALE_PX, UPSCALE_PX), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )
        half = k * side / 2
        box = (
            UPSCALE_PX / 2 - half,
            UPSCALE_PX / 2 - half,
            UPSCALE_PX / 2 + half,
            UPSCALE_PX / 2 + half,
        )
        pts = mp478_to_68(self.landmarker.landmarks_in_box(up, box))[:, :2]
        return ((pts - m[:, 2]) / k).astype(np.float64), None

    def check(self, rgb: np.ndarray, pts68: np.ndarray) -> str | None:
        r = self.rules
        h, w = rgb.shape[:2]
        yaw, pitch, _ = head_pose(pts68, w, h)
        if not (abs(yaw) <= r.max_yaw_deg and abs(pitch) <= r.max_pitch_deg):
            return "head_turned"
        _, brightness = face_stats(
            rgb, pts68, alignment_matrix(pts68, CANONICAL_CROP), CANONICAL_CROP.size
        )
        if brightness < r.min_brightness:
            return "too_dark"
        if brightness > r.max_brightness:
            return "too_bright"
        return None


def intake_images(
    root: Path | str,
    params: AlignmentParams,
    rules: IntakeRules | None = None,
    classes: tuple[str, ...] | None = None,
    progress: bool = True,
    threads: int = 2,
) -> tuple[ImageSet, IntakeReport]:
    """Aligned crops of every usable photo under ROOT/<class>/, and the report of what was
    kept and dropped. Subjects come from ROOT/labels.csv when it exists (else each image is
    its own subject). Nothing is written anywhere."""
    from tqdm import tqdm

    root = Path(root)
    rules = rules or IntakeRules()
    classes, files = list_images(root, classes)
    subjects = read_subjects(root)
    faces = PhotoFaces(rules, threads)
    report = IntakeReport(classes)
    crops, canon, labels, names, subs = [], [], [], [], []
    for f, i in tqdm(files, desc="intake images", unit="img", disable=not progress):
        rel = f.relative_to(root).as_posix()
        cls = classes[i]
        report.seen[cls] += 1
        bgr = cv2.imread(str(f))
        if bgr is None:
            report.drop(rel, cls, "unreadable")
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        pts68, reason = faces.points(rgb)
        reason = reason or faces.check(rgb, pts68)
        if reason:
            report.drop(rel, cls, reason)
            continue
        report.kept[cls] += 1
        crops.append(align_face(rgb, pts68, params)[0])
        canon.append(
            to_canonical(pts68, alignment_matrix(pts68, CANONICAL_CROP)).astype(np.float32)
        )
        labels.append(i)
        names.append(rel)
        subs.append(subjects.get(rel, rel))
    if not crops:
        raise NoFaceError(f"{root}: no image with a usable face")
    s = params.size
    data = ImageSet(
        np.stack(crops) if crops else np.zeros((0, s, s, 3), np.uint8),
        np.stack(canon),
        np.asarray(labels, np.int64),
        classes,
        names,
        subs,
    )
    return data, report
