"""Prometheus's HTTP API, as the scenarios with a console host read it.

Shared by console_test_prometheus.py (cluster) and test_scale.py (scale), whose
Prometheus scrapes the brokers' JMX exporter agents (job ``automq-jmx``).
Prometheus serves HTTPS only, with a certificate from the cluster CA, behind
basic authentication: the tests trust the CA (``AUTOMQ_CA_FILE``) and log in
with the password the deploy generated on this machine
(``AUTOMQ_PROMETHEUS_PASSWORD_FILE``), as an operator would.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

JMX_JOB = "automq-jmx"
DEADLINE_SECONDS = 120
PORT = 9090
USERNAME = "prometheus"


@dataclass(frozen=True)
class Prometheus:
    """Where Prometheus is and how to reach it: its HTTPS URL, the CA, its credentials."""

    url: str
    ca_file: Path
    username: str = USERNAME
    password: str = field(default="", repr=False)

    @classmethod
    def of_scenario(cls, address: str) -> Prometheus:
        """The scenario's Prometheus on ``address``, with the CA and password of this run."""
        ca_file = Path(os.environ["AUTOMQ_CA_FILE"])
        password_file = Path(os.environ["AUTOMQ_PROMETHEUS_PASSWORD_FILE"])
        assert ca_file.is_file(), f"{ca_file} (AUTOMQ_CA_FILE): the deploy made no cluster CA"
        assert password_file.is_file(), f"{password_file}: the deploy wrote no Prometheus password"
        return cls(
            f"https://{address}:{PORT}", ca_file, USERNAME, password_file.read_text().strip()
        )

    def tls(self) -> ssl.SSLContext:
        """Verifies Prometheus's certificate against the cluster CA, and its name."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(
        self, path: str, credentials: tuple[str, str] | None = None
    ) -> urllib.request.Request:
        """A request to ``path``; with this Prometheus's credentials unless others are given."""
        username, password = credentials or (self.username, self.password)
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return urllib.request.Request(
            f"{self.url}{path}", headers={"Authorization": f"Basic {token}"}
        )

    def status_without_password(self, path: str) -> int:
        """The HTTP status of ``path`` asked without any credentials (over verified TLS)."""
        try:
            with urllib.request.urlopen(
                f"{self.url}{path}", timeout=10, context=self.tls()
            ) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code


def get(prometheus: Prometheus, path: str, **params: str) -> dict:
    if params:
        path += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(
        prometheus.request(path), timeout=10, context=prometheus.tls()
    ) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def poll(check: Callable[[], str | None], deadline_seconds: float = DEADLINE_SECONDS) -> None:
    """Poll ``check`` (returns a failure message or None) until it passes or time runs out."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        problem = check()
        if problem is None:
            return
        assert time.monotonic() < deadline, problem
        time.sleep(2)


def jmx_targets_problem(
    prometheus: Prometheus, expected: set[str], node_ids: dict[str, int] | None = None
) -> str | None:
    """None when the JMX job's active targets are exactly ``expected`` (host:port), all up,
    and labelled with the node IDs given in ``node_ids`` (host:port -> node.id), if any."""
    targets = get(prometheus, "/api/v1/targets", state="active")["activeTargets"]
    jmx = {t["labels"]["instance"]: t for t in targets if t["labels"]["job"] == JMX_JOB}
    if set(jmx) != expected:
        return f"{JMX_JOB} targets {sorted(jmx)}, expected {sorted(expected)}"
    labelled = {name: int(jmx[name]["labels"]["node_id"]) for name in node_ids or {}}
    if node_ids and labelled != node_ids:
        return f"{JMX_JOB} node_id labels {labelled}, expected {node_ids}"
    down = {name: t.get("lastError") for name, t in jmx.items() if t["health"] != "up"}
    return f"targets not up: {down}" if down else None
