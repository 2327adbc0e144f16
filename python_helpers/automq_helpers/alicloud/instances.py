"""Which ECS instances to create, keep or report as extra, spread evenly across zones.

Instances of a cluster are named ``<prefix>-<n>`` (n = 1..count) and tagged with the
cluster, so a re-run finds them by name and tag. Each missing name goes to the vSwitch
whose zone holds the fewest instances so far (ties: the first vSwitch listed), so a fresh
cluster is spread with zone counts differing by at most one, and a replaced node returns to
the emptiest zone. Instances whose index is above ``count`` (or duplicates of a name) are
``extra``: the module reports them and deletes them only when told to.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_SUPPORTED_TYPES",
    "ExistingInstance",
    "InstanceError",
    "InstancePlan",
    "VSwitchSlot",
    "bandwidth_limits_from_api",
    "check_instance_type",
    "check_prefix",
    "instance_from_api",
    "instance_name",
    "plan_instances",
]

DEFAULT_SUPPORTED_TYPES = ("ecs.r7.large", "ecs.r6.large", "ecs.u1-c1m8.large")
"""2 vCPU / 16 GiB types AutoMQ documents for Alibaba Cloud (the role's default list)."""
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,50}[a-z0-9]$|^[a-z]$")
GONE_STATUSES = frozenset({"Deleted", "Deleting"})


class InstanceError(ValueError):
    """The request cannot be planned; the message names the option to fix."""


@dataclass(frozen=True)
class VSwitchSlot:
    vswitch_id: str
    zone_id: str


@dataclass(frozen=True)
class ExistingInstance:
    instance_id: str
    name: str
    zone_id: str
    vswitch_id: str = ""
    status: str = ""
    private_ip: str = ""
    instance_type: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "instance_id": self.instance_id,
            "name": self.name,
            "zone_id": self.zone_id,
            "vswitch_id": self.vswitch_id,
            "status": self.status,
            "private_ip": self.private_ip,
            "instance_type": self.instance_type,
        }


@dataclass(frozen=True)
class InstancePlan:
    create: tuple[tuple[str, VSwitchSlot], ...]
    keep: tuple[ExistingInstance, ...]
    extra: tuple[ExistingInstance, ...]


def check_prefix(prefix: str) -> str:
    """A name prefix that also makes valid host names (``<prefix>-<n>``)."""
    if not _PREFIX.match(prefix):
        raise InstanceError(
            f"name_prefix {prefix!r} must be lowercase letters, digits and hyphens, start with "
            "a letter, end with a letter or digit, at most 52 characters"
        )
    return prefix


def check_instance_type(instance_type: str, supported: Sequence[str]) -> str:
    if instance_type not in supported:
        raise InstanceError(
            f"instance_type {instance_type!r} is not in supported_instance_types "
            f"({', '.join(supported)}): pick one of them, or extend the list if you have "
            "validated another type"
        )
    return instance_type


def instance_name(prefix: str, index: int) -> str:
    return f"{prefix}-{index}"


def _index(prefix: str, name: str) -> int | None:
    head = f"{prefix}-"
    if not name.startswith(head):
        return None
    tail = name[len(head) :]
    if not tail.isascii() or not tail.isdecimal() or tail.startswith("0"):
        return None
    return int(tail)


def instance_from_api(item: Mapping[str, Any]) -> ExistingInstance:
    """Read an ``Instances.Instance`` entry of DescribeInstances."""
    vpc = item.get("VpcAttributes") or {}
    ips = (vpc.get("PrivateIpAddress") or {}).get("IpAddress") or []
    if not ips:
        ips = (item.get("InnerIpAddress") or {}).get("IpAddress") or []
    return ExistingInstance(
        instance_id=str(item.get("InstanceId") or ""),
        name=str(item.get("InstanceName") or ""),
        zone_id=str(item.get("ZoneId") or ""),
        vswitch_id=str(vpc.get("VSwitchId") or ""),
        status=str(item.get("Status") or ""),
        private_ip=str(ips[0]) if ips else "",
        instance_type=str(item.get("InstanceType") or ""),
    )


def bandwidth_limits_from_api(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Each type's internal bandwidth limit in kbit/s, from ``InstanceTypes.InstanceType``
    entries of DescribeInstanceTypes: the lower of ``InstanceBandwidthRx`` and
    ``InstanceBandwidthTx`` (AutoMQ limits inbound and outbound object storage traffic
    separately, each to one figure). Types without both, or with a non-positive one, are
    left out: the cloud did not say."""
    limits: dict[str, int] = {}
    for item in items:
        name = str(item.get("InstanceTypeId") or "")
        figures = [item.get("InstanceBandwidthRx"), item.get("InstanceBandwidthTx")]
        numbers = [f for f in figures if isinstance(f, int) and not isinstance(f, bool)]
        if name and len(numbers) == 2 and min(numbers) > 0:
            limits[name] = min(numbers)
    return limits


def plan_instances(
    prefix: str,
    count: int,
    vswitches: Sequence[VSwitchSlot],
    existing: Iterable[ExistingInstance],
) -> InstancePlan:
    """Decide which ``<prefix>-<n>`` to create and where; see the module docstring."""
    check_prefix(prefix)
    if count < 0:
        raise InstanceError(f"count is {count}: it must be 0 or more")
    if count and not vswitches:
        raise InstanceError("vswitch_ids is empty: give at least one vSwitch")
    if len({slot.vswitch_id for slot in vswitches}) != len(vswitches):
        raise InstanceError("vswitch_ids lists a vSwitch twice")
    by_index: dict[int, ExistingInstance] = {}
    extra: list[ExistingInstance] = []
    for instance in sorted(existing, key=lambda i: (i.name, i.instance_id)):
        if instance.status in GONE_STATUSES:
            continue
        index = _index(prefix, instance.name)
        if index is None:
            continue
        if 1 <= index <= count and index not in by_index:
            by_index[index] = instance
        else:
            extra.append(instance)
    keep = [by_index[i] for i in sorted(by_index)]
    zones = Counter(instance.zone_id for instance in keep)
    order = {slot.zone_id: position for position, slot in reversed(list(enumerate(vswitches)))}
    create: list[tuple[str, VSwitchSlot]] = []
    for index in range(1, count + 1):
        if index in by_index:
            continue
        slot = min(vswitches, key=lambda s: (zones[s.zone_id], order[s.zone_id]))
        zones[slot.zone_id] += 1
        create.append((instance_name(prefix, index), slot))
    return InstancePlan(tuple(create), tuple(keep), tuple(extra))
