"""The emulator's in-memory state: one account, its resources and its AccessKeys."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .util import iso_seconds, utcnow


def _now() -> dt.datetime:
    return utcnow()


@dataclass
class AccessKey:
    id: str
    secret: str
    user_name: str | None  # None: the account's own key
    status: str = "Active"
    created: dt.datetime = field(default_factory=_now)


@dataclass
class Vpc:
    id: str
    region: str
    name: str
    cidr: str
    description: str
    tags: dict[str, str]
    vrouter_id: str
    route_table_id: str
    resource_group_id: str
    ready_at: dt.datetime
    created: dt.datetime = field(default_factory=_now)

    @property
    def status(self) -> str:
        return "Available" if utcnow() >= self.ready_at else "Pending"


@dataclass
class VSwitch:
    id: str
    region: str
    vpc_id: str
    zone_id: str
    name: str
    cidr: str
    description: str
    tags: dict[str, str]
    ready_at: dt.datetime
    created: dt.datetime = field(default_factory=_now)

    @property
    def status(self) -> str:
        return "Available" if utcnow() >= self.ready_at else "Pending"


@dataclass
class Rule:
    id: str
    direction: str  # ingress | egress
    protocol: str  # TCP UDP ICMP GRE ALL
    port_range: str
    source_cidr: str
    source_group: str
    dest_cidr: str
    dest_group: str
    policy: str  # Accept | Drop
    priority: int
    nic_type: str
    description: str
    source_port_range: str = ""
    created: dt.datetime = field(default_factory=_now)

    def identity(self) -> tuple[str, ...]:
        return (
            self.direction,
            self.protocol,
            self.port_range,
            self.source_cidr,
            self.source_group,
            self.dest_cidr,
            self.dest_group,
            self.policy,
            self.nic_type,
            self.source_port_range,
        )


@dataclass
class SecurityGroup:
    id: str
    region: str
    vpc_id: str
    name: str
    description: str
    group_type: str
    tags: dict[str, str]
    rules: list[Rule] = field(default_factory=list)
    # Accept: members reach each other whatever the rules say (basic groups' default);
    # Drop: the rules decide (enterprise groups, always).
    inner_access_policy: str = "Accept"
    created: dt.datetime = field(default_factory=_now)


@dataclass
class KeyPair:
    name: str
    region: str
    public_key: str
    fingerprint: str
    tags: dict[str, str]
    created: dt.datetime = field(default_factory=_now)


@dataclass
class Instance:
    id: str
    region: str
    zone_id: str
    name: str
    hostname: str
    description: str
    image_id: str
    instance_type: str
    vpc_id: str
    vswitch_id: str
    private_ip: str
    security_group_ids: list[str]
    key_pair_name: str
    tags: dict[str, str]
    system_disk: dict[str, Any]
    data_disks: list[dict[str, Any]]
    bandwidth_out: int
    public_ip: str
    user_data: str
    status: str = "Pending"
    container: str | None = None
    eip_allocation_id: str = ""
    boot_error: str = ""
    ready_at: dt.datetime | None = None  # without containers: when Pending ends
    started: dt.datetime | None = None
    created: dt.datetime = field(default_factory=_now)


@dataclass
class Eip:
    id: str
    region: str
    ip: str
    name: str
    description: str
    bandwidth: str
    internet_charge_type: str
    tags: dict[str, str]
    status: str = "Available"
    instance_id: str = ""
    instance_type: str = ""
    created: dt.datetime = field(default_factory=_now)


@dataclass
class RamUser:
    id: str
    name: str
    display_name: str
    comments: str
    email: str
    mobile_phone: str
    policies: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    created: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)


@dataclass
class PolicyVersion:
    id: str
    document: str
    created: dt.datetime = field(default_factory=_now)


@dataclass
class RamPolicy:
    name: str
    policy_type: str  # Custom | System
    description: str
    default_version: str
    versions: dict[str, PolicyVersion]
    next_version: int = 2
    created: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)

    @property
    def document(self) -> str:
        return self.versions[self.default_version].document


@dataclass
class ZoneRecord:
    id: int
    rr: str
    type: str
    value: str
    ttl: int
    priority: int
    line: str
    remark: str
    created: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)


@dataclass
class PrivateZone:
    id: str
    name: str
    proxy_pattern: str
    remark: str
    records: dict[int, ZoneRecord] = field(default_factory=dict)
    vpcs: list[dict[str, str]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    created: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)


@dataclass
class OssObject:
    key: str
    data: bytes
    etag: str
    content_type: str
    metadata: dict[str, str]
    acl: str
    crc64: int
    last_modified: dt.datetime = field(default_factory=_now)


@dataclass
class UploadPart:
    number: int
    data: bytes
    etag: str
    last_modified: dt.datetime = field(default_factory=_now)


@dataclass
class MultipartUpload:
    upload_id: str
    key: str
    content_type: str
    metadata: dict[str, str]
    parts: dict[int, UploadPart] = field(default_factory=dict)
    initiated: dt.datetime = field(default_factory=_now)


@dataclass
class Bucket:
    name: str
    region: str
    acl: str
    storage_class: str
    redundancy: str
    encryption: dict[str, str] | None = None
    lifecycle_rules: list[str] | None = None  # serialized <Rule> elements
    policy: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    objects: dict[str, OssObject] = field(default_factory=dict)
    uploads: dict[str, MultipartUpload] = field(default_factory=dict)  # by upload ID
    created: dt.datetime = field(default_factory=_now)


@dataclass
class State:
    access_keys: dict[str, AccessKey] = field(default_factory=dict)
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    vswitches: dict[str, VSwitch] = field(default_factory=dict)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    key_pairs: dict[str, KeyPair] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    eips: dict[str, Eip] = field(default_factory=dict)
    users: dict[str, RamUser] = field(default_factory=dict)
    policies: dict[tuple[str, str], RamPolicy] = field(default_factory=dict)
    zones: dict[str, PrivateZone] = field(default_factory=dict)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    # (product, action, ClientToken) -> the first answer, for idempotent retries
    client_tokens: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    next_record_id: int = 100000000000001

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly view for debugging (object bodies and secrets left out)."""

        def convert(value: Any) -> Any:
            if isinstance(value, dt.datetime):
                return iso_seconds(value)
            if isinstance(value, bytes):
                return f"<{len(value)} bytes>"
            if isinstance(value, dict):
                return {
                    (
                        k
                        if isinstance(k, str)
                        else "/".join(map(str, k))
                        if isinstance(k, tuple)
                        else str(k)
                    ): convert(v)
                    for k, v in value.items()
                }
            if isinstance(value, list | tuple):
                return [convert(v) for v in value]
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return value

        view: dict[str, Any] = convert(self)
        for key in view["access_keys"].values():
            key["secret"] = "***"
        view.pop("client_tokens", None)
        return view
