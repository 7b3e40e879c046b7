"""X.509 for the clinic: a CA, server and client certificates, CSR signing and the CRL.

TLS keys are ECDSA P-256 (what every TLS stack, mosquitto's OpenSSL included, speaks in
TLS 1.2 and 1.3). A client certificate's common name is the MQTT identity: mosquitto's
`use_identity_as_username` makes it the username the ACL file names.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from device.errors import InputError

CA_DAYS = 3650
CERT_DAYS = 1825
CRL_DAYS = 3650  # OpenSSL refuses every client once the CRL expires: keep it long


def new_tls_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _name(cn: str, org: str = "emoface clinic") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_ca(key, clinic_name: str) -> x509.Certificate:
    now = _now()
    subject = _name(f"{clinic_name} CA", clinic_name)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def issue(
    ca_key,
    ca_cert: x509.Certificate,
    public_key,
    common_name: str,
    server_names: list[str] | None = None,
    days: int = CERT_DAYS,
) -> x509.Certificate:
    """A leaf certificate: a server one when `server_names` is given, else a client one."""
    now = _now()
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, _org(ca_cert)))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),
            critical=False,
        )
    )
    if server_names:
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        ).add_extension(x509.SubjectAlternativeName(_sans(server_names)), critical=False)
    else:
        b = b.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return b.sign(ca_key, hashes.SHA256())


def _org(ca_cert: x509.Certificate) -> str:
    attrs = ca_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(attrs[0].value) if attrs else "emoface clinic"


def _sans(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            out.append(x509.DNSName(n))
    return out


def make_csr(key, common_name: str) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(common_name))
        .sign(key, hashes.SHA256())
    )


def load_csr(data: bytes, expected_cn: str) -> x509.CertificateSigningRequest:
    """Parse a PEM CSR and check its signature and that its CN is the device id."""
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as exc:
        raise InputError("not a PEM certificate signing request") from exc
    if not csr.is_signature_valid:
        raise InputError("CSR signature does not verify")
    cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(cns) != 1 or cns[0].value != expected_cn:
        found = cns[0].value if cns else None
        raise InputError(f"CSR common name {found!r} is not the device id {expected_cn!r}")
    if not isinstance(csr.public_key(), ec.EllipticCurvePublicKey):
        raise InputError("CSR key must be ECDSA (P-256)")
    return csr


def make_crl(
    ca_key, ca_cert: x509.Certificate, serials: list[int]
) -> x509.CertificateRevocationList:
    now = _now()
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=CRL_DAYS))
    )
    for s in serials:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(s).revocation_date(now).build()
        )
    return b.sign(ca_key, hashes.SHA256())


def pem(obj) -> bytes:
    return obj.public_bytes(serialization.Encoding.PEM)


def load_cert(data: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data)
