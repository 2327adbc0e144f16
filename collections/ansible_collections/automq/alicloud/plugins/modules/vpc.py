#!/usr/bin/python
"""Ansible module vpc: ensure a VPC of an AutoMQ cluster exists (or not)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: vpc
short_description: Create, update or delete the VPC of an AutoMQ cluster
description:
  - Finds the VPC by O(name) and the cluster tag; creates it when missing, updates its
    description and tags, or deletes it with O(state=absent).
  - The CIDR block of an existing VPC cannot change; a different O(cidr_block) is an error.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name:
    description: Name of the VPC.
    type: str
    required: true
  cidr_block:
    description: IPv4 CIDR block of the VPC, for example C(10.0.0.0/16). Required to create it.
    type: str
  description:
    description: Description of the VPC.
    type: str
  state:
    description: Whether the VPC should exist.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for a new VPC to become C(Available).
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
- name: VPC of the cluster
  automq.alicloud.vpc:
    cluster: automq-prod
    name: automq-prod
    cidr_block: 10.0.0.0/16
  register: vpc

- name: Remove it (after its vSwitches and instances)
  automq.alicloud.vpc:
    cluster: automq-prod
    name: automq-prod
    state: absent
"""

RETURN = r"""
vpc_id:
  description: ID of the VPC; null when absent or not yet created (check mode).
  type: str
  returned: always
  sample: vpc-bp1234567890abcdef
vpc:
  description: The VPC's managed attributes.
  type: dict
  returned: when the VPC exists
  contains:
    name:
      description: Name.
      type: str
    cidr_block:
      description: CIDR block.
      type: str
    description:
      description: Description.
      type: str
    status:
      description: Status, for example C(Available).
      type: str
    tags:
      description: Tags.
      type: dict
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


def view(vpc: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": vpc.get("VpcName") or "",
        "cidr_block": vpc.get("CidrBlock") or "",
        "description": vpc.get("Description") or "",
        "status": vpc.get("Status") or "",
        "tags": parse_tags(vpc.get("Tags")),
    }


def find(cloud: AlicloudModule, name: str) -> list[dict[str, Any]]:
    models = cloud.models("vpc")
    vpcs = cloud.paged(
        "vpc",
        "DescribeVpcs",
        f"look up VPC {name!r}",
        lambda page, size: models.DescribeVpcsRequest(
            region_id=cloud.region,
            vpc_name=name,
            tag=cloud.cluster_tag_filter(models.DescribeVpcsRequestTag),
            page_number=page,
            page_size=size,
        ),
        ("Vpcs", "Vpc"),
    )
    return [
        v
        for v in vpcs
        if v.get("VpcName") == name and parse_tags(v.get("Tags")).get(CLUSTER_TAG) == cloud.cluster
    ]


def describe(cloud: AlicloudModule, vpc_id: str) -> dict[str, Any] | None:
    models = cloud.models("vpc")
    body = cloud.rpc(
        "vpc",
        "DescribeVpcs",
        f"read VPC {vpc_id}",
        models.DescribeVpcsRequest(region_id=cloud.region, vpc_id=vpc_id),
    )
    items = ((body or {}).get("Vpcs") or {}).get("Vpc") or []
    return items[0] if items else None


def main() -> None:
    cloud = AlicloudModule(
        {
            "name": {"type": "str", "required": True},
            "cidr_block": {"type": "str"},
            "description": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait_timeout": {"type": "int", "default": 120},
        },
        "vpc",
        cluster_tags=True,
    )
    params = cloud.params
    name = params["name"]
    what = f"VPC {name!r}"
    models = cloud.models("vpc")
    found = find(cloud, name)
    if len(found) > 1:
        ids = ", ".join(sorted(v["VpcId"] for v in found))
        cloud.fail(
            f"{len(found)} VPCs are named {name!r} with tag {CLUSTER_TAG}={cloud.cluster} ({ids}): "
            "delete or rename the extra ones so the module knows which one is the cluster's"
        )
    current = found[0] if found else None
    before = view(current) if current else {}

    if params["state"] == "absent":
        if current is None:
            cloud.exit(False, before, {}, vpc_id=None)
        if not cloud.check_mode:
            cloud.rpc(
                "vpc",
                "DeleteVpc",
                f"delete {what} ({current['VpcId']})",
                models.DeleteVpcRequest(region_id=cloud.region, vpc_id=current["VpcId"]),
                extra_codes=BUSY_CODES,
            )
        cloud.exit(True, before, {}, vpc_id=None)

    cidr = params["cidr_block"]
    if cidr:
        try:
            cidr = str(ipaddress.IPv4Network(cidr.strip(), strict=True))
        except ValueError as exc:
            cloud.fail(f"cidr_block {params['cidr_block']!r} is not an IPv4 network: {exc}")
    description = params["description"]

    if current is None:
        if not cidr:
            cloud.fail(f"{what} does not exist yet: give cidr_block to create it")
        after = {
            "name": name,
            "cidr_block": cidr,
            "description": description or "",
            "status": "Available",
            "tags": cloud.tags,
        }
        if cloud.check_mode:
            cloud.exit(True, before, after, vpc_id=None, vpc=after)
        token = cloud.client_token()
        body = cloud.rpc(
            "vpc",
            "CreateVpc",
            f"create {what}",
            models.CreateVpcRequest(
                region_id=cloud.region,
                vpc_name=name,
                cidr_block=cidr,
                description=description,
                tag=cloud.tag_models(models.CreateVpcRequestTag, cloud.tags),
                client_token=token,
            ),
        )
        vpc_id = str((body or {}).get("VpcId") or "")
        created = cloud.wait_for(
            f"{what} ({vpc_id}) to become Available",
            lambda: describe(cloud, vpc_id),
            lambda v: v is not None and v.get("Status") in ("Available", None),
            params["wait_timeout"],
        )
        tags = parse_tags(created.get("Tags"))
        if tags != cloud.tags:
            # The tags passed to CreateVpc are the lookup key: make sure they are there.
            _changed, tags = cloud.update_tags("vpc", "VPC", vpc_id, tags, what)
        result = {**view(created), "tags": tags}
        cloud.exit(True, before, result, vpc_id=vpc_id, vpc=result)

    vpc_id = current["VpcId"]
    changed = False
    if cidr and cidr != current.get("CidrBlock"):
        cloud.fail(
            f"{what} ({vpc_id}) has CIDR block {current.get('CidrBlock')}, not {cidr}: a VPC's "
            "CIDR block cannot change; fix cidr_block or create a VPC with another name"
        )
    after = dict(before)
    if description is not None and description != (current.get("Description") or ""):
        changed = True
        after["description"] = description
        if not cloud.check_mode:
            cloud.rpc(
                "vpc",
                "ModifyVpcAttribute",
                f"update the description of {what}",
                models.ModifyVpcAttributeRequest(
                    region_id=cloud.region, vpc_id=vpc_id, description=description
                ),
                extra_codes=BUSY_CODES,
            )
    tags_changed, tags = cloud.update_tags("vpc", "VPC", vpc_id, before["tags"], what)
    after["tags"] = tags
    changed = changed or tags_changed
    cloud.exit(changed, before, after, vpc_id=vpc_id, vpc=after)


if __name__ == "__main__":
    main()
