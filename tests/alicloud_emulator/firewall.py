"""Security groups as nftables rulesets: pure functions, no I/O.

:func:`interface_firewall` reads the emulator's state for one instance's network
interface (its security groups, their rules and the private addresses of the
groups' members); :func:`render_ruleset` turns that into the text ``nft -f``
applies in the instance's network namespace. Alibaba Cloud's semantics, as
its documentation states them:

* Rules of every group of the interface are aggregated and sorted: priority 1
  (highest) to 100, and at equal priority ``Drop`` before ``Accept``; the first
  rule that matches decides ("When multiple security group rules have the same
  priority, drop rules take precedence", AuthorizeSecurityGroup,
  https://www.alibabacloud.com/help/en/ecs/api-authorizesecuritygroup; "rules
  from all groups are aggregated, sorted, and applied together with default
  rules", https://help.aliyun.com/en/ecs/user-guide/security-group-rules).
* What no rule decides falls to the default rules: a basic (``normal``) group
  denies ingress and allows all egress; an enterprise group denies both
  (same page: "Basic security groups allow inbound internal traffic from
  instances in the same group and allow all outbound traffic by default.
  Enterprise security groups deny both inbound and outbound traffic by default").
* A basic group whose InnerAccessPolicy is ``Accept`` (the default) lets its
  members reach each other whatever the custom rules say; with ``Drop`` the
  custom rules decide (ModifySecurityGroupPolicy,
  https://www.alibabacloud.com/help/en/ecs/developer-reference/api-modifysecuritygrouppolicy).
  Enterprise groups always isolate their members and cannot be referenced by
  group rules (https://www.alibabacloud.com/help/en/ecs/user-guide/basic-security-groups-and-advanced-security-groups).
  Isolation is the lowest rule, so two instances sharing one isolating and one
  accepting group reach each other (network-isolation-within-a-basic-security-group).
* Groups are stateful: replies of an admitted connection pass both ways.
* A group rule (SourceGroupId / DestGroupId) stands for the private addresses
  of the instances in that group.
* The VPC's resolver (100.100.2.136 and 100.100.2.138) answers whatever the
  egress rules say. Alibaba's documents found do not state it; it is how the
  resolver of a VPC behaves on the clouds that do (AWS: "Security groups cannot
  block DNS requests to or from the Route 53 Resolver"), and a basic group's
  default egress allows it anyway. Its packets are sent to the emulator's DNS
  server of the VPC by a DNAT rule in the same namespace.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .state import Instance, SecurityGroup

RESOLVER_ADDRESSES = ("100.100.2.136", "100.100.2.138")
HTTPS_PORT = 443
FILTER_TABLE = "alicloud_emulator"  # inet: input and output filter
DNS_TABLE = "alicloud_emulator_dns"  # ip: the resolver's and the OSS data plane's DNAT
PROTOCOLS = ("TCP", "UDP", "ICMP", "GRE", "ALL")


@dataclass(frozen=True)
class FirewallRule:
    """One security group rule as the firewall applies it."""

    group_id: str
    rule_id: str
    direction: str  # ingress | egress
    protocol: str  # TCP UDP ICMP GRE ALL
    port_range: str  # "22/22", "1/65535", "-1/-1"
    peer_cidr: str = ""  # the source (ingress) or destination (egress) block
    peer_group: str = ""  # or the group whose members' private addresses are the peer
    policy: str = "accept"  # accept | drop
    priority: int = 1
    source_port_range: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("ingress", "egress"):
            raise ValueError(f"direction {self.direction!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol {self.protocol!r}")
        if self.policy not in ("accept", "drop"):
            raise ValueError(f"policy {self.policy!r}")
        if bool(self.peer_cidr) == bool(self.peer_group):
            # An egress rule without a destination is refused by the API; an
            # ingress rule too. Nothing here may mean "from anywhere" by omission.
            raise ValueError("a rule names exactly one of a CIDR block and a group")
        if not 1 <= self.priority <= 100:
            raise ValueError(f"priority {self.priority}")

    @property
    def order(self) -> tuple[int, int]:
        """Sort key: priority first, then Drop before Accept."""
        return (self.priority, 0 if self.policy == "drop" else 1)


@dataclass(frozen=True)
class Resolver:
    """Where the DNAT sends the instance's queries to 100.100.2.136/138:53."""

    address: str
    udp_port: int
    tcp_port: int


@dataclass(frozen=True)
class OssTarget:
    """Where the DNAT sends the instance's HTTPS requests to the OSS endpoints' address."""

    address: str
    port: int


@dataclass(frozen=True)
class InterfaceFirewall:
    """Everything the ruleset of one network interface depends on."""

    rules: tuple[FirewallRule, ...]
    # Members of the groups named by group rules: group ID -> private addresses.
    peers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Members of the interface's basic groups with InnerAccessPolicy Accept.
    inner: frozenset[str] = frozenset()
    default_egress: str = "accept"  # basic groups: accept; enterprise: drop
    resolver: Resolver | None = None
    # The OSS data plane: HTTPS to this address on 443 goes to its port (the emulator's
    # listener), so OSS endpoints need no port while the emulator binds any free one.
    oss: OssTarget | None = None
    # An associated EIP and the private address it maps to: Alibaba's EIP is a 1:1 NAT
    # to the private address, so services bound to that address answer on the EIP.
    eip: str | None = None
    private_ip: str | None = None


def ordered(rules: Iterable[FirewallRule], direction: str) -> list[FirewallRule]:
    """The rules of one direction in the order the cloud evaluates them (stable)."""
    return sorted((r for r in rules if r.direction == direction), key=lambda r: r.order)


def interface_firewall(
    instance: Instance,
    groups: Mapping[str, SecurityGroup],
    instances: Iterable[Instance],
    resolver: Resolver | None,
    oss: OssTarget | None = None,
    eip: str | None = None,
) -> InterfaceFirewall:
    """The firewall of ``instance``'s primary interface, from the emulator's state."""
    own = [groups[g] for g in instance.security_group_ids if g in groups]
    members: dict[str, set[str]] = {}
    for other in instances:
        if other.vpc_id != instance.vpc_id:
            continue
        for group_id in other.security_group_ids:
            members.setdefault(group_id, set()).add(other.private_ip)
    rules = []
    for group in own:
        for rule in group.rules:
            ingress = rule.direction == "ingress"
            rules.append(
                FirewallRule(
                    group_id=group.id,
                    rule_id=rule.id,
                    direction=rule.direction,
                    protocol=rule.protocol,
                    port_range=rule.port_range,
                    peer_cidr=rule.source_cidr if ingress else rule.dest_cidr,
                    peer_group=rule.source_group if ingress else rule.dest_group,
                    policy=rule.policy.lower(),
                    priority=rule.priority,
                    source_port_range=rule.source_port_range,
                )
            )
    peers = {r.peer_group: frozenset(members.get(r.peer_group, ())) for r in rules if r.peer_group}
    inner: set[str] = set()
    for group in own:
        if group.group_type == "normal" and group.inner_access_policy == "Accept":
            inner |= members.get(group.id, set())
    inner.discard(instance.private_ip)
    basic = bool(own) and all(g.group_type == "normal" for g in own)
    return InterfaceFirewall(
        rules=tuple(rules),
        peers=peers,
        inner=frozenset(inner),
        default_egress="accept" if basic else "drop",
        resolver=resolver,
        oss=oss,
        eip=eip,
        private_ip=instance.private_ip,
    )


# --------------------------------------------------------------------------- rendering


def _set_name(group_id: str) -> str:
    return "peers_" + re.sub(r"[^A-Za-z0-9_]", "_", group_id)


def _addresses(addresses: Iterable[str]) -> str:
    ordered_addresses = sorted(addresses, key=ipaddress.IPv4Address)
    return ", ".join(ordered_addresses)


def _ports(port_range: str) -> str:
    low, _, high = port_range.partition("/")
    return low if low == high else f"{low}-{high}"


def _match(rule: FirewallRule) -> str:
    """The nft expression matching the rule's packets (without the verdict)."""
    parts: list[str] = []
    field_ = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.peer_group:
        parts.append(f"ip {field_} @{_set_name(rule.peer_group)}")
    elif ipaddress.IPv4Network(rule.peer_cidr).prefixlen == 0:
        parts.append("meta nfproto ipv4")  # 0.0.0.0/0: every IPv4 address
    else:
        parts.append(f"ip {field_} {ipaddress.IPv4Network(rule.peer_cidr)}")
    protocol = rule.protocol.lower()
    if protocol in ("tcp", "udp"):
        if rule.source_port_range and rule.source_port_range != "-1/-1":
            parts.append(f"{protocol} sport {_ports(rule.source_port_range)}")
        parts.append(f"{protocol} dport {_ports(rule.port_range)}")
    elif protocol in ("icmp", "gre"):
        parts.append(f"meta l4proto {protocol}")
    return " ".join(parts)


def _rule_lines(rules: Sequence[FirewallRule]) -> list[str]:
    return [f'{_match(r)} {r.policy} comment "{r.group_id} {r.rule_id}"' for r in rules]


def render_ruleset(firewall: InterfaceFirewall) -> str:
    """The ``nft -f`` text: replaces the emulator's tables atomically, touches nothing else
    (Docker keeps its own NAT rules for its embedded DNS in the same namespace)."""
    ingress = ordered(firewall.rules, "ingress")
    egress = ordered(firewall.rules, "egress")
    lines = [
        f"table inet {FILTER_TABLE}",
        f"delete table inet {FILTER_TABLE}",
        f"table inet {FILTER_TABLE} {{",
    ]
    for group_id in sorted(firewall.peers):
        lines.append(f"\tset {_set_name(group_id)} {{")
        lines.append("\t\ttype ipv4_addr")
        if firewall.peers[group_id]:
            lines.append(f"\t\telements = {{ {_addresses(firewall.peers[group_id])} }}")
        lines.append("\t}")
    lines.append("\tset inner {")
    lines.append("\t\ttype ipv4_addr")
    if firewall.inner:
        lines.append(f"\t\telements = {{ {_addresses(firewall.inner)} }}")
    lines.append("\t}")
    lines += [
        "\tchain ingress {",
        "\t\ttype filter hook input priority filter; policy drop;",
        '\t\tiif "lo" accept',
        "\t\tct state established,related accept",
        "\t\tct state invalid drop",
        '\t\tip saddr @inner accept comment "InnerAccessPolicy Accept"',
        *(f"\t\t{line}" for line in _rule_lines(ingress)),
        "\t}",
        "\tchain egress {",
        f"\t\ttype filter hook output priority filter; policy {firewall.default_egress};",
        '\t\toif "lo" accept',
        "\t\tct state established,related accept",
    ]
    if firewall.resolver is not None:
        resolver = ", ".join(RESOLVER_ADDRESSES)
        lines.append(f'\t\tct original ip daddr {{ {resolver} }} accept comment "VPC resolver"')
    lines += [
        '\t\tip daddr @inner accept comment "InnerAccessPolicy Accept"',
        *(f"\t\t{line}" for line in _rule_lines(egress)),
        "\t}",
        "}",
        f"table ip {DNS_TABLE}",
        f"delete table ip {DNS_TABLE}",
    ]
    nat: list[str] = []
    if firewall.resolver is not None:
        target = firewall.resolver
        resolver = ", ".join(RESOLVER_ADDRESSES)
        nat += [
            f"\t\tip daddr {{ {resolver} }} udp dport 53 dnat to "
            f"{target.address}:{target.udp_port}",
            f"\t\tip daddr {{ {resolver} }} tcp dport 53 dnat to "
            f"{target.address}:{target.tcp_port}",
        ]
    if firewall.oss is not None and firewall.oss.port != HTTPS_PORT:
        nat.append(
            f"\t\tip daddr {firewall.oss.address} tcp dport {HTTPS_PORT} dnat to "
            f"{firewall.oss.address}:{firewall.oss.port}"
        )
    eip_nat = (
        [f"\t\tip daddr {firewall.eip} dnat to {firewall.private_ip}"]
        if firewall.eip and firewall.private_ip
        else []
    )
    if nat or eip_nat:
        lines.append(f"table ip {DNS_TABLE} {{")
        if nat:
            lines += [
                "\tchain output {",
                "\t\ttype nat hook output priority -100; policy accept;",
                *nat,
                "\t}",
            ]
        if eip_nat:
            lines += [
                "\tchain prerouting {",
                "\t\ttype nat hook prerouting priority -100; policy accept;",
                *eip_nat,
                "\t}",
            ]
        lines.append("}")
    return "\n".join(lines) + "\n"
