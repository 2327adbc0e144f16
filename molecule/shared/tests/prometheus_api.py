"""Prometheus's HTTP API, as the scenarios with a console host read it.

Shared by console_test_prometheus.py (cluster) and test_scale.py (scale), whose
Prometheus scrapes the brokers' JMX exporter agents (job ``automq-jmx``).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable

JMX_JOB = "automq-jmx"
DEADLINE_SECONDS = 120


def get(prometheus_url: str, path: str, **params: str) -> dict:
    url = f"{prometheus_url}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
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
    prometheus_url: str, expected: set[str], node_ids: dict[str, int] | None = None
) -> str | None:
    """None when the JMX job's active targets are exactly ``expected`` (host:port), all up,
    and labelled with the node IDs given in ``node_ids`` (host:port -> node.id), if any."""
    targets = get(prometheus_url, "/api/v1/targets", state="active")["activeTargets"]
    jmx = {t["labels"]["instance"]: t for t in targets if t["labels"]["job"] == JMX_JOB}
    if set(jmx) != expected:
        return f"{JMX_JOB} targets {sorted(jmx)}, expected {sorted(expected)}"
    labelled = {name: int(jmx[name]["labels"]["node_id"]) for name in node_ids or {}}
    if node_ids and labelled != node_ids:
        return f"{JMX_JOB} node_id labels {labelled}, expected {node_ids}"
    down = {name: t.get("lastError") for name, t in jmx.items() if t["health"] != "up"}
    return f"targets not up: {down}" if down else None
