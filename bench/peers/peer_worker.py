"""Runs in bench/peers/.venv (mediapipe==0.10.21, dlib-bin, numpy<2): times a peer's
landmarker on frames it receives from bench/peers/compare.py over stdin.

Protocol (one JSON object per line on stdin, one per line on stdout):
    {"cmd": "frames", "n": N, "h": H, "w": W}   followed by N*H*W*3 raw RGB bytes
    {"cmd": "run", "peer": "mediapipe"|"dlib", "cpus": [0], "repeats": R}
        -> {"fps": ..., "ms": [...per pass...], "found": faces found on the last pass}
    {"cmd": "quit"}
The frames stay in memory; nothing is written to disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

import numpy as np


def _mediapipe():
    import mediapipe as mp

    mesh = mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False,
        max_num_faces=1,
        refine_landmarks=True,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )

    def run(rgb):
        res = mesh.process(rgb)
        return res.multi_face_landmarks is not None

    return run, mesh.reset if hasattr(mesh, "reset") else None


def _dlib():
    import dlib
    import face_recognition_models

    det = dlib.get_frontal_face_detector()
    pred = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

    def run(rgb):
        rects = det(rgb, 0)
        for r in rects[:1]:
            pred(rgb, r)
        return len(rects) > 0

    return run, None


PEERS = {"mediapipe": _mediapipe, "dlib": _dlib}


def pin(cpus: list[int]) -> None:
    """Restrict every thread of this process (the graph's or interpreter's workers too, not
    only the caller: Linux affinity is per thread) to `cpus`."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(tid), cpus)


def main() -> int:
    stdin, stdout = sys.stdin.buffer, sys.stdout
    frames: list[np.ndarray] = []
    runners: dict[str, object] = {}
    for line in stdin:
        msg = json.loads(line)
        if msg["cmd"] == "quit":
            return 0
        if msg["cmd"] == "frames":
            n, h, w = msg["n"], msg["h"], msg["w"]
            buf = stdin.read(n * h * w * 3)
            arr = np.frombuffer(buf, np.uint8).reshape(n, h, w, 3)
            frames = [np.ascontiguousarray(a) for a in arr]
            print(json.dumps({"ok": True, "frames": n}), file=stdout, flush=True)
            continue
        peer = msg["peer"]
        pin(msg["cpus"])
        if peer not in runners:
            runners[peer] = PEERS[peer]()
            fn, _ = runners[peer]
            for f in frames[:5]:
                fn(f)  # warm-up, first detection
            pin(msg["cpus"])  # the threads the peer just started
        fn, _ = runners[peer]
        ms = []
        found = 0
        for _ in range(msg["repeats"]):
            found = 0
            t = time.perf_counter()
            for f in frames:
                found += fn(f)
            ms.append((time.perf_counter() - t) * 1000 / len(frames))
        print(json.dumps({"ms": ms, "found": found}), file=stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
