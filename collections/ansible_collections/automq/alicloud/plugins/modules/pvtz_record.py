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
    description: Name of the record relative to the zone, for example C(automq-prod-1); C(@) for the zone itself.
    type: str
    required: true
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
    description: Whether the record set should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: One A record per node
  automq.alicloud.pvtz_record:
    zone_id: "{{ zone.zone_id }}"
    rr: "{{ item.name }}"
    value: "{{ item.private_ip }}"
  loop: "{{ nodes.instances }}"
"""

RETURN = r"""
records:
  description: The records of the set after the run.
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

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.pvtz import (
    PvtzError,
    Record,
    plan_records,
    records_from_api,
    validate_record,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.retry import (
    BUSY_CODES,
)


def main() -> None:
    cloud = AlicloudModule(
        {
            "zone_id": {"type": "str", "required": True},
            "rr": {"type": "str", "required": True},
            "type": {
                "type": "str",
                "choices": ["A", "AAAA", "CNAME", "TXT", "MX", "PTR", "SRV"],
                "default": "A",
            },
            "value": {"type": "str"},
            "values": {"type": "list", "elements": "str"},
            "ttl": {"type": "int", "default": 60},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "pvtz",
        mutually_exclusive=[("value", "values")],
        required_if=[("state", "present", ("value", "values"), True)],
    )
    params = cloud.params
    zone_id, rr, record_type, ttl = params["zone_id"], params["rr"], params["type"], params["ttl"]
    if params["state"] == "absent":
        wanted: list[str] = []
    elif params["value"] is not None:
        wanted = [params["value"]]
    else:
        wanted = list(params["values"] or [])
    if params["state"] == "present":
        try:
            validate_record(rr, record_type, wanted, ttl)
        except PvtzError as exc:
            cloud.fail(str(exc))
    what = f"record {rr} {record_type} of zone {zone_id}"
    models = cloud.models("pvtz")
    listed = cloud.paged(
        "pvtz",
        "DescribeZoneRecords",
        f"look up {what}",
        lambda page, size: models.DescribeZoneRecordsRequest(
            zone_id=zone_id, keyword=rr, search_mode="EXACT", page_number=page, page_size=size
        ),
        ("Records", "Record"),
        total_key="TotalItems",
    )
    existing = records_from_api({"Records": {"Record": listed}})
    plan = plan_records(rr, record_type, wanted, ttl, existing)
    mine = [r for r in existing if r.rr.lower() == rr.lower() and r.type == record_type]
    before = {"records": sorted(f"{r.value} ttl={r.ttl}" for r in mine)}
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
    after = {"records": sorted(f"{r.value} ttl={r.ttl}" for r in after_records)}
    cloud.exit(
        plan.changed,
        before,
        after,
        records=[
            {**r.to_dict(), "record_id": r.record_id or None}
            for r in sorted(after_records, key=lambda r: r.value)
        ],
    )


if __name__ == "__main__":
    main()
