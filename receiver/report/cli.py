"""`emoface receiver report CODE|MESSAGE-ID --out report.html [--pdf]`."""

from __future__ import annotations

from pathlib import Path


def add_cli(rs, store_args) -> None:
    rp = rs.add_parser(
        "report",
        help="write the clinician report of one session as a self-contained HTML file",
        description="One HTML page (no network, no external files; prints on A4): urgent "
        "answers first, questionnaire totals and items, data quality, facial responses per "
        "condition, regions and organs in words on the face map, the classifier only when "
        "a verified bundle produced it (a research aid, never a diagnosis), and provenance. "
        "Times are in this machine's time zone.",
    )
    rp.add_argument(
        "ref", metavar="CODE|MESSAGE-ID", help="session code (e.g. K7QM2X) or message id"
    )
    store_args(rp)
    rp.add_argument("--out", type=Path, required=True, help="HTML file to write")
    rp.add_argument("--pdf", action="store_true", help="also print OUT.pdf with headless Chromium")
    rp.add_argument(
        "--bundle-manifest",
        type=Path,
        help="the model bundle's manifest.json: classifier output is shown only when its "
        "SHA-256 matches the bundle named in the summary",
    )
    rp.set_defaults(func=_report)


def _report(args) -> int:
    from receiver.report.content import build
    from receiver.report.render import write_report

    store = open_existing_store(args)
    try:
        report = build(store, args.ref, args.bundle_manifest)
    finally:
        store.close()
    for path in write_report(report, args.out, pdf=args.pdf):
        print(f"wrote {path}")
    return 0


def open_existing_store(args):
    """The store named by --store or --clinic; a missing one is an error (exit 2), never created."""
    from device.errors import InputError
    from receiver.store import Store

    if args.store:
        return Store(args.store, create=False)
    if args.clinic:
        if not Path(args.clinic).is_dir():
            raise InputError(f"{args.clinic}: no clinic folder there")
        return Store(str(Path(args.clinic) / "receiver" / "summaries.sqlite"), create=False)
    raise InputError("give --store URL or --clinic FOLDER")
