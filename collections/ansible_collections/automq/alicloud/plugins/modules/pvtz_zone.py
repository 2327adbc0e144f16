#!/usr/bin/python
"""Ansible module pvtz_zone: the cluster's PrivateZone, bound to its VPC."""

from __future__ import annotations

DOCUMENTATION = r"""
module: pvtz_zone
short_description: Create a PrivateZone zone and bind it to VPCs, or delete it
description:
  - The zone is O(zone_name), by default C(<cluster>.automq.private). It is found by its exact
    name and the cluster tag (a same-named zone without any tags is adopted and tagged).
  - With O(vpc_ids) the zone is bound to exactly those VPCs of O(region) (PrivateZone replaces
    the whole binding list); without it, bindings are left alone.
  - O(state=absent) deletes the zone's records, unbinds it and deletes it.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  zone_name:
    description: Name of the zone; defaults to C(<cluster>.automq.private).
    type: str
  vpc_ids:
    description: VPCs (in O(region)) that resolve names in the zone.
    type: list
    elements: str
  remark:
    description: Remark of the zone.
    type: str
  state:
    description: Whether the zone should exist.
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
- name: Private DNS zone of the cluster
  automq.alicloud.pvtz_zone:
    cluster: automq-prod
    region: cn-hangzhou
    vpc_ids: ["{{ vpc.vpc_id }}"]
  register: zone
"""

RETURN = r"""
zone_id:
  description: ID of the zone; null when absent or not yet created (check mode).
  type: str
  returned: always
zone_name:
  description: Name of the zone.
  type: str
  returned: always
vpc_ids:
  description: VPCs bound to the zone after the run.
  type: list
  elements: str
  returned: when the zone exists or would be created
"""

from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.pvtz import (
    PvtzError,
    bound_vpcs,
    cluster_zone_name,
    records_from_api,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.retry import (
    BUSY_CODES,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    parse_tags,
)

PVTZ_BUSY = {*BUSY_CODES, "Zone.VpcExists", "System.Busy", "Zone.Locked"}


def main() -> None:
    cloud = AlicloudModule(
        {
            "zone_name": {"type": "str"},
            "vpc_ids": {"type": "list", "elements": "str"},
            "remark": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "pvtz",
        cluster_tags=True,
    )
    params = cloud.params
    try:
        name = (params["zone_name"] or cluster_zone_name(cloud.cluster)).strip().lower().rstrip(".")
    except PvtzError as exc:
        cloud.fail(str(exc))
    what = f"PrivateZone zone {name!r}"
    models = cloud.models("pvtz")
    zones = cloud.paged(
        "pvtz",
        "DescribeZones",
        f"look up {what}",
        lambda page, size: models.DescribeZonesRequest(
            keyword=name, search_mode="EXACT", page_number=page, page_size=size
        ),
        ("Zones", "Zone"),
        total_key="TotalItems",
    )
    same_name = [z for z in zones if str(z.get("ZoneName") or "").lower().rstrip(".") == name]
    ours = [
        z for z in same_name if parse_tags(z.get("ResourceTags")).get(CLUSTER_TAG) == cloud.cluster
    ]
    if not ours:
        ours = [z for z in same_name if not parse_tags(z.get("ResourceTags"))][:1]
    if len(ours) > 1:
        ids = ", ".join(sorted(z["ZoneId"] for z in ours))
        cloud.fail(
            f"{len(ours)} zones named {name!r} belong to cluster {cloud.cluster} ({ids}): delete the extra ones"
        )
    current = ours[0] if ours else None
    zone_id = current["ZoneId"] if current else None
    bound: list[tuple[str, str]] = []
    if zone_id:
        info = cloud.rpc(
            "pvtz",
            "DescribeZoneInfo",
            f"read {what}",
            models.DescribeZoneInfoRequest(zone_id=zone_id),
        )
        bound = bound_vpcs(info or {})
    before: dict[str, Any] = {}
    if current:
        before = {
            "zone_name": name,
            "remark": current.get("Remark") or "",
            "vpc_ids": sorted(f"{region}/{vpc}" for region, vpc in bound),
            "tags": parse_tags(current.get("ResourceTags")),
        }

    def bind(vpcs: list[tuple[str, str]]) -> None:
        cloud.rpc(
            "pvtz",
            "BindZoneVpc",
            f"bind {what} to {', '.join(v for _region, v in vpcs) or 'no VPC'}",
            models.BindZoneVpcRequest(
                zone_id=zone_id,
                vpcs=[models.BindZoneVpcRequestVpcs(region_id=r, vpc_id=v) for r, v in vpcs],
            ),
            extra_codes=PVTZ_BUSY,
        )

    if params["state"] == "absent":
        if current is None:
            cloud.exit(False, before, {}, zone_id=None, zone_name=name)
        if not cloud.check_mode:
            records = records_from_api(
                {
                    "Records": {
                        "Record": cloud.paged(
                            "pvtz",
                            "DescribeZoneRecords",
                            f"list the records of {what}",
                            lambda page, size: models.DescribeZoneRecordsRequest(
                                zone_id=zone_id, page_number=page, page_size=size
                            ),
                            ("Records", "Record"),
                            total_key="TotalItems",
                        )
                    }
                }
            )
            for record in records:
                cloud.rpc(
                    "pvtz",
                    "DeleteZoneRecord",
                    f"delete record {record.rr} {record.type} of {what}",
                    models.DeleteZoneRecordRequest(record_id=record.record_id),
                    extra_codes=PVTZ_BUSY,
                )
            if bound:
                bind([])
            cloud.rpc(
                "pvtz",
                "DeleteZone",
                f"delete {what}",
                models.DeleteZoneRequest(zone_id=zone_id),
                extra_codes=PVTZ_BUSY,
            )
        cloud.exit(True, before, {}, zone_id=None, zone_name=name)

    changed = False
    if current is None:
        changed = True
        if not cloud.check_mode:
            body = cloud.rpc(
                "pvtz",
                "AddZone",
                f"create {what}",
                models.AddZoneRequest(
                    zone_name=name, proxy_pattern="ZONE", client_token=cloud.client_token()
                ),
                extra_codes=PVTZ_BUSY,
            )
            zone_id = str((body or {}).get("ZoneId") or "")
    tags_before = before.get("tags", {})
    if zone_id:
        tags_changed, tags = cloud.update_tags(
            "pvtz", "ZONE", zone_id, tags_before, what, optional=True
        )
        changed = changed or tags_changed
    else:
        tags = cloud.tags
    remark = params["remark"]
    if remark is not None and remark != before.get("remark", ""):
        changed = True
        if not cloud.check_mode:
            cloud.rpc(
                "pvtz",
                "UpdateZoneRemark",
                f"set the remark of {what}",
                models.UpdateZoneRemarkRequest(zone_id=zone_id, remark=remark),
            )
    wanted = bound
    if params["vpc_ids"] is not None:
        if not cloud.region and params["vpc_ids"]:
            cloud.fail("vpc_ids needs the VPCs' region: set region or ALIBABA_CLOUD_REGION_ID")
        wanted = sorted({(cloud.region or "", v) for v in params["vpc_ids"]})
        if wanted != bound:
            changed = True
            if not cloud.check_mode:
                bind(wanted)
    after = {
        "zone_name": name,
        "remark": remark if remark is not None else before.get("remark", ""),
        "vpc_ids": sorted(f"{region}/{vpc}" for region, vpc in wanted),
        "tags": tags,
    }
    cloud.exit(
        changed,
        before,
        after,
        zone_id=zone_id,
        zone_name=name,
        vpc_ids=[v for _region, v in wanted],
    )


if __name__ == "__main__":
    main()
