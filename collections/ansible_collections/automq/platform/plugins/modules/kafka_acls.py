#!/usr/bin/python
"""Ansible module kafka_acls: the cluster's ACLs as declared."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kafka_acls
short_description: Create and delete the ACLs of a Kafka or AutoMQ cluster
description:
  - Speaks the Kafka protocol to a broker (DescribeAcls, CreateAcls, DeleteAcls, v2 or
    newer), from the broker host itself; no JVM tool runs.
  - Each entry of O(acls) stands for one ACL per operation. Entries with
    O(acls[].state=present) are created when missing; those with
    O(acls[].state=absent) are deleted whoever they belong to.
  - The ACLs of the principals in O(principals) are made to match O(acls) exactly;
    their ACLs that no present entry declares are deleted. Other principals' ACLs are
    left alone.
  - Each ACL is deleted with a filter that matches it alone (its own resource type,
    name, pattern type, principal, host, operation and permission; never ANY or MATCH),
    so deleting an C(all) ACL or a C(literal) one never touches an C(any) or
    C(prefixed) neighbour.
  - After a change, waits until the broker describes the result, and fails after
    O(wait_timeout) seconds otherwise.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  bootstrap_server:
    description:
      - C(host:port) of the broker listener to send the requests to, reached with
        O(security); a principal with the cluster permissions ALTER and DESCRIBE (the
        node's certificate on the INTERNAL listener, a super user).
      - Must be a broker listener; the broker forwards the changes to the controller.
    type: str
    required: true
  acls:
    description: The declared ACLs.
    type: list
    elements: dict
    default: []
    suboptions:
      principal:
        description: C(User:<name>), or C(User:*) for every user.
        type: str
        required: true
      resource_type:
        description: Kind of resource.
        type: str
        required: true
        choices: [topic, group, cluster, transactional_id, delegation_token, user]
      resource_name:
        description:
          - Name of the resource, C(*) for every one, or the prefix with
            O(acls[].pattern_type=prefixed). A cluster's is C(kafka-cluster).
        type: str
        required: true
      pattern_type:
        description: How O(acls[].resource_name) matches.
        type: str
        choices: [literal, prefixed]
        default: literal
      operations:
        description: Operations; one ACL each.
        type: list
        elements: str
        required: true
        choices:
          - all
          - read
          - write
          - create
          - delete
          - alter
          - describe
          - cluster_action
          - describe_configs
          - alter_configs
          - idempotent_write
          - create_tokens
          - describe_tokens
      permission:
        description: Allow or deny.
        type: str
        choices: [allow, deny]
        default: allow
      host:
        description: Client address the ACL applies to; C(*) for any.
        type: str
        default: "*"
      state:
        description: Whether the ACLs must exist.
        type: str
        choices: [present, absent]
        default: present
  principals:
    description:
      - Principals whose ACLs must match O(acls) exactly; their other ACLs are deleted.
    type: list
    elements: str
    default: []
  hold_open:
    description:
      - Set while the brokers run with C(allow.everyone.if.no.acl.found=true) (the second
        phase of a migration to secure). Such a broker lets everyone in where no ACL
        matches and applies new ACLs one at a time, so between a resource's first and
        last new ACL it would deny what the later ones allow (a producer's write while
        only its describe has landed).
      - With it, each pattern that gets its first ACLs is first held open by an ACL
        letting C(User:*) do C(all) there (no more than the brokers already allow), until
        every broker applies the declared ACLs; then that ACL is deleted, as are ones of
        that shape an interrupted run left on a declared pattern, unless declared.
        Each step waits until every broker describes it.
      - A pattern partly overlapping resources that existing ACLs already restrict is not
        held open (that would let everyone in there for a moment); a warning names it.
      - Never set it on brokers that allow nothing without an ACL, where holding open
        would let everyone in for a moment.
    type: bool
    default: false
  timeout:
    description: Timeout of each request, in seconds.
    type: float
    default: 10.0
  wait_timeout:
    description: Seconds to wait, after a change, until the broker describes it.
    type: float
    default: 30.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.kafka_security
attributes:
  check_mode:
    support: full
    details: Describes the ACLs and returns what would change, changes nothing.
  diff_mode:
    support: full
    details: All the cluster's ACLs before and after, one sorted line each.
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Let orders-app use the orders topics; its other ACLs are deleted
  automq.platform.kafka_acls:
    bootstrap_server: "{{ automq_advertised_host }}:9094"  # INTERNAL, mTLS
    security:
      protocol: SSL
      ca_file: /etc/automq/tls/ca.crt
      cert_file: /etc/automq/tls/node-keystore.pem
      key_file: /etc/automq/tls/node-keystore.pem
    acls:
      - principal: User:orders-app
        resource_type: topic
        resource_name: orders.
        pattern_type: prefixed
        operations: [read, write, describe]
      - principal: User:orders-app
        resource_type: group
        resource_name: orders-app
        operations: [read]
      - principal: User:legacy
        resource_type: topic
        resource_name: orders
        operations: [all]
        state: absent
    principals: [User:orders-app]
"""

RETURN = r"""
created:
  description: ACLs created, one sorted line each (permission, principal, operation, resource, host).
  type: list
  elements: str
  returned: always
  sample: ["allow User:orders-app read on topic prefixed:orders. from *"]
deleted:
  description: ACLs deleted, in the same form.
  type: list
  elements: str
  returned: always
  sample: ["allow User:legacy all on topic literal:orders from *"]
held_open:
  description:
    - With O(hold_open), the ACLs that held resources open while the declared ones
      landed (created, then deleted) or that an interrupted run had left (deleted).
  type: list
  elements: str
  returned: always
  sample: ["allow User:* all on topic prefixed:orders. from *"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.access import (
    OPERATIONS,
    PATTERN_TYPES,
    PERMISSIONS,
    RESOURCE_TYPES,
    STATES,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_admin import (
    KafkaAdmin,
    acl_lines,
    reconcile_acls,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    ProbeError,
    parse_address,
)
from ansible_collections.automq.platform.plugins.module_utils.kafka_security import (
    SECURITY_OPTION,
    security_from_params,
)

ACL_OPTIONS = {
    "principal": {"type": "str", "required": True},
    "resource_type": {"type": "str", "required": True, "choices": list(RESOURCE_TYPES)},
    "resource_name": {"type": "str", "required": True},
    "pattern_type": {"type": "str", "default": "literal", "choices": list(PATTERN_TYPES)},
    "operations": {
        "type": "list",
        "elements": "str",
        "required": True,
        "choices": list(OPERATIONS),
    },
    "permission": {"type": "str", "default": "allow", "choices": sorted(PERMISSIONS)},
    "host": {"type": "str", "default": "*"},
    "state": {"type": "str", "default": "present", "choices": list(STATES)},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "bootstrap_server": {"type": "str", "required": True},
            "acls": {"type": "list", "elements": "dict", "default": [], "options": ACL_OPTIONS},
            "principals": {"type": "list", "elements": "str", "default": []},
            "hold_open": {"type": "bool", "default": False},
            "timeout": {"type": "float", "default": 10.0},
            "wait_timeout": {"type": "float", "default": 30.0},
            "security": SECURITY_OPTION,
        },
        supports_check_mode=True,
    )
    params = module.params
    security = security_from_params(module, "security")
    try:
        parse_address(params["bootstrap_server"])
        with KafkaAdmin.from_address(
            params["bootstrap_server"], params["timeout"], security=security
        ) as admin:
            plan = reconcile_acls(
                admin,
                params["acls"],
                params["principals"],
                check_mode=module.check_mode,
                wait_timeout=params["wait_timeout"],
                hold_open=params["hold_open"],
            )
    except (ProbeError, ValueError) as error:
        module.fail_json(msg=str(error))
    result = {
        "changed": plan.changed,
        "created": sorted(binding.describe() for binding in plan.create),
        "deleted": sorted(binding.describe() for binding in plan.delete),
        "held_open": sorted(
            binding.describe()
            for binding in set(plan.holding.open_first) | set(plan.holding.close_last)
        ),
    }
    for resource_type, name, pattern_type in plan.holding.not_held:
        module.warn(
            f"{resource_type} {pattern_type}:{name} was not held open while its ACLs landed: "
            "it overlaps resources that existing ACLs restrict (clients using resources it "
            "newly restricts may be denied until all its ACLs are in place)"
        )
    if module._diff:
        result["diff"] = {"before": acl_lines(plan.before), "after": acl_lines(plan.after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
