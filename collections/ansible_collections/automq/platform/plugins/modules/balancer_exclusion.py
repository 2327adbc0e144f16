#!/usr/bin/python
"""Ansible module balancer_exclusion: keep brokers out of AutoMQ's AutoBalancer."""

from __future__ import annotations

DOCUMENTATION = r"""
module: balancer_exclusion
short_description: Exclude AutoMQ brokers from the AutoBalancer and from new partition homes
description:
  - Reads the broker setting C(autobalancer.controller.exclude.broker.ids) in effect on the
    broker O(node_id) over the Kafka protocol (DescribeConfigs) and, when the list lacks one of
    O(brokers), sets it with them added cluster-wide (IncrementalAlterConfigs on the cluster
    default, as C(kafka-configs.sh --entity-type brokers --entity-default --alter) does), then
    waits until that broker has it in effect.
  - AutoMQ's controllers apply it at run time. Its AutoBalancer then moves no partition onto
    those brokers, and partitions of a broker that shuts down go to brokers that are not
    excluded.
  - Only adds. IDs already in the list stay, and so do the leaving brokers' IDs after the
    decommission, so a retired node started again by mistake gets no partitions.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  host:
    description: Address of a broker listener whose principal may alter the cluster.
    type: str
    default: 127.0.0.1
  port:
    description: Port of the broker listener.
    type: int
    default: 9092
  brokers:
    description: Node IDs to exclude.
    type: list
    elements: int
    required: true
  node_id:
    description: The C(node.id) of the broker O(host) and O(port) reach.
    type: int
    required: true
  wait_timeout:
    description: Seconds to wait for the broker to have the new list in effect.
    type: float
    default: 30.0
  timeout:
    description: Timeout of each request, in seconds.
    type: float
    default: 10.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.kafka_security
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Keep the leaving broker 1000 out of the AutoBalancer
  automq.platform.balancer_exclusion:
    port: 9094
    node_id: 0
    brokers: [1000]
"""

RETURN = r"""
supported:
  description: Whether the release defines the setting (AutoMQ's do, Apache Kafka's not).
  type: bool
  returned: always
previous:
  description: The excluded node IDs in effect before.
  type: list
  elements: int
  returned: always
excluded:
  description: The excluded node IDs in effect after (in check mode, what they would be).
  type: list
  elements: int
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.balancer_exclusion import (
    exclude_brokers,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_admin import (
    KafkaAdmin,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    ProbeError,
)
from ansible_collections.automq.platform.plugins.module_utils.kafka_security import (
    SECURITY_OPTION,
    security_from_params,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int", "default": 9092},
            "brokers": {"type": "list", "elements": "int", "required": True},
            "node_id": {"type": "int", "required": True},
            "wait_timeout": {"type": "float", "default": 30.0},
            "timeout": {"type": "float", "default": 10.0},
            "security": SECURITY_OPTION,
        },
        supports_check_mode=True,
    )
    params = module.params
    security = security_from_params(module, "security")
    try:
        with KafkaAdmin(
            params["host"], params["port"], params["timeout"], security=security
        ) as admin:
            plan = exclude_brokers(
                admin,
                params["node_id"],
                params["brokers"],
                apply=not module.check_mode,
                wait_timeout=params["wait_timeout"],
            )
    except (ProbeError, ValueError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(
        changed=plan.value is not None,
        supported=plan.supported,
        previous=list(plan.previous),
        excluded=list(plan.excluded),
    )


if __name__ == "__main__":
    main()
