"""Ingress rules of a security group: parse, compare with the API's, reconcile exclusively.

A rule the module creates carries the description marker ``automq-ansible`` (plus the
user's text), so a later run knows which rules it manages: missing rules are added, managed
rules no longer wanted are revoked, foreign rules (added by hand or by other tools) are left
alone unless ``purge_foreign`` is set. Rules are compared on protocol, port range, source,
policy and priority; the description is not part of a rule's identity.

Nothing is opened to the whole Internet (``0.0.0.0/0``, ``::/0``) unless asked for
explicitly. :func:`automq_ingress_rules` gives the least-privilege set for an AutoMQ cluster.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "CONTROLLER_PORT",
    "EXTERNAL_PORT",
    "INTER_BROKER_PORT",
    "KAFKA_PORT",
    "MANAGED_MARKER",
    "METRICS_PORTS",
    "SELF",
    "ActualRule",
    "IngressRule",
    "RuleError",
    "RulePlan",
    "automq_ingress_rules",
    "parse_rule",
    "plan_rules",
    "rule_from_api",
]

MANAGED_MARKER = "automq-ansible"
SELF = "self"
"""``source_group: self``: the rule's source is the security group being configured."""
PROTOCOLS = ("TCP", "UDP", "ICMP", "GRE", "ALL")
POLICIES = ("accept", "drop")
KAFKA_PORT = 9092
CONTROLLER_PORT = 9093
INTER_BROKER_PORT = 9094  # the brokers' TLS listener between nodes
EXTERNAL_PORT = 9095  # the brokers' public listener (SASL_SSL), advertised on their EIPs
METRICS_PORTS = (9464, 9404)  # AutoMQ's Prometheus exporter, the JMX exporter agent
SSH_PORT = 22


class RuleError(ValueError):
    """A rule is malformed or too open; the message names it and the fix."""


@dataclass(frozen=True, order=True)
class IngressRule:
    protocol: str
    port_range: str
    source_cidr: str = ""
    source_group_id: str = ""
    policy: str = "accept"
    priority: int = 1
    description: str = ""

    def identity(self) -> tuple[str, str, str, str, str, int]:
        return (
            self.protocol,
            self.port_range,
            self.source_cidr,
            self.source_group_id,
            self.policy,
            self.priority,
        )

    def resolve(self, group_id: str) -> IngressRule:
        """Replace ``self`` by the security group's ID."""
        if self.source_group_id == SELF:
            return replace(self, source_group_id=group_id)
        return self

    @property
    def label(self) -> str:
        source = self.source_cidr or f"security group {self.source_group_id}"
        ports = self.port_range.split("/")
        port_text = ports[0] if ports[0] == ports[-1] else f"{ports[0]}-{ports[1]}"
        ports_part = "" if self.port_range == "-1/-1" else f" port {port_text}"
        return f"{self.protocol}{ports_part} from {source} ({self.policy})"

    def to_api(self) -> dict[str, Any]:
        """The fields of an ``Authorize``/``RevokeSecurityGroup`` permission."""
        description = MANAGED_MARKER + (f": {self.description}" if self.description else "")
        fields: dict[str, Any] = {
            "ip_protocol": self.protocol,
            "port_range": self.port_range,
            "policy": self.policy,
            "priority": str(self.priority),
            "description": description,
        }
        if self.source_group_id:
            fields["source_group_id"] = self.source_group_id
        elif ":" in self.source_cidr:
            fields["ipv_6source_cidr_ip"] = self.source_cidr
        else:
            fields["source_cidr_ip"] = self.source_cidr
        return fields

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "port_range": self.port_range,
            "source_cidr": self.source_cidr or None,
            "source_group_id": self.source_group_id or None,
            "policy": self.policy,
            "priority": self.priority,
            "description": self.description,
        }


def _cidr(raw: object, what: str) -> str:
    try:
        return str(ipaddress.ip_network(str(raw).strip(), strict=False))
    except ValueError as exc:
        raise RuleError(f"{what}: {raw!r} is not an IP address or CIDR block") from exc


def _port_range(raw: object, protocol: str, what: str) -> str:
    if protocol in ("ICMP", "GRE", "ALL"):
        if raw not in (None, "", "-1", -1, "-1/-1"):
            raise RuleError(f"{what}: protocol {protocol.lower()} takes no ports")
        return "-1/-1"
    if raw is None or raw == "":
        raise RuleError(f"{what}: ports is required for protocol {protocol.lower()}")
    if isinstance(raw, bool):
        raise RuleError(f"{what}: ports {raw!r} is not a port or a range")
    text = str(raw).strip()
    for separator in ("/", "-"):
        if separator in text[1:]:
            start_text, end_text = text.split(separator, 1)
            break
    else:
        start_text = end_text = text
    try:
        start, end = int(start_text), int(end_text)
    except ValueError as exc:
        raise RuleError(f"{what}: ports {raw!r} is not a port or a range like 9092-9093") from exc
    if not 1 <= start <= end <= 65535:
        raise RuleError(f"{what}: ports {raw!r} must be within 1-65535, low to high")
    return f"{start}/{end}"


def _world(cidr: str) -> bool:
    return ipaddress.ip_network(cidr).prefixlen == 0


def parse_rule(raw: Mapping[str, Any], *, allow_world: bool = False) -> IngressRule:
    """A rule from the module's ``rules`` option.

    Keys: ``protocol`` (tcp, udp, icmp, gre, all; default tcp), ``ports`` (``22``,
    ``9092-9093``), exactly one of ``cidr`` and ``source_group`` (an ID or ``self``),
    ``description``, ``priority`` (1-100, default 1), ``policy`` (accept or drop).
    """
    known = {"protocol", "ports", "cidr", "source_group", "description", "priority", "policy"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RuleError(f"rule {dict(raw)!r}: unknown keys {', '.join(unknown)}")
    protocol = str(raw.get("protocol") or "tcp").strip().upper()
    if protocol in ("-1",):
        protocol = "ALL"
    if protocol not in PROTOCOLS:
        raise RuleError(f"rule {dict(raw)!r}: protocol must be one of tcp, udp, icmp, gre, all")
    what = f"rule {dict(raw)!r}"
    port_range = _port_range(raw.get("ports"), protocol, what)
    cidr_raw, group_raw = raw.get("cidr"), raw.get("source_group")
    if bool(cidr_raw) == bool(group_raw):
        raise RuleError(f"{what}: give exactly one of cidr and source_group")
    cidr = _cidr(cidr_raw, what) if cidr_raw else ""
    if cidr and _world(cidr) and not allow_world:
        raise RuleError(
            f"{what} opens the port to the whole Internet ({cidr}): use a narrower CIDR, "
            "or set allow_public_ingress: true if that is really intended"
        )
    group = str(group_raw).strip() if group_raw else ""
    if group and group != SELF and not group.startswith("sg-"):
        raise RuleError(f"{what}: source_group must be a security group ID (sg-...) or self")
    policy = str(raw.get("policy") or "accept").strip().lower()
    if policy not in POLICIES:
        raise RuleError(f"{what}: policy must be accept or drop")
    priority_raw = raw.get("priority", 1)
    try:
        priority = int(priority_raw if priority_raw is not None else 1)
    except (TypeError, ValueError) as exc:
        raise RuleError(f"{what}: priority must be an integer 1-100") from exc
    if not 1 <= priority <= 100:
        raise RuleError(f"{what}: priority must be within 1-100")
    description = str(raw.get("description") or "").strip()
    return IngressRule(protocol, port_range, cidr, group, policy, priority, description)


@dataclass(frozen=True)
class ActualRule:
    """A rule as the API reports it, and whether this module created it."""

    rule: IngressRule
    managed: bool
    rule_id: str = ""


def rule_from_api(permission: Mapping[str, Any]) -> ActualRule | None:
    """Read one ``Permissions.Permission`` entry; ``None`` for egress or unreadable rules."""
    direction = str(permission.get("Direction") or "ingress").lower()
    if direction != "ingress":
        return None
    protocol = str(permission.get("IpProtocol") or "").upper()
    if protocol not in PROTOCOLS:
        return None
    port_range = str(permission.get("PortRange") or "-1/-1")
    if protocol in ("ICMP", "GRE", "ALL"):
        port_range = "-1/-1"
    cidr_raw = permission.get("SourceCidrIp") or permission.get("Ipv6SourceCidrIp") or ""
    try:
        cidr = str(ipaddress.ip_network(str(cidr_raw), strict=False)) if cidr_raw else ""
    except ValueError:
        return None
    group = str(permission.get("SourceGroupId") or "")
    if not cidr and not group:
        return None
    try:
        priority = int(permission.get("Priority") or 1)
    except (TypeError, ValueError):
        priority = 1
    raw_description = str(permission.get("Description") or "")
    managed = raw_description == MANAGED_MARKER or raw_description.startswith(MANAGED_MARKER + ":")
    description = raw_description
    if managed:
        description = raw_description[len(MANAGED_MARKER) :].lstrip(":").strip()
    rule = IngressRule(
        protocol=protocol,
        port_range=port_range,
        source_cidr=cidr,
        source_group_id="" if cidr else group,
        policy=str(permission.get("Policy") or "accept").lower(),
        priority=priority,
        description=description,
    )
    return ActualRule(rule, managed, str(permission.get("SecurityGroupRuleId") or ""))


@dataclass(frozen=True)
class RulePlan:
    add: tuple[IngressRule, ...]
    revoke: tuple[ActualRule, ...]
    keep: tuple[ActualRule, ...]

    @property
    def changed(self) -> bool:
        return bool(self.add or self.revoke)


def plan_rules(
    desired: Iterable[IngressRule],
    actual: Sequence[ActualRule],
    *,
    purge_foreign: bool = False,
) -> RulePlan:
    """Add what is missing; revoke managed rules (or, with ``purge_foreign``, any rule)
    that are not desired. ``desired`` must already have ``self`` resolved."""
    wanted: dict[tuple[str, str, str, str, str, int], IngressRule] = {}
    for rule in desired:
        if rule.source_group_id == SELF:
            raise ValueError("resolve source_group self before planning")
        wanted.setdefault(rule.identity(), rule)
    present = {item.rule.identity() for item in actual}
    add = tuple(sorted(rule for key, rule in wanted.items() if key not in present))
    revoke: list[ActualRule] = []
    keep: list[ActualRule] = []
    seen: set[tuple[str, str, str, str, str, int]] = set()
    for item in actual:
        key = item.rule.identity()
        if key in wanted and key not in seen:
            seen.add(key)
            keep.append(item)
        elif key in wanted:
            keep.append(item)  # an exact duplicate the API allowed: harmless, left alone
        elif item.managed or purge_foreign:
            revoke.append(item)
        else:
            keep.append(item)
    return RulePlan(add, tuple(revoke), tuple(keep))


def _ports(ports: Iterable[int], what: str) -> list[int]:
    result = []
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise RuleError(f"{what}: {port!r} is not a TCP port")
        result.append(port)
    return list(dict.fromkeys(result))


def automq_ingress_rules(
    *,
    vpc_cidr: str,
    client_cidrs: Iterable[str] = (),
    public_client_cidrs: Iterable[str] = (),
    admin_cidrs: Iterable[str] = (),
    console_port: int | None = None,
    console_group: str | None = None,
    kafka_port: int = KAFKA_PORT,
    controller_port: int = CONTROLLER_PORT,
    inter_broker_port: int = INTER_BROKER_PORT,
    metrics_ports: Iterable[int] = METRICS_PORTS,
    external_port: int = EXTERNAL_PORT,
    migration_kafka_port: int | None = None,
    migration_controller_port: int | None = None,
    target: str = "nodes",
) -> list[dict[str, Any]]:
    """The least-privilege ingress of an AutoMQ cluster's groups, in the ``rules`` format.

    ``target="nodes"``: Kafka from the VPC and the client CIDRs; Kafka, the controller
    and the inter-broker port between members of the group; from the console's group
    (``console_group``, an ID) SSH, Kafka, the controller port (the console is a Kafka
    client and shows the quorum) and the metrics ports (its Prometheus scrapes them);
    SSH (and ``console_port``, if given) from the admin CIDRs; the public listener's
    ``external_port`` from the ``public_client_cidrs`` only (clients on the Internet that
    reach the brokers' EIPs), and from nowhere when there are none.

    While a plaintext cluster migrates to secure, its plaintext listeners keep their
    ports beside the secure ones: ``migration_kafka_port`` opens like ``kafka_port``
    (the VPC, the client CIDRs, the nodes, the console), ``migration_controller_port``
    like ``controller_port`` (the nodes, the console).

    ``target="console"``: SSH and ``console_port`` from the admin CIDRs, nothing else.
    """
    if target not in ("nodes", "console"):
        raise RuleError(f"target {target!r}: give nodes or console")
    admins = list(dict.fromkeys(_cidr(c, "admin CIDR") for c in admin_cidrs))
    rules: list[dict[str, Any]] = []
    if target == "nodes":
        kafka_ports = _ports(
            [kafka_port, *([migration_kafka_port] if migration_kafka_port else [])], "Kafka port"
        )
        controller_ports = _ports(
            [controller_port, *([migration_controller_port] if migration_controller_port else [])],
            "controller port",
        )
        sources = [vpc_cidr, *client_cidrs]
        for cidr in dict.fromkeys(_cidr(c, "client CIDR") for c in sources):
            for port in kafka_ports:
                rules.append(
                    {
                        "protocol": "tcp",
                        "ports": port,
                        "cidr": cidr,
                        "description": "Kafka clients",
                    }
                )
        publics = list(dict.fromkeys(_cidr(c, "public client CIDR") for c in public_client_cidrs))
        if publics:
            (external,) = _ports([external_port], "public listener port")
            if external in (SSH_PORT, *kafka_ports, *controller_ports, inter_broker_port):
                raise RuleError(
                    f"public listener port {external} is already SSH or a cluster port: "
                    "give the public listener a port of its own"
                )
            for cidr in publics:
                rules.append(
                    {
                        "protocol": "tcp",
                        "ports": external,
                        "cidr": cidr,
                        "description": "Kafka clients on the Internet (public listener)",
                    }
                )
        cluster_ports = _ports([*kafka_ports, *controller_ports, inter_broker_port], "cluster port")
        for port in cluster_ports:
            rules.append(
                {
                    "protocol": "tcp",
                    "ports": port,
                    "source_group": SELF,
                    "description": "between cluster nodes",
                }
            )
        if console_group:
            console_ports = [SSH_PORT, *kafka_ports, *controller_ports, *metrics_ports]
            for port in _ports(console_ports, "console port"):
                rules.append(
                    {
                        "protocol": "tcp",
                        "ports": port,
                        "source_group": console_group,
                        "description": "from the console",
                    }
                )
    for cidr in admins:
        rules.append({"protocol": "tcp", "ports": SSH_PORT, "cidr": cidr, "description": "SSH"})
        if console_port is not None:
            rules.append(
                {"protocol": "tcp", "ports": console_port, "cidr": cidr, "description": "console"}
            )
    return rules
