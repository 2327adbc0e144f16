"""Filter automq_ingress_rules: the least-privilege security group rules of an AutoMQ cluster."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ..module_utils.automq_helpers.alicloud.security_group import (
    CONTROLLER_PORT,
    EXTERNAL_PORT,
    INTER_BROKER_PORT,
    KAFKA_PORT,
    METRICS_PORTS,
    RuleError,
    automq_ingress_rules,
)

DOCUMENTATION = r"""
name: automq_ingress_rules
short_description: Least-privilege ingress rules of an AutoMQ cluster
description:
  - For the nodes' group (O(target=nodes)), Kafka (9092) from the VPC CIDR and the client CIDRs;
    Kafka, the controller port (9093) and the inter-broker port (9094) between members of the
    group (C(source_group=self)); from the console's group (O(console_group)) SSH, Kafka, the
    controller port and the metrics ports (9464, 9404); SSH from the admin CIDRs; the brokers'
    public listener (O(external_port)) from O(public_client_cidrs) only.
  - For the console's group (O(target=console)), SSH and the console port from the admin CIDRs.
  - Nothing from C(0.0.0.0/0).
options:
  _input:
    description: CIDR block of the cluster's VPC.
    type: str
    required: true
  client_cidrs:
    description: Further CIDR blocks of Kafka clients.
    type: list
    elements: str
    default: []
  public_client_cidrs:
    description:
      - CIDR blocks of Kafka clients on the Internet, allowed to the brokers' public listener
        (O(external_port), on the brokers' EIPs) and nothing else. With none, the port stays closed.
    type: list
    elements: str
    default: []
  admin_cidrs:
    description: CIDR blocks allowed to reach SSH and the console.
    type: list
    elements: str
    default: []
  console_port:
    description: Port of the console, opened to the admin CIDRs, if there is one.
    type: int
  console_group:
    description: ID of the console's security group, whose members reach the nodes.
    type: str
  kafka_port:
    description: Port of the brokers' client listener (the automq role's C(automq_broker_port)).
    type: int
    default: 9092
  controller_port:
    description: Port of the controllers' listener (the automq role's C(automq_controller_port)).
    type: int
    default: 9093
  inter_broker_port:
    description: Port of the brokers' listener between nodes.
    type: int
    default: 9094
  migration_kafka_port:
    description:
      - While a plaintext cluster migrates to secure, the port its plaintext client listener keeps,
        opened like O(kafka_port). V(0) or none outside a migration.
    type: int
  migration_controller_port:
    description:
      - While a plaintext cluster migrates to secure, the port its plaintext controller listener
        keeps, opened like O(controller_port). V(0) or none outside a migration.
    type: int
  metrics_ports:
    description: Ports of the nodes' Prometheus exporters, which the console scrapes.
    type: list
    elements: int
    default: [9464, 9404]
  external_port:
    description: Port of the brokers' public listener (SASL_SSL), opened to O(public_client_cidrs).
    type: int
    default: 9095
  target:
    description: The group the rules are for.
    type: str
    choices: [nodes, console]
    default: nodes
"""

EXAMPLES = r"""
- name: Rules of the nodes' security group
  ansible.builtin.set_fact:
    automq_rules: >-
      {{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules(
           client_cidrs=['10.8.0.0/16'], admin_cidrs=['203.0.113.7/32'],
           console_group=console_sg.security_group_id) }}

- name: Rules of the console's security group
  ansible.builtin.set_fact:
    console_rules: >-
      {{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules(
           admin_cidrs=['203.0.113.7/32'], console_port=8080, target='console') }}
"""

RETURN = r"""
_value:
  description: Rules in the format of the C(rules) option of automq.alicloud.security_group.
  type: list
  elements: dict
"""


def _automq_ingress_rules(
    vpc_cidr: Any,
    client_cidrs: Any = (),
    public_client_cidrs: Any = (),
    admin_cidrs: Any = (),
    console_port: Any = None,
    console_group: Any = None,
    kafka_port: Any = KAFKA_PORT,
    controller_port: Any = CONTROLLER_PORT,
    inter_broker_port: Any = INTER_BROKER_PORT,
    metrics_ports: Any = METRICS_PORTS,
    external_port: Any = EXTERNAL_PORT,
    migration_kafka_port: Any = None,
    migration_controller_port: Any = None,
    target: Any = "nodes",
) -> list[dict[str, Any]]:
    try:
        return automq_ingress_rules(
            vpc_cidr=str(vpc_cidr),
            client_cidrs=[str(c) for c in client_cidrs or []],
            public_client_cidrs=[str(c) for c in public_client_cidrs or []],
            admin_cidrs=[str(c) for c in admin_cidrs or []],
            console_port=int(console_port) if console_port not in (None, "") else None,
            console_group=str(console_group) if console_group else None,
            kafka_port=int(kafka_port),
            controller_port=int(controller_port),
            inter_broker_port=int(inter_broker_port),
            metrics_ports=[int(p) for p in metrics_ports or []],
            external_port=int(external_port),
            migration_kafka_port=int(migration_kafka_port or 0) or None,
            migration_controller_port=int(migration_controller_port or 0) or None,
            target=str(target),
        )
    except (RuleError, ValueError) as error:
        raise AnsibleFilterError(f"automq_ingress_rules: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"automq_ingress_rules": _automq_ingress_rules}
