"""Cost of the standard-digital-face route on the device: per usable frame, the canonical
468-point mesh and its running sum (device.session.mesh_field, inside the accumulator's
`add`); per session (once, at its end), the field and the cosine similarities with every
class's standard face (device.models.standard_face). Prints a table and writes JSON.

Set-up (not timed): one real mesh from ../shared/testdata/video/single_face.mp4 read by the
LiteRT landmark model, jittered per frame; random standard faces of the real shape (the
cost does not depend on their values).

    .venv/bin/python bench/standard_face.py [--frames 2000] [--out bench/results/standard_face.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from _common import RESULTS, machine, print_table, write_json  # noqa: E402

from device.models.standard_face import StandardFaceRoute  # noqa: E402
from device.session.mesh_field import EMOTIONS, MeshField, canonical_mesh  # noqa: E402
from device.vision.face_landmarker import FaceLandmarker  # noqa: E402

VIDEO = (
    Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "video" / "single_face.mp4"
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--out", type=Path, default=RESULTS / "standard_face.json")
    args = ap.parse_args(argv)
    cap = cv2.VideoCapture(str(VIDEO))
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        print(f"cannot read {VIDEO}", file=sys.stderr)
        return 2
    mesh = FaceLandmarker(threads=1).process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).points
    rng = np.random.default_rng(0)
    frames = [mesh + rng.normal(0, 0.3, mesh.shape).astype(np.float32) for _ in range(64)]
    field = MeshField()
    conds = ("neutral", *EMOTIONS)
    per_frame, canon = [], []
    for i in range(args.frames):
        pts = frames[i % len(frames)]
        t = time.perf_counter()
        canonical_mesh(pts)
        canon.append(time.perf_counter() - t)
        t = time.perf_counter()
        field.add(conds[(i // 50) % len(conds)], pts)
        per_frame.append(time.perf_counter() - t)
    arrays = {
        "standard": rng.normal(0, 0.01, (3, len(EMOTIONS), 468, 3)),
        "centre": rng.normal(0, 0.01, (len(EMOTIONS), 468, 3)),
        "neutral": rng.normal(0, 0.3, (468, 3)),
    }
    route = StandardFaceRoute(arrays, {"class_names": ["BD", "MDD", "HC"], "conditions": EMOTIONS})
    session = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        route.predict(field)
        session.append(time.perf_counter() - t)
    rows = [
        ["per frame: canonical mesh", statistics.median(canon) * 1000],
        [
            "per frame: canonical mesh + running sum (MeshField.add)",
            statistics.median(per_frame) * 1000,
        ],
        ["per session: field + similarities with 3 classes", statistics.median(session) * 1000],
    ]
    print_table(["standard-face route", "median ms"], rows)
    path = write_json(
        args.out,
        {
            "bench": "standard_face",
            "machine": machine(),
            "frames": args.frames,
            "repeats": args.repeats,
            "results": {name: round(ms, 4) for name, ms in rows},
            "memory_bytes": (1 + len(EMOTIONS)) * 468 * 3 * 8,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
