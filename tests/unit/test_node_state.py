"""automq_helpers.node_state and the module node_state: a node read in one call."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from test_ansible_plugins import run_playbook_output

from automq_helpers.node_state import (
    NodeStateError,
    listener_ports_of,
    memtotal_mb,
    read_node_state,
    security_mode_of,
)
from automq_helpers.private_key import public_key_sha256

META = "version=1\ncluster.id=AbCdEfGhIjKlMnOpQrStUv\nnode.id=2\n"
KEY_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    .decode()
)
SERVER = (
    "node.id=2\n"
    "listener.security.protocol.map=BROKER:SASL_SSL,CONTROLLER:SSL\n"
    "s3.secret.override=do-not-return-this\n"
)


def answering(rc: int, output: str) -> tuple[Callable[[str], tuple[int, str]], list[str]]:
    calls: list[str] = []

    def is_active(unit: str) -> tuple[int, str]:
        calls.append(unit)
        return rc, output

    return is_active, calls


def node_paths(root: Path) -> tuple[Path, Path, Path]:
    metadata = root / "kraft-metadata"
    return (
        metadata / "meta.properties",
        root / "server.properties",
        (metadata / "__cluster_metadata-0" / "quorum-state"),
    )


def test_a_new_host_is_unformatted_unconfigured_and_stopped(tmp_path: Path) -> None:
    meta, server, quorum = node_paths(tmp_path)
    is_active, calls = answering(4, "inactive\n")
    state = read_node_state(str(meta), str(server), str(quorum), "automq", is_active)
    assert state.as_result() == {
        "formatted": False,
        "meta": None,
        "listener_security_protocol_map": None,
        "quorum_has_run": False,
        "service_state": "inactive",
        "running": False,
        "finalized_features": None,
        "state_copy": None,
        "security_mode": None,
        "restart_pending": False,
        "listener_ports": {},
        "release_start_script": None,
        "release_log4j": None,
        "certificate": None,
        "described": {},
    }
    assert calls == ["automq.service"]


def test_the_release_and_the_certificate_are_read_only_when_asked(tmp_path: Path) -> None:
    """What the deploy reads seconds after the preflight, read by the preflight's one call:
    the release's start script and log4j.properties, the certificate (never the key store)."""
    meta, server, quorum = node_paths(tmp_path)
    home = tmp_path / "automq-1.7.3_kafka-3.9.1"
    script, log4j = home / "bin" / "kafka-server-start.sh", home / "config" / "log4j.properties"
    certificate = tmp_path / "tls" / "node.d" / "2-certificate.pem"
    is_active, _calls = answering(3, "inactive\n")

    def read() -> dict[str, object]:
        return read_node_state(
            str(meta), str(server), str(quorum), "automq", is_active,
            release_start_script=str(script), release_log4j=str(log4j),
            certificate=str(certificate),
        ).as_result()  # fmt: skip

    # A new host: the paths, nothing at them.
    first = read()
    assert first["release_start_script"] == {
        "path": str(script), "exists": False, "executable": False}  # fmt: skip
    assert first["release_log4j"] == {"path": str(log4j), "content": None}
    assert first["certificate"] == {"path": str(certificate), "content": None}

    # Unpacked and certified: a start script that is not executable is reported as such.
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    log4j.parent.mkdir(parents=True)
    log4j.write_text("log4j.rootLogger=INFO, stdout\n")
    certificate.parent.mkdir(parents=True)
    certificate.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert read()["release_start_script"] == {
        "path": str(script), "exists": True, "executable": False}  # fmt: skip
    script.chmod(0o755)
    second = read()
    assert second["release_start_script"]["executable"] is True
    assert second["release_log4j"] == {
        "path": str(log4j), "content": "log4j.rootLogger=INFO, stdout\n"}  # fmt: skip
    assert str(second["certificate"]["content"]).startswith("-----BEGIN CERTIFICATE-----")

    # A file that cannot be read names itself, as the others do.
    certificate.unlink()
    certificate.mkdir()
    with pytest.raises(NodeStateError, match=re.escape(str(certificate))):
        read()


@pytest.mark.parametrize(
    ("answer", "running"),
    [("active", True), ("activating", True), ("deactivating", True), ("failed", False)],
)
def test_a_formatted_controller_that_ran(tmp_path: Path, answer: str, running: bool) -> None:
    meta, server, quorum = node_paths(tmp_path)
    quorum.parent.mkdir(parents=True)
    meta.write_text(META)
    server.write_text(SERVER)
    quorum.write_text("{}")
    is_active, _ = answering(0 if answer == "active" else 3, answer + "\n")
    state = read_node_state(str(meta), str(server), str(quorum), "automq", is_active)
    assert state.meta == {"version": "1", "cluster.id": "AbCdEfGhIjKlMnOpQrStUv", "node.id": "2"}
    assert state.protocol_map == "BROKER:SASL_SSL,CONTROLLER:SSL"
    assert state.quorum_has_run is True
    assert state.running is running
    # Only the protocol map leaves the host, never the rest of server.properties.
    assert "do-not-return-this" not in repr(state.as_result())


def test_a_broker_only_node_never_reports_a_quorum_state(tmp_path: Path) -> None:
    meta, server, quorum = node_paths(tmp_path)
    quorum.parent.mkdir(parents=True)
    quorum.write_text("{}")
    is_active, _ = answering(0, "active")
    assert not read_node_state(str(meta), str(server), None, "automq", is_active).quorum_has_run


def test_an_unreadable_file_or_a_broken_systemctl_is_an_error(tmp_path: Path) -> None:
    meta, server, quorum = node_paths(tmp_path)
    meta.mkdir(parents=True)  # a directory where the file should be
    is_active, _ = answering(3, "inactive")
    with pytest.raises(NodeStateError, match=r"Cannot read .*meta\.properties"):
        read_node_state(str(meta), str(server), str(quorum), "automq", is_active)
    meta.rmdir()
    is_active, _ = answering(1, "Failed to connect to bus")
    with pytest.raises(NodeStateError, match="exited 1: Failed to connect to bus"):
        read_node_state(str(meta), str(server), str(quorum), "automq", is_active)


@pytest.mark.parametrize(
    ("option", "name", "content"),
    [
        # Left by a finalize that raised the feature levels; none before.
        (
            "finalized_features",
            "finalized-features.json",
            {"finalized_by": "1.7.3", "levels": {"metadata.version": "3.9-IV0"}},
        ),
        # The node's copy of the cluster's state document; none before the first configure.
        (
            "state_copy",
            "cluster-state.json",
            {"cluster_id": "MkU3OEVBNTcwNTJENDM2Qg", "assignments": {"c1": 0}},
        ),
    ],
)
def test_a_json_record_is_read_when_asked_and_must_be_a_json_object(
    tmp_path: Path, option: str, name: str, content: dict[str, object]
) -> None:
    meta, server, quorum = node_paths(tmp_path)
    record = tmp_path / name
    is_active, _ = answering(0, "active")

    def read() -> object:
        state = read_node_state(
            str(meta), str(server), str(quorum), "automq", is_active, **{option: str(record)}
        )
        return getattr(state, option)

    assert read() is None
    record.write_text(json.dumps(content))
    assert read() == content
    record.write_text("{truncated")
    with pytest.raises(NodeStateError, match=rf"{re.escape(name)} is not JSON .*restore or remove"):
        read()
    record.write_text('["1.7.3"]')
    with pytest.raises(NodeStateError, match="holds no JSON object"):
        read()


def test_the_module_reads_the_node_in_check_mode_too(tmp_path: Path) -> None:
    meta, server, quorum = node_paths(tmp_path)
    meta.parent.mkdir(parents=True)
    meta.write_text(META)
    server.write_text(SERVER)
    (tmp_path / "tls").mkdir(mode=0o750)
    key = tmp_path / "tls" / "1-private-key.pem"
    key.write_text(KEY_PEM)
    # A systemctl of our own on the module's PATH: this machine may have no systemd.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "systemctl").write_text('#!/bin/sh\necho "$@" > "$0.args"\necho activating\nexit 3\n')
    (fake / "systemctl").chmod(0o755)
    task = {
        "name": "read",
        "automq.platform.node_state": {
            "meta_properties": str(meta),
            "server_properties": str(server),
            "quorum_state": str(quorum),
            "service": "automq",
            "release_start_script": str(tmp_path / "release" / "bin" / "kafka-server-start.sh"),
            "release_log4j": str(tmp_path / "release" / "config" / "log4j.properties"),
            "describe": [
                {"path": str(key), "private_key": True},
                {"path": str(tmp_path / "tls"), "parts": []},
                {"path": str(tmp_path / "tls" / "absent.pem")},
            ],
        },
        "environment": {"PATH": f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"},
    }
    completed, results = run_playbook_output(tmp_path, [task], "--check", "-vvv")
    assert completed.returncode == 0, completed.describe()
    read = results["read"]
    assert read["changed"] is False
    assert read["formatted"] is True
    assert read["meta"]["node.id"] == "2"
    assert read["listener_security_protocol_map"] == "BROKER:SASL_SSL,CONTROLLER:SSL"
    assert (read["quorum_has_run"], read["service_state"], read["running"]) == (
        False,
        "activating",
        True,
    )
    assert (fake / "systemctl.args").read_text().split() == ["is-active", "automq.service"]
    assert read["release_start_script"]["exists"] is False
    assert read["release_log4j"]["content"] is None
    assert read["certificate"] is None
    assert "do-not-return-this" not in completed.transcript
    described = read["described"]
    assert described[str(key)]["public_key_sha256"] == public_key_sha256(KEY_PEM)
    assert described[str(tmp_path / "tls")]["kind"] == "directory"
    assert described[str(tmp_path / "tls" / "absent.pem")] == {"kind": "absent"}
    assert KEY_PEM.splitlines()[1] not in completed.transcript


@pytest.mark.parametrize(
    ("properties", "mode"),
    [
        ({}, None),
        (
            {"listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"},
            "plaintext",
        ),
        (
            {"listener.security.protocol.map": "CONTROLLER:SSL,INTERNAL:SSL,CLIENT:SASL_SSL"},
            "secure",
        ),
        (
            {
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                "CONTROLLER_TLS:SSL,INTERNAL:SSL,CLIENT:SASL_SSL",
                "controller.listener.names": "CONTROLLER,CONTROLLER_TLS",
            },
            "migrating-listeners",
        ),
        (
            {
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                "CONTROLLER_TLS:SSL,INTERNAL:SSL,CLIENT:SASL_SSL",
                "controller.listener.names": "CONTROLLER_TLS,CONTROLLER",
            },
            "migrating-internal",
        ),
    ],
)
def test_the_listeners_tell_the_security_mode(properties: dict[str, str], mode: str | None) -> None:
    assert security_mode_of(properties) == mode


def test_a_recorded_restart_is_reported(tmp_path: Path) -> None:
    meta, server, _quorum = node_paths(tmp_path)
    server.write_text(SERVER)
    record = tmp_path / "restart-pending"
    is_active, _ = answering(0, "active\n")

    def read() -> bool:
        state = read_node_state(
            str(meta), str(server), None, "automq", is_active, restart_record=str(record)
        )
        return state.restart_pending

    assert read() is False
    record.write_text("a change\n")
    assert read() is True


def test_the_listeners_ports_by_name() -> None:
    listeners = "PLAINTEXT://:9192,CONTROLLER://10.0.0.1:9193,client://[::1]:9092,BROKEN://host"

    assert listener_ports_of({"listeners": listeners}) == {
        "PLAINTEXT": 9192,
        "CONTROLLER": 9193,
        "CLIENT": 9092,
    }
    assert listener_ports_of({}) == {}


def test_the_facts_are_those_setup_gathers(tmp_path: Path) -> None:
    """With gather_facts, the facts the roles use under setup's names and with setup's
    values for this machine (the distribution subset, memtotal_mb of the hardware one);
    without it, none."""
    meta, server, _ = node_paths(tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "systemctl").write_text("#!/bin/sh\necho inactive\nexit 3\n")
    (fake / "systemctl").chmod(0o755)
    read = {"meta_properties": str(meta), "server_properties": str(server), "service": "automq"}
    environment = {"PATH": f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"}
    tasks = [
        {
            "name": "setup",
            "ansible.builtin.setup": {
                "gather_subset": ["!all", "!min", "distribution", "hardware"],
                "filter": ["ansible_distribution*", "ansible_os_family", "ansible_memtotal_mb"],
            },
        },
        {
            "name": "read",
            "automq.platform.node_state": {**read, "gather_facts": True},
            "environment": environment,
        },
        {
            "name": "read without facts",
            "automq.platform.node_state": read,
            "environment": environment,
        },
    ]
    completed, results = run_playbook_output(tmp_path, tasks)
    assert completed.returncode == 0, completed.describe()
    expected = results["setup"]["ansible_facts"]
    assert {"ansible_os_family", "ansible_distribution", "ansible_memtotal_mb"} <= set(expected)
    assert results["read"]["ansible_facts"] == expected
    assert "ansible_facts" not in results["read without facts"]


def test_memtotal_is_read_in_mib() -> None:
    meminfo = "MemTotal:       24683420 kB\nMemFree:         1000 kB\n"
    assert memtotal_mb(meminfo) == 24683420 // 1024
    assert memtotal_mb("MemFree:         1000 kB\n") is None
    assert memtotal_mb("MemTotal: unknown\n") is None
