"""RunInstances with Docker: test-bed host containers reached over SSH as root.

These tests need Docker and the test-bed host image; without them they FAIL
(they never skip) and say to run ``make testbed``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_pvtz20180101 import models as pvtz_models
from alibabacloud_vpc20160428 import models as vpc_models
from test_emulator_vpc import REGION, create_vpc, create_vswitch, error_of
from tests.alicloud_emulator import DEFAULT_DOCKER_IMAGE, DEFAULT_IMAGE_ID, Emulator
from tests.alicloud_emulator.containers import (
    LABEL,
    SESSION_LABEL,
    network_name,
    remove_networks_overlapping,
    runtime_dirs,
)
from tests.alicloud_emulator.sdk import Clients, check_answers_parse, make_clients

REPO = Path(__file__).resolve().parents[3]
# Inside 10.213.64.0/18: away from the test bed's 172.30.x.0/24 networks, the demo's
# 10.213.32.0/20, the integration test's 10.213.16.0/20 and the default Internet network.
VPC_CIDR = "10.213.64.0/20"
INTERNET_CIDR = "10.213.127.0/24"
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


@contextlib.contextmanager
def emulator_with_containers(**overrides) -> Iterator[Emulator]:
    remove_networks_overlapping(VPC_CIDR)  # left by an interrupted run of these tests
    remove_networks_overlapping(INTERNET_CIDR)
    with Emulator(
        containers=True, boot_timeout=90, internet_cidr=INTERNET_CIDR, **overrides
    ) as emulator:
        yield emulator
        check_answers_parse(emulator)
    session = emulator.config.session
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={SESSION_LABEL}={session}"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    assert left == [], f"the emulator left containers behind: {left}"


@pytest.fixture
def docker_emulator() -> Iterator[Emulator]:
    with emulator_with_containers() as emulator:
        yield emulator


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


def permission(ports: str, cidr: str = "", group: str = "", protocol: str = "TCP") -> dict:
    return {"ip_protocol": protocol, "port_range": ports, "source_cidr_ip": cidr or None,
            "source_group_id": group or None}  # fmt: skip


def authorize(clients: Clients, sg_id: str, ports: str, cidr: str = "", group: str = "") -> None:
    clients.ecs.authorize_security_group(
        ecs_models.AuthorizeSecurityGroupRequest(
            region_id=REGION, security_group_id=sg_id,
            permissions=[ecs_models.AuthorizeSecurityGroupRequestPermissions(
                **permission(ports, cidr, group))],
        )
    )  # fmt: skip


def revoke(clients: Clients, sg_id: str, ports: str, cidr: str = "", group: str = "") -> None:
    clients.ecs.revoke_security_group(
        ecs_models.RevokeSecurityGroupRequest(
            region_id=REGION, security_group_id=sg_id,
            permissions=[ecs_models.RevokeSecurityGroupRequestPermissions(
                **permission(ports, cidr, group))],
        )
    )  # fmt: skip


def docker_exec(container: str, script: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "exec", container, "bash", "-c", script],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def reaches(container: str, address: str, port: int) -> bool:
    """Whether a TCP connection from inside ``container`` is accepted within 3 s."""
    done = docker_exec(container, f"timeout 3 bash -c '</dev/tcp/{address}/{port}'")
    return done.returncode == 0


def host_reaches(address: str, port: int) -> bool:
    """Whether a TCP connection from this machine is accepted within 3 s."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except OSError:
        return False


def listen(container: str, port: int) -> None:
    """A TCP listener on ``port`` of the container (until the container stops)."""
    subprocess.run(
        ["docker", "exec", "-d", container, "python3", "-m", "http.server", str(port)],
        check=True, capture_output=True,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while not reaches(container, "127.0.0.1", port):
        assert time.monotonic() < deadline, f"no listener on {port} in {container}"
        time.sleep(0.3)


def instances(clients: Clients, ids: list[str]) -> list:
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=json.dumps(ids))
    return clients.ecs.describe_instances(request).body.instances.instance


def wait_status(clients: Clients, instance_id: str, status: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while instances(clients, [instance_id])[0].status != status:
        assert time.monotonic() < deadline, f"{instance_id} never became {status}"
        time.sleep(0.5)


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
    brokers = create_vswitch(clients, vpc_id, "10.213.65.0/24", "brokers")
    others = create_vswitch(clients, vpc_id, "10.213.66.0/24", "others", zone_id="cn-hangzhou-i")
    sg_id = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id)
    ).body.security_group_id
    # This machine reaches private addresses from the VPC network's gateway: only a rule
    # naming it lets it in.
    authorize(clients, sg_id, "22/22", cidr="10.213.64.1/32")
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
    assert addresses == ["10.213.65.3", "10.213.65.4", "10.213.66.3"]
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
    images = {DEFAULT_IMAGE_ID: "automq-testbed-host:absent"}
    with Emulator(containers=True, images=images, internet_cidr=INTERNET_CIDR) as emu:
        clients = make_clients(emu)
        vpc_id = create_vpc(clients, cidr=VPC_CIDR)
        vsw = create_vswitch(clients, vpc_id, "10.213.65.0/24")
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
    with Emulator(containers=True, keep_containers=True, internet_cidr=INTERNET_CIDR) as emu:
        clients = make_clients(emu)
        vpc_id = create_vpc(clients, cidr=VPC_CIDR)
        vsw = create_vswitch(clients, vpc_id, "10.213.65.0/24")
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
    assert [f.name for f in runtime_dirs(session)[0].iterdir()] == [
        f"{instance_id}.resolv.conf"
    ]  # kept for the kept container
    result = subprocess.run(
        [sys.executable, "-m", "tests.alicloud_emulator", "cleanup", "--session", session],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "removed 1 containers and 1 networks"
    assert runtime_dirs(session) == []
    assert not docker_exists("container", container)
    assert not docker_exists("network", network_name(vpc_id))
    leftovers = subprocess.run(
        ["docker", "network", "ls", "-q", "--filter", f"label={LABEL}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert network_name(vpc_id) not in leftovers.stdout


def make_ca(directory: Path) -> Path:
    path = directory / "ca.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(directory / "ca.key"), "-out", str(path), "-days", "2",
         "-subj", "/CN=alicloud-emulator-test-ca"],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


def test_security_groups_eips_and_the_resolver_are_enforced(ssh_key: Path, tmp_path: Path) -> None:
    """The production layout in small: a console reached through its EIP from the admin
    CIDR, nodes reached only from the console's group, PrivateZone names and OSS names
    resolved by the VPC resolver, the emulator's CA trusted."""
    require_testbed()
    ca = make_ca(tmp_path)
    # No recursion: what the VPC resolver does not know is NXDOMAIN.
    with emulator_with_containers(trusted_ca_file=str(ca), dns_upstreams=()) as emu:
        clients = make_clients(emu)
        vpc_id = create_vpc(clients, cidr=VPC_CIDR)
        vsw = create_vswitch(clients, vpc_id, "10.213.65.0/24")

        def group(name: str) -> str:
            return clients.ecs.create_security_group(
                ecs_models.CreateSecurityGroupRequest(
                    region_id=REGION, vpc_id=vpc_id, security_group_name=name
                )
            ).body.security_group_id

        console_sg, nodes_sg = group("console"), group("nodes")
        admin = f"{emu.internet_gateway}/32"
        assert admin == "10.213.127.1/32"
        authorize(clients, console_sg, "22/22", cidr=admin)
        for ports in ("22/22", "9093/9093"):
            authorize(clients, nodes_sg, ports, group=console_sg)
        authorize(clients, nodes_sg, "9092/9092", group=nodes_sg)
        clients.ecs.modify_security_group_policy(  # only the rules decide between nodes
            ecs_models.ModifySecurityGroupPolicyRequest(
                region_id=REGION, security_group_id=nodes_sg, inner_access_policy="Drop"
            )
        )
        clients.ecs.import_key_pair(
            ecs_models.ImportKeyPairRequest(
                region_id=REGION, key_pair_name="net",
                public_key_body=ssh_key.with_suffix(".pub").read_text(),
            )
        )  # fmt: skip

        def run(name: str, sg_id: str, amount: int = 1) -> list[str]:
            return clients.ecs.run_instances(
                ecs_models.RunInstancesRequest(
                    region_id=REGION, image_id=DEFAULT_IMAGE_ID, instance_type="ecs.g7.large",
                    v_switch_id=vsw, security_group_id=sg_id, key_pair_name="net",
                    host_name=name, instance_name=name, amount=amount, unique_suffix=amount > 1,
                )
            ).body.instance_id_sets.instance_id_set  # fmt: skip

        ids = run("net-console", console_sg) + run("net-node", nodes_sg, amount=2)
        # Running without any rule admitting this machine: sshd is watched from inside.
        found = wait_running(clients, ids)
        console_ip, node1_ip, node2_ip = (
            i.vpc_attributes.private_ip_address.ip_address[0] for i in found
        )
        names = [emu.container_of(i) for i in ids]
        assert all(names)
        console, node1, node2 = (str(n) for n in names)

        # Private addresses: nothing answers this machine (the VPC gateway is in no rule).
        assert not host_reaches(node1_ip, 22)
        assert not host_reaches(console_ip, 22)
        # The console's group reaches the nodes on what its rules name, and only that.
        assert reaches(console, node1_ip, 22)
        listen(node2, 9092)
        listen(node2, 9093)
        assert reaches(console, node2_ip, 9093)
        assert reaches(node1, node2_ip, 9092)  # the nodes' own group, by a group rule
        assert not reaches(node1, node2_ip, 9093)  # no rule: isolated despite one group
        assert not reaches(node1, node2_ip, 22)
        assert not host_reaches(node2_ip, 9093)

        # Revoking a rule cuts new connections at once; authorizing it again restores them.
        revoke(clients, nodes_sg, "9093/9093", group=console_sg)
        assert not reaches(console, node2_ip, 9093)
        authorize(clients, nodes_sg, "9093/9093", group=console_sg)
        assert reaches(console, node2_ip, 9093)

        # EIPs: the console's answers this machine (the admin CIDR); the nodes are reached
        # through it, as Ansible does with ProxyCommand.
        def eip() -> vpc_models.AllocateEipAddressResponseBody:
            return clients.vpc.allocate_eip_address(
                vpc_models.AllocateEipAddressRequest(region_id=REGION)
            ).body

        console_eip, node_eip = eip(), eip()
        for address, instance_id in ((console_eip, ids[0]), (node_eip, ids[1])):
            clients.vpc.associate_eip_address(
                vpc_models.AssociateEipAddressRequest(
                    region_id=REGION, allocation_id=address.allocation_id, instance_id=instance_id
                )
            )
        assert ssh(ssh_key, console_eip.eip_address, "hostname") == "net-console"
        jump = subprocess.run(
            ["ssh", "-i", str(ssh_key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
             "-o", f"ProxyCommand=ssh -W %h:%p -i {ssh_key} -o StrictHostKeyChecking=no "
             f"-o UserKnownHostsFile=/dev/null root@{console_eip.eip_address}",
             f"root@{node1_ip}", "hostname"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert (jump.returncode, jump.stdout.strip()) == (0, "net-node001"), jump.stderr
        # A node's EIP admits nothing from the Internet; from the node's EIP (a stranger
        # on the Internet) the console's EIP does not answer SSH: only the admin CIDR may.
        assert not host_reaches(node_eip.eip_address, 22)
        assert not reaches(node1, console_eip.eip_address, 22)
        clients.vpc.unassociate_eip_address(
            vpc_models.UnassociateEipAddressRequest(
                region_id=REGION, allocation_id=console_eip.allocation_id, instance_id=ids[0]
            )
        )
        assert not host_reaches(console_eip.eip_address, 22)

        # The VPC resolver: PrivateZone names of zones bound to the VPC, OSS endpoints.
        zone_id = clients.pvtz.add_zone(
            pvtz_models.AddZoneRequest(zone_name="net.automq.private")
        ).body.zone_id
        clients.pvtz.bind_zone_vpc(
            pvtz_models.BindZoneVpcRequest(
                zone_id=zone_id,
                vpcs=[pvtz_models.BindZoneVpcRequestVpcs(region_id=REGION, vpc_id=vpc_id)],
            )
        )
        clients.pvtz.add_zone_record(
            pvtz_models.AddZoneRecordRequest(zone_id=zone_id, rr="node-1", type="A", value=node1_ip)
        )
        resolv = docker_exec(node2, "cat /etc/resolv.conf").stdout
        assert resolv.splitlines()[:2] == ["nameserver 100.100.2.136", "nameserver 100.100.2.138"]

        def resolve(name: str) -> str:
            done = docker_exec(node2, f"getent ahostsv4 {name} | head -1")
            return done.stdout.split()[0] if done.stdout.strip() else ""

        assert resolve("node-1.net.automq.private") == node1_ip
        gateway = "10.213.64.1"
        assert resolve("oss-cn-hangzhou-internal.aliyuncs.com") == gateway
        assert resolve("net-data.oss-cn-hangzhou-internal.aliyuncs.com") == gateway
        assert resolve("example.com") == ""
        # Egress rules may deny everything: the resolver still answers, other traffic stops.
        deny_all = ecs_models.AuthorizeSecurityGroupEgressRequestPermissions(
            ip_protocol="ALL", port_range="-1/-1", dest_cidr_ip="0.0.0.0/0", policy="drop",
            priority="100",
        )  # fmt: skip
        clients.ecs.authorize_security_group_egress(
            ecs_models.AuthorizeSecurityGroupEgressRequest(
                region_id=REGION, security_group_id=nodes_sg, permissions=[deny_all]
            )
        )
        assert not reaches(node1, node2_ip, 9092)
        assert resolve("node-1.net.automq.private") == node1_ip

        # The emulator's CA is trusted from the first boot.
        pem_body = "".join(ca.read_text().splitlines()[1:-1])
        bundle = docker_exec(node2, "tr -d '\\n' < /etc/ssl/certs/ca-certificates.crt").stdout
        assert pem_body in bundle
        assert docker_exec(node2, "test -e /etc/ssl/certs/alicloud-emulator.pem").returncode == 0

        # A restarted instance gets a new network namespace: filtered again before it runs.
        clients.ecs.revoke_security_group_egress(
            ecs_models.RevokeSecurityGroupEgressRequest(
                region_id=REGION, security_group_id=nodes_sg,
                permissions=[ecs_models.RevokeSecurityGroupEgressRequestPermissions(
                    ip_protocol="ALL", port_range="-1/-1", dest_cidr_ip="0.0.0.0/0",
                    policy="drop", priority="100",
                )],
            )
        )  # fmt: skip
        clients.ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=ids[1]))
        wait_status(clients, ids[1], "Stopped")
        clients.ecs.start_instance(ecs_models.StartInstanceRequest(instance_id=ids[1]))
        wait_running(clients, [ids[1]])
        assert not host_reaches(node1_ip, 22)
        assert reaches(console, node1_ip, 22)
        assert reaches(node1, node2_ip, 9092)
        clients.ecs.delete_instances(
            ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=ids, force=True)
        )
