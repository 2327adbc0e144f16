"""The automq role's templates and computed variables, rendered by real Ansible on localhost.

No host is needed: one playbook renders every case of this module (``CASES``), each in a
play of its own that loads the role's defaults and vars and then the case's variables
(later files win, as extra variables would), sets the facts the preflight would set, and
renders each template with Ansible's template lookup, the engine of the role's template
tasks (the two gave the same bytes for every case here). One ansible-playbook run and no
module on localhost instead of a run per case and two modules per file: writing the files,
not rendering them, was most of each test's time.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import private_dir_in, rendered_templates_expression, run_playbook

from automq_helpers.properties import parse_properties

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = ("server.properties", "automq.service", "credentials.env")
FILES = rendered_templates_expression(
    REPO / "roles/automq/templates",
    TEMPLATES,
    {"computed.json": "{'heap': __automq_heap_opts} | to_json"},
)

PLAY = """
- name: Render {name}
  hosts: {host}
  gather_facts: false
  vars_files:
    - {repo}/roles/automq/defaults/main.yml
    - {repo}/roles/automq/vars/main.yml
    - {case_vars}
  tasks:
    - ansible.builtin.set_fact:
        ansible_facts: {{memtotal_mb: {memtotal_mb}}}
        __automq_node_id: {node_id}
        __automq_quorum_voters: 0@10.9.0.11:9093,1@10.9.0.12:9093,2@10.9.0.13:9093
        __automq_quorum_bootstrap_servers: 10.9.0.11:9093,10.9.0.12:9093,10.9.0.13:9093
    - name: Files of {name}
      ansible.builtin.debug:
        msg: "{{{{ {files} }}}}"
"""

INVENTORY = """
all:
  children:
    automq_controller:
      hosts: {{combined: {{ansible_host: 10.9.0.11}}, controller_only: {{ansible_host: 10.9.0.12}}}}
    automq_broker:
      hosts: {{combined: {{}}, broker_only: {{ansible_host: 10.9.0.21}}}}
  vars:
    ansible_connection: local
    ansible_python_interpreter: {python}
"""

BASE_VARS = {
    "automq_oss_region": "cn-hangzhou",
    "automq_oss_data_bucket": "prod-data",
    "automq_oss_ops_bucket": "prod-ops",
    "automq_oss_access_key_id": "LTAIexample",
    "automq_oss_access_key_secret": "example-secret-value",
    "automq_version": "1.7.3",
    "automq_cluster_name": "prod",
}
MIGRATION = {
    "automq_security_migration_broker_port": 9192,
    "automq_security_migration_controller_port": 9193,
}
HEAP_SIZES = [(15884, "6g"), (16384, "6g"), (7820, "3g"), (32000, "12g"), (2000, "768m")]
EXPORTER_ADDRESSES: list[tuple[dict[str, str], str]] = [
    ({}, "10.9.0.11"),  # ansible_host is an IPv4 address
    ({"alicloud_private_ip": "172.16.0.9"}, "172.16.0.9"),  # provisioning knows better
    ({"ansible_host": "node-1.example.com"}, ""),  # a name: every interface
    ({"automq_private_address": "10.9.0.99"}, "10.9.0.99"),
]


@dataclass(frozen=True)
class Case:
    host: str = "combined"
    node_id: int = 0
    memtotal_mb: int = 15884
    extra: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "secure": Case(),
    "plaintext": Case(extra={"automq_security": "plaintext"}),
    "broker-only": Case("broker_only", 1000),
    "controller-only": Case("controller_only", 1),
    "broker-only-plaintext": Case("broker_only", 1000, extra={"automq_security": "plaintext"}),
    **{
        f"migration-{phase}": Case(extra={"automq_security_migration": phase, **MIGRATION})
        for phase in ("listeners", "internal", "finish")
    },
    **{
        f"broker-only-migration-{phase}": Case(
            "broker_only", 1000, extra={"automq_security_migration": phase, **MIGRATION}
        )
        for phase in ("listeners", "internal")
    },
    "public": Case(extra={"automq_external_advertised_host": "198.51.100.7"}),
    "controller-only-public": Case(
        "controller_only", 1, extra={"automq_external_advertised_host": "198.51.100.9"}
    ),
    "overrides": Case(
        extra={
            "automq_oss_use_internal_endpoint": False,
            "automq_server_properties_overrides": {
                "num.io.threads": 16,
                "elasticstream.enable": False,
            },
        }
    ),
    **{f"heap-{memtotal}": Case(memtotal_mb=memtotal) for memtotal, _ in HEAP_SIZES},
    "heap-given": Case(extra={"automq_heap_opts": "-Xms2g -Xmx2g"}),
    "heap-given-with-direct-memory": Case(
        extra={"automq_heap_opts": "-Xms3g -Xmx3g -XX:MaxDirectMemorySize=4g"}
    ),
    "bandwidth-of-the-type": Case(extra={"automq_ecs_instance_bandwidth_kbps": 2048000}),
    "bandwidth-given": Case(
        extra={
            "automq_ecs_instance_bandwidth_kbps": 2048000,
            "automq_network_baseline_bandwidth": 125000000,
        }
    ),
    **{
        f"exporters-{index}": Case(extra={"automq_jmx_exporter_enabled": True, **extra})
        for index, (extra, _) in enumerate(EXPORTER_ADDRESSES)
    },
    "kafka-opts": Case(extra={"automq_kafka_opts": "-Dfoo=bar"}),
    "kafka-opts-with-a-percent": Case(
        extra={"automq_kafka_opts": "-XX:OnOutOfMemoryError=kill-%p"}
    ),
}


Rendered = dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Case name -> file name -> the rendered file, from one run of every case."""
    root = tmp_path_factory.mktemp("role-templates")
    (root / "inventory.yml").write_text(INVENTORY.format(python=sys.executable))
    plays = []
    for name, case in CASES.items():
        case_vars = root / f"{name}.json"
        case_vars.write_text(json.dumps({**BASE_VARS, **case.extra}))
        plays.append(
            PLAY.format(
                name=name,
                host=case.host,
                repo=REPO,
                case_vars=case_vars,
                node_id=case.node_id,
                memtotal_mb=case.memtotal_mb,
                files=FILES,
            )
        )
    (root / "play.yml").write_text("".join(plays))
    run = run_playbook(private_dir_in(root), root / "play.yml", inventory=root / "inventory.yml")
    assert run.rc == 0, run.describe()
    files = {
        name: run.results(case.host)[f"Files of {name}"].get("msg") for name, case in CASES.items()
    }
    assert all(isinstance(found, dict) for found in files.values()), files
    return files


def properties(rendered: Rendered, case: str) -> dict[str, str]:
    return parse_properties(rendered[case]["server.properties"])


COMMON_PROPERTIES = {
    "node.id": "0",
    "process.roles": "broker,controller",
    "controller.quorum.voters": "0@10.9.0.11:9093,1@10.9.0.12:9093,2@10.9.0.13:9093",
    "controller.quorum.bootstrap.servers": "10.9.0.11:9093,10.9.0.12:9093,10.9.0.13:9093",
    "controller.listener.names": "CONTROLLER",
    "log.dirs": "/var/lib/automq/kraft-metadata",
    "metadata.log.dir": "/var/lib/automq/kraft-metadata",
    "elasticstream.enable": "true",
    "s3.data.buckets": "0@s3://prod-data?region=oss-cn-hangzhou&"
    "endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com",
    "s3.ops.buckets": "1@s3://prod-ops?region=oss-cn-hangzhou&"
    "endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com",
    "s3.wal.path": "0@s3://prod-data?region=oss-cn-hangzhou&"
    "endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com",
    # The exporter binds the node's private address (automq_private_address: ansible_host).
    "s3.telemetry.metrics.exporter.uri": "prometheus://?host=10.9.0.11&port=9464",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    # Direct memory is sized (MaxDirectMemorySize): AutoMQ's buffers and caches go there.
    "s3.stream.allocator.policy": "POOLED_DIRECT",
}
TLS = "/etc/automq/tls"
# AutoMQ's own KAFKA_OPTS defaults (bin/kafka-server-start.sh:75-77 at 1.7.3), kept first.
SAFETY_OPTS = (
    "-XX:+ExitOnOutOfMemoryError -XX:+HeapDumpOnOutOfMemoryError "
    "-XX:HeapDumpPath=/var/log/automq -Dio.netty.allocator.maxOrder=11"
)
BALANCER_TLS = {
    f"{prefix}{key}": value
    for prefix in ("autobalancer.reporter.", "autobalancer.client.auth.")
    for key, value in {
        "security.protocol": "SSL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": f"{TLS}/node-keystore.pem",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": f"{TLS}/ca.crt",
    }.items()
}


def test_combined_node_properties_are_secure_by_default(rendered: Rendered) -> None:
    files = rendered["secure"]
    props = parse_properties(files["server.properties"])
    assert props == {
        **COMMON_PROPERTIES,
        "listener.security.protocol.map": "CONTROLLER:SSL,INTERNAL:SSL,CLIENT:SASL_SSL",
        "listeners": "CLIENT://:9092,INTERNAL://:9094,CONTROLLER://:9093",
        "advertised.listeners": "CLIENT://10.9.0.11:9092,INTERNAL://10.9.0.11:9094",
        "inter.broker.listener.name": "INTERNAL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": f"{TLS}/node-keystore.pem",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": f"{TLS}/ca.crt",
        "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT",
        "listener.name.controller.ssl.client.auth": "required",
        "listener.name.internal.ssl.client.auth": "required",
        "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.client.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:automq-node.prod;User:admin",
        "autobalancer.client.listener.name": "INTERNAL",
        **BALANCER_TLS,
    }
    # The secret lives only in the environment file.
    assert "example-secret-value" not in files["server.properties"]
    assert "example-secret-value" not in files["automq.service"]
    assert "AWS_SECRET_ACCESS_KEY=example-secret-value" in files["credentials.env"]


def test_combined_node_properties_plaintext_opt_out(rendered: Rendered) -> None:
    props = properties(rendered, "plaintext")
    assert props == {
        **COMMON_PROPERTIES,
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "advertised.listeners": "PLAINTEXT://10.9.0.11:9092",
        "inter.broker.listener.name": "PLAINTEXT",
    }


def test_broker_only_and_controller_only_listeners(rendered: Rendered) -> None:
    broker = properties(rendered, "broker-only")
    assert broker["process.roles"] == "broker"
    assert broker["listeners"] == "CLIENT://:9092,INTERNAL://:9094"
    assert broker["advertised.listeners"] == "CLIENT://10.9.0.21:9092,INTERNAL://10.9.0.21:9094"
    # A broker-only node still reaches the controllers over TLS with its certificate.
    assert broker["listener.security.protocol.map"].startswith("CONTROLLER:SSL,")

    controller = properties(rendered, "controller-only")
    assert controller["process.roles"] == "controller"
    assert controller["listeners"] == "CONTROLLER://:9093"
    assert controller["listener.name.controller.ssl.client.auth"] == "required"
    assert "advertised.listeners" not in controller
    assert "inter.broker.listener.name" not in controller
    assert not any(key.startswith("autobalancer.") for key in controller)

    broker = properties(rendered, "broker-only-plaintext")
    assert broker["listeners"] == "PLAINTEXT://:9092"
    assert broker["advertised.listeners"] == "PLAINTEXT://10.9.0.21:9092"


def test_the_migration_phases_keep_plaintext_beside_tls(rendered: Rendered) -> None:
    """A plaintext cluster on 9192/9193 migrating to secure on 9092/9093: the first phase
    adds the TLS listeners and keeps every connection between nodes in clear, the second
    moves the nodes onto TLS under an authorizer that still allows everyone; the plaintext
    listeners stay on their ports until the end."""
    secure = properties(rendered, "secure")
    phases = {
        phase: properties(rendered, f"migration-{phase}")
        for phase in ("listeners", "internal", "finish")
    }
    both = (
        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER_TLS:SSL,INTERNAL:SSL,CLIENT:SASL_SSL"
    )
    listeners = "CLIENT://:9092,INTERNAL://:9094,PLAINTEXT://:9192,CONTROLLER://:9193,CONTROLLER_TLS://:9093"
    advertised = "CLIENT://10.9.0.11:9092,INTERNAL://10.9.0.11:9094,PLAINTEXT://10.9.0.11:9192"
    first, second = phases["listeners"], phases["internal"]
    for props in (first, second):
        assert props["listener.security.protocol.map"] == both
        assert props["listeners"] == listeners
        assert props["advertised.listeners"] == advertised
        assert props["listener.name.controller_tls.ssl.client.auth"] == "required"
        assert "listener.name.controller.ssl.client.auth" not in props
    assert first["controller.listener.names"] == "CONTROLLER,CONTROLLER_TLS"
    assert first["inter.broker.listener.name"] == "PLAINTEXT"
    assert not any(
        key.startswith(("authorizer.", "allow.", "super.", "autobalancer.")) for key in first
    )
    assert second["controller.listener.names"] == "CONTROLLER_TLS,CONTROLLER"
    assert second["inter.broker.listener.name"] == "INTERNAL"
    assert second["allow.everyone.if.no.acl.found"] == "true"
    assert second["super.users"] == secure["super.users"]
    assert second["autobalancer.client.listener.name"] == "INTERNAL"
    # The last phase is the secure configuration itself.
    assert phases["finish"] == secure


def test_a_broker_only_node_reaches_the_controllers_as_the_phase_says(rendered: Rendered) -> None:
    for phase, first_controller in (("listeners", "CONTROLLER"), ("internal", "CONTROLLER_TLS")):
        props = properties(rendered, f"broker-only-migration-{phase}")
        assert props["controller.listener.names"].split(",")[0] == first_controller
        assert props["listeners"] == "CLIENT://:9092,INTERNAL://:9094,PLAINTEXT://:9192"
        assert "CONTROLLER_TLS:SSL" in props["listener.security.protocol.map"]


def test_public_access_adds_an_external_sasl_ssl_listener(rendered: Rendered) -> None:
    """A broker with a public address gets the EXTERNAL listener (SASL_SSL, SCRAM) on its
    own port, advertised there; everything else stays as it was."""
    secure = properties(rendered, "secure")
    public = properties(rendered, "public")
    added = {key: value for key, value in public.items() if secure.get(key) != value}
    assert added == {
        "listener.security.protocol.map": (
            "CONTROLLER:SSL,INTERNAL:SSL,CLIENT:SASL_SSL,EXTERNAL:SASL_SSL"
        ),
        "listeners": "CLIENT://:9092,INTERNAL://:9094,EXTERNAL://:9095,CONTROLLER://:9093",
        "advertised.listeners": (
            "CLIENT://10.9.0.11:9092,INTERNAL://10.9.0.11:9094,EXTERNAL://198.51.100.7:9095"
        ),
        "listener.name.external.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.external.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
    }
    assert set(secure) <= set(public)
    # A controller-only node has no client listener to publish.
    controller = properties(rendered, "controller-only-public")
    assert "EXTERNAL" not in controller["listeners"]


def test_overrides_win_and_public_endpoint(rendered: Rendered) -> None:
    props = properties(rendered, "overrides")
    assert props["num.io.threads"] == "16"
    assert props["elasticstream.enable"] == "false"
    assert "endpoint=https://oss-cn-hangzhou.aliyuncs.com" in props["s3.data.buckets"]


@pytest.mark.parametrize(("memtotal_mb", "size"), HEAP_SIZES)
def test_heap_sized_from_host_memory(rendered: Rendered, memtotal_mb: int, size: str) -> None:
    files = rendered[f"heap-{memtotal_mb}"]
    heap = json.loads(files["computed.json"])["heap"]
    assert heap == f"-Xms{size} -Xmx{size} -XX:MaxDirectMemorySize={size}"
    assert f'Environment="KAFKA_HEAP_OPTS={heap}"' in files["automq.service"]


def test_heap_override_is_used_as_given(rendered: Rendered) -> None:
    files = rendered["heap-given"]
    assert json.loads(files["computed.json"])["heap"] == "-Xms2g -Xmx2g"
    # No direct memory given: AutoMQ's default allocator (on the heap) stays.
    assert "s3.stream.allocator.policy" not in parse_properties(files["server.properties"])
    props = properties(rendered, "heap-given-with-direct-memory")
    assert props["s3.stream.allocator.policy"] == "POOLED_DIRECT"


def test_object_storage_bandwidth_follows_the_instance_type(rendered: Rendered) -> None:
    # Unknown (0, the default): AutoMQ's own default stays.
    props = properties(rendered, "secure")
    assert "s3.network.baseline.bandwidth" not in props
    # The inventory's kbit/s figure, in bytes per second.
    assert properties(rendered, "bandwidth-of-the-type")["s3.network.baseline.bandwidth"] == (
        "256000000"
    )
    # Set by the user: that figure, whatever the type says.
    assert properties(rendered, "bandwidth-given")["s3.network.baseline.bandwidth"] == ("125000000")


def test_unit_file(rendered: Rendered) -> None:
    unit = rendered["secure"]["automq.service"]
    for line in (
        "Type=simple",
        "User=automq",
        "EnvironmentFile=/etc/automq/credentials.env",
        "ExecStart=/opt/automq/current/bin/kafka-server-start.sh /etc/automq/server.properties",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=180",
        "Restart=on-failure",
        "LimitNOFILE=1048576",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/automq /var/log/automq",
    ):
        assert line in unit.splitlines(), line
    assert not any(line.startswith("MemoryDenyWriteExecute") for line in unit.splitlines())


@pytest.mark.parametrize(
    ("index", "address"), [(i, a) for i, (_, a) in enumerate(EXPORTER_ADDRESSES)]
)
def test_metrics_exporters_bind_the_private_address(
    rendered: Rendered, index: int, address: str
) -> None:
    files = rendered[f"exporters-{index}"]
    props = parse_properties(files["server.properties"])
    assert props["s3.telemetry.metrics.exporter.uri"] == (
        f"prometheus://?host={address or '0.0.0.0'}&port=9464"
    )
    agent = "-javaagent:/opt/automq/jmx_prometheus_javaagent-1.0.1.jar="
    bind = f"{address}:" if address else ""
    assert (
        f'"KAFKA_OPTS={SAFETY_OPTS} {agent}{bind}9404:/etc/automq/jmx-exporter.yml"'
        in (files["automq.service"])
    )


def test_automqs_jvm_safety_flags_are_kept(rendered: Rendered) -> None:
    """Without extra options as with them, AutoMQ's default KAFKA_OPTS come first."""
    plain = rendered["secure"]["automq.service"]
    assert f'Environment="KAFKA_OPTS={SAFETY_OPTS}"' in plain.splitlines()
    extra = rendered["kafka-opts"]["automq.service"]
    assert f'Environment="KAFKA_OPTS={SAFETY_OPTS} -Dfoo=bar"' in extra.splitlines()
    # systemd would expand %p (its unit prefix): written %%p, the JVM gets %p (its PID).
    escaped = rendered["kafka-opts-with-a-percent"]["automq.service"]
    assert f'Environment="KAFKA_OPTS={SAFETY_OPTS} -XX:OnOutOfMemoryError=kill-%%p"' in (
        escaped.splitlines()
    )
