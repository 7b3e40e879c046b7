"""Draws docs/facemap.png: the 68 points, the 16 regions and the 9 organ groups on the
project's mean 3D face (device.vision.headpose.REFERENCE_68), so the picture is schematic and
shows no real person. Run: .venv/bin/python docs/make_facemap_figure.py"""

from pathlib import Path

import cv2
import numpy as np

from device.vision.facemap import ORGANS, REGIONS
from device.vision.headpose import REFERENCE_68

SIZE, PAD, HEIGHT = 900, 110, 560
COLOURS = [
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 190),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
    (128, 128, 0),
    (0, 0, 128),
    (128, 128, 128),
    (255, 215, 0),
]


def main() -> None:
    p = REFERENCE_68[:, :2]
    p = (p - p.min(0)) / (p.max(0) - p.min(0)).max() * (SIZE / 2 - PAD) + np.array([PAD / 2, PAD])
    img = np.full((HEIGHT, SIZE, 3), 255, np.uint8)
    left, right = img[:, : SIZE // 2], img[:, SIZE // 2 :]
    # left panel: regions
    for n, (_name, idx) in REGIONS.items():
        c = COLOURS[n - 1][::-1]
        pts = p[list(idx)]
        hull = cv2.convexHull(pts.astype(np.float32)).astype(np.int32)
        overlay = left.copy()
        cv2.fillConvexPoly(overlay, hull, c)
        cv2.polylines(overlay, [hull], True, c, 16, lineType=cv2.LINE_AA)
        cv2.addWeighted(overlay, 0.35, left, 0.65, 0, dst=left)
        cx, cy = pts.mean(0)
        cv2.putText(
            left, str(n), (int(cx) - 8, int(cy) + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2
        )
    for x, y in p:
        cv2.circle(left, (int(x), int(y)), 2, (60, 60, 60), -1)
    # right panel: organs and point numbers
    for g, (name, idx) in enumerate(ORGANS.items()):
        c = COLOURS[g * 2 % 16][::-1]
        pts = p[list(idx)].astype(np.int32)
        closed = name not in ("jaw", "REyC", "LEyC", "nose_bridge", "nose_base")
        cv2.polylines(right, [pts], closed, c, 2)
        cx, cy = pts.mean(0) if name != "jaw" else pts[8] + np.array([0, 40])
        cv2.putText(right, name, (int(cx) - 30, int(cy) - 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, c, 1)
    for i, (x, y) in enumerate(p):
        cv2.circle(right, (int(x), int(y)), 3, (0, 0, 0), -1)
        cv2.putText(
            right, str(i), (int(x) + 4, int(y) - 3), cv2.FONT_HERSHEY_PLAIN, 0.8, (90, 90, 90), 1
        )
    cv2.putText(img, "16 regions", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    cv2.putText(
        img,
        "68 points, 9 organ groups",
        (SIZE // 2 + 20, 40),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.9,
        (0, 0, 0),
        2,
    )
    out = Path(__file__).with_name("facemap.png")
    cv2.imwrite(str(out), img)  # a schematic drawing, no real face
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
