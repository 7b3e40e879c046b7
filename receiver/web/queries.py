"""The dashboard's read-only questions to the store (devices, health), in portable SQL."""

from __future__ import annotations

import json

from receiver.report.sessions import local_iso


def devices(store, clinic_devices: dict[str, str]) -> list[dict]:
    """One row per device of this clinic: status, last seen, versions, rejections."""
    out = []
    for device_id, status in sorted(clinic_devices.items()):
        row = store.backend.execute(
            "SELECT received, summary FROM summaries WHERE device_id = ?"
            " ORDER BY received DESC LIMIT 1",
            (device_id,),
        ).fetchone()
        last_alert = store.backend.execute(
            "SELECT max(received) FROM alerts WHERE device_id = ?", (device_id,)
        ).fetchone()[0]
        n = store.backend.execute(
            "SELECT count(*) FROM summaries WHERE device_id = ?", (device_id,)
        ).fetchone()[0]
        rejected = store.backend.execute(
            "SELECT count(*) FROM rejections WHERE device_id = ?", (device_id,)
        ).fetchone()[0]
        summary = json.loads(row[1]) if row else {}
        mb = summary.get("model_bundle") or {}
        seen = max(
            [t for t in (row[0] if row else None, last_alert) if t is not None], default=None
        )
        out.append(
            {
                "device_id": device_id,
                "status": status,
                "last_seen": local_iso(seen),
                "sessions": n,
                "software": summary.get("software_version", "-"),
                "bundle": f"{mb.get('id')} v{mb.get('version')}" if mb else "none (landmarks only)",
                "rejected": rejected,
            }
        )
    store.commit()
    return out


def health(store) -> dict:
    b = store.backend
    out = {
        "store": b.kind,
        "schema_version": store.schema_version(),
        "summaries": b.execute("SELECT count(*) FROM summaries").fetchone()[0],
        "last_summary": local_iso(b.execute("SELECT max(received) FROM summaries").fetchone()[0]),
        "alerts_open": b.execute("SELECT count(*) FROM alerts WHERE acked_at IS NULL").fetchone()[
            0
        ],
        "hooks_failed": b.execute(
            "SELECT count(*) FROM alerts WHERE hook_state = 'failed'"
        ).fetchone()[0],
        "rejections": dict(
            b.execute("SELECT reason, count(*) FROM rejections GROUP BY reason").fetchall()
        ),
    }
    store.commit()
    return out
