"""The console role's Prometheus files against Debian's real Prometheus (2.42 on bookworm).

The role's templates (prometheus-web.yml, prometheus.yml, prometheus.default) are
rendered by real Ansible on localhost, with a test CA's certificate and the bcrypt
hash that ``python -m automq_console.passwords hash --scheme bcrypt`` makes of a
generated password, as the role does. Then:

* ``promtool check web-config`` and ``promtool check config`` accept them (the role's
  ``validate`` steps on the host);
* Prometheus itself, started on 127.0.0.1 with the rendered command-line settings,
  serves HTTPS only (TLS 1.2 or newer, no CBC suites), a certificate that the CA
  verifies, and nothing without the password;
* the console's own client (its charts page) reads a range from it as the
  console's user, trusting exactly the certificate it serves;
* ``promtool test rules`` proves the alert rules and the charts' queries on input
  series named as both exporters name them.

Needs the unpacked Debian package in .testbed/prometheus (``make testbed``); no Docker.
Only loopback traffic: the one scrape target is a closed port on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from playbook_runner import localhost_inventory, private_dir_in, run_playbook

from .conftest import PREPARE_HINT, REPO, TESTBED_DIR

sys.path.insert(0, str(REPO / "tests" / "unit" / "console"))
from console_fakes import PkiFiles, make_pki

from automq_console.charts import CHARTS, QueryError
from automq_console.config import PrometheusSettings
from automq_console.prometheus import PrometheusClient

PROMETHEUS = TESTBED_DIR / "prometheus" / "usr" / "bin" / "prometheus"
PROMTOOL = TESTBED_DIR / "prometheus" / "usr" / "bin" / "promtool"
BLACKBOX_EXPORTER = TESTBED_DIR / "prometheus" / "usr" / "bin" / "prometheus-blackbox-exporter"
PASSWORD = "prometheus-Password-0123456789"
# The console's own user (its charts), a second entry of the same web configuration.
READER = "automq-console"
READER_PASSWORD = "console-Password-9876543210"
START_TIMEOUT = 60.0

# The role's templates, with the facts its tasks set first and one node whose
# exporter is a closed loopback port.
RENDER = """
- hosts: localhost
  gather_facts: false
  vars_files:
    - {repo}/roles/automq_console/defaults/main.yml
    - {repo}/roles/automq_console/vars/main.yml
  tasks:
    - ansible.builtin.set_fact:
        __automq_console_described:
          - {{host: node-1, node_id: 0, roles: [broker, controller], cluster_name: prod,
              advertised_host: 127.0.0.1, metrics_host: 127.0.0.1,
              metrics: [{{exporter: jmx, port: 1}}],
              security: {{mode: plaintext, client_port: 1}}}}
        __automq_console_prometheus_tls_files: {{cert: "{cert}", key: "{key}"}}
        __automq_console_prometheus_users: {{prometheus: "{hash}", automq-console: "{reader_hash}"}}
        __automq_console_prometheus_alerts: {out}/prometheus-alerts.yml
    - ansible.builtin.template:
        src: {repo}/roles/automq_console/templates/{{{{ item }}}}.j2
        dest: {out}/{{{{ item }}}}
        mode: "0600"
      loop: [prometheus-web.yml, prometheus.yml, prometheus.default, prometheus-alerts.yml,
             blackbox.yml]
"""


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    pki: PkiFiles
    files: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bcrypt_hash(password: str) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "automq_console.passwords", "hash", "--scheme", "bcrypt"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "python_helpers")},
    )
    return made.stdout.strip()


def _render(directory: Path, pki: PkiFiles, port: int, **overrides: object) -> Path:
    """Render the role's Prometheus files into ``directory/rendered``; ``overrides``
    are extra variables (the role's defaults otherwise)."""
    out = directory / "rendered"
    out.mkdir()
    play = directory / "play.yml"
    play.write_text(
        RENDER.format(
            repo=REPO,
            out=out,
            cert=pki.cert_file,
            key=pki.key_file,
            hash=_bcrypt_hash(PASSWORD),
            reader_hash=_bcrypt_hash(READER_PASSWORD),
        )
    )
    extra = directory / "vars.json"
    extra.write_text(
        json.dumps(
            {
                "automq_console_prometheus_listen_address": "127.0.0.1",
                "automq_console_prometheus_port": port,
                "automq_console_prometheus_password_file": str(directory / "unused"),
                "ansible_python_interpreter": sys.executable,
                **overrides,
            }
        )
    )
    run = run_playbook(
        private_dir_in(directory),
        play,
        inventory=localhost_inventory(directory),
        cmdline=["-e", f"@{extra}"],
    )
    assert run.rc == 0, run.describe()
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not PROMETHEUS.is_file() or not PROMTOOL.is_file():
        pytest.fail(f"{PROMETHEUS} is missing. {PREPARE_HINT}", pytrace=False)
    directory = tmp_path_factory.mktemp("prometheus")
    pki = make_pki(directory / "pki", common_name="automq-prometheus.prod")
    port = _free_port()
    # Scraped and evaluated every second, and a node down fires at once: the
    # alert test below sees the rule fire within seconds.
    files = _render(
        directory,
        pki,
        port,
        automq_console_prometheus_scrape_interval="1s",
        automq_console_alert_node_down_for="0s",
    )
    # The role's /etc/default/prometheus: ARGS="...", with the web configuration's path.
    default = (files / "prometheus.default").read_text()
    args_line = next(line for line in default.splitlines() if line.startswith("ARGS="))
    # systemd reads ARGS="..." (EnvironmentFile=) and splits $ARGS at white space.
    (value,) = shlex.split(args_line.removeprefix("ARGS="))
    args = value.split()
    args = [
        f"--web.config.file={files / 'prometheus-web.yml'}"
        if arg.startswith("--web.config.file=")
        else arg
        for arg in args
    ]
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={files / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, (directory / "prometheus.log").read_text()[-3000:]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "Prometheus did not listen in time"
                time.sleep(0.2)
        yield Served(f"https://localhost:{port}", port, pki, files)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def _status(
    served: Served, path: str, credentials: tuple[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{served.url}{path}")
    if credentials:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(served.pki.ca_file))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _handshake(served: Served, context: ssl.SSLContext) -> str:
    try:
        with (
            socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            return str(tls.version())
    except (ssl.SSLError, OSError) as error:
        return f"refused: {error}"


def test_promtool_accepts_the_role_files(served: Served) -> None:
    for command, name in (
        ("web-config", "prometheus-web.yml"),
        ("config", "prometheus.yml"),
        ("rules", "prometheus-alerts.yml"),
    ):
        checked = subprocess.run(
            [str(PROMTOOL), "check", command, str(served.files / name)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # The blackbox exporter's probes, as the role's validate step checks them.
    checked = subprocess.run(
        [
            str(BLACKBOX_EXPORTER),
            "--config.check",
            f"--config.file={served.files / 'blackbox.yml'}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_api_and_ui_want_the_password(served: Served) -> None:
    for path in ("/-/ready", "/api/v1/targets", "/graph"):
        assert _status(served, path)[0] == 401, path
        assert _status(served, path, ("prometheus", "wrong-password"))[0] == 401, path
        assert _status(served, path, ("admin", PASSWORD))[0] == 401, path
    status, body = _status(served, "/api/v1/status/buildinfo", ("prometheus", PASSWORD))
    assert status == 200
    assert json.loads(body)["data"]["version"].startswith("2.")
    # The scrape targets of the role's prometheus.yml appear once discovery ran:
    # the node's exporter, and the certificates of the console and Prometheus
    # (a plaintext cluster's brokers have none), probed through the blackbox
    # exporter on this host.
    deadline = time.monotonic() + 30
    while True:
        status, body = _status(served, "/api/v1/targets", ("prometheus", PASSWORD))
        assert status == 200
        targets = json.loads(body)["data"]["activeTargets"]
        if len(targets) == 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    probed = sorted(f"127.0.0.1:{port}" for port in (8080, served.port))
    scraped = sorted((t["labels"]["job"], t["labels"]["instance"], t["scrapeUrl"]) for t in targets)
    assert scraped == [
        (
            "automq-certificates",
            target,
            "http://127.0.0.1:9115/probe?module=automq_console_host&target="
            + target.replace(":", "%3A"),
        )
        for target in probed
    ] + [("automq-jmx", "127.0.0.1:1", "http://127.0.0.1:1/metrics")]


def test_only_tls_12_and_13_with_aead_suites(served: Served) -> None:
    def context(
        maximum: ssl.TLSVersion | None = None, ciphers: str | None = None
    ) -> ssl.SSLContext:
        made = ssl.create_default_context(cafile=str(served.pki.ca_file))
        if maximum is not None:
            made.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            made.maximum_version = maximum
        if ciphers is not None:
            made.set_ciphers(ciphers)
        return made

    assert _handshake(served, context()) == "TLSv1.3"
    assert _handshake(served, context(ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"
    cbc = context(ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA")
    assert _handshake(served, cbc).startswith("refused")
    with pytest.warns(DeprecationWarning, match="TLSv1_1"):
        old = context(ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0")
    assert _handshake(served, old).startswith("refused")


def test_the_certificate_is_checked_and_plain_http_refused(served: Served) -> None:
    strict = ssl.create_default_context(cafile=str(served.pki.ca_file))
    with (
        socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
    ):
        strict.wrap_socket(raw, server_hostname="prometheus.example")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as plain:
        plain.sendall(b"GET /-/ready HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert plain.recv(4096).startswith(b"HTTP/1.0 400")


def test_a_node_that_answers_no_scrape_fires_node_down(served: Served) -> None:
    """Prometheus evaluates the role's rules: the one node's exporter is a closed
    port, so AutoMQNodeDown and AutoMQExporterDown fire (``for`` is 0s here)."""
    deadline = time.monotonic() + 60
    while True:
        status, body = _status(served, "/api/v1/alerts", ("prometheus", PASSWORD))
        assert status == 200
        alerts = json.loads(body)["data"]["alerts"]
        firing = {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}
        if {"AutoMQNodeDown", "AutoMQExporterDown"} <= firing.keys():
            break
        assert time.monotonic() < deadline, f"no node-down alert fired: {alerts}"
        time.sleep(1)
    # Only the alerts about the silent node: the other rules have no data.
    assert sorted(a["labels"]["alertname"] for a in alerts) == [
        "AutoMQExporterDown",
        "AutoMQNodeDown",
    ]
    node_down = firing["AutoMQNodeDown"]
    assert node_down["labels"] == {
        "alertname": "AutoMQNodeDown",
        "node": "node-1",
        "node_id": "0",
        "severity": "critical",
    }
    assert node_down["annotations"]["summary"] == "AutoMQ node node-1 (node ID 0) answers no scrape"
    assert firing["AutoMQExporterDown"]["labels"]["instance"] == "127.0.0.1:1"


def _console_client(
    served: Served, directory: Path, password: str, cert_file: Path
) -> PrometheusClient:
    """The console's client as the role configures it: Prometheus's local address,
    the console's own user, its password in a 0640 file, one pinned certificate."""
    directory.mkdir()
    password_file = directory / "prometheus-password"
    password_file.write_text(f"{password}\n")
    password_file.chmod(0o640)
    settings = PrometheusSettings(
        url=f"https://127.0.0.1:{served.port}",
        username=READER,
        password_file=password_file,
        cert_file=cert_file,
        scrape_interval="1s",
    )
    return PrometheusClient(settings, timeout_seconds=10)


def test_the_console_reads_a_range_as_its_own_user(served: Served, tmp_path: Path) -> None:
    """The charts page's client logs in as automq-console (the second user of the
    web configuration) and trusts the leaf certificate Prometheus serves as its only
    anchor (no CA file): the scraped node's series comes back with its samples."""
    client = _console_client(served, tmp_path / "console", READER_PASSWORD, served.pki.cert_file)
    deadline = time.monotonic() + 30
    while True:
        now = float(int(time.time()))  # aligned to the step, as the charts page asks
        try:
            matrix = client.query_range("up", now - 60, now, 1)
        except QueryError as error:  # 503 until Prometheus has opened its storage
            if "HTTP 503" not in str(error) or time.monotonic() > deadline:
                raise
            matrix = []
        node = [(labels, samples) for labels, samples in matrix if labels["job"] == "automq-jmx"]
        if (node and node[0][1]) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [labels for labels, _ in node] == [
        {
            "__name__": "up",
            "job": "automq-jmx",
            "instance": "127.0.0.1:1",
            "node": "node-1",
            "node_id": "0",
            "roles": "broker,controller",
        }
    ]
    samples = node[0][1]
    assert samples, "no sample of the node's scrapes within 30 s"
    # One per step inside the range; the exporter is a closed port: up is 0.
    times = [when for when, _ in samples]
    assert times == [times[0] + step for step in range(len(times))]
    assert now - 60 <= times[0]
    assert times[-1] <= now
    assert {value for _, value in samples} == {0.0}


@pytest.mark.parametrize(
    ("password", "other_certificate", "refusal"),
    [
        ("wrong-" + READER_PASSWORD, False, "HTTP 401"),
        # Prometheus's own user's password is not the console's.
        (PASSWORD, False, "HTTP 401"),
        # Another CA's certificate for the same names: not the one Prometheus serves.
        (READER_PASSWORD, True, "CERTIFICATE_VERIFY_FAILED"),
    ],
    ids=["wrong password", "the other user's password", "another certificate"],
)
def test_the_console_client_refuses_wrong_credentials_or_certificate(
    served: Served, tmp_path: Path, password: str, other_certificate: bool, refusal: str
) -> None:
    """A refusal is a QueryError the charts page shows, never an exception that
    escapes, and a certificate other than the pinned one is never trusted."""
    pinned = served.pki.cert_file
    if other_certificate:
        pinned = make_pki(tmp_path / "other-pki", common_name="automq-prometheus.prod").cert_file
    client = _console_client(served, tmp_path / "console", password, pinned)
    now = time.time()
    with pytest.raises(QueryError, match=refusal):
        client.query_range("up", now - 60, now, 1)


# ------------------------------------------------------------------ the alert rules
# promtool test rules cases for the role's rules with their default thresholds,
# fed with both exporters' metric names: AutoMQ's own (job automq) and the JMX
# exporter agent's (job automq-jmx). Series labels are what the role's scrape
# configuration gives every target: job, instance, node, node_id, roles.


def _target(job: str, number: int, roles: str = "broker,controller") -> dict[str, str]:
    port = {"automq": 9464, "automq-jmx": 9404}[job]
    return {
        "job": job,
        "instance": f"10.0.0.{number}:{port}",
        "node": f"n{number}",
        "node_id": str(number),
        "roles": roles,
    }


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    selector = ", ".join(f'{key}="{value}"' for key, value in labels.items())
    return {"series": f"{name}{{{selector}}}", "values": values}


def _alert(labels: dict[str, str], summary: str, description: str) -> dict[str, object]:
    return {
        "exp_labels": labels,
        "exp_annotations": {"summary": summary, "description": description},
    }


def _rule_cases(descriptions: dict[str, str]) -> list[dict[str, object]]:
    def expect(alertname: str, eval_time: str, *alerts: dict[str, object]) -> dict[str, object]:
        return {"alertname": alertname, "eval_time": eval_time, "exp_alerts": list(alerts)}

    def fired(alertname: str, labels: dict[str, str], summary: str) -> dict[str, object]:
        return _alert(labels, summary, descriptions[alertname])

    n1, n1_jmx, n2, n2_jmx = (
        _target("automq", 1),
        _target("automq-jmx", 1),
        _target("automq", 2),
        _target("automq-jmx", 2),
    )
    down = {
        "interval": "1m",
        "input_series": [
            _series("up", n1, "1 0 0 0"),
            _series("up", n1_jmx, "1 0 0 0"),
            # n2's JMX exporter still answers: its node is not down, one exporter is.
            _series("up", n2, "1 0 0 0"),
            _series("up", n2_jmx, "1 1 1 1"),
        ],
        "alert_rule_test": [
            expect("AutoMQNodeDown", "1m"),  # pending for its first minute
            expect(
                "AutoMQNodeDown",
                "2m",
                fired(
                    "AutoMQNodeDown",
                    {"severity": "critical", "node": "n1", "node_id": "1"},
                    "AutoMQ node n1 (node ID 1) answers no scrape",
                ),
            ),
            expect(
                "AutoMQExporterDown",
                "2m",
                *(
                    fired(
                        "AutoMQExporterDown",
                        {**target, "severity": "warning"},
                        f"Exporter {target['job']} on {target['node']} ({target['instance']})"
                        " answers no scrape",
                    )
                    for target in (n1, n1_jmx, n2)
                ),
            ),
        ],
    }

    def cluster_case(job: str, offline: str, active: str, fenced: str) -> dict[str, object]:
        nodes = [_target(job, number) for number in (1, 2, 3)]
        return {
            "interval": "1m",
            "input_series": [
                _series(offline, nodes[0], "0 0 3 3 3 3"),
                # The active controller moves from n1 to n2, then none is active.
                _series(active, nodes[0], "1 0 0 0 0 0"),
                _series(active, nodes[1], "0 1 1 0 0 0"),
                _series(active, nodes[2], "0 0 0 0 0 0"),
                _series(fenced, nodes[0], "0 1 1 1 1 1"),
            ],
            "alert_rule_test": [
                expect("AutoMQOfflinePartitions", "2m"),
                expect(
                    "AutoMQOfflinePartitions",
                    "4m",
                    fired(
                        "AutoMQOfflinePartitions",
                        {"severity": "critical"},
                        "Offline partitions (no leader): 3",
                    ),
                ),
                expect("AutoMQNoActiveController", "2m"),
                expect(
                    "AutoMQNoActiveController",
                    "5m",
                    fired(
                        "AutoMQNoActiveController",
                        {"severity": "critical"},
                        "Active controllers: 0 (one is right)",
                    ),
                ),
                expect("AutoMQFencedBrokers", "2m"),
                expect(
                    "AutoMQFencedBrokers",
                    "3m",
                    fired("AutoMQFencedBrokers", {"severity": "warning"}, "Fenced brokers: 1"),
                ),
            ],
        }

    # Nodes with different exporters: n1 runs only the JMX agent and is the active
    # controller, n2 and n3 only AutoMQ's exporter. One active controller in all:
    # no alert (each exporter's count alone would say 1 and 0).
    mixed = {
        "interval": "1m",
        "input_series": [
            _series("kafka_controller_kafkacontroller_activecontrollercount", n1_jmx, "1x6"),
            _series("kafka_controller_active_count", n2, "0x6"),
            _series("kafka_controller_active_count", _target("automq", 3), "0x6"),
        ],
        "alert_rule_test": [expect("AutoMQNoActiveController", "5m")],
    }

    voters = [_target("automq", number) for number in (1, 2, 3)]
    observer = _target("automq", 4, roles="broker")
    lagging = {
        "interval": "1m",
        "input_series": [
            _series("kafka_server_kraft_log_end_offset", voters[0], "5000+100x5"),
            _series("kafka_server_kraft_log_end_offset", voters[1], "5000+100x5"),
            _series("kafka_server_kraft_log_end_offset", voters[2], "3000x5"),
            # A broker-only node observes the log: not a voter, never "lagging".
            _series("kafka_server_kraft_log_end_offset", observer, "0x5"),
        ],
        "alert_rule_test": [
            expect("AutoMQVoterLagging", "1m"),
            expect(
                "AutoMQVoterLagging",
                "3m",
                fired(
                    "AutoMQVoterLagging",
                    {**voters[2], "severity": "warning"},
                    "Controller n3 is 2300 records behind the quorum",
                ),
            ),
        ],
    }

    jmx_heap = {"area": "heap"}
    otel_old = {"jvm_memory_type": "heap", "jvm_memory_pool_name": "G1 Old Gen"}
    otel_eden = {"jvm_memory_type": "heap", "jvm_memory_pool_name": "G1 Eden Space"}
    heap = {
        "interval": "1m",
        "input_series": [
            # JMX exporter: one series per area. n1 95% full, n2 half.
            _series("jvm_memory_used_bytes", {**n1_jmx, **jmx_heap}, "950x12"),
            _series("jvm_memory_max_bytes", {**n1_jmx, **jmx_heap}, "1000x12"),
            _series("jvm_memory_used_bytes", {**n2_jmx, **jmx_heap}, "500x12"),
            _series("jvm_memory_max_bytes", {**n2_jmx, **jmx_heap}, "1000x12"),
            # OpenTelemetry (AutoMQ's exporter): one series per pool; a pool
            # without a maximum (Eden) has no limit series.
            _series("jvm_memory_used_bytes", {**n2, **otel_old}, "900x12"),
            _series("jvm_memory_used_bytes", {**n2, **otel_eden}, "50x12"),
            _series("jvm_memory_limit_bytes", {**n2, **otel_old}, "1000x12"),
        ],
        "alert_rule_test": [
            expect("AutoMQHeapNearLimit", "9m"),
            expect(
                "AutoMQHeapNearLimit",
                "11m",
                fired(
                    "AutoMQHeapNearLimit",
                    {"severity": "warning", "node": "n1", "job": "automq-jmx"},
                    "The JVM heap on n1 stays 95% full",
                ),
                fired(
                    "AutoMQHeapNearLimit",
                    {"severity": "warning", "node": "n2", "job": "automq"},
                    "The JVM heap on n2 stays 95% full",
                ),
            ),
        ],
    }

    s3 = {"operation_type": "S3Request", "operation_name": "PutObject"}
    object_storage = {
        "interval": "1m",
        "input_series": [
            _series(
                "kafka_stream_operation_latency_count", {**n1, **s3, "status": "failed"}, "0+60x10"
            ),
            _series(
                "kafka_stream_operation_latency_count",
                {**n2, **s3, "status": "success"},
                "0+6000x10",
            ),
        ],
        "alert_rule_test": [
            expect("AutoMQObjectStorageErrors", "2m"),
            expect(
                "AutoMQObjectStorageErrors",
                "7m",
                fired(
                    "AutoMQObjectStorageErrors",
                    {"severity": "critical", "node": "n1", "operation_name": "PutObject"},
                    "n1: 1.00 failed PutObject requests per second to OSS",
                ),
            ),
        ],
    }

    # Certificate probes (job automq-certificates, the blackbox exporter's
    # metrics). A broker's leaf expires in 10 days (under the 21 of the
    # default); the console's chain is fine; Prometheus's handshake fails.
    day = 86400  # promtool evaluates from time 0: the expiries are offsets from it
    broker = {
        "job": "automq-certificates",
        "instance": "n1.prod.internal:9092",
        "module": "automq_broker",
        "endpoint": "client listener",
        "node": "n1",
        "node_id": "1",
        "roles": "broker,controller",
    }
    console = {
        "job": "automq-certificates",
        "instance": "10.0.0.5:8080",
        "module": "automq_console_host",
        "endpoint": "console",
        "node": "console",
    }
    prometheus = {**console, "instance": "10.0.0.5:9090", "endpoint": "prometheus"}
    certificates = {
        "interval": "1m",
        "input_series": [
            _series("probe_success", broker, "1x20"),
            _series("probe_ssl_earliest_cert_expiry", broker, f"{10 * day}x20"),
            _series("probe_ssl_last_chain_expiry_timestamp_seconds", broker, f"{10 * day}x20"),
            _series("probe_success", console, "1x20"),
            _series("probe_ssl_earliest_cert_expiry", console, f"{300 * day}x20"),
            # The chain's earliest (here the CA) counts too: 400 days, fine.
            _series("probe_ssl_last_chain_expiry_timestamp_seconds", console, f"{400 * day}x20"),
            _series("probe_success", prometheus, "1 0x20"),
        ],
        "alert_rule_test": [
            expect("AutoMQCertificateExpiresSoon", "9m"),  # pending for 10 minutes
            expect(
                "AutoMQCertificateExpiresSoon",
                "12m",
                fired(
                    "AutoMQCertificateExpiresSoon",
                    {
                        "severity": "warning",
                        "node": "n1",
                        "endpoint": "client listener",
                        "instance": "n1.prod.internal:9092",
                    },
                    # 10 days from time 0, evaluated 12 minutes later.
                    "The certificate of n1's client listener (n1.prod.internal:9092)"
                    f" expires in {(10 * day - 12 * 60) / day:.1f} days",
                ),
            ),
            expect("AutoMQCertificateProbeFailed", "5m"),
            expect(
                "AutoMQCertificateProbeFailed",
                "7m",
                fired(
                    "AutoMQCertificateProbeFailed",
                    {**prometheus, "severity": "warning"},
                    "No TLS handshake with console's prometheus (10.0.0.5:9090)",
                ),
            ),
        ],
    }

    return [
        down,
        certificates,
        cluster_case(
            "automq",
            "kafka_partition_offline_count",
            "kafka_controller_active_count",
            "kafka_broker_fenced_count",
        ),
        cluster_case(
            "automq-jmx",
            "kafka_controller_kafkacontroller_offlinepartitionscount",
            "kafka_controller_kafkacontroller_activecontrollercount",
            "kafka_controller_kafkacontroller_fencedbrokercount",
        ),
        mixed,
        lagging,
        heap,
        object_storage,
    ]


def _promtool_test_rules(directory: Path, rule_files: list[str], cases: list[object]) -> None:
    """``promtool test rules`` on ``cases`` (evaluated every minute), in ``directory``."""
    (directory / "rules_test.yml").write_text(
        yaml.safe_dump({"rule_files": rule_files, "evaluation_interval": "1m", "tests": cases})
    )
    checked = subprocess.run(
        [str(PROMTOOL), "test", "rules", "rules_test.yml"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_alert_rules_fire_as_their_cases_say(tmp_path: Path) -> None:
    if not PROMTOOL.is_file():
        pytest.fail(f"{PROMTOOL} is missing. {PREPARE_HINT}", pytrace=False)
    pki = make_pki(tmp_path / "pki", common_name="automq-prometheus.prod")
    files = _render(tmp_path, pki, _free_port())  # the role's default thresholds
    rules = yaml.safe_load((files / "prometheus-alerts.yml").read_text())
    described = {
        rule["alert"]: rule["annotations"]["description"] for rule in rules["groups"][0]["rules"]
    }
    cases = _rule_cases(described)
    tested = {test["alertname"] for case in cases for test in case["alert_rule_test"]}  # type: ignore[union-attr]
    assert tested == described.keys(), "every rule has a case"
    _promtool_test_rules(files, ["prometheus-alerts.yml"], cases)


# ------------------------------------------------------------------ the charts' queries
# promtool test rules cases (promql_expr_test, no rule files) for every query of
# the console's charts, as the charts page sends it (the rate window substituted).
# Three nodes: n1 runs the JMX exporter agent (job automq-jmx), n2 AutoMQ's own
# exporter (job automq), n3 both, with different values, so its JMX series must
# win and its AutoMQ series count nowhere. Counters grow by a whole number per
# second every minute, so every rate is exact.

RATE_WINDOW = "120s"

# (chart key, query label) -> per-node values (by_node queries) or the one
# cluster-wide value; a chart query without an entry here fails the test.
CHART_EXPECTED: dict[tuple[str, str], dict[str, float] | float] = {
    ("bytes-in", ""): {"n1": 100, "n2": 50, "n3": 300},
    ("bytes-in", "cluster"): 450,
    ("bytes-out", ""): {"n1": 200, "n2": 20, "n3": 400},
    ("bytes-out", "cluster"): 620,
    ("messages-in", ""): {"n1": 10, "n2": 6, "n3": 20},
    ("messages-in", "cluster"): 36,
    ("produce-latency", ""): {"n1": 12, "n2": 7, "n3": 15},
    ("partitions", "partitions"): {"n1": 30, "n2": 20, "n3": 25},
    # AutoMQ: one replica per partition, so a broker leads all it hosts.
    ("partitions", "leaders"): {"n1": 10, "n2": 20, "n3": 12},
    # n2 is the active controller; the others count 0.
    ("unavailable-partitions", "offline (cluster)"): 3,
    # AutoMQ's exporter has no such count: n2 has no line.
    ("unavailable-partitions", "under min ISR"): {"n1": 0, "n3": 1},
    ("heap", ""): {"n1": 1000, "n2": 960, "n3": 2000},
}


def _counter(per_second: int) -> str:
    """A counter growing ``per_second`` on average, sampled every minute."""
    return f"0+{per_second * 60}x10"


def _chart_input() -> list[dict[str, str]]:
    n1, n2, n3_jmx, n3 = (
        _target("automq-jmx", 1),
        _target("automq", 2),
        _target("automq-jmx", 3),
        _target("automq", 3),
    )
    jmx: list[dict[str, str]] = []
    for node, bytes_in, bytes_out, messages, p99, partitions, leaders, under, heap in (
        (n1, 100, 200, 10, 12, 30, 10, 0, 1000),
        (n3_jmx, 300, 400, 20, 15, 25, 12, 1, 2000),
    ):
        # The agent exports BrokerTopicMetrics without a topic key (the broker's
        # total) and once per topic: only the total counts.
        for name, total, per_topic in (
            ("kafka_server_brokertopicmetrics_bytesin_total", bytes_in, 1000),
            ("kafka_server_brokertopicmetrics_bytesout_total", bytes_out, 2000),
            ("kafka_server_brokertopicmetrics_messagesin_total", messages, 100),
        ):
            jmx.append(_series(name, node, _counter(total)))
            jmx.append(_series(name, {**node, "topic": "t"}, _counter(per_topic)))
        latency = "kafka_network_requestmetrics_totaltimems"
        jmx += [
            _series(latency, {**node, "request": "Produce", "quantile": "0.99"}, f"{p99}x10"),
            _series(latency, {**node, "request": "Produce", "quantile": "0.999"}, "40x10"),
            _series(latency, {**node, "request": "FetchConsumer", "quantile": "0.99"}, "500x10"),
            _series("kafka_server_replicamanager_partitioncount", node, f"{partitions}x10"),
            _series("kafka_server_replicamanager_leadercount", node, f"{leaders}x10"),
            _series("kafka_server_replicamanager_underminisrpartitioncount", node, f"{under}x10"),
            _series("kafka_controller_kafkacontroller_offlinepartitionscount", node, "0x10"),
            # The agent: one series per area.
            _series("jvm_memory_used_bytes", {**node, "area": "heap"}, f"{heap}x10"),
            _series("jvm_memory_used_bytes", {**node, "area": "nonheap"}, "300x10"),
        ]
    automq: list[dict[str, str]] = []
    # n3's AutoMQ series are far off: any of them counted shows in the sums.
    for node, bytes_in, bytes_out, topics, p99, partitions, offline, pools in (
        (n2, 50, 20, {"a": 2, "b": 4}, 7, 20, 3, {"G1 Old Gen": 900, "G1 Eden Space": 60}),
        (n3, 5000, 6000, {"a": 7000}, 99, 99, 7, {"G1 Old Gen": 5000}),
    ):
        io = "kafka_broker_network_io_bytes_total"
        automq += [
            _series(io, {**node, "direction": "in"}, _counter(bytes_in)),
            _series(io, {**node, "direction": "out"}, _counter(bytes_out)),
            *(
                _series(
                    "kafka_message_count_total",
                    {**node, "direction": "in", "topic": topic},
                    _counter(rate),
                )
                for topic, rate in topics.items()
            ),
            _series(
                "kafka_request_time_99p_milliseconds", {**node, "type": "Produce"}, f"{p99}x10"
            ),
            _series("kafka_request_time_99p_milliseconds", {**node, "type": "Fetch"}, "300x10"),
            _series("kafka_partition_count", node, f"{partitions}x10"),
            _series("kafka_partition_offline_count", node, f"{offline}x10"),
            # OpenTelemetry: one series per pool, heap and non-heap.
            *(
                _series(
                    "jvm_memory_used_bytes",
                    {**node, "jvm_memory_type": "heap", "jvm_memory_pool_name": pool},
                    f"{used}x10",
                )
                for pool, used in pools.items()
            ),
            _series(
                "jvm_memory_used_bytes",
                {**node, "jvm_memory_type": "non_heap", "jvm_memory_pool_name": "Metaspace"},
                "200x10",
            ),
        ]
    return jmx + automq


def _chart_expr_tests() -> list[dict[str, object]]:
    tests: list[dict[str, object]] = []
    for chart in CHARTS:
        for query in chart.queries:
            expected = CHART_EXPECTED[(chart.key, query.label)]
            if query.by_node:
                assert isinstance(expected, dict), (chart.key, query.label)
                samples = [
                    {"labels": f'{{node="{node}"}}', "value": value}
                    for node, value in expected.items()
                ]
            else:
                assert not isinstance(expected, dict), (chart.key, query.label)
                samples = [{"labels": "{}", "value": expected}]
            tests.append(
                {
                    "expr": query.expr.replace("{w}", RATE_WINDOW),
                    "eval_time": "5m",
                    "exp_samples": samples,
                }
            )
    return tests


def test_the_chart_queries_read_both_exporters(tmp_path: Path) -> None:
    """Every chart's query, on a cluster whose nodes run different exporters:
    per-node values from whichever exporter a node runs (the JMX agent's where it
    runs both, never both added up), and the cluster's over all nodes."""
    if not PROMTOOL.is_file():
        pytest.fail(f"{PROMTOOL} is missing. {PREPARE_HINT}", pytrace=False)
    queried = {(chart.key, query.label) for chart in CHARTS for query in chart.queries}
    assert queried == CHART_EXPECTED.keys(), "every chart query has expected values"
    case = {
        "interval": "1m",
        "input_series": _chart_input(),
        "promql_expr_test": _chart_expr_tests(),
    }
    _promtool_test_rules(tmp_path, [], [case])
