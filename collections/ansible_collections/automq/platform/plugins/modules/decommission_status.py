#!/usr/bin/python
"""Ansible module reassignment_plan: where the partitions of leaving brokers must go."""

from __future__ import annotations

DOCUMENTATION = r"""
module: reassignment_plan
short_description: Plan moving every partition off AutoMQ brokers that leave the cluster
description:
  - Asks one broker over the Kafka protocol (Metadata, ListPartitionReassignments) for every
    partition's replicas, the live brokers and the reassignments in progress.
  - Plans new replica lists for the partitions with a replica on a leaving broker. Each
    leaving replica is replaced by the least loaded remaining broker the partition does not
    use yet, keeping the replica count; other partitions are left alone.
  - Read-only (never changes the cluster) and never fails because of what it finds, so it can
    be polled with C(until); a broker that does not answer is reported in C(error).
version_added: 0.2.0
author: AutoMQ Ansible maintainers
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
  timeout:
    description: Timeout of each request, in seconds.
    type: float
    default: 10.0
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Plan the moves off broker 1000
  automq.platform.reassignment_plan:
    port: 9092
    leaving: [1000]
  register: moves
  until: moves.error is none and moves.in_progress | length == 0
  retries: 60
  delay: 5
"""

RETURN = r"""
error:
  description: Why the broker could not be asked, or null.
  type: str
  returned: always
live_brokers:
  description: Registered, unfenced brokers.
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
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    KafkaProbe,
    ProbeError,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.reassignment import (
    Survey,
    reassignment_document,
    survey,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "default": "127.0.0.1"},
            "port": {"type": "int", "default": 9092},
            "leaving": {"type": "list", "elements": "int", "required": True},
            "timeout": {"type": "float", "default": 10.0},
        },
        supports_check_mode=True,
    )
    params = module.params
    error = None
    try:
        with KafkaProbe(params["host"], params["port"], params["timeout"]) as probe:
            found = survey(probe, params["leaving"])
    except ProbeError as exc:
        error = str(exc)
        found = Survey()
    module.exit_json(
        changed=False,
        error=error,
        live_brokers=found.live_brokers,
        in_progress=found.in_progress,
        on_leaving=found.on_leaving,
        reassignment=reassignment_document(found.plan),
        plan_error=found.plan_error,
    )


if __name__ == "__main__":
    main()
