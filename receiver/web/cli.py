"""`emoface receiver serve` (the dashboard) and `emoface provision staff add|list`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from device.errors import InputError


def add_cli(rs, store_args) -> None:
    from provisioning.cli import add_passphrase_args

    sv = rs.add_parser(
        "serve",
        help="the clinic dashboard in the browser (HTTPS): alerts, sessions, reports, devices",
        description="Serves the dashboard over HTTPS with a certificate from the clinic CA "
        "(issued on first start into CLINIC/receiver/). Staff log in with accounts made by "
        "`emoface provision staff add`. Run it beside `emoface receiver run` on the same store.",
    )
    store_args(sv, clinic_required=True)
    sv.add_argument(
        "--bind",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; the LAN address to serve the clinic)",
    )
    sv.add_argument("--port", type=int, default=8443, help="default 8443")
    sv.add_argument(
        "--name",
        action="append",
        help="host name(s) in the certificate (default: the bind address and localhost)",
    )
    add_passphrase_args(sv, "the CA key (first start only, to issue the certificate)")
    sv.set_defaults(func=_serve)


def add_staff_cli(ps) -> None:
    """`emoface provision staff add|list` (registered by provisioning.cli)."""
    st = ps.add_parser(
        "staff", help="dashboard accounts for clinic staff (argon2-hashed passwords)"
    )
    ss = st.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    a = ss.add_parser(
        "add",
        help="create a clinician or admin account",
        description="The password is read from $EMOFACE_STAFF_PASSWORD, else prompted twice; "
        "at least 12 characters.",
    )
    a.add_argument("username")
    a.add_argument("--role", choices=("clinician", "admin"), default="clinician")
    a.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    a.add_argument(
        "--store", help="sqlite path or postgresql://URL (default CLINIC/receiver/summaries.sqlite)"
    )
    a.set_defaults(func=_staff_add)
    ls = ss.add_parser("list", help="list accounts (and which are locked)")
    ls.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    ls.add_argument("--store", help="sqlite path or postgresql://URL")
    ls.set_defaults(func=_staff_list)


def _store_for(args, create: bool):
    from receiver.store import Store

    if not Path(args.clinic).is_dir():
        raise InputError(f"{args.clinic}: no clinic folder there")
    url = args.store or str(Path(args.clinic) / "receiver" / "summaries.sqlite")
    return Store(url, create=create)


def _staff_add(args) -> int:
    from receiver.staff import add_account

    pw = os.environ.get("EMOFACE_STAFF_PASSWORD")
    if pw is None:
        pw = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != pw:
            raise InputError("the two passwords differ")
    store = _store_for(args, create=True)
    try:
        add_account(store, args.username, pw, args.role)
    finally:
        store.close()
    print(f"account {args.username} ({args.role}) created")
    return 0


def _staff_list(args) -> int:
    from receiver.staff import list_accounts

    store = _store_for(args, create=False)
    try:
        for user, role, locked in list_accounts(store):
            print(f"{user:24s} {role:10s} {'LOCKED' if locked else ''}")
    finally:
        store.close()
    return 0


def _serve(args) -> int:
    from provisioning.cli import passphrase
    from provisioning.clinic import Clinic
    from receiver.web.serve import run

    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: must be 1-65535")
    clinic = Clinic.open(args.clinic)
    store = _store_for(args, create=False)
    names = args.name or [args.bind, "localhost"]
    try:
        run(store, clinic, args.bind, args.port, names, passphrase(args))
    finally:
        store.close()
    return 0
