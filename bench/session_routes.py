"""Session-end cost of the routes that read a whole summary: the accumulator's summary,
the explicit-biomarker vector and the explicit route's ONNX prediction with its top
contributing biomarkers (one batched call). These run once per session, not per frame, so
they add nothing to the frame path's frames per second.

Set-up (not timed): a small synthetic cohort's summaries from the generator's landmark
tracks (model_export.synth.summaries) and a route trained on them. Prints a table and
writes JSON.

    .venv/bin/python bench/session_routes.py [--repeats 50] [--out bench/results/session_routes.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, print_table, write_json  # noqa: E402

from device.models.explicit_route import ExplicitRoute, biomarker_vector  # noqa: E402
from model_export.explicit_route import export_explicit_route, train_explicit_route  # noqa: E402
from model_export.synth import CohortSpec, plan, stimulus_timeline  # noqa: E402
from model_export.synth.face import base_face  # noqa: E402
from model_export.synth.summaries import landmark_summary  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--out", type=Path, default=RESULTS / "session_routes.json")
    args = ap.parse_args(argv)
    print(
        "set-up: 12 synthetic landmark summaries and a small route (not timed)...", file=sys.stderr
    )
    people = plan(CohortSpec(n_per_class=4, seed=1))
    face, timeline = base_face(), stimulus_timeline(seconds_per_clip=3.0)
    summaries = [landmark_summary(p, timeline, face, fps=10.0) for p in people]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train_explicit_route(
            summaries,
            [p.label for p in people],
            [p.participant_id for p in people],
            ("BD", "MDD", "HC"),
            folds=2,
            n_boot=50,
            max_iter=150,
        )
    with tempfile.TemporaryDirectory() as tmp:
        entry = export_explicit_route(result, Path(tmp))
        import json

        meta = json.loads((Path(tmp) / entry["meta"]).read_text())
        route = ExplicitRoute(Path(tmp) / entry["file"], meta, threads=1)
        s = summaries[0]
        rows = [
            [
                "biomarker vector from the summary",
                _median_ms(lambda: biomarker_vector(s), args.repeats),
            ],
            [
                "explicit route: ONNX + top biomarkers",
                _median_ms(lambda: route.predict(s), args.repeats),
            ],
        ]
    print_table(["per session (once, at its end)", "median ms"], rows)
    path = write_json(
        args.out,
        {
            "bench": "session_routes",
            "machine": machine(),
            "repeats": args.repeats,
            "results": {name: round(ms, 3) for name, ms in rows},
            "vector_length": len(biomarker_vector(s)),
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
