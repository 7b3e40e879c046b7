"""Run the dashboard: HTTPS with a certificate issued by the clinic CA, under uvicorn.

The certificate and key live in CLINIC/receiver/dashboard.crt and dashboard.key (0600); the
first start issues them for the host names given (`--name`, default the bind address and
localhost), which needs the CA key (and its passphrase when it has one). Browsers on the
clinic LAN trust it once the clinic CA (CLINIC/ca.crt) is installed on them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from device.delivery.keys import write_private_key
from provisioning import pki
from provisioning.clinic import Clinic
from provisioning.registry import Registry

log = logging.getLogger(__name__)


def tls_files(clinic: Clinic) -> tuple[Path, Path]:
    folder = Path(clinic.folder) / "receiver"
    return folder / "dashboard.crt", folder / "dashboard.key"


def ensure_tls(
    clinic: Clinic, names: list[str], ca_passphrase: bytes | None = None
) -> tuple[Path, Path]:
    """The dashboard's certificate and key, issued by the clinic CA when missing."""
    cert, key = tls_files(clinic)
    if cert.is_file() and key.is_file():
        return cert, key
    cert.parent.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = clinic.load_ca(ca_passphrase)
    tk = pki.new_tls_key()
    write_private_key(key, tk)
    cert.write_bytes(
        pki.pem(pki.issue(ca_key, ca_cert, tk.public_key(), "emoface-dashboard", names))
    )
    log.info("issued the dashboard certificate for %s", ", ".join(names))
    return cert, key


class ClinicDevices:
    """This clinic's devices (id -> status) from its registry, re-read when the file changes."""

    def __init__(self, registry_path: Path):
        self.path = Path(registry_path)
        self._stamp: float | None = None
        self._devices: dict[str, str] = {}

    def __call__(self) -> dict[str, str]:
        stamp = self.path.stat().st_mtime if self.path.exists() else None
        if stamp != self._stamp:
            reg = Registry.load(self.path)
            self._devices = {d.device_id: d.status for d in reg.devices.values()}
            self._stamp = stamp
        return dict(self._devices)


def run(
    store, clinic: Clinic, host: str, port: int, names: list[str], ca_passphrase: bytes | None
) -> None:
    import uvicorn

    from receiver.web.app import create_app

    cert, key = ensure_tls(clinic, names, ca_passphrase)
    name = getattr(clinic, "name", None) or Path(clinic.folder).name
    app = create_app(store, ClinicDevices(clinic.registry_path), str(name), secure=True)
    print(
        f"dashboard: https://{names[0]}:{port}/  (certificate from the clinic CA: {clinic.ca_cert})"
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        server_header=False,
        log_level="info",
    )
