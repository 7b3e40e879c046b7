"""Provisioning: clinic keys and their permissions, passphrases, device ids, enrollment
(clinic-made keys and the CSR path), broker config and ACL, revocation, CLI."""

from __future__ import annotations

import argparse
import json
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from device.cli import main as emoface
from device.config import load_config
from device.delivery.keys import KeyFileError
from device.delivery.service import add_cli as add_outbox_cli
from device.errors import InputError
from provisioning.broker import ACCESS_FILE, access_rules, write_broker_config
from provisioning.clinic import Clinic, device_request, enroll, init_clinic, revoke


def private_files(folder):
    return [p for p in folder.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]


@pytest.fixture
def fresh(tmp_path) -> Clinic:
    return init_clinic(tmp_path / "clinic", "Clinic X", "broker.clinic.lan", 8883, ["127.0.0.1"])


def test_init_clinic_writes_every_private_key_0600(fresh):
    enroll(fresh, "kiosk-1")
    keys = private_files(fresh.folder)
    names = {p.name for p in keys}
    assert {"ca.key", "clinic_hpke.key", "model_signing.key", "server.key", "receiver.key"} <= names
    assert {"client.key", "signing.key"} <= names
    for p in keys:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


def test_init_clinic_refuses_to_overwrite(fresh):
    with pytest.raises(InputError, match="already exists"):
        init_clinic(fresh.folder, "again", "h")


def test_passphrase_protects_clinic_secrets(tmp_path):
    c = init_clinic(tmp_path / "c", "P", "127.0.0.1", passphrase=b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in c.ca_key.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in c.hpke_key.read_bytes()
    with pytest.raises(KeyFileError):
        c.load_hpke_key()
    with pytest.raises(KeyFileError):
        c.load_ca(b"wrong")
    c.load_hpke_key(b"correct horse")
    enroll(c, "kiosk-1", ca_passphrase=b"correct horse")


def test_server_certificate_names_the_broker(fresh):
    cert = x509.load_pem_x509_certificate(fresh.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "broker.clinic.lan" in san.get_values_for_type(x509.DNSName)
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


@pytest.mark.parametrize("bad", ["Kiosk", "dev/a", "dev+", "#", "a b", "", "-x", "x" * 64, "dev_a"])
def test_device_ids_cannot_carry_topic_wildcards(fresh, bad):
    with pytest.raises(InputError, match="device id"):
        enroll(fresh, bad)


def test_enroll_writes_a_working_bundle(fresh):
    out = enroll(fresh, "kiosk-1")
    cfg = load_config(out / "device.toml")
    assert cfg.device.id == "kiosk-1"
    assert cfg.delivery.broker_url == "mqtts://broker.clinic.lan:8883"
    for p in (
        cfg.delivery.ca_cert,
        cfg.delivery.client_cert,
        cfg.delivery.client_key,
        cfg.delivery.device_signing_key,
        cfg.delivery.clinic_public_key,
        cfg.model.signing_public_key,
    ):
        assert p.is_file(), p
    assert cfg.model.signing_public_key.read_bytes() == fresh.model_pub.read_bytes()
    cert = x509.load_pem_x509_certificate(cfg.delivery.client_cert.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kiosk-1"
    ca = x509.load_pem_x509_certificate(fresh.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert fresh.registry().devices["kiosk-1"].status == "active"
    with pytest.raises(InputError, match="already enrolled"):
        enroll(fresh, "kiosk-1", out=fresh.folder / "other")


def test_enroll_from_a_device_made_csr(fresh, tmp_path):
    req = device_request(tmp_path / "on-device", "kiosk-2")
    out = enroll(
        fresh,
        "kiosk-2",
        csr_pem=(req / "client.csr").read_bytes(),
        signing_public_pem=(req / "signing.pub").read_bytes(),
    )
    assert not private_files(out)  # the device's secrets never left it
    cert = x509.load_pem_x509_certificate((out / "client.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kiosk-2"
    rec = fresh.registry().devices["kiosk-2"]
    assert len(rec.signing_keys) == 1
    # a CSR whose name is another device is refused
    other = device_request(tmp_path / "evil", "kiosk-9")
    with pytest.raises(InputError, match="common name"):
        enroll(
            fresh,
            "kiosk-3",
            csr_pem=(other / "client.csr").read_bytes(),
            signing_public_pem=(other / "signing.pub").read_bytes(),
        )


def test_broker_config_and_access_file(fresh, tmp_path):
    enroll(fresh, "kiosk-1")
    enroll(fresh, "kiosk-2")
    conf = write_broker_config(fresh, tmp_path / "broker").read_text()
    for line in (
        "per_listener_settings false",
        "require_certificate true",
        "use_identity_as_username true",
        "use_username_as_clientid true",
        "retain_available false",
        "allow_anonymous false",
        "listener 8883 0.0.0.0",
        f"plugin_opt_config_file {(tmp_path / 'broker' / ACCESS_FILE).resolve()}",
    ):
        assert line in conf.splitlines(), line
    assert not [line for line in conf.splitlines() if line.startswith("acl_file")]
    doc = json.loads((tmp_path / "broker" / ACCESS_FILE).read_text())
    assert doc["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": False,
        "subscribe": False,
        "unsubscribe": True,
    }
    clients = {c["username"]: c["roles"][0]["rolename"] for c in doc["clients"]}
    assert set(clients) == {"emoface-receiver", "kiosk-1", "kiosk-2"}
    roles = {r["rolename"]: r["acls"] for r in doc["roles"]}
    k1 = {(a["acltype"], a["topic"]) for a in roles[clients["kiosk-1"]]}
    assert k1 == {
        ("publishClientSend", "emoface/kiosk-1/summary"),
        ("subscribePattern", "emoface/kiosk-1/ack"),
        ("publishClientReceive", "emoface/kiosk-1/ack"),
    }
    assert all(a["allow"] for acls in roles.values() for a in acls)
    # only a receiver's rules use a wildcard
    for ident, acls in roles.items():
        if any("+" in a["topic"] or "#" in a["topic"] for a in acls):
            assert ident == clients["emoface-receiver"]
    for name in ("server.key", ACCESS_FILE):
        assert stat.S_IMODE(os.stat(tmp_path / "broker" / name).st_mode) == 0o600


def test_a_second_receiver_gets_its_own_identity(fresh, tmp_path):
    from provisioning.clinic import add_receiver

    folder = add_receiver(fresh, "b")
    cert = x509.load_pem_x509_certificate((folder / "receiver.crt").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "emoface-receiver-b"
    assert stat.S_IMODE(os.stat(folder / "receiver.key").st_mode) == 0o600
    assert fresh.receiver_identities() == ["emoface-receiver", "emoface-receiver-b"]
    assert "emoface-receiver-b" in access_rules(fresh)
    with pytest.raises(InputError, match="already exists"):
        add_receiver(fresh, "b")
    with pytest.raises(InputError):
        add_receiver(fresh, "B/../x")


def test_revoke_removes_the_device_and_lists_its_certificate(fresh, tmp_path):
    enroll(fresh, "kiosk-1")
    enroll(fresh, "kiosk-2")
    serial = fresh.registry().devices["kiosk-1"].cert_serials[0]
    revoke(fresh, "kiosk-1")
    assert "kiosk-1" not in access_rules(fresh) and "kiosk-2" in access_rules(fresh)
    crl = x509.load_pem_x509_crl(fresh.crl.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    assert fresh.registry().devices["kiosk-1"].status == "revoked"
    with pytest.raises(InputError):
        revoke(fresh, "nobody")


def test_cli_round_trip_prints_no_secret(tmp_path, capsys):
    c = tmp_path / "clinic"
    assert emoface(["provision", "init-clinic", str(c), "--broker-host", "127.0.0.1"]) == 0
    assert emoface(["provision", "enroll", "kiosk-7", "--clinic", str(c)]) == 0
    assert (
        emoface(["provision", "broker-config", "--clinic", str(c), "--out", str(tmp_path / "b")])
        == 0
    )
    assert (
        emoface(
            [
                "provision",
                "revoke",
                "kiosk-7",
                "--clinic",
                str(c),
                "--broker-out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    assert emoface(["provision", "devices", "--clinic", str(c)]) == 0
    assert emoface(["provision", "enroll", "Bad/Id", "--clinic", str(c)]) == 2
    out = capsys.readouterr()
    assert "PRIVATE" not in out.out + out.err
    assert "kiosk-7" in out.out and "revoked" in out.out
    assert "kiosk-7" not in (tmp_path / "b" / ACCESS_FILE).read_text()
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    assert (
        emoface(
            [
                "provision",
                "init-clinic",
                str(tmp_path / "c2"),
                "--broker-host",
                "h",
                "--passphrase-file",
                str(pw),
            ]
        )
        == 0
    )
    assert emoface(["provision", "enroll", "k", "--clinic", str(tmp_path / "c2")]) == 2
    assert (
        emoface(
            [
                "provision",
                "enroll",
                "k",
                "--clinic",
                str(tmp_path / "c2"),
                "--passphrase-file",
                str(pw),
            ]
        )
        == 0
    )


def test_every_command_has_help(capsys):
    for argv in (
        ["provision", "--help"],
        ["provision", "enroll", "--help"],
        ["receiver", "--help"],
        ["receiver", "run", "--help"],
    ):
        with pytest.raises(SystemExit) as ei:
            emoface(argv)
        assert ei.value.code == 0
    assert "shared subscription" in capsys.readouterr().out
    # `emoface outbox` is registered by the device role (device.delivery.service.add_cli)
    parser = argparse.ArgumentParser(prog="emoface")
    add_outbox_cli(parser.add_subparsers())
    with pytest.raises(SystemExit) as ei:
        parser.parse_args(["outbox", "export", "--help"])
    assert ei.value.code == 0
    assert "receiver import" in capsys.readouterr().out


def test_signing_key_is_ed25519(fresh):
    out = enroll(fresh, "kiosk-1")
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    assert isinstance(load_pem_public_key((out / "signing.pub").read_bytes()), Ed25519PublicKey)


@pytest.mark.skipif(os.geteuid() != 0, reason="ownership hand-over only happens as root")
def test_broker_files_are_handed_to_the_broker_user(fresh, tmp_path):
    import pwd

    try:
        pw = pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto user on this machine")
    write_broker_config(fresh, tmp_path / "b", user="mosquitto")
    key = tmp_path / "b" / "server.key"
    assert os.stat(key).st_uid == pw.pw_uid
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    write_broker_config(fresh, tmp_path / "r", user="root")
    assert os.stat(tmp_path / "r" / "server.key").st_uid == 0


def test_enroll_and_revoke_regenerate_the_last_broker_config(tmp_path, capsys):
    c = tmp_path / "clinic"
    b = tmp_path / "broker"
    assert emoface(["provision", "init-clinic", str(c), "--broker-host", "127.0.0.1"]) == 0
    assert (
        emoface(
            [
                "provision",
                "broker-config",
                "--clinic",
                str(c),
                "--out",
                str(b),
                "--port",
                "18883",
                "--user",
                "root",
            ]
        )
        == 0
    )
    assert "kiosk-5" not in (b / ACCESS_FILE).read_text()
    assert emoface(["provision", "enroll", "kiosk-5", "--clinic", str(c)]) == 0
    assert '"username": "kiosk-5"' in (b / ACCESS_FILE).read_text()
    crl_before = (b / "crl.pem").read_bytes()
    assert emoface(["provision", "revoke", "kiosk-5", "--clinic", str(c)]) == 0
    assert "kiosk-5" not in (b / ACCESS_FILE).read_text()
    assert (b / "crl.pem").read_bytes() != crl_before
    conf = (b / "mosquitto.conf").read_text()
    assert "listener 18883" in conf and "user root" in conf  # the remembered settings
    assert "regenerated" in capsys.readouterr().out
