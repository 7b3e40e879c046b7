"""`emoface demo`: one whole kiosk session, headless, in well under a minute.

What runs is the real kiosk: the pygame screens (SDL dummy drivers), a scripted patient
pressing their buttons with synthetic touch events, the capture and analysis threads on a
sample video standing in for the camera (paced at its frame rate, looped), the generated
placeholder stimulus pack with the five conditions, a development key set made on the fly,
and the embedded SQLite outbox (no broker). At the end it prints where the sealed summary
is and opens it again with the development clinic key to show what the clinic would read.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from device.config import DeviceSection, config_from_dict
from device.errors import InputError
from device.kiosk.placeholder import generate_placeholder_pack

log = logging.getLogger(__name__)

DEMO_CLIP_S = 3.0  # seconds per placeholder clip (`emoface demo --clip-seconds`)

DEFAULT_VIDEO = (
    Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "video" / "single_face.mp4"
)


def _progress(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def demo_config(workdir: Path, video: Path, keys, language: str, questionnaires: bool) -> dict:
    """The device config the demo runs with: no broker, so summaries stay in the outbox."""
    delivery = {"outbox_path": str(workdir / "data" / "outbox.sqlite")}
    delivery.update({k: str(v) for k, v in keys.delivery_paths().items()})
    return {
        "device": {"id": keys.device_id, "data_dir": str(workdir / "data"), "language": language},
        "camera": {"source": f"file:{video}"},
        "delivery": delivery,
        "kiosk": {
            "operator_pin": "2468",
            "fullscreen": False,
            "questionnaires": ["PHQ-9", "GAD-7"] if questionnaires else [],
        },
    }


def open_sealed(cfg, keys, message_id: str) -> tuple[bytes, dict, dict]:
    """Read the sealed envelope back from the outbox and open it as the clinic would."""
    from device.wire.envelope import open_envelope

    blob = keys.read_sealed(cfg, message_id)
    header, summary = keys.split_opened(open_envelope(blob, keys.clinic_private_key, keys.lookup))
    return blob, header, summary


def readable_view(opened) -> str:
    """A short human-readable digest of an opened envelope (header + summary)."""
    header, summary = opened
    lines = ["header:"]
    for k in sorted(header):
        lines.append(f"  {k}: {header[k]}")
    c = summary.get("completion", {})
    lines.append(
        f"session: {c.get('status')}" + (f" ({c.get('reason')})" if c.get("reason") else "")
    )
    lines.append(
        f"  device {summary.get('device_id')}, software {summary.get('software_version')}, "
        f"model bundle {summary.get('model_bundle') or 'none (landmarks only)'}"
    )
    st = summary.get("stimulus", {})
    lines.append(
        f"  stimulus pack {st.get('name')} (placeholder: {st.get('placeholder')}), order {st.get('order_index')}"
    )
    s = summary["session"]
    lines.append(
        f"  frames seen {s['frames_seen']}, used {s['frames_used']}, dropped {s.get('frames_dropped', 0)}, "
        f"rejected {s['rejected'] or 'none'}; capture {summary.get('capture')}"
    )
    for name, q in summary.get("questionnaires", {}).items():
        flag = " ITEM 9 FLAGGED" if q.get("item9_flag") else ""
        lines.append(
            f"  {name}: total {q.get('total')}/{q.get('max_total', '?')} ({q.get('severity_band', 'incomplete')}){flag}"
        )
    lines.append("  segments (condition: frames used/seen, response amplitude, latency s):")
    for seg in summary["segments"]:
        resp = seg.get("response") or {}
        lines.append(
            f"    {seg['name']:<32} {str(seg.get('condition')):<10} {seg['frames_used']:>4}/{seg['frames_seen']:<4}"
            f" amp {resp.get('amplitude', '-')!s:<8} lat {resp.get('latency_s', '-')}"
        )
    return "\n".join(lines)


def run_demo(
    video: Path | None = None,
    workdir: Path | None = None,
    language: str = DeviceSection.language,
    clip_s: float = DEMO_CLIP_S,
    questionnaires: bool = True,
    screenshots: Path | None = None,
    timeout_s: float = 120.0,
) -> dict:
    """Run one scripted session; returns {"message_id", "outbox", "summary", "view", ...}."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    t_start = time.monotonic()
    video = Path(video) if video else DEFAULT_VIDEO
    if not video.is_file():
        raise InputError(
            f"{video}: sample video not found (pass --video PATH to any video with one face)"
        )
    workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="emoface-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)

    from device.delivery.keys import make_dev_keyset
    from device.kiosk.patient import ScriptedPatient  # pygame: only when a demo runs
    from device.kiosk.service import build_kiosk, make_delivery

    _progress(f"working folder {workdir}")
    keys = make_dev_keyset(workdir / "keys")
    _progress(f"development keys in {keys.folder} (device key {keys.key_id}, clinic HPKE pair)")
    pack = generate_placeholder_pack(
        workdir / "stimulus", clip_s=clip_s, baseline_s=2.0, rest_s=1.0
    )
    _progress(
        f"placeholder stimulus pack: {len(pack.clips)} clips x {clip_s:g} s ({', '.join(c.condition for c in pack.order(0))})"
    )
    raw = demo_config(workdir, video, keys, language, questionnaires)
    raw["kiosk"]["stimulus_pack"] = str(pack.folder)
    cfg = config_from_dict(raw, workdir / "device.toml")
    delivery = make_delivery(cfg)
    patient = ScriptedPatient()
    app = build_kiosk(
        cfg, paced=True, delivery=delivery, stable_frames=8, message_s=0.5, processing_min_s=0.3
    )
    shots: dict[str, Path] = {}
    last_screen = {"name": None}

    def tick(a) -> None:
        if a.screen.name != last_screen["name"]:
            last_screen["name"] = a.screen.name
            _progress(f"screen: {a.screen.name}")
        if screenshots is not None and a.screen.name not in shots:
            import pygame

            screenshots.mkdir(parents=True, exist_ok=True)
            shots[a.screen.name] = screenshots / f"demo-{a.screen.name}.png"
            pygame.image.save(a.surface, str(shots[a.screen.name]))
        patient(a)

    app.on_tick = tick
    try:
        app.run(
            until=lambda a: bool(a.results) and a.screen.name in ("message", "welcome"),
            max_s=timeout_s,
        )
    finally:
        app.close()
    result = app.results[-1]
    delivery_stats = app.delivery_status()
    (getattr(delivery, "close", None) or delivery.stop)()
    if result.get("error") or not result.get("message_id"):
        raise InputError(
            f"demo session ended {result['status']} without a queued summary: {result.get('error') or result.get('reason')}"
        )
    blob, header, summary = open_sealed(cfg, keys, result["message_id"])
    view = readable_view((header, summary))
    out = workdir / "summary.opened.json"
    out.write_text(
        json.dumps({"header": header, "summary": summary}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    return {
        "message_id": result["message_id"],
        "outbox": cfg.data_path(cfg.delivery.outbox_path),
        "sealed_bytes": len(blob),
        "opened_json": out,
        "summary": summary,
        "view": view,
        "finalise_s": result.get("finalise_s"),
        "seconds": round(time.monotonic() - t_start, 1),
        "frames": app.frames,
        "delivery": delivery_stats,
        "screenshots": shots,
    }
