"""One way to give the camera: a video file named in the config's [camera] source behaves
exactly as the same file given with `--camera` (paced at its frame rate and looped), and a
camera check that fails says why in the log."""

from __future__ import annotations

import logging
import time

import pytest

from device.kiosk.service import build_kiosk
from device.vision.sources import is_file_spec


@pytest.mark.parametrize(
    ("spec", "is_file"),
    [
        ("file:/x.mp4", True),
        ("/x.mp4", True),
        ("usb:0", False),
        ("gst:v4l2src ! appsink", False),
        ("picamera2", False),
    ],
)
def test_file_specs_are_told_from_cameras(spec, is_file):
    assert is_file_spec(spec) is is_file


def _capture_for(device_cfg, delivery, source_spec=None):
    app = build_kiosk(device_cfg, source_spec=source_spec, delivery=delivery, fullscreen=False)
    return app, app.capture


def test_config_file_source_is_paced_and_looped_like_the_flag(device_cfg, delivery, video):
    seen = {}
    for how, spec in (("config", None), ("flag", f"file:{video}")):
        app, cap = _capture_for(device_cfg, delivery, spec)
        try:
            assert cap.paced
            cap.start()
            time.sleep(3.4)  # the clip is 72 frames at 30 fps (2.4 s): it must loop
            seen[how] = (cap.lost_reason, cap.frames_captured)
            cap.stop()
        finally:
            app.close()
    for how, (lost, frames) in seen.items():
        assert lost is None, f"{how}: {lost}"
        # paced at 30 fps: about 102 frames in 3.4 s (more than the file's 72: it looped),
        # never the whole file in one burst and then a lost camera
        assert 72 < frames <= 125, f"{how}: {frames} frames"


def test_a_failed_camera_check_logs_its_reason(device_cfg, delivery, tmp_path, caplog):
    from device.kiosk.screens import CameraCheckScreen

    app, cap = _capture_for(device_cfg, delivery, f"file:{tmp_path / 'missing.mp4'}")
    try:
        with caplog.at_level(logging.WARNING):
            app.begin_session()
            screen = CameraCheckScreen(app)
            app.go(screen)
            screen.update(app.now())
            assert app.screen.name == "message"
        logged = [r.getMessage() for r in caplog.records]
        assert any("camera check failed" in m and "missing.mp4" in m for m in logged), logged
    finally:
        app.close()
