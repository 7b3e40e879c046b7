"""Evaluation report: JSON (the numbers) and a self-contained HTML page with inline SVG
plots (confusion matrix, ROC curves, frames used per participant), the method's three routes
side by side (model_export.route_comparison) and the standard-face pictures (PNG files made
by model_export.standard_face_pictures, embedded as data URIs so the page stays one file)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from model_export.route_comparison import TITLES

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _svg_confusion(cm: list[list[int]], labels: list[str]) -> str:
    k, cell, off = len(labels), 60, 70
    peak = max(max(r) for r in cm) or 1
    parts = [
        f'<svg width="{off + k * cell + 10}" height="{off + k * cell + 30}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="13">'
    ]
    for i in range(k):
        parts.append(
            f'<text x="{off - 8}" y="{off + i * cell + cell / 2 + 4}" text-anchor="end">{html.escape(labels[i])}</text>'
        )
        parts.append(
            f'<text x="{off + i * cell + cell / 2}" y="{off - 8}" text-anchor="middle">{html.escape(labels[i])}</text>'
        )
        for j in range(k):
            v = cm[i][j]
            shade = int(255 - 200 * v / peak)
            parts.append(
                f'<rect x="{off + j * cell}" y="{off + i * cell}" width="{cell}" height="{cell}" fill="rgb({shade},{shade},255)" stroke="#888"/>'
            )
            parts.append(
                f'<text x="{off + j * cell + cell / 2}" y="{off + i * cell + cell / 2 + 5}" text-anchor="middle">{v}</text>'
            )
    parts.append(
        f'<text x="{off + k * cell / 2}" y="{off + k * cell + 22}" text-anchor="middle">predicted</text>'
    )
    parts.append(
        f'<text x="12" y="{off + k * cell / 2}" transform="rotate(-90 12 {off + k * cell / 2})" text-anchor="middle">true</text></svg>'
    )
    return "".join(parts)


def _svg_roc(per_class: dict) -> str:
    s, off = 260, 40
    parts = [
        f'<svg width="{s + off + 140}" height="{s + off + 30}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12">',
        f'<rect x="{off}" y="10" width="{s}" height="{s}" fill="none" stroke="#444"/>',
        f'<line x1="{off}" y1="{10 + s}" x2="{off + s}" y2="10" stroke="#bbb" stroke-dasharray="4"/>',
        f'<text x="{off + s / 2}" y="{s + 40}" text-anchor="middle">false positive rate</text>',
        f'<text x="12" y="{10 + s / 2}" transform="rotate(-90 12 {10 + s / 2})" text-anchor="middle">true positive rate</text>',
    ]
    for n, (name, v) in enumerate(per_class.items()):
        pts = " ".join(
            f"{off + x * s:.1f},{10 + s - y * s:.1f}"
            for x, y in zip(v["roc"]["fpr"], v["roc"]["tpr"], strict=True)
        )
        c = COLOURS[n % len(COLOURS)]
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        auc = v["auroc"]
        parts.append(
            f'<text x="{off + s + 10}" y="{30 + 18 * n}" fill="{c}">{html.escape(name)} AUROC {auc if auc is not None else "n/a"}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_frames(rows: list[dict]) -> str:
    bar, off, width = 16, 110, 300
    peak = max([r["frames_used"] for r in rows] + [1])
    parts = [
        f'<svg width="{off + width + 60}" height="{len(rows) * (bar + 4) + 10}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
    ]
    for i, r in enumerate(rows):
        y = 5 + i * (bar + 4)
        w = width * r["frames_used"] / peak
        c = "#2ca02c" if r["correct"] else "#d62728"
        parts.append(
            f'<text x="{off - 6}" y="{y + 12}" text-anchor="end">{html.escape(r["participant_id"])} ({r["label"]})</text>'
        )
        parts.append(f'<rect x="{off}" y="{y}" width="{w:.1f}" height="{bar}" fill="{c}"/>')
        parts.append(
            f'<text x="{off + w + 4}" y="{y + 12}">{r["frames_used"]}/{r["frames_sampled"]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _ci(v) -> str:
    return f"{v[0]}..{v[1]}" if v and v[0] is not None else "n/a"


def routes_table(block: dict | None) -> str:
    """One comparison (CV or held-out) as an HTML table: a row per route and per class."""
    if not block or not block.get("routes"):
        return "<p>Not available in this run.</p>"
    rows = []
    entries = list(block["routes"].items())
    if block.get("combined"):
        entries.append(("combined", block["combined"]))
    for route, v in entries:
        classes = list(v["per_class"].items())
        span = len(classes)
        for i, (c, pc) in enumerate(classes):
            head = (
                f'<td rowspan="{span}">{html.escape(TITLES.get(route, route))}</td>'
                f'<td rowspan="{span}">{v["accuracy"]} ({_ci(v.get("accuracy_ci95"))})</td>'
                if i == 0
                else ""
            )
            rows.append(
                f"<tr>{head}<td>{html.escape(c)}</td><td>{pc['f1']} ({_ci(pc.get('f1_ci95'))})</td>"
                f"<td>{pc['auroc']} ({_ci(pc.get('auroc_ci95'))})</td></tr>"
            )
    missing = "".join(
        f"<li>{html.escape(TITLES.get(r, r))}: {html.escape(why)}</li>"
        for r, why in (block.get("not_compared") or {}).items()
    )
    return (
        f"<p>{html.escape(block.get('setting', ''))}. Participants are the unit; 95 % CIs from "
        "participant bootstrap resamples.</p>"
        "<table><tr><th>route</th><th>accuracy (95 % CI)</th><th>class</th><th>F1 (95 % CI)</th>"
        f"<th>one-vs-rest AUROC (95 % CI)</th></tr>{''.join(rows)}</table>"
        + (f"<p>Not in this comparison:</p><ul>{missing}</ul>" if missing else "")
        + f"<p><b>Combined decision:</b> {html.escape(block.get('combined_decision', 'n/a'))}</p>"
    )


def _pictures(paths: list[str]) -> str:
    out = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            out.append(
                f'<p><img alt="{html.escape(path.name)}" style="max-width:100%" '
                f'src="data:image/png;base64,{data}"></p>'
            )
    return "".join(out)


def routes_section(report: dict) -> str:
    """The three routes side by side, the standard-face pictures."""
    sf = report.get("standard_face") or {}
    return (
        "<h2>The three routes side by side</h2>"
        "<p>Face-video network, explicit digital markers and the standard digital face, each "
        "a research aid, never a diagnosis.</p>"
        "<h3>Cross-validation on the training participants</h3>"
        + routes_table(report.get("routes_compared"))
        + "<h3>Held-out participants (the kiosk's own code with the signed bundle)</h3>"
        + routes_table(report.get("held_out_routes"))
        + "<h2>Standard digital faces</h2>"
        + (
            f"<p>Skipped: {html.escape(sf['skipped'])}</p>"
            if "skipped" in sf
            else "<p>Each class's mean 3D displacement field from neutral on the canonical "
            "mean-neutral 468-point mesh, per condition; triangles shaded by displacement "
            "magnitude (face widths).</p>" + _pictures(sf.get("pictures", []))
        )
    )


def write_report(out_dir: Path, report: dict) -> tuple[Path, Path]:
    """report.json and report.html in out_dir; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jpath, hpath = out_dir / "report.json", out_dir / "report.html"
    jpath.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    m = report["test"]
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{v['n']}</td><td>{v['accuracy']}</td><td>{v['precision']}</td>"
        f"<td>{v['recall']}</td><td>{v['f1']}</td><td>{v['auroc']}</td><td>{v['auroc_ci95'][0]}..{v['auroc_ci95'][1]}</td></tr>"
        for n, v in m["per_class"].items()
    )
    prow = "".join(
        f"<tr><td>{html.escape(r['participant_id'])}</td><td>{r['label']}</td><td>{r['predicted']}</td>"
        f"<td>{', '.join(f'{k} {v:.3f}' for k, v in r['probabilities'].items())}</td><td>{r['frames_used']}/{r['frames_sampled']}</td></tr>"
        for r in report["participants"]
    )
    warn = ""
    if report.get("synthetic"):
        warn = (
            '<p class="warn">SYNTHETIC DATA: this model was trained and tested on a generated cohort. '
            "Its figures say nothing about clinical accuracy.</p>"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>emoface model evaluation {html.escape(report["bundle_id"])}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}.warn{{background:#fee;padding:.5em;border:1px solid #d62728}}</style></head><body>
<h1>Model evaluation: {html.escape(report["bundle_id"])}</h1>{warn}
<p>Held-out participants: {m["participants"]} (split by participant, seed {report["split"]["seed"]}). Participant-level prediction =
attention-weighted mean of frame probabilities over good frames. Accuracy {m["accuracy"]}, balanced accuracy {m["balanced_accuracy"]},
macro F1 {m["macro_f1"]}. AUROC 95 % intervals: {m["bootstrap"]["resamples"]} participant bootstrap resamples.</p>
<p>A screening aid for clinicians, not a diagnosis. These figures hold for this site's held-out participants only.</p>
<h2>Per class (one vs rest)</h2><table><tr><th>class</th><th>n</th><th>accuracy</th><th>precision</th><th>recall</th><th>F1</th><th>AUROC</th><th>95 % CI</th></tr>{rows}</table>
<h2>Confusion matrix</h2>{_svg_confusion(m["confusion_matrix"]["rows_true_cols_predicted"], m["confusion_matrix"]["labels"])}
<h2>ROC curves</h2>{_svg_roc(m["per_class"])}
<h2>Frames used per participant</h2><p>good frames / sampled frames (green: correctly classified).</p>{_svg_frames(report["participants"])}
<h2>Participants</h2><table><tr><th>id</th><th>label</th><th>predicted</th><th>probabilities</th><th>frames</th></tr>{prow}</table>
{routes_section(report)}
<h2>Quantised model</h2><pre>{html.escape(json.dumps(report.get("parity", {}), indent=2))}</pre>
<h2>Training</h2><pre>{html.escape(json.dumps(report.get("training", {}), indent=2))}</pre>
</body></html>
"""
    hpath.write_text(page)
    return jpath, hpath
