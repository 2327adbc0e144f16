"""VPC 2016-04-28 through the official SDK: VPCs, vSwitches, EIPs."""

from __future__ import annotations

import time

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
from alibabacloud_vpc20160428 import models as vpc_models
from tests.alicloud_emulator import DEFAULT_IMAGE_ID, Emulator
from tests.alicloud_emulator.sdk import Clients, make_clients

REGION = "cn-hangzhou"
ZONE = "cn-hangzhou-h"


def create_vpc(clients: Clients, name: str = "automq", cidr: str = "10.20.0.0/16", **kw) -> str:
    request = vpc_models.CreateVpcRequest(region_id=REGION, cidr_block=cidr, vpc_name=name, **kw)
    return clients.vpc.create_vpc(request).body.vpc_id


def create_vswitch(clients: Clients, vpc_id: str, cidr: str, name: str = "vsw", **kw) -> str:
    request = vpc_models.CreateVSwitchRequest(
        region_id=REGION, vpc_id=vpc_id, zone_id=kw.pop("zone_id", ZONE), cidr_block=cidr,
        v_switch_name=name, **kw,
    )  # fmt: skip
    return clients.vpc.create_vswitch(request).body.v_switch_id


def error_of(call) -> AlibabaCloudException:
    with pytest.raises(AlibabaCloudException) as raised:
        call()
    return raised.value


def test_vpc_create_describe_delete(clients: Clients) -> None:
    tag = vpc_models.CreateVpcRequestTag(key="automq-cluster", value="prod")
    vpc_id = create_vpc(clients, description="AutoMQ", tag=[tag])
    found = clients.vpc.describe_vpcs(
        vpc_models.DescribeVpcsRequest(region_id=REGION, vpc_id=vpc_id)
    ).body
    assert found.total_count == 1
    vpc = found.vpcs.vpc[0]
    assert (vpc.vpc_name, vpc.cidr_block, vpc.status) == ("automq", "10.20.0.0/16", "Available")
    assert vpc.description == "AutoMQ"
    assert [(t.key, t.value) for t in vpc.tags.tag] == [("automq-cluster", "prod")]
    clients.vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=vpc_id))
    again = clients.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION))
    assert again.body.vpcs.vpc == []
    error = error_of(
        lambda: clients.vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=vpc_id))
    )
    assert (error.status_code, error.code) == (404, "InvalidVpcId.NotFound")


def test_vpc_lookup_by_name_and_tag(clients: Clients) -> None:
    tag = vpc_models.CreateVpcRequestTag(key="owner", value="automq")
    wanted = create_vpc(clients, name="wanted", tag=[tag])
    create_vpc(clients, name="other", cidr="10.21.0.0/16")
    by_name = clients.vpc.describe_vpcs(
        vpc_models.DescribeVpcsRequest(region_id=REGION, vpc_name="wanted")
    )
    assert [v.vpc_id for v in by_name.body.vpcs.vpc] == [wanted]
    by_tag = clients.vpc.describe_vpcs(
        vpc_models.DescribeVpcsRequest(
            region_id=REGION, tag=[vpc_models.DescribeVpcsRequestTag(key="owner", value="automq")]
        )
    )
    assert [v.vpc_id for v in by_tag.body.vpcs.vpc] == [wanted]
    by_key = clients.vpc.describe_vpcs(
        vpc_models.DescribeVpcsRequest(
            region_id=REGION, tag=[vpc_models.DescribeVpcsRequestTag(key="owner")]
        )
    )
    assert by_key.body.total_count == 1
    missing = clients.vpc.describe_vpcs(
        vpc_models.DescribeVpcsRequest(region_id=REGION, vpc_name="absent")
    )
    assert (missing.body.total_count, missing.body.vpcs.vpc) == (0, [])


def test_client_token_makes_create_idempotent(clients: Clients) -> None:
    first = create_vpc(clients, client_token="token-1")
    second = create_vpc(clients, client_token="token-1")
    third = create_vpc(clients, client_token="token-2", cidr="10.30.0.0/16")
    assert first == second != third
    total = clients.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION))
    assert total.body.total_count == 2


def test_vpc_pagination(clients: Clients) -> None:
    created = [create_vpc(clients, name=f"vpc-{i:02d}", cidr=f"10.{i}.0.0/16") for i in range(12)]
    seen: list[str] = []
    page = 1
    while True:
        body = clients.vpc.describe_vpcs(
            vpc_models.DescribeVpcsRequest(region_id=REGION, page_number=page, page_size=5)
        ).body
        assert (body.page_number, body.page_size, body.total_count) == (page, 5, 12)
        seen += [v.vpc_id for v in body.vpcs.vpc]
        if page * body.page_size >= body.total_count:
            break
        page += 1
    assert seen == created
    error = error_of(
        lambda: clients.vpc.describe_vpcs(
            vpc_models.DescribeVpcsRequest(region_id=REGION, page_size=51)
        )
    )
    assert error.code == "InvalidParameter"


def test_vpc_validation_errors(clients: Clients) -> None:
    error = error_of(lambda: create_vpc(clients, cidr="8.8.0.0/16"))
    assert (error.status_code, error.code) == (400, "InvalidCidrBlock.Malformed")
    error = error_of(lambda: create_vpc(clients, cidr="not-a-cidr"))
    assert error.code == "InvalidCidrBlock.Malformed"
    error = error_of(lambda: create_vpc(clients, name="-bad"))
    assert error.code == "InvalidVpcName.Malformed"
    error = error_of(
        lambda: clients.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id="mars-1"))
    )
    assert (error.status_code, error.code) == (404, "InvalidRegionId.NotFound")
    error = error_of(lambda: create_vpc(clients, dry_run=True))
    assert error.code == "DryRunOperation"
    assert (
        clients.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION)).body.vpcs.vpc
        == []
    )


def test_vswitches(clients: Clients) -> None:
    vpc_id = create_vpc(clients)
    tag = vpc_models.CreateVSwitchRequestTag(key="role", value="brokers")
    first = create_vswitch(clients, vpc_id, "10.20.1.0/24", "brokers", tag=[tag])
    second = create_vswitch(clients, vpc_id, "10.20.2.0/24", "clients", zone_id="cn-hangzhou-i")
    listed = clients.vpc.describe_vswitches(
        vpc_models.DescribeVSwitchesRequest(region_id=REGION, vpc_id=vpc_id)
    ).body
    assert [v.v_switch_id for v in listed.v_switches.v_switch] == [first, second]
    vsw = listed.v_switches.v_switch[0]
    assert (vsw.cidr_block, vsw.zone_id, vsw.status) == ("10.20.1.0/24", ZONE, "Available")
    assert vsw.available_ip_address_count == 252
    by_name = clients.vpc.describe_vswitches(
        vpc_models.DescribeVSwitchesRequest(
            region_id=REGION, vpc_id=vpc_id, v_switch_name="clients"
        )
    )
    assert [v.v_switch_id for v in by_name.body.v_switches.v_switch] == [second]
    by_zone = clients.vpc.describe_vswitches(
        vpc_models.DescribeVSwitchesRequest(region_id=REGION, zone_id=ZONE)
    )
    assert [v.v_switch_id for v in by_zone.body.v_switches.v_switch] == [first]
    by_tag = clients.vpc.describe_vswitches(
        vpc_models.DescribeVSwitchesRequest(
            region_id=REGION,
            tag=[vpc_models.DescribeVSwitchesRequestTag(key="role", value="brokers")],
        )
    )
    assert [v.v_switch_id for v in by_tag.body.v_switches.v_switch] == [first]
    vpc = clients.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION)).body.vpcs.vpc[
        0
    ]
    assert vpc.v_switch_ids.v_switch_id == [first, second]

    assert error_of(lambda: create_vswitch(clients, vpc_id, "10.20.1.128/25")).code == (
        "InvalidCidrBlock.Overlapped"
    )
    assert error_of(lambda: create_vswitch(clients, vpc_id, "10.99.0.0/24")).code == (
        "InvalidCidrBlock.Malformed"
    )
    assert error_of(
        lambda: create_vswitch(clients, vpc_id, "10.20.9.0/24", zone_id="mars-1a")
    ).code == ("InvalidZoneId.NotFound")
    assert error_of(lambda: create_vswitch(clients, "vpc-missing", "10.20.9.0/24")).code == (
        "InvalidVpcId.NotFound"
    )

    error = error_of(
        lambda: clients.vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=vpc_id))
    )
    assert (error.status_code, error.code) == (400, "DependencyViolation.VSwitch")
    for vsw_id in (first, second):
        clients.vpc.delete_vswitch(
            vpc_models.DeleteVSwitchRequest(region_id=REGION, v_switch_id=vsw_id)
        )
    error = error_of(
        lambda: clients.vpc.delete_vswitch(
            vpc_models.DeleteVSwitchRequest(region_id=REGION, v_switch_id=first)
        )
    )
    assert (error.status_code, error.code) == (404, "InvalidVSwitchId.NotFound")
    clients.vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=vpc_id))


def test_delete_vpc_with_security_group_is_refused(clients: Clients) -> None:
    vpc_id = create_vpc(clients)
    clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id)
    )
    error = error_of(
        lambda: clients.vpc.delete_vpc(vpc_models.DeleteVpcRequest(region_id=REGION, vpc_id=vpc_id))
    )
    assert error.code == "DependencyViolation.SecurityGroup"


def test_new_vpc_is_pending_until_it_settles() -> None:
    with Emulator(containers=False, settle_seconds=0.4) as emulator:
        clients = make_clients(emulator)
        vpc_id = create_vpc(clients)
        request = vpc_models.DescribeVpcsRequest(region_id=REGION, vpc_id=vpc_id)
        assert clients.vpc.describe_vpcs(request).body.vpcs.vpc[0].status == "Pending"
        error = error_of(lambda: create_vswitch(clients, vpc_id, "10.20.1.0/24"))
        assert error.code == "IncorrectVpcStatus"
        time.sleep(0.5)
        assert clients.vpc.describe_vpcs(request).body.vpcs.vpc[0].status == "Available"
        create_vswitch(clients, vpc_id, "10.20.1.0/24")


def test_eip_lifecycle(clients: Clients, emulator: Emulator) -> None:
    vpc_id = create_vpc(clients)
    vsw_id = create_vswitch(clients, vpc_id, "10.20.1.0/24")
    sg_id = clients.ecs.create_security_group(
        ecs_models.CreateSecurityGroupRequest(region_id=REGION, vpc_id=vpc_id)
    ).body.security_group_id
    instance_id = clients.ecs.run_instances(
        ecs_models.RunInstancesRequest(
            region_id=REGION, image_id=DEFAULT_IMAGE_ID, instance_type="ecs.g7.large",
            v_switch_id=vsw_id, security_group_id=sg_id,
        )
    ).body.instance_id_sets.instance_id_set[0]  # fmt: skip
    eip = clients.vpc.allocate_eip_address(
        vpc_models.AllocateEipAddressRequest(region_id=REGION, bandwidth="10", name="broker-1")
    ).body
    assert eip.allocation_id.startswith("eip-")
    # EIPs are addresses of the emulator's Internet network; its first is this machine.
    assert emulator.config.internet_cidr == "10.213.240.0/24"
    assert (emulator.internet_gateway, eip.eip_address) == ("10.213.240.1", "10.213.240.2")
    associate = vpc_models.AssociateEipAddressRequest(
        region_id=REGION, allocation_id=eip.allocation_id, instance_id=instance_id,
        instance_type="EcsInstance",
    )  # fmt: skip
    assert error_of(lambda: clients.vpc.associate_eip_address(associate)).code == (
        "IncorrectInstanceStatus"
    )
    time.sleep(0.3)  # the instance boots
    clients.vpc.associate_eip_address(associate)
    listed = clients.vpc.describe_eip_addresses(
        vpc_models.DescribeEipAddressesRequest(region_id=REGION, allocation_id=eip.allocation_id)
    ).body.eip_addresses.eip_address
    assert [(e.status, e.instance_id, e.ip_address) for e in listed] == [
        ("InUse", instance_id, eip.eip_address)
    ]
    shown = clients.ecs.describe_instances(
        ecs_models.DescribeInstancesRequest(region_id=REGION, instance_ids=f'["{instance_id}"]')
    ).body.instances.instance[0]
    assert (shown.eip_address.allocation_id, shown.eip_address.ip_address) == (
        eip.allocation_id,
        eip.eip_address,
    )
    release = vpc_models.ReleaseEipAddressRequest(region_id=REGION, allocation_id=eip.allocation_id)
    assert error_of(lambda: clients.vpc.release_eip_address(release)).code == "IncorrectEipStatus"
    clients.vpc.unassociate_eip_address(
        vpc_models.UnassociateEipAddressRequest(
            region_id=REGION, allocation_id=eip.allocation_id, instance_id=instance_id
        )
    )
    clients.vpc.release_eip_address(release)
    assert error_of(lambda: clients.vpc.release_eip_address(release)).code == (
        "InvalidAllocationId.NotFound"
    )
