"""Security groups -> nftables rulesets (tests/alicloud_emulator/firewall.py), pure.

The ruleset text is checked line by line for what each Alibaba semantic turns
into; ``test_rulesets_load_into_nft`` (test bed: needs nft and root) proves the
real nft accepts them, in a throwaway network namespace.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.alicloud_emulator.firewall import (
    FirewallRule,
    InterfaceFirewall,
    Resolver,
    interface_firewall,
    ordered,
    render_ruleset,
)
from tests.alicloud_emulator.state import Instance, Rule, SecurityGroup

RESOLVER = Resolver("10.213.64.1", 40001, 40002)


def rule(rule_id: str, **kw) -> FirewallRule:
    fields = {"group_id": "sg-a", "direction": "ingress", "protocol": "TCP", "port_range": "22/22"}
    fields.update(kw)
    if "peer_group" not in fields:
        fields.setdefault("peer_cidr", "10.0.0.0/8")
    return FirewallRule(rule_id=rule_id, **fields)


def chain(ruleset: str, name: str) -> list[str]:
    """The lines of one chain, without indentation."""
    lines = [line.strip() for line in ruleset.splitlines()]
    start = lines.index(f"chain {name} {{")
    return lines[start + 1 : lines.index("}", start)]


def instance(instance_id: str, ip: str, groups: list[str], vpc: str = "vpc-1") -> Instance:
    return Instance(
        id=instance_id, region="cn-hangzhou", zone_id="z", name=instance_id, hostname="h",
        description="", image_id="img", instance_type="ecs.g7.large", vpc_id=vpc,
        vswitch_id="vsw", private_ip=ip, security_group_ids=groups, key_pair_name="",
        tags={}, system_disk={}, data_disks=[], bandwidth_out=0, public_ip="", user_data="",
    )  # fmt: skip


def state_rule(rule_id: str, direction: str = "ingress", **kw) -> Rule:
    fields = dict(
        protocol="TCP", port_range="22/22", source_cidr="", source_group="", dest_cidr="",
        dest_group="", policy="Accept", priority=1, nic_type="intranet", description="",
    )  # fmt: skip
    fields.update(kw)
    return Rule(id=rule_id, direction=direction, **fields)


def group(group_id: str, rules: list[Rule], kind: str = "normal", inner: str = "") -> SecurityGroup:
    return SecurityGroup(
        id=group_id, region="cn-hangzhou", vpc_id="vpc-1", name=group_id, description="",
        group_type=kind, tags={}, rules=rules,
        inner_access_policy=inner or ("Accept" if kind == "normal" else "Drop"),
    )  # fmt: skip


# --------------------------------------------------------------------------- ordering


def test_priority_first_then_drop_before_accept_across_groups() -> None:
    rules = [
        rule("accept-5", priority=5),
        rule("drop-5", priority=5, policy="drop", group_id="sg-b"),
        rule("accept-1", priority=1, group_id="sg-b"),
        rule("drop-100", priority=100, policy="drop"),
        rule("egress", direction="egress"),
    ]
    assert [r.rule_id for r in ordered(rules, "ingress")] == [
        "accept-1",
        "drop-5",
        "accept-5",
        "drop-100",
    ]
    assert [r.rule_id for r in ordered(rules, "egress")] == ["egress"]


@given(
    st.lists(
        st.tuples(st.integers(1, 100), st.sampled_from(["accept", "drop"])), min_size=1, max_size=30
    )
)
def test_ordering_is_a_stable_sort_by_priority_then_drop(specs) -> None:
    rules = [rule(f"r{i}", priority=p, policy=policy) for i, (p, policy) in enumerate(specs)]
    result = ordered(rules, "ingress")
    assert sorted(r.rule_id for r in result) == sorted(r.rule_id for r in rules)
    keys = [(r.priority, r.policy != "drop") for r in result]
    assert keys == sorted(keys)
    for earlier, later in itertools.pairwise(result):
        if (earlier.priority, earlier.policy) == (later.priority, later.policy):
            assert int(earlier.rule_id[1:]) < int(later.rule_id[1:])  # stable


def test_a_rule_names_exactly_one_peer_and_valid_fields() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        FirewallRule("sg", "r", "ingress", "TCP", "22/22")
    with pytest.raises(ValueError, match="exactly one"):
        FirewallRule("sg", "r", "ingress", "TCP", "22/22", peer_cidr="1.2.3.4/32", peer_group="sg")
    with pytest.raises(ValueError, match="priority"):
        rule("r", priority=101)
    with pytest.raises(ValueError, match="protocol"):
        rule("r", protocol="SCTP")
    with pytest.raises(ValueError, match="policy"):
        rule("r", policy="Accept")


# --------------------------------------------------------------------------- rendering


def test_rule_matches_cidr_group_ports_and_protocols() -> None:
    firewall = InterfaceFirewall(
        rules=(
            rule("ssh", peer_cidr="10.213.240.1/32"),
            rule(
                "range",
                protocol="UDP",
                port_range="1/65535",
                peer_cidr="10.0.0.0/16",
                source_port_range="53/53",
            ),
            rule("group", port_range="9093/9093", peer_group="sg-console"),
            rule("icmp", protocol="ICMP", port_range="-1/-1", peer_cidr="192.0.2.0/24"),
            rule("gre", protocol="GRE", port_range="-1/-1", peer_cidr="192.0.2.0/24"),
            rule(
                "world",
                protocol="ALL",
                port_range="-1/-1",
                peer_cidr="0.0.0.0/0",
                policy="drop",
                priority=100,
            ),
            rule(
                "out",
                direction="egress",
                protocol="TCP",
                port_range="443/443",
                peer_group="sg-console",
                policy="drop",
                priority=2,
            ),
        ),
        peers={"sg-console": frozenset({"10.0.0.9", "10.0.0.10"})},
    )
    text = render_ruleset(firewall)
    assert chain(text, "ingress")[5:] == [
        'ip saddr 10.213.240.1/32 tcp dport 22 accept comment "sg-a ssh"',
        'ip saddr 10.0.0.0/16 udp sport 53 udp dport 1-65535 accept comment "sg-a range"',
        'ip saddr @peers_sg_console tcp dport 9093 accept comment "sg-a group"',
        'ip saddr 192.0.2.0/24 meta l4proto icmp accept comment "sg-a icmp"',
        'ip saddr 192.0.2.0/24 meta l4proto gre accept comment "sg-a gre"',
        'meta nfproto ipv4 drop comment "sg-a world"',
    ]
    assert chain(text, "egress")[-1] == (
        'ip daddr @peers_sg_console tcp dport 443 drop comment "sg-a out"'
    )
    # The group's members, numerically sorted.
    assert "elements = { 10.0.0.9, 10.0.0.10 }" in text


def test_ingress_defaults_to_drop_and_keeps_replies_and_loopback() -> None:
    text = render_ruleset(InterfaceFirewall(rules=()))
    assert chain(text, "ingress") == [
        "type filter hook input priority filter; policy drop;",
        'iif "lo" accept',
        "ct state established,related accept",
        "ct state invalid drop",
        'ip saddr @inner accept comment "InnerAccessPolicy Accept"',
    ]
    assert chain(text, "egress")[0] == "type filter hook output priority filter; policy accept;"
    enterprise = render_ruleset(InterfaceFirewall(rules=(), default_egress="drop"))
    assert chain(enterprise, "egress")[0] == (
        "type filter hook output priority filter; policy drop;"
    )


def test_only_the_emulators_tables_are_replaced() -> None:
    text = render_ruleset(InterfaceFirewall(rules=()))
    assert "flush ruleset" not in text  # Docker's own NAT table in the namespace stays
    assert text.startswith(
        "table inet alicloud_emulator\ndelete table inet alicloud_emulator\n"
        "table inet alicloud_emulator {\n"
    )
    assert "table ip alicloud_emulator_dns\ndelete table ip alicloud_emulator_dns\n" in text


def test_the_resolver_is_dnated_and_exempt_from_egress_rules() -> None:
    firewall = InterfaceFirewall(
        rules=(
            rule(
                "no-egress",
                direction="egress",
                protocol="ALL",
                port_range="-1/-1",
                peer_cidr="0.0.0.0/0",
                policy="drop",
            ),
        ),
        resolver=RESOLVER,
    )
    text = render_ruleset(firewall)
    egress = chain(text, "egress")
    exemption = (
        'ct original ip daddr { 100.100.2.136, 100.100.2.138 } accept comment "VPC resolver"'
    )
    assert egress.index(exemption) < egress.index('meta nfproto ipv4 drop comment "sg-a no-egress"')
    assert chain(text, "output") == [
        "type nat hook output priority -100; policy accept;",
        "ip daddr { 100.100.2.136, 100.100.2.138 } udp dport 53 dnat to 10.213.64.1:40001",
        "ip daddr { 100.100.2.136, 100.100.2.138 } tcp dport 53 dnat to 10.213.64.1:40002",
    ]
    without = render_ruleset(InterfaceFirewall(rules=()))
    assert "100.100.2.136" not in without
    assert "chain output" not in without


# --------------------------------------------------------------------------- from the state


def test_state_basic_group_members_reach_each_other_and_rules_are_aggregated() -> None:
    nodes = group("sg-nodes", [state_rule("r1", source_cidr="10.213.240.1/32")])
    console = group(
        "sg-console",
        [state_rule("r2", port_range="9093/9093", source_group="sg-nodes", priority=3)],
        inner="Drop",
    )
    me = instance("i-me", "10.0.0.3", ["sg-nodes", "sg-console"])
    peer = instance("i-peer", "10.0.0.4", ["sg-nodes"])
    elsewhere = instance("i-other-vpc", "10.0.0.5", ["sg-nodes"], vpc="vpc-2")
    firewall = interface_firewall(
        me, {g.id: g for g in (nodes, console)}, [me, peer, elsewhere], RESOLVER
    )
    assert [r.rule_id for r in ordered(firewall.rules, "ingress")] == ["r1", "r2"]
    assert firewall.inner == frozenset({"10.0.0.4"})  # not itself, not another VPC's
    assert firewall.peers == {"sg-nodes": frozenset({"10.0.0.3", "10.0.0.4"})}
    assert firewall.default_egress == "accept"
    assert firewall.resolver == RESOLVER


def test_state_isolating_groups_and_enterprise_groups() -> None:
    isolated = group("sg-iso", [state_rule("r1", port_range="9092/9092", source_group="sg-iso")],
                     inner="Drop")  # fmt: skip
    me = instance("i-me", "10.0.0.3", ["sg-iso"])
    peer = instance("i-peer", "10.0.0.4", ["sg-iso"])
    firewall = interface_firewall(me, {"sg-iso": isolated}, [me, peer], None)
    assert firewall.inner == frozenset()  # only the 9092 rule admits the peer
    assert firewall.peers == {"sg-iso": frozenset({"10.0.0.3", "10.0.0.4"})}

    enterprise = group("sg-ent", [state_rule("e1", "egress", dest_cidr="10.0.0.0/8")],
                       kind="enterprise")  # fmt: skip
    me = instance("i-me", "10.0.0.3", ["sg-ent"])
    firewall = interface_firewall(me, {"sg-ent": enterprise}, [me, peer], None)
    assert firewall.inner == frozenset()
    assert firewall.default_egress == "drop"  # enterprise groups deny egress by default
    (egress,) = firewall.rules
    assert (egress.direction, egress.peer_cidr) == ("egress", "10.0.0.0/8")


def test_state_one_accepting_group_wins_over_an_isolating_one() -> None:
    """Alibaba's case analysis: ECS1 and ECS2 share an isolating and an accepting group,
    and reach each other (isolation has the lowest priority)."""
    isolating = group("sg-1", [], inner="Drop")
    accepting = group("sg-2", [])
    ecs1 = instance("i-1", "10.0.0.3", ["sg-1", "sg-2"])
    ecs2 = instance("i-2", "10.0.0.4", ["sg-1", "sg-2"])
    firewall = interface_firewall(ecs1, {"sg-1": isolating, "sg-2": accepting}, [ecs1, ecs2], None)
    assert firewall.inner == frozenset({"10.0.0.4"})


def test_state_rules_of_unknown_groups_are_ignored_and_peers_may_be_empty() -> None:
    sources = group("sg-a", [state_rule("r1", source_group="sg-empty")])
    me = instance("i-me", "10.0.0.3", ["sg-a", "sg-deleted"])
    firewall = interface_firewall(me, {"sg-a": sources}, [me], None)
    assert firewall.peers == {"sg-empty": frozenset()}
    text = render_ruleset(firewall)
    assert "set peers_sg_empty {\n\t\ttype ipv4_addr\n\t}" in text


@pytest.mark.testbed
def test_rulesets_load_into_nft() -> None:
    """The real nft accepts the rulesets, loaded twice (the replace idiom) and then
    without the resolver, in a network namespace of its own (nothing else touched)."""
    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.fail("nft and unshare are needed: `make testbed` installs Debian's nftables")
    full = InterfaceFirewall(
        rules=(
            rule("ssh", peer_cidr="10.213.240.1/32"),
            rule("group", port_range="9092/9094", peer_group="sg-x"),
            rule(
                "src",
                protocol="UDP",
                port_range="1/65535",
                peer_cidr="10.0.0.0/8",
                source_port_range="53/53",
            ),
            rule("icmp", protocol="ICMP", port_range="-1/-1", peer_cidr="0.0.0.0/0"),
            rule(
                "out",
                direction="egress",
                protocol="ALL",
                port_range="-1/-1",
                peer_cidr="0.0.0.0/0",
                policy="drop",
                priority=100,
            ),
        ),
        peers={"sg-x": frozenset({"10.0.0.3"}), "sg-y": frozenset()},
        inner=frozenset({"10.0.0.4"}),
        default_egress="drop",
        resolver=RESOLVER,
    )
    script = render_ruleset(full) + render_ruleset(full) + render_ruleset(InterfaceFirewall(()))
    loaded = subprocess.run(
        ["unshare", "--net", "sh", "-c", "nft -f - && nft list ruleset"],
        input=script, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert "table inet alicloud_emulator" in loaded.stdout
    assert "alicloud_emulator_dns" not in loaded.stdout  # removed with the resolver
    single = subprocess.run(
        ["unshare", "--net", "sh", "-c", "nft -f - && nft list table inet alicloud_emulator"],
        input=render_ruleset(full), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr
    assert "ip saddr @peers_sg_x tcp dport 9092-9094 accept" in single.stdout
    assert "policy drop" in single.stdout
