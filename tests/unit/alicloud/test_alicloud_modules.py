"""The automq.alicloud modules, run by ansible-playbook against the Alibaba Cloud emulator.

One emulator (tests/alicloud_emulator, in-process, no containers) serves every test of the
file; each test uses its own cluster name, which the modules' tag lookups keep apart. The
modules reach it through the AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT variables and take the
account's key from ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, i.e. the SDK's default credential
chain, exactly as a playbook would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

pytest.importorskip("alibabacloud_ecs20140526")
pytest.importorskip("alibabacloud_oss_v2")
ecs_models = pytest.importorskip("alibabacloud_ecs20140526.models")
emulator_package = pytest.importorskip("tests.alicloud_emulator")
sdk = pytest.importorskip("tests.alicloud_emulator.sdk")

pytestmark = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK.exists(), reason=f"{ANSIBLE_PLAYBOOK} is not installed"
)

IMAGE = emulator_package.DEFAULT_IMAGE_ID
ZONES = ("cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j")
READS = ("Describe", "Get", "List")
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAwTR/eHY8Rafb/GiwQBUF0ma31CgiQ7kW76LJpjYcJ5 test"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with emulator_package.Emulator(containers=False, instant_boot_seconds=0.2) as emu:
        yield emu


@pytest.fixture(scope="module")
def clients(emulator: Any) -> Any:
    return sdk.make_clients(emulator)


def emulator_env(emulator: Any) -> dict[str, str]:
    rpc = f"http://{emulator.rpc_endpoint}"
    env = {f"AUTOMQ_ALICLOUD_{s}_ENDPOINT": rpc for s in ("ECS", "VPC", "RAM", "PVTZ", "STS")}
    env.update(
        AUTOMQ_ALICLOUD_OSS_ENDPOINT=emulator.oss_endpoint,
        ALIBABA_CLOUD_ACCESS_KEY_ID=emulator.access_key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=emulator.access_key_secret,
        ALIBABA_CLOUD_REGION_ID=emulator.region_id,
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        AUTOMQ_ALICLOUD_RETRY_BASE_DELAY="0.01",
    )
    return env


def successful_writes(emulator: Any) -> list[str]:
    with emulator.lock:
        return [
            c.action for c in emulator.calls if not c.action.startswith(READS) and c.status < 400
        ]


class Run:
    def __init__(self, rc: int, results: dict[str, Any], stdout: str) -> None:
        self.rc, self.results, self.stdout = rc, results, stdout

    def __getitem__(self, name: str) -> Any:
        return self.results[name]

    def changed(self) -> list[str]:
        return sorted(name for name, result in self.results.items() if result.get("changed"))


def play(
    tmp_path: Path,
    emulator: Any,
    tasks: list[dict[str, Any]],
    *options: str,
    env: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> Run:
    """Run the tasks on localhost against the emulator; results by task name."""
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": tasks}]))
    environment = {
        **os.environ,
        **emulator_env(emulator),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_NOCOLOR": "1",
        "HOME": str(tmp_path),  # no ~/.aliyun profile of the machine running the tests
        "PATH": f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    for name in drop:
        environment.pop(name, None)
    completed = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-e",
            "ansible_connection=local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            *options,
            str(playbook),
        ],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    start = completed.stdout.find("{")
    assert start >= 0, f"no JSON output\nstdout:\n{completed.stdout}\nstderr:\n{completed.stderr}"
    document, _ = json.JSONDecoder().raw_decode(completed.stdout, start)
    results = {
        task["task"]["name"]: task["hosts"]["localhost"]
        for play_ in document["plays"]
        for task in play_["tasks"]
    }
    return Run(completed.returncode, results, completed.stdout)


def cluster_tasks(cluster: str, key_file: Path, count: int = 3) -> list[dict[str, Any]]:
    """A whole AutoMQ cluster's cloud resources, wired as a playbook would wire them."""
    data, ops = f"{cluster}-data", f"{cluster}-ops"
    return [
        {"name": "identity", "automq.alicloud.caller_identity": {}, "register": "identity"},
        {
            "name": "vpc",
            "automq.alicloud.vpc": {
                "cluster": cluster,
                "name": cluster,
                "cidr_block": "10.0.0.0/16",
            },
            "register": "vpc",
        },
        {
            "name": "vswitches",
            "automq.alicloud.vswitch": {
                "cluster": cluster,
                "name": f"{cluster}-{{{{ item.0 }}}}",
                "vpc_id": "{{ vpc.vpc_id }}",
                "zone_id": "{{ item.0 }}",
                "cidr_block": "10.0.{{ item.1 }}.0/24",
            },
            "loop": [[zone, n] for n, zone in enumerate(ZONES, start=1)],
            "register": "vswitches",
        },
        {
            "name": "security group",
            "automq.alicloud.security_group": {
                "cluster": cluster,
                "name": f"{cluster}-nodes",
                "vpc_id": "{{ vpc.vpc_id }}",
                "rules": "{{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules("
                "client_cidrs=['10.8.0.0/16'], admin_cidrs=['203.0.113.7/32'], "
                "console_port=8080) }}",
            },
            "register": "sg",
        },
        {
            "name": "key pair",
            "automq.alicloud.key_pair": {
                "cluster": cluster,
                "name": cluster,
                "public_key": PUBLIC_KEY,
            },
        },
        {
            "name": "instances",
            "automq.alicloud.instance": {
                "cluster": cluster,
                "name_prefix": cluster,
                "count": count,
                "instance_type": "ecs.r7.large",
                "image_id": IMAGE,
                "vswitches": "{{ vswitches.results }}",
                "security_group_ids": ["{{ sg.security_group_id }}"],
                "key_pair_name": cluster,
            },
            "register": "nodes",
        },
        {
            "name": "console eip",
            "automq.alicloud.eip": {
                "cluster": cluster,
                "name": f"{cluster}-console",
                "instance_id": "{{ nodes.instance_ids[0] }}",
            },
        },
        {
            "name": "zone",
            "automq.alicloud.pvtz_zone": {"cluster": cluster, "vpc_ids": ["{{ vpc.vpc_id }}"]},
            "register": "zone",
        },
        {
            "name": "records",
            "automq.alicloud.pvtz_record": {
                "zone_id": "{{ zone.zone_id }}",
                "rr": "{{ item.name }}",
                "value": "{{ item.private_ip }}",
            },
            # In check mode a node still to be created has no IP yet.
            "loop": "{{ nodes.instances | selectattr('private_ip') }}",
        },
        {
            "name": "buckets",
            "automq.alicloud.oss_bucket": {
                "cluster": cluster,
                "name": "{{ item.name }}",
                "lifecycle_rules": "{{ item.rules }}",
            },
            "loop": [
                {"name": data, "rules": []},
                {
                    "name": ops,
                    "rules": [{"id": "ops-expiry", "prefix": "automq/", "expiration_days": 7}],
                },
            ],
        },
        {
            "name": "ram user",
            "automq.alicloud.ram_user": {"user_name": f"{cluster}-oss"},
            "register": "user",
        },
        {
            "name": "ram policy",
            "automq.alicloud.ram_policy": {
                "policy_name": f"{cluster}-oss",
                "oss_buckets": [data, ops],
                "source_vpc_ids": ["{{ vpc.vpc_id }}"],
            },
        },
        {
            "name": "attach",
            "automq.alicloud.ram_user_policy": {
                "user_name": f"{cluster}-oss",
                "policy_name": f"{cluster}-oss",
            },
        },
        {
            "name": "access key",
            "automq.alicloud.ram_access_key": {
                "user_name": f"{cluster}-oss",
                "secret_file": str(key_file),
            },
            "register": "key",
        },
        {
            "name": "bucket policies",
            "automq.alicloud.oss_bucket_policy": {
                "bucket": "{{ item }}",
                "ram_user_id": "{{ user.user_id }}",
                "vpc_ids": ["{{ vpc.vpc_id }}"],
                "account_id": "{{ identity.account_id }}",
            },
            "loop": [data, ops],
        },
    ]


def test_a_whole_cluster_is_provisioned_then_left_alone(tmp_path, emulator, clients):
    key_file = tmp_path / "oss-key.json"
    first = play(tmp_path, emulator, cluster_tasks("alpha", key_file))
    assert first.rc == 0, first.stdout

    assert first["identity"]["account_id"] == emulator.account_id
    vpc_id = first["vpc"]["vpc_id"]
    assert vpc_id.startswith("vpc-")
    assert [r["zone_id"] for r in first["vswitches"]["results"]] == list(ZONES)
    sg = first["security group"]
    assert sorted(sg["rules_added"]) == sorted(
        [
            "TCP port 9092 from 10.0.0.0/16 (accept)",
            "TCP port 9092 from 10.8.0.0/16 (accept)",
            f"TCP port 9093 from security group {sg['security_group_id']} (accept)",
            "TCP port 22 from 203.0.113.7/32 (accept)",
            "TCP port 8080 from 203.0.113.7/32 (accept)",
        ]
    )
    nodes = first["instances"]
    assert nodes["names"] == ["alpha-1", "alpha-2", "alpha-3"]
    assert sorted(nodes["zones"]) == sorted(ZONES), "one node per zone"
    assert all(ip.startswith("10.0.") for ip in nodes["private_ips"])
    assert all(i["status"] == "Running" for i in nodes["instances"])
    assert first["console eip"]["ip_address"]
    assert first["zone"]["zone_name"] == "alpha.automq.private"
    assert [r["records"][0]["value"] for r in first["records"]["results"]] == nodes["private_ips"]
    assert first["ram user"]["user_id"]
    hidden = first["access key"]
    assert hidden["censored"].startswith("the output has been hidden")
    assert hidden["changed"] is True
    assert set(hidden) <= {"censored", "changed", "_ansible_no_log", "action"}

    # The instances as ECS reports them: type, disk, key pair, no public IP, tags.
    described = clients.ecs.describe_instances(
        ecs_models.DescribeInstancesRequest(
            region_id=emulator.region_id, instance_ids=json.dumps(nodes["instance_ids"])
        )
    ).body.to_map()["Instances"]["Instance"]
    for instance in described:
        assert instance["InstanceType"] == "ecs.r7.large"
        assert instance["KeyPairName"] == "alpha"
        assert instance["InternetMaxBandwidthOut"] == 0
        tags = {t["TagKey"]: t["TagValue"] for t in instance["Tags"]["Tag"]}
        assert tags == {"automq:cluster": "alpha", "managed-by": "automq-ansible"}
    with emulator.lock:
        state = {i: emulator.state.instances[i] for i in nodes["instance_ids"]}
    for instance in state.values():
        disk = instance.system_disk
        assert (disk["Category"], int(disk["Size"]), disk["PerformanceLevel"]) == (
            "cloud_essd",
            40,
            "PL0",
        )
        assert instance.hostname == instance.name

    # The AccessKey: written once to the 0600 file, never printed.
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    stored = json.loads(key_file.read_text())
    assert stored["access_key_secret"] not in first.stdout

    # Bucket policy: only the RAM user, only from the VPC.
    policy = json.loads(
        clients.oss.get_bucket_policy(sdk.oss.GetBucketPolicyRequest(bucket="alpha-data")).body
    )
    allow, deny = policy["Statement"]
    assert allow["Principal"] == [first["ram user"]["user_id"]]
    assert allow["Condition"] == {"StringEquals": {"acs:SourceVpc": [vpc_id]}}
    assert allow["Resource"] == [
        f"acs:oss:*:{emulator.account_id}:alpha-data",
        f"acs:oss:*:{emulator.account_id}:alpha-data/*",
    ]
    assert deny["Effect"] == "Deny"

    # Second run: nothing changes, no write call succeeds.
    writes = successful_writes(emulator)
    second = play(tmp_path, emulator, cluster_tasks("alpha", key_file), "--diff")
    assert second.rc == 0, second.stdout
    assert second.changed() == []
    assert successful_writes(emulator) == writes
    assert second["access key"]["access_key_id"] == stored["access_key_id"]
    assert "access_key_secret" not in second["access key"]

    # Check mode with changes: reported, not made.
    check = play(tmp_path, emulator, cluster_tasks("alpha", key_file, count=4), "--check", "--diff")
    assert check.rc == 0, check.stdout
    # The emulator has no PrivateZone tag API: the zone's tags never stick, so check mode
    # (which cannot know that) predicts tagging it; nothing else about the zone changes.
    assert check.changed() == ["instances", "zone"]
    zone_diff = check["zone"]["diff"]
    assert {k: v for k, v in zone_diff["before"].items() if k != "tags"} == {
        k: v for k, v in zone_diff["after"].items() if k != "tags"
    }
    assert check["instances"]["created"] == ["alpha-4"]
    assert check["instances"]["diff"]["after"]["alpha-4"] == {
        "id": None,
        "status": "Pending",
        "zone_id": ZONES[0],
    }
    assert successful_writes(emulator) == writes
