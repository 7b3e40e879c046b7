"""The clinic's mosquitto configuration.

`write_broker_config` fills firmware_config/mosquitto/emoface.conf.template and writes the
access file of mosquitto's dynamic-security plugin from the registry (`access_rules`):

- each receiver identity (`emoface-receiver`, `emoface-receiver-<name>`) may subscribe to
  the summary topics, plain or through a shared subscription, receive them, and publish
  on every ack topic;
- each active device may publish only on `emoface/<id>/summary`, and subscribe to and
  receive only `emoface/<id>/ack`;
- everything else is denied, SUBSCRIBE included (mosquitto 2.0's acl_file never checks a
  subscription: a device could join the receivers' shared subscription and swallow its
  share of every summary); a revoked device gets no entry (and its certificate is on the
  CRL); no identity may touch the plugin's `$CONTROL` topics.

Every topic comes from the topic table in device/wire/topics.py.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
from pathlib import Path
from string import Template

from device.errors import EmofaceError, InputError
from device.fileio import MAX_CONFIG_BYTES, read_json, write_atomic
from device.wire.envelope import MAX_ENVELOPE
from device.wire.topics import ACK, SUMMARY, is_receiver_identity
from provisioning.clinic import Clinic

TEMPLATE = (
    Path(__file__).resolve().parents[1] / "firmware_config" / "mosquitto" / "emoface.conf.template"
)
MAX_PACKET = MAX_ENVELOPE + 4096  # the receiver, not the broker, refuses an oversized envelope
REMEMBERED = "broker-config.json"  # where and how broker-config last wrote, for regenerate()
ACCESS_FILE = "dynamic-security.json"
# where distributions install mosquitto's dynamic-security plugin
PLUGIN_NAME = "mosquitto_dynamic_security.so"
PLUGIN_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/arm-linux-gnueabihf",
    "/usr/lib",
    "/usr/lib/mosquitto",
    "/usr/local/lib",
)
# dynamic-security ACL types
SEND, RECEIVE, SUB = "publishClientSend", "publishClientReceive", "subscribePattern"


def access_rules(clinic: Clinic) -> dict[str, list[tuple[str, str]]]:
    """identity -> [(acl type, topic filter)], everything allowed; anything else is denied."""
    rules: dict[str, list[tuple[str, str]]] = {}
    for r in clinic.receiver_identities():
        rules[r] = [
            (SUB, f"$share/+/{SUMMARY.wildcard}"),
            (SUB, SUMMARY.wildcard),
            (RECEIVE, SUMMARY.wildcard),
            (SEND, ACK.wildcard),
        ]
    for rec in sorted(clinic.registry().active(), key=lambda r: r.device_id):
        d = rec.device_id
        if is_receiver_identity(d):
            raise InputError(
                f"{clinic.registry_path}: device {d!r} has a receiver's reserved name; "
                f"revoke it (emoface provision revoke {d} --clinic {clinic.folder})"
            )
        rules[d] = [
            (SEND, SUMMARY.for_device(d)),
            (SUB, ACK.for_device(d)),
            (RECEIVE, ACK.for_device(d)),
        ]
    return rules


def access_document(clinic: Clinic) -> dict:
    """The dynamic-security plugin's JSON: one role and one client per identity, no
    passwords (clients authenticate with their certificate), deny by default."""
    roles, clients = [], []
    for ident, acls in access_rules(clinic).items():
        role = f"emoface-{ident}"
        roles.append(
            {
                "rolename": role,
                "acls": [
                    {"acltype": t, "topic": topic, "priority": 0, "allow": True}
                    for t, topic in acls
                ],
            }
        )
        clients.append({"username": ident, "roles": [{"rolename": role, "priority": 0}]})
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }


def find_plugin(explicit: str | None = None) -> str:
    """The dynamic-security plugin's path (the given one, or the first installed)."""
    if explicit:
        return explicit
    for d in PLUGIN_DIRS:
        p = Path(d) / PLUGIN_NAME
        if p.is_file():
            return str(p)
    return str(Path(PLUGIN_DIRS[0]) / PLUGIN_NAME)  # the Debian/Ubuntu amd64 place


def write_broker_config(
    clinic: Clinic,
    out: Path,
    port: int | None = None,
    bind: str = "0.0.0.0",
    user: str = "mosquitto",
    persistence: bool = True,
    log_dest: str = "stderr",
    plugin: str | None = None,
) -> Path:
    """Write mosquitto.conf, the access file, and copies of the TLS files into `out`;
    returns the conf."""
    if not TEMPLATE.is_file():
        raise InputError(f"{TEMPLATE}: broker config template missing from this install")
    out = Path(out)
    (out / "state").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clinic.ca_cert, out / "ca.crt")
    shutil.copyfile(clinic.server_cert, out / "server.crt")
    shutil.copyfile(clinic.crl, out / "crl.pem")
    write_atomic(out / "server.key", clinic.server_key.read_bytes(), 0o600)
    doc = json.dumps(access_document(clinic), indent=1) + "\n"
    write_atomic(out / ACCESS_FILE, doc.encode(), 0o600)
    (out / "acl").unlink(missing_ok=True)  # an older config's ACL file: no longer used
    conf = Template(TEMPLATE.read_text()).substitute(
        user=user,
        persistence="true" if persistence else "false",
        state_dir=(out / "state").resolve(),
        log_dest=log_dest,
        port=port or clinic.broker_port,
        bind=bind,
        cafile=(out / "ca.crt").resolve(),
        certfile=(out / "server.crt").resolve(),
        keyfile=(out / "server.key").resolve(),
        crlfile=(out / "crl.pem").resolve(),
        plugin=find_plugin(plugin),
        dynsec_file=(out / ACCESS_FILE).resolve(),
        max_packet_size=MAX_PACKET,
    )
    path = out / "mosquitto.conf"
    write_atomic(path, conf.encode(), 0o644)
    _hand_to(user, out)
    remembered = {
        "out": str(out.resolve()),
        "port": port,
        "bind": bind,
        "user": user,
        "persistence": persistence,
        "log_dest": log_dest,
        "plugin": plugin,
    }
    write_atomic(
        clinic.folder / REMEMBERED, (json.dumps(remembered, indent=2) + "\n").encode(), 0o644
    )
    return path


def regenerate(clinic: Clinic, out: Path | None = None) -> Path | None:
    """Rewrite the broker config with the settings broker-config last used for this clinic
    (into `out`, or the same folder), e.g. after enroll or revoke. With no record, writes to
    `out` with the defaults, or returns None when there is no `out` either."""
    p = clinic.folder / REMEMBERED
    kw: dict = {}
    if p.is_file():
        kw = read_json(p, MAX_CONFIG_BYTES, "broker-config record")
        known = {"out", "port", "bind", "user", "persistence", "log_dest", "plugin"}
        if not isinstance(kw, dict) or not set(kw) <= known:
            raise InputError(f"{p}: not a broker-config record; run broker-config again")
    target = out or (Path(kw["out"]) if "out" in kw else None)
    kw.pop("out", None)
    if target is None:
        return None
    return write_broker_config(clinic, target, **kw)


def _hand_to(user: str, out: Path) -> None:
    """Run as root for another broker user: give it the files it must read after dropping
    privileges (mosquitto 2.0 reads them as that user), keeping server.key at 0600."""
    if os.geteuid() != 0 or user == "root":
        return
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return  # the user does not exist here (config written for another machine)
    names = ("ca.crt", "server.crt", "server.key", "crl.pem", ACCESS_FILE, "mosquitto.conf")
    for p in (out, out / "state", *(out / n for n in names)):
        os.chown(p, pw.pw_uid, pw.pw_gid)


class BrokerError(EmofaceError):
    exit_code = 5
