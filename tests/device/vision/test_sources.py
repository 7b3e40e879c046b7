import sys

import numpy as np
import pytest

from device.errors import InputError
from device.vision.sources import CameraError, VideoFileSource, open_source


def test_file_source_timestamps_follow_the_frame_rate(testdata):
    with open_source(f"file:{testdata / 'video' / 'single_face.mp4'}") as src:
        frames = list(src)
    assert len(frames) == 72 and src.fps == 30.0
    assert frames[0].t == 0.0 and abs(frames[30].t - 1.0) < 1e-9
    assert frames[0].rgb.dtype == np.uint8 and frames[0].rgb.shape == (360, 640, 3)


def test_looping_file_source_keeps_time_increasing(testdata):
    src = VideoFileSource(testdata / "video" / "single_face.mp4", loop=True)
    ts = [src.read().t for _ in range(100)]
    src.close()
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False)) and src.frames_read == 100


def test_picamera2_missing_gives_an_actionable_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails as on a non-Pi machine
    with pytest.raises(CameraError, match="picamera2 is not installed.*usb:0"):
        open_source("picamera2")


def test_bad_specs_are_refused(tmp_path):
    with pytest.raises(InputError, match="usb needs a device index"):
        open_source("usb:front")
    with pytest.raises(InputError, match="no such file"):
        open_source(f"file:{tmp_path / 'none.mp4'}")
    with pytest.raises(InputError, match="not a file"):
        open_source(str(tmp_path))
