"""Sub-commands of the receiver role: `emoface receiver run|list|show|import|stats`."""

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
    add_passphrase_args(r, "the clinic HPKE key")
    r.set_defaults(func=_run)

    ls = rs.add_parser("list", help="list stored summaries, newest first")
    store_args(ls)
    ls.add_argument("--device", help="only this device")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=_list)

    sh = rs.add_parser("show", help="print one stored summary as JSON")
    sh.add_argument("message_id", metavar="MESSAGE-ID")
    store_args(sh)
    sh.set_defaults(func=_show)

    im = rs.add_parser(
        "import",
        help="load an offline outbox export (from `emoface outbox export`) with the same checks",
    )
    im.add_argument("file", type=Path)
    store_args(im, clinic_required=True)
    add_passphrase_args(im, "the clinic HPKE key")
    im.set_defaults(func=_import)

    st = rs.add_parser("stats", help="summaries per device and rejections per reason")
    store_args(st)
    st.set_defaults(func=_stats)


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

    clinic, factory = _intake_factory(args)
    broker = BrokerSettings(
        args.broker or clinic.broker_url, clinic.ca_cert, clinic.receiver_cert, clinic.receiver_key
    )
    broker.check()
    svc = ReceiverService(broker, factory, group=args.group).start()
    if svc.error and svc.intake is None:
        raise EmofaceError(f"receiver could not start: {svc.error}", exit_code=5)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("receiver running against %s (store %s)", broker.url, _store_url(args))
    last = None
    while not stop.wait(10.0):
        c = svc.counters()
        if c != last:
            log.info("counters: %s", json.dumps(c, sort_keys=True))
            last = c
    svc.stop()
    log.info("receiver stopped; counters: %s", json.dumps(svc.counters(), sort_keys=True))
    return 0


def _open_store(args):
    from receiver.store import Store

    return Store(_store_url(args))


def _list(args) -> int:
    store = _open_store(args)
    rows = store.list(args.device, args.limit)
    if not rows:
        print("no summaries stored")
    for r in rows:
        t = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["received"]))
        print(f"{r['message_id']}  {r['device_id']:20s} seq={r['seq']:<6d} received {t}Z")
    store.close()
    return 0


def _show(args) -> int:
    store = _open_store(args)
    print(json.dumps(store.get(args.message_id), indent=2, sort_keys=True))
    store.close()
    return 0


def _import(args) -> int:
    from device.delivery.outbox import read_export
    from receiver.service import import_file

    blobs = read_export(args.file)
    _, factory = _intake_factory(args)
    intake = factory()
    results = import_file(intake, blobs)
    intake.store.close()
    print(
        f"{len(blobs)} envelopes in {args.file}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(results.items()))
    )
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
