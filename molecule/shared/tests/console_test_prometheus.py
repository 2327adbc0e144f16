"""Prometheus on the console host scrapes every broker (scenario cluster only).

The brokers run the Prometheus JMX exporter agent (the Kafka-based fixture has
no AutoMQ exporter); Prometheus's targets come from the inventory.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

from console_hosts import JMX_EXPORTER_PORT, NODE_ADDRESSES, PROMETHEUS_URL

DEADLINE_SECONDS = 120
BROKER_METRIC = "kafka_server_replicamanager_leadercount"


def _get(path: str, **params: str) -> dict:
    url = f"{PROMETHEUS_URL}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]


def _poll(check):
    """Poll ``check`` (returns a failure message or None) until it passes or time runs out."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        problem = check()
        if problem is None:
            return
        assert time.monotonic() < deadline, problem
        time.sleep(2)


def test_every_broker_target_is_up():
    expected = {f"{address}:{JMX_EXPORTER_PORT}" for address in NODE_ADDRESSES.values()}

    def check():
        targets = _get("/api/v1/targets", state="active")["activeTargets"]
        jmx = {t["labels"]["instance"]: t for t in targets if t["labels"]["job"] == "automq-jmx"}
        if set(jmx) != expected:
            return f"automq-jmx targets {sorted(jmx)}, expected {sorted(expected)}"
        down = {name: t.get("lastError") for name, t in jmx.items() if t["health"] != "up"}
        return f"targets not up: {down}" if down else None

    _poll(check)


def test_a_broker_metric_is_queryable():
    def check():
        result = _get("/api/v1/query", query=BROKER_METRIC)["result"]
        instances = {series["metric"]["instance"] for series in result}
        expected = {f"{address}:{JMX_EXPORTER_PORT}" for address in NODE_ADDRESSES.values()}
        if instances != expected:
            return f"{BROKER_METRIC} from {sorted(instances)}, expected {sorted(expected)}"
        # A partition count per broker: a whole number, never negative.
        values = [float(series["value"][1]) for series in result]
        return None if all(v >= 0 and v.is_integer() for v in values) else f"values {values}"

    _poll(check)
