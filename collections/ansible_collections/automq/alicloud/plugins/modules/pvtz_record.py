#!/usr/bin/python
"""Ansible module pvtz_record: a PrivateZone record set, for example one A record per node."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pvtz_record
short_description: Make a PrivateZone record set hold exactly the given values
description:
  - The record set is identified by O(rr) and O(type) in the zone O(zone_id). With
    O(state=present) it is made to hold exactly O(value) (or O(values)) with O(ttl); existing
    records are updated in place before any is added or deleted. With O(state=absent) the
    whole set is deleted.
  - O(record_sets) does the same for several record sets of the zone (one per node, say) in
    one call, reading the zone's records once. Record sets of the zone that it does not name
    are left alone.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
options:
  zone_id:
    description: ID of the zone (see M(automq.alicloud.pvtz_zone)).
    type: str
    required: true
  rr:
    description:
      - Name of the record relative to the zone, for example C(automq-prod-1); C(@) for the zone itself.
      - Required unless O(record_sets) is given.
    type: str
  type:
    description: Record type.
    type: str
    choices: [A, AAAA, CNAME, TXT, MX, PTR, SRV]
    default: A
  value:
    description: The single value of the record set, for example the node's private IP.
    type: str
  values:
    description: Several values (round robin); alternative to O(value).
    type: list
    elements: str
  ttl:
    description: Time to live in seconds.
    type: int
    default: 60
  state:
    description: Whether the record set (or every set of O(record_sets)) should exist.
    type: str
    choices: [present, absent]
    default: present
  record_sets:
    description:
      - Several record sets instead of O(rr), each as O(rr), O(type), O(value) or O(values)
        and O(ttl) describe one; O(state) applies to all of them.
    type: list
    elements: dict
    suboptions:
      rr: {description: As O(rr)., type: str, required: true}
      type:
        description: As O(type); O(type) when omitted.
        type: str
        choices: [A, AAAA, CNAME, TXT, MX, PTR, SRV]
      value: {description: As O(value)., type: str}
      values: {description: As O(values)., type: list, elements: str}
      ttl: {description: As O(ttl); O(ttl) when omitted., type: int}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: One A record per node, in one call
  automq.alicloud.pvtz_record:
    zone_id: "{{ zone.zone_id }}"
    record_sets:
      - rr: automq-prod-1
        value: 10.0.1.10
      - rr: automq-prod-2
        value: 10.0.2.10

- name: One record set, round robin
  automq.alicloud.pvtz_record:
    zone_id: "{{ zone.zone_id }}"
    rr: automq-prod
    values: [10.0.1.10, 10.0.2.10]
"""

RETURN = r"""
records:
  description: The records of the set (with O(record_sets), of every set named) after the run.
  type: list
  elements: dict
  returned: always
  contains:
    record_id:
      description: ID of the record (null for one check mode would add).
      type: str
    rr:
      description: Name.
      type: str
    type:
      description: Type.
      type: str
    value:
      description: Value.
      type: str
    ttl:
      description: TTL.
      type: int
"""

from dataclasses import dataclass

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.pvtz import (
    RECORD_TYPES,
    PvtzError,
    Record,
    plan_records,
    records_from_api,
    validate_record,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.retry import (
    BUSY_CODES,
)

RECORD_SET_OPTIONS = {
    "rr": {"type": "str", "required": True},
    "type": {"type": "str", "choices": list(RECORD_TYPES)},
    "value": {"type": "str"},
    "values": {"type": "list", "elements": "str"},
    "ttl": {"type": "int"},
}


@dataclass(frozen=True)
class RecordSet:
    rr: str
    type: str
    values: tuple[str, ...]
    ttl: int


def wanted_sets(cloud: AlicloudModule) -> list[RecordSet]:
    """The record sets asked for, each checked: what O(state) leaves in them."""
    params = cloud.params
    present = params["state"] == "present"
    given = params["record_sets"] if params["record_sets"] is not None else [params]
    sets = []
    for entry in given:
        record_type = entry["type"] or params["type"]
        ttl = entry["ttl"] if entry["ttl"] is not None else params["ttl"]
        if entry["value"] is not None and entry["values"] is not None:
            cloud.fail(f"record {entry['rr']}: give value or values, not both")
        if entry["value"] is not None:
            values: list[str] = [entry["value"]]
        else:
            values = list(entry["values"] or [])
        if present:
            try:
                validate_record(entry["rr"], record_type, values, ttl)
            except PvtzError as exc:
                cloud.fail(str(exc))
        sets.append(RecordSet(entry["rr"], record_type, tuple(values) if present else (), ttl))
    named = [(record_set.rr.lower(), record_set.type) for record_set in sets]
    twice = sorted(
        {f"{rr} {record_type}" for rr, record_type in named if named.count((rr, record_type)) > 1}
    )
    if twice:
        cloud.fail(f"record_sets names {', '.join(twice)} more than once: give each set once")
    return sets


def reconcile(
    cloud: AlicloudModule, zone_id: str, wanted: RecordSet, existing: list[Record]
) -> tuple[bool, list[str], list[Record]]:
    """Make one record set hold what is wanted; whether it changed, the values before (with
    their TTLs) and the records after."""
    rr, record_type, ttl = wanted.rr, wanted.type, wanted.ttl
    what = f"record {rr} {record_type} of zone {zone_id}"
    models = cloud.models("pvtz")
    plan = plan_records(rr, record_type, wanted.values, ttl, existing)
    mine = [r for r in existing if r.rr.lower() == rr.lower() and r.type == record_type]
    before = sorted(f"{r.value} ttl={r.ttl}" for r in mine)
    after_records = [*plan.keep]
    after_records += [Record(r.record_id, r.rr, r.type, value, ttl) for r, value in plan.update]
    if not cloud.check_mode:
        for record, value in plan.update:
            cloud.rpc(
                "pvtz",
                "UpdateZoneRecord",
                f"update {what} to {value}",
                models.UpdateZoneRecordRequest(
                    record_id=record.record_id, rr=record.rr, type=record_type, value=value, ttl=ttl
                ),
                extra_codes=BUSY_CODES,
            )
        for record in plan.delete:
            cloud.rpc(
                "pvtz",
                "DeleteZoneRecord",
                f"delete {what} ({record.value})",
                models.DeleteZoneRecordRequest(record_id=record.record_id),
                extra_codes=BUSY_CODES,
            )
    for value in plan.create:
        record_id = ""
        if not cloud.check_mode:
            body = cloud.rpc(
                "pvtz",
                "AddZoneRecord",
                f"add {what} ({value})",
                models.AddZoneRecordRequest(
                    zone_id=zone_id, rr=rr, type=record_type, value=value, ttl=ttl
                ),
                extra_codes=BUSY_CODES,
            )
            record_id = str((body or {}).get("RecordId") or "")
        after_records.append(Record(record_id, rr, record_type, value, ttl))
    return plan.changed, before, sorted(after_records, key=lambda r: r.value)


def main() -> None:
    cloud = AlicloudModule(
        {
            "zone_id": {"type": "str", "required": True},
            "rr": {"type": "str"},
            "type": {"type": "str", "choices": list(RECORD_TYPES), "default": "A"},
            "value": {"type": "str"},
            "values": {"type": "list", "elements": "str"},
            "ttl": {"type": "int", "default": 60},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "record_sets": {"type": "list", "elements": "dict", "options": RECORD_SET_OPTIONS},
        },
        "pvtz",
        mutually_exclusive=[("value", "values"), ("rr", "record_sets")],
        required_one_of=[("rr", "record_sets")],
    )
    params = cloud.params
    zone_id = params["zone_id"]
    wanted = wanted_sets(cloud)
    models = cloud.models("pvtz")
    # One set: only its records (a zone may hold many). Several: the zone's, read once.
    keyword = {"keyword": wanted[0].rr, "search_mode": "EXACT"} if params["rr"] is not None else {}
    listed = cloud.paged(
        "pvtz",
        "DescribeZoneRecords",
        f"look up the records of zone {zone_id}",
        lambda page, size: models.DescribeZoneRecordsRequest(
            zone_id=zone_id, page_number=page, page_size=size, **keyword
        ),
        ("Records", "Record"),
        total_key="TotalItems",
    )
    existing = records_from_api({"Records": {"Record": listed}})
    changed = False
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    records: list[Record] = []
    for record_set in wanted:
        set_changed, set_before, set_after = reconcile(cloud, zone_id, record_set, existing)
        changed = changed or set_changed
        name = f"{record_set.rr} {record_set.type}"
        before[name] = set_before
        after[name] = sorted(f"{r.value} ttl={r.ttl}" for r in set_after)
        records += set_after
    if params["rr"] is not None:
        # One set: the diff as this module always gave it.
        name = f"{wanted[0].rr} {wanted[0].type}"
        before, after = {"records": before[name]}, {"records": after[name]}
    cloud.exit(
        changed,
        before,
        after,
        records=[{**r.to_dict(), "record_id": r.record_id or None} for r in records],
    )


if __name__ == "__main__":
    main()
