#!/usr/bin/python
"""Ansible module node_health: one look at an AutoMQ node's health over the Kafka protocol."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_health
short_description: Check that an AutoMQ node serves requests and its controller quorum is complete
description:
  - Speaks the Kafka protocol directly (ApiVersions, DescribeQuorum, DescribeCluster, Metadata),
    in milliseconds rather than the seconds a JVM command-line tool takes, so it can be polled
    with C(until) as a gate before and after every restart.
  - Never fails because the node is unhealthy; returns C(healthy) and the C(problems) found.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  host:
    description: Address the node's listeners answer on, as seen from the node itself.
    type: str
    default: 127.0.0.1
  node_id:
    description: The node's C(node.id).
    type: int
    required: true
  broker_port:
    description: Port of the broker listener; omit on controller-only nodes.
    type: int
  controller_port:
    description: Port of the controller listener; omit on broker-only nodes.
    type: int
  expected_voters:
    description: Node IDs of every controller quorum voter.
    type: list
    elements: int
    required: true
  quorum_bootstrap_servers:
    description: The C(controller.quorum.bootstrap.servers) value, used when no broker listener is available.
    type: str
    required: true
  max_voter_lag:
    description: Largest accepted lag of a voter behind the leader's high watermark, in records.
    type: int
    default: 1000
  check_offline_partitions:
    description: Also require that no partition of the cluster is offline.
    type: bool
    default: true
  timeout:
    description: Timeout of each request, in seconds.
    type: float
    default: 5.0
  wait_timeout:
    description:
      - Keep probing until the node is healthy or this many seconds passed; 0 looks once.
      - The module never fails because the node is unhealthy; check C(healthy).
    type: float
    default: 0
  poll_interval:
    description: Seconds between probes while waiting.
    type: float
    default: 2.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.kafka_security
  - automq.platform.kafka_security.controller
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Wait until the node is healthy
  automq.platform.node_health:
    node_id: 0
    broker_port: 9092
    controller_port: 9093
    expected_voters: [0, 1, 2]
    quorum_bootstrap_servers: 10.0.0.11:9093,10.0.0.12:9093,10.0.0.13:9093
    wait_timeout: 300
  register: health

- name: The same with SASL_SSL (SCRAM) on the broker listener and mTLS on the controller one
  automq.platform.node_health:
    host: 10.0.0.11  # a name the node's certificate carries
    node_id: 0
    broker_port: 9092
    controller_port: 9093
    expected_voters: [0, 1, 2]
    quorum_bootstrap_servers: 10.0.0.11:9093,10.0.0.12:9093,10.0.0.13:9093
    security:
      protocol: SASL_SSL
      ca_file: /etc/automq/tls/ca.pem
      username: admin
      password: "{{ automq_admin_password }}"
    controller_security:
      protocol: SSL
      ca_file: /etc/automq/tls/ca.pem
      cert_file: /etc/automq/tls/node.pem
      key_file: /etc/automq/tls/node.key
    wait_timeout: 300
  register: health
"""

RETURN = r"""
healthy:
  description: Whether every check passed.
  type: bool
  returned: always
serving:
  description: Whether every listener of the node itself answered.
  type: bool
  returned: always
problems:
  description: What is wrong, one sentence each.
  type: list
  elements: str
  returned: always
quorum_leader:
  description: Node ID of the active controller, when known.
  type: int
  returned: always
voter_lag:
  description: Lag of each voter behind the leader, by node ID.
  type: dict
  returned: always
attempts:
  description: How many probes were made.
  type: int
  returned: always
waited_seconds:
  description: How long the module waited for the node to become healthy.
  type: float
  returned: always
brokers:
  description: Registered, unfenced brokers.
  type: list
  elements: int
  returned: always
offline_partitions:
  description: Offline partitions, as topic-partition.
  type: list
  elements: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_health import (
    NodeCheck,
    quorum_addresses,
    wait_for_health,
)
from ansible_collections.automq.platform.plugins.module_utils.kafka_security import (
    SECURITY_OPTION,
    security_from_params,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "host": {"type": "str", "default": "127.0.0.1"},
            "node_id": {"type": "int", "required": True},
            "broker_port": {"type": "int"},
            "controller_port": {"type": "int"},
            "expected_voters": {"type": "list", "elements": "int", "required": True},
            "quorum_bootstrap_servers": {"type": "str", "required": True},
            "max_voter_lag": {"type": "int", "default": 1000},
            "check_offline_partitions": {"type": "bool", "default": True},
            "timeout": {"type": "float", "default": 5.0},
            "wait_timeout": {"type": "float", "default": 0.0},
            "poll_interval": {"type": "float", "default": 2.0},
            "security": SECURITY_OPTION,
            "controller_security": SECURITY_OPTION,
        },
        required_one_of=[("broker_port", "controller_port")],
        supports_check_mode=True,
    )
    params = module.params
    security = security_from_params(module, "security")
    controller_security = security_from_params(module, "controller_security")
    health, attempts, waited = wait_for_health(
        NodeCheck(
            host=params["host"],
            node_id=params["node_id"],
            expected_voters=params["expected_voters"],
            quorum_addresses=quorum_addresses(params["quorum_bootstrap_servers"]),
            broker_port=params["broker_port"],
            controller_port=params["controller_port"],
            max_voter_lag=params["max_voter_lag"],
            check_offline_partitions=params["check_offline_partitions"],
            timeout=params["timeout"],
            security=security,
            controller_security=controller_security,
        ),
        timeout=params["wait_timeout"],
        interval=params["poll_interval"],
    )
    module.exit_json(
        changed=False,
        healthy=health.healthy,
        serving=health.serving,
        attempts=attempts,
        waited_seconds=round(waited, 1),
        problems=health.problems,
        quorum_leader=health.quorum_leader,
        voter_lag={str(key): value for key, value in health.voter_lag.items()},
        brokers=health.brokers,
        offline_partitions=health.offline_partitions,
    )


if __name__ == "__main__":
    main()
