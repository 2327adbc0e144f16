"""The automq_console role's templates, input checks and password handling, and the
automq role's metrics and log files, rendered by real Ansible on localhost (no host
needed) with the template lookup, the engine of the roles' template tasks, printed rather
than written (see playbook_runner.rendered_templates_expression). The nodes are described
by the automq role's real "describe" entry point (which, for a secure cluster, creates the
cluster CA in a temporary directory).

The byoc flavor cannot run here (AutoMQ's image is not available): these tests
are what proves its unit, its environment file and its input checks.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

import bcrypt
import pytest
import yaml
from playbook_runner import PlaybookRun, private_dir_in, rendered_templates_expression, run_playbook

from automq_helpers.properties import parse_properties

REPO = Path(__file__).resolve().parents[2]

INVENTORY = """
all:
  children:
    automq_controller:
      hosts:
        node-1: {{ansible_host: 10.9.0.11, automq_advertised_host: node-1.prod.internal}}
        node-2: {{ansible_host: 10.9.0.12}}
        node-3: {{ansible_host: 10.9.0.13}}
    automq_broker:
      hosts: {{node-1: {{}}, node-2: {{}}, node-3: {{}}, node-4: {{ansible_host: 10.9.0.21}}}}
    automq_console:
      hosts: {{{consoles}}}
  vars:
    ansible_connection: local
    ansible_python_interpreter: {python}
"""

# The nodes, described by the automq role's "describe" entry point after the
# identity facts its preflight would set.
DESCRIBE = """
- hosts: automq_controller:automq_broker
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        __automq_node_id: "{{{{ ids[inventory_hostname] }}}}"
        __automq_cluster_id: Hf83ksPFHQGPemBNvQwRxw
      vars:
        ids: {{node-1: 0, node-2: 1, node-3: 2, node-4: 1000}}
    - ansible.builtin.include_role:
        name: automq
        tasks_from: describe
"""

# What the console role's tasks would have set before its templates: the
# certificates' paths (as automq_pki publishes them) and Prometheus's hash.
CONSOLE_FACTS = """
    - ansible.builtin.set_fact:
        __automq_console_tls_files:
          cert: /etc/automq-console/tls/console.d/2-certificate.pem
          key: /etc/automq-console/tls/console.d/1-private-key.pem
        __automq_console_prometheus_tls_files:
          cert: /etc/prometheus/tls/prometheus.d/2-certificate.pem
          key: /etc/prometheus/tls/prometheus.d/1-private-key.pem
        __automq_console_prometheus_users: {{prometheus: "{hash}"}}
"""
PROMETHEUS_PASSWORD = "prometheus-Password-42"
PROMETHEUS_HASH = bcrypt.hashpw(PROMETHEUS_PASSWORD.encode(), bcrypt.gensalt(4)).decode()

RENDER = (
    DESCRIBE
    + """
- hosts: console
  gather_facts: false
  vars_files:
    - {repo}/roles/automq_console/defaults/main.yml
    - {repo}/roles/automq_console/vars/main.yml
  tasks:
"""
    + CONSOLE_FACTS
    + """
    - name: Render the files
      ansible.builtin.debug:
        msg: "{{{{ {files} }}}}"
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

# The files the role's template tasks would write, printed by one debug task each run.
CONSOLE_FILES = rendered_templates_expression(
    REPO / "roles/automq_console/templates",
    [
        "console.json",
        "automq-console.service",
        "automq-console-byoc.service",
        "byoc.env",
        "prometheus.yml",
        "prometheus.default",
        "prometheus-web.yml",
        "blackbox.yml",
        "prometheus-blackbox-exporter.default",
    ],
    {"tls-names.json": "__automq_console_tls_names | to_json"},
)
NODE_FILES = rendered_templates_expression(
    REPO / "roles/automq/templates",
    ["server.properties", "automq.service", "log4j.properties", "jmx-exporter.yml"],
)
JMX = {"automq_metrics_exporter": "none", "automq_jmx_exporter_enabled": True}
BOTH = {"automq_metrics_exporter": "automq", "automq_jmx_exporter_enabled": True}


# One cluster CA per test process, made by the role's describe run, copied into each
# test's directory: these tests do not prove the CA's creation (test_pki_ca_rotation.py
# does), and making it cost each run 2 seconds.
_CA_TEMPLATE: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _ca_template(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("ca-template")
    run = run_play(root, DESCRIBE.format(), cluster_vars(root))
    assert run.returncode == 0, run.describe()
    _CA_TEMPLATE.append(root / "ca")


def cluster_vars(tmp_path: Path) -> dict[str, object]:
    """The nodes' settings (group_vars), with the Ansible machine's files in tmp_path."""
    if _CA_TEMPLATE and not (tmp_path / "ca").exists():
        shutil.copytree(_CA_TEMPLATE[0], tmp_path / "ca")
    monitor = tmp_path / "monitor.password"
    monitor.write_text("monitor-Password-0123456789")
    monitor.chmod(0o600)
    return {
        "automq_cluster_name": "prod",
        "automq_oss_region": "cn-hangzhou",
        "automq_oss_data_bucket": "prod-data",
        "automq_oss_ops_bucket": "prod-ops",
        "automq_pki_ca_dir": str(tmp_path / "ca"),
        "automq_monitor_password_file": str(monitor),
        "automq_console_prometheus_password_file": str(tmp_path / "prometheus.password"),
        **JMX,
    }


def run_play(
    tmp_path: Path, play: str, extra: dict[str, object], consoles: Sequence[str] = ("console",)
) -> PlaybookRun:
    """``play`` on the inventory above, with ``consoles`` as the console hosts."""
    hosts = ", ".join(f"{name}: {{ansible_host: 10.9.0.5}}" for name in consoles)
    (tmp_path / "inventory.yml").write_text(INVENTORY.format(python=sys.executable, consoles=hosts))
    (tmp_path / "play.yml").write_text(play)
    extra_vars = tmp_path / "vars.json"
    extra_vars.write_text(json.dumps(extra))
    return run_playbook(
        private_dir_in(tmp_path),
        tmp_path / "play.yml",
        inventory=tmp_path / "inventory.yml",
        cmdline=["-e", f"@{extra_vars}"],
    )


def render(tmp_path: Path, **extra: object) -> dict[str, str]:
    play = RENDER.format(repo=REPO, hash=PROMETHEUS_HASH, files=CONSOLE_FILES)
    run = run_play(tmp_path, play, {**cluster_vars(tmp_path), **extra})
    assert run.returncode == 0, run.describe()
    return dict(run.results("console")["Render the files"]["msg"])


def preflight(tmp_path: Path, **extra: object) -> str:
    """The preflight's output; fails the test unless the preflight refused."""
    play = PREFLIGHT.format(repo=REPO)
    run = run_play(tmp_path, play, {**cluster_vars(tmp_path), **extra})
    assert run.returncode != 0, "the preflight accepted: " + run.stdout[-2000:]
    return " ".join(run.stdout.split())


@pytest.fixture(scope="module")
def default_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The files of the default settings (a secure cluster), rendered once for several tests."""
    return render(tmp_path_factory.mktemp("default"))


# --------------------------------------------------------------------------- builtin


def test_console_configuration_of_a_secure_cluster(default_files: dict[str, str]) -> None:
    config = json.loads(default_files["console.json"])
    assert config["cluster_name"] == "prod"
    # The brokers' CLIENT listener only: the controllers' wants the nodes' certificates.
    assert config["bootstrap_servers"] == [
        "node-1.prod.internal:9092", "10.9.0.12:9092", "10.9.0.13:9092", "10.9.0.21:9092",
    ]  # fmt: skip
    assert config["controller_quorum_bootstrap_servers"] == []
    assert config["kafka_security"] == {
        "protocol": "SASL_SSL",
        "mechanism": "SCRAM-SHA-512",
        "ca_file": "/etc/automq-console/kafka-ca.crt",
        "username": "automq-console",
        "password_file": "/etc/automq-console/kafka.password",
    }
    assert "monitor-Password" not in json.dumps(config)  # only the file's path
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
    assert config["cookie_secure"] is True
    # HTTPS itself, on the host's private address (ansible_host, an IPv4 address).
    assert (config["listen_host"], config["listen_port"]) == ("10.9.0.5", 8080)
    assert config["tls_cert_file"] == "/etc/automq-console/tls/console.d/2-certificate.pem"
    assert config["tls_key_file"] == "/etc/automq-console/tls/console.d/1-private-key.pem"
    assert config["prometheus_port"] == 9090


def test_console_configuration_of_a_plaintext_cluster_is_accepted(tmp_path: Path) -> None:
    from automq_console.config import parse_settings

    settings = parse_settings(render(tmp_path, automq_security="plaintext")["console.json"])
    assert settings.voter_ids == (0, 1, 2)
    assert not settings.kafka_security.is_secure
    assert settings.controller_quorum_bootstrap_servers == (
        "node-1.prod.internal:9093", "10.9.0.12:9093", "10.9.0.13:9093",
    )  # fmt: skip
    assert settings.serves_https  # HTTPS all the same


def test_console_configuration_of_a_secure_cluster_is_accepted(
    default_files: dict[str, str],
) -> None:
    from automq_console.config import parse_settings

    settings = parse_settings(default_files["console.json"])
    assert settings.voter_ids == (0, 1, 2)
    assert settings.kafka_security.is_secure
    assert settings.serves_https


@pytest.mark.parametrize(
    ("extra", "address"),
    [
        ({"alicloud_private_ip": "172.16.1.5"}, "172.16.1.5"),
        ({"ansible_host": "console.example.com"}, "0.0.0.0"),
        ({"automq_console_listen_address": "0.0.0.0"}, "0.0.0.0"),
    ],
)
def test_listen_addresses(tmp_path: Path, extra: dict[str, str], address: str) -> None:
    files = render(tmp_path, **extra)
    assert json.loads(files["console.json"])["listen_host"] == address
    if "automq_console_listen_address" not in extra:  # Prometheus follows the same default
        assert f"--web.listen-address={address}:9090" in files["prometheus.default"]


def test_certificate_names(default_files: dict[str, str], tmp_path: Path) -> None:
    assert json.loads(default_files["tls-names.json"]) == ["DNS:console", "IP:10.9.0.5"]

    names = json.loads(
        render(
            tmp_path,
            alicloud_private_ip="172.16.1.5",
            alicloud_public_ip="198.51.100.7",
            automq_console_tls_extra_names=["DNS:console.example.com"],
        )["tls-names.json"]
    )
    assert names == [
        "DNS:console",
        "IP:10.9.0.5",
        "IP:172.16.1.5",
        "IP:198.51.100.7",
        "DNS:console.example.com",
    ]


def test_console_unit(default_files: dict[str, str]) -> None:
    unit = default_files["automq-console.service"].splitlines()
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
        "'until (exec 3<>/dev/tcp/10.9.0.5/8080) 2>/dev/null; do sleep 2; done'"
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
    assert "/dev/tcp/10.9.0.5/8443" in files["automq-console-byoc.service"]
    assert "CONFIG=base64:eyJhIjoxfQ==" in files["byoc.env"].splitlines()


BYOC = {"automq_console_flavor": "byoc"}
IMAGE = {"automq_console_byoc_image": "automq/console:1"}
NEEDS_IMAGE = "The byoc flavor needs automq_console_byoc_image"


# Each bad input, what its message says, and the check that refused it.
BAD_INPUTS: list[tuple[dict[str, object], str, str]] = [
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
    (
        {"automq_console_tls_cert_file": "/etc/ssl/console.pem"},
        "are both empty (certificates from the cluster CA) or both existing PEM files",
        "(automq_console_tls_cert_file | length > 0) == (automq_console_tls_key_file",
    ),
    (
        {"automq_console_tls_extra_names": ["console.example.com"]},
        'a list such as ["DNS:console.example.com"',
        "automq_console_tls_extra_names | reject",
    ),
    (
        {"automq_console_listen_address": "console.example.com"},
        "an IPv4 address of the host, or 0.0.0.0",
        "automq_console_listen_address in",
    ),
    (
        {"automq_console_prometheus_password_length": 80},
        "from 16 to 72 (bcrypt reads no further)",
        "automq_console_prometheus_password_length | int <= 72",
    ),
    (
        {"automq_console_prometheus_username": "prom etheus"},
        "automq_console_prometheus_username ('prom etheus')",
        "automq_console_prometheus_username is match",
    ),
    (
        {"automq_console_alert_node_down_for": "1 minute"},
        "automq_console_alert_node_down_for ('1 minute') is a Prometheus duration",
        "automq_console_alert_node_down_for | string is match",
    ),
    (
        {"automq_console_alert_heap_used_ratio": 90},
        "a share of the heap above 0 and at most 1",
        "automq_console_alert_heap_used_ratio | string is match",
    ),
    (
        {"automq_console_alert_heap_used_ratio": 0},
        "a share of the heap above 0 and at most 1",
        "automq_console_alert_heap_used_ratio | float > 0",
    ),
]


@pytest.fixture(scope="module")
def refused_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """One preflight run for every bad input, each on a console host of its own (a
    playbook run costs about 3 s): the failed check's result of each, by the input."""
    tmp_path = tmp_path_factory.mktemp("refused")
    hosts = ["console"] + [f"console-{index}" for index in range(1, len(BAD_INPUTS))]
    cases = {host: extra for host, (extra, _, _) in zip(hosts, BAD_INPUTS, strict=True)}
    # set_fact outranks the role defaults the play loads as vars_files; extra vars
    # would set one value for every host.
    play = PREFLIGHT.format(repo=REPO).replace("- hosts: console\n", "- hosts: automq_console\n")
    play = play.replace(
        "    - ansible.builtin.include_tasks: ",
        "    - ansible.builtin.set_fact:\n"
        '        "{{ item.key }}": "{{ item.value }}"\n'
        '      loop: "{{ refused_cases[inventory_hostname] | dict2items }}"\n'
        "    - ansible.builtin.include_tasks: ",
        1,
    )
    run = run_play(
        tmp_path, play, {**cluster_vars(tmp_path), "refused_cases": cases}, consoles=hosts
    )
    refusals: dict[str, dict[str, object]] = {}
    for host, extra in cases.items():
        failed = [result for result in run.results(host).values() if result.get("failed")]
        assert len(failed) == 1, f"{host} ({extra}): {failed}\n{run.tail()}"
        refusals[json.dumps(extra, sort_keys=True)] = failed[0]
    return refusals


@pytest.mark.parametrize(("extra", "message", "failed"), BAD_INPUTS)
def test_preflight_refuses_bad_inputs(
    refused_inputs: dict[str, dict[str, object]], extra: dict, message: str, failed: str
) -> None:
    refusal = refused_inputs[json.dumps(extra, sort_keys=True)]
    assert message in " ".join(str(refusal["msg"]).split()), refusal
    assert failed in str(refusal["assertion"]), refusal


def test_preflight_refuses_an_exporter_on_prometheus_port(tmp_path: Path) -> None:
    output = preflight(tmp_path, automq_jmx_exporter_port=9090)
    assert "no node's metrics port (9090) may be Prometheus's own" in output


def test_preflight_refuses_nodes_not_described(tmp_path: Path) -> None:
    play = PREFLIGHT.format(repo=REPO).replace(
        "hosts: automq_controller:automq_broker", "hosts: node-1:node-2:node-3"
    )
    run = run_play(tmp_path, play, cluster_vars(tmp_path))
    assert run.returncode != 0
    assert "missing: node-4" in " ".join(run.stdout.split())


def test_preflight_needs_the_monitor_password_of_a_secure_cluster(tmp_path: Path) -> None:
    output = preflight(tmp_path, automq_monitor_password_file=str(tmp_path / "missing.password"))
    assert "the user's password file (" + str(tmp_path / "missing.password") in output
    assert "which the deploy writes" in output


def test_preflight_refuses_mixed_security_modes(tmp_path: Path) -> None:
    play = PREFLIGHT.format(repo=REPO).replace(
        "        tasks_from: describe\n",
        "        tasks_from: describe\n"
        "      vars:\n"
        "        automq_security: \"{{ 'plaintext' if inventory_hostname == 'node-4' "
        "else 'secure' }}\"\n",
        1,
    )
    assert "automq_security:" in play
    run = run_play(tmp_path, play, cluster_vars(tmp_path))
    assert run.returncode != 0
    assert "run different security modes (secure, plaintext)" in " ".join(run.stdout.split())


def test_preflight_checks_your_own_certificate_against_its_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sys.path.insert(0, str(REPO / "tests" / "unit" / "console"))
    from console_fakes import make_pki

    pki = make_pki(tmp_path / "own")
    other = tmp_path / "other.key"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    output = preflight(
        tmp_path,
        automq_console_tls_cert_file=str(pki.cert_file),
        automq_console_tls_key_file=str(other),
    )
    assert f"automq_console_tls_key_file ({other}) must be the unencrypted PEM key" in output

    # The matching key passes this check; the run then stops at nothing else.
    play = PREFLIGHT.format(repo=REPO)
    extra = {
        **cluster_vars(tmp_path),
        "automq_console_tls_cert_file": str(pki.cert_file),
        "automq_console_tls_key_file": str(pki.key_file),
    }
    run = run_play(tmp_path, play, extra)
    assert run.returncode == 0, run.stdout[-3000:]


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_targets_from_the_inventory(default_files: dict[str, str]) -> None:
    files = default_files
    config = yaml.safe_load(files["prometheus.yml"])
    assert config["global"]["scrape_interval"] == "30s"
    assert config["global"]["external_labels"] == {"cluster": "prod"}
    jobs = {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}
    # Not itself: its web interface wants a password that is not on the host.
    assert set(jobs) == {"automq-jmx", "automq-certificates"}
    # The address the exporters bind (the private address), not the advertised name.
    assert [
        (c["targets"], c["labels"]["node"], c["labels"]["node_id"]) for c in jobs["automq-jmx"]
    ] == [
        (["10.9.0.11:9404"], "node-1", "0"),
        (["10.9.0.12:9404"], "node-2", "1"),
        (["10.9.0.13:9404"], "node-3", "2"),
        (["10.9.0.21:9404"], "node-4", "1000"),
    ]
    args = files["prometheus.default"]
    assert "--web.listen-address=10.9.0.5:9090" in args
    assert "--web.config.file=/etc/prometheus/web.yml" in args
    assert "--storage.tsdb.retention.time=15d" in args


def test_prometheus_scrapes_both_exporters_when_nodes_run_both(tmp_path: Path) -> None:
    config = yaml.safe_load(
        render(tmp_path, automq_console_prometheus_scrape_interval="5s", **BOTH)["prometheus.yml"]
    )
    assert config["global"]["scrape_interval"] == "5s"
    jobs = {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}
    assert jobs["automq"][0]["targets"] == ["10.9.0.11:9464"]
    assert len(jobs["automq"]) == len(jobs["automq-jmx"]) == 4


def test_prometheus_without_exporters_probes_certificates_only(tmp_path: Path) -> None:
    config = yaml.safe_load(
        render(tmp_path, automq_metrics_exporter="none", automq_jmx_exporter_enabled=False)[
            "prometheus.yml"
        ]
    )
    assert [job["job_name"] for job in config["scrape_configs"]] == ["automq-certificates"]


def _probes(files: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """The certificate probes: (target, module, endpoint, node) of each."""
    config = yaml.safe_load(files["prometheus.yml"])
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "automq-certificates"]
    assert job["metrics_path"] == "/probe"
    # The blackbox exporter is asked, on this host's loopback address, with the
    # target and the module as its parameters.
    assert {"target_label": "__address__", "replacement": "127.0.0.1:9115"} in job[
        "relabel_configs"
    ]
    return [
        (*static["targets"], static["labels"]["module"], static["labels"]["endpoint"],
         static["labels"]["node"])
        for static in job["static_configs"]
    ]  # fmt: skip


def test_certificate_probes_of_a_secure_cluster(default_files: dict[str, str]) -> None:
    # Every broker at the name and port clients use; the console and Prometheus
    # on the addresses they listen on.
    assert _probes(default_files) == [
        ("node-1.prod.internal:9092", "automq_broker", "client listener", "node-1"),
        ("10.9.0.12:9092", "automq_broker", "client listener", "node-2"),
        ("10.9.0.13:9092", "automq_broker", "client listener", "node-3"),
        ("10.9.0.21:9092", "automq_broker", "client listener", "node-4"),
        ("10.9.0.5:8080", "automq_console_host", "console", "console"),
        ("10.9.0.5:9090", "automq_console_host", "prometheus", "console"),
    ]
    modules = yaml.safe_load(default_files["blackbox.yml"])["modules"]
    assert modules["automq_broker"] == {
        "prober": "tcp",
        "timeout": "10s",
        "tcp": {
            "tls": True,
            "tls_config": {
                "ca_file": "/etc/prometheus/automq-cluster-ca.crt",
                "min_version": "TLS12",
            },
        },
    }
    # The console's and Prometheus's certificates name the inventory name.
    assert modules["automq_console_host"]["tcp"]["tls_config"] == {
        "ca_file": "/etc/prometheus/automq-cluster-ca.crt",
        "server_name": "console",
        "min_version": "TLS12",
    }
    assert (
        "--web.listen-address=127.0.0.1:9115"
        in default_files["prometheus-blackbox-exporter.default"]
    )


def test_certificate_probes_of_a_plaintext_cluster_and_byoc_console(tmp_path: Path) -> None:
    files = render(
        tmp_path,
        automq_security="plaintext",
        automq_console_flavor="byoc",
        automq_console_listen_address="10.9.0.5",
        automq_console_tls_cert_file="/keys/console.crt",
        automq_console_tls_key_file="/keys/console.key",
    )
    # No TLS on the brokers, none on AutoMQ's BYOC console: Prometheus only.
    assert _probes(files) == [("10.9.0.5:9090", "automq_console_host", "prometheus", "console")]
    modules = yaml.safe_load(files["blackbox.yml"])["modules"]
    # Your own certificate's CA is unknown here: its expiry is read unverified.
    assert set(modules) == {"automq_console_host"}
    assert modules["automq_console_host"]["tcp"]["tls_config"] == {
        "insecure_skip_verify": True,
        "min_version": "TLS12",
    }


def test_prometheus_web_configuration(default_files: dict[str, str]) -> None:
    web = yaml.safe_load(default_files["prometheus-web.yml"])
    tls = web["tls_server_config"]
    assert tls["cert_file"] == "/etc/prometheus/tls/prometheus.d/2-certificate.pem"
    assert tls["key_file"] == "/etc/prometheus/tls/prometheus.d/1-private-key.pem"
    assert tls["min_version"] == "TLS12"
    assert all("_ECDHE_" in suite and "_CBC_" not in suite for suite in tls["cipher_suites"])
    (user, stored), *more = web["basic_auth_users"].items()
    assert (user, more) == ("prometheus", [])
    assert bcrypt.checkpw(PROMETHEUS_PASSWORD.encode(), stored.encode())


# --------------------------------------------------------------------------- passwords

LOCAL_PASSWORD = """
- hosts: console
  gather_facts: false
  tasks:
    - ansible.builtin.include_tasks: {repo}/roles/automq_console/tasks/local_password.yml
      vars:
        __automq_console_secret:
          file: {file}
          hash_file: {file}.bcrypt
          scheme: bcrypt
          length: 24
          what: Prometheus
"""


def test_prometheus_password_is_made_once_and_hashed_only_when_it_changes(tmp_path: Path) -> None:
    password_file = tmp_path / "keys" / "prometheus.password"
    hash_file = Path(f"{password_file}.bcrypt")
    play = LOCAL_PASSWORD.format(repo=REPO, file=password_file)
    extra = {"automq_console_source_dir": str(REPO / "python_helpers")}

    first = run_play(tmp_path, play, extra)
    assert first.returncode == 0, first.stdout[-3000:]
    password = password_file.read_text()
    assert re.fullmatch(r"[A-Za-z0-9]{24}", password)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(password_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(hash_file.stat().st_mode) == 0o600
    stored = hash_file.read_text().strip()
    assert stored.startswith("$2b$10$")
    assert bcrypt.checkpw(password.encode(), stored.encode())
    assert password not in first.transcript

    second = run_play(tmp_path, play, extra)
    assert second.returncode == 0, second.stdout[-3000:]
    assert re.search(r"console\s+: ok=\d+\s+changed=0", second.stdout), second.stdout[-1500:]
    assert hash_file.read_text().strip() == stored  # kept: the password did not change

    password_file.write_text("a-New-password-of-my-own")
    third = run_play(tmp_path, play, extra)
    assert third.returncode == 0, third.stdout[-3000:]
    assert bcrypt.checkpw(b"a-New-password-of-my-own", hash_file.read_text().strip().encode())
    assert "a-New-password-of-my-own" not in third.transcript


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
    - name: Render the files
      ansible.builtin.debug:
        msg: "{{{{ {files} }}}}"
"""


def render_node(tmp_path: Path, **extra: object) -> dict[str, str]:
    base = {
        "automq_oss_region": "cn-hangzhou",
        "automq_oss_data_bucket": "prod-data",
        "automq_oss_ops_bucket": "prod-ops",
    }
    run = run_play(tmp_path, NODE.format(repo=REPO, files=NODE_FILES), {**base, **extra})
    assert run.returncode == 0, run.describe()
    return dict(run.results("node-1")["Render the files"]["msg"])


# AutoMQ's default KAFKA_OPTS (bin/kafka-server-start.sh:75-77 at 1.7.3), which the unit keeps.
AUTOMQ_JVM_SAFETY_OPTS = (
    "-XX:+ExitOnOutOfMemoryError -XX:+HeapDumpOnOutOfMemoryError "
    "-XX:HeapDumpPath=/var/log/automq -Dio.netty.allocator.maxOrder=11"
)


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
        f'Environment="KAFKA_OPTS={AUTOMQ_JVM_SAFETY_OPTS} -Dexample=1 -javaagent:{agent}'
        '=10.9.0.11:9404:/etc/automq/jmx-exporter.yml"'
    ) in files["automq.service"].splitlines()
    assert "s3.telemetry.metrics.exporter.uri" not in parse_properties(files["server.properties"])
    rules = yaml.safe_load(files["jmx-exporter.yml"])
    assert rules["lowercaseOutputName"] is True
    assert any(rule["name"] == "kafka_$1_$2_$3" for rule in rules["rules"])
    # The request metrics of the client-facing requests only (the console charts Produce's).
    included = rules["includeObjectNames"]
    assert "kafka.server:*" in included
    assert [name for name in included if "RequestMetrics" in name] == [
        f"kafka.network:type=RequestMetrics,request={request},*"
        for request in ("Produce", "FetchConsumer", "FetchFollower")
    ]


def test_default_unit_has_no_agent_and_rotates_logs(tmp_path: Path) -> None:
    files = render_node(tmp_path, automq_log_max_file_size="200MB", automq_log_max_backup_index=5)
    unit = files["automq.service"].splitlines()
    # AutoMQ's own JVM options only: no agent.
    assert f'Environment="KAFKA_OPTS={AUTOMQ_JVM_SAFETY_OPTS}"' in unit
    assert not any("-javaagent" in line for line in unit)
    assert (
        'Environment="KAFKA_LOG4J_OPTS=-Dlog4j.configuration=file:/etc/automq/log4j.properties"'
        in unit
    )
    props = parse_properties(files["server.properties"])
    # The exporter binds the node's private address (its ansible_host), not every interface.
    assert props["s3.telemetry.metrics.exporter.uri"] == "prometheus://?host=10.9.0.11&port=9464"
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


def test_logs_keep_the_releases_uploading_appenders(tmp_path: Path) -> None:
    # What the role's logging tasks learn from an AutoMQ release's config/log4j.properties
    # (automq.platform.log4j_uploading_appenders): two appenders upload to the ops bucket.
    uploading = {
        "kafkaAppender": "com.automq.log.S3RollingFileAppender",
        "requestAppender": "com.automq.log.S3RollingFileAppender",
    }
    files = render_node(tmp_path, __automq_uploading_appenders=uploading)
    log4j = parse_properties(files["log4j.properties"])
    assert log4j["log4j.appender.kafkaAppender"] == "com.automq.log.S3RollingFileAppender"
    assert log4j["log4j.appender.requestAppender"] == "com.automq.log.S3RollingFileAppender"
    # The others rotate as before; every appender keeps the role's rotation.
    assert log4j["log4j.appender.controllerAppender"] == "org.apache.log4j.RollingFileAppender"
    assert log4j["log4j.appender.kafkaAppender.MaxBackupIndex"] == "10"
    assert log4j["log4j.appender.kafkaAppender.File"] == "${kafka.logs.dir}/server.log"
    # The uploader's own messages reach the journal only, as in the release's file.
    assert log4j["log4j.logger.com.automq.log.S3RollingFileAppender"] == "INFO, stdout"
    assert log4j["log4j.additivity.com.automq.log.S3RollingFileAppender"] == "false"
