#!/usr/bin/python
"""Ansible module decommission_status: where the partitions of leaving brokers are and must go."""

from __future__ import annotations

DOCUMENTATION = r"""
module: decommission_status
short_description: Plan and follow moving partitions off AutoMQ brokers that leave the cluster
description:
  - Asks one broker over the Kafka protocol (DescribeCluster, Metadata,
    ListPartitionReassignments) for the live brokers, every partition's replicas and the
    reassignments in progress.
  - Plans new replica lists for the partitions with a replica on a leaving broker. Each
    leaving replica is replaced by the least loaded remaining broker the partition does not
    use yet, keeping the replica count; other partitions are left alone.
  - With O(wait_for), keeps asking until the condition holds or O(wait_timeout) passed.
  - Read-only (never changes the cluster) and never fails because of what it finds or because
    the broker does not answer (see C(error)), so the calling role can say what to do.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  host:
    description: Address the broker listener answers on, as seen from the host running the module.
    type: str
    default: 127.0.0.1
  port:
    description: Port of the broker listener.
    type: int
    default: 9092
  leaving:
    description: Node IDs of the brokers that leave.
    type: list
    elements: int
    required: true
  wait_for:
    description:
      - C(none) looks once; C(idle) waits until no reassignment is in progress (the moves can be
        planned); C(moved) also until no partition has a replica on a leaving broker;
        C(unlisted) until the cluster no longer lists the leaving brokers as live.
    type: str
    choices: [none, idle, moved, unlisted]
    default: none
  wait_timeout:
    description: Seconds to keep asking while the O(wait_for) condition does not hold.
    type: float
    default: 0
  poll_interval:
    description: Seconds between two looks while waiting.
    type: float
    default: 5.0
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
- name: Plan the moves off broker 1000 once no reassignment is in progress
  automq.platform.decommission_status:
    port: 9092
    leaving: [1000]
    wait_for: idle
    wait_timeout: 1800
  register: moves
"""

RETURN = r"""
satisfied:
  description: Whether the O(wait_for) condition holds.
  type: bool
  returned: always
error:
  description: Why the broker could not be asked at the last look, or null.
  type: str
  returned: always
live_brokers:
  description: Registered, unfenced brokers (DescribeCluster).
  type: list
  elements: int
  returned: always
in_progress:
  description: Partitions with a reassignment in progress, as topic-partition.
  type: list
  elements: str
  returned: always
on_leaving:
  description: Partitions that still have a replica on a leaving broker, as topic-partition.
  type: list
  elements: str
  returned: always
reassignment:
  description:
    - The C(--reassignment-json-file) document for C(kafka-reassign-partitions.sh --execute);
      empty C(partitions) when there is nothing to move or a reassignment is in progress.
  type: dict
  returned: always
plan_error:
  description: Why the partitions cannot be moved (too few remaining brokers), or null.
  type: str
  returned: always
attempts:
  description: How many looks were taken.
  type: int
  returned: always
waited_seconds:
  description: How long the module waited.
  type: float
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    KafkaProbe,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.reassignment import (
    WAIT_CONDITIONS,
    reassignment_document,
    wait_for_survey,
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
            "leaving": {"type": "list", "elements": "int", "required": True},
            "wait_for": {"type": "str", "default": "none", "choices": sorted(WAIT_CONDITIONS)},
            "wait_timeout": {"type": "float", "default": 0.0},
            "poll_interval": {"type": "float", "default": 5.0},
            "timeout": {"type": "float", "default": 10.0},
            "security": SECURITY_OPTION,
        },
        supports_check_mode=True,
    )
    params = module.params
    security = security_from_params(module, "security")
    found, attempts, waited = wait_for_survey(
        lambda: KafkaProbe(params["host"], params["port"], params["timeout"], security=security),
        params["leaving"],
        params["wait_for"],
        timeout=params["wait_timeout"],
        interval=params["poll_interval"],
    )
    module.exit_json(
        changed=False,
        satisfied=WAIT_CONDITIONS[params["wait_for"]](found, params["leaving"]),
        error=found.error,
        live_brokers=found.live_brokers,
        in_progress=found.in_progress,
        on_leaving=found.on_leaving,
        reassignment=reassignment_document(found.plan),
        plan_error=found.plan_error,
        attempts=attempts,
        waited_seconds=round(waited, 1),
    )


if __name__ == "__main__":
    main()
