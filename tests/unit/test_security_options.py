"""The ``security`` options of the node_health and decommission_status modules, run
through real ansible-playbook: validated, passed to the probe, and the password never
shown (``no_log``).  The secured broker itself is in tests/integration."""

from __future__ import annotations

import contextlib
import datetime
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_decommission_plugins import (
    API_VERSIONS,
    NO_REASSIGNMENT,
    FakeBroker,
    _describe_cluster,
    run_playbook,
    status_task,
)
from test_reassignment import METADATA_V12_CAP_IN_PROGRESS

SECRET = "s3cret-never-shown-4b1d"


@contextlib.contextmanager
def dropping_peer() -> Iterator[int]:
    """A port that reads what arrives and hangs up, as Kafka's PLAINTEXT listener does
    with a TLS ClientHello (whose first bytes read as an oversized request)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.settimeout(5)
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def write_ca(tmp_path: Path) -> str:
    """Any PEM certificate will do as a CA file: nothing gets far enough to use it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return str(path)


def health_task(**options: Any) -> dict[str, Any]:
    return {
        "name": "health",
        "automq.platform.node_health": {
            "node_id": 0,
            "expected_voters": [0],
            "timeout": 2,
            **options,
        },
    }


def test_decommission_status_with_explicit_plaintext(tmp_path: Path) -> None:
    frames = {
        18: API_VERSIONS,
        60: _describe_cluster([0, 1, 2, 1001]),
        3: METADATA_V12_CAP_IN_PROGRESS,
        46: NO_REASSIGNMENT,
    }
    with FakeBroker(frames) as broker:
        task = status_task(broker.port, [2], security={"protocol": "PLAINTEXT"})
        rc, results = run_playbook(tmp_path, [task])
    assert rc == 0, results
    assert results["plan"]["error"] is None
    assert results["plan"]["on_leaving"] == ["cap-0", "cap-1"]


def test_decommission_status_reaches_the_broker_with_tls(tmp_path: Path) -> None:
    security = {"protocol": "SASL_SSL", "ca_file": write_ca(tmp_path)}
    security |= {"username": "admin", "password": SECRET}
    with dropping_peer() as port:
        rc, results = run_playbook(tmp_path, [status_task(port, [2], security=security)])
    assert rc == 0, results
    assert results["plan"]["error"] == (
        f"127.0.0.1:{port}: TLS: the peer closed the connection during the TLS handshake: "
        "a PLAINTEXT or SASL_PLAINTEXT listener (Kafka drops a TLS ClientHello as an "
        "oversized request)?"
    )
    assert SECRET not in str(results)
    args = results["plan"]["invocation"]["module_args"]["security"]
    assert args["password"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert args["sasl_mechanism"] == "SCRAM-SHA-512"  # the defaults of the suboptions


def test_node_health_uses_each_listeners_security(tmp_path: Path) -> None:
    frames = {18: API_VERSIONS, 60: _describe_cluster([0])}
    ca_file = write_ca(tmp_path)
    with FakeBroker(frames) as broker, dropping_peer() as controller_port:
        task = health_task(
            broker_port=broker.port,
            controller_port=controller_port,
            quorum_bootstrap_servers=f"127.0.0.1:{controller_port}",
            check_offline_partitions=False,
            security={"protocol": "PLAINTEXT"},
            controller_security={"protocol": "SSL", "ca_file": ca_file},
        )
        rc, results = run_playbook(tmp_path, [task])
    assert rc == 0, results
    problems = results["health"]["problems"]
    # The broker listener answered in PLAINTEXT; the controller listener was tried with TLS.
    assert problems[0] == (
        f"controller listener does not answer: 127.0.0.1:{controller_port}: TLS: the peer "
        "closed the connection during the TLS handshake: a PLAINTEXT or SASL_PLAINTEXT "
        "listener (Kafka drops a TLS ClientHello as an oversized request)?"
    )
    # ... while the PLAINTEXT broker listener answered ApiVersions (the fake lists no
    # DescribeQuorum, which is what the probe then complains about).
    assert problems[1] == (
        f"broker listener does not serve requests: 127.0.0.1:{broker.port}: does not serve "
        "DescribeQuorum (key 55) on this listener; this probe needs v1"
    )


def test_invalid_security_fails_the_task_without_the_password(tmp_path: Path) -> None:
    tasks = [
        {
            **health_task(
                broker_port=9,
                quorum_bootstrap_servers="127.0.0.1:9",
                controller_security={"protocol": "SSL", "password": SECRET},
            ),
            "ignore_errors": True,
        },
        {
            **status_task(
                9,
                [1],
                security={"protocol": "SSL", "ca_file": str(tmp_path / "none.pem")},
            ),
            "ignore_errors": True,
        },
    ]
    _, results = run_playbook(tmp_path, tasks)
    assert results["health"]["failed"] is True
    assert results["health"]["msg"] == (
        "controller_security: password set, but protocol SSL does not use SASL "
        "(SASL_PLAINTEXT or SASL_SSL)"
    )
    assert results["plan"]["failed"] is True
    assert results["plan"]["msg"] == (
        f"security: cannot use the CA file {tmp_path / 'none.pem'}: No such file or directory"
    )
    assert SECRET not in str(results)
