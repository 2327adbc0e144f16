"""ECS 2014-05-26 through the official SDK (instances without containers)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from test_emulator_vpc import REGION, create_vpc, create_vswitch, error_of
from tests.alicloud_emulator import DEFAULT_IMAGE_ID, Emulator
from tests.alicloud_emulator.sdk import Clients

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFBRGMlpFsV5i1c6LcbBb1qOMk4b5u9Ay6KmgbMZIYvW test"


@pytest.fixture
def network(clients: Clients) -> dict[str, str]:
    vpc_id = create_vpc(clients)
    vsw_id = create_vswitch(clients, vpc_id, "10.20.1.0/24")
    sg_id = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(
            region_id=REGION, vpc_id=vpc_id, security_group_name="automq"
        )
    ).body.security_group_id
    return {"vpc": vpc_id, "vswitch": vsw_id, "sg": sg_id}


def run(clients: Clients, network: dict[str, str], **kw) -> list[str]:
    request = ecs_models.RunInstancesRequest(
        region_id=REGION,
        image_id=kw.pop("image_id", DEFAULT_IMAGE_ID),
        instance_type=kw.pop("instance_type", "ecs.g7.large"),
        v_switch_id=network["vswitch"],
        security_group_id=network["sg"],
        **kw,
    )
    return clients.ecs.run_instances(request).body.instance_id_sets.instance_id_set


def describe(
    clients: Clients, **kw
) -> list[ecs_models.DescribeInstancesResponseBodyInstancesInstance]:
    request = ecs_models.DescribeInstancesRequest(region_id=REGION, **kw)
    return clients.ecs.describe_instances(request).body.instances.instance


def wait_status(clients: Clients, instance_id: str, status: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while describe(clients, instance_ids=json.dumps([instance_id]))[0].status != status:
        assert time.monotonic() < deadline, f"{instance_id} never became {status}"
        time.sleep(0.05)


def test_describe_zones(clients: Clients, emulator: Emulator) -> None:
    zones = clients.ecs.describe_zones(ecs_models.DescribeZonesRequest(region_id=REGION))
    zone_list = zones.body.zones.zone
    assert [z.zone_id for z in zone_list] == emulator.config.zones_of(REGION)
    assert "ecs.g7.large" in zone_list[0].available_instance_types.instance_types
    brief = clients.ecs.describe_zones(
        ecs_models.DescribeZonesRequest(region_id=REGION, verbose=False)
    )
    assert brief.body.zones.zone[0].available_instance_types is None


def test_describe_instance_types(clients: Clients) -> None:
    wanted = ["ecs.r7.large", "ecs.g7.2xlarge", "ecs.not.offered"]
    body = clients.ecs.describe_instance_types(
        ecs_models.DescribeInstanceTypesRequest(instance_types=wanted)
    ).body
    found = {t.instance_type_id: t for t in body.instance_types.instance_type}
    assert sorted(found) == ["ecs.g7.2xlarge", "ecs.r7.large"]  # not offered: left out
    large = found["ecs.r7.large"]
    assert (large.cpu_core_count, large.memory_size) == (2, 16.0)
    assert (large.instance_bandwidth_rx, large.instance_bandwidth_tx) == (1024000, 1024000)
    assert found["ecs.g7.2xlarge"].instance_bandwidth_rx == 4096000
    too_many = [f"ecs.g7.{n}xlarge" for n in range(2, 13)]
    refused = error_of(
        lambda: clients.ecs.describe_instance_types(
            ecs_models.DescribeInstanceTypesRequest(instance_types=too_many)
        )
    )
    assert refused.code == "InvalidParameter"


def test_security_group_lifecycle(clients: Clients, network: dict[str, str]) -> None:
    tag = ecs_models.CreateSecurityGroupRequestTag(key="cluster", value="c1")
    sg_id = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(
            region_id=REGION, vpc_id=network["vpc"], security_group_name="brokers",
            description="AutoMQ brokers", security_group_type="normal", tag=[tag],
        )
    ).body.security_group_id  # fmt: skip
    groups = clients.ecs.describe_security_groups(
        ecs_models.DescribeSecurityGroupsRequest(
            region_id=REGION, vpc_id=network["vpc"], security_group_name="brokers"
        )
    ).body.security_groups.security_group
    assert [(g.security_group_id, g.description) for g in groups] == [(sg_id, "AutoMQ brokers")]
    assert [(t.tag_key, t.tag_value) for t in groups[0].tags.tag] == [("cluster", "c1")]
    by_tag = clients.ecs.describe_security_groups(
        ecs_models.DescribeSecurityGroupsRequest(
            region_id=REGION, tag=[ecs_models.DescribeSecurityGroupsRequestTag(key="cluster")]
        )
    ).body.security_groups.security_group
    assert [g.security_group_id for g in by_tag] == [sg_id]
    by_ids = clients.ecs.describe_security_groups(
        ecs_models.DescribeSecurityGroupsRequest(
            region_id=REGION, security_group_ids=json.dumps([sg_id, network["sg"]])
        )
    ).body
    assert by_ids.total_count == 2

    permissions = [
        ecs_models.AuthorizeSecurityGroupRequestPermissions(
            ip_protocol="TCP", port_range="9092/9093", source_cidr_ip="10.20.0.0/16",
            policy="accept", priority="1", description="kafka",
        ),
        ecs_models.AuthorizeSecurityGroupRequestPermissions(
            ip_protocol="tcp", port_range="9092/9093", source_group_id=network["sg"],
        ),
    ]  # fmt: skip
    authorize = ecs_models.AuthorizeSecurityGroupRequest(
        region_id=REGION, security_group_id=sg_id, permissions=permissions
    )
    clients.ecs.authorize_security_group(authorize)
    clients.ecs.authorize_security_group(authorize)  # a duplicate is not added twice
    # The older flat form.
    clients.ecs.authorize_security_group(
        ecs_models.AuthorizeSecurityGroupRequest(
            region_id=REGION, security_group_id=sg_id, ip_protocol="TCP", port_range="22/22",
            source_cidr_ip="0.0.0.0/0",
        )
    )  # fmt: skip
    rules = clients.ecs.describe_security_group_attribute(
        ecs_models.DescribeSecurityGroupAttributeRequest(
            region_id=REGION, security_group_id=sg_id, direction="ingress"
        )
    ).body.permissions.permission
    assert [(r.ip_protocol, r.port_range, r.source_cidr_ip, r.source_group_id) for r in rules] == [
        ("TCP", "9092/9093", "10.20.0.0/16", ""),
        ("TCP", "9092/9093", "", network["sg"]),
        ("TCP", "22/22", "0.0.0.0/0", ""),
    ]
    assert (rules[0].policy, rules[0].priority, rules[0].description) == ("Accept", "1", "kafka")
    assert rules[1].source_group_name == "automq"

    clients.ecs.revoke_security_group(
        ecs_models.RevokeSecurityGroupRequest(
            region_id=REGION, security_group_id=sg_id, ip_protocol="TCP", port_range="22/22",
            source_cidr_ip="0.0.0.0/0",
        )
    )  # fmt: skip
    clients.ecs.revoke_security_group(
        ecs_models.RevokeSecurityGroupRequest(
            region_id=REGION, security_group_id=sg_id,
            permissions=[ecs_models.RevokeSecurityGroupRequestPermissions(
                ip_protocol="TCP", port_range="9092/9093", source_cidr_ip="10.20.0.0/16",
            )],
        )
    )  # fmt: skip
    left = clients.ecs.describe_security_group_attribute(
        ecs_models.DescribeSecurityGroupAttributeRequest(region_id=REGION, security_group_id=sg_id)
    ).body.permissions.permission
    assert [r.source_group_id for r in left] == [network["sg"]]

    # network["sg"] is referenced by a rule of sg_id.
    error = error_of(
        lambda: clients.ecs.delete_security_group(
            ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=network["sg"])
        )
    )
    assert (error.status_code, error.code) == (403, "DependencyViolation")
    clients.ecs.delete_security_group(
        ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=sg_id)
    )
    error = error_of(
        lambda: clients.ecs.describe_security_group_attribute(
            ecs_models.DescribeSecurityGroupAttributeRequest(
                region_id=REGION, security_group_id=sg_id
            )
        )
    )
    assert (error.status_code, error.code) == (404, "InvalidSecurityGroupId.NotFound")


CIDR = "1.2.3.0/24"
BAD_PERMISSIONS = [
    ({"ip_protocol": "TCP", "port_range": "0/22", "source_cidr_ip": CIDR}, "InvalidPortRange"),
    ({"ip_protocol": "XYZ", "port_range": "22/22", "source_cidr_ip": CIDR}, "InvalidIpProtocol"),
    (
        {"ip_protocol": "TCP", "port_range": "22/22", "source_cidr_ip": "1.2.3"},
        "InvalidSourceCidrIp",
    ),
    ({"ip_protocol": "ALL", "port_range": "1/65535", "source_cidr_ip": CIDR}, "InvalidPortRange"),
]


@pytest.mark.parametrize(
    ("permission", "code"),
    [(p, f"{c}.Malformed") for p, c in BAD_PERMISSIONS]
    + [({"ip_protocol": "TCP", "port_range": "22/22"}, "MissingParameter")],
)
def test_authorize_validation(
    clients: Clients, network: dict[str, str], permission: dict[str, str], code: str
) -> None:
    request = ecs_models.AuthorizeSecurityGroupRequest(
        region_id=REGION,
        security_group_id=network["sg"],
        permissions=[ecs_models.AuthorizeSecurityGroupRequestPermissions(**permission)],
    )
    assert error_of(lambda: clients.ecs.authorize_security_group(request)).code == code


def test_key_pairs(clients: Clients, tmp_path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(tmp_path / "k")],
        check=True,
    )
    rsa = (tmp_path / "k.pub").read_text()
    imported = clients.ecs.import_key_pair(
        ecs_models.ImportKeyPairRequest(
            region_id=REGION, key_pair_name="automq-rsa", public_key_body=rsa
        )
    ).body
    assert len(imported.key_pair_finger_print) == 32
    clients.ecs.import_key_pair(
        ecs_models.ImportKeyPairRequest(
            region_id=REGION, key_pair_name="automq-ed", public_key_body=ED25519
        )
    )
    error = error_of(
        lambda: clients.ecs.import_key_pair(
            ecs_models.ImportKeyPairRequest(
                region_id=REGION, key_pair_name="automq-ed", public_key_body=rsa
            )
        )
    )
    assert error.code == "KeyPair.AlreadyExist"
    error = error_of(
        lambda: clients.ecs.import_key_pair(
            ecs_models.ImportKeyPairRequest(
                region_id=REGION, key_pair_name="bad", public_key_body="nope"
            )
        )
    )
    assert error.code == "InvalidPublicKeyBody.Malformed"
    listed = clients.ecs.describe_key_pairs(
        ecs_models.DescribeKeyPairsRequest(region_id=REGION, key_pair_name="automq-rsa")
    ).body.key_pairs.key_pair
    assert [(k.key_pair_name, k.key_pair_finger_print) for k in listed] == [
        ("automq-rsa", imported.key_pair_finger_print)
    ]
    assert listed[0].public_key is None
    wildcard = clients.ecs.describe_key_pairs(
        ecs_models.DescribeKeyPairsRequest(
            region_id=REGION, key_pair_name="automq-*", include_public_key=True
        )
    ).body
    assert wildcard.total_count == 2
    assert wildcard.key_pairs.key_pair[1].public_key == ED25519
    clients.ecs.delete_key_pairs(
        ecs_models.DeleteKeyPairsRequest(
            region_id=REGION, key_pair_names='["automq-rsa", "absent"]'
        )
    )
    left = clients.ecs.describe_key_pairs(ecs_models.DescribeKeyPairsRequest(region_id=REGION))
    assert [k.key_pair_name for k in left.body.key_pairs.key_pair] == ["automq-ed"]


def test_run_describe_stop_delete(clients: Clients, network: dict[str, str]) -> None:
    clients.ecs.import_key_pair(
        ecs_models.ImportKeyPairRequest(
            region_id=REGION, key_pair_name="kp", public_key_body=ED25519
        )
    )
    tag = ecs_models.RunInstancesRequestTag(key="automq-cluster", value="c1")
    disk = ecs_models.RunInstancesRequestSystemDisk(
        category="cloud_essd", size="40", performance_level="PL0"
    )
    ids = run(
        clients, network, instance_name="broker", host_name="broker", key_pair_name="kp",
        system_disk=disk, tag=[tag], amount=3, unique_suffix=True, internet_max_bandwidth_out=0,
    )  # fmt: skip
    assert len(ids) == 3
    first = describe(clients, instance_ids=json.dumps(ids[:1]))[0]
    assert first.status == "Pending"
    for instance_id in ids:
        wait_status(clients, instance_id, "Running")
    instances = describe(clients, instance_ids=json.dumps(ids))
    assert [i.instance_name for i in instances] == ["broker001", "broker002", "broker003"]
    assert [i.host_name for i in instances] == ["broker001", "broker002", "broker003"]
    assert [i.vpc_attributes.private_ip_address.ip_address for i in instances] == [
        ["10.20.1.3"], ["10.20.1.4"], ["10.20.1.5"],
    ]  # fmt: skip
    one = instances[0]
    assert (one.vpc_attributes.vpc_id, one.vpc_attributes.v_switch_id) == (
        network["vpc"],
        network["vswitch"],
    )
    assert (one.zone_id, one.instance_type, one.key_pair_name) == (
        "cn-hangzhou-h",
        "ecs.g7.large",
        "kp",
    )
    assert (one.cpu, one.memory) == (2, 8192)
    assert one.security_group_ids.security_group_id == [network["sg"]]
    assert [(t.tag_key, t.tag_value) for t in one.tags.tag] == [("automq-cluster", "c1")]
    assert one.eip_address.ip_address == ""
    assert one.public_ip_address.ip_address == []

    by_tag = describe(
        clients, tag=[ecs_models.DescribeInstancesRequestTag(key="automq-cluster", value="c1")]
    )
    assert len(by_tag) == 3
    assert len(describe(clients, vpc_id=network["vpc"], status="Running")) == 3
    assert [i.instance_id for i in describe(clients, instance_name="broker002")] == [ids[1]]
    assert len(describe(clients, instance_name="broker*")) == 3
    page = clients.ecs.describe_instances(
        ecs_models.DescribeInstancesRequest(region_id=REGION, page_size=2, page_number=2)
    ).body
    assert (page.total_count, [i.instance_id for i in page.instances.instance]) == (3, [ids[2]])
    token_page = clients.ecs.describe_instances(
        ecs_models.DescribeInstancesRequest(region_id=REGION, max_results=2)
    ).body
    following = clients.ecs.describe_instances(
        ecs_models.DescribeInstancesRequest(
            region_id=REGION, max_results=2, next_token=token_page.next_token
        )
    ).body
    assert [i.instance_id for i in following.instances.instance] == [ids[2]]
    assert following.next_token == ""

    delete = ecs_models.DeleteInstanceRequest(instance_id=ids[0])
    error = error_of(lambda: clients.ecs.delete_instance(delete))
    assert (error.status_code, error.code) == (403, "IncorrectInstanceStatus")
    clients.ecs.stop_instance(ecs_models.StopInstanceRequest(instance_id=ids[0]))
    wait_status(clients, ids[0], "Stopped")
    clients.ecs.delete_instance(delete)
    clients.ecs.delete_instances(
        ecs_models.DeleteInstancesRequest(region_id=REGION, instance_id=ids[1:], force=True)
    )
    assert describe(clients) == []
    error = error_of(lambda: clients.ecs.delete_instance(delete))
    assert (error.status_code, error.code) == (404, "InvalidInstanceId.NotFound")
    assert describe(clients, instance_ids=json.dumps(ids)) == []


def test_run_instances_client_token_and_dry_run(clients: Clients, network: dict[str, str]) -> None:
    first = run(clients, network, client_token="abc")
    again = run(clients, network, client_token="abc")
    assert first == again
    assert len(describe(clients)) == 1
    error = error_of(lambda: run(clients, network, dry_run=True))
    assert (error.status_code, error.code) == (400, "DryRunOperation")
    assert len(describe(clients)) == 1


def test_run_instances_public_ip(clients: Clients, network: dict[str, str]) -> None:
    (instance_id,) = run(clients, network, internet_max_bandwidth_out=5)
    shown = describe(clients, instance_ids=json.dumps([instance_id]))[0]
    assert len(shown.public_ip_address.ip_address) == 1
    assert shown.internet_max_bandwidth_out == 5


SMALL_DISK = ecs_models.RunInstancesRequestSystemDisk(size="10")
FLOPPY_DISK = ecs_models.RunInstancesRequestSystemDisk(category="floppy")


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"image_id": "ubuntu_99_x64.vhd"}, "InvalidImageId.NotFound"),
        ({"instance_type": "ecs.t0.tiny"}, "InvalidInstanceType.ValueNotSupported"),
        ({"key_pair_name": "absent"}, "InvalidKeyPairName.NotFound"),
        ({"zone_id": "cn-hangzhou-k"}, "InvalidParameter.Mismatch"),
        ({"host_name": "-bad-"}, "InvalidHostName.Malformed"),
        ({"system_disk": SMALL_DISK}, "InvalidSystemDiskSize.ValueNotSupported"),
        ({"system_disk": FLOPPY_DISK}, "InvalidSystemDiskCategory.ValueNotSupported"),
        ({"amount": 0}, "InvalidParameter"),
    ],
)
def test_run_instances_validation(
    clients: Clients, network: dict[str, str], override: dict[str, object], code: str
) -> None:
    error = error_of(lambda: run(clients, network, **override))
    assert error.code == code
    assert describe(clients) == []


def test_run_instances_needs_security_group_of_the_same_vpc(
    clients: Clients, network: dict[str, str]
) -> None:
    other_vpc = create_vpc(clients, name="other", cidr="10.40.0.0/16")
    other_sg = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=other_vpc)
    ).body.security_group_id
    request = ecs_models.RunInstancesRequest(
        region_id=REGION, image_id=DEFAULT_IMAGE_ID, instance_type="ecs.g7.large",
        v_switch_id=network["vswitch"], security_group_ids=[network["sg"], other_sg],
    )  # fmt: skip
    with pytest.raises(ClientException) as raised:
        clients.ecs.run_instances(request)
    assert raised.value.code == "InvalidParameter.Mismatch"


def test_instances_block_deleting_their_network(clients: Clients, network: dict[str, str]) -> None:
    (instance_id,) = run(clients, network)
    error = error_of(
        lambda: clients.ecs.delete_security_group(
            ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=network["sg"])
        )
    )
    assert error.code == "DependencyViolation"
    from alibabacloud_vpc20160428 import models as vpc_models

    error = error_of(
        lambda: clients.vpc.delete_vswitch(
            vpc_models.DeleteVSwitchRequest(region_id=REGION, v_switch_id=network["vswitch"])
        )
    )
    assert error.code == "DependencyViolation"
    clients.ecs.delete_instance(
        ecs_models.DeleteInstanceRequest(instance_id=instance_id, force=True)
    )
    clients.ecs.delete_security_group(
        ecs_models.DeleteSecurityGroupRequest(region_id=REGION, security_group_id=network["sg"])
    )


def attribute(clients: Clients, sg_id: str, direction: str = "all"):
    return clients.ecs.describe_security_group_attribute(
        ecs_models.DescribeSecurityGroupAttributeRequest(
            region_id=REGION, security_group_id=sg_id, direction=direction
        )
    ).body


def test_egress_rules_and_the_internal_access_policy(
    clients: Clients, network: dict[str, str]
) -> None:
    sg_id = network["sg"]
    assert attribute(clients, sg_id).inner_access_policy == "Accept"  # a basic group's default
    egress = ecs_models.AuthorizeSecurityGroupEgressRequest(
        region_id=REGION, security_group_id=sg_id,
        permissions=[
            ecs_models.AuthorizeSecurityGroupEgressRequestPermissions(
                ip_protocol="ALL", port_range="-1/-1", dest_cidr_ip="0.0.0.0/0", policy="drop",
                priority="100",
            ),
            ecs_models.AuthorizeSecurityGroupEgressRequestPermissions(
                ip_protocol="TCP", port_range="443/443", dest_group_id=sg_id,
            ),
        ],
    )  # fmt: skip
    clients.ecs.authorize_security_group_egress(egress)
    rules = attribute(clients, sg_id, "egress").permissions.permission
    shown = [(r.direction, r.ip_protocol, r.dest_cidr_ip, r.dest_group_id, r.policy) for r in rules]
    assert shown == [
        ("egress", "ALL", "0.0.0.0/0", "", "Drop"),
        ("egress", "TCP", "", sg_id, "Accept"),
    ]
    assert attribute(clients, sg_id, "ingress").permissions.permission == []
    missing = ecs_models.AuthorizeSecurityGroupEgressRequest(
        region_id=REGION, security_group_id=sg_id,
        permissions=[ecs_models.AuthorizeSecurityGroupEgressRequestPermissions(
            ip_protocol="TCP", port_range="22/22", source_cidr_ip="10.0.0.0/8",
        )],
    )  # fmt: skip
    assert error_of(lambda: clients.ecs.authorize_security_group_egress(missing)).code == (
        "MissingParameter"
    )
    # Revoked by its rule ID (the rule IDs of egress rules go to RevokeSecurityGroupEgress).
    clients.ecs.revoke_security_group_egress(
        ecs_models.RevokeSecurityGroupEgressRequest(
            region_id=REGION,
            security_group_id=sg_id,
            security_group_rule_id=[rules[0].security_group_rule_id],
        )
    )
    left = attribute(clients, sg_id, "egress").permissions.permission
    assert [r.dest_group_id for r in left] == [sg_id]

    clients.ecs.modify_security_group_policy(
        ecs_models.ModifySecurityGroupPolicyRequest(
            region_id=REGION, security_group_id=sg_id, inner_access_policy="drop"
        )
    )
    assert attribute(clients, sg_id).inner_access_policy == "Drop"


def test_enterprise_groups_isolate_and_take_no_group_rules(
    clients: Clients, network: dict[str, str]
) -> None:
    enterprise = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(
            region_id=REGION, vpc_id=network["vpc"], security_group_type="enterprise"
        )
    ).body.security_group_id
    assert attribute(clients, enterprise).inner_access_policy == "Drop"
    modify = ecs_models.ModifySecurityGroupPolicyRequest(
        region_id=REGION, security_group_id=enterprise, inner_access_policy="Accept"
    )
    assert error_of(lambda: clients.ecs.modify_security_group_policy(modify)).status_code == 403
    for group_id, source in ((enterprise, network["sg"]), (network["sg"], enterprise)):
        request = ecs_models.AuthorizeSecurityGroupRequest(
            region_id=REGION, security_group_id=group_id,
            permissions=[ecs_models.AuthorizeSecurityGroupRequestPermissions(
                ip_protocol="TCP", port_range="22/22", source_group_id=source,
            )],
        )  # fmt: skip
        error = error_of(lambda request=request: clients.ecs.authorize_security_group(request))
        assert error.code == "InvalidSecurityGroup.InvalidNetworkType"


def test_join_and_leave_security_groups(clients: Clients, network: dict[str, str]) -> None:
    (instance_id,) = run(clients, network)
    wait_status(clients, instance_id, "Running")
    other = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=network["vpc"])
    ).body.security_group_id

    def groups() -> list[str]:
        (found,) = describe(clients, instance_ids=json.dumps([instance_id]))
        return found.security_group_ids.security_group_id

    join = ecs_models.JoinSecurityGroupRequest(instance_id=instance_id, security_group_id=other)
    clients.ecs.join_security_group(join)
    assert groups() == [network["sg"], other]
    assert error_of(lambda: clients.ecs.join_security_group(join)).code == (
        "InvalidInstanceId.AlreadyExists"
    )
    leave = ecs_models.LeaveSecurityGroupRequest(
        instance_id=instance_id, security_group_id=network["sg"]
    )
    clients.ecs.leave_security_group(leave)
    assert groups() == [other]
    assert error_of(lambda: clients.ecs.leave_security_group(leave)).code == (
        "InvalidSecurityGroupAssociation.NotFound"
    )
    last = ecs_models.LeaveSecurityGroupRequest(instance_id=instance_id, security_group_id=other)
    assert error_of(lambda: clients.ecs.leave_security_group(last)).code == (
        "InstanceLastSecurityGroup"
    )
    elsewhere_vpc = create_vpc(clients, name="elsewhere", cidr="10.30.0.0/16")
    foreign = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=elsewhere_vpc)
    ).body.security_group_id
    mismatch = ecs_models.JoinSecurityGroupRequest(
        instance_id=instance_id, security_group_id=foreign
    )
    assert error_of(lambda: clients.ecs.join_security_group(mismatch)).code == (
        "InvalidInstanceId.Mismatch"
    )
