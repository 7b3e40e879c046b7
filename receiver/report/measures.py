"""The summary's per-clip biomarkers (device/session/biomarkers, docs/biomarkers.md) in words
and units a clinician reads: one row per stimulus clip and one action-unit table per
condition. Pure functions of the stored summary; a measure the summary lacks (an older
device, a clip with no usable frames) is shown as missing, never invented."""

from __future__ import annotations

from device.wire.summary import CONDITIONS

# (summary key, words) in the order of the report's action-unit table;
# unit: % of the eye-to-eye distance
ACTION_UNITS = (
    ("AU1_inner_brow_raiser", "inner brow raised (AU1)"),
    ("AU2_outer_brow_raiser", "outer brow raised (AU2)"),
    ("AU4_brow_lowerer", "brows lowered, drawn together (AU4)"),
    ("AU6_cheek_raiser", "cheeks raised (AU6)"),
    ("AU12_lip_corner_puller", "lip corners pulled up, smile (AU12)"),
    ("AU15_lip_corner_depressor", "lip corners pulled down (AU15)"),
    ("AU20_lip_stretcher", "lips stretched sideways (AU20)"),
    ("AU25_lips_part", "lips parted (AU25)"),
    ("AU26_jaw_drop", "jaw dropped (AU26)"),
)


def _stat(block: dict | None, key: str, field: str = "mean") -> float | None:
    v = ((block or {}).get(key) or {}).get(field)
    return None if v is None else float(v)


def _r(v: float | None, nd: int) -> float | None:
    return None if v is None else round(v, nd)


def clip_measures(summary: dict) -> list[dict]:
    """One row per stimulus clip (rests and the baseline left out): expressivity, blinks,
    gaze, head movement and asymmetry, each in its unit."""
    rows = []
    for seg in summary.get("segments", []):
        if seg.get("condition") is None or seg.get("baseline"):
            continue
        b = seg.get("biomarkers") or {}
        blinks = b.get("blinks") or {}
        gaze = b.get("gaze") or {}
        head = b.get("head_motion") or {}
        asym = (b.get("asymmetry") or {}).get("organs") or {}
        rows.append(
            {
                "segment": seg["name"],
                "condition": seg["condition"],
                "expressivity_pct": _r(_pct(_stat(b, "expressivity")), 1),
                "blinks": blinks.get("count"),
                "blink_rate": _r(blinks.get("rate_per_min"), 1),
                "blink_ms": _r(_ms(_stat(blinks, "duration_s")), 0),
                "gaze_yaw_sd": _r(_stat(gaze, "gaze_yaw_deg", "sd"), 1),
                "gaze_pitch_sd": _r(_stat(gaze, "gaze_pitch_deg", "sd"), 1),
                "fixations": gaze.get("fixations"),
                "saccades": gaze.get("saccades"),
                "head_deg_s": _r(_stat(head, "angular_speed_deg_s"), 1),
                "head_mm_s": _r(_stat(head, "translation_speed_mm_s"), 0),
                "asymmetry_pct": _r(_pct(max(asym.values()) if asym else None), 2),
                "covered_s": b.get("covered_s"),
            }
        )
    return rows


def action_units_by_condition(summary: dict) -> list[dict]:
    """Mean intensity of each action-unit proxy per condition (mean over that condition's
    clips, % of the eye-to-eye distance), for the table beside the response plot."""
    per: dict[str, dict[str, list[float]]] = {}
    for seg in summary.get("segments", []):
        cond = seg.get("condition")
        if cond is None or seg.get("baseline"):
            continue
        aus = (seg.get("biomarkers") or {}).get("action_units") or {}
        for key, _ in ACTION_UNITS:
            m = _stat(aus, key)
            if m is not None:
                per.setdefault(key, {}).setdefault(cond, []).append(m)
    conds = [c for c in CONDITIONS if any(c in v for v in per.values())]
    rows = []
    for key, words in ACTION_UNITS:
        vals = per.get(key, {})
        rows.append(
            {
                "key": key,
                "words": words,
                "values": [
                    _r(_pct(sum(vals[c]) / len(vals[c])), 2) if c in vals else None for c in conds
                ],
            }
        )
    return [{"conditions": conds, "rows": rows}] if conds else []


def _pct(v: float | None) -> float | None:
    return None if v is None else 100.0 * v


def _ms(v: float | None) -> float | None:
    return None if v is None else 1000.0 * v
