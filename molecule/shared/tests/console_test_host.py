"""The console host and the brokers' metrics and logs, as Ansible left them.

Scenario cluster only (molecule/cluster/molecule.yml names this file).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
import ssl
import stat
from pathlib import Path

import pytest
import testinfra
from console_hosts import (
    CONSOLE,
    CONSOLE_ADDRESS,
    CONSOLE_PORT,
    JMX_EXPORTER_PORT,
    NODE_ADDRESSES,
    NODE_SPECS,
    PROMETHEUS,
    console_host,
    tls_to_the_console,
)
from cryptography import x509
from cryptography.x509.oid import NameOID

CONF = "/etc/automq-console"
VENV = "/opt/automq-console/venv"
TLS = f"{CONF}/tls"
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])


@pytest.fixture(scope="module")
def console():
    assert CONSOLE, "the scenario's inventory has no automq_console host"
    return console_host()


@pytest.fixture(scope="module", params=sorted(NODE_SPECS))
def node(request):
    """(the node's address, its testinfra host)."""
    return NODE_ADDRESSES[request.param], testinfra.get_host(NODE_SPECS[request.param])


def _grep_as_root(host, needle: str, paths: str):
    """grep -r as root for ``needle``, without writing it on the host.

    sudo logs its command line (and preserved environment) to the journal, so
    the pattern is ``needle`` with every character in brackets: it matches the
    needle but does not contain it, and the search cannot plant what it looks for.
    """
    assert re.fullmatch(r"[A-Za-z0-9._-]+", needle), "the needle must be a plain token"
    pattern = "".join(f"[{char}]" for char in needle)
    with host.sudo():
        return host.run("grep -rl -e %s -- " + paths, pattern)


def test_console_runs_as_its_own_user(console):
    service = console.service("automq-console")
    assert service.is_running
    assert service.is_enabled
    unit = console.file("/etc/systemd/system/automq-console.service").content_string
    for line in (
        "User=automq-console",
        "Restart=on-failure",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        f"ExecStart={VENV}/bin/python -m automq_console",
    ):
        assert line in unit
    with console.sudo():
        pid = console.check_output("systemctl show -p MainPID --value automq-console")
        owner = console.check_output(f"stat -c %U /proc/{pid}")
    assert owner == "automq-console"


def test_configuration_files_and_modes(console):
    with console.sudo():
        for path, group, mode in (
            (f"{CONF}/console.json", "automq-console", 0o640),
            (f"{CONF}/admin.hash", "automq-console", 0o640),
            (f"{CONF}/session.key", "automq-console", 0o640),
            (f"{CONF}/kafka.password", "automq-console", 0o640),
            (f"{CONF}/kafka-ca.crt", "automq-console", 0o644),
            (f"{CONF}/prometheus.password", "automq-console", 0o640),
            (f"{CONF}/prometheus.crt", "automq-console", 0o644),
            (f"{TLS}/console.d/1-private-key.pem", "automq-console", 0o640),
            (f"{TLS}/console.d/2-certificate.pem", "automq-console", 0o644),
            ("/etc/prometheus/web.yml", "prometheus", 0o640),
            ("/etc/prometheus/tls/prometheus.d/1-private-key.pem", "prometheus", 0o640),
        ):
            item = console.file(path)
            assert (item.user, item.group, item.mode) == ("root", group, mode), path
        directory = console.file(CONF)
        assert (directory.user, directory.group, directory.mode) == (
            "root",
            "automq-console",
            0o750,
        )
        assert console.file(f"{CONF}/admin.hash").content_string.startswith("scrypt$")
    # The deploy user (any other account) reads none of them.
    for secret in (
        "session.key",
        "kafka.password",
        "prometheus.password",
        "tls/console.d/1-private-key.pem",
    ):
        assert console.run(f"cat {CONF}/{secret}").rc != 0, secret
    assert console.run("cat /etc/prometheus/web.yml").rc != 0


def test_configuration_comes_from_the_inventory(console):
    with console.sudo():
        config = json.loads(console.file(f"{CONF}/console.json").content_string)
    assert config["cluster_name"] == "molecule"
    assert config["cookie_secure"] is True
    # HTTPS on the host's private address, the certificate from the cluster CA.
    assert (config["listen_host"], config["listen_port"]) == (CONSOLE_ADDRESS, CONSOLE_PORT)
    assert config["tls_cert_file"] == f"{TLS}/console.d/2-certificate.pem"
    assert config["tls_key_file"] == f"{TLS}/console.d/1-private-key.pem"
    assert config["prometheus_port"] == 9090
    # The charts: Prometheus on this host as the console's own user, its certificate pinned.
    assert config["prometheus"] == {
        "url": f"https://{CONSOLE_ADDRESS}:9090",
        "username": "automq-console",
        "password_file": f"{CONF}/prometheus.password",
        "cert_file": f"{CONF}/prometheus.crt",
        "scrape_interval": "10s",
    }
    with console.sudo():
        served = console.file("/etc/prometheus/tls/prometheus.d/2-certificate.pem").content_string
        pinned = console.file(f"{CONF}/prometheus.crt").content_string
    assert pinned == served
    # The cluster as the read-only monitor user, on the brokers' CLIENT listener only.
    assert config["kafka_security"] == {
        "protocol": "SASL_SSL",
        "mechanism": "SCRAM-SHA-512",
        "ca_file": f"{CONF}/kafka-ca.crt",
        "username": "automq-console",
        "password_file": f"{CONF}/kafka.password",
    }
    assert config["controller_quorum_bootstrap_servers"] == []
    assert sorted(config["bootstrap_servers"]) == sorted(
        f"{address}:9092" for address in NODE_ADDRESSES.values()
    )
    assert sorted(node["node_id"] for node in config["nodes"]) == sorted(config["expected_voters"])
    assert {node["installed_version"] for node in config["nodes"]} == {"1.7.3-fixture"}
    assert config["oss"] == {
        "region": "cn-hangzhou",
        "endpoint": "https://oss-cn-hangzhou-internal.aliyuncs.com",
        "data_bucket": "automq-molecule-data",
        "ops_bucket": "automq-molecule-ops",
    }


def test_dependencies_live_in_the_virtualenv_only(console):
    assert console.run("python3 -c 'import fastapi'").rc != 0  # the system Python is untouched
    frozen = console.check_output(f"{VENV}/bin/python -m pip freeze --disable-pip-version-check")
    required = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / (
        "python_helpers/automq_console/requirements.txt"
    )
    pins = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in required.read_text().splitlines()
        if line and not line.startswith("#")
    }
    installed = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in frozen.splitlines()
        if "==" in line
    }
    assert installed == pins


@pytest.mark.parametrize(
    "password_file",
    [os.environ["AUTOMQ_CONSOLE_PASSWORD_FILE"], os.environ["AUTOMQ_PROMETHEUS_PASSWORD_FILE"]],
    ids=["console admin", "prometheus"],
)
def test_password_stays_on_the_ansible_machine(console, ansible_log, password_file):
    path = Path(password_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 16
    assert password not in ansible_log
    found = _grep_as_root(console, password, "/etc /opt/automq-console /var/log /root /home")
    assert found.rc == 1, f"password found in: {found.stdout}"
    with console.sudo():
        journal = console.check_output("journalctl --no-pager")
    assert password not in journal


@pytest.mark.parametrize(
    ("on_this_machine", "on_the_host"),
    [
        ("monitor.password", "kafka.password"),
        ("prometheus-console.password", "prometheus.password"),
    ],
    ids=["Kafka monitor user", "console's Prometheus user"],
)
def test_console_credentials_are_only_in_their_file(
    console, ansible_log, on_this_machine, on_the_host
):
    password = (EPHEMERAL / on_this_machine).read_text().strip()
    assert len(password) >= 16
    assert password not in ansible_log
    found = _grep_as_root(console, password, "/etc /opt/automq-console /var/log /root /home")
    assert found.stdout.split() == [f"{CONF}/{on_the_host}"]
    with console.sudo():
        journal = console.check_output("journalctl --no-pager")
        config = console.file(f"{CONF}/console.json").content_string
    assert password not in journal
    assert password not in config


def test_console_serves_https_with_a_certificate_from_the_cluster_ca(console):
    with (
        socket.create_connection((CONSOLE_ADDRESS, CONSOLE_PORT), timeout=10) as raw,
        tls_to_the_console().wrap_socket(raw, server_hostname=CONSOLE_ADDRESS) as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        certificate = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "automq-console.molecule"
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address(CONSOLE_ADDRESS) in names.get_values_for_type(x509.IPAddress)
    assert CONSOLE in names.get_values_for_type(x509.DNSName)

    old = tls_to_the_console()
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with (
        socket.create_connection((CONSOLE_ADDRESS, CONSOLE_PORT), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        old.wrap_socket(raw, server_hostname=CONSOLE_ADDRESS)
    # Plain HTTP gets no HTTP answer.
    with socket.create_connection((CONSOLE_ADDRESS, CONSOLE_PORT), timeout=10) as plain:
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: console\r\n\r\n")
        assert not plain.recv(4096).startswith(b"HTTP/")


def test_no_oss_secret_on_the_console_host(console, oss_secret):
    found = _grep_as_root(console, oss_secret, "/etc /opt/automq-console /var/log")
    assert found.rc == 1, f"OSS secret found in: {found.stdout}"
    with console.sudo():
        journal = console.check_output("journalctl --no-pager")
    assert oss_secret not in journal


def test_prometheus_scrapes_every_node_from_the_inventory(console):
    assert console.service("prometheus").is_running
    # The private address only, HTTPS and basic authentication from its web configuration.
    assert console.socket(f"tcp://{CONSOLE_ADDRESS}:9090").is_listening
    assert not console.socket("tcp://0.0.0.0:9090").is_listening
    assert (
        "--web.config.file=/etc/prometheus/web.yml"
        in console.file("/etc/default/prometheus").content_string
    )
    with console.sudo():
        web = console.file("/etc/prometheus/web.yml").content_string
    assert re.search(r"^  prometheus: \$2b\$10\$[./A-Za-z0-9]{53}$", web, re.MULTILINE), web
    assert PROMETHEUS.password not in web
    assert "min_version: TLS12" in web
    scrape = console.file("/etc/prometheus/prometheus.yml").content_string
    for address in NODE_ADDRESSES.values():
        assert f'"{address}:{JMX_EXPORTER_PORT}"' in scrape
    # automq_metrics_exporter is none in this scenario: no target on AutoMQ's exporter port.
    assert ":9464" not in scrape


def test_broker_loads_the_jmx_exporter_agent(node):
    address, node = node
    unit = node.file("/etc/systemd/system/automq.service").content_string
    agent = "-javaagent:/opt/automq/jmx_prometheus_javaagent-1.0.1.jar="
    assert f"{agent}{address}:{JMX_EXPORTER_PORT}:" in unit
    # The node's private address (automq_private_address), not every interface.
    assert node.socket(f"tcp://{address}:{JMX_EXPORTER_PORT}").is_listening
    assert not node.socket(f"tcp://0.0.0.0:{JMX_EXPORTER_PORT}").is_listening
    java = node.process.get(comm="java")
    assert "-javaagent:/opt/automq/jmx_prometheus_javaagent-1.0.1.jar" in java.args
    with node.sudo():
        props = node.file("/etc/automq/server.properties").content_string
    assert "s3.telemetry.metrics.exporter.uri" not in props


def test_broker_logs_rotate_by_size(node):
    _, node = node
    unit = node.file("/etc/systemd/system/automq.service").content_string
    assert "KAFKA_LOG4J_OPTS=-Dlog4j.configuration=file:/etc/automq/log4j.properties" in unit
    java = node.process.get(comm="java")
    assert "-Dlog4j.configuration=file:/etc/automq/log4j.properties" in java.args
    with node.sudo():
        log4j = node.file("/etc/automq/log4j.properties")
        assert (log4j.user, log4j.group, log4j.mode) == ("root", "automq", 0o640)
        text = log4j.content_string
        assert node.file("/var/log/automq/server.log").exists
    assert "log4j.appender.kafkaAppender=org.apache.log4j.RollingFileAppender" in text
    assert "log4j.appender.kafkaAppender.MaxFileSize=50MB" in text
    assert "log4j.appender.kafkaAppender.MaxBackupIndex=10" in text
    assert "DailyRollingFileAppender" not in text


def test_journal_size_is_capped(node):
    _, node = node
    dropin = node.file("/etc/systemd/journald.conf.d/60-automq.conf").content_string
    assert "SystemMaxUse=256M" in dropin
    assert node.service("systemd-journald").is_running
