"""Camera sources behind one interface: iterate to get time-stamped RGB frames.

Specs: "file:PATH" (or a bare path), "usb:N", "gst:PIPELINE" (Jetson), "picamera2".
A file source's timestamps come from the frame index and the file's frame rate, so a
re-analysis is deterministic; live sources use a monotonic clock from the first frame.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from device.errors import InputError


@dataclass(frozen=True)
class Frame:
    t: float  # seconds since the source started
    rgb: np.ndarray  # HxWx3 uint8, RGB


class CameraError(InputError):
    """The camera could not be opened or stopped delivering frames."""


class FrameSource:
    """Base: subclasses implement `_read() -> rgb | None` (None = end or failure)."""

    fps: float = 30.0
    frame_count: int | None = None

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def read(self) -> Frame | None:
        raise NotImplementedError

    def rewind(self) -> None:
        """Back to the first frame; only a video file can."""
        raise InputError(f"{type(self).__name__} cannot be replayed: only a video file can")

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VideoFileSource(FrameSource):
    def __init__(self, path: Path | str, loop: bool = False):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a file")
        self.loop = loop
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise InputError(
                f"{self.path}: cannot open as a video (unknown format or unreadable file)"
            )
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count = n if n > 0 else None
        self._index = 0
        self._offset = 0  # frames played in earlier loops

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok and self.loop and self._index > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._offset += self._index
            self._index = 0
            ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        t = (self._offset + self._index) / self.fps
        self._index += 1
        return Frame(t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def rewind(self) -> None:
        """Back to the first frame (a replayed session starts from it)."""
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._index = self._offset = 0

    @property
    def frames_read(self) -> int:
        return self._offset + self._index

    def close(self) -> None:
        self._cap.release()


class OpenCVCameraSource(FrameSource):
    """USB camera by index, or a GStreamer pipeline string (Jetson CSI cameras)."""

    def __init__(self, spec: str | int, width: int = 640, height: int = 480, fps: int = 30):
        if isinstance(spec, int):
            self._cap = cv2.VideoCapture(spec)
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            self._cap.set(cv2.CAP_PROP_FPS, fps)
        else:
            self._cap = cv2.VideoCapture(spec, cv2.CAP_GSTREAMER)
        if not self._cap.isOpened():
            raise CameraError(
                f"camera {spec!r} could not be opened (connected? permission to /dev/video*?)"
            )
        self.fps = float(fps)
        self._t0: float | None = None

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            return None
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        return Frame(now - self._t0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        self._cap.release()


class Picamera2Source(FrameSource):
    """Raspberry Pi camera; picamera2 is imported only when this source is used."""

    def __init__(self, width: int = 640, height: int = 480, fps: int = 30):
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise CameraError(
                "picamera2 is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` "
                "(or pip install 'emoface-edge[pi]'), or use camera source usb:0"
            ) from exc
        self._cam = Picamera2()
        cfg = self._cam.create_video_configuration(
            main={"size": (width, height), "format": "RGB888"}, controls={"FrameRate": fps}
        )
        self._cam.configure(cfg)
        self._cam.start()
        self.fps = float(fps)
        self._t0: float | None = None

    def read(self) -> Frame | None:
        try:
            arr = self._cam.capture_array()
        except Exception:  # noqa: BLE001 - any camera failure ends the stream cleanly
            return None
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        # picamera2's "RGB888" is BGR in memory order
        return Frame(now - self._t0, np.ascontiguousarray(arr[:, :, ::-1]))

    def close(self) -> None:
        self._cam.stop()


LIVE_KINDS = ("usb", "gst", "picamera2")


def is_file_spec(spec: str) -> bool:
    """True when `spec` names a video file ("file:PATH" or a bare path) rather than a camera.
    A file standing in for a camera is paced at its frame rate and looped, whichever way
    it was given (config or command line), so a kiosk behaves the same either way."""
    return spec.partition(":")[0] not in LIVE_KINDS


def open_source(
    spec: str, width: int = 640, height: int = 480, fps: int = 30, loop: bool = False
) -> FrameSource:
    """Open a source from its spec string (see module docstring)."""
    kind, _, arg = spec.partition(":")
    if kind == "usb":
        if not arg.isdigit():
            raise InputError(f"camera source {spec!r}: usb needs a device index, e.g. usb:0")
        return OpenCVCameraSource(int(arg), width, height, fps)
    if kind == "gst":
        return OpenCVCameraSource(arg, width, height, fps)
    if kind == "picamera2":
        return Picamera2Source(width, height, fps)
    if kind == "file":
        return VideoFileSource(arg, loop=loop)
    return VideoFileSource(spec, loop=loop)
