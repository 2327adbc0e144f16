"""ECS 2014-05-26: zones, security groups, key pairs and instances."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import ipaddress
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import vpc as vpc_api
from .call import Call, Handler, unlocked
from .containers import DockerError, covering_network
from .state import Instance, KeyPair, Rule, SecurityGroup
from .util import (
    ApiError,
    apply_tags,
    invalid,
    iso_minutes,
    paginate,
    short_id,
    tags_match,
    token_paginate,
    utcnow,
    wildcard_match,
)

PUBLIC_IP_POOL = ipaddress.IPv4Network("198.51.100.0/24")  # documentation range (RFC 5737)
DRY_RUN = ApiError(
    400, "DryRunOperation", "Request validation has been passed with DryRun flag set."
)
INSTANCE_NOT_FOUND = ApiError(
    404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."
)
SG_NOT_FOUND = ApiError(
    404, "InvalidSecurityGroupId.NotFound", "The specified SecurityGroupId does not exist."
)
KEY_TYPES = (
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)
DISK_CATEGORIES = (
    "cloud",
    "cloud_efficiency",
    "cloud_ssd",
    "cloud_essd",
    "cloud_auto",
    "cloud_essd_entry",
)
HOSTNAME_RE = re.compile(r"^(?!.*[.-]{2})[A-Za-z0-9][A-Za-z0-9.-]{0,62}[A-Za-z0-9]$")
NAME_RE = re.compile(r"^(?!https?://)[A-Za-z\u4e00-\u9fa5][^\s]{1,127}$")
SIZE_VCPUS = {"small": 1, "medium": 1, "large": 2, "xlarge": 4}
FAMILY_MEMORY_RATIO = {"c": 2, "g": 4, "r": 8, "hfc": 2, "hfg": 4, "hfr": 8}


def _tags(tags: dict[str, str]) -> dict[str, Any]:
    return {"Tag": [{"TagKey": k, "TagValue": v} for k, v in tags.items()]}


def instance_shape(instance_type: str) -> tuple[str, int, int]:
    """Family, vCPUs and memory (MiB) of ``ecs.g7.2xlarge``-style types."""
    parts = instance_type.split(".")
    family = ".".join(parts[:2])
    size = parts[-1]
    match = re.fullmatch(r"(\d*)xlarge", size)
    vcpus = SIZE_VCPUS.get(size, 4 * int(match.group(1) or 1) if match else 2)
    letters = re.match(r"[a-z]+", parts[1] if len(parts) > 2 else "g")
    ratio = FAMILY_MEMORY_RATIO.get(letters.group(0) if letters else "g", 4)
    return family, vcpus, vcpus * ratio * 1024


# --------------------------------------------------------------------------- zones


def describe_zones(call: Call) -> dict[str, Any]:
    region = call.region()
    verbose = call.params.bool("Verbose", True)
    zones = []
    for zone_id in call.emulator.config.zones_of(region):
        zone: dict[str, Any] = {
            "ZoneId": zone_id,
            "LocalName": f"{region} zone {zone_id.rsplit('-', 1)[-1].upper()}",
            "ZoneType": "AvailabilityZone",
        }
        if verbose:
            zone.update(
                {
                    "AvailableResourceCreation": {
                        "ResourceTypes": ["VSwitch", "IoOptimized", "Instance", "Disk"]
                    },
                    "AvailableInstanceTypes": {
                        "InstanceTypes": list(call.emulator.config.instance_types)
                    },
                    "AvailableDiskCategories": {
                        "DiskCategories": ["cloud_efficiency", "cloud_ssd", "cloud_essd"]
                    },
                    "AvailableVolumeCategories": {"VolumeCategories": ["cloud_essd"]},
                    "AvailableDedicatedHostTypes": {"DedicatedHostType": []},
                    "DedicatedHostGenerations": {"DedicatedHostGeneration": []},
                }
            )
        zones.append(zone)
    return {"Zones": {"Zone": zones}}


# --------------------------------------------------------------------------- instance types

# The emulator's own figures (the cloud publishes its own per type), per two vCPUs:
# internal bandwidth limits in kbit/s, as DescribeInstanceTypes reports them, and pps.
_BANDWIDTH_KBPS_PER_TWO_VCPUS = 1024000
_PPS_PER_TWO_VCPUS = 300000


def describe_instance_types(call: Call) -> dict[str, Any]:
    """The types the emulator offers, filtered by ``InstanceTypes.N`` (1 to 10 of them,
    as the SDK documents); a type the region does not offer is simply not returned."""
    params = call.params
    wanted = params.indexed("InstanceTypes")
    if len(wanted) > 10:
        raise invalid("InstanceTypes", "The array length must be between 1 and 10.")
    family_filter = params.get("InstanceTypeFamily")
    offered = [
        name
        for name in call.emulator.config.instance_types
        if (not wanted or name in wanted)
        and (family_filter is None or instance_shape(name)[0] == family_filter)
    ]
    page, token = token_paginate(offered, params, 1600, 1600)

    def view(name: str) -> dict[str, Any]:
        family, vcpus, memory_mib = instance_shape(name)
        pairs = max(1, vcpus // 2)
        return {
            "InstanceTypeId": name,
            "InstanceTypeFamily": family,
            "CpuCoreCount": vcpus,
            "MemorySize": memory_mib / 1024,
            "InstanceFamilyLevel": "EnterpriseLevel",
            "CpuArchitecture": "X86",
            "InstanceBandwidthRx": _BANDWIDTH_KBPS_PER_TWO_VCPUS * pairs,
            "InstanceBandwidthTx": _BANDWIDTH_KBPS_PER_TWO_VCPUS * pairs,
            "InstancePpsRx": _PPS_PER_TWO_VCPUS * pairs,
            "InstancePpsTx": _PPS_PER_TWO_VCPUS * pairs,
            "EniQuantity": max(2, vcpus // 2 + 1),
        }

    return {"NextToken": token, "InstanceTypes": {"InstanceType": [view(n) for n in page]}}


# --------------------------------------------------------------------------- security groups


def get_group(call: Call, group_id: str) -> SecurityGroup:
    group = call.emulator.state.security_groups.get(group_id)
    if group is None:
        raise SG_NOT_FOUND
    return group


def create_security_group(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    vpc_id = params.get("VpcId")
    if vpc_id is None:
        raise ApiError(
            400,
            "InvalidVpcId.Missing",
            "The emulator has no classic network: VpcId is required.",
        )
    vpc = vpc_api.get_vpc(call, vpc_id)
    name = params.get("SecurityGroupName", "") or ""
    if name and not NAME_RE.match(name):
        raise invalid("SecurityGroupName", code="InvalidSecurityGroupName.Malformed")
    group_type = params.get("SecurityGroupType", "normal")
    if group_type not in ("normal", "enterprise"):
        raise invalid("SecurityGroupType", code="InvalidSecurityGroupType.Malformed")
    tags = apply_tags(params.tags())
    if params.bool("DryRun"):
        raise DRY_RUN

    def create() -> dict[str, Any]:
        group = SecurityGroup(
            id=short_id("sg-"),
            region=region,
            vpc_id=vpc.id,
            name=name,
            description=params.get("Description", "") or "",
            group_type=group_type or "normal",
            tags=tags,
            inner_access_policy="Accept" if group_type == "normal" else "Drop",
        )
        call.emulator.state.security_groups[group.id] = group
        return {"SecurityGroupId": group.id}

    return call.once(create)


def describe_security_groups(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    ids = params.id_list("SecurityGroupIds") or params.id_list("SecurityGroupId")
    vpc_id = params.get("VpcId")
    name = params.get("SecurityGroupName")
    group_type = params.get("SecurityGroupType")
    tags = params.tags()
    state = call.emulator.state
    found = [
        g
        for g in state.security_groups.values()
        if g.region == region
        and (ids is None or g.id in ids)
        and (vpc_id is None or g.vpc_id == vpc_id)
        and (name is None or g.name == name)
        and (group_type is None or g.group_type == group_type)
        and tags_match(g.tags, tags)
    ]

    def view(group: SecurityGroup) -> dict[str, Any]:
        members = sum(1 for i in state.instances.values() if group.id in i.security_group_ids)
        return {
            "SecurityGroupId": group.id,
            "SecurityGroupName": group.name,
            "Description": group.description,
            "SecurityGroupType": group.group_type,
            "VpcId": group.vpc_id,
            "CreationTime": iso_minutes(group.created),
            "ResourceGroupId": call.emulator.resource_group_id,
            "ServiceManaged": False,
            "RuleCount": len(group.rules),
            "GroupToGroupRuleCount": sum(1 for r in group.rules if r.source_group or r.dest_group),
            "EcsCount": members,
            "AvailableInstanceAmount": 2000 - members,
            "Tags": _tags(group.tags),
        }

    answer: dict[str, Any] = {"RegionId": region, "TotalCount": len(found)}
    if params.get("NextToken") is not None or params.get("MaxResults") is not None:
        page, token = token_paginate(found, params, 10, 100)
        answer["NextToken"] = token
    else:
        page, number, size = paginate(found, params, 10, 50)
        answer.update({"PageNumber": number, "PageSize": size})
    answer["SecurityGroups"] = {"SecurityGroup": [view(g) for g in page]}
    return answer


def _rule_view(call: Call, rule: Rule) -> dict[str, Any]:
    groups = call.emulator.state.security_groups
    source_name = groups[rule.source_group].name if rule.source_group in groups else ""
    dest_name = groups[rule.dest_group].name if rule.dest_group in groups else ""
    return {
        "SecurityGroupRuleId": rule.id,
        "Direction": rule.direction,
        "IpProtocol": rule.protocol,
        "PortRange": rule.port_range,
        "SourcePortRange": rule.source_port_range,
        "SourceCidrIp": rule.source_cidr,
        "SourceGroupId": rule.source_group,
        "SourceGroupName": source_name,
        "SourceGroupOwnerAccount": call.emulator.config.account_id if rule.source_group else "",
        "DestCidrIp": rule.dest_cidr,
        "DestGroupId": rule.dest_group,
        "DestGroupName": dest_name,
        "DestGroupOwnerAccount": call.emulator.config.account_id if rule.dest_group else "",
        "Ipv6SourceCidrIp": "",
        "Ipv6DestCidrIp": "",
        "SourcePrefixListId": "",
        "DestPrefixListId": "",
        "Policy": rule.policy,
        "Priority": str(rule.priority),
        "NicType": rule.nic_type,
        "Description": rule.description,
        "CreateTime": iso_minutes(rule.created).replace("Z", ":00Z"),
    }


def describe_security_group_attribute(call: Call) -> dict[str, Any]:
    call.region()
    params = call.params
    group = get_group(call, params.require("SecurityGroupId"))
    direction = params.get("Direction", "all")
    if direction not in ("all", "ingress", "egress"):
        raise invalid("Direction", code="InvalidDirection.Malformed")
    nic_type = params.get("NicType")
    rules = [
        r
        for r in group.rules
        if (direction == "all" or r.direction == direction)
        and (nic_type is None or r.nic_type == nic_type)
    ]
    return {
        "SecurityGroupId": group.id,
        "SecurityGroupName": group.name,
        "Description": group.description,
        "VpcId": group.vpc_id,
        "RegionId": group.region,
        "InnerAccessPolicy": group.inner_access_policy,
        "Permissions": {"Permission": [_rule_view(call, r) for r in rules]},
    }


def _cidr(name: str, value: str | None) -> str:
    if not value:
        return ""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise invalid(name, code=f"Invalid{name}.Malformed") from None
    if network.version != 4:
        raise invalid(name, "The emulator supports IPv4 only.", code=f"Invalid{name}.Malformed")
    return str(network) if "/" in value else value


def _permission(call: Call, group: SecurityGroup, spec: dict[str, str], direction: str) -> Rule:
    protocol = (spec.get("IpProtocol") or "").upper()
    if not protocol:
        raise ApiError(400, "MissingParameter", 'The input parameter "IpProtocol" is not supplied.')
    if protocol not in ("TCP", "UDP", "ICMP", "GRE", "ALL"):
        raise invalid("IpProtocol", code="InvalidIpProtocol.Malformed")
    port_range = spec.get("PortRange") or ""
    if protocol in ("TCP", "UDP"):
        match = re.fullmatch(r"(\d+)/(\d+)", port_range)
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)) <= 65535:
            raise invalid("PortRange", code="InvalidPortRange.Malformed")
    elif port_range not in ("", "-1/-1"):
        raise invalid(
            "PortRange",
            f"{protocol} rules take the port range -1/-1.",
            code="InvalidPortRange.Malformed",
        )
    else:
        port_range = "-1/-1"
    policy = (spec.get("Policy") or "accept").lower()
    if policy not in ("accept", "drop"):
        raise invalid("Policy", code="InvalidPolicy.Malformed")
    priority_raw = spec.get("Priority") or "1"
    if not priority_raw.isdigit() or not 1 <= int(priority_raw) <= 100:
        raise invalid("Priority", code="InvalidPriority.Malformed")
    nic_type = spec.get("NicType") or "intranet"
    source_group = spec.get("SourceGroupId") or ""
    dest_group = spec.get("DestGroupId") or ""
    for other in (source_group, dest_group):
        if other:
            peer = get_group(call, other)
            if peer.vpc_id != group.vpc_id:
                raise ApiError(
                    400,
                    "InvalidSecurityGroup.NotInSameVpc",
                    "The security groups of the rule are not in the same VPC.",
                )
            if "enterprise" in (group.group_type, peer.group_type):
                # Advanced groups neither reference groups nor may be referenced.
                raise ApiError(
                    400,
                    "InvalidSecurityGroup.InvalidNetworkType",
                    "Enterprise security groups do not support group authorization.",
                )
    rule = Rule(
        id=short_id("sgr-"),
        direction=direction,
        protocol=protocol,
        port_range=port_range,
        source_cidr=_cidr("SourceCidrIp", spec.get("SourceCidrIp")),
        source_group=source_group,
        dest_cidr=_cidr("DestCidrIp", spec.get("DestCidrIp")),
        dest_group=dest_group,
        policy=policy.capitalize(),
        priority=int(priority_raw),
        nic_type=nic_type,
        description=spec.get("Description") or "",
        source_port_range=spec.get("SourcePortRange") or "",
    )
    if direction == "ingress" and not (rule.source_cidr or rule.source_group):
        raise ApiError(
            400,
            "MissingParameter",
            "An ingress rule needs SourceCidrIp or SourceGroupId.",
        )
    if direction == "egress" and not (rule.dest_cidr or rule.dest_group):
        raise ApiError(
            400,
            "MissingParameter",
            "An egress rule needs DestCidrIp or DestGroupId.",
        )
    if direction == "ingress":  # the destination fields belong to egress rules only
        rule.dest_cidr = rule.dest_group = ""
    else:
        rule.source_cidr = rule.source_group = ""
    return rule


_RULE_FIELDS = (
    "IpProtocol",
    "PortRange",
    "SourceCidrIp",
    "SourceGroupId",
    "DestCidrIp",
    "DestGroupId",
    "Policy",
    "Priority",
    "NicType",
    "Description",
    "SourcePortRange",
)


def _permission_specs(call: Call) -> list[dict[str, str]]:
    specs = call.params.indexed_objects("Permissions")
    flat = {name: call.params.data[name] for name in _RULE_FIELDS if call.params.get(name)}
    if flat:
        specs.append(flat)
    return specs


def _authorize(call: Call, direction: str) -> dict[str, Any]:
    call.region()
    group = get_group(call, call.params.require("SecurityGroupId"))
    specs = _permission_specs(call)
    if not specs:
        raise ApiError(
            400, "MissingParameter", 'The input parameter "Permissions" is not supplied.'
        )
    rules = [_permission(call, group, spec, direction) for spec in specs]
    for rule in rules:
        existing = next((r for r in group.rules if r.identity() == rule.identity()), None)
        if existing is not None:  # the cloud updates a duplicate rule instead of failing
            existing.priority, existing.description = rule.priority, rule.description
        else:
            group.rules.append(rule)
    return {}


def authorize_security_group(call: Call) -> dict[str, Any]:
    return _authorize(call, "ingress")


def authorize_security_group_egress(call: Call) -> dict[str, Any]:
    return _authorize(call, "egress")


def _revoke(call: Call, direction: str) -> dict[str, Any]:
    call.region()
    group = get_group(call, call.params.require("SecurityGroupId"))
    rule_ids = call.params.indexed("SecurityGroupRuleId")
    specs = _permission_specs(call)
    if not rule_ids and not specs:
        raise ApiError(
            400, "MissingParameter", 'The input parameter "Permissions" is not supplied.'
        )
    identities = {_permission(call, group, spec, direction).identity() for spec in specs}
    for rule_id in rule_ids:
        if not any(r.id == rule_id and r.direction == direction for r in group.rules):
            raise ApiError(
                404,
                "InvalidSecurityGroupRuleId.NotFound",
                f"The specified security group rule {rule_id} does not exist.",
            )
    # Revoking a rule that does not exist succeeds, as on the cloud.
    group.rules = [
        r for r in group.rules if r.id not in rule_ids and r.identity() not in identities
    ]
    return {}


def revoke_security_group(call: Call) -> dict[str, Any]:
    return _revoke(call, "ingress")


def revoke_security_group_egress(call: Call) -> dict[str, Any]:
    return _revoke(call, "egress")


def modify_security_group_policy(call: Call) -> dict[str, Any]:
    call.region()
    group = get_group(call, call.params.require("SecurityGroupId"))
    policy = (call.params.require("InnerAccessPolicy") or "").capitalize()
    if policy not in ("Accept", "Drop"):
        raise invalid("InnerAccessPolicy", code="InvalidInnerAccessPolicy.Malformed")
    if group.group_type != "normal":
        raise ApiError(
            403,
            "InvalidSecurityGroupType.NotSupported",
            "The internal access policy of an enterprise security group cannot be modified.",
        )
    group.inner_access_policy = policy
    return {}


def _membership(call: Call) -> tuple[SecurityGroup, Instance]:
    call.region()
    group = get_group(call, call.params.require("SecurityGroupId"))
    if call.params.get("NetworkInterfaceId"):
        raise invalid("NetworkInterfaceId", "The emulator has only primary interfaces.")
    instance = _get_instance(call, call.params.require("InstanceId"))
    if instance.status not in ("Running", "Stopped"):
        raise _incorrect_status()
    return group, instance


def join_security_group(call: Call) -> dict[str, Any]:
    group, instance = _membership(call)
    if group.vpc_id != instance.vpc_id:
        raise ApiError(
            400,
            "InvalidInstanceId.Mismatch",
            "Specified instance and security group are not in the same VPC.",
        )
    if group.id in instance.security_group_ids:
        raise ApiError(
            403,
            "InvalidInstanceId.AlreadyExists",
            "The specified instance already exists in the specified security group.",
        )
    if len(instance.security_group_ids) >= 5:
        raise ApiError(
            400,
            "InstanceSecurityGroupLimitExceeded",
            "Exceeding the allowed amount of security groups that an instance can be in.",
        )
    instance.security_group_ids.append(group.id)
    return {}


def leave_security_group(call: Call) -> dict[str, Any]:
    group, instance = _membership(call)
    if group.id not in instance.security_group_ids:
        raise ApiError(
            400,
            "InvalidSecurityGroupAssociation.NotFound",
            "The specified ECS or ENI is not associated with the specified security group.",
        )
    if len(instance.security_group_ids) == 1:
        raise ApiError(
            403,
            "InstanceLastSecurityGroup",
            "The specified security group is the last security group for the instance.",
        )
    instance.security_group_ids.remove(group.id)
    return {}


def delete_security_group(call: Call) -> dict[str, Any]:
    call.region()
    state = call.emulator.state
    group = get_group(call, call.params.require("SecurityGroupId"))
    if any(group.id in i.security_group_ids for i in state.instances.values()):
        raise ApiError(
            403,
            "DependencyViolation",
            "There is still instance(s) in the specified security group.",
        )
    for other in state.security_groups.values():
        if other.id != group.id and any(
            group.id in (r.source_group, r.dest_group) for r in other.rules
        ):
            raise ApiError(
                403,
                "DependencyViolation",
                f"The specified security group has been authorized in another one ({other.id}).",
            )
    del state.security_groups[group.id]
    return {}


# --------------------------------------------------------------------------- key pairs


def fingerprint(public_key: str) -> str:
    parts = public_key.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise ApiError(
            400,
            "InvalidPublicKeyBody.Malformed",
            "The public key must be in OpenSSH format with one of the types "
            + ", ".join(KEY_TYPES)
            + ".",
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise ApiError(
            400, "InvalidPublicKeyBody.Malformed", "The public key is not valid base64."
        ) from None
    if not blob[4:].startswith(parts[0].encode()):
        raise ApiError(
            400, "InvalidPublicKeyBody.Malformed", "The public key blob does not match its type."
        )
    return hashlib.md5(blob, usedforsecurity=False).hexdigest()


def import_key_pair(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    name = params.require("KeyPairName")
    if not NAME_RE.match(name):
        raise invalid("KeyPairName", code="InvalidKeyPairName.Malformed")
    body = params.require("PublicKeyBody").strip()
    print_ = fingerprint(body)
    keys = call.emulator.state.key_pairs
    if name in keys:
        raise ApiError(400, "KeyPair.AlreadyExist", "The key pair already exist.")
    keys[name] = KeyPair(name, region, body, print_, apply_tags(params.tags()))
    return {"KeyPairName": name, "KeyPairFingerPrint": print_}


def describe_key_pairs(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    name = params.get("KeyPairName")
    print_ = params.get("KeyPairFingerPrint")
    tags = params.tags()
    include_key = params.bool("IncludePublicKey")
    found = [
        k
        for k in call.emulator.state.key_pairs.values()
        if k.region == region
        and (name is None or wildcard_match(name, k.name))
        and (print_ is None or k.fingerprint == print_)
        and tags_match(k.tags, tags)
    ]
    page, number, size = paginate(found, params, 10, 50)

    def view(key: KeyPair) -> dict[str, Any]:
        entry = {
            "KeyPairName": key.name,
            "KeyPairFingerPrint": key.fingerprint,
            "CreationTime": iso_minutes(key.created),
            "ResourceGroupId": call.emulator.resource_group_id,
            "Tags": _tags(key.tags),
        }
        if include_key:
            entry["PublicKey"] = key.public_key
        return entry

    return {
        "TotalCount": len(found),
        "PageNumber": number,
        "PageSize": size,
        "KeyPairs": {"KeyPair": [view(k) for k in page]},
    }


def delete_key_pairs(call: Call) -> dict[str, Any]:
    call.region()
    names = call.params.id_list("KeyPairNames")
    if not names:
        raise ApiError(
            400, "MissingParameter", 'The input parameter "KeyPairNames" is not supplied.'
        )
    for name in names:
        call.emulator.state.key_pairs.pop(name, None)
    return {}


# --------------------------------------------------------------------------- instances


def refresh(instance: Instance) -> None:
    """Without containers, a Pending instance becomes Running after a short boot."""
    if (
        instance.status == "Pending"
        and instance.container is None
        and instance.ready_at is not None
        and utcnow() >= instance.ready_at
    ):
        instance.status, instance.started = "Running", utcnow()


def _allocate_ip(call: Call, vswitch_cidr: str, vpc_cidr: str, vpc_id: str, taken: set[str]) -> str:
    network = ipaddress.IPv4Network(vswitch_cidr)
    reserved = {
        ipaddress.IPv4Network(vpc_cidr).network_address + 1,
        covering_network(
            [v.cidr for v in call.emulator.state.vswitches.values() if v.vpc_id == vpc_id]
        ).network_address
        + 1,
    }
    used = taken | {
        i.private_ip for i in call.emulator.state.instances.values() if i.vpc_id == vpc_id
    }
    first = network.network_address + 3
    last = network.broadcast_address - 4
    address = first
    while address <= last:
        if str(address) not in used and address not in reserved:
            return str(address)
        address += 1
    raise ApiError(
        403,
        "InvalidVSwitchId.IpNotEnough",
        "The specified VSwitch has not enough IP addresses.",
    )


def _system_disk(params: Any) -> dict[str, Any]:
    category = params.get("SystemDisk.Category", "cloud_essd")
    if category not in DISK_CATEGORIES:
        raise invalid("SystemDisk.Category", code="InvalidSystemDiskCategory.ValueNotSupported")
    size = params.int("SystemDisk.Size", 40)
    if not 20 <= size <= 2048:
        raise ApiError(
            400,
            "InvalidSystemDiskSize.ValueNotSupported",
            "The specified SystemDisk.Size must be between 20 and 2048 GiB "
            "(and not smaller than the image).",
        )
    level = params.get("SystemDisk.PerformanceLevel")
    if level is not None and (
        category != "cloud_essd" or level not in ("PL0", "PL1", "PL2", "PL3")
    ):
        raise invalid(
            "SystemDisk.PerformanceLevel",
            "Only cloud_essd disks take a performance level PL0 to PL3.",
        )
    return {"Category": category, "Size": size, "PerformanceLevel": level or ""}


@unlocked
def run_instances(call: Call) -> dict[str, Any]:
    emulator = call.emulator
    token = call.params.get("ClientToken")
    token_key = (call.product, call.action, token or "")
    with emulator.lock:
        if token is not None and token_key in emulator.state.client_tokens:
            return copy.deepcopy(emulator.state.client_tokens[token_key])
        instances, image = _plan_instances(call)
        answer: dict[str, Any] = {
            "InstanceIdSets": {"InstanceIdSet": [i.id for i in instances]},
            "TradePrice": 0.0,
        }
        for instance in instances:
            emulator.state.instances[instance.id] = instance
        if token is not None:
            emulator.state.client_tokens[token_key] = copy.deepcopy(answer)
        vpc = emulator.state.vpcs[instances[0].vpc_id]
        vswitch_cidrs = [v.cidr for v in emulator.state.vswitches.values() if v.vpc_id == vpc.id]
        in_use = any(i.container for i in emulator.state.instances.values() if i.vpc_id == vpc.id)
        key_name = instances[0].key_pair_name
        public_key = emulator.state.key_pairs[key_name].public_key if key_name else None
    docker = emulator.docker
    if docker is None:
        return answer

    net = emulator.net
    assert net is not None

    def create(instance: Instance) -> None:
        name = docker.create_instance(
            instance.id,
            vpc.id,
            instance.private_ip,
            instance.hostname,
            image,
            public_key,
            resolv_conf_file=net.resolv_conf_file(instance.id),
            trusted_ca=net.trusted_ca(),
        )
        with emulator.lock:
            instance.container = name
        net.started(instance)  # its security groups, before anything answers
        emulator.watch_boot(instance)

    try:
        docker.check_image(image)
        docker.check_firewall()
        network = docker.ensure_network(vpc.id, vpc.cidr, vswitch_cidrs, in_use)
        net.prepare_vpc(vpc.id, network)
        with ThreadPoolExecutor(max_workers=8) as pool:
            for future in [pool.submit(create, instance) for instance in instances]:
                future.result()
    except (ApiError, DockerError) as error:
        with emulator.lock:
            for instance in instances:
                emulator.state.instances.pop(instance.id, None)
            emulator.state.client_tokens.pop(token_key, None)
        for instance in instances:
            if instance.container:
                docker.remove_container(instance.container)
        if isinstance(error, ApiError):
            raise
        raise ApiError(500, "Emulator.DockerError", f"RunInstances failed: {error}") from None
    return answer


def _plan_instances(call: Call) -> tuple[list[Instance], str]:
    """Validate RunInstances and build the Instance records (not stored yet)."""
    emulator = call.emulator
    region = call.region()
    params = call.params
    image_id = params.require("ImageId")
    image = emulator.config.images.get(image_id)
    if image is None:
        raise ApiError(404, "InvalidImageId.NotFound", "The specified ImageId does not exist.")
    instance_type = params.require("InstanceType")
    if instance_type not in emulator.config.instance_types:
        raise ApiError(
            400,
            "InvalidInstanceType.ValueNotSupported",
            "The specified InstanceType does not exist or beyond the permitted range.",
        )
    vswitch_id = params.get("VSwitchId")
    if vswitch_id is None:
        raise ApiError(
            400,
            "InvalidVSwitchId.Missing",
            "The emulator has no classic network: VSwitchId is required.",
        )
    vswitch = vpc_api.get_vswitch(call, vswitch_id)
    zone_id = params.get("ZoneId")
    if zone_id is not None and zone_id != vswitch.zone_id:
        raise ApiError(
            400,
            "InvalidParameter.Mismatch",
            f"The specified vSwitch {vswitch.id} is not in the zone {zone_id}.",
        )
    vpc = vpc_api.get_vpc(call, vswitch.vpc_id)
    group_ids = params.indexed("SecurityGroupIds")
    if params.get("SecurityGroupId"):
        group_ids.insert(0, params.require("SecurityGroupId"))
    if not group_ids:
        raise ApiError(
            400, "MissingParameter", 'The input parameter "SecurityGroupId" is not supplied.'
        )
    for group_id in group_ids:
        if get_group(call, group_id).vpc_id != vpc.id:
            raise ApiError(
                400,
                "InvalidParameter.Mismatch",
                f"The security group {group_id} is not in the vSwitch's VPC {vpc.id}.",
            )
    key_name = params.get("KeyPairName", "") or ""
    if key_name and key_name not in emulator.state.key_pairs:
        raise ApiError(
            404, "InvalidKeyPairName.NotFound", "The specified KeyPairName does not exist."
        )
    amount = params.int("Amount", 1, minimum=1, maximum=100)
    name = params.get("InstanceName")
    if name is not None and not NAME_RE.match(name):
        raise invalid("InstanceName", code="InvalidInstanceName.Malformed")
    hostname = params.get("HostName")
    if hostname is not None and not HOSTNAME_RE.match(hostname):
        raise invalid("HostName", code="InvalidHostName.Malformed")
    bandwidth = params.int("InternetMaxBandwidthOut", 0, minimum=0, maximum=100)
    disk = _system_disk(params)
    tags = apply_tags(params.tags())
    if params.bool("DryRun"):
        raise DRY_RUN
    unique = params.bool("UniqueSuffix")
    boot = dt.timedelta(seconds=emulator.config.instant_boot_seconds)
    used_public = {i.public_ip for i in emulator.state.instances.values()}
    taken: set[str] = set()
    instances = []
    for index in range(amount):
        instance_id = short_id("i-")
        suffix = f"{index + 1:03d}" if unique and amount > 1 else ""
        ip = params.get("PrivateIpAddress") if amount == 1 else None
        if ip is not None:
            if ipaddress.IPv4Address(ip) not in ipaddress.IPv4Network(vswitch.cidr) or any(
                i.private_ip == ip for i in emulator.state.instances.values()
            ):
                raise invalid("PrivateIpAddress", code="InvalidPrivateIpAddress")
        else:
            ip = _allocate_ip(call, vswitch.cidr, vpc.cidr, vpc.id, taken)
        taken.add(ip)
        public_ip = ""
        if bandwidth > 0:
            public_ip = next(str(a) for a in PUBLIC_IP_POOL.hosts() if str(a) not in used_public)
            used_public.add(public_ip)
        instances.append(
            Instance(
                id=instance_id,
                region=region,
                zone_id=vswitch.zone_id,
                name=(name or instance_id) + suffix,
                hostname=(hostname + suffix) if hostname else f"iZ{instance_id[2:]}Z",
                description=params.get("Description", "") or "",
                image_id=image_id,
                instance_type=instance_type,
                vpc_id=vpc.id,
                vswitch_id=vswitch.id,
                private_ip=ip,
                security_group_ids=list(dict.fromkeys(group_ids)),
                key_pair_name=key_name,
                tags=dict(tags),
                system_disk=disk,
                data_disks=params.indexed_objects("DataDisk"),
                bandwidth_out=bandwidth,
                public_ip=public_ip,
                user_data=params.get("UserData", "") or "",
                ready_at=utcnow() + boot if emulator.docker is None else None,
            )
        )
    return instances, image


def _instance_view(call: Call, instance: Instance) -> dict[str, Any]:
    refresh(instance)
    family, vcpus, memory = instance_shape(instance.instance_type)
    eip = call.emulator.state.eips.get(instance.eip_allocation_id)
    mac = ":".join(["00", "16", "3e"] + [instance.id[-6:][i : i + 2] for i in (0, 2, 4)])
    return {
        "InstanceId": instance.id,
        "InstanceName": instance.name,
        "HostName": instance.hostname,
        "Description": instance.description,
        "ImageId": instance.image_id,
        "InstanceType": instance.instance_type,
        "InstanceTypeFamily": family,
        "Cpu": vcpus,
        "Memory": memory,
        "RegionId": instance.region,
        "ZoneId": instance.zone_id,
        "Status": instance.status,
        "CreationTime": iso_minutes(instance.created),
        "StartTime": iso_minutes(instance.started) if instance.started else "",
        "ExpiredTime": "2099-12-31T15:59Z",
        "InstanceChargeType": "PostPaid",
        "InternetChargeType": "PayByTraffic",
        "InternetMaxBandwidthOut": instance.bandwidth_out,
        "InternetMaxBandwidthIn": 100 if instance.bandwidth_out else 0,
        "InstanceNetworkType": "vpc",
        "IoOptimized": True,
        "KeyPairName": instance.key_pair_name,
        "OSName": "Debian  12.x 64 bit",
        "OSNameEn": "Debian  12.x 64 bit",
        "OSType": "linux",
        "SerialNumber": str(uuid.uuid5(uuid.NAMESPACE_OID, instance.id)),
        "ResourceGroupId": call.emulator.resource_group_id,
        "DeletionProtection": False,
        "Recyclable": False,
        "DeviceAvailable": True,
        "StoppedMode": "Not-applicable" if instance.status != "Stopped" else "KeepCharging",
        "SpotStrategy": "NoSpot",
        "CreditSpecification": "",
        "GPUAmount": 0,
        "GPUSpec": "",
        "LocalStorageAmount": 0,
        "LocalStorageCapacity": 0,
        "Tags": _tags(instance.tags),
        "SecurityGroupIds": {"SecurityGroupId": list(instance.security_group_ids)},
        "VpcAttributes": {
            "VpcId": instance.vpc_id,
            "VSwitchId": instance.vswitch_id,
            "PrivateIpAddress": {"IpAddress": [instance.private_ip]},
            "NatIpAddress": "",
        },
        "InnerIpAddress": {"IpAddress": []},
        "PublicIpAddress": {"IpAddress": [instance.public_ip] if instance.public_ip else []},
        "EipAddress": {
            "AllocationId": eip.id if eip else "",
            "IpAddress": eip.ip if eip else "",
            "InternetChargeType": eip.internet_charge_type if eip else "",
            "Bandwidth": int(eip.bandwidth) if eip else 0,
            "IsSupportUnassociate": True,
        },
        "NetworkInterfaces": {
            "NetworkInterface": [
                {
                    "NetworkInterfaceId": "eni-" + instance.id[2:],
                    "MacAddress": mac,
                    "PrimaryIpAddress": instance.private_ip,
                    "Type": "Primary",
                    "PrivateIpSets": {
                        "PrivateIpSet": [{"PrivateIpAddress": instance.private_ip, "Primary": True}]
                    },
                }
            ]
        },
        "OperationLocks": {"LockReason": []},
        "MetadataOptions": {"HttpEndpoint": "enabled", "HttpTokens": "optional"},
    }


def describe_instances(call: Call) -> dict[str, Any]:
    region = call.region()
    params = call.params
    ids = params.id_list("InstanceIds")
    if ids is not None and len(ids) > 100:
        raise invalid("InstanceIds", "At most 100 IDs.")
    private_ips = params.id_list("PrivateIpAddresses")
    name = params.get("InstanceName")
    filters = {
        "vpc_id": params.get("VpcId"),
        "vswitch_id": params.get("VSwitchId"),
        "zone_id": params.get("ZoneId"),
        "status": params.get("Status"),
        "instance_type": params.get("InstanceType"),
        "image_id": params.get("ImageId"),
        "key_pair_name": params.get("KeyPairName"),
    }
    group_id = params.get("SecurityGroupId")
    tags = params.tags()
    found = []
    for instance in call.emulator.state.instances.values():
        refresh(instance)
        if (
            instance.region == region
            and (ids is None or instance.id in ids)
            and (private_ips is None or instance.private_ip in private_ips)
            and (name is None or wildcard_match(name, instance.name))
            and all(v is None or getattr(instance, k) == v for k, v in filters.items())
            and (group_id is None or group_id in instance.security_group_ids)
            and tags_match(instance.tags, tags)
        ):
            found.append(instance)
    answer: dict[str, Any] = {"TotalCount": len(found)}
    if params.get("NextToken") is not None or params.get("MaxResults") is not None:
        page, token = token_paginate(found, params, 10, 100)
        answer["NextToken"] = token
    else:
        page, number, size = paginate(found, params, 10, 100)
        answer.update({"PageNumber": number, "PageSize": size})
    answer["Instances"] = {"Instance": [_instance_view(call, i) for i in page]}
    return answer


def _get_instance(call: Call, instance_id: str) -> Instance:
    instance = call.emulator.state.instances.get(instance_id)
    if instance is None:
        raise INSTANCE_NOT_FOUND
    refresh(instance)
    return instance


def _incorrect_status() -> ApiError:
    return ApiError(
        403,
        "IncorrectInstanceStatus",
        "The current status of the resource does not support this operation.",
    )


def stop_instance(call: Call) -> dict[str, Any]:
    instance = _get_instance(call, call.params.require("InstanceId"))
    if instance.status == "Stopped":
        raise _incorrect_status()
    if instance.status != "Running":
        raise _incorrect_status()
    if call.params.bool("DryRun"):
        raise DRY_RUN
    instance.status = "Stopping"
    call.emulator.run_later(lambda: call.emulator.stop_container(instance))
    return {}


def start_instance(call: Call) -> dict[str, Any]:
    instance = _get_instance(call, call.params.require("InstanceId"))
    if instance.status != "Stopped":
        raise _incorrect_status()
    if call.params.bool("DryRun"):
        raise DRY_RUN
    instance.status = "Starting"
    call.emulator.run_later(lambda: call.emulator.start_container(instance))
    return {}


def _check_deletable(instance: Instance, force: bool) -> None:
    if instance.status != "Stopped" and not force:
        raise _incorrect_status()


def _delete(call: Call, instances: list[Instance]) -> None:
    with call.emulator.lock:
        for instance in instances:
            call.emulator.state.instances.pop(instance.id, None)
            eip = call.emulator.state.eips.get(instance.eip_allocation_id)
            if eip is not None:
                eip.status, eip.instance_id, eip.instance_type = "Available", "", ""
    docker = call.emulator.docker
    names = [i.container for i in instances if i.container]
    if docker is not None and names:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(docker.remove_container, names))


@unlocked
def delete_instance(call: Call) -> dict[str, Any]:
    with call.emulator.lock:
        instance = _get_instance(call, call.params.require("InstanceId"))
        _check_deletable(instance, call.params.bool("Force"))
        if call.params.bool("DryRun"):
            raise DRY_RUN
    _delete(call, [instance])
    return {}


@unlocked
def delete_instances(call: Call) -> dict[str, Any]:
    with call.emulator.lock:
        call.region()
        ids = call.params.indexed("InstanceId")
        if not ids:
            raise ApiError(
                400, "MissingParameter", 'The input parameter "InstanceId" is not supplied.'
            )
        instances = [_get_instance(call, instance_id) for instance_id in ids]
        for instance in instances:
            _check_deletable(instance, call.params.bool("Force"))
        if call.params.bool("DryRun"):
            raise DRY_RUN
    _delete(call, instances)
    return {}


def watch_boot(emulator: Any, instance: Instance, stop: threading.Event) -> None:
    """Run in a thread: Pending/Starting becomes Running when sshd answers (inside the
    instance: whether this machine may reach it is up to the security groups)."""
    from .containers import wait_for_sshd

    ok = wait_for_sshd(emulator.docker, instance.container, emulator.config.boot_timeout, stop)
    with emulator.lock:
        if instance.status not in ("Pending", "Starting"):
            return
        if ok:
            instance.status, instance.started = "Running", utcnow()
        else:
            instance.boot_error = (
                f"sshd of {instance.id} ({instance.private_ip}) did not answer within "
                f"{emulator.config.boot_timeout:.0f} s"
            )


ACTIONS: dict[str, Handler] = {
    "DescribeZones": describe_zones,
    "DescribeInstanceTypes": describe_instance_types,
    "CreateSecurityGroup": create_security_group,
    "DescribeSecurityGroups": describe_security_groups,
    "DescribeSecurityGroupAttribute": describe_security_group_attribute,
    "AuthorizeSecurityGroup": authorize_security_group,
    "RevokeSecurityGroup": revoke_security_group,
    "AuthorizeSecurityGroupEgress": authorize_security_group_egress,
    "RevokeSecurityGroupEgress": revoke_security_group_egress,
    "ModifySecurityGroupPolicy": modify_security_group_policy,
    "JoinSecurityGroup": join_security_group,
    "LeaveSecurityGroup": leave_security_group,
    "DeleteSecurityGroup": delete_security_group,
    "ImportKeyPair": import_key_pair,
    "DescribeKeyPairs": describe_key_pairs,
    "DeleteKeyPairs": delete_key_pairs,
    "RunInstances": run_instances,
    "DescribeInstances": describe_instances,
    "StopInstance": stop_instance,
    "StartInstance": start_instance,
    "DeleteInstance": delete_instance,
    "DeleteInstances": delete_instances,
}
