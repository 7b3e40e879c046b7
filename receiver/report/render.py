"""Turn a Report into one self-contained HTML page (Jinja2 template, SVG figures inline,
CSS inline, no script, no external reference), and optionally a PDF through headless
Chromium when one is installed."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from device.errors import EmofaceError
from device.fileio import write_atomic
from receiver.report.content import UNIT, Report
from receiver.report.measures import action_units_by_condition, clip_measures
from receiver.report.plots import facemap_svg, responses_svg

_env = Environment(
    loader=PackageLoader("receiver.report", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(v, digits: int = 2, unit: str = "") -> str:
    if v is None:
        return "\u2013"
    if isinstance(v, float):
        v = f"{v:.{digits}f}"
    return f"{v}{unit}"


_env.filters["num"] = _fmt


def render_html(report: Report) -> str:
    regions = report.regions()
    conditions = report.conditions()
    figures = {
        "responses": responses_svg(conditions) if conditions else None,
        "activity_map": facemap_svg(
            report.legend, regions, "activity_pct", f"Activity by region ({UNIT})"
        ),
        "attention_map": facemap_svg(
            report.legend, regions, "attention", "Where the classifier looked (attention)"
        )
        if report.show_classifier()
        else None,
    }
    return _env.get_template("report.html").render(
        r=report,
        urgent=report.urgent(),
        questionnaires=report.questionnaires(),
        quality=report.quality(),
        conditions=conditions,
        regions=regions,
        organs=report.organs(),
        classifier=report.classifier(),
        routes=report.routes(),
        measures=clip_measures(report.summary),
        action_units=action_units_by_condition(report.summary),
        provenance=report.provenance(),
        figures=figures,
        unit=UNIT,
        generated=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


def write_report(report: Report, out: Path, pdf: bool = False) -> list[Path]:
    html = render_html(report)
    out = Path(out)
    write_atomic(out, html.encode("utf-8"))
    written = [out]
    if pdf:
        written.append(write_pdf(out, out.with_suffix(".pdf")))
    return written


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def write_pdf(html_path: Path, pdf_path: Path) -> Path:
    """Print the HTML to an A4 PDF with headless Chromium (no network: the page has no links)."""
    browser = find_chromium()
    if browser is None:
        raise EmofaceError(
            "--pdf needs a headless Chromium (apt-get install chromium)", exit_code=2
        )
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                f"--user-data-dir={profile}", f"--print-to-pdf={pdf_path}",
                Path(html_path).resolve().as_uri(),
            ],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    if proc.returncode != 0 or not Path(pdf_path).is_file():
        raise EmofaceError(
            f"Chromium could not print the PDF: {proc.stderr.decode(errors='replace')[-300:]}",
            exit_code=5,
        )
    return Path(pdf_path)
