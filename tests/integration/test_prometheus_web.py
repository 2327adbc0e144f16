"""The console role's Prometheus files against Debian's real Prometheus (2.42 on bookworm).

The role's templates (prometheus-web.yml, prometheus.yml, prometheus.default) are
rendered by real Ansible on localhost, with a test CA's certificate and the bcrypt
hash that ``python -m automq_console.passwords hash --scheme bcrypt`` makes of a
generated password, as the role does. Then:

* ``promtool check web-config`` and ``promtool check config`` accept them (the role's
  ``validate`` steps on the host);
* Prometheus itself, started on 127.0.0.1 with the rendered command-line settings,
  serves HTTPS only (TLS 1.2 or newer, no CBC suites), a certificate that the CA
  verifies, and nothing without the password.

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

from .conftest import PREPARE_HINT, REPO, TESTBED_DIR

sys.path.insert(0, str(REPO / "tests" / "unit" / "console"))
from console_fakes import PkiFiles, make_pki

PROMETHEUS = TESTBED_DIR / "prometheus" / "usr" / "bin" / "prometheus"
PROMTOOL = TESTBED_DIR / "prometheus" / "usr" / "bin" / "promtool"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
PASSWORD = "prometheus-Password-0123456789"
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
              metrics_host: 127.0.0.1, metrics: [{{exporter: jmx, port: 1}}]}}
        __automq_console_prometheus_tls_files: {{cert: "{cert}", key: "{key}"}}
        __automq_console_prometheus_hash: "{hash}"
    - ansible.builtin.template:
        src: {repo}/roles/automq_console/templates/{{{{ item }}}}.j2
        dest: {out}/{{{{ item }}}}
        mode: "0600"
      loop: [prometheus-web.yml, prometheus.yml, prometheus.default]
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


def _render(directory: Path, pki: PkiFiles, port: int) -> Path:
    out = directory / "rendered"
    out.mkdir()
    play = directory / "play.yml"
    play.write_text(
        RENDER.format(
            repo=REPO, out=out, cert=pki.cert_file, key=pki.key_file, hash=_bcrypt_hash(PASSWORD)
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
            }
        )
    )
    run = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(play), "-e", f"@{extra}"],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not PROMETHEUS.is_file() or not PROMTOOL.is_file():
        pytest.fail(f"{PROMETHEUS} is missing. {PREPARE_HINT}", pytrace=False)
    directory = tmp_path_factory.mktemp("prometheus")
    pki = make_pki(directory / "pki", common_name="automq-prometheus.prod")
    port = _free_port()
    files = _render(directory, pki, port)
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
    for command, name in (("web-config", "prometheus-web.yml"), ("config", "prometheus.yml")):
        checked = subprocess.run(
            [str(PROMTOOL), "check", command, str(served.files / name)],
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
    # The scrape target of the role's prometheus.yml appears once discovery ran.
    deadline = time.monotonic() + 30
    while True:
        status, body = _status(served, "/api/v1/targets", ("prometheus", PASSWORD))
        assert status == 200
        instances = [t["labels"]["instance"] for t in json.loads(body)["data"]["activeTargets"]]
        if instances or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert instances == ["127.0.0.1:1"]


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
