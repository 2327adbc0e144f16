"""VPC 2016-04-28: VPCs, vSwitches and EIPs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Any

from .call import Call, Handler, unlocked
from .containers import DockerError
from .state import Eip, Vpc, VSwitch
from .util import (
    ApiError,
    apply_tags,
    invalid,
    iso_seconds,
    paginate,
    parse_cidr,
    short_id,
    tags_match,
    utcnow,
)

PRIVATE_BLOCKS = [
    ipaddress.IPv4Network("10.0.0.0/8"),
    ipaddress.IPv4Network("172.16.0.0/12"),
    ipaddress.IPv4Network("192.168.0.0/16"),
]
NAME_RE = re.compile(r"^[A-Za-z\u4e00-\u9fa5][\w.\-\u4e00-\u9fa5]{1,127}$")


def _tags(tags: dict[str, str]) -> dict[str, Any]:
    return {"Tag": [{"Key": k, "Value": v} for k, v in tags.items()]}


def _check_name(name: str | None, parameter: str) -> str:
    if name is None:
        return ""
    if not NAME_RE.match(name):
        raise invalid(
            parameter,
            "The name must be 2 to 128 characters long, start with a letter and contain "
            "letters, digits, periods, underscores and hyphens.",
            code=f"Invalid{parameter}.Malformed",
        )
    return name


def get_vpc(call: Call, vpc_id: str) -> Vpc:
    vpc = call.emulator.state.vpcs.get(vpc_id)
    if vpc is None:
        raise ApiError(404, "InvalidVpcId.NotFound", "Specified VPC does not exist.")
    return vpc


def get_vswitch(call: Call, vswitch_id: str) -> VSwitch:
    vswitch = call.emulator.state.vswitches.get(vswitch_id)
    if vswitch is None:
        raise ApiError(404, "InvalidVSwitchId.NotFound", "Specified vSwitch does not exist.")
    return vswitch


# --------------------------------------------------------------------------- VPC


def create_vpc(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    cidr = parse_cidr("CidrBlock", params.get("CidrBlock", "172.16.0.0/12") or "")
    if not any(cidr.subnet_of(block) for block in PRIVATE_BLOCKS) or not 8 <= cidr.prefixlen <= 28:
        raise ApiError(
            400,
            "InvalidCidrBlock.Malformed",
            "Specified CIDR block is not valid: use a /8 to /28 block inside 10.0.0.0/8, "
            "172.16.0.0/12 or 192.168.0.0/16.",
        )
    name = _check_name(params.get("VpcName"), "VpcName")
    tags = apply_tags(params.tags())
    if params.bool("DryRun"):
        raise ApiError(
            400, "DryRunOperation", "Request validation has been passed with DryRun flag set."
        )

    def create() -> dict[str, Any]:
        state = call.emulator.state
        vpc = Vpc(
            id=short_id("vpc-"),
            region=region,
            name=name,
            cidr=str(cidr),
            description=params.get("Description", "") or "",
            tags=tags,
            vrouter_id=short_id("vrt-"),
            route_table_id=short_id("vtb-"),
            resource_group_id=params.get("ResourceGroupId", call.emulator.resource_group_id) or "",
            ready_at=utcnow() + dt.timedelta(seconds=call.emulator.config.settle_seconds),
        )
        state.vpcs[vpc.id] = vpc
        return {
            "VpcId": vpc.id,
            "VRouterId": vpc.vrouter_id,
            "RouteTableId": vpc.route_table_id,
            "ResourceGroupId": vpc.resource_group_id,
        }

    return call.once(create)


def _vpc_view(call: Call, vpc: Vpc) -> dict[str, Any]:
    state = call.emulator.state
    vswitch_ids = [v.id for v in state.vswitches.values() if v.vpc_id == vpc.id]
    return {
        "VpcId": vpc.id,
        "VpcName": vpc.name,
        "CidrBlock": vpc.cidr,
        "Description": vpc.description,
        "Status": vpc.status,
        "RegionId": vpc.region,
        "CreationTime": iso_seconds(vpc.created),
        "IsDefault": False,
        "VRouterId": vpc.vrouter_id,
        "ResourceGroupId": vpc.resource_group_id,
        "OwnerId": int(call.emulator.config.account_id),
        "EnabledIpv6": False,
        "Ipv6CidrBlock": "",
        "CenStatus": "Detached",
        "DhcpOptionsSetStatus": "",
        "DnsHostnameStatus": "DISABLED",
        "VSwitchIds": {"VSwitchId": vswitch_ids},
        "RouterTableIds": {"RouterTableIds": [vpc.route_table_id]},
        "UserCidrs": {"UserCidr": []},
        "NatGatewayIds": {"NatGatewayIds": []},
        "SecondaryCidrBlocks": {"SecondaryCidrBlock": []},
        "Tags": _tags(vpc.tags),
    }


def describe_vpcs(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    ids = params.id_list("VpcId")
    name = params.get("VpcName")
    tags = params.tags()
    is_default = params.get("IsDefault")
    found = [
        vpc
        for vpc in call.emulator.state.vpcs.values()
        if vpc.region == region
        and (ids is None or vpc.id in ids)
        and (name is None or vpc.name == name)
        and tags_match(vpc.tags, tags)
        and (is_default is None or is_default.lower() == "false")
    ]
    page, number, size = paginate(found, params, 10, 50)
    return {
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "Vpcs": {"Vpc": [_vpc_view(call, vpc) for vpc in page]},
    }


def delete_vpc(call: Call) -> dict[str, Any]:
    call.region()
    vpc = get_vpc(call, call.params.require("VpcId"))
    state = call.emulator.state
    if any(v.vpc_id == vpc.id for v in state.vswitches.values()):
        raise ApiError(
            400, "DependencyViolation.VSwitch", "Specified object has dependent resources"
        )
    if any(g.vpc_id == vpc.id for g in state.security_groups.values()):
        raise ApiError(
            400,
            "DependencyViolation.SecurityGroup",
            "Specified object has dependent resources SecurityGroup.",
        )
    if call.params.bool("DryRun"):
        raise ApiError(
            400, "DryRunOperation", "Request validation has been passed with DryRun flag set."
        )
    del state.vpcs[vpc.id]
    if call.emulator.net is not None:
        call.emulator.net.vpc_removed(vpc.id)
    if call.emulator.docker is not None:
        call.emulator.docker.remove_network(vpc.id)
    return {}


# --------------------------------------------------------------------------- vSwitch


def create_vswitch(call: Call) -> dict[str, Any]:
    params = call.params
    vpc = get_vpc(call, params.require("VpcId"))
    zone_id = params.require("ZoneId")
    if zone_id not in call.emulator.config.zones_of(vpc.region):
        raise ApiError(
            400, "InvalidZoneId.NotFound", f"The specified zone {zone_id} does not exist."
        )
    cidr = parse_cidr("CidrBlock", params.require("CidrBlock"))
    if not cidr.subnet_of(ipaddress.IPv4Network(vpc.cidr)) or not 16 <= cidr.prefixlen <= 29:
        raise ApiError(
            400,
            "InvalidCidrBlock.Malformed",
            f"Specified CIDR block {cidr} is not valid: it must be a /16 to /29 block inside "
            f"the VPC's {vpc.cidr}.",
        )
    for other in call.emulator.state.vswitches.values():
        if other.vpc_id == vpc.id and ipaddress.IPv4Network(other.cidr).overlaps(cidr):
            raise ApiError(
                400,
                "InvalidCidrBlock.Overlapped",
                f"Specified CIDR block {cidr} overlaps the CIDR block {other.cidr} of {other.id}.",
            )
    if vpc.status != "Available":
        raise ApiError(
            400, "IncorrectVpcStatus", "Current VPC status does not support this operation."
        )
    name = _check_name(params.get("VSwitchName"), "VSwitchName")
    tags = apply_tags(params.tags())

    def create() -> dict[str, Any]:
        vswitch = VSwitch(
            id=short_id("vsw-"),
            region=vpc.region,
            vpc_id=vpc.id,
            zone_id=zone_id,
            name=name,
            cidr=str(cidr),
            description=params.get("Description", "") or "",
            tags=tags,
            ready_at=utcnow() + dt.timedelta(seconds=call.emulator.config.settle_seconds),
        )
        call.emulator.state.vswitches[vswitch.id] = vswitch
        return {"VSwitchId": vswitch.id}

    return call.once(create)


def available_ips(call: Call, vswitch: VSwitch) -> int:
    used = sum(1 for i in call.emulator.state.instances.values() if i.vswitch_id == vswitch.id)
    return ipaddress.IPv4Network(vswitch.cidr).num_addresses - 4 - used


def _vswitch_view(call: Call, vswitch: VSwitch) -> dict[str, Any]:
    vpc = call.emulator.state.vpcs.get(vswitch.vpc_id)
    return {
        "VSwitchId": vswitch.id,
        "VSwitchName": vswitch.name,
        "VpcId": vswitch.vpc_id,
        "ZoneId": vswitch.zone_id,
        "CidrBlock": vswitch.cidr,
        "Description": vswitch.description,
        "Status": vswitch.status,
        "CreationTime": iso_seconds(vswitch.created),
        "AvailableIpAddressCount": available_ips(call, vswitch),
        "IsDefault": False,
        "EnabledIpv6": False,
        "Ipv6CidrBlock": "",
        "NetworkAclId": "",
        "OwnerId": int(call.emulator.config.account_id),
        "ResourceGroupId": vpc.resource_group_id if vpc else "",
        "ShareType": "Sharing",
        "RouteTable": {
            "RouteTableId": vpc.route_table_id if vpc else "",
            "RouteTableType": "System",
        },
        "Tags": _tags(vswitch.tags),
    }


def describe_vswitches(call: Call) -> dict[str, Any]:
    params = call.params
    region = call.region()
    ids = params.id_list("VSwitchId")
    vpc_id = params.get("VpcId")
    zone_id = params.get("ZoneId")
    name = params.get("VSwitchName")
    tags = params.tags()
    found = [
        v
        for v in call.emulator.state.vswitches.values()
        if v.region == region
        and (ids is None or v.id in ids)
        and (vpc_id is None or v.vpc_id == vpc_id)
        and (zone_id is None or v.zone_id == zone_id)
        and (name is None or v.name == name)
        and tags_match(v.tags, tags)
    ]
    page, number, size = paginate(found, params, 10, 50)
    return {
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "VSwitches": {"VSwitch": [_vswitch_view(call, v) for v in page]},
    }


def delete_vswitch(call: Call) -> dict[str, Any]:
    vswitch = get_vswitch(call, call.params.require("VSwitchId"))
    if any(i.vswitch_id == vswitch.id for i in call.emulator.state.instances.values()):
        raise ApiError(400, "DependencyViolation", "Specified object has dependent resources.")
    if vswitch.status != "Available":
        raise ApiError(
            400,
            "IncorrectVSwitchStatus",
            "The current virtual switch status does not support this operation.",
        )
    del call.emulator.state.vswitches[vswitch.id]
    return {}


# --------------------------------------------------------------------------- EIP


def get_eip(call: Call, allocation_id: str) -> Eip:
    eip = call.emulator.state.eips.get(allocation_id)
    if eip is None:
        raise ApiError(
            404,
            "InvalidAllocationId.NotFound",
            "Specified allocation ID is not found.",
        )
    return eip


def allocate_eip_address(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    bandwidth = params.int("Bandwidth", 5, minimum=1, maximum=500)
    tags = apply_tags(params.tags())

    def create() -> dict[str, Any]:
        state = call.emulator.state
        # The Internet network's addresses; its first (this machine) is no EIP.
        pool = list(ipaddress.IPv4Network(call.emulator.config.internet_cidr).hosts())[1:]
        used = {e.ip for e in state.eips.values()}
        ip = next((str(a) for a in pool if str(a) not in used), None)
        if ip is None:
            raise ApiError(400, "QuotaExceeded.Eip", "The EIP quota of the emulator is exhausted.")
        eip = Eip(
            id=short_id("eip-"),
            region=region,
            ip=ip,
            name=params.get("Name", "") or "",
            description=params.get("Description", "") or "",
            bandwidth=str(bandwidth),
            internet_charge_type=params.get("InternetChargeType", "PayByBandwidth") or "",
            tags=tags,
        )
        state.eips[eip.id] = eip
        return {
            "AllocationId": eip.id,
            "EipAddress": eip.ip,
            "ResourceGroupId": call.emulator.resource_group_id,
        }

    return call.once(create)


@unlocked
def associate_eip_address(call: Call) -> dict[str, Any]:
    emulator = call.emulator
    with emulator.lock:
        params = call.params
        eip = get_eip(call, params.require("AllocationId"))
        instance_type = params.get("InstanceType", "EcsInstance")
        if instance_type != "EcsInstance":
            raise invalid("InstanceType", "The emulator associates EIPs with EcsInstance only.")
        instance = emulator.state.instances.get(params.require("InstanceId"))
        if instance is None:
            raise ApiError(
                404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."
            )
        emulator.refresh_instance(instance)
        if eip.status == "InUse" and eip.instance_id == instance.id:
            return {}
        if eip.status != "Available":
            raise ApiError(
                400,
                "IncorrectEipStatus",
                "The current status of the EIP does not support this operation.",
            )
        if instance.eip_allocation_id or instance.public_ip:
            raise ApiError(
                400,
                "InvalidAssociation.Duplicated",
                "The instance already has a public IP address or an EIP.",
            )
        if instance.status not in ("Running", "Stopped"):
            raise ApiError(
                403,
                "IncorrectInstanceStatus",
                "The current status of the resource does not support this operation.",
            )
        eip.status, eip.instance_id, eip.instance_type = "Associating", instance.id, instance_type
        instance.eip_allocation_id = eip.id
        container = instance.container
    try:
        if emulator.net is not None and container:
            emulator.net.attach_eip(container, eip.ip)
    except (ApiError, DockerError) as error:
        with emulator.lock:
            eip.status, eip.instance_id, eip.instance_type = "Available", "", ""
            instance.eip_allocation_id = ""
        if isinstance(error, ApiError):
            raise
        raise ApiError(
            500, "Emulator.DockerError", f"AssociateEipAddress failed: {error}"
        ) from None
    with emulator.lock:
        eip.status = "InUse"
    return {}


@unlocked
def unassociate_eip_address(call: Call) -> dict[str, Any]:
    emulator = call.emulator
    with emulator.lock:
        params = call.params
        eip = get_eip(call, params.require("AllocationId"))
        instance_id = params.require("InstanceId")
        if eip.status != "InUse" or eip.instance_id != instance_id:
            raise ApiError(
                400, "IncorrectEipStatus", "The EIP is not associated with the specified instance."
            )
        instance = emulator.state.instances.get(instance_id)
        container = instance.container if instance is not None else None
        eip.status = "Unassociating"
    try:
        if emulator.net is not None and container:
            emulator.net.detach_eip(container)
    except DockerError as error:
        with emulator.lock:
            eip.status = "InUse"
        raise ApiError(
            500, "Emulator.DockerError", f"UnassociateEipAddress failed: {error}"
        ) from None
    with emulator.lock:
        if instance is not None:
            instance.eip_allocation_id = ""
        eip.status, eip.instance_id, eip.instance_type = "Available", "", ""
    return {}


def release_eip_address(call: Call) -> dict[str, Any]:
    eip = get_eip(call, call.params.require("AllocationId"))
    if eip.status != "Available":
        raise ApiError(
            400,
            "IncorrectEipStatus",
            "The current status of the EIP does not support this operation.",
        )
    del call.emulator.state.eips[eip.id]
    return {}


def eip_view(call: Call, eip: Eip) -> dict[str, Any]:
    return {
        "AllocationId": eip.id,
        "IpAddress": eip.ip,
        "Name": eip.name,
        "Description": eip.description,
        "Status": eip.status,
        "RegionId": eip.region,
        "InstanceId": eip.instance_id,
        "InstanceType": eip.instance_type,
        "InstanceRegionId": eip.region if eip.instance_id else "",
        "Bandwidth": eip.bandwidth,
        "EipBandwidth": eip.bandwidth,
        "InternetChargeType": eip.internet_charge_type,
        "ChargeType": "PostPaid",
        "AllocationTime": iso_seconds(eip.created),
        "ExpiredTime": "",
        "ISP": "BGP",
        "Netmode": "public",
        "Mode": "NAT",
        "BusinessStatus": "Normal",
        "DeletionProtection": False,
        "ResourceGroupId": call.emulator.resource_group_id,
        "OperationLocks": {"LockReason": []},
        "Tags": _tags(eip.tags),
    }


def describe_eip_addresses(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    ids = params.id_list("AllocationId")
    address = params.get("EipAddress")
    status = params.get("Status")
    instance_id = params.get("AssociatedInstanceId")
    name = params.get("EipName")
    tags = params.tags()
    found = [
        e
        for e in call.emulator.state.eips.values()
        if e.region == region
        and (ids is None or e.id in ids)
        and (address is None or e.ip in address.split(","))
        and (status is None or e.status == status)
        and (instance_id is None or e.instance_id == instance_id)
        and (name is None or e.name == name)
        and tags_match(e.tags, tags)
    ]
    page, number, size = paginate(found, params, 10, 100)
    return {
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "EipAddresses": {"EipAddress": [eip_view(call, e) for e in page]},
    }


ACTIONS: dict[str, Handler] = {
    "CreateVpc": create_vpc,
    "DescribeVpcs": describe_vpcs,
    "DeleteVpc": delete_vpc,
    "CreateVSwitch": create_vswitch,
    "DescribeVSwitches": describe_vswitches,
    "DeleteVSwitch": delete_vswitch,
    "AllocateEipAddress": allocate_eip_address,
    "AssociateEipAddress": associate_eip_address,
    "DescribeEipAddresses": describe_eip_addresses,
    "UnassociateEipAddress": unassociate_eip_address,
    "ReleaseEipAddress": release_eip_address,
}
