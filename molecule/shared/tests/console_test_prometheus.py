"""Prometheus on the console host scrapes every broker and probes every certificate
(scenario cluster only).

The brokers run the Prometheus JMX exporter agent (the Kafka-based fixture has
no AutoMQ exporter); Prometheus's targets come from the inventory. Prometheus
serves HTTPS only (a certificate from the cluster CA naming the host's address)
and wants its password for the UI and the API alike.
"""

from __future__ import annotations

import socket
import ssl

import pytest
from console_hosts import (
    CA_FILE,
    CONSOLE,
    CONSOLE_ADDRESS,
    CONSOLE_PORT,
    JMX_EXPORTER_PORT,
    NODE_ADDRESSES,
    PROMETHEUS,
)
from prometheus_api import PORT, get, jmx_targets_problem, poll

BROKER_METRIC = "kafka_server_replicamanager_leadercount"
EXPECTED = {f"{address}:{JMX_EXPORTER_PORT}" for address in NODE_ADDRESSES.values()}


def test_every_broker_target_is_up():
    poll(lambda: jmx_targets_problem(PROMETHEUS, EXPECTED))


def test_a_broker_metric_is_queryable():
    def check():
        result = get(PROMETHEUS, "/api/v1/query", query=BROKER_METRIC)["result"]
        instances = {series["metric"]["instance"] for series in result}
        if instances != EXPECTED:
            return f"{BROKER_METRIC} from {sorted(instances)}, expected {sorted(EXPECTED)}"
        # A partition count per broker: a whole number, never negative.
        values = [float(series["value"][1]) for series in result]
        return None if all(v >= 0 and v.is_integer() for v in values) else f"values {values}"

    poll(check)


# What the role's alert rules read from the JMX exporter, on this healthy cluster:
# (query, the value it must have). A rule whose series the exporter does not
# produce would never fire; these show the names are the agent's.
HEALTHY = [
    ("sum(kafka_controller_kafkacontroller_activecontrollercount)", 1.0),
    ("max(kafka_controller_kafkacontroller_offlinepartitionscount)", 0.0),
    ("max(kafka_controller_kafkacontroller_fencedbrokercount)", 0.0),
    ('count(jvm_memory_max_bytes{area="heap"} > 0)', float(len(NODE_ADDRESSES))),
]


def test_the_alert_rules_are_loaded_and_quiet_on_a_healthy_cluster():
    def check():
        groups = get(PROMETHEUS, "/api/v1/rules")["groups"]
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        if not {"AutoMQNodeDown", "AutoMQOfflinePartitions", "AutoMQNoActiveController"} <= set(
            rules
        ):
            return f"rules loaded: {sorted(rules)}"
        unhealthy = {
            name: rule.get("lastError") for name, rule in rules.items() if rule["health"] != "ok"
        }
        if unhealthy:
            return f"rules not evaluated cleanly: {unhealthy}"
        for query, expected in HEALTHY:
            result = get(PROMETHEUS, "/api/v1/query", query=query)["result"]
            values = [float(series["value"][1]) for series in result]
            if values != [expected]:
                return f"{query}: {values}, expected [{expected}]"
        firing = [
            alert["labels"]
            for alert in get(PROMETHEUS, "/api/v1/alerts")["alerts"]
            if alert["state"] == "firing"
        ]
        return f"alerts firing on a healthy cluster: {firing}" if firing else None

    poll(check)


@pytest.mark.parametrize("path", ["/-/ready", "/api/v1/targets", "/graph"])
def test_nothing_is_served_without_the_password(path):
    assert PROMETHEUS.status_without_password(path) == 401


def test_a_wrong_password_is_refused():
    import urllib.error
    import urllib.request

    request = PROMETHEUS.request("/api/v1/targets", (PROMETHEUS.username, "not-the-password"))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10, context=PROMETHEUS.tls())
    assert refused.value.code == 401


def test_plain_http_and_old_tls_are_refused():
    # Go's server answers plain HTTP on a TLS port with 400 and nothing else.
    with socket.create_connection((CONSOLE_ADDRESS, PORT), timeout=10) as plain:
        plain.sendall(b"GET /-/ready HTTP/1.1\r\nHost: prometheus\r\n\r\n")
        assert plain.recv(4096).startswith(b"HTTP/1.0 400")
    old = PROMETHEUS.tls()
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with (
        socket.create_connection((CONSOLE_ADDRESS, PORT), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        old.wrap_socket(raw, server_hostname=CONSOLE_ADDRESS)


def _not_after(address: str, port: int) -> float:
    """The expiry of the certificate served on address:port, verified against the cluster CA
    (the name aside: the probes reach brokers by their advertised names)."""
    context = ssl.create_default_context(cafile=str(CA_FILE))
    context.check_hostname = False
    with (
        socket.create_connection((address, port), timeout=10) as raw,
        context.wrap_socket(raw) as tls,
    ):
        certificate = tls.getpeercert()
    assert certificate, f"{address}:{port} showed no certificate"
    return float(ssl.cert_time_to_seconds(str(certificate["notAfter"])))


def test_every_certificate_is_probed_with_its_expiry():
    # The blackbox exporter on the console host shakes hands with every broker's
    # client listener and with the console's and Prometheus's HTTPS ports;
    # Prometheus keeps what each certificate says of its expiry. The expiry must
    # be the one each endpoint shows this test, and the alert rule must read it.
    expected = {
        **{("client listener", name): (address, 9092) for name, address in NODE_ADDRESSES.items()},
        ("console", CONSOLE): (CONSOLE_ADDRESS, CONSOLE_PORT),
        ("prometheus", CONSOLE): (CONSOLE_ADDRESS, PORT),
    }
    shown = {key: _not_after(*where) for key, where in expected.items()}

    def by_endpoint(query: str) -> dict[tuple[str, str], float]:
        result = get(PROMETHEUS, "/api/v1/query", query=query)["result"]
        return {
            (series["metric"]["endpoint"], series["metric"]["node"]): float(series["value"][1])
            for series in result
        }

    def check():
        succeeded = by_endpoint('probe_success{job="automq-certificates"}')
        if succeeded != dict.fromkeys(expected, 1.0):
            return f"probes {succeeded}, expected every one of {sorted(expected)} to succeed"
        expiries = by_endpoint('probe_ssl_earliest_cert_expiry{job="automq-certificates"}')
        return None if expiries == shown else f"expiries {expiries}, shown {shown}"

    poll(check)
    rules = {
        rule["name"]: rule
        for group in get(PROMETHEUS, "/api/v1/rules")["groups"]
        for rule in group["rules"]
    }
    assert "probe_ssl_earliest_cert_expiry" in rules["AutoMQCertificateExpiresSoon"]["query"]
    assert rules["AutoMQCertificateExpiresSoon"]["health"] == "ok"
