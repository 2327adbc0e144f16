"""Prometheus on the console host scrapes every broker (scenario cluster only).

The brokers run the Prometheus JMX exporter agent (the Kafka-based fixture has
no AutoMQ exporter); Prometheus's targets come from the inventory.
"""

from __future__ import annotations

from console_hosts import JMX_EXPORTER_PORT, NODE_ADDRESSES, PROMETHEUS_URL
from prometheus_api import get, jmx_targets_problem, poll

BROKER_METRIC = "kafka_server_replicamanager_leadercount"
EXPECTED = {f"{address}:{JMX_EXPORTER_PORT}" for address in NODE_ADDRESSES.values()}


def test_every_broker_target_is_up():
    poll(lambda: jmx_targets_problem(PROMETHEUS_URL, EXPECTED))


def test_a_broker_metric_is_queryable():
    def check():
        result = get(PROMETHEUS_URL, "/api/v1/query", query=BROKER_METRIC)["result"]
        instances = {series["metric"]["instance"] for series in result}
        if instances != EXPECTED:
            return f"{BROKER_METRIC} from {sorted(instances)}, expected {sorted(EXPECTED)}"
        # A partition count per broker: a whole number, never negative.
        values = [float(series["value"][1]) for series in result]
        return None if all(v >= 0 and v.is_integer() for v in values) else f"values {values}"

    poll(check)
