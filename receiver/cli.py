"""Sub-commands of the receiver role: `emoface receiver run|list|show|import|export|stats`."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path

from device.errors import EmofaceError, InputError
from device.wire.topics import RECEIVER_GROUP, SUMMARY, shared_subscription

log = logging.getLogger(__name__)


def register(sub) -> None:
    """Add this role's sub-commands to the `emoface` parser."""
    from provisioning.cli import add_passphrase_args

    p = sub.add_parser(
        "receiver",
        help="clinic receiver: subscribe, verify, decrypt, store, acknowledge; read results",
        description="The clinic side of delivery. See docs/delivery.md.",
    )
    rs = p.add_subparsers(dest="receiver_command", metavar="ACTION", required=True)

    def store_args(q, clinic_required=False):
        q.add_argument("--clinic", type=Path, required=clinic_required, help="clinic folder")
        q.add_argument(
            "--store",
            help="sqlite path or postgresql://URL (default CLINIC/receiver/summaries.sqlite)",
        )

    r = rs.add_parser(
        "run",
        help="receive summaries until stopped (Ctrl-C / SIGTERM)",
        description=f"Subscribes to {shared_subscription(SUMMARY, 'GROUP')} with the clinic's "
        "receiver certificate, checks every envelope, stores each summary once and then "
        "acknowledges it. Run several with the same --group to split the load.",
    )
    store_args(r, clinic_required=True)
    r.add_argument("--broker", help="broker URL (default: the clinic's)")
    r.add_argument("--group", default=RECEIVER_GROUP, help="shared subscription group")
    r.add_argument(
        "--identity",
        metavar="NAME",
        help="use the receiver certificate emoface-receiver-NAME (made by `emoface provision "
        "add-receiver NAME`); each receiver process needs its own (default: emoface-receiver)",
    )
    r.add_argument(
        "--alert-hook",
        metavar="COMMAND",
        help="run COMMAND once per urgent alert (e.g. to page staff); it gets only "
        "EMOFACE_SESSION_CODE, EMOFACE_DEVICE and EMOFACE_ALERT_TIME in its environment; "
        "a failure is logged and retried",
    )
    add_passphrase_args(r, "the clinic HPKE key")
    r.set_defaults(func=_run)

    ls = rs.add_parser(
        "list",
        help="list sessions, newest first: code, device, local time, urgent flag, completeness",
    )
    store_args(ls)
    ls.add_argument("--device", help="only this device")
    ls.add_argument("--code", help="only this session code")
    ls.add_argument("--urgent", action="store_true", help="only sessions with an urgent answer")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=_list)

    sh = rs.add_parser("show", help="print one stored summary as JSON")
    sh.add_argument("message_id", metavar="MESSAGE-ID")
    store_args(sh)
    sh.set_defaults(func=_show)

    im = rs.add_parser(
        "import",
        help="load an offline outbox export (from `emoface outbox export`) with the same checks",
        description="Every envelope goes through the same checks as over MQTT. The file is "
        "read one envelope at a time (memory stays bounded however large it is) and stored "
        "in batches; importing a file again stores nothing twice, so after an error (a "
        "damaged file) fix the cause and run it again.",
    )
    im.add_argument("file", type=Path, help="the export file")
    store_args(im, clinic_required=True)
    add_passphrase_args(im, "the clinic HPKE key")
    im.set_defaults(func=_import)

    ex = rs.add_parser(
        "export",
        help="stored sessions as one table (CSV or Parquet) for research",
        description="One row per stored session: session code, device, times (UTC), the "
        "whole-session biomarkers, quality figures and questionnaire totals as flattened "
        "numeric columns. No free text is exported. Reads the store in pages, so any size "
        "exports in bounded memory; the file appears when complete.",
    )
    store_args(ex)
    ex.add_argument(
        "--since",
        help="only sessions received at or after this UTC date/time (2026-11-30, 2026-11-30T08:00Z)",
    )
    ex.add_argument("--format", choices=("csv", "parquet"), default="csv", help="default csv")
    ex.add_argument("--out", type=Path, required=True, help="file to write")
    ex.set_defaults(func=_export)

    st = rs.add_parser("stats", help="summaries per device and rejections per reason")
    store_args(st)
    st.set_defaults(func=_stats)

    from receiver.report.cli import add_cli as add_report_cli
    from receiver.web.cli import add_cli as add_web_cli

    add_report_cli(rs, store_args)
    add_web_cli(rs, store_args)


def _store_url(args) -> str:
    if args.store:
        return args.store
    if args.clinic:
        return str(Path(args.clinic) / "receiver" / "summaries.sqlite")
    raise InputError("give --store URL or --clinic FOLDER")


def _intake_factory(args):
    from provisioning.cli import passphrase
    from provisioning.clinic import Clinic
    from receiver.service import Intake
    from receiver.store import Store

    clinic = Clinic.open(args.clinic)
    key = clinic.load_hpke_key(passphrase(args))
    url = _store_url(args)
    return clinic, lambda: Intake(Store(url), key, clinic.registry_path)


def _run(args) -> int:
    from device.delivery.mqtt_loop import BrokerSettings
    from receiver.service import ReceiverService
    from receiver.store import redacted

    clinic, factory = _intake_factory(args)
    cert, tls_key = clinic.receiver_files(args.identity)
    broker = BrokerSettings(args.broker or clinic.broker_url, clinic.ca_cert, cert, tls_key)
    broker.check()
    svc = ReceiverService(broker, factory, group=args.group).start()
    if svc.error and svc.intake is None:
        raise EmofaceError(f"receiver could not start: {svc.error}", exit_code=5)
    hook = None
    if args.alert_hook:
        from receiver.alerts import HookRunner
        from receiver.store import Store

        url = _store_url(args)
        hook = HookRunner(lambda: Store(url), args.alert_hook).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("receiver running against %s (store %s)", broker.url, redacted(_store_url(args)))
    last, next_log = None, time.monotonic() + 10.0
    while not stop.wait(0.2):
        if svc.died.is_set() or not svc.is_alive():
            # never keep a process up whose worker is gone: exit non-zero, get restarted
            raise EmofaceError(
                f"receiver worker stopped: {svc.error or 'unknown error'} (see the log above);"
                " exiting so the service manager restarts it",
                exit_code=5,
            )
        if time.monotonic() >= next_log:
            next_log += 10.0
            c = svc.counters()
            if c != last:
                log.info("counters: %s", json.dumps(c, sort_keys=True))
                last = c
    svc.stop()
    if hook is not None:
        hook.stop()
    log.info("receiver stopped; counters: %s", json.dumps(svc.counters(), sort_keys=True))
    return 0


def _open_store(args):
    """An existing store for the read commands (never creates an empty one)."""
    from receiver.store import Store

    return Store(_store_url(args), create=False)


def _list(args) -> int:
    from receiver.report.sessions import format_table, session_rows

    store = _open_store(args)
    try:
        rows = session_rows(
            store, args.device, args.code, urgent_only=args.urgent, limit=args.limit
        )
    finally:
        store.close()
    print(format_table(rows) if rows else "no sessions stored")
    return 0


def _show(args) -> int:
    store = _open_store(args)
    print(json.dumps(store.get(args.message_id), indent=2, sort_keys=True))
    store.close()
    return 0


def _import(args) -> int:
    from receiver.outbox_import import iter_export
    from receiver.service import import_file

    blobs = iter_export(args.file)
    next(iter_export(args.file), None)  # a file that is no export fails before the store opens
    _, factory = _intake_factory(args)
    intake = factory()
    try:
        results = import_file(intake, blobs)
    finally:
        intake.store.close()
    print(
        f"{sum(results.values())} envelopes in {args.file}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(results.items()))
    )
    return 0


def _export(args) -> int:
    from receiver.export import Progress, export, parse_since

    since = parse_since(args.since)
    store = _open_store(args)
    try:
        n = export(store, args.out, args.format, since, Progress())
    finally:
        store.close()
    print(f"{n} sessions written to {args.out} ({args.format})")
    return 0


def _stats(args) -> int:
    store = _open_store(args)
    print("summaries per device:")
    for d, n in sorted(store.device_counts().items()):
        print(f"  {d:24s} {n}")
    print("rejections per reason:")
    for r, n in sorted(store.rejection_counts().items()):
        print(f"  {r:24s} {n}")
    store.close()
    return 0
