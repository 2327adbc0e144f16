#!/usr/bin/python
"""Ansible module eip: an elastic IP for one instance (the console, a broker), or none."""

from __future__ import annotations

DOCUMENTATION = r"""
module: eip
short_description: Allocate an elastic IP and associate it with an ECS instance, or release it
description:
  - Finds the EIP by O(name) and the cluster tag; allocates it when missing and associates it
    with O(instance_id) (moving it from another instance if needed), or releases it with
    O(state=absent) after disassociating it.
  - With O(name_prefix) and O(state=absent), releases every EIP of the cluster whose name
    starts with the prefix (the brokers' EIPs when public access is turned off or the
    cluster is destroyed).
  - Only the console host and, with public access, the brokers get an EIP; the security
    groups decide who reaches what on it.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name:
    description: Name of the EIP. One of O(name) and O(name_prefix) is required.
    type: str
  name_prefix:
    description:
      - Release every EIP of the cluster whose name starts with this (only with O(state=absent)).
    type: str
  instance_id:
    description: ECS instance to associate the EIP with; omit to leave the association as it is.
    type: str
  bandwidth:
    description: Peak bandwidth in Mbit/s.
    type: int
    default: 5
  internet_charge_type:
    description: Billing of the traffic.
    type: str
    choices: [PayByTraffic, PayByBandwidth]
    default: PayByTraffic
  state:
    description: Whether the EIP should exist.
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for an association or disassociation to finish.
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
- name: Public IP of the console
  automq.alicloud.eip:
    cluster: automq-prod
    name: automq-prod-console
    instance_id: "{{ console.instance_ids[0] }}"
  register: console_eip
"""

RETURN = r"""
released:
  description: With O(name_prefix), the names of the EIPs released (or to release, in check mode).
  type: list
  elements: str
  returned: with name_prefix
allocation_id:
  description: ID of the EIP; null when absent or not yet allocated (check mode).
  type: str
  returned: always
ip_address:
  description: The public IP address.
  type: str
  returned: when the EIP exists
instance_id:
  description: Instance the EIP is associated with, or null.
  type: str
  returned: when the EIP exists or would be allocated
"""

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

EIP_BUSY = {
    *BUSY_CODES,
    "IncorrectEipStatus",
    "IncorrectInstanceStatus",
    "TaskConflict.AssociateGlobalAccelerationInstance",
}


def view(eip: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": eip.get("Name") or "",
        "ip_address": eip.get("IpAddress") or "",
        "instance_id": eip.get("InstanceId") or None,
        "bandwidth": int(eip.get("Bandwidth") or 0),
        "internet_charge_type": eip.get("InternetChargeType") or "",
        "tags": parse_tags(eip.get("Tags")),
    }


def describe_eips(
    cloud: AlicloudModule, models: Any, what: str, **filters: Any
) -> list[dict[str, Any]]:
    """The EIPs that match ``filters`` (one listing, every page)."""
    return cloud.paged(
        "vpc",
        "DescribeEipAddresses",
        f"look up {what}",
        lambda page, size: models.DescribeEipAddressesRequest(
            region_id=cloud.region, page_number=page, page_size=size, **filters
        ),
        ("EipAddresses", "EipAddress"),
    )


def cluster_eips(
    cloud: AlicloudModule, models: Any, what: str, **filters: Any
) -> list[dict[str, Any]]:
    """The EIPs of the cluster (its tag) that match ``filters``."""
    tag = cloud.cluster_tag_filter(models.DescribeEipAddressesRequestTag)
    return [
        e
        for e in describe_eips(cloud, models, what, tag=tag, **filters)
        if parse_tags(e.get("Tags")).get(CLUSTER_TAG) == cloud.cluster
    ]


def wait_status(
    cloud: AlicloudModule, models: Any, what: str, allocation_id: str, status: str
) -> dict[str, Any]:
    found: dict[str, Any] = cloud.wait_for(
        f"{what} ({allocation_id}) to become {status}",
        lambda: next(iter(describe_eips(cloud, models, what, allocation_id=allocation_id)), {}),
        lambda e: e.get("Status") in (status, None),
        cloud.params["wait_timeout"],
    )
    return found


def detach(
    cloud: AlicloudModule, models: Any, what: str, allocation_id: str, instance_id: str
) -> None:
    """Disassociate the EIP from ``instance_id`` and wait until it is free."""
    cloud.rpc(
        "vpc",
        "UnassociateEipAddress",
        f"detach {what} from {instance_id}",
        models.UnassociateEipAddressRequest(
            region_id=cloud.region,
            allocation_id=allocation_id,
            instance_id=instance_id,
            instance_type="EcsInstance",
        ),
        extra_codes=EIP_BUSY,
    )
    wait_status(cloud, models, what, allocation_id, "Available")


def detach_and_release(cloud: AlicloudModule, models: Any, eip: dict[str, Any]) -> None:
    """Disassociate ``eip`` from its instance, if any, then release it."""
    allocation_id, what = eip["AllocationId"], f"EIP {eip.get('Name') or ''!r}"
    if eip.get("InstanceId"):
        detach(cloud, models, what, allocation_id, eip["InstanceId"])
    cloud.rpc(
        "vpc",
        "ReleaseEipAddress",
        f"release {what} ({allocation_id})",
        models.ReleaseEipAddressRequest(region_id=cloud.region, allocation_id=allocation_id),
        extra_codes=EIP_BUSY,
    )


def release_by_prefix(cloud: AlicloudModule, models: Any, prefix: str) -> None:
    """Release every EIP of the cluster whose name starts with ``prefix``; exits. (With
    state=present the argument spec already refuses name_prefix: it requires name.)"""
    if not prefix:
        cloud.fail("name_prefix is empty: it would name every EIP of the cluster")
    doomed = sorted(
        (
            e
            for e in cluster_eips(cloud, models, f"the EIPs named {prefix}*")
            if (e.get("Name") or "").startswith(prefix)
        ),
        key=lambda e: e.get("Name") or "",
    )
    if not cloud.check_mode:
        for eip in doomed:
            detach_and_release(cloud, models, eip)
    names = [e.get("Name") or e["AllocationId"] for e in doomed]
    before = {"eips": [view(e) for e in doomed]}
    cloud.exit(bool(doomed), before, {"eips": []}, released=names, allocation_id=None)


def main() -> None:
    cloud = AlicloudModule(
        {
            "name": {"type": "str"},
            "name_prefix": {"type": "str"},
            "instance_id": {"type": "str"},
            "bandwidth": {"type": "int", "default": 5},
            "internet_charge_type": {
                "type": "str",
                "choices": ["PayByTraffic", "PayByBandwidth"],
                "default": "PayByTraffic",
            },
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "wait_timeout": {"type": "int", "default": 120},
        },
        "vpc",
        cluster_tags=True,
        required_one_of=[("name", "name_prefix")],
        mutually_exclusive=[("name", "name_prefix")],
        required_if=[("state", "present", ("name",))],
    )
    params = cloud.params
    models = cloud.models("vpc")
    if params["name_prefix"] is not None:
        release_by_prefix(cloud, models, params["name_prefix"])
    name = params["name"]
    what = f"EIP {name!r}"

    found = [e for e in cluster_eips(cloud, models, what, eip_name=name) if e.get("Name") == name]
    if len(found) > 1:
        ids = ", ".join(sorted(e["AllocationId"] for e in found))
        cloud.fail(
            f"{len(found)} EIPs match {what} of cluster {cloud.cluster} ({ids}): release the extra ones"
        )
    current = found[0] if found else None
    before = view(current) if current else {}

    if params["state"] == "absent":
        if current is None:
            cloud.exit(False, before, {}, allocation_id=None)
        if not cloud.check_mode:
            detach_and_release(cloud, models, current)
        cloud.exit(True, before, {}, allocation_id=None)

    changed = False
    target = params["instance_id"]
    if current is None:
        changed = True
        after = {
            "name": name,
            "ip_address": "",
            "instance_id": target,
            "bandwidth": params["bandwidth"],
            "internet_charge_type": params["internet_charge_type"],
            "tags": cloud.tags,
        }
        if cloud.check_mode:
            cloud.exit(True, before, after, allocation_id=None, instance_id=target)
        body = (
            cloud.rpc(
                "vpc",
                "AllocateEipAddress",
                f"allocate {what}",
                models.AllocateEipAddressRequest(
                    region_id=cloud.region,
                    name=name,
                    bandwidth=str(params["bandwidth"]),
                    internet_charge_type=params["internet_charge_type"],
                    tag=cloud.tag_models(models.AllocateEipAddressRequestTag, cloud.tags),
                    client_token=cloud.client_token(),
                ),
            )
            or {}
        )
        allocation_id = str(body.get("AllocationId") or "")
        current = next(
            iter(describe_eips(cloud, models, what, allocation_id=allocation_id)), None
        ) or {
            "AllocationId": allocation_id,
            "IpAddress": body.get("EipAddress"),
            "Name": name,
            "Tags": {"Tag": [{"Key": k, "Value": v} for k, v in cloud.tags.items()]},
        }
        if parse_tags(current.get("Tags")) != cloud.tags:
            cloud.update_tags("vpc", "EIP", allocation_id, parse_tags(current.get("Tags")), what)
    allocation_id = current["AllocationId"]
    after = view(current)
    after["tags"] = after["tags"] or cloud.tags

    if before:
        if params["bandwidth"] != before["bandwidth"] and before["bandwidth"]:
            changed = True
            after["bandwidth"] = params["bandwidth"]
            if not cloud.check_mode:
                cloud.rpc(
                    "vpc",
                    "ModifyEipAddressAttribute",
                    f"change the bandwidth of {what}",
                    models.ModifyEipAddressAttributeRequest(
                        region_id=cloud.region,
                        allocation_id=allocation_id,
                        bandwidth=str(params["bandwidth"]),
                    ),
                    extra_codes=EIP_BUSY,
                )
        tags_changed, after["tags"] = cloud.update_tags(
            "vpc", "EIP", allocation_id, before["tags"], what
        )
        changed = changed or tags_changed

    attached = current.get("InstanceId") or None
    if target and attached != target:
        changed = True
        after["instance_id"] = target
        if not cloud.check_mode:
            if attached:
                detach(cloud, models, what, allocation_id, attached)
            cloud.rpc(
                "vpc",
                "AssociateEipAddress",
                f"attach {what} to {target}",
                models.AssociateEipAddressRequest(
                    region_id=cloud.region,
                    allocation_id=allocation_id,
                    instance_id=target,
                    instance_type="EcsInstance",
                ),
                extra_codes=EIP_BUSY,
            )
            wait_status(cloud, models, what, allocation_id, "InUse")
    cloud.exit(
        changed,
        before,
        after,
        allocation_id=allocation_id,
        ip_address=after["ip_address"] or None,
        instance_id=after["instance_id"],
    )


if __name__ == "__main__":
    main()
