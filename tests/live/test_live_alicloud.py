"""Opt-in live test: provision, deploy and destroy a tiny AutoMQ cluster on real Alibaba Cloud.

It is skipped (saying why) unless all of these are set, because it creates billable
resources (ECS instances, an EIP, OSS buckets, a PrivateZone zone, a RAM user):

    AUTOMQ_LIVE_TEST=1
    ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET   (an account or RAM admin key)
    ALIBABA_CLOUD_REGION_ID                                        (e.g. cn-hangzhou)

and once enabled it needs (and fails, not skips, without):

    AUTOMQ_LIVE_IMAGE_ID      a Debian 12 public image ID of the region
    AUTOMQ_LIVE_ADMIN_CIDR    this machine's public address, e.g. 203.0.113.7/32: the only
                              source the console's security group admits for SSH

Optional: AUTOMQ_LIVE_INSTANCE_TYPE (ecs.r7.large), AUTOMQ_LIVE_VERSION (1.7.3) with
AUTOMQ_LIVE_KAFKA_VERSION (3.9.1), AUTOMQ_LIVE_PACKAGE_SHA256 (else the release is
downloaded once and its checksum taken, trusting that download), AUTOMQ_LIVE_EXTRA_VARS
(a YAML file of group variables merged over the test's, e.g. alicloud_storage_redundancy_type).
The AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT variables are honoured (the emulator's endpoints
work too; ``tests/integration/test_alicloud.py`` is the emulator's own version of this test).

    AUTOMQ_LIVE_TEST=1 ALIBABA_CLOUD_ACCESS_KEY_ID=... ALIBABA_CLOUD_ACCESS_KEY_SECRET=... \\
    ALIBABA_CLOUD_REGION_ID=cn-hangzhou AUTOMQ_LIVE_IMAGE_ID=... AUTOMQ_LIVE_ADMIN_CIDR=... \\
        .venv/bin/pytest tests/live -v

The cluster (``automq-live-<random>``): two zones offering the instance type, a console
with an EIP (the jump host: nodes have no public IP), three combined nodes advertising
their PrivateZone names, the two buckets. The test runs ``site.yml`` (provisioning,
the secure deploy with every node's OSS readiness check, the console), produces and
consumes through a node's TLS listener, checks that the AccessKey secret is in no
Ansible output, and always runs
``playbooks/destroy.yml`` with the purge switch at the end, also after a failure.
``make test`` does not run it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
ENABLING = (
    "AUTOMQ_LIVE_TEST",
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_REGION_ID",
)
NEEDED = ("AUTOMQ_LIVE_IMAGE_ID", "AUTOMQ_LIVE_ADMIN_CIDR")
RECORDS = 1000


def _not_enabled() -> list[str]:
    missing = [name for name in ENABLING[1:] if not os.environ.get(name)]
    if os.environ.get("AUTOMQ_LIVE_TEST") != "1":
        missing.insert(0, "AUTOMQ_LIVE_TEST=1")
    return missing


pytestmark = pytest.mark.skipif(
    bool(_not_enabled()),
    reason=(
        "live Alibaba Cloud test skipped: it creates billable resources, so it runs only with "
        "AUTOMQ_LIVE_TEST=1, ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and "
        f"ALIBABA_CLOUD_REGION_ID set; not set: {', '.join(_not_enabled())} "
        "(see tests/live/test_live_alicloud.py)"
    ),
)


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    assert value, f"{name} is not set"
    return value


def _zones(region: str, instance_type: str) -> list[str]:
    """Zones of the region that offer the instance type and vSwitches, at most three."""
    os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    from alibabacloud_credentials.client import Client as CredentialClient
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi import models as open_api_models

    endpoint = os.environ.get("AUTOMQ_ALICLOUD_ECS_ENDPOINT", f"https://ecs.{region}.aliyuncs.com")
    protocol, _, host = endpoint.rpartition("://")
    client = EcsClient(
        open_api_models.Config(
            credential=CredentialClient(),
            region_id=region,
            endpoint=host,
            protocol=protocol or "https",
        )
    )
    zones = client.describe_zones(
        ecs_models.DescribeZonesRequest(region_id=region, instance_charge_type="PostPaid")
    ).body.to_map()["Zones"]["Zone"]
    usable = [
        z["ZoneId"]
        for z in zones
        if instance_type in (z.get("AvailableInstanceTypes") or {}).get("InstanceTypes", [])
        and "VSwitch" in (z.get("AvailableResourceCreation") or {}).get("ResourceTypes", [])
    ]
    assert len(usable) >= 2, f"{region} offers {instance_type} in zones {usable}: need two"
    return sorted(usable)[:3]


def _package_sha256(version: str, kafka_version: str, cache: Path) -> str:
    if os.environ.get("AUTOMQ_LIVE_PACKAGE_SHA256"):
        return os.environ["AUTOMQ_LIVE_PACKAGE_SHA256"]
    name = f"automq-{version}_kafka-{kafka_version}.tgz"
    url = f"https://github.com/AutoMQ/automq/releases/download/{version}/{name}"
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / name
    if not target.exists():
        partial = target.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=600) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        partial.rename(target)
    digest = hashlib.sha256()
    with target.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Live:
    """One live cluster: its inventory and the playbook runs, logged to files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inventory = root / "inventory"
        self.cluster = f"automq-live-{uuid.uuid4().hex[:6]}"
        self.logs: list[Path] = []

    def playbook(self, name: str, playbook: str, *args: str) -> subprocess.CompletedProcess[str]:
        log = self.root / f"{name}.log"
        self.logs.append(log)
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "ANSIBLE_LOG_PATH": str(log),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        return subprocess.run(
            [
                str(VENV_BIN / "ansible-playbook"),
                "-i",
                str(self.inventory),
                "--vault-password-file",
                str(self.root / "vault-password"),
                str(REPO / playbook),
                *args,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )

    def adhoc(self, pattern: str, script: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        return subprocess.run(
            [
                str(VENV_BIN / "ansible"),
                "-i",
                str(self.inventory),
                "--vault-password-file",
                str(self.root / "vault-password"),
                pattern,
                "--become",
                "-m",
                "ansible.builtin.shell",
                "-a",
                script,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def secret(self) -> str:
        from ansible.parsing.vault import VaultLib, VaultSecret

        key_file = (
            self.inventory / "automq_state" / ".alicloud" / f"{self.cluster}-oss-access-key.json"
        )
        password = (self.root / "vault-password").read_text().strip().encode()
        vault = VaultLib([("default", VaultSecret(password))])
        return json.loads(vault.decrypt(key_file.read_bytes()))["access_key_secret"]


def _group_vars(live: Live) -> dict[str, Any]:
    region = _env("ALIBABA_CLOUD_REGION_ID")
    instance_type = os.environ.get("AUTOMQ_LIVE_INSTANCE_TYPE", "ecs.r7.large")
    version = os.environ.get("AUTOMQ_LIVE_VERSION", "1.7.3")
    kafka_version = os.environ.get("AUTOMQ_LIVE_KAFKA_VERSION", "3.9.1")
    cache = live.root / "package-cache"
    zones = _zones(region, instance_type)
    return {
        "alicloud_provision": True,
        "alicloud_cluster_name": live.cluster,
        "alicloud_region": region,
        "alicloud_network_vpc_cidr": "10.0.0.0/16",
        "alicloud_network_zones": [
            {"zone_id": zone, "cidr_block": f"10.0.{n}.0/24"} for n, zone in enumerate(zones, 1)
        ],
        "alicloud_network_admin_cidrs": [_env("AUTOMQ_LIVE_ADMIN_CIDR")],
        "alicloud_compute_image_id": _env("AUTOMQ_LIVE_IMAGE_ID"),
        "alicloud_compute_instance_type": instance_type,
        "alicloud_compute_console_eip": True,
        "alicloud_inventory_jump_via_console": True,
        "alicloud_dns_use_for_advertising": True,
        # The cluster CA and the generated passwords stay with the test's files.
        "automq_pki_ca_dir": str(live.root / "ca"),
        "automq_admin_password_file": str(live.root / "admin.password"),
        "automq_monitor_password_file": str(live.root / "monitor.password"),
        "automq_client_config_file": str(live.root / "client.properties"),
        "automq_console_admin_password_file": str(live.root / "console-admin.password"),
        "automq_console_prometheus_password_file": str(live.root / "prometheus.password"),
        "automq_console_prometheus_reader_password_file": str(
            live.root / "prometheus-console.password"
        ),
        "automq_version": version,
        "automq_kafka_version": kafka_version,
        "automq_package_sha256": _package_sha256(version, kafka_version, cache),
        "automq_package_cache_dir": str(cache),
    } | _extra_vars()


def _extra_vars() -> dict[str, Any]:
    path = os.environ.get("AUTOMQ_LIVE_EXTRA_VARS")
    return yaml.safe_load(Path(path).read_text()) or {} if path else {}


def test_live_provision_deploy_destroy(tmp_path: Path):
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing:
        pytest.fail(f"the live test is enabled but {', '.join(missing)} is not set", pytrace=False)
    live = Live(tmp_path)
    (tmp_path / "vault-password").write_text(uuid.uuid4().hex + "\n")
    (tmp_path / "vault-password").chmod(0o600)
    (live.inventory / "group_vars").mkdir(parents=True)
    (live.inventory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump(_group_vars(live), sort_keys=False)
    )
    groups = ("automq_controller", "automq_broker", "automq_console")
    (live.inventory / "hosts.yml").write_text(
        yaml.safe_dump({"all": {"children": {g: {"hosts": {}} for g in groups}}})
    )
    try:
        site = live.playbook("site", "site.yml")
        assert site.returncode == 0, f"provision and deploy failed:\n{site.stdout[-8000:]}"
        # Each node proved its OSS access before its first start.
        assert "TASK [automq : Check OSS from the node]" in site.stdout

        topic = f"live-{uuid.uuid4().hex[:8]}"
        tools = "KAFKA_HEAP_OPTS=-Xmx256m /opt/automq/current/bin"
        # The node's tools' settings (root only): the INTERNAL listener, mutual TLS with
        # the node's certificate, a super user.
        bootstrap = "{{ automq_advertised_host }}:9094"
        config = "/etc/automq/admin-client.properties"
        script = (
            f"set -e; {tools}/kafka-topics.sh --bootstrap-server {bootstrap} "
            f"--command-config {config} --create "
            f"--topic {topic} --partitions 3 --replication-factor 3 >/dev/null; "
            f"seq 1 {RECORDS} | {tools}/kafka-console-producer.sh --bootstrap-server "
            f"{bootstrap} --producer.config {config} --topic {topic} "
            "--producer-property acks=all; "
            f"{tools}/kafka-console-consumer.sh --bootstrap-server {bootstrap} "
            f"--consumer.config {config} --topic {topic} "
            f"--from-beginning --max-messages {RECORDS} --timeout-ms 120000 2>/dev/null "
            "| sort -n | uniq | wc -l"
        )
        traffic = live.adhoc(f"{live.cluster}-node-1", script)
        assert traffic.returncode == 0, traffic.stdout + traffic.stderr
        assert traffic.stdout.strip().splitlines()[-1].strip() == str(RECORDS), traffic.stdout

        secret = live.secret()
        for log in live.logs:
            assert secret not in log.read_text(), f"the AccessKey secret is in {log}"
        assert secret not in site.stdout + site.stderr
    finally:
        destroy = ("-e", f"alicloud_destroy_confirm={live.cluster}")
        purge = ("-e", f"alicloud_destroy_purge_buckets={live.cluster}-data,{live.cluster}-ops")
        result = live.playbook("destroy", "playbooks/destroy.yml", *destroy, *purge)
        if result.returncode != 0:
            result = live.playbook("destroy-again", "playbooks/destroy.yml", *destroy, *purge)
        assert result.returncode == 0, (
            f"destroy failed: resources tagged automq:cluster={live.cluster} may be left in "
            f"{os.environ.get('ALIBABA_CLOUD_REGION_ID')}; run playbooks/destroy.yml with "
            f"-i {live.inventory} {' '.join(destroy + purge)} or delete them in the console.\n"
            + result.stdout[-8000:]
        )
