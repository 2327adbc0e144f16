"""Which of the cluster's certificates expires first, and which expire too soon.

Every ``site.yml`` run reports the earliest expiry of the certificates it manages (the
nodes', the console's, the cluster CA) and warns about those that expire within the
threshold: leaves are renewed by the run itself when they get that close, so a warning
means one that the run could not renew (a short validity, the user's own certificate, the
CA). Pure: the action plugin ``certificate_expiry`` does the Ansible glue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "CertificateExpiry",
    "ExpiryReport",
    "bundle_expiries",
    "expiry_report",
    "parse_asn1_time",
]

# In module_utils, so importable on the hosts' Python 3.8 too: datetime.UTC is 3.11+.
UTC = timezone.utc  # noqa: UP017


@dataclass(frozen=True)
class CertificateExpiry:
    name: str
    not_after: datetime


@dataclass(frozen=True)
class ExpiryReport:
    earliest: CertificateExpiry | None
    earliest_days: float | None
    summary: str
    warnings: tuple[str, ...]


def parse_asn1_time(value: str) -> datetime:
    """``20271204182012Z`` (what community.crypto's certificate info gives) as aware UTC."""
    try:
        return datetime.strptime(value, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{value!r} is not a certificate time like 20271204182012Z") from None


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _when(certificate: CertificateExpiry) -> str:
    return f"{certificate.not_after:%Y-%m-%d %H:%M} UTC"


def _warning(certificate: CertificateExpiry, now: datetime, warn_days: int) -> str:
    if certificate.not_after <= now:
        state = f"expired on {_when(certificate)}"
    else:
        state = (
            f"expires in {_days(certificate.not_after - now):.1f} days ({_when(certificate)}), "
            f"within the {warn_days}-day threshold"
        )
    return (
        f"The certificate of {certificate.name} {state}. Renew it with "
        "playbooks/rotate_certificates.yml (see the README's Security section)."
    )


def expiry_report(
    certificates: Iterable[CertificateExpiry], now: datetime, warn_days: int
) -> ExpiryReport:
    listed = sorted(certificates, key=lambda certificate: (certificate.not_after, certificate.name))
    if not listed:
        return ExpiryReport(None, None, "No certificate is managed by this run.", ())
    warnings = tuple(
        _warning(certificate, now, warn_days)
        for certificate in listed
        if certificate.not_after - now < timedelta(days=warn_days)
    )
    earliest = listed[0]
    days = _days(earliest.not_after - now)
    summary = (
        f"Earliest certificate expiry: {earliest.name} on {_when(earliest)}, in {days:.1f} days "
        f"({len(listed)} certificates checked, warning threshold {warn_days} days)."
    )
    return ExpiryReport(earliest, days, summary, warnings)


def bundle_expiries(pem: str, label: str) -> list[dict[str, str]]:
    """Each certificate of a PEM bundle (the CAs the cluster trusts, two during a CA
    rotation) as ``{name, not_after}``, named ``<label> <common name>``, with the time in
    the form :func:`parse_asn1_time` reads."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    found = []
    for certificate in x509.load_pem_x509_certificates(pem.encode()) if pem.strip() else []:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else certificate.subject.rfc4514_string()
        found.append(
            {
                "name": f"{label} {common_name}",
                "not_after": certificate.not_valid_after_utc.strftime("%Y%m%d%H%M%SZ"),
            }
        )
    return found
