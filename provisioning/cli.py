"""Sub-commands of the provisioning role: `emoface provision init-clinic|enroll|...`."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from device.errors import InputError
from device.fileio import MAX_KEY_BYTES, read_bounded


def add_passphrase_args(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help=f"read the passphrase of {what} from FILE (first line)",
    )
    g.add_argument(
        "--ask-passphrase", action="store_true", help=f"prompt for the passphrase of {what}"
    )


def passphrase(args, confirm: bool = False) -> bytes | None:
    """The passphrase chosen by --passphrase-file / --ask-passphrase, or None."""
    if getattr(args, "passphrase_file", None):
        data = read_bounded(args.passphrase_file, MAX_KEY_BYTES, "passphrase file")
        try:
            text = data.decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"{args.passphrase_file}: passphrase file is not UTF-8") from exc
        if not text or not text[0]:
            raise InputError(f"{args.passphrase_file}: empty passphrase")
        return text[0].encode()
    if getattr(args, "ask_passphrase", False):
        pw = getpass.getpass("passphrase: ")
        if confirm and getpass.getpass("again: ") != pw:
            raise InputError("the two passphrases differ")
        if not pw:
            raise InputError("empty passphrase")
        return pw.encode()
    return None


def register(sub) -> None:
    """Add this role's sub-commands to the `emoface` parser."""
    p = sub.add_parser(
        "provision",
        help="clinic set-up: CA and keys, device enrollment, broker config, revocation",
        description="Clinic provisioning. Typical order: init-clinic, enroll (once per "
        "device), broker-config; revoke when a device is lost. See docs/delivery.md.",
    )
    ps = p.add_subparsers(dest="provision_command", metavar="ACTION", required=True)

    a = ps.add_parser(
        "init-clinic",
        help="create a clinic folder: CA, HPKE key pair, model-signing key, broker and "
        "receiver TLS identities",
        description="Creates CLINIC with private keys written 0600. With a passphrase the "
        "CA, HPKE and model-signing keys are encrypted (the broker and receiver TLS keys "
        "never are: those services start unattended).",
    )
    a.add_argument("clinic", type=Path, help="new clinic folder")
    a.add_argument("--name", default="emoface clinic", help="clinic name (in certificates)")
    a.add_argument("--broker-host", required=True, help="host name or IP address devices dial")
    a.add_argument("--broker-port", type=int, default=8883, help="broker TLS port")
    a.add_argument(
        "--broker-name",
        action="append",
        default=[],
        help="further names/IPs for the broker certificate (repeatable)",
    )
    add_passphrase_args(a, "the clinic's private keys")
    a.set_defaults(func=_init_clinic)

    e = ps.add_parser(
        "enroll",
        help="enroll a device: its keys, a CA-signed certificate, and its config bundle",
        description="Writes a device bundle (device.toml, certificates, keys, the clinic "
        "HPKE public key and the pinned model-signing key) to CLINIC/devices/ID or --out. "
        "With --csr and --signing-pub the device made its own keys (see device-request) "
        "and the bundle holds no private key.",
    )
    e.add_argument("device_id", metavar="DEVICE-ID", help="[a-z0-9-], e.g. kiosk-017")
    e.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    e.add_argument("--out", type=Path, help="bundle folder (default CLINIC/devices/ID)")
    e.add_argument("--csr", type=Path, help="PEM CSR made on the device (CN = DEVICE-ID)")
    e.add_argument("--signing-pub", type=Path, help="device's Ed25519 public key (PEM)")
    e.add_argument(
        "--data-dir",
        default="/var/lib/emoface",
        help="device data folder written into device.toml (default: %(default)s, the only "
        "folder the kiosk's systemd unit may write)",
    )
    add_passphrase_args(e, "the CA key")
    e.set_defaults(func=_enroll)

    r = ps.add_parser(
        "device-request",
        help="on a device: make its own TLS key, CSR and signing key for `enroll --csr`",
    )
    r.add_argument("device_id", metavar="DEVICE-ID")
    r.add_argument("--out", type=Path, required=True, help="folder for the keys and CSR")
    r.set_defaults(func=_device_request)

    b = ps.add_parser(
        "broker-config",
        help="write the clinic's mosquitto config, ACL file and TLS files",
        description="Fills firmware_config/mosquitto/emoface.conf.template: one TLS "
        "listener with require_certificate, use_identity_as_username and "
        "use_username_as_clientid, no anonymous access, no retained messages, and the "
        "dynamic-security access file giving each active device only its own topics "
        "(publish and subscribe) and only the receivers the summaries and acks.",
    )
    b.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    b.add_argument(
        "--out", type=Path, required=True, help="output folder (e.g. /etc/mosquitto/emoface)"
    )
    b.add_argument("--port", type=int, help="listener port (default: the clinic's)")
    b.add_argument("--bind", default="0.0.0.0", help="listener address")
    b.add_argument("--user", default="mosquitto", help="user mosquitto drops to")
    b.add_argument(
        "--log-dest",
        default="stderr",
        help="mosquitto log_dest (default: stderr, which systemd's journal keeps and which "
        "works where there is no syslog; e.g. 'file /var/log/mosquitto/mosquitto.log')",
    )
    b.add_argument("--no-persistence", action="store_true", help="no on-disk broker state")
    b.add_argument(
        "--plugin",
        help="path of mosquitto_dynamic_security.so (default: found in the usual library folders)",
    )
    b.set_defaults(func=_broker_config)

    v = ps.add_parser(
        "revoke",
        help="revoke a device: the receiver refuses it at once; regenerates the broker config",
    )
    v.add_argument("device_id", metavar="DEVICE-ID")
    v.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    v.add_argument(
        "--broker-out",
        type=Path,
        help="broker-config folder to regenerate (default: where broker-config last wrote)",
    )
    add_passphrase_args(v, "the CA key")
    v.set_defaults(func=_revoke)

    ar = ps.add_parser(
        "add-receiver",
        help="issue another receiver identity (emoface-receiver-NAME) for one more receiver",
        description="Each receiver process needs its own certificate: the broker binds a "
        "connection's client id to its certificate name, so two receivers with one "
        "certificate keep disconnecting each other. Run the new one with `emoface receiver "
        "run --identity NAME`; regenerates the broker config (restart mosquitto).",
    )
    ar.add_argument("name", metavar="NAME", help="a-z, 0-9 and '-', e.g. 2 or rack-b")
    ar.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    add_passphrase_args(ar, "the CA key")
    ar.set_defaults(func=_add_receiver)

    ls = ps.add_parser("devices", help="list enrolled devices and their status")
    ls.add_argument("--clinic", type=Path, required=True, help="clinic folder")
    ls.set_defaults(func=_devices)

    from receiver.web.cli import add_staff_cli  # accounts live in the receiver's store

    add_staff_cli(ps)


def _init_clinic(args) -> int:
    from provisioning.clinic import init_clinic

    c = init_clinic(
        args.clinic,
        args.name,
        args.broker_host,
        args.broker_port,
        args.broker_name,
        passphrase(args, confirm=True),
    )
    print(f"clinic created in {c.folder} (broker {c.broker_url})")
    print(f"next: emoface provision enroll DEVICE-ID --clinic {c.folder}")
    return 0


def _enroll(args) -> int:
    from provisioning.broker import regenerate
    from provisioning.clinic import Clinic, enroll

    clinic = Clinic.open(args.clinic)
    csr = sig = None
    if args.csr or args.signing_pub:
        if not (args.csr and args.signing_pub):
            raise InputError("--csr and --signing-pub go together")
        csr = read_bounded(args.csr, MAX_KEY_BYTES, "CSR")
        sig = read_bounded(args.signing_pub, MAX_KEY_BYTES, "signing public key")
    out = enroll(clinic, args.device_id, passphrase(args), args.out, csr, sig, args.data_dir)
    print(f"device {args.device_id} enrolled; bundle in {out}")
    print(
        "copy the bundle's contents to /etc/emoface/ on the device, set camera.source, "
        "kiosk.stimulus_pack and kiosk.operator_pin there (firmware_config/README.md), then "
        "check it: emoface selftest --config /etc/emoface/device.toml --send-test"
    )
    conf = regenerate(clinic)
    if conf:
        print(
            f"broker config regenerated with it: {conf}; restart mosquitto (it reads the"
            " access file at start)"
        )
    else:
        print(
            "then write the broker config: emoface provision broker-config --clinic ... --out DIR"
        )
    return 0


def _device_request(args) -> int:
    from provisioning.clinic import device_request

    out = device_request(args.out, args.device_id)
    print(f"keys and CSR in {out}; send client.csr and signing.pub to the clinic:")
    print(
        f"  emoface provision enroll {args.device_id} --clinic CLINIC --csr client.csr --signing-pub signing.pub"
    )
    return 0


def _broker_config(args) -> int:
    from provisioning.broker import write_broker_config
    from provisioning.clinic import Clinic

    clinic = Clinic.open(args.clinic)
    conf = write_broker_config(
        clinic,
        args.out,
        port=args.port,
        bind=args.bind,
        user=args.user,
        persistence=not args.no_persistence,
        log_dest=args.log_dest,
        plugin=args.plugin,
    )
    print(f"broker config written: {conf}")
    print(f"start it with: mosquitto -c {conf}")
    return 0


def _revoke(args) -> int:
    from provisioning.broker import regenerate
    from provisioning.clinic import Clinic, revoke

    clinic = Clinic.open(args.clinic)
    revoke(clinic, args.device_id, passphrase(args))
    print(f"device {args.device_id} revoked: receivers refuse its messages from now on")
    conf = regenerate(clinic, args.broker_out)
    if conf:
        print(
            f"broker config regenerated without it: {conf}; restart mosquitto (it reads the CRL at start)"
        )
    else:
        print("no broker config written yet for this clinic: run broker-config")
    return 0


def _add_receiver(args) -> int:
    from provisioning.broker import regenerate
    from provisioning.clinic import Clinic, add_receiver

    clinic = Clinic.open(args.clinic)
    folder = add_receiver(clinic, args.name, passphrase(args))
    print(f"receiver identity emoface-receiver-{args.name} in {folder}")
    print(f"run it with: emoface receiver run --clinic {clinic.folder} --identity {args.name}")
    conf = regenerate(clinic)
    if conf:
        print(f"broker config regenerated: {conf}; restart mosquitto")
    return 0


def _devices(args) -> int:
    from provisioning.clinic import Clinic

    reg = Clinic.open(args.clinic).registry()
    if not reg.devices:
        print("no devices enrolled")
    for d in sorted(reg.devices.values(), key=lambda r: r.device_id):
        print(f"{d.device_id:24s} {d.status:8s} keys={','.join(d.signing_keys)}")
    return 0
