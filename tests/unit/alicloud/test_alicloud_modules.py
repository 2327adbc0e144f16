"""The automq.alicloud modules, run by ansible-playbook (through ansible-runner) against the
Alibaba Cloud emulator.

One emulator (tests/alicloud_emulator, in-process, no containers) serves every test of the
file; each test uses its own cluster name, which the modules' tag lookups keep apart. The
modules reach it through the AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT variables and take the
account's key from ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, i.e. the SDK's default credential
chain, exactly as a playbook would.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret
from playbook_runner import PlaybookRun, run_tasks

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

import alibabacloud_ecs20140526.models as ecs_models  # noqa: E402 (the environment above must be set first)
import alibabacloud_ram20150501.models as ram_models  # noqa: E402 (the environment above must be set first)
import alibabacloud_vpc20160428.models as vpc_models  # noqa: E402 (the environment above must be set first)
import tests.alicloud_emulator as emulator_package  # noqa: E402 (the environment above must be set first)
from tests.alicloud_emulator import sdk  # noqa: E402 (the environment above must be set first)

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
    def __init__(self, run: PlaybookRun) -> None:
        self.rc, self.results = run.rc, run.results()
        # The console output and every event: the secret checks read both, as an AWX job
        # keeps both.
        self.stdout = run.transcript

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
    """Run the tasks on localhost against the emulator, with a vault password (which
    ``drop=("ANSIBLE_VAULT_PASSWORD_FILE",)`` takes away); results by task name."""
    environment = {
        **emulator_env(emulator),
        "HOME": str(tmp_path),  # no ~/.aliyun profile of the machine running the tests
        "ANSIBLE_VAULT_PASSWORD_FILE": str(vault_password_file(tmp_path)),
        **(env or {}),
    }
    for name in drop:
        # The run inherits this process's environment: a dropped name must not be in it.
        assert name not in os.environ, f"{name} is set in the environment of the tests"
        environment.pop(name, None)
    return Run(run_tasks(tmp_path, tasks, *options, envvars=environment, timeout=600))


def vault_password_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-password"
    if not path.exists():
        path.write_text("vault-password-of-the-test\n")
        path.chmod(0o600)
    return path


def read_key_file(tmp_path: Path, key_file: Path) -> dict[str, str]:
    """The key file, which must be vault-encrypted with the run's password."""
    data = key_file.read_bytes()
    assert data.startswith(b"$ANSIBLE_VAULT;1.1;AES256"), "the key file is not vault-encrypted"
    password = vault_password_file(tmp_path).read_text().strip().encode()
    return dict(json.loads(VaultLib([("default", VaultSecret(password))]).decrypt(data)))


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
            "name": "console group",
            "automq.alicloud.security_group": {
                "cluster": cluster,
                "name": f"{cluster}-console",
                "vpc_id": "{{ vpc.vpc_id }}",
                "rules": "{{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules("
                "admin_cidrs=['203.0.113.7/32'], console_port=8080, target='console') }}",
                "inner_access_policy": "drop",
            },
            "register": "console_sg",
        },
        {
            "name": "security group",
            "automq.alicloud.security_group": {
                "cluster": cluster,
                "name": f"{cluster}-nodes",
                "vpc_id": "{{ vpc.vpc_id }}",
                "rules": "{{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules("
                "client_cidrs=['10.8.0.0/16'], admin_cidrs=['203.0.113.7/32'], "
                "console_group=console_sg.security_group_id) }}",
                "inner_access_policy": "drop",
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
                # In check mode a node still to be created has no IP yet.
                "record_sets": "{{ nodes.instances | selectattr('private_ip')"
                " | items2dict(key_name='name', value_name='private_ip')"
                " | dict2items(key_name='rr', value_name='value') }}",
            },
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
    console_sg = first["console group"]["security_group_id"]
    assert sorted(sg["rules_added"]) == sorted(
        [
            "TCP port 9092 from 10.0.0.0/16 (accept)",
            "TCP port 9092 from 10.8.0.0/16 (accept)",
            *(
                f"TCP port {port} from security group {sg['security_group_id']} (accept)"
                for port in (9092, 9093, 9094)
            ),
            *(
                f"TCP port {port} from security group {console_sg} (accept)"
                for port in (22, 9092, 9093, 9464, 9404)
            ),
            "TCP port 22 from 203.0.113.7/32 (accept)",
        ]
    )
    assert sg["inner_access_policy"] == "Drop"
    assert sorted(first["console group"]["rules_added"]) == [
        "TCP port 22 from 203.0.113.7/32 (accept)",
        "TCP port 8080 from 203.0.113.7/32 (accept)",
    ]
    nodes = first["instances"]
    assert nodes["names"] == ["alpha-1", "alpha-2", "alpha-3"]
    assert sorted(nodes["zones"]) == sorted(ZONES), "one node per zone"
    assert all(ip.startswith("10.0.") for ip in nodes["private_ips"])
    assert all(i["status"] == "Running" for i in nodes["instances"])
    assert first["console eip"]["ip_address"]
    assert first["zone"]["zone_name"] == "alpha.automq.private"
    assert [r["value"] for r in first["records"]["records"]] == sorted(nodes["private_ips"])
    assert sorted(r["rr"] for r in first["records"]["records"]) == nodes["names"]
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

    # The AccessKey: written once to the 0600 file, vault-encrypted, never printed.
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    stored = read_key_file(tmp_path, key_file)
    assert stored["access_key_secret"] not in first.stdout
    assert sorted(p.name for p in key_file.parent.iterdir() if p.name.startswith(".ram")) == []

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
    assert check.changed() == ["instances"]
    zone_diff = check["zone"]["diff"]
    assert zone_diff["before"] == zone_diff["after"]
    assert zone_diff["after"]["tags"] == {"automq:cluster": "alpha", "managed-by": "automq-ansible"}
    assert check["instances"]["created"] == ["alpha-4"]
    assert check["instances"]["diff"]["after"]["alpha-4"] == {
        "id": None,
        "status": "Pending",
        "zone_id": ZONES[0],
    }
    assert successful_writes(emulator) == writes

    # Teardown in dependency order: every module's state=absent, then nothing of alpha is left.
    user_id = first["ram user"]["user_id"]
    teardown = play(
        tmp_path,
        emulator,
        [
            {
                "name": "bucket policies",
                "automq.alicloud.oss_bucket_policy": {
                    "bucket": "{{ item }}",
                    "ram_user_id": user_id,
                    "state": "absent",
                },
                "loop": ["alpha-data", "alpha-ops"],
            },
            {
                "name": "detach",
                "automq.alicloud.ram_user_policy": {
                    "user_name": "alpha-oss",
                    "policy_name": "alpha-oss",
                    "state": "absent",
                },
            },
            {
                "name": "policy",
                "automq.alicloud.ram_policy": {"policy_name": "alpha-oss", "state": "absent"},
            },
            {
                "name": "user",
                "automq.alicloud.ram_user": {"user_name": "alpha-oss", "state": "absent"},
            },
            {
                "name": "buckets",
                "automq.alicloud.oss_bucket": {
                    "cluster": "alpha",
                    "name": "{{ item }}",
                    "state": "absent",
                },
                "loop": ["alpha-data", "alpha-ops"],
            },
            {"name": "zone", "automq.alicloud.pvtz_zone": {"cluster": "alpha", "state": "absent"}},
            {
                "name": "eip",
                "automq.alicloud.eip": {
                    "cluster": "alpha",
                    "name": "alpha-console",
                    "state": "absent",
                },
            },
            {
                "name": "instances",
                "automq.alicloud.instance": {
                    "cluster": "alpha",
                    "name_prefix": "alpha",
                    "state": "absent",
                },
            },
            {
                "name": "key pair",
                "automq.alicloud.key_pair": {
                    "cluster": "alpha",
                    "name": "alpha",
                    "state": "absent",
                },
            },
            {
                # The nodes' group first: its rules name the console's.
                "name": "security group",
                "automq.alicloud.security_group": {
                    "cluster": "alpha",
                    "name": "{{ item }}",
                    "vpc_id": vpc_id,
                    "state": "absent",
                },
                "loop": ["alpha-nodes", "alpha-console"],
            },
            {
                "name": "vswitches",
                "automq.alicloud.vswitch": {
                    "cluster": "alpha",
                    "name": "alpha-{{ item }}",
                    "vpc_id": vpc_id,
                    "state": "absent",
                },
                "loop": list(ZONES),
            },
            {
                "name": "vpc",
                "automq.alicloud.vpc": {"cluster": "alpha", "name": "alpha", "state": "absent"},
            },
        ],
    )
    assert teardown.rc == 0, teardown.stdout
    assert teardown["instances"]["deleted"] == nodes["instance_ids"]
    snapshot = emulator.snapshot()
    assert vpc_id not in snapshot["vpcs"]
    assert not any(b in snapshot["buckets"] for b in ("alpha-data", "alpha-ops"))
    assert "alpha-oss" not in snapshot["users"]
    assert not [i for i in snapshot["instances"].values() if i["name"].startswith("alpha-")]
    assert not [z for z in snapshot["zones"].values() if z["name"] == "alpha.automq.private"]


def failed_with(result: dict[str, Any], *parts: str) -> str:
    assert result.get("failed") is True, result
    message = result["msg"]
    for part in parts:
        assert part in message, message
    return message


def test_errors_read_as_one_clear_sentence(tmp_path, emulator, clients):
    # A RAM user with no policy at all.
    clients.ram.create_user(ram_models.CreateUserRequest(user_name="nobody"))
    key = clients.ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="nobody")
    ).body.access_key
    lookup = {"automq.alicloud.vpc": {"cluster": "errors", "name": "errors"}}

    def task(name: str, environment: dict[str, str], body: dict[str, Any] = lookup) -> dict:
        return {"name": name, **body, "environment": environment, "ignore_errors": True}

    run = play(
        tmp_path,
        emulator,
        [
            task("unknown key", {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tUnknownKey000000"}),
            task("wrong secret", {"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret"}),
            task(
                "not allowed",
                {
                    "ALIBABA_CLOUD_ACCESS_KEY_ID": key.access_key_id,
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key.access_key_secret,
                },
            ),
            task(
                "no credentials",
                {"ALIBABA_CLOUD_ACCESS_KEY_ID": "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": ""},
            ),
            task("no region", {"ALIBABA_CLOUD_REGION_ID": ""}),
            task(
                "unreachable",
                {},
                {
                    "automq.alicloud.vpc": {
                        "cluster": "errors",
                        "name": "errors",
                        "endpoint": "127.0.0.1:9",
                        "protocol": "http",
                    }
                },
            ),
            task(
                "bad option",
                {},
                {
                    "automq.alicloud.vpc": {
                        "cluster": "errors",
                        "name": "errors",
                        "cidr_block": "10.0.0.0/33",
                    }
                },
            ),
            task(
                "world open",
                {},
                {
                    "automq.alicloud.security_group": {
                        "cluster": "errors",
                        "name": "open",
                        "vpc_id": "vpc-any",
                        "rules": [{"ports": 22, "cidr": "0.0.0.0/0"}],
                    }
                },
            ),
            task(
                "missing vpc",
                {},
                {
                    "automq.alicloud.vswitch": {
                        "cluster": "errors",
                        "name": "x",
                        "vpc_id": "vpc-doesnotexist",
                        "zone_id": ZONES[0],
                        "cidr_block": "10.0.1.0/24",
                    }
                },
            ),
        ],
    )
    assert run.rc == 0, run.stdout
    assert failed_with(
        run["unknown key"],
        "Could not look up VPC 'errors' (DescribeVpcs): the AccessKey ID is not known to "
        "Alibaba Cloud: check ALIBABA_CLOUD_ACCESS_KEY_ID or your profile [InvalidAccessKeyId",
    )
    assert run["unknown key"]["request_id"]
    failed_with(
        run["wrong secret"], "the AccessKey secret does not match", "[SignatureDoesNotMatch"
    )
    failed_with(run["not allowed"], "this identity lacks the RAM permission vpc:DescribeVpcs")
    assert run["not allowed"]["error_code"] == "Forbidden.RAM"
    failed_with(run["no credentials"], "no usable Alibaba Cloud credentials", "RAM role")
    failed_with(run["no region"], "no region: set the region option or ALIBABA_CLOUD_REGION_ID")
    failed_with(run["unreachable"], "cannot reach the VPC endpoint http://127.0.0.1:9")
    failed_with(run["bad option"], "cidr_block '10.0.0.0/33' is not an IPv4 network")
    failed_with(run["world open"], "opens the port to the whole Internet (0.0.0.0/0)")
    failed_with(run["missing vpc"], "Could not create vSwitch 'x' of vpc-doesnotexist")


def test_throttling_is_retried_with_backoff_then_reported(tmp_path, emulator):
    emulator.fail_next("DescribeVpcs", count=2, product="vpc")
    emulator.fail_next("DescribeSecurityGroups", count=5, product="ecs")
    run = play(
        tmp_path,
        emulator,
        [
            {
                "name": "vpc",
                "automq.alicloud.vpc": {"cluster": "slow", "name": "slow", "state": "absent"},
            },
            {
                "name": "sg",
                "automq.alicloud.security_group": {
                    "cluster": "slow",
                    "name": "slow",
                    "vpc_id": "vpc-any",
                },
                "environment": {"AUTOMQ_ALICLOUD_MAX_ATTEMPTS": "3"},
                "ignore_errors": True,
            },
        ],
    )
    emulator.clear_faults()
    assert run.rc == 0, run.stdout
    assert run["vpc"]["vpc_id"] is None
    assert len(run["vpc"]["retries"]) == 2
    assert run["vpc"]["retries"][0].startswith("attempt 1 got Throttling.User, retried after")
    failed_with(run["sg"], "ECS kept throttling the requests", "[Throttling.User")
    assert len(emulator.calls_of("DescribeSecurityGroups")) >= 3


def test_access_key_contract(tmp_path, emulator):
    key_file = tmp_path / "key.json"
    secret_copy = tmp_path / "secret.txt"
    user = "keyholder"
    access_key = "automq.alicloud.ram_access_key"
    run = play(
        tmp_path,
        emulator,
        [
            {"name": "user", "automq.alicloud.ram_user": {"user_name": user}},
            {"name": "check mode", access_key: {"user_name": user}, "check_mode": True},
            {
                "name": "create",
                access_key: {"user_name": user, "secret_file": str(key_file)},
                "register": "first",
            },
            {
                "name": "from the file",
                access_key: {"user_name": user, "secret_file": str(key_file)},
            },
            {"name": "unnamed", access_key: {"user_name": user}, "ignore_errors": True},
            {
                "name": "named",
                access_key: {"user_name": user, "user_access_key_id": "{{ first.access_key_id }}"},
            },
            {
                "name": "unknown",
                access_key: {"user_name": user, "user_access_key_id": "LTAI5tNotHis"},
                "ignore_errors": True,
            },
            {
                "name": "delete",
                access_key: {
                    "user_name": user,
                    "user_access_key_id": "{{ first.access_key_id }}",
                    "state": "absent",
                },
            },
            {"name": "recreate", access_key: {"user_name": user}, "register": "second"},
            {
                "name": "keep the secret",
                "ansible.builtin.copy": {
                    "dest": str(secret_copy),
                    "content": "{{ second.access_key_id }} {{ second.access_key_secret }}",
                    "mode": "0600",
                },
                "no_log": True,
            },
        ],
    )
    assert run.rc == 0, run.stdout
    assert run["check mode"]["changed"] is True
    assert "censored" in run["create"]
    stored = read_key_file(tmp_path, key_file)
    assert stored["access_key_secret"] not in run.stdout
    assert run["from the file"]["changed"] is False
    assert run["from the file"]["access_key_id"] == stored["access_key_id"]
    failed_with(
        run["unnamed"],
        f"RAM user {user} already has AccessKey {stored['access_key_id']} (Active)",
        "no second key is created silently",
    )
    assert run["named"]["changed"] is False
    assert "access_key_secret" not in run["named"]
    failed_with(run["unknown"], f"AccessKey LTAI5tNotHis is not a key of RAM user {user}")
    assert run["delete"]["changed"] is True
    assert "censored" in run["recreate"]
    key_id, secret = secret_copy.read_text().split()
    assert secret not in run.stdout
    # The secret returned to register works.
    identity = sdk.make_clients(emulator, key_id, secret).sts.get_caller_identity().body
    assert identity.arn.endswith(f"user/{user}")
    with emulator.lock:
        keys = [k for k in emulator.state.access_keys.values() if k.user_name == user]
    assert [k.id for k in keys] == [key_id], "exactly one key, never a silent second one"


def test_a_new_key_needs_a_vault_password_unless_kept_in_clear(tmp_path, emulator):
    """Without a vault password the key is not created (its file could only be written in
    clear); secret_file_plaintext writes it in clear, mode 0600; an existing encrypted file
    without the password is an error naming it."""
    access_key = "automq.alicloud.ram_access_key"
    key_file, clear_file = tmp_path / "key.json", tmp_path / "clear.json"
    setup = play(tmp_path, emulator, [
        {"name": "users", "automq.alicloud.ram_user": {"user_name": "{{ item }}"},
         "loop": ["vaultless", "cleartext"]},
    ])  # fmt: skip
    assert setup.rc == 0, setup.stdout
    refused = play(
        tmp_path,
        emulator,
        [{"name": "create", access_key: {"user_name": "vaultless", "secret_file": str(key_file)}}],
        drop=("ANSIBLE_VAULT_PASSWORD_FILE",),
    )
    assert refused.rc != 0
    failed_with(refused["create"], "given no vault password", "No key was created")
    assert not key_file.exists()
    with emulator.lock:
        assert [k for k in emulator.state.access_keys.values() if k.user_name == "vaultless"] == []

    tasks = [{
        "name": "create",
        access_key: {"user_name": "cleartext", "secret_file": str(clear_file),
                     "secret_file_plaintext": True},
    }]  # fmt: skip
    clear = play(tmp_path, emulator, tasks, drop=("ANSIBLE_VAULT_PASSWORD_FILE",))
    assert clear.rc == 0, clear.stdout
    assert oct(clear_file.stat().st_mode & 0o777) == "0o600"
    with emulator.lock:
        (key,) = [k for k in emulator.state.access_keys.values() if k.user_name == "cleartext"]
    assert json.loads(clear_file.read_text())["access_key_id"] == key.id

    created = play(tmp_path, emulator, [
        {"name": "create", access_key: {"user_name": "vaultless", "secret_file": str(key_file)}},
    ])  # fmt: skip
    assert created.rc == 0, created.stdout
    assert read_key_file(tmp_path, key_file)["access_key_id"]
    again = play(
        tmp_path,
        emulator,
        [{"name": "again", access_key: {"user_name": "vaultless", "secret_file": str(key_file)}}],
        drop=("ANSIBLE_VAULT_PASSWORD_FILE",),
    )
    failed_with(again["again"], f"secret_file {key_file} is vault-encrypted")


def test_bucket_settings_policy_merge_and_purge(tmp_path, emulator, clients):
    bucket = "beta-data"
    principal = "999999999999999999"
    foreign = {
        "Effect": "Allow",
        "Principal": ["111111111111111111"],
        "Action": ["oss:GetObject"],
        "Resource": [f"acs:oss:*:{emulator.account_id}:{bucket}/public/*"],
    }
    setup = play(
        tmp_path,
        emulator,
        [
            {
                "name": "bucket",
                "automq.alicloud.oss_bucket": {
                    "cluster": "beta",
                    "name": bucket,
                    "lifecycle_rules": [
                        {"id": "logs", "prefix": "automq/logs/", "expiration_days": 3},
                        {"id": "uploads", "prefix": "tmp/", "abort_multipart_days": 1},
                    ],
                },
            },
        ],
    )
    assert setup.rc == 0, setup.stdout
    assert clients.oss.get_bucket_acl(sdk.oss.GetBucketAclRequest(bucket=bucket)).acl == "private"
    encryption = clients.oss.get_bucket_encryption(
        sdk.oss.GetBucketEncryptionRequest(bucket=bucket)
    )
    rule = encryption.server_side_encryption_rule.apply_server_side_encryption_by_default
    assert rule.sse_algorithm == "AES256"
    lifecycle = clients.oss.get_bucket_lifecycle(sdk.oss.GetBucketLifecycleRequest(bucket=bucket))
    assert sorted((r.id, r.prefix) for r in lifecycle.lifecycle_configuration.rules) == [
        ("logs", "automq/logs/"),
        ("uploads", "tmp/"),
    ]
    clients.oss.put_bucket_policy(
        sdk.oss.PutBucketPolicyRequest(
            bucket=bucket, body=json.dumps({"Version": "1", "Statement": [foreign]})
        )
    )
    clients.oss.put_object(sdk.oss.PutObjectRequest(bucket=bucket, key="automq/x", body=b"data"))
    policy_task = {
        "automq.alicloud.oss_bucket_policy": {
            "bucket": bucket,
            "ram_user_id": principal,
            "vpc_ids": ["vpc-beta"],
        }
    }
    run = play(
        tmp_path,
        emulator,
        [
            {"name": "policy check mode", **policy_task, "check_mode": True},
            {"name": "policy", **policy_task},
            {"name": "policy again", **policy_task},
            {
                "name": "policy absent",
                "automq.alicloud.oss_bucket_policy": {
                    "bucket": bucket,
                    "ram_user_id": principal,
                    "state": "absent",
                },
            },
            {
                "name": "encryption off",
                "automq.alicloud.oss_bucket": {
                    "cluster": "beta",
                    "name": bucket,
                    "server_side_encryption": "none",
                    "lifecycle_rules": [],
                    "purge_lifecycle_rules": True,
                },
            },
            {
                "name": "delete refused",
                "automq.alicloud.oss_bucket": {
                    "cluster": "beta",
                    "name": bucket,
                    "state": "absent",
                },
                "ignore_errors": True,
            },
            {
                "name": "purge",
                "automq.alicloud.oss_bucket": {
                    "cluster": "beta",
                    "name": bucket,
                    "state": "absent",
                    "purge": True,
                },
            },
        ],
    )
    assert run.rc == 0, run.stdout
    assert run["policy check mode"]["changed"] is True
    merged = run["policy"]["policy"]["Statement"]
    assert merged[0] == foreign
    assert [s["Effect"] for s in merged[1:]] == ["Allow", "Deny"]
    assert run["policy"]["account_id"] == emulator.account_id  # from STS
    assert run["policy again"]["changed"] is False
    assert run["policy absent"]["policy"] == {"Version": "1", "Statement": [foreign]}
    assert run["encryption off"]["changed"] is True
    failed_with(
        run["delete refused"], "still holds objects (for example 'automq/x')", "purge: true"
    )
    assert run["purge"]["deleted_objects"] == 1
    assert bucket not in emulator.snapshot()["buckets"]


def test_a_bucket_not_tagged_for_the_cluster_is_adopted_only_when_asked(
    tmp_path, emulator, clients
):
    """Someone else's bucket of the configured name: refused before any write (used, purged),
    adopted and tagged when asked, its own lifecycle rule kept beside the cluster's."""
    bucket = "gamma-ops"
    clients.oss.put_bucket(sdk.oss.PutBucketRequest(bucket=bucket))
    theirs = sdk.oss.LifecycleRule(
        id="their-archive", prefix="archive/", status="Enabled",
        expiration=sdk.oss.LifecycleRuleExpiration(days=365),
    )  # fmt: skip
    clients.oss.put_bucket_lifecycle(
        sdk.oss.PutBucketLifecycleRequest(
            bucket=bucket, lifecycle_configuration=sdk.oss.LifecycleConfiguration(rules=[theirs])
        )
    )
    clients.oss.put_object(sdk.oss.PutObjectRequest(bucket=bucket, key="archive/x", body=b"x"))

    def bucket_task(name: str, cluster: str = "gamma", prefix: str = "automq/", **options: Any):
        rule = {"id": "automq-ops-expiry", "prefix": prefix, "expiration_days": 7}
        return {"name": name, "ignore_errors": True, "automq.alicloud.oss_bucket": {
            "cluster": cluster, "name": bucket, "lifecycle_rules": [rule], **options}}  # fmt: skip

    writes = len(successful_writes(emulator))
    refused = play(tmp_path, emulator, [
        bucket_task("use"),
        bucket_task("purge", state="absent", purge=True),
        bucket_task("adopt, overlapping", prefix="", adopt=True),
    ])  # fmt: skip
    failed_with(
        refused["use"], "'gamma-ops' already exists and is not tagged automq:cluster=gamma",
        "alicloud_storage_adopt_buckets",
    )  # fmt: skip
    failed_with(refused["purge"], "not tagged automq:cluster=gamma", "neither emptied nor deleted")
    failed_with(
        refused["adopt, overlapping"], "lifecycle rule 'their-archive' (prefix 'archive/') "
        "overlaps rule 'automq-ops-expiry' (prefix '')", "purge_lifecycle_rules",
    )  # fmt: skip
    assert len(successful_writes(emulator)) == writes  # nothing changed anywhere

    run = play(tmp_path, emulator, [
        bucket_task("adopt", adopt=True),
        bucket_task("again"),
        bucket_task("another cluster", cluster="delta"),
        bucket_task("another cluster's purge", cluster="delta", state="absent", purge=True),
        bucket_task("purge", state="absent", purge=True),
    ])  # fmt: skip
    assert run["adopt"]["changed"] is True, run["adopt"]
    assert sorted(r["id"] for r in run["adopt"]["lifecycle_rules"]) == [
        "automq-ops-expiry", "their-archive"
    ]  # fmt: skip
    assert run["again"]["changed"] is False, run["again"]
    failed_with(run["another cluster"], "is tagged automq:cluster=gamma")
    failed_with(run["another cluster's purge"], "is tagged automq:cluster=gamma")
    assert run["purge"]["deleted_objects"] == 1, run["purge"]
    assert bucket not in emulator.snapshot()["buckets"]


def test_security_group_rules_are_reconciled_exclusively(tmp_path, emulator, clients):
    def group(rules: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "automq.alicloud.security_group": {
                "cluster": "gamma",
                "name": "gamma",
                "vpc_id": "{{ vpc.vpc_id }}",
                "rules": rules,
                **extra,
            },
            "register": "sg",
        }

    vpc_task = {
        "name": "vpc",
        "automq.alicloud.vpc": {"cluster": "gamma", "name": "gamma", "cidr_block": "10.1.0.0/16"},
        "register": "vpc",
    }
    first = play(
        tmp_path,
        emulator,
        [
            vpc_task,
            {
                "name": "group",
                **group(
                    [{"ports": 9092, "cidr": "10.1.0.0/16"}, {"ports": 22, "cidr": "192.0.2.1"}]
                ),
            },
        ],
    )
    assert first.rc == 0, first.stdout
    group_id = first["group"]["security_group_id"]
    clients.ecs.authorize_security_group(
        ecs_models.AuthorizeSecurityGroupRequest(
            region_id=emulator.region_id,
            security_group_id=group_id,
            permissions=[
                ecs_models.AuthorizeSecurityGroupRequestPermissions(
                    ip_protocol="TCP",
                    port_range="80/80",
                    source_cidr_ip="10.9.0.0/16",
                    description="opened by hand",
                )
            ],
        )
    )
    wanted = [{"ports": 9092, "cidr": "10.1.0.0/16"}, {"ports": 9093, "source_group": "self"}]
    second = play(
        tmp_path,
        emulator,
        [
            vpc_task,
            {"name": "reconcile", **group(wanted)},
            {"name": "again", **group(wanted)},
            {"name": "purge foreign", **group(wanted, purge_foreign_rules=True)},
            {"name": "isolate", **group(wanted, inner_access_policy="drop")},
            {"name": "isolated", **group(wanted, inner_access_policy="drop")},
            {"name": "policy untouched", **group(wanted)},
        ],
        "--diff",
    )
    assert second.rc == 0, second.stdout
    reconcile = second["reconcile"]
    assert reconcile["rules_added"] == [f"TCP port 9093 from security group {group_id} (accept)"]
    assert reconcile["rules_revoked"] == ["TCP port 22 from 192.0.2.1/32 (accept)"]
    foreign = [r for r in reconcile["rules"] if not r["managed"]]
    assert [(r["port_range"], r["source_cidr"]) for r in foreign] == [("80/80", "10.9.0.0/16")]
    assert "TCP port 22 from 192.0.2.1/32 (accept)" in reconcile["diff"]["before"]["rules"]
    assert second["again"]["changed"] is False
    assert second["purge foreign"]["rules_revoked"] == ["TCP port 80 from 10.9.0.0/16 (accept)"]
    assert all(r["managed"] for r in second["purge foreign"]["rules"])
    # Members isolated from each other: only the rules decide (a new group accepts).
    isolate = second["isolate"]
    assert (isolate["changed"], isolate["inner_access_policy"]) == (True, "Drop")
    assert isolate["diff"]["before"]["inner_access_policy"] == "Accept"
    assert isolate["diff"]["after"]["inner_access_policy"] == "Drop"
    assert second["isolated"]["changed"] is False
    assert (
        second["policy untouched"]["changed"],
        second["policy untouched"]["inner_access_policy"],
    ) == (False, "Drop")
    shown = clients.ecs.describe_security_group_attribute(
        ecs_models.DescribeSecurityGroupAttributeRequest(
            region_id=emulator.region_id, security_group_id=group_id
        )
    ).body
    assert shown.inner_access_policy == "Drop"


def test_instances_scale_out_report_extras_and_delete(tmp_path, emulator):
    def nodes(name: str, count: int | None = None, **extra: Any) -> dict[str, Any]:
        args: dict[str, Any] = {
            "cluster": "delta",
            "name_prefix": "delta",
            "instance_type": "ecs.r7.large",
            "image_id": IMAGE,
            "vswitches": "{{ vswitches.results }}",
            "security_group_ids": ["{{ sg.security_group_id }}"],
            **extra,
        }
        if count is not None:
            args["count"] = count
        return {"name": name, "automq.alicloud.instance": args, "register": "nodes"}

    run = play(
        tmp_path,
        emulator,
        [
            {
                "name": "vpc",
                "automq.alicloud.vpc": {
                    "cluster": "delta",
                    "name": "delta",
                    "cidr_block": "10.2.0.0/16",
                },
                "register": "vpc",
            },
            {
                "name": "vswitches",
                "automq.alicloud.vswitch": {
                    "cluster": "delta",
                    "name": "delta-{{ item.0 }}",
                    "vpc_id": "{{ vpc.vpc_id }}",
                    "zone_id": "{{ item.0 }}",
                    "cidr_block": "10.2.{{ item.1 }}.0/24",
                },
                "loop": [[ZONES[0], 1], [ZONES[1], 2]],
                "register": "vswitches",
            },
            {
                "name": "sg",
                "automq.alicloud.security_group": {
                    "cluster": "delta",
                    "name": "delta",
                    "vpc_id": "{{ vpc.vpc_id }}",
                },
                "register": "sg",
            },
            nodes("two", 2),
            nodes("three", 3),
            nodes("three again", 3),
            nodes("back to two", 2),
            nodes("delete the extra", 2, delete_extra=True),
            {
                **nodes("x", 3, instance_type="ecs.t6-c1m1.large"),
                "name": "unsupported type",
                "ignore_errors": True,
            },
            nodes("gone", state="absent"),
        ],
    )
    assert run.rc == 0, run.stdout
    assert run["two"]["zones"] == [ZONES[0], ZONES[1]]
    # The type's bandwidth limit as DescribeInstanceTypes reports it (the emulator's figure).
    assert [i["bandwidth_kbps"] for i in run["two"]["instances"]] == [1024000, 1024000]
    assert run["three"]["created"] == ["delta-3"]
    assert run["three again"]["changed"] is False
    extra = run["back to two"]
    assert extra["changed"] is False
    assert [i["name"] for i in extra["extra"]] == ["delta-3"]
    assert any("delta-3" in w for w in extra.get("warnings", []))
    assert run["delete the extra"]["deleted"] == [extra["extra"][0]["instance_id"]]
    failed_with(run["unsupported type"], "instance_type 'ecs.t6-c1m1.large' is not in")
    assert len(run["gone"]["deleted"]) == 2
    assert run["gone"]["instances"] == []


def test_ram_policy_keeps_at_most_five_versions(tmp_path, emulator, clients):
    def document(n: int) -> dict[str, Any]:
        return {
            "Version": "1",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["oss:GetObject"],
                    "Resource": [f"acs:oss:*:*:b{n}/*"],
                }
            ],
        }

    run = play(
        tmp_path,
        emulator,
        [
            {
                "name": "versions",
                "automq.alicloud.ram_policy": {
                    "policy_name": "epsilon",
                    "policy_document": "{{ item }}",
                },
                "loop": [document(n) for n in range(1, 8)],
            },
            {
                "name": "same",
                "automq.alicloud.ram_policy": {
                    "policy_name": "epsilon",
                    "policy_document": json.dumps(document(7)),
                },
            },
            {
                "name": "principal refused",
                "automq.alicloud.ram_policy": {
                    "policy_name": "epsilon",
                    "policy_document": {
                        "Version": "1",
                        "Statement": [{**document(1)["Statement"][0], "Principal": "*"}],
                    },
                },
                "ignore_errors": True,
            },
        ],
    )
    assert run.rc == 0, run.stdout
    results = run["versions"]["results"]
    assert all(r["changed"] for r in results)
    assert results[-1]["default_version"] == "v7"
    assert results[-1]["deleted_versions"] == ["v2"]
    assert run["same"]["changed"] is False
    failed_with(run["principal refused"], "RAM policies have no Principal")
    versions = clients.ram.list_policy_versions(
        ram_models.ListPolicyVersionsRequest(policy_name="epsilon", policy_type="Custom")
    ).body.to_map()["PolicyVersions"]["PolicyVersion"]
    assert len(versions) == 5
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v7"]


def test_check_mode_creates_nothing(tmp_path, emulator):
    writes = successful_writes(emulator)
    run = play(
        tmp_path,
        emulator,
        [
            {
                "name": "vpc",
                "automq.alicloud.vpc": {
                    "cluster": "zeta",
                    "name": "zeta",
                    "cidr_block": "10.3.0.0/16",
                },
            },
            {
                "name": "key pair",
                "automq.alicloud.key_pair": {
                    "cluster": "zeta",
                    "name": "zeta",
                    "public_key": PUBLIC_KEY,
                },
            },
            {"name": "eip", "automq.alicloud.eip": {"cluster": "zeta", "name": "zeta"}},
            {"name": "zone", "automq.alicloud.pvtz_zone": {"cluster": "zeta"}},
            {
                "name": "bucket",
                "automq.alicloud.oss_bucket": {"cluster": "zeta", "name": "zeta-data"},
            },
            {"name": "user", "automq.alicloud.ram_user": {"user_name": "zeta"}},
            {
                "name": "policy",
                "automq.alicloud.ram_policy": {"policy_name": "zeta", "oss_buckets": ["zeta-data"]},
            },
            {
                "name": "attach",
                "automq.alicloud.ram_user_policy": {"user_name": "zeta", "policy_name": "zeta"},
            },
        ],
        "--check",
        "--diff",
    )
    assert run.rc == 0, run.stdout
    assert run.changed() == sorted(
        ["vpc", "key pair", "eip", "zone", "bucket", "user", "policy", "attach"]
    )
    assert run["vpc"]["vpc_id"] is None
    assert run["vpc"]["diff"]["before"] == {}
    assert run["vpc"]["diff"]["after"]["cidr_block"] == "10.3.0.0/16"
    assert run["bucket"]["diff"]["after"]["server_side_encryption"] == "AES256"
    assert successful_writes(emulator) == writes


def test_updates_in_place_and_refused_changes(tmp_path, emulator, clients):
    other_key = (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPS1/d9NvqWvTJkrvOQR624XaZpmtFgb7ZwfVTfJxKmD other"
    )
    setup = [
        {
            "name": "vpc",
            "automq.alicloud.vpc": {"cluster": "eta", "name": "eta", "cidr_block": "10.4.0.0/16"},
            "register": "vpc",
        },
        {
            "name": "vswitch",
            "automq.alicloud.vswitch": {
                "cluster": "eta",
                "name": "eta-a",
                "vpc_id": "{{ vpc.vpc_id }}",
                "zone_id": ZONES[0],
                "cidr_block": "10.4.1.0/24",
            },
            "register": "vsw",
        },
        {
            "name": "sg",
            "automq.alicloud.security_group": {
                "cluster": "eta",
                "name": "eta",
                "vpc_id": "{{ vpc.vpc_id }}",
            },
            "register": "sg",
        },
        {
            "name": "nodes",
            "automq.alicloud.instance": {
                "cluster": "eta",
                "name_prefix": "eta",
                "count": 2,
                "instance_type": "ecs.r7.large",
                "image_id": IMAGE,
                "vswitches": ["{{ vsw }}"],
                "security_group_ids": ["{{ sg.security_group_id }}"],
            },
            "register": "nodes",
        },
        {
            "name": "zone",
            "automq.alicloud.pvtz_zone": {"cluster": "eta", "vpc_ids": ["{{ vpc.vpc_id }}"]},
            "register": "zone",
        },
    ]

    def record_sets_task(name: str, record_sets: list[dict], **options: Any) -> dict[str, Any]:
        return {
            "name": name,
            "automq.alicloud.pvtz_record": {
                "zone_id": "{{ zone.zone_id }}",
                "record_sets": record_sets,
                **options,
            },
        }

    two_sets = [
        {"rr": "eta-1", "value": "10.4.1.21"},
        {"rr": "eta-2", "values": ["10.4.1.22", "10.4.1.23"], "ttl": 30},
    ]
    moved = {"rr": "eta-1", "value": "10.4.1.31"}
    run = play(
        tmp_path,
        emulator,
        [
            *setup,
            {
                "name": "key",
                "automq.alicloud.key_pair": {
                    "cluster": "eta",
                    "name": "eta",
                    "public_key": PUBLIC_KEY,
                },
            },
            {
                "name": "other key refused",
                "automq.alicloud.key_pair": {
                    "cluster": "eta",
                    "name": "eta",
                    "public_key": other_key,
                },
                "ignore_errors": True,
            },
            {
                "name": "other key forced",
                "automq.alicloud.key_pair": {
                    "cluster": "eta",
                    "name": "eta",
                    "public_key": other_key,
                    "force": True,
                },
            },
            {
                "name": "eip on node 1",
                "automq.alicloud.eip": {
                    "cluster": "eta",
                    "name": "eta",
                    "instance_id": "{{ nodes.instance_ids[0] }}",
                },
            },
            {
                "name": "eip moves to node 2",
                "automq.alicloud.eip": {
                    "cluster": "eta",
                    "name": "eta",
                    "instance_id": "{{ nodes.instance_ids[1] }}",
                },
            },
            {
                "name": "public eip of node 1",
                "automq.alicloud.eip": {
                    "cluster": "eta",
                    "name": "eta-public-1",
                    "instance_id": "{{ nodes.instance_ids[0] }}",
                },
            },
            {
                "name": "public eip unattached",
                "automq.alicloud.eip": {"cluster": "eta", "name": "eta-public-2"},
            },
            {
                "name": "prefix release checked",
                "automq.alicloud.eip": {
                    "cluster": "eta",
                    "name_prefix": "eta-public-",
                    "state": "absent",
                },
                "check_mode": True,
            },
            {
                "name": "prefix release",
                "automq.alicloud.eip": {
                    "cluster": "eta",
                    "name_prefix": "eta-public-",
                    "state": "absent",
                },
            },
            {
                "name": "prefix release again",
                "automq.alicloud.eip": {
                    "cluster": "eta",
                    "name_prefix": "eta-public-",
                    "state": "absent",
                },
            },
            {
                "name": "prefix refused when present",
                "automq.alicloud.eip": {"cluster": "eta", "name_prefix": "eta-public-"},
                "ignore_errors": True,
            },
            {
                "name": "record",
                "automq.alicloud.pvtz_record": {
                    "zone_id": "{{ zone.zone_id }}",
                    "rr": "eta-1",
                    "value": "10.4.1.10",
                },
            },
            {
                "name": "record moves",
                "automq.alicloud.pvtz_record": {
                    "zone_id": "{{ zone.zone_id }}",
                    "rr": "eta-1",
                    "values": ["10.4.1.11", "10.4.1.12"],
                    "ttl": 300,
                },
            },
            {
                "name": "record gone",
                "automq.alicloud.pvtz_record": {
                    "zone_id": "{{ zone.zone_id }}",
                    "rr": "eta-1",
                    "state": "absent",
                },
            },
            # Several sets in one call: the zone read once, each set as alone, the
            # zone's other records left alone.
            {
                "name": "kept record",
                "automq.alicloud.pvtz_record": {
                    "zone_id": "{{ zone.zone_id }}",
                    "rr": "www",
                    "value": "10.4.9.9",
                },
            },
            record_sets_task("sets", two_sets, ttl=120),
            record_sets_task("sets again", two_sets, ttl=120),
            {**record_sets_task("set moves", [moved, two_sets[1]], ttl=120), "diff": True},
            {
                **record_sets_task(
                    "set twice refused", [moved, {"rr": "ETA-1", "value": "10.4.1.32"}]
                ),
                "ignore_errors": True,
            },
            record_sets_task("sets gone", [{"rr": "eta-1"}, {"rr": "eta-2"}], state="absent"),
            {
                "name": "unbound",
                "automq.alicloud.pvtz_zone": {"cluster": "eta", "vpc_ids": []},
            },
            {
                "name": "public bucket",
                "automq.alicloud.oss_bucket": {
                    "cluster": "eta",
                    "name": "eta-web",
                    "acl": "public-read",
                },
            },
            {
                "name": "private again",
                "automq.alicloud.oss_bucket": {"cluster": "eta", "name": "eta-web"},
            },
            {
                "name": "vpc cidr refused",
                "automq.alicloud.vpc": {
                    "cluster": "eta",
                    "name": "eta",
                    "cidr_block": "10.5.0.0/16",
                },
                "ignore_errors": True,
            },
            {
                "name": "vswitch zone refused",
                "automq.alicloud.vswitch": {
                    "cluster": "eta",
                    "name": "eta-a",
                    "vpc_id": "{{ vpc.vpc_id }}",
                    "zone_id": ZONES[1],
                },
                "ignore_errors": True,
            },
            {
                "name": "same name, other cluster",
                "automq.alicloud.vpc": {"cluster": "theta", "name": "eta", "state": "absent"},
            },
        ],
    )
    assert run.rc == 0, run.stdout
    failed_with(run["other key refused"], "holds another public key", "force: true")
    assert run["other key forced"]["changed"] is True
    pairs = clients.ecs.describe_key_pairs(
        ecs_models.DescribeKeyPairsRequest(
            region_id=emulator.region_id, key_pair_name="eta", include_public_key=True
        )
    ).body.to_map()["KeyPairs"]["KeyPair"]
    assert [p["PublicKey"].split()[1] for p in pairs] == [other_key.split()[1]]
    assert run["eip moves to node 2"]["changed"] is True
    eips = clients.vpc.describe_eip_addresses(
        vpc_models.DescribeEipAddressesRequest(region_id=emulator.region_id)
    ).body.to_map()["EipAddresses"]["EipAddress"]
    eta = [e for e in eips if e.get("Name") == "eta"]
    assert [e["InstanceId"] for e in eta] == [run["nodes"]["instance_ids"][1]]
    # A prefix releases the cluster's EIPs of that name, attached or not, and no other.
    assert run["prefix release checked"]["changed"] is True
    assert run["prefix release checked"]["released"] == ["eta-public-1", "eta-public-2"]
    assert run["prefix release"]["released"] == ["eta-public-1", "eta-public-2"]
    assert run["prefix release again"]["changed"] is False
    assert run["prefix release again"]["released"] == []
    failed_with(run["prefix refused when present"], "missing: name")
    assert sorted(e.get("Name") for e in eips) == ["eta"]
    assert [r["value"] for r in run["record moves"]["records"]] == ["10.4.1.11", "10.4.1.12"]
    assert all(r["ttl"] == 300 for r in run["record moves"]["records"])
    assert run["record gone"]["records"] == []
    assert run["sets"]["changed"] is True
    assert [(r["rr"], r["value"], r["ttl"]) for r in run["sets"]["records"]] == [
        ("eta-1", "10.4.1.21", 120),
        ("eta-2", "10.4.1.22", 30),
        ("eta-2", "10.4.1.23", 30),
    ]
    assert run["sets again"]["changed"] is False
    assert run["set moves"]["changed"] is True
    assert run["set moves"]["diff"]["before"]["eta-1 A"] == ["10.4.1.21 ttl=120"]
    assert run["set moves"]["diff"]["after"]["eta-1 A"] == ["10.4.1.31 ttl=120"]
    assert (
        run["set moves"]["diff"]["before"]["eta-2 A"]
        == run["set moves"]["diff"]["after"]["eta-2 A"]
    )
    failed_with(run["set twice refused"], "record_sets names eta-1 A more than once")
    assert run["sets gone"]["records"] == []
    assert run["kept record"]["changed"] is True
    assert run["unbound"]["vpc_ids"] == []
    assert run["public bucket"]["acl"] == "public-read"
    assert run["private again"]["changed"] is True
    failed_with(run["vpc cidr refused"], "a VPC's CIDR block cannot change")
    failed_with(run["vswitch zone refused"], f"has zone_id {ZONES[0]}, not {ZONES[1]}")
    assert run["same name, other cluster"]["changed"] is False, "other clusters are invisible"


def test_the_awx_credential_type_injects_what_the_modules_read(tmp_path, emulator, clients):
    """awx/credential_type.yml, rendered as AWX renders its injectors (Jinja over the
    credential's inputs; an input left empty renders empty), authenticates the modules
    as the credential's RAM user: the variables it sets are the ones the SDK reads."""
    import jinja2
    import yaml

    definition = yaml.safe_load((REPO / "awx" / "credential_type.yml").read_text())
    fields = {field["id"]: field for field in definition["inputs"]["fields"]}
    assert set(definition["inputs"]["required"]) == {"access_key_id", "access_key_secret"}
    assert [name for name, field in fields.items() if field.get("secret")] == [
        "access_key_secret",
        "security_token",
    ]
    clients.ram.create_user(ram_models.CreateUserRequest(user_name="awx-provisioner"))
    key = clients.ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="awx-provisioner")
    ).body.access_key
    # What an AWX credential of this type holds: the key, no STS token.
    inputs = {name: "" for name in fields} | {
        "access_key_id": key.access_key_id,
        "access_key_secret": key.access_key_secret,
    }
    injected = {
        name: jinja2.Template(template).render(**inputs)
        for name, template in definition["injectors"]["env"].items()
    }
    assert set(injected) == {
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "ALIBABA_CLOUD_SECURITY_TOKEN",
    }
    run = play(
        tmp_path,
        emulator,
        [{"name": "who", "automq.alicloud.caller_identity": {}}],
        env=injected,
    )
    assert run.rc == 0, run.stdout[-3000:]
    assert run["who"]["identity_type"] == "RAMUser"
    assert run["who"]["arn"].endswith(":user/awx-provisioner"), run["who"]
    assert key.access_key_secret not in run.stdout
