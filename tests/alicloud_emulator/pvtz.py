"""PrivateZone 2018-01-01: zones, VPC bindings and records."""

from __future__ import annotations

import ipaddress
import math
import re
import secrets
from typing import Any

from .call import Call, Handler
from .state import PrivateZone, ZoneRecord
from .util import ApiError, epoch_millis, invalid, iso_minutes, paginate, utcnow

ZONE_NAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9-]{1,63}$"
)
RR_RE = re.compile(r"^(@|\*|(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?)$")
TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "PTR", "SRV")


def _get_zone(call: Call, zone_id: str) -> PrivateZone:
    zone = call.emulator.state.zones.get(zone_id)
    if zone is None:
        if not re.fullmatch(r"[0-9a-f]{32}", zone_id):
            raise ApiError(400, "Zone.Invalid.Id", "Zone id is invalid.")
        raise ApiError(400, "Zone.NotExists", "Zone is not exists")
    return zone


def _find_record(call: Call, record_id: str) -> tuple[PrivateZone, ZoneRecord]:
    if not record_id.isdigit():
        raise ApiError(400, "Record.Invalid.Id", "Record id is invalid.")
    for zone in call.emulator.state.zones.values():
        record = zone.records.get(int(record_id))
        if record is not None:
            return zone, record
    raise ApiError(400, "Record.Invalid.Id", "Record id is invalid.")


def add_zone(call: Call) -> dict[str, Any]:
    params = call.params
    name = params.require("ZoneName").lower().rstrip(".")
    if not ZONE_NAME_RE.match(name):
        raise ApiError(400, "Zone.Invalid.Name", "Zone name is invalid.")
    proxy = params.get("ProxyPattern", "ZONE")
    if proxy not in ("ZONE", "RECORD"):
        raise ApiError(400, "InvalidParameter", "The specified value parameter is not valid.")

    def create() -> dict[str, Any]:
        zone = PrivateZone(
            id=secrets.token_hex(16), name=name, proxy_pattern=proxy or "ZONE", remark=""
        )
        call.emulator.state.zones[zone.id] = zone
        return {"Success": True, "ZoneId": zone.id, "ZoneName": zone.name}

    return call.once(create)


def _zone_view(call: Call, zone: PrivateZone) -> dict[str, Any]:
    return {
        "ZoneId": zone.id,
        "ZoneName": zone.name,
        "ProxyPattern": zone.proxy_pattern,
        "Remark": zone.remark,
        "RecordCount": len(zone.records),
        "IsPtr": zone.name.endswith(".in-addr.arpa"),
        "ZoneType": "AUTH_ZONE",
        "ZoneTag": "",
        "DnsGroup": "NORMAL_ZONE",
        "DnsGroupChanging": False,
        "ResourceGroupId": call.emulator.resource_group_id,
        "CreateTime": iso_minutes(zone.created),
        "CreateTimestamp": epoch_millis(zone.created),
        "UpdateTime": iso_minutes(zone.updated),
        "UpdateTimestamp": epoch_millis(zone.updated),
    }


def _search(keyword: str | None, mode: str | None, value: str) -> bool:
    if keyword is None:
        return True
    if (mode or "LIKE") == "EXACT":
        return value.lower() == keyword.lower()
    return keyword.lower() in value.lower()


def describe_zones(call: Call) -> dict[str, Any]:
    params = call.params
    keyword = params.get("Keyword")
    mode = params.get("SearchMode")
    vpc_id = params.get("QueryVpcId")
    found = [
        z
        for z in call.emulator.state.zones.values()
        if _search(keyword, mode, z.name)
        and (vpc_id is None or any(v["VpcId"] == vpc_id for v in z.vpcs))
    ]
    page, number, size = paginate(found, params, 20, 100)
    zones = []
    for zone in page:
        view = _zone_view(call, zone)
        view["Creator"] = call.emulator.config.account_id
        view["CreatorSubType"] = "USER"
        view["ResourceTags"] = {
            "ResourceTag": [{"Key": k, "Value": v} for k, v in sorted(zone.tags.items())]
        }
        zones.append(view)
    return {
        "TotalItems": len(found),
        "TotalPages": math.ceil(len(found) / size),
        "PageNumber": number,
        "PageSize": size,
        "Zones": {"Zone": zones},
    }


def describe_zone_info(call: Call) -> dict[str, Any]:
    zone = _get_zone(call, call.params.require("ZoneId"))
    view = _zone_view(call, zone)
    view.update(
        {
            "SlaveDns": False,
            "Creator": call.emulator.config.account_id,
            "CreatorType": "USER",
            "BindVpcs": {"Vpc": [dict(v) for v in zone.vpcs]},
            "BindEdgeDnsClusters": {"EdgeDnsCluster": []},
        }
    )
    return view


def bind_zone_vpc(call: Call) -> dict[str, Any]:
    zone = _get_zone(call, call.params.require("ZoneId"))
    state = call.emulator.state
    bound = []
    for entry in call.params.indexed_objects("Vpcs"):
        vpc_id = entry.get("VpcId", "")
        region = entry.get("RegionId") or call.emulator.config.region_id
        vpc = state.vpcs.get(vpc_id)
        if vpc is None or vpc.region != region:
            raise ApiError(
                400, "ZoneVpc.NotExists.VpcId", f"The VPC {vpc_id} does not exist in {region}."
            )
        for other in state.zones.values():
            if (
                other.id != zone.id
                and other.name == zone.name
                and any(v["VpcId"] == vpc_id for v in other.vpcs)
            ):
                raise ApiError(
                    400,
                    "Zone.Bind.Conflict",
                    f"A zone named {zone.name} is already bound to {vpc_id}.",
                )
        bound.append(
            {
                "VpcId": vpc.id,
                "VpcName": vpc.name,
                "RegionId": vpc.region,
                "RegionName": vpc.region,
                "VpcType": "STANDARD",
            }
        )
    zone.vpcs = bound  # the call replaces the bindings; no Vpcs unbinds everything
    zone.updated = utcnow()
    return {}


def update_zone_remark(call: Call) -> dict[str, Any]:
    zone = _get_zone(call, call.params.require("ZoneId"))
    remark = call.params.get("Remark", "") or ""
    if len(remark) > 50:
        raise ApiError(400, "Zone.Invalid.Remark", "Zone remark is invalid.")
    zone.remark = remark
    zone.updated = utcnow()
    return {"ZoneId": zone.id}


MAX_ZONE_TAGS = 20


def _tagged_zones(call: Call) -> list[PrivateZone]:
    resource_type = call.params.require("ResourceType")
    if resource_type != "ZONE":
        raise invalid("ResourceType", "PrivateZone tags only resources of type ZONE.")
    ids = call.params.indexed("ResourceId")
    if not ids:
        raise ApiError(400, "MissingParameter", 'The input parameter "ResourceId" is not supplied.')
    return [_get_zone(call, zone_id) for zone_id in ids]


def tag_resources(call: Call) -> dict[str, Any]:
    """TagResources: set tags on zones (OverWrite=false refuses to change a value)."""
    zones = _tagged_zones(call)
    tags = call.params.tags()
    if not tags:
        raise ApiError(400, "MissingParameter", 'The input parameter "Tag" is not supplied.')
    overwrite = call.params.bool("OverWrite", False)
    for zone in zones:
        for key, value in tags:
            if not overwrite and key in zone.tags and zone.tags[key] != (value or ""):
                raise ApiError(
                    400, "Tag.Exists", f"The tag {key} already exists with another value."
                )
        if len({*zone.tags, *(k for k, _ in tags)}) > MAX_ZONE_TAGS:
            raise invalid("Tag", f"A zone takes at most {MAX_ZONE_TAGS} tags.")
    for zone in zones:
        for key, value in tags:
            zone.tags[key] = value or ""
        zone.updated = utcnow()
    return {}


def untag_resources(call: Call) -> dict[str, Any]:
    zones = _tagged_zones(call)
    keys = call.params.indexed("TagKey")
    remove_all = call.params.bool("All", False)
    if not keys and not remove_all:
        raise ApiError(400, "MissingParameter", 'The input parameter "TagKey" is not supplied.')
    for zone in zones:
        for key in list(zone.tags) if remove_all else keys:
            zone.tags.pop(key, None)
        zone.updated = utcnow()
    return {}


def delete_zone(call: Call) -> dict[str, Any]:
    zone = _get_zone(call, call.params.require("ZoneId"))
    if zone.vpcs:
        raise ApiError(400, "Zone.VpcExists", "Zone have vpc bound.")
    del call.emulator.state.zones[zone.id]
    return {"ZoneId": zone.id}


def _record_fields(call: Call, zone: PrivateZone, existing: ZoneRecord | None) -> ZoneRecord:
    params = call.params
    rr = params.require("Rr")
    if not RR_RE.match(rr):
        raise ApiError(400, "Record.Invalid.Rr", "Record rr is invalid.")
    record_type = params.require("Type").upper()
    if record_type not in TYPES:
        raise ApiError(400, "Record.Invalid.Type", "Record type is invalid.")
    value = params.require("Value")
    try:
        if record_type == "A":
            ipaddress.IPv4Address(value)
        elif record_type == "AAAA":
            ipaddress.IPv6Address(value)
    except ValueError:
        raise ApiError(400, "Record.Invalid.Value", "Record value is invalid.") from None
    ttl = params.int("Ttl", 60, minimum=5, maximum=86400)
    priority = params.int("Priority", 1 if record_type == "MX" else 0, minimum=0, maximum=99)
    for other in zone.records.values():
        if existing is not None and other.id == existing.id:
            continue
        if other.rr != rr:
            continue
        same = other.type == record_type and other.value == value
        cname = "CNAME" in (other.type, record_type)
        if same or cname:
            raise ApiError(
                400, "Record.Invalid.Conflict", "Record conflicts with an existing record."
            )
    return ZoneRecord(
        id=existing.id if existing else call.emulator.state.next_record_id,
        rr=rr,
        type=record_type,
        value=value,
        ttl=ttl,
        priority=priority,
        line=params.get("Line", "default") or "default",
        remark=params.get("Remark", "") or "",
        created=existing.created if existing else utcnow(),
    )


def add_zone_record(call: Call) -> dict[str, Any]:
    zone = _get_zone(call, call.params.require("ZoneId"))

    def create() -> dict[str, Any]:
        record = _record_fields(call, zone, None)
        call.emulator.state.next_record_id += 1
        zone.records[record.id] = record
        zone.updated = utcnow()
        return {"RecordId": record.id, "Success": True}

    return call.once(create)


def describe_zone_records(call: Call) -> dict[str, Any]:
    params = call.params
    zone = _get_zone(call, params.require("ZoneId"))
    keyword = params.get("Keyword")
    mode = params.get("SearchMode")
    found = [r for r in zone.records.values() if _search(keyword, mode, r.rr)]
    page, number, size = paginate(found, params, 20, 100)
    records = [
        {
            "RecordId": r.id,
            "ZoneId": zone.id,
            "Rr": r.rr,
            "Type": r.type,
            "Value": r.value,
            "Ttl": r.ttl,
            "Priority": r.priority,
            "Line": r.line,
            "Status": "ENABLE",
            "Weight": 1,
            "Remark": r.remark,
            "CreateTime": iso_minutes(r.created),
            "CreateTimestamp": epoch_millis(r.created),
            "UpdateTime": iso_minutes(r.updated),
            "UpdateTimestamp": epoch_millis(r.updated),
        }
        for r in page
    ]
    return {
        "TotalItems": len(found),
        "TotalPages": math.ceil(len(found) / size),
        "PageNumber": number,
        "PageSize": size,
        "Records": {"Record": records},
    }


def update_zone_record(call: Call) -> dict[str, Any]:
    zone, record = _find_record(call, call.params.require("RecordId"))
    updated = _record_fields(call, zone, record)
    zone.records[record.id] = updated
    zone.updated = utcnow()
    return {"RecordId": record.id}


def delete_zone_record(call: Call) -> dict[str, Any]:
    zone, record = _find_record(call, call.params.require("RecordId"))
    del zone.records[record.id]
    zone.updated = utcnow()
    return {"RecordId": record.id}


ACTIONS: dict[str, Handler] = {
    "AddZone": add_zone,
    "DescribeZones": describe_zones,
    "DescribeZoneInfo": describe_zone_info,
    "BindZoneVpc": bind_zone_vpc,
    "DeleteZone": delete_zone,
    "UpdateZoneRemark": update_zone_remark,
    "TagResources": tag_resources,
    "UntagResources": untag_resources,
    "AddZoneRecord": add_zone_record,
    "DescribeZoneRecords": describe_zone_records,
    "UpdateZoneRecord": update_zone_record,
    "DeleteZoneRecord": delete_zone_record,
}
