"""What the report says, gathered from one stored summary and its alerts: every number
comes from the stored summary unchanged (only rounded for display), named in words."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from device.errors import InputError
from receiver.alerts import Alert, list_alerts
from receiver.report.sessions import completeness, local_iso

ANSWERS = ("Not at all", "Several days", "More than half the days", "Nearly every day")
BANDS = {
    "minimal": "minimal",
    "mild": "mild",
    "moderate": "moderate",
    "moderately_severe": "moderately severe",
    "severe": "severe",
}
# short clinician labels of the items (the kiosk shows the patient the published wording)
ITEMS = {
    "PHQ-9": (
        "little interest or pleasure", "feeling down, depressed, hopeless",
        "sleep trouble", "tired, little energy", "appetite", "feeling bad about self",
        "trouble concentrating", "slowed or restless", "thoughts of death or self-harm",
    ),
    "GAD-7": (
        "nervous, anxious, on edge", "cannot stop worrying", "worrying too much",
        "trouble relaxing", "restless", "easily annoyed", "afraid something awful may happen",
    ),
}  # fmt: skip
REJECTIONS = {
    "no_face": "no face in view",
    "several_faces": "more than one face in view",
    "face_too_small": "face too far from the camera",
    "head_turned": "head turned away",
    "blurred": "image blurred (movement)",
    "too_dark": "too dark",
    "too_bright": "too bright",
    "unknown": "other",
}
UNIT = "% of eye-to-eye distance"


@dataclass
class Report:
    record: dict  # the store's row: message_id, device_id, created, received, summary...
    alerts: list[Alert]
    legend: dict
    bundle_manifest: dict | None = None  # verified against the summary's manifest hash
    bundle_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> dict:
        return self.record["summary"]

    @property
    def code(self) -> str | None:
        return self.summary.get("session", {}).get("code")

    # -- sections in the order a clinician reads them --------------------------------------
    def urgent(self) -> list[dict]:
        out = [
            {
                "what": a.item_words,
                "time": local_iso(_epoch(a.alert_time)),
                "received": local_iso(a.received),
                "ack": f"acknowledged by {a.acked_by} at {local_iso(a.acked_at)}"
                + (f": {a.ack_note}" if a.ack_note else "")
                if a.acked_at
                else "NOT YET ACKNOWLEDGED",
            }
            for a in self.alerts
        ]
        phq = (self.summary.get("questionnaires") or {}).get("PHQ-9") or {}
        if phq.get("item9_flag") and not out:
            out.append(
                {
                    "what": f"PHQ-9 item 9 answered \u201c{ANSWERS[phq['item9']]}\u201d",
                    "time": "-",
                    "received": "with the summary (no separate alert)",
                    "ack": "-",
                }
            )
        return out

    def questionnaires(self) -> list[dict]:
        out = []
        for name in ("PHQ-9", "GAD-7"):
            q = (self.summary.get("questionnaires") or {}).get(name)
            if q is None:
                continue
            items = [
                {"n": i + 1, "label": ITEMS[name][i], "score": a, "answer": ANSWERS[a]}
                for i, a in enumerate(q.get("items") or [])
            ]
            out.append(
                {
                    "name": name,
                    "complete": bool(q.get("complete")),
                    "skipped": bool(q.get("skipped")),
                    "total": q.get("total"),
                    "max_total": q.get("max_total", 3 * len(ITEMS[name])),
                    "band": BANDS.get(q.get("severity_band"), q.get("severity_band")),
                    "answers": items,
                }
            )
        return out

    def quality(self) -> dict:
        s = self.summary
        sess = s["session"]
        seen, used = sess["frames_seen"], sess["frames_used"]
        stim = s.get("stimulus") or {}
        return {
            "frames_seen": seen,
            "frames_used": used,
            "used_pct": round(100.0 * used / seen, 1) if seen else None,
            "dropped": sess.get("frames_dropped", 0),
            "rejected": [
                (REJECTIONS.get(k, k.replace("_", " ")), n)
                for k, n in sorted(sess.get("rejected", {}).items(), key=lambda kv: -kv[1])
            ],
            "pack": stim.get("name", "unknown"),
            "placeholder": bool(stim.get("placeholder")),
            "completeness": completeness(s),
            "baseline_frames": s.get("baseline_frames"),
        }

    def conditions(self) -> list[dict]:
        """One row per stimulus clip: response against the neutral baseline, in words."""
        rows = []
        for seg in self.summary.get("segments", []):
            cond = seg.get("condition")
            if cond is None or seg.get("baseline"):
                continue
            resp = seg.get("response") or {}
            feats = seg.get("features") or {}
            amp = resp.get("amplitude")
            rows.append(
                {
                    "segment": seg["name"],
                    "condition": cond,
                    "amplitude": amp,
                    "amplitude_pct": None if amp is None else round(100 * amp, 2),
                    "activity_pct": _pct(_mean(seg.get("displacement"), "activity")),
                    "latency_s": resp.get("latency_s"),
                    "latency_reason": resp.get("latency_reason"),
                    "blinks": seg.get("blinks"),
                    "blink_rate": seg.get("blink_rate_per_min"),
                    "gaze_sd": _sd2(feats, "gaze_x", "gaze_y"),
                    "head_sd": _sd3(feats, "yaw", "pitch", "roll"),
                    "frames_used": seg.get("frames_used"),
                    "frames_seen": seg.get("frames_seen"),
                }
            )
        return rows

    def regions(self) -> list[dict]:
        sess = self.summary["session"]
        act = sess.get("region_activity") or {}
        cls = sess.get("classifier") or {}
        att = cls.get("region_attention") or {}
        return [
            {
                "key": k,
                "name": v["name"],
                "activity_pct": _pct(act.get(k)),
                "attention": att.get(k) if self.show_classifier() else None,
            }
            for k, v in self.legend["regions"].items()
        ]

    def organs(self) -> list[dict]:
        sess = self.summary["session"]
        act = sess.get("organ_activity") or {}
        cls = sess.get("classifier") or {}
        att = cls.get("organ_attention") or {}
        return [
            {
                "key": k,
                "name": v["name"],
                "activity_pct": _pct(act.get(k)),
                "attention": att.get(k) if self.show_classifier() else None,
            }
            for k, v in self.legend["organs"].items()
        ]

    def show_classifier(self) -> bool:
        return bool(self.summary["session"].get("classifier")) and self.bundle_manifest is not None

    def classifier(self) -> dict | None:
        cls = self.summary["session"].get("classifier")
        if not cls:
            return None
        out = {"note": self.bundle_note, "shown": self.show_classifier()}
        if self.show_classifier():
            m = self.bundle_manifest
            out.update(
                probabilities=cls.get("probabilities", {}),
                frames=cls.get("frames"),
                validation=m.get("validation"),
                intended_use=m.get("intended_use")
                or "Research aid only. Not a diagnosis; not validated for clinical decisions.",
            )
        return out

    def routes(self) -> dict | None:
        """The method's three routes side by side (face-video network, explicit digital
        markers, standard digital face) with the bundle's validation figures beside each;
        None when the session holds no route output. Shown only when the bundle is verified,
        like the classifier: a research aid, never a diagnosis."""
        s = self.summary
        net, exp, std = (
            s["session"].get("classifier"),
            s.get("explicit_route"),
            s.get("standard_face"),
        )
        if not (exp or std):
            return None
        if not self.show_classifier():
            return {"shown": False, "note": self.bundle_note}
        validation = (self.bundle_manifest or {}).get("validation") or {}
        cv = validation.get("routes_cv") or {}
        rows = []
        if net:
            probs = net.get("probabilities") or {}
            rows.append(
                _route_row(
                    "Face-video network",
                    max(probs, key=probs.get) if probs else None,
                    "mean probability",
                    probs,
                    _validation_text(validation, "held-out participants"),
                )
            )
        if exp:
            rows.append(
                _route_row(
                    "Explicit digital markers",
                    exp.get("leading_class"),
                    "probability",
                    exp.get("probabilities") or {},
                    _validation_text(cv.get("explicit"), "CV"),
                    [b["name"] for b in exp.get("top_biomarkers", [])],
                )
            )
        if std:
            sims = {k: v.get("overall") for k, v in (std.get("similarity") or {}).items()}
            rows.append(
                _route_row(
                    "Standard digital face",
                    std.get("answer"),
                    "cosine similarity",
                    sims,
                    _validation_text(cv.get("standard_face"), "CV"),
                    [],
                    std.get("reason"),
                )
            )
        return {"shown": True, "rows": rows}

    def provenance(self) -> list[tuple[str, str]]:
        s, r = self.summary, self.record
        mb = s.get("model_bundle") or {}
        return [
            ("Session code", self.code or "-"),
            ("Device", r["device_id"]),
            ("Session started", local_iso(_epoch(s.get("started_at")))),
            ("Summary sealed", local_iso(r["created"])),
            ("Summary received", local_iso(r["received"])),
            ("Software version", str(s.get("software_version", "-"))),
            ("Model bundle", f"{mb.get('id')} v{mb.get('version')}" if mb else "none (landmarks only)"),
            ("Model bundle manifest SHA-256", mb.get("manifest_sha256", "-") if mb else "-"),
            ("Stimulus pack", f"{(s.get('stimulus') or {}).get('name')} "
             f"(manifest SHA-256 {(s.get('stimulus') or {}).get('manifest_sha256', '-')})"),
            ("Summary schema", s.get("schema_version", "-")),
            ("Message id", r["message_id"]),
        ]  # fmt: skip


def _route_row(name, answer, score_name, scores, validation, evidence=(), reason=None) -> dict:
    return {
        "name": name,
        "answer": answer or "none",
        "score_name": score_name,
        "scores": {k: (None if v is None else round(float(v), 3)) for k, v in scores.items()},
        "validation": validation,
        "evidence": list(evidence),
        "reason": reason,
    }


def _validation_text(v: dict | None, setting: str) -> str:
    """'accuracy 0.94 (95 % CI 0.83-1.0) on 18 participants, CV' or a warning."""
    if not v or v.get("accuracy") is None:
        return "no validation figures in the bundle: do not use this output"
    ci = v.get("accuracy_ci95")
    n = v.get("participants") or v.get("held_out_participants")
    text = f"accuracy {v['accuracy']}"
    if ci and ci[0] is not None:
        text += f" (95 % CI {ci[0]}-{ci[1]})"
    return text + (f" on {n} participants" if n else "") + f", {setting}"


def _mean(block, key):
    v = (block or {}).get(key) or {}
    return v.get("mean")


def _pct(v):
    return None if v is None else round(100.0 * v, 2)


def _sd2(feats, *keys):
    sds = [(feats.get(k) or {}).get("sd") for k in keys]
    return None if any(s is None for s in sds) else round(sum(s * s for s in sds) ** 0.5, 4)


def _sd3(feats, *keys):
    sds = [(feats.get(k) or {}).get("sd") for k in keys]
    return None if any(s is None for s in sds) else round(max(sds), 2)


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def load_legend() -> dict:
    return json.loads(
        resources.files("receiver.report").joinpath("facemap_legend.json").read_text()
    )


def check_bundle(summary: dict, manifest_path: Path | None) -> tuple[dict | None, str]:
    """The bundle manifest when its SHA-256 is the one the summary names, with a note."""
    mb = summary.get("model_bundle")
    if not summary.get("session", {}).get("classifier"):
        return None, ""
    if not mb:
        return None, "Classifier output withheld: the summary names no verified model bundle."
    if manifest_path is None:
        return None, (
            "Classifier output withheld: give --bundle-manifest with the bundle's manifest "
            "so the report can check it is the verified bundle that produced it."
        )
    try:
        raw = Path(manifest_path).read_bytes()
    except OSError as exc:
        raise InputError(f"{manifest_path}: cannot read manifest: {exc.strerror}") from exc
    if hashlib.sha256(raw).hexdigest() != mb.get("manifest_sha256"):
        return None, (
            "Classifier output withheld: the manifest given is not the one of the bundle "
            "that produced this session (SHA-256 differs)."
        )
    try:
        return json.loads(raw), "Produced by the verified bundle named below."
    except ValueError as exc:
        raise InputError(f"{manifest_path}: not JSON") from exc


def find_record(store, ref: str) -> dict:
    """A stored summary by session code or message id (clear error when neither matches)."""
    ref = ref.strip()
    if len(ref) == 32:
        return store.get(ref.lower())
    ids = store.find_by_code(ref.upper())
    if not ids:
        if list_alerts(store, code=ref.upper(), limit=1):
            raise InputError(
                f"session {ref.upper()}: an urgent alert is stored but its summary has not "
                "arrived yet (the session may still be running)"
            )
        raise InputError(f"no stored session with code or message id {ref!r}")
    return store.get(ids[-1])


def build(store, ref: str, manifest_path: Path | None = None) -> Report:
    record = find_record(store, ref)
    code = (record["summary"].get("session") or {}).get("code")
    alerts = (
        [a for a in list_alerts(store, code=code) if a.device_id == record["device_id"]]
        if code
        else []
    )
    manifest, note = check_bundle(record["summary"], manifest_path)
    return Report(record, alerts, load_legend(), manifest, note)
