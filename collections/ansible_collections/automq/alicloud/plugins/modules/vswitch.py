#!/usr/bin/python
"""Ansible module vswitch: ensure a vSwitch (subnet in one zone) of an AutoMQ cluster."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vswitch
short_description: Create, update or delete a vSwitch of an AutoMQ cluster's VPC
description:
  - Finds the vSwitch by O(vpc_id), O(name) and the cluster tag; creates it in O(zone_id) with
    O(cidr_block) when missing, updates its description and tags, or deletes it with
    O(state=absent).
  - Create one vSwitch per zone (at least two zones) so the instances can be spread.
  - Zone and CIDR block of an existing vSwitch cannot change; different values are an error.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name:
    description: Name of the vSwitch.
    type: str
    required: true
  vpc_id:
    description: ID of the VPC the vSwitch belongs to.
    type: str
    required: true
  zone_id:
    description: Zone of the vSwitch, for example C(cn-hangzhou-h). Required to create it.
    type: str
  cidr_block:
    description: IPv4 CIDR block inside the VPC's block, for example C(10.0.1.0/24). Required to create it.
    type: str
  description:
    description: Description of the vSwitch.
    type: str
  state:
    description: Whether the vSwitch should exist.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for a new vSwitch to become C(Available).
    type: int
    default: 120
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: One vSwitch per zone
  automq.alicloud.vswitch:
    cluster: automq-prod
    name: "automq-prod-{{ item.zone }}"
    vpc_id: "{{ vpc.vpc_id }}"
    zone_id: "{{ item.zone }}"
    cidr_block: "{{ item.cidr }}"
  loop:
    - {zone: cn-hangzhou-h, cidr: 10.0.1.0/24}
    - {zone: cn-hangzhou-i, cidr: 10.0.2.0/24}
    - {zone: cn-hangzhou-j, cidr: 10.0.3.0/24}
  register: vswitches
"""

RETURN = r"""
vswitch_id:
  description: ID of the vSwitch; null when absent or not yet created (check mode).
  type: str
  returned: always
zone_id:
  description: Zone of the vSwitch.
  type: str
  returned: when the vSwitch exists or would be created
vswitch:
  description: The vSwitch's managed attributes (name, vpc_id, zone_id, cidr_block, description, status, tags).
  type: dict
  returned: when the vSwitch exists or would be created
"""

import ipaddress
from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.retry import (
    BUSY_CODES,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    parse_tags,
)


def view(vsw: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": vsw.get("VSwitchName") or "",
        "vpc_id": vsw.get("VpcId") or "",
        "zone_id": vsw.get("ZoneId") or "",
        "cidr_block": vsw.get("CidrBlock") or "",
        "description": vsw.get("Description") or "",
        "status": vsw.get("Status") or "",
        "tags": parse_tags(vsw.get("Tags")),
    }


def describe(cloud: AlicloudModule, **filters: Any) -> list[dict[str, Any]]:
    models = cloud.models("vpc")
    return cloud.paged(
        "vpc",
        "DescribeVSwitches",
        "look up vSwitches",
        lambda page, size: models.DescribeVSwitchesRequest(
            region_id=cloud.region, page_number=page, page_size=size, **filters
        ),
        ("VSwitches", "VSwitch"),
    )


def main() -> None:
    cloud = AlicloudModule(
        {
            "name": {"type": "str", "required": True},
            "vpc_id": {"type": "str", "required": True},
            "zone_id": {"type": "str"},
            "cidr_block": {"type": "str"},
            "description": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait_timeout": {"type": "int", "default": 120},
        },
        "vpc",
        cluster_tags=True,
    )
    params = cloud.params
    name, vpc_id = params["name"], params["vpc_id"]
    what = f"vSwitch {name!r} of {vpc_id}"
    models = cloud.models("vpc")
    found = [
        v
        for v in describe(
            cloud,
            vpc_id=vpc_id,
            v_switch_name=name,
            tag=cloud.cluster_tag_filter(models.DescribeVSwitchesRequestTag),
        )
        if v.get("VSwitchName") == name
        and v.get("VpcId") in (vpc_id, None)
        and parse_tags(v.get("Tags")).get(CLUSTER_TAG) == cloud.cluster
    ]
    if len(found) > 1:
        ids = ", ".join(sorted(v["VSwitchId"] for v in found))
        cloud.fail(
            f"{len(found)} vSwitches of {vpc_id} are named {name!r} for cluster {cloud.cluster} "
            f"({ids}): delete or rename the extra ones"
        )
    current = found[0] if found else None
    before = view(current) if current else {}

    if params["state"] == "absent":
        if current is None:
            cloud.exit(False, before, {}, vswitch_id=None)
        if not cloud.check_mode:
            cloud.rpc(
                "vpc",
                "DeleteVSwitch",
                f"delete {what} ({current['VSwitchId']})",
                models.DeleteVSwitchRequest(
                    region_id=cloud.region, v_switch_id=current["VSwitchId"]
                ),
                extra_codes=BUSY_CODES,
            )
        cloud.exit(True, before, {}, vswitch_id=None)

    cidr = params["cidr_block"]
    if cidr:
        try:
            cidr = str(ipaddress.IPv4Network(cidr.strip(), strict=True))
        except ValueError as exc:
            cloud.fail(f"cidr_block {params['cidr_block']!r} is not an IPv4 network: {exc}")
    zone, description = params["zone_id"], params["description"]

    if current is None:
        if not cidr or not zone:
            cloud.fail(f"{what} does not exist yet: give zone_id and cidr_block to create it")
        after = {
            "name": name,
            "vpc_id": vpc_id,
            "zone_id": zone,
            "cidr_block": cidr,
            "description": description or "",
            "status": "Available",
            "tags": cloud.tags,
        }
        if cloud.check_mode:
            cloud.exit(True, before, after, vswitch_id=None, zone_id=zone, vswitch=after)
        body = cloud.rpc(
            "vpc",
            "CreateVSwitch",
            f"create {what} in {zone}",
            models.CreateVSwitchRequest(
                region_id=cloud.region,
                vpc_id=vpc_id,
                zone_id=zone,
                cidr_block=cidr,
                v_switch_name=name,
                description=description,
                tag=cloud.tag_models(models.CreateVSwitchRequestTag, cloud.tags),
                client_token=cloud.client_token(),
            ),
            extra_codes=BUSY_CODES,
        )
        vswitch_id = str((body or {}).get("VSwitchId") or "")
        created = cloud.wait_for(
            f"{what} ({vswitch_id}) to become Available",
            lambda: next(iter(describe(cloud, v_switch_id=vswitch_id)), None),
            lambda v: v is not None and v.get("Status") in ("Available", None),
            params["wait_timeout"],
        )
        tags = parse_tags(created.get("Tags"))
        if tags != cloud.tags:
            _changed, tags = cloud.update_tags("vpc", "VSWITCH", vswitch_id, tags, what)
        result = {**view(created), "tags": tags}
        cloud.exit(
            True, before, result, vswitch_id=vswitch_id, zone_id=result["zone_id"], vswitch=result
        )

    vswitch_id = current["VSwitchId"]
    for option, value, actual in (
        ("zone_id", zone, current.get("ZoneId")),
        ("cidr_block", cidr, current.get("CidrBlock")),
    ):
        if value and value != actual:
            cloud.fail(
                f"{what} ({vswitch_id}) has {option} {actual}, not {value}: it cannot change; "
                "fix the option or create a vSwitch with another name"
            )
    after = dict(before)
    changed = False
    if description is not None and description != (current.get("Description") or ""):
        changed = True
        after["description"] = description
        if not cloud.check_mode:
            cloud.rpc(
                "vpc",
                "ModifyVSwitchAttribute",
                f"update the description of {what}",
                models.ModifyVSwitchAttributeRequest(
                    region_id=cloud.region, v_switch_id=vswitch_id, description=description
                ),
                extra_codes=BUSY_CODES,
            )
    tags_changed, after["tags"] = cloud.update_tags(
        "vpc", "VSWITCH", vswitch_id, before["tags"], what
    )
    cloud.exit(
        changed or tags_changed,
        before,
        after,
        vswitch_id=vswitch_id,
        zone_id=after["zone_id"],
        vswitch=after,
    )


if __name__ == "__main__":
    main()
