"""The report's face-map legend is generated from device/vision/facemap.py (the one home of
the regions and organs) and the project's mean face; the receiver may not import
device.vision, so it reads this generated copy. This test keeps the two identical.
Regenerate with: .venv/bin/python -m tests.receiver.test_report_legend"""

from __future__ import annotations

import json

from tests.support.paths import REPO

LEGEND = REPO / "receiver" / "report" / "facemap_legend.json"


def expected_legend() -> dict:
    from device.vision.facemap import ORGAN_NAMES, ORGANS, REGIONS
    from device.vision.headpose import REFERENCE_68

    p = REFERENCE_68[:, :2]
    p = (p - p.min(0)) / (p.max(0) - p.min(0)).max()
    return {
        "source": "device/vision/facemap.py (REGIONS, ORGANS, ORGAN_NAMES) and "
        "device/vision/headpose.py (REFERENCE_68, x/y scaled to 0..1)",
        "points": [[round(float(x), 4), round(float(y), 4)] for x, y in p],
        "regions": {
            f"R{n}": {"name": name, "points": list(idx)} for n, (name, idx) in REGIONS.items()
        },
        "organs": {k: {"name": ORGAN_NAMES[k], "points": list(idx)} for k, idx in ORGANS.items()},
    }


def test_the_report_legend_is_the_facemap_table():
    assert json.loads(LEGEND.read_text()) == expected_legend(), (
        "receiver/report/facemap_legend.json is stale: "
        ".venv/bin/python -m tests.receiver.test_report_legend"
    )


if __name__ == "__main__":
    LEGEND.write_text(json.dumps(expected_legend(), indent=1) + "\n")
    print(f"wrote {LEGEND}")
