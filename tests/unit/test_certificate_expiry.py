"""The certificate expiry report of site.yml: the earliest expiry, and warnings for close ones.

Pure logic with hypothesis, then the action plugin through real ansible-playbook: a
certificate issued for one day (as community.crypto issues it) makes the run warn, one
issued for a year does not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st
from test_ansible_plugins import run_playbook_output

from automq_helpers.certificate_expiry import (
    CertificateExpiry,
    bundle_expiries,
    expiry_report,
    parse_asn1_time,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NOT_AFTER = "{{ (issued.certificate | community.crypto.x509_certificate_info).not_after }}"


def test_the_earliest_is_named_and_only_close_ones_warn() -> None:
    report = expiry_report(
        [
            CertificateExpiry("node-1 (node)", NOW + timedelta(days=365)),
            CertificateExpiry("the cluster CA", NOW + timedelta(days=3650)),
            CertificateExpiry("console (console)", NOW + timedelta(days=1)),
            CertificateExpiry("node-2 (node)", NOW - timedelta(hours=1)),
        ],
        NOW,
        warn_days=30,
    )
    assert report.earliest == CertificateExpiry("node-2 (node)", NOW - timedelta(hours=1))
    assert report.summary.startswith(
        "Earliest certificate expiry: node-2 (node) on 2026-12-04 11:00 UTC"
    )
    assert len(report.warnings) == 2
    assert "node-2 (node) expired on 2026-12-04 11:00 UTC" in report.warnings[0]
    assert "console (console) expires in 1.0 days" in report.warnings[1]
    assert all("playbooks/rotate_certificates.yml" in warning for warning in report.warnings)


def test_no_certificate_no_warning() -> None:
    report = expiry_report([], NOW, 30)
    assert report.earliest is None
    assert report.warnings == ()


@given(
    days=st.lists(
        st.floats(min_value=-400, max_value=4000, allow_nan=False), min_size=1, max_size=8
    ),
    warn_days=st.integers(min_value=0, max_value=400),
)
def test_a_warning_exactly_for_each_certificate_within_the_threshold(
    days: list[float], warn_days: int
) -> None:
    certificates = [CertificateExpiry(f"c{i}", NOW + timedelta(days=d)) for i, d in enumerate(days)]
    report = expiry_report(certificates, NOW, warn_days)
    assert len(report.warnings) == sum(
        1 for d in days if timedelta(days=d) < timedelta(days=warn_days)
    )
    assert report.earliest is not None
    assert report.earliest.not_after == min(c.not_after for c in certificates)


@pytest.mark.parametrize("value", ["2027-12-04", "20271304000000Z", ""])
def test_a_malformed_time_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a certificate time"):
        parse_asn1_time(value)


def certificate_tasks(tmp_path: Path, days: int) -> list[dict[str, object]]:
    key = tmp_path / f"key-{days}.pem"
    return [
        {
            "name": "key",
            "community.crypto.openssl_privatekey": {
                "path": str(key),
                "type": "ECC",
                "curve": "secp256r1",
            },
        },
        {
            "name": "csr",
            "community.crypto.openssl_csr_pipe": {
                "privatekey_path": str(key),
                "common_name": "node-1",
            },
            "register": "csr",
        },
        {
            "name": "certificate",
            "community.crypto.x509_certificate_pipe": {
                "csr_content": "{{ csr.csr }}",
                "provider": "selfsigned",
                "privatekey_path": str(key),
                "selfsigned_not_after": f"+{days}d",
            },
            "register": "issued",
        },
        {
            "name": "report",
            "automq.platform.certificate_expiry": {
                "certificates": [
                    {
                        "name": "node-1 (node)",
                        "not_after": NOT_AFTER,
                        "cert": "/etc/automq/tls/node.d/2-certificate.pem",
                    }
                ],
                "warn_days": 30,
            },
        },
    ]


def test_a_one_day_certificate_makes_the_run_warn(tmp_path: Path) -> None:
    completed, results = run_playbook_output(tmp_path, certificate_tasks(tmp_path, 1))
    assert completed.returncode == 0, completed.describe()
    report = results["report"]
    assert report["changed"] is False
    assert report["earliest"]["name"] == "node-1 (node)"
    assert report["earliest"]["days_left"] <= 1.0
    assert len(report["warnings"]) == 1
    assert "node-1 (node) expires in" in report["warnings"][0]


def test_a_year_long_certificate_only_reports(tmp_path: Path) -> None:
    completed, results = run_playbook_output(tmp_path, certificate_tasks(tmp_path, 365))
    assert completed.returncode == 0, completed.describe()
    report = results["report"]
    assert "warnings" not in report
    assert report["expiring"] == []
    assert "in 365.0 days" in report["msg"] or "in 364.9 days" in report["msg"]


def _ca(name: str, days: int) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_every_ca_of_the_trusted_bundle_is_reported(tmp_path: Path) -> None:
    """During a CA rotation the cluster trusts two CAs: the report names both, and the
    one about to expire is warned about (filter automq.platform.certificate_bundle)."""
    bundle = _ca("prod-ca", 3650) + _ca("prod-ca-previous", 5)
    assert [entry["name"] for entry in bundle_expiries(bundle, "the cluster CA")] == [
        "the cluster CA prod-ca",
        "the cluster CA prod-ca-previous",
    ]
    assert bundle_expiries("", "the cluster CA") == []
    tasks = [
        {
            "name": "report",
            "automq.platform.certificate_expiry": {
                "certificates": "{{ bundle | automq.platform.certificate_bundle }}",
                "warn_days": 30,
            },
            "vars": {"bundle": bundle},
        }
    ]
    completed, results = run_playbook_output(tmp_path, tasks)
    assert completed.returncode == 0, completed.describe()
    report = results["report"]
    assert report["earliest"]["name"] == "the cluster CA prod-ca-previous"
    assert len(report["warnings"]) == 1
    assert "the cluster CA prod-ca-previous expires in" in report["warnings"][0]
