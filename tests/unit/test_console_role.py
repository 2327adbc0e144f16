"""The automq_console role's templates and input checks, and the automq role's
metrics and log files, rendered by real Ansible on localhost (no host needed).

The byoc flavor cannot run here (AutoMQ's image is not available): these tests
are what proves its unit, its environment file and its input checks.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from automq_helpers.properties import parse_properties

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
assert ANSIBLE_PLAYBOOK.exists(), f"{ANSIBLE_PLAYBOOK} is not installed: run make venv"

INVENTORY = """
all:
  children:
    automq_controller:
      hosts:
        node-1: {{ansible_host: 10.9.0.11}}
        node-2: {{ansible_host: 10.9.0.12}}
        node-3: {{ansible_host: 10.9.0.13}}
    automq_broker:
      hosts: {{node-1: {{}}, node-2: {{}}, node-3: {{}}, node-4: {{ansible_host: 10.9.0.21}}}}
    automq_console:
      hosts: {{console: {{ansible_host: 10.9.0.5}}}}
  vars:
    ansible_connection: local
    ansible_python_interpreter: {python}
"""

# The nodes as the automq role's "describe" entry point reports them.
DESCRIBE = """
- hosts: automq_controller:automq_broker
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        __automq_node_description:
          host: "{{{{ inventory_hostname }}}}"
          node_id: "{{{{ ids[inventory_hostname] }}}}"
          cluster_name: prod
          cluster_id: Hf83ksPFHQGPemBNvQwRxw
          roles: "{{{{ ['broker'] + (['controller'] if inventory_hostname != 'node-4' else []) }}}}"
          version: 1.7.3
          advertised_host: "{{{{ ansible_host }}}}"
          broker_port: 9092
          controller_port: 9093
          max_voter_lag: 1000
          oss: {{region: cn-hangzhou, endpoint: "https://oss-cn-hangzhou-internal.aliyuncs.com",
                data_bucket: prod-data, ops_bucket: prod-ops}}
          metrics: {metrics}
      vars:
        ids: {{node-1: 0, node-2: 1, node-3: 2, node-4: 1000}}
"""

RENDER = (
    DESCRIBE
    + """
- hosts: console
  gather_facts: false
  vars_files:
    - {repo}/roles/automq_console/defaults/main.yml
    - {repo}/roles/automq_console/vars/main.yml
  tasks:
    - ansible.builtin.template:
        src: {repo}/roles/automq_console/templates/{{{{ item }}}}.j2
        dest: {out}/{{{{ item }}}}
        mode: "0600"
      loop: [console.json, automq-console.service, automq-console-byoc.service, byoc.env,
             prometheus.yml, prometheus.default]
"""
)

PREFLIGHT = (
    DESCRIBE
    + """
- hosts: console
  gather_facts: false
  vars_files:
    - {repo}/roles/automq_console/defaults/main.yml
    - {repo}/roles/automq_console/vars/main.yml
  tasks:
    - ansible.builtin.set_fact:
        ansible_facts: {{os_family: Debian}}
    - ansible.builtin.include_tasks: {repo}/roles/automq_console/tasks/preflight.yml
"""
)

JMX_METRICS = "[{exporter: jmx, port: 9404}]"


def run_playbook(
    tmp_path: Path, play: str, extra: dict[str, object]
) -> subprocess.CompletedProcess:
    (tmp_path / "inventory.yml").write_text(INVENTORY.format(python=sys.executable))
    (tmp_path / "play.yml").write_text(play)
    extra_vars = tmp_path / "vars.json"
    extra_vars.write_text(json.dumps(extra))
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml"),
         "-e", f"@{extra_vars}"],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


def render(tmp_path: Path, metrics: str = JMX_METRICS, **extra: object) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    run = run_playbook(tmp_path, RENDER.format(repo=REPO, out=out, metrics=metrics), extra)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {path.name: path.read_text() for path in out.iterdir()}


def preflight(tmp_path: Path, metrics: str = JMX_METRICS, **extra: object) -> str:
    """The preflight's output; fails the test unless the preflight refused."""
    run = run_playbook(tmp_path, PREFLIGHT.format(repo=REPO, metrics=metrics), extra)
    assert run.returncode != 0, "the preflight accepted: " + run.stdout[-2000:]
    return " ".join(run.stdout.split())


# --------------------------------------------------------------------------- builtin


def test_console_configuration_from_the_inventory(tmp_path: Path) -> None:
    config = json.loads(render(tmp_path)["console.json"])
    assert config["cluster_name"] == "prod"
    assert config["bootstrap_servers"] == [
        "10.9.0.11:9092", "10.9.0.12:9092", "10.9.0.13:9092", "10.9.0.21:9092",
    ]  # fmt: skip
    assert config["controller_quorum_bootstrap_servers"] == [
        "10.9.0.11:9093", "10.9.0.12:9093", "10.9.0.13:9093",
    ]  # fmt: skip
    assert config["expected_voters"] == [0, 1, 2]
    assert [(n["node_id"], n["host"], n["roles"]) for n in config["nodes"]] == [
        (0, "node-1", ["broker", "controller"]),
        (1, "node-2", ["broker", "controller"]),
        (2, "node-3", ["broker", "controller"]),
        (1000, "node-4", ["broker"]),
    ]
    assert {n["installed_version"] for n in config["nodes"]} == {"1.7.3"}
    assert config["oss"]["data_bucket"] == "prod-data"
    assert config["admin_password_hash_file"] == "/etc/automq-console/admin.hash"
    assert config["session_secret_file"] == "/etc/automq-console/session.key"
    assert config["cookie_secure"] is True  # production default: TLS in front
    assert (config["listen_host"], config["listen_port"]) == ("0.0.0.0", 8080)


def test_console_configuration_is_accepted_by_the_console(tmp_path: Path) -> None:
    from automq_console.config import parse_settings

    settings = parse_settings(render(tmp_path)["console.json"])
    assert settings.voter_ids == (0, 1, 2)


def test_console_unit(tmp_path: Path) -> None:
    unit = render(tmp_path)["automq-console.service"].splitlines()
    for line in (
        "User=automq-console",
        "Environment=AUTOMQ_CONSOLE_CONFIG=/etc/automq-console/console.json",
        "Environment=PYTHONPATH=/opt/automq-console/lib",
        "ExecStartPre=/opt/automq-console/venv/bin/python -m automq_console --check-config",
        "ExecStart=/opt/automq-console/venv/bin/python -m automq_console",
        "Restart=on-failure",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
    ):
        assert line in unit, line


# --------------------------------------------------------------------------- byoc


def test_byoc_unit_and_environment(tmp_path: Path) -> None:
    files = render(
        tmp_path,
        automq_console_flavor="byoc",
        automq_console_byoc_image="registry.example.com/automq/automq-byoc-console:8.3.16",
        automq_console_byoc_config={"cmp": {"provider": "aliyun"}, "secret": "s3cr3t-value"},
        automq_console_byoc_env={"CLOUD_PROVIDER": "aliyun"},
        automq_console_byoc_volumes=["/var/lib/automq-console:/data"],
    )
    unit = files["automq-console-byoc.service"]
    lines = unit.splitlines()
    image = "registry.example.com/automq/automq-byoc-console:8.3.16"
    assert (
        "ExecStart=/usr/bin/docker run --rm --name automq-byoc-console --network host "
        "--env-file /etc/automq-console/byoc.env --volume /var/lib/automq-console:/data " + image
    ) in lines
    assert f"ExecStartPre=/usr/bin/docker pull {image}" in lines
    assert "ExecStartPre=-/usr/bin/docker rm --force automq-byoc-console" in lines
    assert (
        "ExecStartPost=/usr/bin/timeout 300 /bin/bash -c "
        "'until (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; do sleep 2; done'"
    ) in lines
    assert "Requires=docker.service" in lines
    assert "Restart=on-failure" in lines
    assert "$" not in unit  # nothing for systemd to expand
    assert "s3cr3t-value" not in unit  # the configuration stays in the environment file

    env = files["byoc.env"].splitlines()
    assert 'CONFIG={"cmp":{"provider":"aliyun"},"secret":"s3cr3t-value"}' in env
    assert "CLOUD_PROVIDER=aliyun" in env


def test_byoc_without_pull_and_with_a_string_config(tmp_path: Path) -> None:
    files = render(
        tmp_path,
        automq_console_flavor="byoc",
        automq_console_byoc_image="automq/console:1",
        automq_console_byoc_config="base64:eyJhIjoxfQ==",
        automq_console_byoc_pull=False,
        automq_console_port=8443,
    )
    assert "docker pull" not in files["automq-console-byoc.service"]
    assert "/dev/tcp/127.0.0.1/8443" in files["automq-console-byoc.service"]
    assert "CONFIG=base64:eyJhIjoxfQ==" in files["byoc.env"].splitlines()


BYOC = {"automq_console_flavor": "byoc"}
IMAGE = {"automq_console_byoc_image": "automq/console:1"}
NEEDS_IMAGE = "The byoc flavor needs automq_console_byoc_image"


@pytest.mark.parametrize(
    ("extra", "message", "failed"),
    [
        (
            {"automq_console_flavor": "saas"},
            "automq_console_flavor is 'saas'",
            "automq_console_flavor in",
        ),
        (
            {**BYOC, "automq_console_byoc_config": "x"},
            NEEDS_IMAGE,
            "automq_console_byoc_image is match",
        ),
        (
            {**BYOC, **IMAGE},
            "its configuration value (empty",
            "__automq_console_byoc_config_value | length",
        ),
        (
            {**BYOC, **IMAGE, "automq_console_byoc_config": "line one\nline two"},
            "a one-line string or a mapping",
            "__automq_console_byoc_config_value is not search",
        ),
        (
            {**BYOC, "automq_console_byoc_image": "Bad Image", "automq_console_byoc_config": "x"},
            NEEDS_IMAGE,
            "automq_console_byoc_image is match",
        ),
        (
            {
                **BYOC,
                **IMAGE,
                "automq_console_byoc_config": "x",
                "automq_console_byoc_env": {"CONFIG": "other"},
            },
            "not CONFIG",
            "'CONFIG' not in automq_console_byoc_env",
        ),
        (
            {"automq_console_port": 9090},
            "must be two different ports",
            "automq_console_port | int !=",
        ),
        ({"automq_console_admin_password_length": 8}, "at least 16", "password_length | int >= 16"),
        (
            {"automq_console_admin_user": "ad min"},
            "automq_console_admin_user ('ad min')",
            "admin_user is",
        ),
    ],
)
def test_preflight_refuses_bad_inputs(
    tmp_path: Path, extra: dict, message: str, failed: str
) -> None:
    output = preflight(tmp_path, **extra)
    assert message in output
    assertion = re.search(r'"assertion": "(.*?)", "changed"', output)
    assert assertion, output[-1500:]
    assert failed in assertion.group(1)


def test_preflight_refuses_an_exporter_on_prometheus_port(tmp_path: Path) -> None:
    output = preflight(tmp_path, metrics="[{exporter: automq, port: 9090}]")
    assert "no node's metrics port (9090) may be Prometheus's own" in output


def test_preflight_refuses_nodes_not_described(tmp_path: Path) -> None:
    play = PREFLIGHT.format(repo=REPO, metrics=JMX_METRICS).replace(
        "hosts: automq_controller:automq_broker", "hosts: node-1:node-2:node-3"
    )
    run = run_playbook(tmp_path, play, {})
    assert run.returncode != 0
    assert "missing: node-4" in " ".join(run.stdout.split())


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_targets_from_the_inventory(tmp_path: Path) -> None:
    files = render(tmp_path, automq_console_prometheus_scrape_interval="5s")
    config = yaml.safe_load(files["prometheus.yml"])
    assert config["global"]["scrape_interval"] == "5s"
    jobs = {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "automq-jmx"}
    assert [
        (c["targets"], c["labels"]["node"], c["labels"]["node_id"]) for c in jobs["automq-jmx"]
    ] == [
        (["10.9.0.11:9404"], "node-1", "0"),
        (["10.9.0.12:9404"], "node-2", "1"),
        (["10.9.0.13:9404"], "node-3", "2"),
        (["10.9.0.21:9404"], "node-4", "1000"),
    ]
    assert "--web.listen-address=0.0.0.0:9090" in files["prometheus.default"]
    assert "--storage.tsdb.retention.time=15d" in files["prometheus.default"]


def test_prometheus_scrapes_both_exporters_when_nodes_run_both(tmp_path: Path) -> None:
    metrics = "[{exporter: automq, port: 9464}, {exporter: jmx, port: 9404}]"
    config = yaml.safe_load(render(tmp_path, metrics=metrics)["prometheus.yml"])
    jobs = {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}
    assert jobs["automq"][0]["targets"] == ["10.9.0.11:9464"]
    assert len(jobs["automq"]) == len(jobs["automq-jmx"]) == 4


# --------------------------------------------------------------------------- automq role

NODE = """
- hosts: node-1
  gather_facts: false
  vars_files:
    - {repo}/roles/automq/defaults/main.yml
    - {repo}/roles/automq/vars/main.yml
  tasks:
    - ansible.builtin.set_fact:
        ansible_facts: {{memtotal_mb: 15884}}
        __automq_node_id: 0
        __automq_quorum_voters: 0@10.9.0.11:9093
        __automq_quorum_bootstrap_servers: 10.9.0.11:9093
    - ansible.builtin.template:
        src: {repo}/roles/automq/templates/{{{{ item }}}}.j2
        dest: {out}/{{{{ item }}}}
        mode: "0600"
      loop: [server.properties, automq.service, log4j.properties, jmx-exporter.yml]
"""


def render_node(tmp_path: Path, **extra: object) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    base = {
        "automq_oss_region": "cn-hangzhou",
        "automq_oss_data_bucket": "prod-data",
        "automq_oss_ops_bucket": "prod-ops",
    }
    run = run_playbook(tmp_path, NODE.format(repo=REPO, out=out), {**base, **extra})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return {path.name: path.read_text() for path in out.iterdir()}


def test_jmx_exporter_agent_in_the_unit(tmp_path: Path) -> None:
    files = render_node(
        tmp_path,
        automq_jmx_exporter_enabled=True,
        automq_metrics_exporter="none",
        automq_kafka_opts="-Dexample=1",
        automq_listen_address="10.9.0.11",
    )
    agent = "/opt/automq/jmx_prometheus_javaagent-1.0.1.jar"
    assert (
        f'Environment="KAFKA_OPTS=-Dexample=1 -javaagent:{agent}'
        '=10.9.0.11:9404:/etc/automq/jmx-exporter.yml"'
    ) in files["automq.service"].splitlines()
    assert "s3.telemetry.metrics.exporter.uri" not in parse_properties(files["server.properties"])
    rules = yaml.safe_load(files["jmx-exporter.yml"])
    assert rules["lowercaseOutputName"] is True
    assert any(rule["name"] == "kafka_$1_$2_$3" for rule in rules["rules"])


def test_default_unit_has_no_agent_and_rotates_logs(tmp_path: Path) -> None:
    files = render_node(tmp_path, automq_log_max_file_size="200MB", automq_log_max_backup_index=5)
    unit = files["automq.service"].splitlines()
    assert not any("KAFKA_OPTS" in line for line in unit)
    assert (
        'Environment="KAFKA_LOG4J_OPTS=-Dlog4j.configuration=file:/etc/automq/log4j.properties"'
        in unit
    )
    props = parse_properties(files["server.properties"])
    assert props["s3.telemetry.metrics.exporter.uri"] == "prometheus://?host=0.0.0.0&port=9464"
    log4j = parse_properties(files["log4j.properties"])
    appenders = {
        k.split(".")[2] for k in log4j if k.startswith("log4j.appender.") and k.count(".") == 2
    }
    assert {
        "kafkaAppender",
        "controllerAppender",
        "s3ObjectAppender",
        "requestAppender",
    } <= appenders
    for name in appenders - {"stdout"}:
        assert log4j[f"log4j.appender.{name}"] == "org.apache.log4j.RollingFileAppender"
        assert log4j[f"log4j.appender.{name}.MaxBackupIndex"] == "5"
    assert log4j["log4j.appender.kafkaAppender.MaxFileSize"] == "200MB"
    assert log4j["log4j.appender.requestAppender.MaxFileSize"] == "10MB"
    assert log4j["log4j.appender.kafkaAppender.File"] == "${kafka.logs.dir}/server.log"
