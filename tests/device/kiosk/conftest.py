"""Kiosk test fixtures: SDL dummy drivers, a short placeholder pack, the real frame path,
dev keys with a real SQLite outbox behind the real Delivery, and a kiosk factory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.paths import TESTDATA

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ["SDL_AUDIODRIVER"] = "dummy"

VIDEO = TESTDATA / "video" / "single_face.mp4"


@pytest.fixture(scope="session")
def video() -> Path:
    if not VIDEO.is_file():
        pytest.fail(f"test video missing: {VIDEO} (the shared/ folder must sit beside the repo)")
    return VIDEO


@pytest.fixture(scope="session")
def short_pack(tmp_path_factory):
    """Five 1 s placeholder clips, 1 s baseline, 0.3 s rests: a 10.2 s timeline."""
    from device.kiosk.placeholder import generate_placeholder_pack

    return generate_placeholder_pack(
        tmp_path_factory.mktemp("pack"), clip_s=1.0, baseline_s=1.0, rest_s=0.3
    )


@pytest.fixture(scope="session")
def pipeline():
    from device.vision.frame_path import FramePipeline, PipelineConfig

    return FramePipeline(PipelineConfig(threads=1))


@pytest.fixture
def dev_keys(tmp_path):
    from device.delivery.keys import make_dev_keyset

    return make_dev_keyset(tmp_path / "keys", device_id="test-kiosk")


@pytest.fixture
def device_cfg(tmp_path, video, dev_keys):
    """A device config with dev keys and an outbox in tmp_path (no broker)."""
    from device.config import config_from_dict

    keys = dev_keys
    cfg = config_from_dict(
        {
            "device": {"id": "test-kiosk", "data_dir": str(tmp_path / "data")},
            "camera": {"source": f"file:{video}"},
            "delivery": {k: str(v) for k, v in keys.delivery_paths().items()},
            "kiosk": {"operator_pin": "2468", "fullscreen": False},
        },
        tmp_path / "device.toml",
    )
    return cfg


@pytest.fixture
def delivery(device_cfg):
    from device.delivery.service import Delivery

    d = Delivery.from_config(device_cfg)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def queued(device_cfg, dev_keys):
    """Call it to get every summary in the outbox, opened with the dev clinic key."""
    from device.delivery.outbox import Outbox
    from device.kiosk.demo import open_sealed

    def items() -> list[dict]:
        ob = Outbox(device_cfg.data_path(device_cfg.delivery.outbox_path))
        try:
            ids = ob.message_ids()
        finally:
            ob.close()
        opened = [open_sealed(device_cfg, dev_keys, mid)[2] for mid in ids]
        # summaries only: urgent alerts (test_urgent.py) ride in the same outbox
        return [p for p in opened if p["schema_version"].startswith("emoface.summary/")]

    return items


@pytest.fixture
def make_kiosk(pipeline, short_pack, delivery, video):
    """Factory: a KioskApp on the real screens, a capture on `video` and the real delivery."""
    from device.kiosk.app import KioskApp, KioskSettings
    from device.kiosk.capture import CaptureSession
    from device.vision.sources import VideoFileSource

    apps = []

    def make(patient=None, loop=True, questionnaires=(), **settings):
        capture = CaptureSession(
            lambda: VideoFileSource(video, loop=loop), pipeline, paced=True, stall_s=1.5
        )
        base = dict(
            questionnaires=tuple(questionnaires),
            stable_frames=3,
            message_s=0.3,
            processing_min_s=0.05,
            audio=True,
            operator_pin="2468",
            device_id="test-kiosk",
        )
        base.update(settings)
        app = KioskApp(KioskSettings(**base), short_pack, capture, delivery, on_tick=patient)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def _run_until_done(app, max_s: float = 40.0) -> dict:
    app.run(
        until=lambda a: bool(a.results) and a.screen.name in ("message", "welcome"), max_s=max_s
    )
    return app.results[-1]


@pytest.fixture
def run_until_done():
    """Run a kiosk until a session has ended and it is back on a message/welcome screen."""
    return _run_until_done
