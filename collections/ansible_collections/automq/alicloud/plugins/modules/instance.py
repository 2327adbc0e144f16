#!/usr/bin/python
"""Ansible module instance: ensure N ECS instances of an AutoMQ cluster, spread across zones."""

from __future__ import annotations

DOCUMENTATION = r"""
module: instance
short_description: Ensure a count of ECS instances named by a prefix, spread across zones
description:
  - Instances are named C(<name_prefix>-1) to C(<name_prefix>-<count>) (also their host names)
    and tagged with the cluster; a re-run finds them by tag and name and creates only the
    missing ones, each in the vSwitch whose zone holds the fewest instances so far.
  - Instances get no public IP (use M(automq.alicloud.eip) for the console), an ESSD system
    disk (PL0, 40 GiB by default), the key pair and the security groups given.
  - The instance type must be in O(supported_instance_types).
  - Instances above O(count) are reported in RV(extra) and deleted only with O(delete_extra=true);
    AutoMQ nodes should be decommissioned first. O(state=absent) deletes every instance of
    the prefix and cluster.
  - Existing instances are not resized or moved; a different type is reported as a warning.
  - Each instance's RV(instances[].bandwidth_kbps) is its type's internal bandwidth limit as
    DescribeInstanceTypes reports it (one read call for all the types of the result).
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name_prefix:
    description: Prefix of the instance names; lowercase letters, digits and hyphens.
    type: str
    required: true
  count:
    description: Number of instances. Required when O(state=present).
    type: int
  instance_type:
    description: ECS instance type. Required to create instances.
    type: str
  supported_instance_types:
    description: Instance types accepted for O(instance_type).
    type: list
    elements: str
    default: [ecs.r7.large, ecs.r6.large, ecs.u1-c1m8.large]
  image_id:
    description: Image of new instances, for example a Debian 12 image ID. Required to create instances.
    type: str
  vswitches:
    description:
      - vSwitches to place instances in, one per zone, as dicts with C(vswitch_id) and
        C(zone_id) (other keys are ignored, so the registered results of
        M(automq.alicloud.vswitch) can be passed as they are).
      - Required to create instances.
    type: list
    elements: dict
    default: []
  security_group_ids:
    description: Security groups of new instances. Required to create instances.
    type: list
    elements: str
    default: []
  key_pair_name:
    description: ECS key pair for SSH logins to new instances.
    type: str
  system_disk_category:
    description: Category of the system disk.
    type: str
    default: cloud_essd
  system_disk_performance_level:
    description: Performance level of an ESSD system disk.
    type: str
    default: PL0
  system_disk_size:
    description: Size of the system disk in GiB.
    type: int
    default: 40
  user_data:
    description: User data (cloud-init) of new instances, as plain text; the module encodes it.
    type: str
  ram_role_name:
    description: RAM role to attach to new instances.
    type: str
  delete_extra:
    description: Delete the instances above O(count) (RV(extra)).
    type: bool
    default: false
  wait:
    description: Wait until new instances run and have a private IP, or until deleted ones are gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
  state:
    description: C(present) ensures O(count) instances; C(absent) deletes all of them.
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
- name: Three AutoMQ nodes across three zones
  automq.alicloud.instance:
    cluster: automq-prod
    name_prefix: automq-prod
    count: 3
    instance_type: ecs.r7.large
    image_id: debian_12_6_x64_20G_alibase_20240823.vhd
    vswitches: "{{ vswitches.results }}"
    security_group_ids: ["{{ sg.security_group_id }}"]
    key_pair_name: automq-prod
  register: nodes

- name: Inventory line per node
  ansible.builtin.debug:
    msg: "{{ item.name }} ansible_host={{ item.private_ip }} zone={{ item.zone_id }}"
  loop: "{{ nodes.instances }}"
"""

RETURN = r"""
instances:
  description: The instances of the cluster with the prefix (created and kept), by name.
  type: list
  elements: dict
  returned: always
  contains:
    instance_id:
      description: ID (null for an instance check mode would create).
      type: str
    name:
      description: Name and host name.
      type: str
    zone_id:
      description: Zone.
      type: str
    vswitch_id:
      description: vSwitch.
      type: str
    private_ip:
      description: Private IPv4 address.
      type: str
    status:
      description: Status, for example C(Running).
      type: str
    instance_type:
      description: Instance type.
      type: str
    bandwidth_kbps:
      description:
        - The instance type's internal bandwidth limit in kbit/s, the lower of DescribeInstanceTypes'
          C(InstanceBandwidthRx) and C(InstanceBandwidthTx); null when the cloud does not report both.
      type: int
      version_added: 0.2.0
instance_ids:
  description: IDs of RV(instances), in the same order.
  type: list
  elements: str
  returned: always
private_ips:
  description: Private IPs of RV(instances), in the same order.
  type: list
  elements: str
  returned: always
zones:
  description: Zones of RV(instances), in the same order.
  type: list
  elements: str
  returned: always
names:
  description: Names of RV(instances), in the same order.
  type: list
  elements: str
  returned: always
created:
  description: Names of the instances this run created (or would create).
  type: list
  elements: str
  returned: always
deleted:
  description: IDs of the instances this run deleted (or would delete).
  type: list
  elements: str
  returned: always
extra:
  description: Instances of the prefix above O(count), or duplicates of a name, left in place.
  type: list
  elements: dict
  returned: always
"""

import base64
import json
from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.instances import (
    DEFAULT_SUPPORTED_TYPES,
    GONE_STATUSES,
    ExistingInstance,
    InstanceError,
    VSwitchSlot,
    bandwidth_limits_from_api,
    check_instance_type,
    check_prefix,
    instance_from_api,
    plan_instances,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.retry import (
    BUSY_CODES,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    parse_tags,
)


def list_instances(cloud: AlicloudModule, **filters: Any) -> list[dict[str, Any]]:
    models = cloud.models("ecs")
    return cloud.paged(
        "ecs",
        "DescribeInstances",
        "list the cluster's ECS instances",
        lambda page, size: models.DescribeInstancesRequest(
            region_id=cloud.region, page_number=page, page_size=size, **filters
        ),
        ("Instances", "Instance"),
    )


def by_ids(cloud: AlicloudModule, ids: list[str]) -> list[dict[str, Any]]:
    return list_instances(cloud, instance_ids=json.dumps(ids)) if ids else []


def bandwidth_limits(cloud: AlicloudModule, instance_types: set[str]) -> dict[str, int]:
    """The internal bandwidth limits (kbit/s) of these types, in calls of at most 10 types
    (the API's limit for InstanceTypes)."""
    models = cloud.models("ecs")
    names = sorted(t for t in instance_types if t)
    limits: dict[str, int] = {}
    for start in range(0, len(names), 10):
        chunk = names[start : start + 10]
        body = cloud.rpc(
            "ecs",
            "DescribeInstanceTypes",
            f"read the bandwidth of instance types {', '.join(chunk)}",
            models.DescribeInstanceTypesRequest(instance_types=chunk),
        )
        found = (((body or {}).get("InstanceTypes") or {}).get("InstanceType")) or []
        limits.update(bandwidth_limits_from_api(found))
    return limits


def summary(instances: list[ExistingInstance]) -> dict[str, Any]:
    return {
        i.name: {"zone_id": i.zone_id, "status": i.status, "id": i.instance_id or None}
        for i in instances
    }


def main() -> None:
    cloud = AlicloudModule(
        {
            "name_prefix": {"type": "str", "required": True},
            "count": {"type": "int"},
            "instance_type": {"type": "str"},
            "supported_instance_types": {
                "type": "list",
                "elements": "str",
                "default": list(DEFAULT_SUPPORTED_TYPES),
            },
            "image_id": {"type": "str"},
            "vswitches": {"type": "list", "elements": "dict", "default": []},
            "security_group_ids": {"type": "list", "elements": "str", "default": []},
            "key_pair_name": {"type": "str", "no_log": False},
            "system_disk_category": {"type": "str", "default": "cloud_essd"},
            "system_disk_performance_level": {"type": "str", "default": "PL0"},
            "system_disk_size": {"type": "int", "default": 40},
            "user_data": {"type": "str"},
            "ram_role_name": {"type": "str"},
            "delete_extra": {"type": "bool", "default": False},
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 600},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ecs",
        cluster_tags=True,
        required_if=[("state", "present", ["count"])],
    )
    params = cloud.params
    prefix = params["name_prefix"]
    models = cloud.models("ecs")
    try:
        check_prefix(prefix)
    except InstanceError as exc:
        cloud.fail(str(exc))

    raw = list_instances(cloud, tag=cloud.cluster_tag_filter(models.DescribeInstancesRequestTag))
    mine = [
        item
        for item in raw
        if parse_tags(item.get("Tags")).get(CLUSTER_TAG) == cloud.cluster
        and str(item.get("InstanceName") or "").startswith(f"{prefix}-")
    ]
    tags_by_id = {item["InstanceId"]: parse_tags(item.get("Tags")) for item in mine}
    existing = [instance_from_api(item) for item in mine]
    live = [i for i in existing if i.status not in GONE_STATUSES]

    def delete(instances: list[ExistingInstance]) -> list[str]:
        ids = [i.instance_id for i in instances]
        if ids and not cloud.check_mode:
            for start in range(0, len(ids), 100):
                cloud.rpc(
                    "ecs",
                    "DeleteInstances",
                    f"delete ECS instances {', '.join(ids[start : start + 100])}",
                    models.DeleteInstancesRequest(
                        region_id=cloud.region, instance_id=ids[start : start + 100], force=True
                    ),
                    extra_codes=BUSY_CODES,
                )
            if params["wait"]:
                cloud.wait_for(
                    f"ECS instances {', '.join(ids)} to be deleted",
                    lambda: by_ids(cloud, ids),
                    lambda found: all(i.get("Status") in GONE_STATUSES for i in found),
                    params["wait_timeout"],
                    interval=3.0,
                )
        return ids

    if params["state"] == "absent":
        # Only <prefix>-<n>: a longer prefix of the same cluster (automq-prod-x-1) is not ours.
        doomed = list(plan_instances(prefix, 0, [], live).extra)
        deleted = delete(doomed)
        cloud.exit(
            bool(deleted),
            summary(doomed),
            {},
            instances=[],
            instance_ids=[],
            private_ips=[],
            zones=[],
            names=[],
            created=[],
            deleted=deleted,
            extra=[],
        )

    slots: list[VSwitchSlot] = []
    for position, item in enumerate(params["vswitches"], start=1):
        vswitch_id, zone_id = item.get("vswitch_id"), item.get("zone_id")
        if not vswitch_id or not zone_id:
            cloud.fail(
                f"vswitches item {position} needs vswitch_id and zone_id, got {sorted(item)}"
            )
        slots.append(VSwitchSlot(str(vswitch_id), str(zone_id)))
    try:
        plan = plan_instances(prefix, params["count"], slots, live)
    except InstanceError as exc:
        cloud.fail(str(exc))

    if plan.create:
        missing = [option for option in ("instance_type", "image_id") if not params[option]]
        if not params["security_group_ids"]:
            missing.append("security_group_ids")
        if missing:
            cloud.fail(f"{len(plan.create)} instance(s) must be created: give {', '.join(missing)}")
    if params["instance_type"]:
        try:
            check_instance_type(params["instance_type"], params["supported_instance_types"])
        except InstanceError as exc:
            cloud.fail(str(exc))
        for instance in plan.keep:
            if instance.instance_type and instance.instance_type != params["instance_type"]:
                cloud.warn(
                    f"{instance.name} ({instance.instance_id}) is {instance.instance_type}, not "
                    f"{params['instance_type']}: this module does not resize instances"
                )

    changed = False
    for instance in plan.keep:
        tags_changed, _tags = cloud.update_tags(
            "ecs",
            "instance",
            instance.instance_id,
            tags_by_id[instance.instance_id],
            f"ECS instance {instance.name}",
        )
        changed = changed or tags_changed

    user_data = params["user_data"]
    encoded = base64.b64encode(user_data.encode()).decode() if user_data else None
    created_ids: list[str] = []
    planned: list[ExistingInstance] = []
    for name, slot in plan.create:
        changed = True
        if cloud.check_mode:
            planned.append(
                ExistingInstance(
                    "", name, slot.zone_id, slot.vswitch_id, "Pending", "", params["instance_type"]
                )
            )
            continue
        body = cloud.rpc(
            "ecs",
            "RunInstances",
            f"create ECS instance {name!r} ({params['instance_type']}) in {slot.zone_id}",
            models.RunInstancesRequest(
                region_id=cloud.region,
                zone_id=slot.zone_id,
                v_switch_id=slot.vswitch_id,
                image_id=params["image_id"],
                instance_type=params["instance_type"],
                security_group_ids=params["security_group_ids"],
                instance_name=name,
                host_name=name,
                key_pair_name=params["key_pair_name"],
                system_disk=models.RunInstancesRequestSystemDisk(
                    category=params["system_disk_category"],
                    performance_level=params["system_disk_performance_level"]
                    if params["system_disk_category"] == "cloud_essd"
                    else None,
                    size=params["system_disk_size"],
                ),
                internet_max_bandwidth_out=0,
                instance_charge_type="PostPaid",
                user_data=encoded,
                ram_role_name=params["ram_role_name"],
                tag=cloud.tag_models(models.RunInstancesRequestTag, cloud.tags),
                amount=1,
                client_token=cloud.client_token(),
            ),
            extra_codes=BUSY_CODES,
        )
        ids = (((body or {}).get("InstanceIdSets") or {}).get("InstanceIdSet")) or []
        if not ids:
            cloud.fail(f"RunInstances for {name!r} returned no instance ID: check the ECS console")
        created_ids.extend(str(i) for i in ids)

    if created_ids:
        if params["wait"]:
            fresh = cloud.wait_for(
                f"ECS instances {', '.join(created_ids)} to run",
                lambda: [instance_from_api(i) for i in by_ids(cloud, created_ids)],
                lambda found: (
                    len(found) == len(created_ids)
                    and all(i.status == "Running" and i.private_ip for i in found)
                ),
                params["wait_timeout"],
                interval=3.0,
            )
        else:
            fresh = [instance_from_api(i) for i in by_ids(cloud, created_ids)]
        planned.extend(fresh)

    deleted = []
    if plan.extra and params["delete_extra"]:
        deleted = delete(list(plan.extra))
        changed = True
    elif plan.extra:
        cloud.warn(
            f"{len(plan.extra)} instance(s) of {prefix} are above count {params['count']} or "
            f"duplicate a name ({', '.join(f'{i.name} {i.instance_id}' for i in plan.extra)}): "
            "left running; decommission them and set delete_extra: true to delete"
        )
    result = sorted([*plan.keep, *planned], key=lambda i: (len(i.name), i.name))
    after = summary(result)
    if plan.extra and not params["delete_extra"]:
        after.update(summary(list(plan.extra)))
    limits = bandwidth_limits(cloud, {i.instance_type for i in result})
    cloud.exit(
        changed,
        summary([*plan.keep, *plan.extra]),
        after,
        instances=[
            {
                **i.to_dict(),
                "instance_id": i.instance_id or None,
                "bandwidth_kbps": limits.get(i.instance_type),
            }
            for i in result
        ],
        instance_ids=[i.instance_id or None for i in result],
        private_ips=[i.private_ip for i in result],
        zones=[i.zone_id for i in result],
        names=[i.name for i in result],
        created=[name for name, _slot in plan.create],
        deleted=deleted,
        extra=[] if params["delete_extra"] else [i.to_dict() for i in plan.extra],
    )


if __name__ == "__main__":
    main()
