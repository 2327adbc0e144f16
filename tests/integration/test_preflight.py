"""The preflight play checks every input before any host is changed.

Each failing case breaks exactly one input of an otherwise valid inventory,
runs the whole site.yml and asserts that the run stops in the preflight play
with a message naming the variable (or inventory group) and the fix, that
the OSS secret is never printed and that the hosts are untouched. Positive
cases run only playbooks/preflight.yml (nothing after it is under test).

All cases share two test-bed hosts (env ``preflight``); several inventory
hosts may point at the same container when a case needs more hosts.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from playbook_runner import PlaybookRun, run_playbook

from automq_helpers.alicloud.instances import DEFAULT_SUPPORTED_TYPES

from .conftest import (
    FAKE_ACCESS_KEY_SECRET,
    REPO,
    TestbedEnv,
    TestbedHost,
    automq_footprint,
    fixture_package_sha256,
    system_fingerprint,
    valid_group_vars,
    write_inventory,
)

pytestmark = pytest.mark.testbed

ENV_NAME = "preflight"
ENV_SUBNET = "172.30.30.0/24"
ENV_HOSTS = 2

PREFLIGHT_PLAY = "Preflight checks of the AutoMQ cluster"
CONFIGURE_PLAY = "Prepare, install and configure the AutoMQ nodes"
META_PROPERTIES = "/var/lib/automq/kraft-metadata/meta.properties"
DEFAULT_INSTANCE_TYPES = list(DEFAULT_SUPPORTED_TYPES)
# The first tasks that reach a node (the cluster lock where a playbook takes it).
HOST_TASKS = (
    "Take the cluster lock",
    "Read the node's identity, configured security and service state",
)


def inventory_checks() -> set[str]:
    """The role's preflight tasks before it reaches the nodes: they read the inventory alone."""
    tasks = yaml.safe_load((REPO / "roles/automq/tasks/preflight.yml").read_text())
    names = [task["name"] for task in tasks]
    return set(
        names[: names.index("Read the nodes and plan their identity under the cluster lock")]
    )


INVENTORY_CHECKS = inventory_checks()
assert {"Check the OSS bucket names", "Check the inventory groups"} <= INVENTORY_CHECKS


def kafka_cluster_id() -> str:
    """A random cluster ID as `kafka-storage.sh random-uuid` prints it: the 16
    bytes of a random UUID in URL-safe base64 without padding (22 characters),
    never starting with '-'."""
    while True:
        raw = uuid.uuid4().bytes
        candidate = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        if not candidate.startswith("-"):
            return candidate


CLUSTER_ID_A = kafka_cluster_id()
CLUSTER_ID_B = kafka_cluster_id()
assert CLUSTER_ID_A != CLUSTER_ID_B


def meta_properties(cluster_id: str, node_id: int) -> str:
    """meta.properties as `kafka-storage.sh format` writes it (version 1)."""
    directory_id = kafka_cluster_id()
    return (
        "#\n#Written by test_preflight.py\n"
        f"node.id={node_id}\ndirectory.id={directory_id}\nversion=1\ncluster.id={cluster_id}\n"
    )


# --- Fixtures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PreflightBed:
    env: TestbedEnv
    baseline: Mapping[str, str]  # container -> system fingerprint before any run

    @property
    def hosts(self) -> tuple[TestbedHost, ...]:
        return self.env.hosts


@pytest.fixture(scope="module")
def bed(testbed_envs) -> PreflightBed:
    env = testbed_envs(ENV_NAME, ENV_HOSTS, ENV_SUBNET)
    for host in env.hosts:
        assert automq_footprint(host) == set(), f"{host.container} is not a fresh host"
    return PreflightBed(env, {host.container: system_fingerprint(host) for host in env.hosts})


def assert_untouched(bed: PreflightBed, planted: Mapping[int, str] | None = None) -> None:
    """No host carries anything of AutoMQ but the meta.properties planted by
    the test; accounts, packages and system directories are as before."""
    planted = planted or {}
    for index, host in enumerate(bed.hosts):
        expected: set[str] = set()
        if index in planted:
            expected = {
                "path /var/lib/automq",
                "path /var/lib/automq/kraft-metadata",
                f"path {META_PROPERTIES}",
            }
            content = host.sh(f"cat {META_PROPERTIES}").stdout
            assert content == planted[index], f"{host.container}: {META_PROPERTIES} was changed"
        assert automq_footprint(host) == expected, f"{host.container} was changed"
        assert system_fingerprint(host) == bed.baseline[host.container], (
            f"{host.container}: accounts, packages or system directories changed"
        )


@pytest.fixture
def plant(bed: PreflightBed) -> Iterator[dict[int, str]]:
    """Write meta.properties files on hosts by index; removed after the test."""
    planted: dict[int, str] = {}
    yield planted
    for index in planted:
        bed.hosts[index].sh("rm -rf /var/lib/automq")
    for host in bed.hosts:
        assert automq_footprint(host) == set(), f"{host.container}: cleanup left files"


def plant_meta(
    bed: PreflightBed, planted: dict[int, str], index: int, cluster_id: str, node_id: int
):
    content = meta_properties(cluster_id, node_id)
    planted[index] = content
    bed.hosts[index].write_file(META_PROPERTIES, content)


# --- Cases -------------------------------------------------------------------------------

UNSET = "<unset>"  # a group variable that a case removes from the valid set


@dataclass(frozen=True)
class Case:
    """A valid inventory with one input changed."""

    controllers: int = 1  # automq-1 .. automq-N; the broker group holds every host
    vars: Mapping[str, Any] = field(default_factory=dict)  # UNSET removes a variable
    host_vars: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # meta.properties to plant: host index -> (cluster ID, node ID)
    on_hosts: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    names: str = ""  # the variable or group the message must name
    phrases: Sequence[str] = ()  # further key phrases of the message (what to fix)


def inventory_for(bed: PreflightBed, directory: Path, case: Case) -> Path:
    """At least two inventory hosts, automq-1 .. automq-N, spread over the containers."""
    count = max(case.controllers, 2)
    names = [f"automq-{i}" for i in range(1, count + 1)]
    hosts = {name: bed.hosts[i % len(bed.hosts)] for i, name in enumerate(names)}
    group_vars = valid_group_vars(bed.env, cluster_name="preflight")
    for key, value in case.vars.items():
        if value == UNSET:
            group_vars.pop(key, None)
        else:
            group_vars[key] = value
    groups = {"automq_controller": names[: case.controllers], "automq_broker": names}
    # A second name for a container is a distinct node: give it its own
    # advertised name (the preflight refuses two voters at one address).
    host_vars = {
        name: {"automq_advertised_host": f"{name}.preflight.test"}
        for name in names[len(bed.hosts) :]
    }
    for name, variables in case.host_vars.items():
        host_vars[name] = {**host_vars.get(name, {}), **variables}
    return write_inventory(directory, hosts, groups, group_vars, host_vars)


def run_case(bed: PreflightBed, tmp_path: Path, case: Case, playbook: str) -> PlaybookRun:
    inventory = inventory_for(bed, tmp_path / "inventory", case)
    return run_playbook(tmp_path / "runner", playbook, inventory=inventory)


def bucket_case(variable: str, value: Any) -> Case:
    shown = "" if value == UNSET else value
    return Case(
        vars={variable: value},
        names=variable,
        phrases=[
            f"{variable} is '{shown}', which is not a valid OSS bucket name",
            "3 to 63 characters of lowercase letters, digits and hyphens",
            "starting and ending with a letter or digit",
            f"Set {variable} in group_vars",
        ],
    )


def sha256_case(value: Any) -> Case:
    shown = "empty" if value in ("", UNSET) else f"'{value}'"
    return Case(
        vars={"automq_package_sha256": value},
        names="automq_package_sha256",
        phrases=[
            f"automq_package_sha256 is {shown}",
            "64-hex-digit sha256",
            "pin its checksum (sha256sum automq-1.7.3-fixture_kafka-3.9.1.tgz)",
        ],
    )


def even_controllers_case(count: int) -> Case:
    return Case(
        controllers=count,
        names="automq_controller",
        phrases=[
            f"The inventory group automq_controller has {count} host(s)",
            "use 1 (non-production), 3 or 5 controllers",
        ],
    )


FAILING_CASES = {
    "controllers-2": even_controllers_case(2),
    "controllers-4": even_controllers_case(4),
    "duplicate-node-id": Case(
        controllers=1,
        host_vars={"automq-1": {"automq_node_id": 0}, "automq-2": {"automq_node_id": 0}},
        names="automq_node_id",
        phrases=[
            "Node ID 0 is claimed by several hosts",
            "automq-1 (from automq_node_id)",
            "automq-2 (from automq_node_id)",
            "Fix: give each host a distinct automq_node_id",
        ],
    ),
    "data-bucket-missing": bucket_case("automq_oss_data_bucket", UNSET),
    "data-bucket-empty": bucket_case("automq_oss_data_bucket", ""),
    "data-bucket-too-short": bucket_case("automq_oss_data_bucket", "ab"),
    "data-bucket-uppercase": bucket_case("automq_oss_data_bucket", "AutoMQ-Data"),
    "data-bucket-underscore": bucket_case("automq_oss_data_bucket", "automq_data"),
    "data-bucket-leading-hyphen": bucket_case("automq_oss_data_bucket", "-automq-data"),
    "data-bucket-trailing-hyphen": bucket_case("automq_oss_data_bucket", "automq-data-"),
    "data-bucket-64-chars": bucket_case("automq_oss_data_bucket", "a" * 64),
    "ops-bucket-missing": bucket_case("automq_oss_ops_bucket", UNSET),
    "ops-bucket-uppercase": bucket_case("automq_oss_ops_bucket", "Automq-Ops"),
    "data-equals-ops-bucket": Case(
        vars={"automq_oss_data_bucket": "automq-same", "automq_oss_ops_bucket": "automq-same"},
        names="automq_oss_ops_bucket",
        phrases=[
            "automq_oss_data_bucket and automq_oss_ops_bucket are both 'automq-same'",
            "Use two buckets",
        ],
    ),
    "sha256-missing": sha256_case(UNSET),
    "sha256-empty": sha256_case(""),
    "sha256-truncated": sha256_case(fixture_package_sha256()[:63]),
    "sha256-not-hex": sha256_case("z" * 64),
    "sha256-read-as-a-number": Case(
        vars={"automq_package_sha256": int("1" * 64)},
        names="automq_package_sha256",
        phrases=[f"automq_package_sha256 is '{'1' * 64}' (a number to YAML: quote it)"],
    ),
    "heap-larger-than-the-host": Case(
        vars={"automq_heap_opts": "-Xms4096g -Xmx4096g -XX:MaxDirectMemorySize=1g"},
        names="automq_heap_opts",
        phrases=["heap 4096.0 GiB (-Xmx) + direct memory 1.0 GiB", "more than the host's"],
    ),
    "bandwidth-given-in-mbit-per-second": Case(
        vars={"automq_network_baseline_bandwidth": 2000},
        names="automq_network_baseline_bandwidth",
        phrases=["'2000'", "in bytes per second and at least 1048576", "give 250000000"],
    ),
    "region-misspelt": Case(
        vars={"automq_oss_region": "cn-hangzou"},
        names="automq_oss_region",
        phrases=["'cn-hangzou', which is not a region where OSS is offered", "automq_oss_regions"],
    ),
    "region-with-the-oss-prefix": Case(
        vars={"automq_oss_region": "oss-cn-hangzhou"},
        names="automq_oss_region",
        phrases=["without the oss- prefix"],
    ),
    "endpoint-with-a-query": Case(
        vars={"automq_oss_endpoint": "https://oss-cn-hangzhou.aliyuncs.com/?a=1&region=x"},
        names="automq_oss_endpoint",
        phrases=["an https:// URL of a host name and an optional port and nothing more"],
    ),
    "endpoint-plain-http": Case(
        vars={"automq_oss_endpoint": "http://oss-cn-hangzhou.aliyuncs.com"},
        names="automq_oss_endpoint",
        phrases=["leave it empty for the region's internal endpoint"],
    ),
    "override-of-an-installer-key": Case(
        vars={"automq_server_properties_overrides": {"node.id": 5}},
        names="automq_server_properties_overrides['node.id']",
        phrases=["the installer writes node.id from automq_node_id"],
    ),
    "override-with-a-line-break": Case(
        vars={"automq_server_properties_overrides": {"num.io.threads": "8\nnode.id=7"}},
        names="automq_server_properties_overrides['num.io.threads']",
        phrases=["line break or a trailing backslash", "give it on one line"],
    ),
    "ecs-type-unsupported": Case(
        vars={"automq_ecs_instance_type": "ecs.g7.large"},
        names="automq_ecs_instance_type",
        phrases=[
            "automq_ecs_instance_type is 'ecs.g7.large'",
            "not in automq_ecs_supported_instance_types (ecs.r7.large, ecs.r6.large, "
            "ecs.u1-c1m8.large)",
            "Pick a supported type, or extend automq_ecs_supported_instance_types",
        ],
    ),
    "cluster-id-differs-from-host": Case(
        vars={"automq_cluster_id": CLUSTER_ID_B},
        on_hosts={0: (CLUSTER_ID_A, 0)},
        names="automq_cluster_id",
        phrases=[
            f"automq_cluster_id is '{CLUSTER_ID_B}'",
            f"automq-1 are already formatted with cluster ID '{CLUSTER_ID_A}'",
            f"Fix: set automq_cluster_id to '{CLUSTER_ID_A}' (or unset it)",
        ],
    ),
    "security-mode-unknown": Case(
        vars={"automq_security": "tls"},
        names="automq_security",
        phrases=["secure", "plaintext"],
    ),
    "acl-names-an-unknown-user": Case(
        vars={
            "automq_acls": [
                {
                    "principal": "User:ghost",
                    "resource_type": "topic",
                    "resource_name": "orders",
                    "operations": ["read"],
                }
            ]
        },
        names="automq_acls[0]",
        phrases=["names User:ghost, which is not a user of this cluster", "add it to automq_users"],
    ),
    "user-password-too-short": Case(
        vars={"automq_users": [{"name": "orders-app", "password": "short"}]},
        names="automq_users[0] (orders-app).password",
        phrases=["at least 12 characters", "ansible-vault"],
    ),
    "public-listener-on-one-broker-only": Case(
        host_vars={"automq-1": {"automq_external_advertised_host": "198.51.100.7"}},
        names="automq_external_advertised_host",
        phrases=["set on 1 of the 2 brokers (automq-1)", "set it on every broker or on none"],
    ),
    "public-listener-in-plaintext": Case(
        vars={"automq_security": "plaintext"},
        host_vars={
            "automq-1": {"automq_external_advertised_host": "198.51.100.7"},
            "automq-2": {"automq_external_advertised_host": "198.51.100.8"},
        },
        names="automq_external_advertised_host",
        phrases=["only with automq_security secure", "nothing goes over the Internet in clear"],
    ),
    "migration-without-the-plaintext-ports": Case(
        vars={"automq_security_migration": "listeners"},
        names="automq_security_migration_broker_port",
        phrases=[
            "automq_security_migration_controller_port",
            "the ports the plaintext cluster listens on now",
        ],
    ),
    "migration-of-a-new-cluster": Case(
        vars={
            "automq_security_migration": "listeners",
            "automq_security_migration_broker_port": 9192,
            "automq_security_migration_controller_port": 9193,
        },
        names="automq_security_migration",
        phrases=["this cluster is new", "Remove the variable"],
    ),
    "cluster-ids-differ-between-hosts": Case(
        on_hosts={0: (CLUSTER_ID_A, 0), 1: (CLUSTER_ID_B, 1000)},
        names="meta.properties",
        phrases=[
            "belong to 2 different clusters",
            f"automq-1: cluster.id={CLUSTER_ID_A}",
            f"automq-2: cluster.id={CLUSTER_ID_B}",
            "Fix: remove the host(s) of the other cluster from the inventory",
        ],
    ),
}

PASSING_CASES = {
    "valid-inventory": Case(),
    "plaintext-opt-out": Case(vars={"automq_security": "plaintext"}),
    "a-region-added-by-the-user": Case(
        vars={"automq_oss_region": "cn-newcity", "automq_oss_regions": ["cn-newcity"]}
    ),
    "overrides-and-public-endpoint": Case(
        vars={
            "automq_server_properties_overrides": {
                "num.io.threads": 8,
                "s3.network.baseline.bandwidth": 245366784,
            },
            "automq_oss_endpoint": "https://oss-cn-hangzhou.aliyuncs.com",
        }
    ),
    "users-and-acls": Case(
        vars={
            "automq_users": [{"name": "orders-app", "password": "orders-app-password-1"}],
            "automq_acls": [
                {
                    "principal": "User:orders-app",
                    "resource_type": "topic",
                    "resource_name": "orders",
                    "pattern_type": "prefixed",
                    "operations": ["read", "write", "describe"],
                }
            ],
        }
    ),
    "public-listener-on-every-broker": Case(
        host_vars={
            "automq-1": {"automq_external_advertised_host": "198.51.100.7"},
            "automq-2": {"automq_external_advertised_host": "broker-2.example.com"},
        }
    ),
    "controllers-3": Case(controllers=3),
    "controllers-5": Case(controllers=5),
    "bucket-names-3-and-63-chars": Case(
        vars={"automq_oss_data_bucket": "a0c", "automq_oss_ops_bucket": "b" + "-0" * 30 + "0b"}
    ),
    "ecs-type-added-to-supported-list": Case(
        vars={
            "automq_ecs_instance_type": "ecs.g7.large",
            "automq_ecs_supported_instance_types": [*DEFAULT_INSTANCE_TYPES, "ecs.g7.large"],
            "automq_ecs_instance_bandwidth_kbps": 2048000,  # as provisioning writes it
        }
    ),
    "cluster-id-matches-host": Case(
        vars={"automq_cluster_id": CLUSTER_ID_A}, on_hosts={0: (CLUSTER_ID_A, 0)}
    ),
}


# --- Tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", FAILING_CASES.values(), ids=FAILING_CASES.keys())
def test_preflight_refuses_input(bed: PreflightBed, plant, tmp_path: Path, case: Case) -> None:
    for index, (cluster_id, node_id) in case.on_hosts.items():
        plant_meta(bed, plant, index, cluster_id, node_id)

    run = run_case(bed, tmp_path, case, "site.yml")
    report = run.describe()

    assert run.rc != 0, report
    assert run.status == "failed", report
    # It failed in the preflight play, and nothing after it started. The
    # provisioning plays before it start but skip every task: this inventory
    # does not set alicloud_provision.
    assert run.failures, report
    assert {failure.play for failure in run.failures} == {PREFLIGHT_PLAY}, report
    assert run.plays_started[-1] == PREFLIGHT_PLAY, report
    assert run.plays_acting == [PREFLIGHT_PLAY], report
    assert run.tasks_run(CONFIGURE_PLAY) == [], report
    # One message names the variable and says how to fix it.
    matching = [
        failure.msg
        for failure in run.failures
        if case.names in failure.msg and all(phrase in failure.msg for phrase in case.phrases)
    ]
    assert matching, f"no failure message names {case.names!r} with {case.phrases}\n{report}"
    assert case.names in run.stdout
    # A mistake in the inventory alone is named before Ansible connects to any node.
    if {failure.task for failure in run.failures} <= INVENTORY_CHECKS:
        assert not set(HOST_TASKS) & set(run.tasks_run(PREFLIGHT_PLAY)), report
    assert FAKE_ACCESS_KEY_SECRET not in run.transcript
    assert_untouched(bed, plant)
    # Nor did it record node IDs or a cluster ID beside the inventory.
    assert not (tmp_path / "inventory" / "automq_state").exists(), report


@pytest.mark.parametrize("case", PASSING_CASES.values(), ids=PASSING_CASES.keys())
def test_preflight_accepts_input(bed: PreflightBed, plant, tmp_path: Path, case: Case) -> None:
    for index, (cluster_id, node_id) in case.on_hosts.items():
        plant_meta(bed, plant, index, cluster_id, node_id)

    run = run_case(bed, tmp_path, case, "playbooks/preflight.yml")

    assert run.rc == 0, run.describe() + "\n" + run.stdout[-3000:]
    assert run.plays_started == [PREFLIGHT_PLAY]
    assert HOST_TASKS[-1] in run.tasks_run(PREFLIGHT_PLAY)
    assert FAKE_ACCESS_KEY_SECRET not in run.transcript
    assert_untouched(bed, plant)


SERVER_PROPERTIES = "/etc/automq/server.properties"
SECURE_LISTENERS = (
    "listeners=CLIENT://:9092,INTERNAL://:9094,CONTROLLER://:9093\n"
    "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL\n"
    "controller.listener.names=CONTROLLER\n"
)


def test_a_secure_cluster_whose_ca_is_not_on_this_machine_is_refused(
    bed: PreflightBed, plant, tmp_path: Path
) -> None:
    """Run from another Ansible machine (a colleague's laptop, an AWX job's fresh
    container), the cluster CA is not there: the configure play would create a new one
    and re-issue every certificate from it, which nodes and clients trusting the current
    CA refuse. The preflight refuses instead, naming the nodes, the path and the fix,
    before any host changes and without creating a CA; playbooks that issue no certificate
    (automq_preflight_requires_ca: false) go on."""
    plant_meta(bed, plant, 0, CLUSTER_ID_A, 0)
    bed.hosts[0].write_file(SERVER_PROPERTIES, SECURE_LISTENERS)
    ca_dir = tmp_path / "ca-of-another-machine"
    try:
        case = Case(vars={"automq_cluster_id": CLUSTER_ID_A, "automq_pki_ca_dir": str(ca_dir)})
        run = run_case(bed, tmp_path, case, "site.yml")
        report = run.describe()
        assert run.rc != 0, report
        assert run.plays_acting == [PREFLIGHT_PLAY], report
        assert run.tasks_run(CONFIGURE_PLAY) == [], report
        (message,) = {
            " ".join(failure.msg.split())
            for failure in run.failures
            if failure.task == "Refuse a new CA while hosts hold certificates from the cluster's CA"
        }
        for phrase in (
            "automq-1 already runs TLS with certificates from the cluster CA",
            f"automq_pki_ca_cert ({ca_dir}/ca.crt) does not exist on this Ansible machine",
            "so nothing was changed",
            f"Restore the CA's files (ca.crt and ca.key, from the machine that ran the first "
            f"deploy, or its backup) into automq_pki_ca_dir ({ca_dir})",
        ):
            assert phrase in message, message
        assert not ca_dir.exists(), "a CA was created"
        assert bed.hosts[0].sh(f"cat {SERVER_PROPERTIES}").stdout == SECURE_LISTENERS
        assert {
            line for line in automq_footprint(bed.hosts[0]) if not line.startswith("path /etc")
        } == {
            "path /var/lib/automq",
            "path /var/lib/automq/kraft-metadata",
            f"path {META_PROPERTIES}",
        }
        assert automq_footprint(bed.hosts[1]) == set()
        assert FAKE_ACCESS_KEY_SECRET not in run.transcript

        # A playbook that issues no certificate (a rolling restart, a finalize) goes on.
        no_certificates = Case(vars={**case.vars, "automq_preflight_requires_ca": False})
        run = run_case(
            bed, tmp_path / "no-certificates", no_certificates, "playbooks/preflight.yml"
        )
        assert run.rc == 0, run.describe()
        assert not ca_dir.exists(), "a CA was created"
    finally:
        bed.hosts[0].sh("rm -rf /etc/automq")
