#!/usr/bin/python
"""Ansible module security_group: an AutoMQ cluster's security group and its ingress rules."""

from __future__ import annotations

DOCUMENTATION = r"""
module: security_group
short_description: Create a security group and reconcile its ingress rules exclusively
description:
  - Finds the group by O(vpc_id), O(name) and the cluster tag; creates it when missing, updates
    its description and tags, or deletes it with O(state=absent).
  - With O(rules) the ingress rules are reconciled exclusively; missing rules are added and rules
    this module created earlier (marked C(automq-ansible) in their description) that are no
    longer listed are revoked. Rules added by other means are left alone unless
    O(purge_foreign_rules=true). Egress is not managed (a new group allows all egress).
  - Nothing may be opened to C(0.0.0.0/0) or C(::/0) unless O(allow_public_ingress=true).
  - For AutoMQ, the filter P(automq.alicloud.automq_ingress_rules#filter) builds the
    least-privilege sets of the nodes' and the console's groups.
  - O(inner_access_policy=drop) isolates the members of the group from each other, so that only
    the rules (such as C(source_group=self)) decide what they may reach of each other.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name:
    description: Name of the security group.
    type: str
    required: true
  vpc_id:
    description: ID of the VPC of the group.
    type: str
    required: true
  description:
    description: Description of the group.
    type: str
  rules:
    description:
      - Ingress rules; omit to leave the rules alone, V([]) to remove every managed rule.
      - Each rule has C(protocol) (tcp, udp, icmp, gre, all; default tcp), C(ports) (C(22) or
        C(9092-9093); not for icmp, gre, all), exactly one of C(cidr) and C(source_group) (a
        security group ID, or C(self) for this group), and optionally C(description),
        C(priority) (1-100, default 1) and C(policy) (accept, drop).
    type: list
    elements: dict
  purge_foreign_rules:
    description: Also revoke ingress rules this module did not create.
    type: bool
    default: false
  allow_public_ingress:
    description: Allow rules whose source is the whole Internet (C(0.0.0.0/0), C(::/0)).
    type: bool
    default: false
  inner_access_policy:
    description:
      - Whether members of the (basic) group reach each other whatever the rules say
        (C(accept), the cloud's default for a new group) or only as the rules allow (C(drop)).
      - Omit to leave the group's policy as it is.
    type: str
    choices: [accept, drop]
  state:
    description: Whether the group should exist.
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
- name: Security group of the cluster nodes
  automq.alicloud.security_group:
    cluster: automq-prod
    name: automq-prod-nodes
    vpc_id: "{{ vpc.vpc_id }}"
    rules: >-
      {{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules(
           client_cidrs=['10.8.0.0/16'], admin_cidrs=['203.0.113.7/32'],
           console_group=console_sg.security_group_id) }}
    inner_access_policy: drop
  register: sg

- name: Hand-written rules
  automq.alicloud.security_group:
    cluster: automq-prod
    name: automq-prod-nodes
    vpc_id: "{{ vpc.vpc_id }}"
    rules:
      - {ports: 9092, cidr: 10.0.0.0/16, description: Kafka clients}
      - {ports: 9093, source_group: self, description: KRaft controllers}
      - {ports: 22, cidr: 203.0.113.7/32, description: SSH}
"""

RETURN = r"""
security_group_id:
  description: ID of the group; null when absent or not yet created (check mode).
  type: str
  returned: always
inner_access_policy:
  description: C(Accept) or C(Drop) after the run; null when absent.
  type: str
  returned: always
rules:
  description: Ingress rules of the group after the run (managed and foreign).
  type: list
  elements: dict
  returned: when the group exists or would be created
  contains:
    protocol:
      description: TCP, UDP, ICMP, GRE or ALL.
      type: str
    port_range:
      description: C(from/to), C(-1/-1) for all.
      type: str
    source_cidr:
      description: Source CIDR block, or null.
      type: str
    source_group_id:
      description: Source security group, or null.
      type: str
    managed:
      description: Whether this module manages the rule.
      type: bool
rules_added:
  description: Rules added by this run, as text.
  type: list
  elements: str
  returned: always
rules_revoked:
  description: Rules revoked by this run, as text.
  type: list
  elements: str
  returned: always
"""

from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.retry import (
    BUSY_CODES,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.security_group import (
    ActualRule,
    IngressRule,
    RuleError,
    parse_rule,
    plan_rules,
    rule_from_api,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    parse_tags,
)

BATCH = 100
PLACEHOLDER = "sg-(this group)"


def read_rules(cloud: AlicloudModule, group_id: str) -> tuple[list[ActualRule], str]:
    """The group's ingress rules and its InnerAccessPolicy (Accept or Drop)."""
    models = cloud.models("ecs")
    body = cloud.rpc(
        "ecs",
        "DescribeSecurityGroupAttribute",
        f"read the rules of security group {group_id}",
        models.DescribeSecurityGroupAttributeRequest(
            region_id=cloud.region, security_group_id=group_id, direction="ingress"
        ),
    )
    permissions = ((body or {}).get("Permissions") or {}).get("Permission") or []
    rules = [rule for rule in (rule_from_api(p) for p in permissions) if rule is not None]
    return rules, str((body or {}).get("InnerAccessPolicy") or "Accept").capitalize()


def rule_view(rule: IngressRule, managed: bool) -> dict[str, Any]:
    return {**rule.to_dict(), "managed": managed}


def main() -> None:
    cloud = AlicloudModule(
        {
            "name": {"type": "str", "required": True},
            "vpc_id": {"type": "str", "required": True},
            "description": {"type": "str"},
            "rules": {"type": "list", "elements": "dict"},
            "purge_foreign_rules": {"type": "bool", "default": False},
            "allow_public_ingress": {"type": "bool", "default": False},
            "inner_access_policy": {"type": "str", "choices": ["accept", "drop"]},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ecs",
        cluster_tags=True,
    )
    params = cloud.params
    name, vpc_id = params["name"], params["vpc_id"]
    what = f"security group {name!r} of {vpc_id}"
    models = cloud.models("ecs")

    desired_raw: list[IngressRule] | None = None
    if params["rules"] is not None:
        try:
            desired_raw = [
                parse_rule(r, allow_world=params["allow_public_ingress"]) for r in params["rules"]
            ]
        except RuleError as exc:
            cloud.fail(str(exc))

    groups = cloud.paged(
        "ecs",
        "DescribeSecurityGroups",
        f"look up {what}",
        lambda page, size: models.DescribeSecurityGroupsRequest(
            region_id=cloud.region,
            vpc_id=vpc_id,
            security_group_name=name,
            tag=cloud.cluster_tag_filter(models.DescribeSecurityGroupsRequestTag),
            page_number=page,
            page_size=size,
        ),
        ("SecurityGroups", "SecurityGroup"),
    )
    found = [
        g
        for g in groups
        if g.get("SecurityGroupName") == name
        and g.get("VpcId") in (vpc_id, None)
        and parse_tags(g.get("Tags")).get(CLUSTER_TAG) == cloud.cluster
    ]
    if len(found) > 1:
        ids = ", ".join(sorted(g["SecurityGroupId"] for g in found))
        cloud.fail(f"{len(found)} security groups match {what} ({ids}): delete the extra ones")
    current = found[0] if found else None
    group_id = current["SecurityGroupId"] if current else None
    actual, inner_policy = read_rules(cloud, group_id) if group_id else ([], "Accept")
    before: dict[str, Any] = {}
    if current:
        before = {
            "name": name,
            "description": current.get("Description") or "",
            "tags": parse_tags(current.get("Tags")),
            "inner_access_policy": inner_policy,
            "rules": sorted(r.rule.label for r in actual),
        }

    if params["state"] == "absent":
        if current is None:
            cloud.exit(
                False,
                before,
                {},
                security_group_id=None,
                inner_access_policy=None,
                rules_added=[],
                rules_revoked=[],
            )
        if not cloud.check_mode:
            cloud.rpc(
                "ecs",
                "DeleteSecurityGroup",
                f"delete {what} ({group_id})",
                models.DeleteSecurityGroupRequest(
                    region_id=cloud.region, security_group_id=group_id
                ),
                extra_codes={"DependencyViolation", *BUSY_CODES},
            )
        cloud.exit(
            True,
            before,
            {},
            security_group_id=None,
            inner_access_policy=None,
            rules_added=[],
            rules_revoked=[],
        )

    changed = False
    description = params["description"]
    if current is None:
        changed = True
        tags = cloud.tags
        if not cloud.check_mode:
            body = cloud.rpc(
                "ecs",
                "CreateSecurityGroup",
                f"create {what}",
                models.CreateSecurityGroupRequest(
                    region_id=cloud.region,
                    vpc_id=vpc_id,
                    security_group_name=name,
                    description=description,
                    security_group_type="normal",
                    tag=cloud.tag_models(models.CreateSecurityGroupRequestTag, cloud.tags),
                    client_token=cloud.client_token(),
                ),
                extra_codes=BUSY_CODES,
            )
            group_id = str((body or {}).get("SecurityGroupId") or "")
            actual, inner_policy = read_rules(cloud, group_id)
    else:
        if description is not None and description != (current.get("Description") or ""):
            changed = True
            if not cloud.check_mode:
                cloud.rpc(
                    "ecs",
                    "ModifySecurityGroupAttribute",
                    f"update the description of {what}",
                    models.ModifySecurityGroupAttributeRequest(
                        region_id=cloud.region, security_group_id=group_id, description=description
                    ),
                )
        tags_changed, tags = cloud.update_tags(
            "ecs", "securitygroup", current["SecurityGroupId"], before["tags"], what
        )
        changed = changed or tags_changed

    wanted_policy = params["inner_access_policy"]
    if wanted_policy is not None and wanted_policy.capitalize() != inner_policy:
        changed = True
        inner_policy = wanted_policy.capitalize()
        if not cloud.check_mode and group_id:
            cloud.rpc(
                "ecs",
                "ModifySecurityGroupPolicy",
                f"set the internal access policy of {what} to {inner_policy}",
                models.ModifySecurityGroupPolicyRequest(
                    region_id=cloud.region,
                    security_group_id=group_id,
                    inner_access_policy=inner_policy,
                ),
                extra_codes=BUSY_CODES,
            )

    added: list[str] = []
    revoked: list[str] = []
    kept = actual
    if desired_raw is not None:
        desired = [r.resolve(group_id or PLACEHOLDER) for r in desired_raw]
        plan = plan_rules(desired, actual, purge_foreign=params["purge_foreign_rules"])
        added = [r.label for r in plan.add]
        revoked = [a.rule.label for a in plan.revoke]
        kept = [*plan.keep, *(ActualRule(r, True) for r in plan.add)]
        changed = changed or plan.changed
        if not cloud.check_mode and group_id:
            for start in range(0, len(plan.add), BATCH):
                batch = plan.add[start : start + BATCH]
                cloud.rpc(
                    "ecs",
                    "AuthorizeSecurityGroup",
                    f"add {len(batch)} ingress rule(s) to {what}: {', '.join(r.label for r in batch)}",
                    models.AuthorizeSecurityGroupRequest(
                        region_id=cloud.region,
                        security_group_id=group_id,
                        permissions=[
                            models.AuthorizeSecurityGroupRequestPermissions(**r.to_api())
                            for r in batch
                        ],
                    ),
                    extra_codes=BUSY_CODES,
                )
            for start in range(0, len(plan.revoke), BATCH):
                doomed = plan.revoke[start : start + BATCH]
                permissions = []
                for item in doomed:
                    fields = item.rule.to_api()
                    fields.pop("description")
                    permissions.append(models.RevokeSecurityGroupRequestPermissions(**fields))
                cloud.rpc(
                    "ecs",
                    "RevokeSecurityGroup",
                    f"revoke {len(doomed)} ingress rule(s) of {what}: "
                    f"{', '.join(a.rule.label for a in doomed)}",
                    models.RevokeSecurityGroupRequest(
                        region_id=cloud.region, security_group_id=group_id, permissions=permissions
                    ),
                    extra_codes=BUSY_CODES,
                )
    after = {
        "name": name,
        "description": description if description is not None else before.get("description", ""),
        "tags": tags,
        "inner_access_policy": inner_policy,
        "rules": sorted(a.rule.label for a in kept),
    }
    cloud.exit(
        changed,
        before,
        after,
        security_group_id=group_id,
        inner_access_policy=inner_policy,
        rules=[rule_view(a.rule, a.managed) for a in sorted(kept, key=lambda a: a.rule)],
        rules_added=added,
        rules_revoked=revoked,
    )


if __name__ == "__main__":
    main()
