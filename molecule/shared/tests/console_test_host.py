"""The console host and the brokers' metrics and logs, as Ansible left them.

Scenario cluster only (molecule/cluster/molecule.yml names this file).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
import testinfra
from console_hosts import (
    CONSOLE,
    JMX_EXPORTER_PORT,
    NODE_ADDRESSES,
    NODE_SPECS,
    admin_password,
    console_host,
)

CONF = "/etc/automq-console"
VENV = "/opt/automq-console/venv"


@pytest.fixture(scope="module")
def console():
    assert CONSOLE, "the scenario's inventory has no automq_console host"
    return console_host()


@pytest.fixture(scope="module", params=sorted(NODE_SPECS))
def node(request):
    return testinfra.get_host(NODE_SPECS[request.param])


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
        for path, mode in (
            (f"{CONF}/console.json", 0o640),
            (f"{CONF}/admin.hash", 0o640),
            (f"{CONF}/session.key", 0o640),
        ):
            item = console.file(path)
            assert (item.user, item.group, item.mode) == ("root", "automq-console", mode), path
        directory = console.file(CONF)
        assert (directory.user, directory.group, directory.mode) == (
            "root",
            "automq-console",
            0o750,
        )
        assert console.file(f"{CONF}/admin.hash").content_string.startswith("scrypt$")
    # The deploy user (any other account) reads none of them.
    assert console.run(f"cat {CONF}/session.key").rc != 0


def test_configuration_comes_from_the_inventory(console):
    with console.sudo():
        config = json.loads(console.file(f"{CONF}/console.json").content_string)
    assert config["cluster_name"] == "molecule"
    assert config["cookie_secure"] is False  # plain-HTTP test bed, on purpose
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


def test_password_stays_on_the_ansible_machine(console, ansible_log):
    path = Path(os.environ["AUTOMQ_CONSOLE_PASSWORD_FILE"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = admin_password()
    assert len(password) >= 16
    assert password not in ansible_log
    found = _grep_as_root(console, password, "/etc /opt/automq-console /var/log /root /home")
    assert found.rc == 1, f"password found in: {found.stdout}"
    with console.sudo():
        journal = console.check_output("journalctl --no-pager")
    assert password not in journal


def test_no_oss_secret_on_the_console_host(console, oss_secret):
    found = _grep_as_root(console, oss_secret, "/etc /opt/automq-console /var/log")
    assert found.rc == 1, f"OSS secret found in: {found.stdout}"
    with console.sudo():
        journal = console.check_output("journalctl --no-pager")
    assert oss_secret not in journal


def test_prometheus_scrapes_every_node_from_the_inventory(console):
    assert console.service("prometheus").is_running
    assert console.socket("tcp://0.0.0.0:9090").is_listening
    scrape = console.file("/etc/prometheus/prometheus.yml").content_string
    for address in NODE_ADDRESSES.values():
        assert f'"{address}:{JMX_EXPORTER_PORT}"' in scrape
    # automq_metrics_exporter is none in this scenario: no target on AutoMQ's exporter port.
    assert ":9464" not in scrape


def test_broker_loads_the_jmx_exporter_agent(node):
    unit = node.file("/etc/systemd/system/automq.service").content_string
    assert "-javaagent:/opt/automq/jmx_prometheus_javaagent-1.0.1.jar=" in unit
    assert node.socket(f"tcp://0.0.0.0:{JMX_EXPORTER_PORT}").is_listening
    java = node.process.get(comm="java")
    assert "-javaagent:/opt/automq/jmx_prometheus_javaagent-1.0.1.jar" in java.args
    with node.sudo():
        props = node.file("/etc/automq/server.properties").content_string
    assert "s3.telemetry.metrics.exporter.uri" not in props


def test_broker_logs_rotate_by_size(node):
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
    dropin = node.file("/etc/systemd/journald.conf.d/60-automq.conf").content_string
    assert "SystemMaxUse=256M" in dropin
    assert node.service("systemd-journald").is_running
