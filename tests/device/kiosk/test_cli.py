"""`emoface demo` and `emoface kiosk` as a user (and systemd) runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

EMOFACE = [sys.executable, "-m", "device.cli"]


def test_demo_runs_a_whole_session_into_a_sealed_summary(tmp_path, video):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    shots = tmp_path / "shots"
    r = subprocess.run(
        [
            *EMOFACE,
            "demo",
            "--workdir",
            str(tmp_path / "w"),
            "--clip-seconds",
            "1",
            "--video",
            str(video),
            "--screenshots",
            str(shots),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert "Sealed message" in out and "outbox.sqlite" in out
    assert "Session: complete" in out
    assert "pygame" not in out  # no banner: the output is for a person
    for cond in ("neutral", "happiness", "sadness", "anger", "fear"):
        assert cond in out
    opened = json.loads((tmp_path / "w" / "summary.opened.json").read_text())
    assert opened["header"]["device_id"] == opened["summary"]["device_id"] == "demo-kiosk"
    conds = {s["condition"] for s in opened["summary"]["segments"] if s["name"].startswith("clip-")}
    assert conds == {"neutral", "happiness", "sadness", "anger", "fear"}
    assert opened["summary"]["questionnaires"]["PHQ-9"]["complete"] is True
    # the outbox holds sealed bytes only: no summary field is readable without the clinic key
    raw = (tmp_path / "w" / "data" / "outbox.sqlite").read_bytes()
    assert b"frames_seen" not in raw and b"PHQ-9" not in raw
    # privacy: no image of the "camera" was written anywhere in the work folder
    written = [p.suffix for p in (tmp_path / "w").rglob("*") if p.is_file()]
    assert not {".jpg", ".jpeg", ".npy"} & set(written)
    assert sorted(p.name for p in shots.glob("*.png"))  # screens, never camera frames


def test_demo_with_a_missing_video_is_a_clear_error(tmp_path):
    r = subprocess.run(
        [*EMOFACE, "demo", "--video", str(tmp_path / "nope.mp4")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "nope.mp4" in r.stderr and "Traceback" not in r.stderr


def test_kiosk_tells_systemd_ready_pings_the_watchdog_and_stops_cleanly(
    tmp_path, device_cfg, dev_keys, video, short_pack
):
    cfg_path = tmp_path / "kiosk.toml"
    cfg_path.write_text(
        f"""
[device]
id = "test-kiosk"
data_dir = "{tmp_path / "data"}"
[camera]
source = "file:{video}"
[delivery]
device_signing_key = "{dev_keys.device_signing_key_path}"
clinic_public_key = "{dev_keys.clinic_public_key_path}"
outbox_path = "{tmp_path / "data" / "outbox.sqlite"}"
[kiosk]
stimulus_pack = "{short_pack.folder}"
fullscreen = false
"""
    )
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(20)
    env = {
        **os.environ,
        "SDL_VIDEODRIVER": "dummy",
        "SDL_AUDIODRIVER": "dummy",
        "NOTIFY_SOCKET": sock_path,
        "WATCHDOG_USEC": "400000",
    }
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [*EMOFACE, "kiosk", "--config", str(cfg_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        msgs = []
        t0 = time.monotonic()
        while not any(m.startswith(b"READY=1") for m in msgs):
            msgs.append(sock.recv(256))
        ready_s = time.monotonic() - t0
        assert sock.recv(256) == b"WATCHDOG=1"
        assert sock.recv(256) == b"WATCHDOG=1"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert sock.recv(256) == b"STOPPING=1"
        assert ready_s < 60
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert Path(tmp_path / "data" / "outbox.sqlite").exists()


def test_kiosk_on_the_example_config_asks_for_its_delivery_keys_first(tmp_path):
    """The example loads (every key is optional) but the station needs the sealing keys:
    exit 2 naming the file and both keys, before the stimulus pack or a window is made."""
    example = Path(__file__).resolve().parents[3] / "firmware_config" / "device.example.toml"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    r = subprocess.run(
        [*EMOFACE, "kiosk", "--config", str(example), "--windowed"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert r.returncode == 2, r.stderr[-2000:]
    assert str(example) in r.stderr and "Traceback" not in r.stderr
    assert "delivery.device_signing_key" in r.stderr and "delivery.clinic_public_key" in r.stderr
    assert "placeholder" not in r.stderr.lower()  # failed before the pack was generated
