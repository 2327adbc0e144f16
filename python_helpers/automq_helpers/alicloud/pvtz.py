"""PrivateZone: the cluster's zone name, VPC bindings, and records reconciled per name.

A record set is identified by its name (``rr``, relative to the zone) and type; the module
makes the set hold exactly the given values, reusing existing records (updating value or
TTL in place) before adding or deleting any, so a node's A record changes in one call.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RECORD_TYPES",
    "PvtzError",
    "Record",
    "RecordPlan",
    "bound_vpcs",
    "cluster_zone_name",
    "plan_records",
    "records_from_api",
    "validate_record",
]

RECORD_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "PTR", "SRV")
ZONE_SUFFIX = "automq.private"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class PvtzError(ValueError):
    """A zone or record the module refuses; the message names it."""


def cluster_zone_name(cluster: str) -> str:
    """``<cluster>.automq.private``, the zone AutoMQ nodes resolve each other in."""
    name = cluster.strip().lower()
    if not _LABEL.match(name):
        raise PvtzError(
            f"cluster {cluster!r} cannot be a DNS label: use 1-63 lowercase letters, digits "
            "and hyphens, not starting or ending with a hyphen"
        )
    return f"{name}.{ZONE_SUFFIX}"


def bound_vpcs(zone_info: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(region, vpc_id)`` pairs bound to a zone, from DescribeZoneInfo."""
    wrapper = zone_info.get("BindVpcs") or {}
    items = wrapper.get("Vpc") if isinstance(wrapper, Mapping) else wrapper
    pairs = {
        (str(item.get("RegionId") or ""), str(item.get("VpcId") or ""))
        for item in items or []
        if item.get("VpcId")
    }
    return sorted(pairs)


@dataclass(frozen=True)
class Record:
    record_id: str
    rr: str
    type: str
    value: str
    ttl: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "rr": self.rr,
            "type": self.type,
            "value": self.value,
            "ttl": self.ttl,
        }


def records_from_api(body: Mapping[str, Any]) -> list[Record]:
    wrapper = body.get("Records") or {}
    items = wrapper.get("Record") if isinstance(wrapper, Mapping) else wrapper
    records = []
    for item in items or []:
        try:
            ttl = int(item.get("Ttl") or 0)
        except (TypeError, ValueError):
            ttl = 0
        records.append(
            Record(
                record_id=str(item.get("RecordId") or ""),
                rr=str(item.get("Rr") or ""),
                type=str(item.get("Type") or "").upper(),
                value=str(item.get("Value") or ""),
                ttl=ttl,
            )
        )
    return records


def validate_record(rr: str, record_type: str, values: Sequence[str], ttl: int) -> None:
    if not rr or any(ch.isspace() for ch in rr):
        raise PvtzError(f"record name {rr!r} must be a non-empty name without spaces (@ = apex)")
    if record_type not in RECORD_TYPES:
        raise PvtzError(f"record type {record_type!r} must be one of {', '.join(RECORD_TYPES)}")
    if not values or any(not str(value).strip() for value in values):
        raise PvtzError(f"record {rr}: give a non-empty value (or values)")
    if not 5 <= ttl <= 86400:
        raise PvtzError(f"ttl {ttl} must be within 5-86400 seconds")
    if record_type == "A":
        for value in values:
            try:
                ipaddress.IPv4Address(value)
            except ValueError as exc:
                raise PvtzError(f"A record {rr}: {value!r} is not an IPv4 address") from exc


@dataclass(frozen=True)
class RecordPlan:
    create: tuple[str, ...]
    update: tuple[tuple[Record, str], ...]
    delete: tuple[Record, ...]
    keep: tuple[Record, ...]

    @property
    def changed(self) -> bool:
        return bool(self.create or self.update or self.delete)


def plan_records(
    rr: str,
    record_type: str,
    values: Iterable[str],
    ttl: int,
    existing: Sequence[Record],
) -> RecordPlan:
    """Make the ``rr``/``record_type`` set hold exactly ``values`` with ``ttl``."""
    wanted = list(dict.fromkeys(values))
    mine = sorted(
        (r for r in existing if r.rr.lower() == rr.lower() and r.type == record_type),
        key=lambda r: r.record_id,
    )
    keep: list[Record] = []
    update: list[tuple[Record, str]] = []
    spare: list[Record] = []
    remaining = list(wanted)
    for record in mine:
        if record.value in remaining:
            remaining.remove(record.value)
            if record.ttl == ttl:
                keep.append(record)
            else:
                update.append((record, record.value))
        else:
            spare.append(record)
    while remaining and spare:
        update.append((spare.pop(0), remaining.pop(0)))
    return RecordPlan(tuple(remaining), tuple(update), tuple(spare), tuple(keep))
