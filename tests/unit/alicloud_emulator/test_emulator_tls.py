"""The data plane's TLS: its own CA in the state directory, certificates for OSS's hosts."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.tls import (
    CA_FILE,
    CA_KEY_FILE,
    SERVER_KEY_FILE,
    ensure_tls_files,
)

REPO = Path(__file__).resolve().parents[3]


def handshake(emulator: Emulator, server_name: str, cafile: str | None) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=cafile)
    raw = socket.create_connection(("127.0.0.1", emulator.s3_port), timeout=10)
    return context.wrap_socket(raw, server_hostname=server_name)


def test_files_modes_and_names(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path, ["cn-hangzhou", "cn-beijing"])
    for name, mode in ((CA_KEY_FILE, 0o600), (SERVER_KEY_FILE, 0o600), (CA_FILE, 0o644)):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name
    cert = x509.load_pem_x509_certificate(files.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted(
        [
            f"{prefix}oss-{region}{suffix}.aliyuncs.com"
            for region in ("cn-hangzhou", "cn-beijing")
            for suffix in ("", "-internal")
            for prefix in ("", "*.")
        ]
    )
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_ca_is_kept_and_the_server_certificate_renewed(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path, ["cn-hangzhou"])
    ca_before = first.ca_file.read_bytes()
    cert_before = first.cert_file.read_bytes()
    second = ensure_tls_files(tmp_path, ["cn-hangzhou", "cn-shanghai"])
    assert second.ca_file.read_bytes() == ca_before
    assert second.cert_file.read_bytes() != cert_before
    (tmp_path / CA_KEY_FILE).write_bytes(b"garbage")  # an unusable CA is replaced
    third = ensure_tls_files(tmp_path, ["cn-hangzhou"])
    assert third.ca_file.read_bytes() != ca_before
    assert stat.S_IMODE(os.stat(tmp_path / CA_KEY_FILE).st_mode) == 0o600


def test_clients_trusting_the_ca_reach_bucket_hosts(tmp_path: Path) -> None:
    with Emulator(containers=False, state_dir=str(tmp_path)) as emulator:
        assert emulator.oss_data_ca_file == str(tmp_path / CA_FILE)
        for name in (
            emulator.oss_data_host("automq-data"),
            emulator.oss_data_host("automq-data", internal=False),
            "oss-cn-hangzhou-internal.aliyuncs.com",
        ):
            with handshake(emulator, name, emulator.oss_data_ca_file) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
                assert tls.selected_alpn_protocol() in (None, "http/1.1")
        with pytest.raises(ssl.SSLCertVerificationError):  # not one of its regions
            handshake(
                emulator, "automq-data.oss-cn-beijing.aliyuncs.com", emulator.oss_data_ca_file
            )
        with pytest.raises(ssl.SSLCertVerificationError):  # the system CAs do not know it
            handshake(emulator, emulator.oss_data_host("automq-data"), None)
        # The server survives clients that fail the handshake.
        with handshake(emulator, emulator.oss_data_host("x1"), emulator.oss_data_ca_file):
            pass
    assert (tmp_path / CA_FILE).exists()  # a configured state directory stays


def test_a_temporary_state_directory_is_removed() -> None:
    with Emulator(containers=False) as emulator:
        directory = Path(emulator.oss_data_ca_file).parent
        assert directory.is_dir()
    assert not directory.exists()


def test_command_line_refuses_a_malformed_source_vpc() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.alicloud_emulator", "--source-vpc", "vpc-without-cidr"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--source-vpc takes CIDR=VPC_ID" in result.stderr
