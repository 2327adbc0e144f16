"""RunInstances with Docker: test-bed host containers reached over SSH as root.

These tests need Docker and the test-bed host image; without them they FAIL
(they never skip) and say to run ``make testbed``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_vpc20160428 import models as vpc_models
from test_emulator_vpc import REGION, create_vpc, create_vswitch, error_of
from tests.alicloud_emulator import DEFAULT_DOCKER_IMAGE, DEFAULT_IMAGE_ID, Emulator
from tests.alicloud_emulator.containers import LABEL, SESSION_LABEL, network_name
from tests.alicloud_emulator.sdk import Clients, check_answers_parse, make_clients

REPO = Path(__file__).resolve().parents[3]
VPC_CIDR = "10.213.0.0/16"  # away from the test bed's 172.30.x.0/24 networks
HINT = "Run `make testbed` (it installs Docker and builds the test-bed host image)."

pytestmark = pytest.mark.testbed


def require_testbed() -> None:
    if shutil.which("docker") is None:
        pytest.fail(f"RunInstances needs Docker, and the docker command is missing. {HINT}")
    found = subprocess.run(
        ["docker", "image", "inspect", DEFAULT_DOCKER_IMAGE], capture_output=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(f"The test-bed host image {DEFAULT_DOCKER_IMAGE} is missing. {HINT}")


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


@pytest.fixture
def docker_emulator() -> Iterator[Emulator]:
    with Emulator(containers=True, boot_timeout=90) as emulator:
        yield emulator
        check_answers_parse(emulator)
    session = emulator.config.session
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={SESSION_LABEL}={session}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    assert left == [], f"the emulator left containers behind: {left}"


def ssh(key: Path, address: str, command: str) -> str:
    result = subprocess.run(
        [
            "ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
            f"root@{address}", command,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"ssh root@{address} {command!r}: {result.stderr}"
    return result.stdout.strip()


def instances(clients: Clients, ids: list[str]) -> list:
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps(ids))
    return clients.ecs.describe_instances(request).body.instances.instance


def wait_running(clients: Clients, ids: list[str], timeout: float = 90) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = instances(clients, ids)
        if all(i.status == "Running" for i in found):
            return found
        assert time.monotonic() < deadline, [(i.instance_id, i.status) for i in found]
        time.sleep(0.5)


def docker_exists(kind: str, name: str) -> bool:
    return (
        subprocess.run(
            ["docker", kind, "inspect", name], capture_output=True, check=False
        ).returncode
        == 0
    )


def test_instances_are_containers_reachable_as_root(
    docker_emulator: Emulator, ssh_key: Path
) -> None:
    require_testbed()
    clients = make_clients(docker_emulator)
    vpc_id = create_vpc(clients, cidr=VPC_CIDR)
    brokers = create_vswitch(clients, vpc_id, "10.213.1.0/24", "brokers")
    others = create_vswitch(clients, vpc_id, "10.213.2.0/24", "others", zone_id="cn-hangzhou-i")
    sg_id = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id)
    ).body.security_group_id
    clients.ecs.import_key_pair(
        ecs_models.ImportKeyPairRequest(
            region_id=REGION, key_pair_name="automq-test",
            public_key_body=ssh_key.with_suffix(".pub").read_text(),
        )
    )  # fmt: skip

    def run(vswitch: str, **kw) -> list[str]:
        request = ecs_models.RunInstancesRequest(
            region_id=REGION, image_id=DEFAULT_IMAGE_ID, instance_type="ecs.g7.large",
            v_switch_id=vswitch, security_group_id=sg_id, key_pair_name="automq-test",
            system_disk=ecs_models.RunInstancesRequestSystemDisk(category="cloud_essd", size="40"),
            **kw,
        )  # fmt: skip
        return clients.ecs.run_instances(request).body.instance_id_sets.instance_id_set

    ids = run(brokers, host_name="automq-node", unique_suffix=True, amount=2)
    assert instances(clients, ids)[0].status == "Pending"  # until its sshd answers
    ids += run(others, host_name="automq-client", zone_id="cn-hangzhou-i")
    found = wait_running(clients, ids)
    addresses = [i.vpc_attributes.private_ip_address.ip_address[0] for i in found]
    assert addresses == ["10.213.1.3", "10.213.1.4", "10.213.2.3"]
    for instance, address in zip(found, addresses, strict=True):
        assert ssh(ssh_key, address, "hostname; id -u").split() == [instance.host_name, "0"]
    assert "bookworm" in ssh(ssh_key, addresses[0], "cat /etc/os-release")
    # Instances of different vSwitches reach each other, as in a VPC.
    ssh(ssh_key, addresses[2], f"timeout 5 bash -c '</dev/tcp/{addresses[0]}/22'")

    containers = [docker_emulator.container_of(i) for i in ids]
    assert all(c and docker_exists("container", c) for c in containers)
    clients.ecs.delete_instances(
        ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=ids, force=True)
    )
    assert not any(docker_exists("container", c) for c in containers if c)
    for vsw in (brokers, others):
        clients.vpc.delete_vswitch(
            vpc_models.DeleteVSwitchRequest(region_id=REGION, v_switch_id=vsw)
        )
    clients.ecs.delete_security_group(
        ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=sg_id)
    )
    assert docker_exists("network", network_name(vpc_id))
    clients.vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=vpc_id))
    assert not docker_exists("network", network_name(vpc_id))


def test_missing_image_is_a_clear_error(ssh_key: Path) -> None:
    require_testbed()
    with Emulator(containers=True, images={DEFAULT_IMAGE_ID: "automq-testbed-host:absent"}) as emu:
        clients = make_clients(emu)
        vpc_id = create_vpc(clients, cidr=VPC_CIDR)
        vsw = create_vswitch(clients, vpc_id, "10.213.1.0/24")
        sg_id = clients.ecs.create_security_group(
            ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id)
        ).body.security_group_id
        request = ecs_models.RunInstancesRequest(
            region_id=REGION, image_id=DEFAULT_IMAGE_ID, instance_type="ecs.g7.large",
            v_switch_id=vsw, security_group_id=sg_id,
        )  # fmt: skip
        error = error_of(lambda: clients.ecs.run_instances(request))
        assert (error.status_code, error.code) == (500, "Emulator.ImageMissing")
        assert "make testbed" in error.message
        describe = ecs_models.DescribeInstancesRequest(region_id=REGION)
        assert clients.ecs.describe_instances(describe).body.total_count == 0


def test_cleanup_command_removes_what_an_emulator_left(ssh_key: Path) -> None:
    require_testbed()
    with Emulator(containers=True, keep_containers=True) as emu:
        clients = make_clients(emu)
        vpc_id = create_vpc(clients, cidr=VPC_CIDR)
        vsw = create_vswitch(clients, vpc_id, "10.213.1.0/24")
        sg_id = clients.ecs.create_security_group(
            ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id)
        ).body.security_group_id
        (instance_id,) = clients.ecs.run_instances(
            ecs_models.RunInstancesRequest(
                region_id=REGION, image_id=DEFAULT_IMAGE_ID, instance_type="ecs.g7.large",
                v_switch_id=vsw, security_group_id=sg_id,
            )
        ).body.instance_id_sets.instance_id_set  # fmt: skip
        container = emu.container_of(instance_id)
        session = emu.config.session
    assert container
    assert docker_exists("container", container)
    result = subprocess.run(
        [sys.executable, "-m", "tests.alicloud_emulator", "cleanup", "--session", session],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "removed 1 containers and 1 networks"
    assert not docker_exists("container", container)
    assert not docker_exists("network", network_name(vpc_id))
    leftovers = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"label={LABEL}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert network_name(vpc_id) not in leftovers.stdout
