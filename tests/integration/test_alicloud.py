"""Scenario ``alicloud``: provision on the Alibaba Cloud emulator, deploy, verify, destroy.

``site.yml`` (with ``alicloud_provision: true``: ``playbooks/provision.yml``, the deploy,
the console) runs with ansible-runner against the emulator of
``tests/alicloud_emulator``, whose RunInstances starts test-bed host containers reached
over SSH as root with the imported key pair. The modules get the emulator's endpoints and
the account's AccessKey from the environment (the SDK's default credential chain).

The steps run in order and share one emulator and one inventory directory:

1. wrong credentials: a clear error, nothing created (in the cloud or on this machine);
   then the first deploy with OSS mistakes (a wrong secret, region or endpoint): stopped
   by the readiness check before any node is formatted or started;
2. provision + deploy in the production layout (the console's EIP, Ansible jumping
   through it, the admin CIDR = this machine's address on the emulator's Internet, nodes
   advertising PrivateZone names), then the proof: the console answers on its EIP,
   produce and consume inside the VPC (on the console host), the least-privilege security
   groups as rules and as traffic (enforced by the emulator: what answers from here, from
   the console, from another node; a revoked rule cuts, a re-authorized one restores), the
   VPC resolver (PrivateZone and OSS names), private encrypted buckets with an ops expiry,
   the bucket policy (only the RAM user, only from the VPC), the RAM policy (only the two
   buckets), the instances, the private zone, the written inventory;
3. the AccessKey secret: only in the nodes' mode-0600 credentials file, nowhere in
   Ansible's output, logs or files on this machine (its key file is vault-encrypted);
4. a second run changes nothing (no host changed, no write reached the cloud), keeping a
   foreign statement added to a bucket policy in the meantime;
5. destroy: refused without the confirmation; with it everything goes but the buckets
   and their data; a purge asked for with ``true`` is refused; naming both buckets, they
   go too.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import socket
import ssl
import stat
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import alibabacloud_oss_v2 as oss
import pytest
import yaml
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ram20150501 import models as ram_models
from ansible.parsing.vault import VaultLib, VaultSecret
from playbook_runner import PlaybookRun, run_playbook, run_private_data_dir

from automq_helpers.bucket_identity import IDENTITY_KEY

from .alicloud_fixtures import (  # noqa: F401
    CloudEnv,
    alicloud_emulator,
    produce_and_consume_here,
    produce_and_consume_inside,
    tree_files,
)
from .conftest import (
    FIXTURE_KAFKA_VERSION,
    FIXTURE_VERSION,
    PACKAGE_SERVER,
    fixture_package_name,
    fixture_package_sha256,
)

pytestmark = pytest.mark.testbed

CLUSTER = "itest"
VPC_BLOCK = "10.213.16.0/20"  # clear of the test bed's 172.30.x networks and the demo's
ZONES = (("cn-hangzhou-h", "10.213.17.0/24"), ("cn-hangzhou-i", "10.213.18.0/24"))
VPC_GATEWAY = "10.213.16.1"  # this machine, as the instances see it from the VPC
# The emulator's Internet (EIPs), clear of the demo's 10.213.240.0/24. What this machine
# sends to an EIP comes from its gateway: this machine's public address, the admin CIDR.
INTERNET_CIDR = "10.213.241.0/24"
ADMIN_CIDR = "10.213.241.1/32"
CLIENT_CIDR = "192.0.2.0/24"
PUBLIC_PORT = 9095  # the brokers' public listener, on their EIPs
CONSOLE_PORT = 8080
DATA_BUCKET, OPS_BUCKET = f"{CLUSTER}-data", f"{CLUSTER}-ops"
RAM_USER = f"{CLUSTER}-oss"
NODES = [f"{CLUSTER}-node-{n}" for n in (1, 2, 3)]
CONSOLE = f"{CLUSTER}-console-1"
# A second region with an OSS endpoint, for a node configured for the wrong one.
OTHER_REGION = "cn-beijing"
EMULATOR_OPTIONS = {"extra_regions": (OTHER_REGION,)}
READINESS_TASK = "Stop before AutoMQ starts when OSS is not usable"
IDENTITY_TASK = "Check which cluster the data bucket belongs to"
SITE = "site.yml"
DESTROY = "playbooks/destroy.yml"
CREDENTIALS_TASK = "Check the Alibaba Cloud credentials"
OBJECT_ACTIONS = {
    "oss:AbortMultipartUpload",
    "oss:DeleteObject",
    "oss:GetObject",
    "oss:ListObjects",
    "oss:ListParts",
    "oss:PutObject",
}
HOST_DIRS = "/etc /var /opt /root /home /tmp /run /srv /usr/local"


@dataclass
class Scenario:
    """The inventory directory, the runs so far and what the steps learned."""

    cloud: CloudEnv
    root: Path
    runs: dict[str, PlaybookRun] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def inventory(self) -> Path:
        return self.root / "inventory"

    @property
    def state_dir(self) -> Path:
        return self.inventory / "automq_state" / ".alicloud"

    @property
    def inventory_file(self) -> Path:
        return self.inventory / f"alicloud-{CLUSTER}.yml"

    @property
    def key_file(self) -> Path:
        return self.state_dir / f"{CLUSTER}-oss-access-key.json"

    @property
    def vault_password_file(self) -> Path:
        return self.root / "vault-password"

    def run(
        self, name: str, playbook: str, *args: str, vault: bool = True, **env: str
    ) -> PlaybookRun:
        envvars = self.cloud.envvars(ANSIBLE_LOG_PATH=str(self.root / "logs" / f"{name}.log"))
        envvars.update(env)
        vault_args = ["--vault-password-file", str(self.vault_password_file)] if vault else []
        result = run_playbook(
            self.root / "runs" / name,
            playbook,
            inventory=self.inventory,
            cmdline=[*vault_args, *args],
            envvars=envvars,
        )
        self.runs[name] = result
        return result

    def run_command_line(self, name: str, playbook: str, *args: str) -> PlaybookRun:
        """As :meth:`run`, through ``ansible-runner run`` and the private data directory
        the README documents (the project's own ansible.cfg)."""
        envvars = self.cloud.envvars(ANSIBLE_LOG_PATH=str(self.root / "logs" / f"{name}.log"))
        result = run_private_data_dir(
            self.root / "runs" / name,
            playbook,
            inventory=self.inventory,
            cmdline=["--vault-password-file", str(self.vault_password_file), *args],
            envvars=envvars,
        )
        self.runs[name] = result
        return result

    def written_inventory(self) -> dict[str, Any]:
        return yaml.safe_load(self.inventory_file.read_text())

    def node_address(self, name: str) -> str:
        return self.written_inventory()["all"]["hosts"][name]["ansible_host"]

    def private_ip(self, name: str) -> str:
        with self.cloud.emulator.lock:
            (address,) = [
                i.private_ip for i in self.cloud.emulator.state.instances.values() if i.name == name
            ]
        return address

    def exec(self, name: str, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` as root on the instance (docker exec, not through its network)."""
        return subprocess.run(
            ["docker", "exec", "-i", self.containers()[name], *argv],
            input=stdin, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    def reaches(self, name: str, address: str, port: int) -> bool:
        """Whether a TCP connection from the instance ``name`` is accepted within 3 s."""
        done = self.exec(name, "timeout", "3", "bash", "-c", f"</dev/tcp/{address}/{port}")
        return done.returncode == 0

    def containers(self) -> dict[str, str]:
        """Instance name -> container, for the instances the emulator runs now."""
        with self.cloud.emulator.lock:
            return {
                i.name: i.container
                for i in self.cloud.emulator.state.instances.values()
                if i.container
            }


def group_vars(root: Path) -> dict[str, Any]:
    return {
        # What to provision (inventories/alicloud-example, scaled to the emulator).
        "alicloud_provision": True,
        "alicloud_cluster_name": CLUSTER,
        "alicloud_region": "cn-hangzhou",
        "alicloud_network_vpc_cidr": VPC_BLOCK,
        "alicloud_network_zones": [{"zone_id": z, "cidr_block": c} for z, c in ZONES],
        "alicloud_network_admin_cidrs": [ADMIN_CIDR],
        "alicloud_network_client_cidrs": [CLIENT_CIDR],
        # Public access: the brokers' EIPs and their public listener, for this machine.
        "alicloud_network_public_client_cidrs": [ADMIN_CIDR],
        "alicloud_network_console_port": CONSOLE_PORT,
        "alicloud_compute_image_id": "debian_12_x64_20G_alibase_20260101.vhd",
        # Production's layout: Ansible reaches the private nodes through the console's EIP.
        "alicloud_compute_console_eip": True,
        "alicloud_inventory_jump_via_console": True,
        # The nodes advertise their PrivateZone names (the emulator's VPC resolver).
        "alicloud_dns_use_for_advertising": True,
        # Test bed only: the fixture broker package, served from this machine.
        "automq_version": FIXTURE_VERSION,
        "automq_kafka_version": FIXTURE_KAFKA_VERSION,
        "automq_package_url": f"{PACKAGE_SERVER}/{fixture_package_name()}",
        "automq_package_sha256": fixture_package_sha256(),
        "automq_package_cache_dir": str(root / "package-cache"),
        "automq_heap_opts": "-Xms384m -Xmx384m -XX:MaxDirectMemorySize=256m",
        # Test bed only: C1 compiles alone (molecule/shared/group_vars/all.yml says why).
        "automq_kafka_opts": "-XX:TieredStopAtLevel=1",
        "automq_host_sysctl_apply": False,
        # The console and Prometheus: HTTPS with certificates from the cluster CA
        # (kept here), their passwords kept on this machine.
        "automq_pki_ca_dir": str(root / "ca"),
        "automq_console_admin_password_file": str(root / "console-admin.password"),
        # The admin's and the console user's passwords, the admin's client configuration.
        "automq_admin_password_file": str(root / "admin.password"),
        "automq_monitor_password_file": str(root / "monitor.password"),
        "automq_client_config_file": str(root / "client.properties"),
        "automq_console_prometheus_password_file": str(root / "prometheus.password"),
        "automq_console_prometheus_reader_password_file": str(root / "prometheus-console.password"),
        # The fixture has no AutoMQ exporter: Prometheus scrapes the JMX agent.
        "automq_metrics_exporter": "none",
        "automq_jmx_exporter_enabled": True,
        "automq_jmx_exporter_url": f"{PACKAGE_SERVER}/jmx_prometheus_javaagent-"
        + "{{ automq_jmx_exporter_version }}.jar",
    }


@pytest.fixture(scope="module")
def scenario(alicloud_emulator: CloudEnv, tmp_path_factory) -> Scenario:  # noqa: F811
    root = tmp_path_factory.mktemp("alicloud")
    result = Scenario(alicloud_emulator, root)
    (root / "vault-password").write_text(f"vault-{uuid.uuid4().hex}\n")
    (root / "vault-password").chmod(0o600)
    (result.inventory / "group_vars").mkdir(parents=True)
    (result.inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump(group_vars(root), sort_keys=False)
    )
    groups = ("automq_controller", "automq_broker", "automq_console")
    (result.inventory / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {g: {"hosts": {}} for g in groups}}})
    )
    return result


@pytest.fixture(scope="module")
def deployed(scenario: Scenario) -> Scenario:
    """Provision and deploy once, for every check that needs the cluster: through the
    command line of ansible-runner with the README's private data directory, as an
    operator's first deployment (the refused first runs before it went through the
    Python API)."""
    run = scenario.run_command_line("site", SITE)
    assert run.rc == 0, run.describe()
    scenario.facts["secret"] = scenario.cloud.ram_user_secret(RAM_USER)
    return scenario


def resources(snapshot: dict[str, Any]) -> dict[str, list[str]]:
    """IDs of every resource kind provisioning creates (besides the buckets)."""
    return {
        kind: sorted(snapshot[kind])
        for kind in (
            "vpcs",
            "vswitches",
            "security_groups",
            "key_pairs",
            "instances",
            "eips",
            "users",
            "zones",
        )
    } | {"custom_policies": sorted(k for k in snapshot["policies"] if k.startswith("Custom/"))}


def load_policy(text: str) -> dict[str, Any]:
    text = text.strip()
    if text.startswith("%7B"):
        text = urllib.parse.unquote(text)
    return json.loads(text)


# --- 0. The inventory role alone: hosts reached through the console's EIP -------------


def test_inventory_through_the_console_eip(tmp_path: Path):
    """The inventory role alone, on made-up hosts: a broker-only node and a node without a
    PrivateZone name, which the emulated cluster below does not have."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text("all: {}\n")
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"access_key_id": "LTAI5tJump", "access_key_secret": "s"}))
    instances = [
        {"name": "jump-node-1", "private_ip": "10.0.1.3", "kind": "node"},
        {"name": "jump-broker-1", "private_ip": "10.0.2.3", "kind": "broker"},
        {"name": "jump-console-1", "private_ip": "10.0.1.4", "kind": "console"},
    ]
    for instance in instances:
        instance.update(instance_id="i-x", zone_id="z", instance_type="ecs.r7.large")
    playbook = tmp_path / "playbook.yml"
    role_vars = {
        "alicloud_cluster_name": "jump",
        "alicloud_region": "cn-hangzhou",
        "alicloud_inventory_instances": instances,
        "alicloud_inventory_advertised_hosts": {"jump-node-1": "jump-node-1.jump.automq.private"},
        "alicloud_inventory_oss_data_bucket": "jump-data",
        "alicloud_inventory_oss_ops_bucket": "jump-ops",
        "alicloud_inventory_access_key_id": "LTAI5tJump",
        "alicloud_inventory_access_key_file": str(key_file),
        "alicloud_inventory_ssh_private_key_file": "/keys/jump",
        "alicloud_inventory_jump_via_console": True,
        "alicloud_inventory_console_public_ip": "198.51.100.7",
    }
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.include_role": {"name": "alicloud_inventory"},
                    "vars": role_vars,
                }
            ],
        },
        {
            "hosts": "automq_broker",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.assert": {
                        "that": [
                            "automq_oss_access_key_secret == 's'",
                            "inventory_hostname in groups['alicloud_provisioned']",
                        ]
                    }
                }
            ],
        },
    ]
    playbook.write_text(yaml.safe_dump(plays))
    run = run_playbook(tmp_path / "run", playbook, inventory=inventory)
    assert run.rc == 0, run.describe()
    hosts = yaml.safe_load((inventory / "alicloud-jump.yml").read_text())["all"]["hosts"]
    console = hosts["jump-console-1"]
    assert console["ansible_host"] == "198.51.100.7"
    assert "ProxyCommand" not in console["ansible_ssh_common_args"]
    # The console's HTTPS certificate names both of its addresses.
    assert (console["alicloud_private_ip"], console["alicloud_public_ip"]) == (
        "10.0.1.4",
        "198.51.100.7",
    )
    assert "alicloud_public_ip" not in hosts["jump-node-1"]
    # Paths inside the inventory directory are written relative to inventory_dir.
    known_hosts = "INVENTORY_DIR/automq_state/.alicloud/jump-known_hosts"
    for name in ("jump-node-1", "jump-broker-1"):
        host = hosts[name]
        assert host["ansible_host"] == next(i["private_ip"] for i in instances if i["name"] == name)
        ssh_args = host["ansible_ssh_common_args"].replace("{{ inventory_dir }}", "INVENTORY_DIR")
        assert shlex.split(ssh_args) == [
            "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "StrictHostKeyChecking=accept-new",
            "-o", (
                "ProxyCommand=ssh -W %h:%p -q -i /keys/jump "
                f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=accept-new "
                "root@198.51.100.7"
            ),
        ]  # fmt: skip
    assert hosts["jump-node-1"]["automq_advertised_host"] == "jump-node-1.jump.automq.private"
    assert hosts["jump-broker-1"]["automq_advertised_host"] == "10.0.2.3"

    # The same directory reached through a link (as an ansible-runner private data
    # directory reaches it): the file's variables resolve there, and writing it again
    # changes nothing.
    linked = tmp_path / "runner-inventory"
    linked.symlink_to(inventory, target_is_directory=True)
    plays[1]["tasks"][0]["ansible.builtin.assert"]["that"].append(
        "ansible_ssh_common_args is search('UserKnownHostsFile=' ~ inventory_dir"
        " ~ '/automq_state/.alicloud/jump-known_hosts -o')"
    )
    playbook.write_text(yaml.safe_dump(plays))
    again = run_playbook(tmp_path / "again", playbook, inventory=linked)
    assert again.rc == 0, again.describe()
    assert again.results()["Write the inventory file for later runs"]["changed"] is False


# --- 1. Wrong credentials ---------------------------------------------------------------


def test_wrong_credentials_fail_clearly_and_create_nothing(scenario: Scenario):
    run = scenario.run(
        "wrong-credentials", SITE, ALIBABA_CLOUD_ACCESS_KEY_SECRET="not-the-account-secret"
    )
    assert run.rc != 0, run.describe()
    failures = run.failures
    assert [(f.task, f.host) for f in failures] == [(CREDENTIALS_TASK, "localhost")], run.describe()
    assert "the AccessKey secret does not match" in failures[0].msg, failures[0].msg
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in failures[0].msg, failures[0].msg
    assert scenario.cloud.successful_writes() == []
    assert all(ids == [] for ids in resources(scenario.cloud.snapshot()).values())
    assert scenario.cloud.snapshot()["buckets"] == {}
    assert not (scenario.inventory / "automq_state").exists()
    assert not scenario.inventory_file.exists()


def test_a_first_run_without_a_vault_password_creates_nothing(scenario: Scenario):
    """The OSS AccessKey's file is written vault-encrypted: a run that would create the key
    without a vault password stops in the input checks, before any cloud call writes."""
    run = scenario.run("no-vault-password", SITE, vault=False)
    assert run.rc != 0, run.describe()
    failures = run.failures
    assert [f.host for f in failures] == ["localhost"], run.describe()
    assert "was given no vault password: run with --vault-password-file" in failures[0].msg
    assert "alicloud_identity_access_key_plaintext: true" in failures[0].msg
    assert scenario.cloud.successful_writes() == []
    assert not scenario.inventory_file.exists()


def not_started(scenario: Scenario, name: str) -> list[str]:
    """What shows that AutoMQ ran or was formatted on the node (nothing: never started)."""
    done = scenario.exec(name, "bash", "-c", (
        "systemctl is-active --quiet automq && echo 'the unit is active'; "
        "pgrep -f '[k]afka[.]Kafka' >/dev/null && echo 'a broker process runs'; "
        "test -e /var/lib/automq/kraft-metadata/meta.properties && echo 'formatted'; true"
    ))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1]


def bucket_keys(scenario: Scenario) -> dict[str, list[str]]:
    client = scenario.cloud.clients().oss
    return {
        bucket: [o.key for o in client.list_objects_v2(
            oss.ListObjectsV2Request(bucket=bucket)).contents or []]
        for bucket in (DATA_BUCKET, OPS_BUCKET)
    }  # fmt: skip


def readiness_refusals(run: PlaybookRun) -> dict[str, str]:
    """Node -> the message of its readiness refusal; the run failed nowhere else."""
    failures = run.failures
    assert {f.task for f in failures} == {READINESS_TASK}, run.describe()
    return {f.host: f.msg for f in failures}


def test_oss_readiness_stops_the_first_deploy_before_any_broker_starts(scenario: Scenario):
    """The first site.yml, each node with its own OSS mistake: a wrong AccessKey secret, the
    wrong region, the public endpoint (the bucket policy admits only the VPC, which the
    public endpoint never carries). It stops at the readiness check on every node, each
    naming its cause; no node is formatted or started, and nothing is left in the buckets.
    (More causes, an explicit Deny in a second RAM policy among them, are checked against the
    emulator without a deploy: test_oss_readiness_emulator.py.)"""
    key_file = scenario.key_file
    secret = f"(lookup('ansible.builtin.file', '{key_file}') | from_json).access_key_secret"
    faults = scenario.root / "oss-faults.yml"
    faults.write_text(yaml.safe_dump({
        "automq_oss_access_key_secret": (
            f"{{{{ 'not-the-secret' if inventory_hostname == '{NODES[0]}' else {secret} }}}}"),
        "automq_oss_region": (
            f"{{{{ '{OTHER_REGION}' if inventory_hostname == '{NODES[1]}' else 'cn-hangzhou' }}}}"),
        "automq_oss_endpoint": (
            f"{{{{ 'https://oss-cn-hangzhou.aliyuncs.com' if inventory_hostname == '{NODES[2]}' "
            "else '' }}"),
    }))  # fmt: skip
    run = scenario.run("oss-faults", SITE, "-e", f"@{faults}")
    assert run.rc != 0, run.describe()
    refusals = readiness_refusals(run)
    assert set(refusals) == set(NODES), run.describe()
    assert "SignatureDoesNotMatch" in refusals[NODES[0]], refusals[NODES[0]]
    assert "check automq_oss_access_key_secret" in refusals[NODES[0]], refusals[NODES[0]]
    assert "is in region cn-hangzhou" in refusals[NODES[1]], refusals[NODES[1]]
    assert f"not behind https://oss-{OTHER_REGION}-internal" in refusals[NODES[1]]
    assert "this node uses the public endpoint" in refusals[NODES[2]], refusals[NODES[2]]
    for message in refusals.values():
        assert message.endswith("then run again."), message
        assert "Nothing was started." in message, message
    assert "not-the-secret" not in run.transcript
    assert all(not_started(scenario, name) == [] for name in NODES)
    assert bucket_keys(scenario) == {DATA_BUCKET: [], OPS_BUCKET: []}


def state_cluster_id(scenario: Scenario) -> str:
    state = scenario.inventory / "automq_state" / f"{CLUSTER}.json"
    return str(json.loads(state.read_text())["cluster_id"])


def test_a_bucket_kept_with_the_cluster_id_stops_the_first_deploy(scenario: Scenario):
    """What destroy.yml without purge leaves: the state file (so the same cluster ID) and
    a data bucket holding that cluster's identity and objects. Formatting a new quorum
    with that ID would number its objects from 0 over the kept ones: every node refuses
    at the bucket identity check, nothing is formatted or started, the kept objects are
    untouched. (The earlier runs of this scenario wrote the state file.)"""
    cluster_id = state_cluster_id(scenario)
    client = scenario.cloud.clients().oss
    identity = {
        "cluster_id": cluster_id,
        "cluster_name": CLUSTER,
        "recorded_at": "2026-01-02T03:04:05Z",
        "recorded_by": "itest-node-1",
    }
    kept = {
        IDENTITY_KEY: json.dumps(identity).encode(),
        f"00000000/_kafka_{cluster_id}/0": b"object 0 of the destroyed cluster",
    }
    for key, body in kept.items():
        client.put_object(oss.PutObjectRequest(bucket=DATA_BUCKET, key=key, body=body))
    try:
        run = scenario.run("kept-bucket", "playbooks/deploy.yml")
        assert run.rc != 0, run.describe()
        assert {f.task for f in run.failures} == {IDENTITY_TASK}, run.describe()
        assert {f.host for f in run.failures} == set(NODES), run.describe()
        for failure in run.failures:
            assert f"data/wal bucket {DATA_BUCKET} holds the identity of this very cluster ID" in (
                failure.msg
            ), failure.msg
            assert f"cluster {cluster_id} ({CLUSTER}), recorded 2026-01-02T03:04:05Z" in failure.msg
            assert "Nothing was formatted or started." in failure.msg
            assert "restore the controllers' metadata directories" in failure.msg
        assert all(not_started(scenario, name) == [] for name in NODES)
        for key, body in kept.items():
            read = client.get_object(oss.GetObjectRequest(bucket=DATA_BUCKET, key=key))
            assert read.body.read() == body
    finally:
        for key in kept:
            client.delete_object(oss.DeleteObjectRequest(bucket=DATA_BUCKET, key=key))
    assert bucket_keys(scenario) == {DATA_BUCKET: [], OPS_BUCKET: []}


# --- 2. Provision, deploy and the proof -----------------------------------------------


def test_site_provisions_and_deploys(deployed: Scenario):
    stats = deployed.runs["site"].recap()
    assert set(stats) == {"localhost", *NODES, CONSOLE}
    assert all(s["failures"] == 0 and s["dark"] == 0 for s in stats.values()), stats
    # The console, deployed by the same run, answers on its EIP (from the admin CIDR) over
    # HTTPS with a certificate from the cluster CA that names the EIP, and not on its
    # private address (this machine comes from the VPC gateway there).
    eip = deployed.node_address(CONSOLE)
    assert ipaddress.IPv4Address(eip) in ipaddress.IPv4Network(INTERNET_CIDR)
    trusted = ssl.create_default_context(cafile=str(deployed.root / "ca" / "ca.crt"))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=trusted)
    )
    with opener.open(f"https://{eip}:{CONSOLE_PORT}/healthz", timeout=10) as answer:
        assert answer.read().strip() == b"ok"
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert not answers_here(deployed.private_ip(CONSOLE), CONSOLE_PORT)


def test_the_cluster_serves_produce_and_consume(deployed: Scenario):
    """A Kafka client inside the VPC (the console host's confluent-kafka), bootstrapping
    from the advertised PrivateZone names, which only the VPC resolver knows."""
    names = [f"{n}.{CLUSTER}.automq.private" for n in NODES]
    result = produce_and_consume_inside(
        deployed.containers()[CONSOLE],
        deployed.root / "client.properties",
        f"{names[0]}:9092",
        f"{names[-1]}:9092",
    )
    assert result["brokers"] == sorted(names)
    assert (result["unflushed"], result["errors"]) == (0, [])
    assert result["complete"], result


def answers_here(address: str, port: int) -> bool:
    """Whether a TCP connection from this machine is accepted within 3 s."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def answering_here(targets: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The targets that accept a TCP connection from this machine, probed side by side
    (a dropped one costs the 3 s timeout)."""
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        answers = list(pool.map(lambda target: answers_here(*target), targets))
    return [target for target, answered in zip(targets, answers, strict=True) if answered]


def group_ids(scenario: Scenario) -> tuple[str, str]:
    groups = {g["name"]: g["id"] for g in scenario.cloud.snapshot()["security_groups"].values()}
    return groups[f"{CLUSTER}-nodes"], groups[f"{CLUSTER}-console"]


def set_rule(
    scenario: Scenario, group_id: str, present: bool, ports: str, what: str = "", **source: str
):
    """Authorize (``present``) or revoke one TCP rule as the modules wrote it (``what``: its
    description after the marker)."""
    ecs = scenario.cloud.clients().ecs
    fields = {"ip_protocol": "TCP", "port_range": ports, "policy": "accept", "priority": "1",
              **source}  # fmt: skip
    if present:
        description = "automq-ansible: " + (
            what or ("SSH" if "source_cidr_ip" in source else "from the console")
        )
        ecs.authorize_security_group(
            ecs_models.AuthorizeSecurityGroupRequest(
                region_id="cn-hangzhou", security_group_id=group_id,
                permissions=[ecs_models.AuthorizeSecurityGroupRequestPermissions(
                    description=description, **fields)],
            )
        )  # fmt: skip
    else:
        ecs.revoke_security_group(
            ecs_models.RevokeSecurityGroupRequest(
                region_id="cn-hangzhou", security_group_id=group_id,
                permissions=[ecs_models.RevokeSecurityGroupRequestPermissions(**fields)],
            )
        )  # fmt: skip


def test_nodes_answer_only_inside_the_vpc_as_the_groups_say(deployed: Scenario):
    node, other = deployed.private_ip(NODES[0]), deployed.private_ip(NODES[1])
    # From this machine (the VPC gateway, in no rule but Kafka's VPC block): no SSH, no
    # controller on the nodes, no SSH on the console's private address.
    assert answering_here([(node, 22), (node, 9093), (deployed.private_ip(CONSOLE), 22)]) == []
    # From the console's group: SSH, the controller, Kafka and the JMX exporter.
    for port in (22, 9093, 9092, 9404):
        assert deployed.reaches(CONSOLE, node, port), port
    # Between the nodes: the cluster ports, not SSH (the group isolates its members).
    for port in (9092, 9093):
        assert deployed.reaches(NODES[1], node, port), port
    assert not deployed.reaches(NODES[1], node, 22)
    # A revoked rule cuts the console's new connections to the controllers at once; the
    # rule authorized again restores them.
    nodes_group, console_group = group_ids(deployed)
    set_rule(deployed, nodes_group, False, "9093/9093", source_group_id=console_group)
    try:
        assert not deployed.reaches(CONSOLE, node, 9093)
        assert not deployed.reaches(CONSOLE, other, 9093)
        assert deployed.reaches(CONSOLE, node, 9092)  # the other rules still hold
    finally:
        set_rule(deployed, nodes_group, True, "9093/9093", source_group_id=console_group)
    assert deployed.reaches(CONSOLE, node, 9093)


# Run on the console host: Prometheus's active targets, asked over HTTPS at the console's
# private address with the cluster CA and the password (both read from stdin, so neither
# shows in the process list).
ACTIVE_TARGETS = """
import base64, json, ssl, sys, urllib.request
password = sys.stdin.readline().strip()
tls = ssl.create_default_context(cadata=sys.stdin.read())
token = base64.b64encode(("prometheus:" + password).encode()).decode()
request = urllib.request.Request(
    sys.argv[1] + "/api/v1/targets?state=active", headers={"Authorization": "Basic " + token}
)
with urllib.request.urlopen(request, timeout=10, context=tls) as response:
    print(json.dumps(json.load(response)["data"]["activeTargets"]))
"""


def jmx_targets(scenario: Scenario) -> list[dict[str, Any]]:
    """Prometheus's active JMX exporter targets, asked on the console host."""
    password = (scenario.root / "prometheus.password").read_text().strip()
    ca = (scenario.root / "ca" / "ca.crt").read_text()
    url = f"https://{scenario.private_ip(CONSOLE)}:9090"
    done = scenario.exec(CONSOLE, "python3", "-c", ACTIVE_TARGETS, url, stdin=f"{password}\n{ca}")
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    return [t for t in json.loads(done.stdout) if t["labels"]["job"] == "automq-jmx"]


def wait_for_every_jmx_target_up(scenario: Scenario) -> list[dict[str, Any]]:
    """Poll until every node's target is up."""
    deadline = time.monotonic() + 120
    while True:
        targets = jmx_targets(scenario)
        health = {int(t["labels"]["node_id"]): (t["health"], t.get("lastError")) for t in targets}
        if health == {n: ("up", "") for n in (0, 1, 2)}:
            return targets
        assert time.monotonic() < deadline, f"JMX targets by node ID: {health}"
        time.sleep(2)


def test_prometheus_scrapes_every_node(deployed: Scenario):
    """Prometheus on the console reaches each node's JMX exporter through the security
    groups (the rule that admits the console's group on 9404)."""
    targets = wait_for_every_jmx_target_up(deployed)
    nodes = {deployed.private_ip(name) for name in NODES} | set(NODES)
    for target in targets:
        host = target["labels"]["instance"].rsplit(":", 1)[0]
        assert host in nodes or host.split(".")[0] in nodes, target["labels"]


PING = [{"hosts": "all", "gather_facts": False, "tasks": [{"ansible.builtin.ping": {}}]}]


def test_the_jump_through_the_console_needs_the_ssh_rule(deployed: Scenario, tmp_path: Path):
    """With the written inventory, Ansible reaches the nodes only through the console; the
    nodes' group rule admitting SSH from the console's group revoked, the nodes are
    unreachable (the SSH banner exchange through the jump times out) while the console is
    not, and the rule restored, they are reachable again."""
    playbook = tmp_path / "ping.yml"
    playbook.write_text(yaml.safe_dump(PING))
    nodes_group, console_group = group_ids(deployed)
    set_rule(deployed, nodes_group, False, "22/22", source_group_id=console_group)
    try:
        # New connections (the earlier runs' SSH masters persist and would carry the ping).
        cut = deployed.run(
            "ping-without-ssh-rule",
            str(playbook),
            ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "cut"),
        )
    finally:
        set_rule(deployed, nodes_group, True, "22/22", source_group_id=console_group)
    stats = cut.recap()
    assert {h for h, s in stats.items() if s["dark"]} == set(NODES), stats
    assert stats[CONSOLE]["ok"] == 1, stats
    unreachable = [e["event_data"] for e in cut.events if e.get("event") == "runner_on_unreachable"]
    for event in unreachable:
        assert "timed out" in event["res"]["msg"], event["res"]["msg"]
    restored = deployed.run(
        "ping-with-ssh-rule", str(playbook), ANSIBLE_SSH_CONTROL_PATH_DIR=str(tmp_path / "back")
    )
    assert restored.rc == 0, restored.describe()


def test_the_console_eip_answers_ssh_only_from_the_admin_cidr(deployed: Scenario):
    eip = deployed.node_address(CONSOLE)
    assert answers_here(eip, 22)
    assert not answers_here(eip, 9090)  # its Prometheus is not opened
    _, console_group = group_ids(deployed)
    set_rule(deployed, console_group, False, "22/22", source_cidr_ip=ADMIN_CIDR)
    try:
        assert not answers_here(eip, 22)
        assert answers_here(eip, CONSOLE_PORT)  # its own rule, still there
    finally:
        set_rule(deployed, console_group, True, "22/22", source_cidr_ip=ADMIN_CIDR)
    assert answers_here(eip, 22)


def broker_eips(scenario: Scenario) -> dict[str, str]:
    """Instance name -> address of the brokers' EIPs (<cluster>-public-<instance>)."""
    snapshot = scenario.cloud.snapshot()
    names = {i["id"]: i["name"] for i in snapshot["instances"].values()}
    return {
        names[e["instance_id"]]: e["ip"]
        for e in snapshot["eips"].values()
        if e["name"] == f"{CLUSTER}-public-{names.get(e['instance_id'])}"
    }


def test_brokers_serve_the_public_listener_on_their_eips(deployed: Scenario):
    """Public access (alicloud_network_public_client_cidrs: this machine's public address):
    each broker has an EIP of its own, advertised by the EXTERNAL listener and named by its
    certificate; from this machine a SASL_SSL SCRAM client produces and consumes through
    the EIPs, which answer nothing else here but the admins' SSH; the group's rule revoked,
    the port shuts, and restored, it opens again."""
    eips = broker_eips(deployed)
    assert sorted(eips) == NODES
    hosts = deployed.written_inventory()["all"]["hosts"]
    tls = ssl.create_default_context(cafile=str(deployed.root / "ca" / "ca.crt"))
    for name, address in eips.items():
        assert hosts[name]["alicloud_public_ip"] == address
        assert hosts[name]["automq_external_advertised_host"] == address
        # The CA's certificate, valid for the EIP (Python checks the IP address SAN).
        with (
            socket.create_connection((address, PUBLIC_PORT), timeout=5) as raw,
            tls.wrap_socket(raw, server_hostname=address) as served,
        ):
            assert served.version() in ("TLSv1.2", "TLSv1.3")
    # The private listeners and exporters: dropped on every EIP.
    private = [(address, port) for address in eips.values() for port in (9092, 9093, 9094, 9404)]
    assert answering_here(private) == []
    assert "public-" not in json.dumps(hosts[CONSOLE])
    result = produce_and_consume_here(
        deployed.root / "client.properties",
        f"{eips[NODES[0]]}:{PUBLIC_PORT}",
        f"{eips[NODES[-1]]}:{PUBLIC_PORT}",
    )
    assert result["brokers"] == sorted(eips.values()), "bootstrapped through the EIPs"
    assert (result["unflushed"], result["errors"]) == (0, [])
    assert result["complete"], result
    nodes_group, _ = group_ids(deployed)
    rule = {"source_cidr_ip": ADMIN_CIDR, "what": "Kafka clients on the Internet (public listener)"}
    set_rule(
        deployed, nodes_group, False, f"{PUBLIC_PORT}/{PUBLIC_PORT}", source_cidr_ip=ADMIN_CIDR
    )
    try:
        assert not answers_here(eips[NODES[0]], PUBLIC_PORT)
    finally:
        set_rule(deployed, nodes_group, True, f"{PUBLIC_PORT}/{PUBLIC_PORT}", **rule)
    assert answers_here(eips[NODES[0]], PUBLIC_PORT)


def test_nodes_resolve_privatezone_and_oss_names(deployed: Scenario):
    def resolve(on: str, name: str) -> str:
        done = deployed.exec(on, "getent", "ahostsv4", name)
        return done.stdout.split()[0] if done.returncode == 0 else ""

    resolv_conf = deployed.exec(NODES[1], "cat", "/etc/resolv.conf").stdout.splitlines()
    assert resolv_conf[:2] == ["nameserver 100.100.2.136", "nameserver 100.100.2.138"]
    first = f"{NODES[0]}.{CLUSTER}.automq.private"
    assert resolve(NODES[1], first) == deployed.private_ip(NODES[0])
    # The OSS internal endpoint (and a bucket below it): the emulator's data plane, on
    # the VPC network's gateway.
    for name in (
        "oss-cn-hangzhou-internal.aliyuncs.com",
        f"{DATA_BUCKET}.oss-cn-hangzhou-internal.aliyuncs.com",
    ):
        assert resolve(NODES[1], name) == VPC_GATEWAY, name
    # A name of no zone bound to the VPC and no Alibaba Cloud service: not answered here
    # (the VPC resolver forwards it to this machine's resolvers, which do not know it).
    assert resolve(NODES[1], f"absent.{CLUSTER}-other.automq.private") == ""


def test_security_groups_are_least_privilege(deployed: Scenario):
    clients = deployed.cloud.clients()
    groups = {g["name"]: g["id"] for g in deployed.cloud.snapshot()["security_groups"].values()}
    assert set(groups) == {f"{CLUSTER}-nodes", f"{CLUSTER}-console"}

    def ingress(group_id: str) -> set[tuple[str, str, str]]:
        permissions = clients.ecs.describe_security_group_attribute(
            ecs_models.DescribeSecurityGroupAttributeRequest(
                region_id="cn-hangzhou", security_group_id=group_id, direction="ingress"
            )
        ).body.to_map()["Permissions"]["Permission"]
        return {
            (p["IpProtocol"], p["PortRange"], p["SourceCidrIp"] or f"group {p['SourceGroupId']}")
            for p in permissions
            if p["Direction"] == "ingress" and p["Policy"].lower() == "accept"
        }

    nodes, console = groups[f"{CLUSTER}-nodes"], groups[f"{CLUSTER}-console"]
    assert ingress(nodes) == {
        ("TCP", "9092/9092", VPC_BLOCK),
        ("TCP", "9092/9092", CLIENT_CIDR),
        # The public listener, from the public clients only.
        ("TCP", f"{PUBLIC_PORT}/{PUBLIC_PORT}", ADMIN_CIDR),
        # Only between the cluster nodes: Kafka, the controllers, the inter-broker port.
        ("TCP", "9092/9092", f"group {nodes}"),
        ("TCP", "9093/9093", f"group {nodes}"),
        ("TCP", "9094/9094", f"group {nodes}"),
        # From the console: SSH (Ansible's jump), Kafka and the quorum, the metrics.
        ("TCP", "22/22", f"group {console}"),
        ("TCP", "9092/9092", f"group {console}"),
        ("TCP", "9093/9093", f"group {console}"),
        ("TCP", "9464/9464", f"group {console}"),
        ("TCP", "9404/9404", f"group {console}"),
        ("TCP", "22/22", ADMIN_CIDR),
    }
    assert ingress(console) == {
        ("TCP", "22/22", ADMIN_CIDR),
        ("TCP", f"{CONSOLE_PORT}/{CONSOLE_PORT}", ADMIN_CIDR),
    }
    for group_id in (nodes, console):  # members reach each other only as the rules say
        policy = clients.ecs.describe_security_group_attribute(
            ecs_models.DescribeSecurityGroupAttributeRequest(
                region_id="cn-hangzhou", security_group_id=group_id
            )
        ).body.inner_access_policy
        assert policy == "Drop"
    instances = deployed.cloud.snapshot()["instances"].values()
    assert {i["name"]: i["security_group_ids"] for i in instances} == {
        **{n: [nodes] for n in NODES},
        CONSOLE: [console],
    }


def test_buckets_are_private_encrypted_and_ops_expires(deployed: Scenario):
    client = deployed.cloud.clients().oss
    for bucket in (DATA_BUCKET, OPS_BUCKET):
        acl = client.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket))
        assert acl.acl == "private"
        rule = client.get_bucket_encryption(
            oss.GetBucketEncryptionRequest(bucket=bucket)
        ).server_side_encryption_rule
        assert rule.apply_server_side_encryption_by_default.sse_algorithm == "AES256"
        tags = client.get_bucket_tags(oss.GetBucketTagsRequest(bucket=bucket)).tagging
        assert {t.key: t.value for t in tags.tag_set.tags}["automq:cluster"] == CLUSTER
    rules = client.get_bucket_lifecycle(
        oss.GetBucketLifecycleRequest(bucket=OPS_BUCKET)
    ).lifecycle_configuration.rules
    assert [(r.status, r.expiration.days) for r in rules] == [("Enabled", 7)]
    with pytest.raises(oss.exceptions.OperationError):  # the data never expires
        client.get_bucket_lifecycle(oss.GetBucketLifecycleRequest(bucket=DATA_BUCKET))


def test_bucket_policy_admits_only_the_ram_user_from_the_vpc(deployed: Scenario):
    snapshot = deployed.cloud.snapshot()
    (vpc_id,) = snapshot["vpcs"]
    user_id = snapshot["users"][RAM_USER]["id"]
    account = deployed.cloud.emulator.account_id
    client = deployed.cloud.clients().oss
    for bucket in (DATA_BUCKET, OPS_BUCKET):
        policy = load_policy(
            client.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=bucket)).body
        )
        resources = sorted([f"acs:oss:*:{account}:{bucket}", f"acs:oss:*:{account}:{bucket}/*"])
        allow, deny = policy["Statement"]
        assert allow == {
            "Effect": "Allow",
            "Principal": [user_id],
            "Action": sorted(OBJECT_ACTIONS),
            "Resource": resources,
            "Condition": {"StringEquals": {"acs:SourceVpc": [vpc_id]}},
        }
        assert deny == {
            "Effect": "Deny",
            "Principal": [user_id],
            "Action": ["oss:*"],
            "Resource": resources,
            "Condition": {"StringNotEquals": {"acs:SourceVpc": [vpc_id]}},
        }


def test_ram_policy_names_only_the_two_buckets(deployed: Scenario):
    clients = deployed.cloud.clients()
    attached = clients.ram.list_policies_for_user(
        ram_models.ListPoliciesForUserRequest(user_name=RAM_USER)
    ).body.to_map()["Policies"]["Policy"]
    assert [(p["PolicyName"], p["PolicyType"]) for p in attached] == [(RAM_USER, "Custom")]
    document = load_policy(
        clients.ram.get_policy(
            ram_models.GetPolicyRequest(policy_name=RAM_USER, policy_type="Custom")
        ).body.default_policy_version.policy_document
    )
    actions = {a for s in document["Statement"] for a in s["Action"]}
    resources = {r for s in document["Statement"] for r in s["Resource"]}
    assert all(s["Effect"] == "Allow" for s in document["Statement"])
    assert actions == OBJECT_ACTIONS
    account = deployed.cloud.emulator.account_id
    assert resources == {
        f"acs:oss:*:{account}:{DATA_BUCKET}",
        f"acs:oss:*:{account}:{DATA_BUCKET}/*",
        f"acs:oss:*:{account}:{OPS_BUCKET}",
        f"acs:oss:*:{account}:{OPS_BUCKET}/*",
    }
    keys = clients.ram.list_access_keys(ram_models.ListAccessKeysRequest(user_name=RAM_USER))
    assert len(keys.body.access_keys.access_key) == 1


def test_instances_zone_and_inventory(deployed: Scenario):
    snapshot = deployed.cloud.snapshot()
    instances = {i["name"]: i for i in snapshot["instances"].values()}
    assert set(instances) == {*NODES, CONSOLE}
    for instance in instances.values():
        assert instance["instance_type"] == "ecs.r7.large"
        assert (instance["system_disk"]["Category"], int(instance["system_disk"]["Size"])) == (
            "cloud_essd",
            40,
        )
        assert instance["system_disk"]["PerformanceLevel"] == "PL0"
        assert (instance["bandwidth_out"], instance["public_ip"]) == (0, "")
        assert instance["key_pair_name"] == CLUSTER
        assert instance["tags"] == {"automq:cluster": CLUSTER, "managed-by": "automq-ansible"}
    assert {instances[n]["zone_id"] for n in NODES} == {z for z, _ in ZONES}, "spread"
    by_name = {e["name"]: e for e in snapshot["eips"].values()}
    assert sorted(by_name) == sorted(
        [f"{CLUSTER}-console", *(f"{CLUSTER}-public-{n}" for n in NODES)]
    )
    eip = by_name[f"{CLUSTER}-console"]
    assert eip["instance_id"] == instances[CONSOLE]["id"]
    for name in NODES:  # public access: one EIP per broker
        assert by_name[f"{CLUSTER}-public-{name}"]["instance_id"] == instances[name]["id"]
    for each in by_name.values():
        assert ipaddress.IPv4Address(each["ip"]) in ipaddress.IPv4Network(INTERNET_CIDR)

    (zone,) = snapshot["zones"].values()
    (vpc_id,) = snapshot["vpcs"]
    assert zone["name"] == f"{CLUSTER}.automq.private"
    assert [v["VpcId"] for v in zone["vpcs"]] == [vpc_id]
    assert {r["rr"]: r["value"] for r in zone["records"].values()} == {
        name: i["private_ip"] for name, i in instances.items()
    }

    written = deployed.written_inventory()
    children = written["all"]["children"]
    assert sorted(children["automq_controller"]["hosts"]) == NODES
    assert sorted(children["automq_broker"]["hosts"]) == NODES
    assert list(children["automq_console"]["hosts"]) == [CONSOLE]
    hosts = written["all"]["hosts"]
    assert hosts[CONSOLE]["ansible_host"] == eip["ip"]  # Ansible's way in
    assert "ProxyCommand" not in hosts[CONSOLE]["ansible_ssh_common_args"]
    for name in instances:
        assert hosts[name]["ansible_user"] == "root"
    for name in NODES:
        assert hosts[name]["ansible_host"] == instances[name]["private_ip"]
        assert f"root@{eip['ip']}" in hosts[name]["ansible_ssh_common_args"]  # the jump
        assert hosts[name]["automq_advertised_host"] == f"{name}.{CLUSTER}.automq.private"
        assert hosts[name]["automq_oss_data_bucket"] == DATA_BUCKET
        assert hosts[name]["automq_oss_access_key_secret"].startswith(
            "{{ (lookup('ansible.builtin.file', inventory_dir ~ \"/automq_state/"
        )
        assert hosts[name]["ansible_ssh_private_key_file"].startswith("{{ inventory_dir }}/")
        # The type's internal bandwidth limit, as DescribeInstanceTypes reports it.
        assert hosts[name]["automq_ecs_instance_bandwidth_kbps"] == 1024000
    # Nothing in it names the inventory directory's path: reached by another path (an
    # ansible-runner private data directory's link), the same file serves unchanged.
    assert str(deployed.inventory) not in deployed.inventory_file.read_text()
    assert "automq_oss_access_key_secret" not in hosts[CONSOLE]
    assert "automq_ecs_instance_bandwidth_kbps" not in hosts[CONSOLE]
    # ... which sizes AutoMQ's object storage budget on the node, in bytes per second.
    properties = deployed.exec(NODES[0], "cat", "/etc/automq/server.properties")
    assert properties.returncode == 0, properties.stderr
    assert "s3.network.baseline.bandwidth=128000000" in properties.stdout.splitlines()


# --- 3. The AccessKey secret ------------------------------------------------------------


def assert_secret_only_in_credentials_files(scenario: Scenario, secret: str) -> None:
    """On this machine: nowhere (outputs, events, logs, inventory, the vaulted key file);
    on the hosts: only in the nodes' mode-0600 credentials file."""
    assert len(secret) >= 16
    for name, run in scenario.runs.items():
        assert secret not in run.transcript, f"the secret is in the output of run {name}"
    leaks = [str(p) for p in tree_files(scenario.root) if secret.encode() in p.read_bytes()]
    assert leaks == [], f"the secret is in files on the Ansible machine: {leaks}"
    for name, container in scenario.containers().items():
        found = subprocess.run(
            [
                "docker", "exec", "--env", "SECRET", container, "sh", "-c",
                f"grep -rlF -e \"$SECRET\" {HOST_DIRS} 2>/dev/null || true",
            ],
            env={"PATH": os.environ["PATH"], "SECRET": secret},  # docker exec --env SECRET
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        expected = [] if name == CONSOLE else ["/etc/automq/credentials.env"]
        assert found == expected, f"{name}: the secret is in {found}"


def test_the_access_key_secret_is_never_printed_nor_stored_elsewhere(deployed: Scenario):
    secret = deployed.facts["secret"]
    assert_secret_only_in_credentials_files(deployed, secret)
    for name in NODES:
        mode = subprocess.run(
            ["docker", "exec", deployed.containers()[name], "stat", "-c", "%a %U",
             "/etc/automq/credentials.env"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert mode == ["600", "automq"]
    # On this machine the key is kept vault-encrypted, mode 0600, and decrypts to the key.
    key_file = deployed.key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    password = deployed.vault_password_file.read_text().strip().encode()
    vault = VaultLib([("default", VaultSecret(password))])
    stored = json.loads(vault.decrypt(key_file.read_bytes()))
    assert stored["access_key_secret"] == secret


# --- 4. Idempotence -----------------------------------------------------------------------


def test_a_second_run_changes_nothing(deployed: Scenario):
    # A statement someone else put on the data bucket meanwhile: the merge keeps it.
    client = deployed.cloud.clients().oss
    policy = load_policy(
        client.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=DATA_BUCKET)).body
    )
    foreign = {
        "Effect": "Allow",
        "Principal": ["*"],
        "Action": ["oss:GetObject"],
        "Resource": [f"acs:oss:*:{deployed.cloud.emulator.account_id}:{DATA_BUCKET}/public/*"],
    }
    policy["Statement"].insert(0, foreign)
    client.put_bucket_policy(
        oss.PutBucketPolicyRequest(bucket=DATA_BUCKET, body=json.dumps(policy))
    )
    writes = deployed.cloud.successful_writes()

    # The whole site.yml again (provisioning, nodes, console), through ansible-runner's
    # Python API this time, the result read from its events.
    run = deployed.run("second", SITE)
    assert run.rc == 0, run.describe()
    stats = run.recap()
    assert set(stats) == {"localhost", *NODES, CONSOLE}
    assert {h: s["changed"] for h, s in stats.items() if s["changed"]} == {}
    assert deployed.cloud.successful_writes() == writes, "the second run wrote to the cloud"
    kept = load_policy(
        client.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=DATA_BUCKET)).body
    )
    assert kept["Statement"][0] == foreign
    assert len(kept["Statement"]) == 3
    assert_secret_only_in_credentials_files(deployed, deployed.facts["secret"])


# --- 5. Destroy ------------------------------------------------------------------------------


def test_destroy_refuses_without_confirmation(deployed: Scenario):
    before = resources(deployed.cloud.snapshot())
    writes = deployed.cloud.successful_writes()
    run = deployed.run("destroy-unconfirmed", DESTROY)
    assert run.rc != 0
    (failure,) = run.failures
    assert failure.task == "Refuse without an explicit confirmation"
    assert "nothing was deleted" in failure.msg
    assert f"-e alicloud_destroy_confirm={CLUSTER}" in failure.msg
    assert deployed.cloud.successful_writes() == writes
    assert resources(deployed.cloud.snapshot()) == before
    assert deployed.inventory_file.exists()
    assert deployed.key_file.exists()


@pytest.fixture(scope="module")
def destroyed(deployed: Scenario) -> Scenario:
    client = deployed.cloud.clients().oss
    client.put_object(
        oss.PutObjectRequest(bucket=DATA_BUCKET, key="kept/record", body=b"still here")
    )
    run = deployed.run("destroy", DESTROY, "-e", f"alicloud_destroy_confirm={CLUSTER}")
    assert run.rc == 0, run.describe()
    return deployed


def test_destroy_removes_everything_but_the_buckets(destroyed: Scenario):
    snapshot = destroyed.cloud.snapshot()
    assert resources(snapshot) == {kind: [] for kind in resources(snapshot)}
    assert destroyed.containers() == {}
    assert sorted(snapshot["buckets"]) == [DATA_BUCKET, OPS_BUCKET]
    client = destroyed.cloud.clients().oss
    body = client.get_object(oss.GetObjectRequest(bucket=DATA_BUCKET, key="kept/record")).body
    assert body.read() == b"still here"
    # The identity recorded at the first start stays with the objects and names the
    # cluster ID the kept state file would give the next provisioning.
    identity = client.get_object(oss.GetObjectRequest(bucket=DATA_BUCKET, key=IDENTITY_KEY))
    assert json.loads(identity.body.read())["cluster_id"] == state_cluster_id(destroyed)
    # AutoMQ's statements left with its RAM user; the foreign one stays.
    policy = load_policy(
        client.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=DATA_BUCKET)).body
    )
    assert [s["Principal"] for s in policy["Statement"]] == [["*"]]
    with pytest.raises(oss.exceptions.OperationError):
        client.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=OPS_BUCKET))
    # On this machine: the inventory of the deleted hosts, the deleted key, the host keys
    # and the generated SSH key are gone; the cluster's state file stays with the data.
    assert not destroyed.inventory_file.exists()
    assert list(destroyed.state_dir.iterdir()) == []
    assert (destroyed.inventory / "automq_state" / f"{CLUSTER}.json").is_file()


def test_destroy_with_purge_removes_the_buckets_too(destroyed: Scenario):
    confirm = ("-e", f"alicloud_destroy_confirm={CLUSTER}")
    switch = destroyed.run(
        "purge-switch", DESTROY, *confirm, "-e", "alicloud_destroy_purge_buckets=true"
    )
    assert switch.rc != 0, switch.describe()
    (failure,) = switch.failures
    assert failure.task == "Check the purge request names both buckets", switch.describe()
    assert "nothing was deleted" in failure.msg, failure.msg
    assert f"alicloud_destroy_purge_buckets={DATA_BUCKET},{OPS_BUCKET}" in failure.msg
    assert sorted(destroyed.cloud.snapshot()["buckets"]) == [DATA_BUCKET, OPS_BUCKET]
    run = destroyed.run(
        "purge",
        DESTROY,
        *confirm,
        "-e",
        f"alicloud_destroy_purge_buckets={OPS_BUCKET},{DATA_BUCKET}",
    )
    assert run.rc == 0, run.describe()
    snapshot = destroyed.cloud.snapshot()
    assert snapshot["buckets"] == {}
    assert resources(snapshot) == {kind: [] for kind in resources(snapshot)}
    assert not (destroyed.inventory / "automq_state" / f"{CLUSTER}.json").exists()
    assert_secret_only_in_credentials_files(destroyed, destroyed.facts["secret"])
