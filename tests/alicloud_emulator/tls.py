"""The data plane's TLS material: a private CA and a certificate for OSS's endpoints.

The CA (``oss-data-ca.pem``, key ``oss-data-ca.key``) is kept in the emulator's
state directory and reused while it is valid, so hosts that were given it keep
trusting a restarted emulator; the server certificate (``oss-data-server.pem`` and
``.key``) is issued at every start for the configured regions:
``*.oss-<region>.aliyuncs.com`` and ``*.oss-<region>-internal.aliyuncs.com`` (virtual-hosted
bucket names) and the bare endpoints (so that a path-style request gets OSS's
SecondLevelDomainForbidden rather than a TLS failure). Private keys are written 0600.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .util import utcnow

CA_FILE = "oss-data-ca.pem"
CA_KEY_FILE = "oss-data-ca.key"
SERVER_CERT_FILE = "oss-data-server.pem"
SERVER_KEY_FILE = "oss-data-server.key"
CA_DAYS = 3650
SERVER_DAYS = 397  # the longest leaf lifetime clients accept
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def endpoint_names(regions: Sequence[str]) -> list[str]:
    names = []
    for region in regions:
        for endpoint in (f"oss-{region}.aliyuncs.com", f"oss-{region}-internal.aliyuncs.com"):
            names += [endpoint, f"*.{endpoint}"]
    return names


def _write(path: Path, data: bytes, mode: int) -> None:
    """Written under a temporary name with its final mode, then renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate((directory / CA_FILE).read_bytes())
        key = serialization.load_pem_private_key(
            (directory / CA_KEY_FILE).read_bytes(), password=None
        )
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.not_valid_after_utc - RENEW_BEFORE < utcnow():
        return None
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        return None
    return cert, key


def _new_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "AutoMQ installer tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Alibaba Cloud emulator OSS data CA"),
        ]
    )
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
    _write(directory / CA_KEY_FILE, _key_pem(key), 0o600)
    _write(directory / CA_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def ensure_tls_files(directory: Path, regions: Sequence[str]) -> TlsFiles:
    """The CA (kept, or made when missing or expiring) and a fresh server certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _load_ca(directory) or _new_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    names = endpoint_names(regions)
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[1])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(directory / SERVER_KEY_FILE, _key_pem(key), 0o600)
    _write(directory / SERVER_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return TlsFiles(directory / CA_FILE, directory / SERVER_CERT_FILE, directory / SERVER_KEY_FILE)
