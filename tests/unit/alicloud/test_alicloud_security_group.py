"""Tests for automq_helpers.alicloud.security_group."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.alicloud.security_group import (
    MANAGED_MARKER,
    ActualRule,
    IngressRule,
    RuleError,
    automq_ingress_rules,
    parse_rule,
    plan_rules,
    rule_from_api,
)

SG = "sg-cluster"


def test_parse_rule_normalizes():
    rule = parse_rule({"ports": 9092, "cidr": "10.0.1.7/16", "description": "clients"})
    assert rule == IngressRule("TCP", "9092/9092", "10.0.0.0/16", "", "accept", 1, "clients")
    assert parse_rule({"ports": "9092-9093", "cidr": "1.2.3.4"}).port_range == "9092/9093"
    assert parse_rule({"ports": "80/81", "cidr": "1.2.3.4"}).source_cidr == "1.2.3.4/32"
    icmp = parse_rule({"protocol": "icmp", "cidr": "10.0.0.0/8"})
    assert icmp.port_range == "-1/-1"
    group = parse_rule({"ports": 9093, "source_group": "self", "priority": 5, "policy": "Drop"})
    assert (group.source_group_id, group.priority, group.policy) == ("self", 5, "drop")
    assert group.resolve(SG).source_group_id == SG


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"ports": 22, "cidr": "0.0.0.0/0"}, "whole Internet"),
        ({"ports": 22, "cidr": "::/0"}, "whole Internet"),
        ({"ports": 22}, "exactly one of cidr and source_group"),
        ({"ports": 22, "cidr": "10.0.0.0/8", "source_group": "self"}, "exactly one"),
        ({"ports": 22, "cidr": "10.0.0.300/8"}, "not an IP address"),
        ({"cidr": "10.0.0.0/8"}, "ports is required"),
        ({"ports": "0", "cidr": "10.0.0.0/8"}, "within 1-65535"),
        ({"ports": "90-80", "cidr": "10.0.0.0/8"}, "low to high"),
        ({"ports": "http", "cidr": "10.0.0.0/8"}, "not a port"),
        ({"protocol": "icmp", "ports": 8, "cidr": "10.0.0.0/8"}, "takes no ports"),
        ({"protocol": "sctp", "ports": 8, "cidr": "10.0.0.0/8"}, "protocol must be"),
        ({"ports": 1, "source_group": "default"}, "security group ID"),
        ({"ports": 1, "cidr": "10.0.0.0/8", "priority": 101}, "1-100"),
        ({"ports": 1, "cidr": "10.0.0.0/8", "policy": "allow"}, "accept or drop"),
        ({"ports": 1, "cidr": "10.0.0.0/8", "port": 2}, "unknown keys port"),
    ],
)
def test_parse_rule_refuses(raw, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(raw)


def test_world_open_only_when_asked():
    rule = parse_rule({"ports": 8080, "cidr": "0.0.0.0/0"}, allow_world=True)
    assert rule.source_cidr == "0.0.0.0/0"


def test_to_api_marks_the_rule_as_managed():
    fields = parse_rule({"ports": 22, "cidr": "192.0.2.0/24", "description": "SSH"}).to_api()
    assert fields == {
        "ip_protocol": "TCP",
        "port_range": "22/22",
        "source_cidr_ip": "192.0.2.0/24",
        "policy": "accept",
        "priority": "1",
        "description": "automq-ansible: SSH",
    }
    group = parse_rule({"ports": 9093, "source_group": "self"}).resolve(SG).to_api()
    assert group["source_group_id"] == SG
    assert group["description"] == MANAGED_MARKER
    v6 = parse_rule({"ports": 9092, "cidr": "2001:db8::/32"}).to_api()
    assert v6["ipv_6source_cidr_ip"] == "2001:db8::/32"


def api_permission(**overrides):
    permission = {
        "Direction": "ingress",
        "IpProtocol": "TCP",
        "PortRange": "9092/9092",
        "SourceCidrIp": "10.0.0.0/16",
        "SourceGroupId": "",
        "Policy": "Accept",
        "Priority": "1",
        "Description": "automq-ansible: Kafka clients",
        "SecurityGroupRuleId": "sgr-1",
    }
    permission.update(overrides)
    return permission


def test_rule_from_api_round_trips_what_the_module_sends():
    desired = parse_rule({"ports": 9092, "cidr": "10.0.0.0/16", "description": "Kafka clients"})
    actual = rule_from_api(api_permission())
    assert actual == ActualRule(desired, True, "sgr-1")
    assert actual.rule.identity() == desired.identity()


def test_rule_from_api_skips_egress_and_recognizes_foreign_rules():
    assert rule_from_api(api_permission(Direction="egress")) is None
    assert rule_from_api(api_permission(IpProtocol="weird")) is None
    assert rule_from_api(api_permission(SourceCidrIp="", SourceGroupId="")) is None
    foreign = rule_from_api(api_permission(Description="opened by hand"))
    assert foreign is not None
    assert not foreign.managed
    assert foreign.rule.description == "opened by hand"
    all_ports = rule_from_api(api_permission(IpProtocol="ALL", PortRange="1/65535"))
    assert all_ports is not None
    assert all_ports.rule.port_range == "-1/-1"


def test_plan_adds_missing_revokes_stale_managed_and_keeps_foreign():
    desired = [
        parse_rule({"ports": 9092, "cidr": "10.0.0.0/16"}),
        parse_rule({"ports": 9093, "source_group": "self"}).resolve(SG),
    ]
    actual = [
        rule_from_api(api_permission()),  # wanted, present
        rule_from_api(api_permission(PortRange="22/22", SourceCidrIp="0.0.0.0/0")),  # stale
        rule_from_api(api_permission(PortRange="80/80", Description="manual")),  # foreign
    ]
    plan = plan_rules(desired, actual)
    assert plan.add == (desired[1],)
    assert [a.rule.port_range for a in plan.revoke] == ["22/22"]
    assert [a.rule.port_range for a in plan.keep] == ["9092/9092", "80/80"]
    assert plan.changed
    purge = plan_rules(desired, actual, purge_foreign=True)
    assert sorted(a.rule.port_range for a in purge.revoke) == ["22/22", "80/80"]


def test_plan_refuses_unresolved_self():
    with pytest.raises(ValueError, match="resolve"):
        plan_rules([parse_rule({"ports": 9093, "source_group": "self"})], [])


def summary(rules):
    parsed = [parse_rule(r) for r in rules]  # none opens to the world: parse_rule would refuse
    return [(r.port_range, r.source_cidr or r.source_group_id) for r in parsed]


def test_automq_ingress_rules_of_the_nodes_are_least_privilege():
    rules = automq_ingress_rules(
        vpc_cidr="10.0.0.0/16",
        client_cidrs=["10.1.0.0/16", "10.0.0.0/16"],
        admin_cidrs=["203.0.113.7/32"],
        console_group="sg-console",
    )
    assert summary(rules) == [
        ("9092/9092", "10.0.0.0/16"),
        ("9092/9092", "10.1.0.0/16"),
        # Between the nodes: Kafka, the controllers, the inter-broker TLS listener.
        ("9092/9092", "self"),
        ("9093/9093", "self"),
        ("9094/9094", "self"),
        # The console: SSH jumps, its Kafka client and quorum view, its Prometheus.
        ("22/22", "sg-console"),
        ("9092/9092", "sg-console"),
        ("9093/9093", "sg-console"),
        ("9464/9464", "sg-console"),
        ("9404/9404", "sg-console"),
        ("22/22", "203.0.113.7/32"),
    ]
    assert all(r["protocol"] == "tcp" for r in rules)


def test_automq_ingress_rules_ports_are_parameters():
    rules = automq_ingress_rules(
        vpc_cidr="10.0.0.0/16",
        console_group="sg-c",
        kafka_port=19092,
        controller_port=19093,
        inter_broker_port=19094,
        metrics_ports=[9464, 9464],
    )
    assert summary(rules) == [
        ("19092/19092", "10.0.0.0/16"),
        ("19092/19092", "self"),
        ("19093/19093", "self"),
        ("19094/19094", "self"),
        ("22/22", "sg-c"),
        ("19092/19092", "sg-c"),
        ("19093/19093", "sg-c"),
        ("9464/9464", "sg-c"),
    ]
    with pytest.raises(RuleError, match="not a TCP port"):
        automq_ingress_rules(vpc_cidr="10.0.0.0/16", inter_broker_port=70000)


def test_automq_ingress_rules_of_the_console_open_ssh_and_the_console_only():
    rules = automq_ingress_rules(
        vpc_cidr="10.0.0.0/16",
        client_cidrs=["10.1.0.0/16"],
        admin_cidrs=["203.0.113.7/32", "198.51.100.0/24"],
        console_port=8080,
        console_group="sg-console",
        target="console",
    )
    assert summary(rules) == [
        ("22/22", "203.0.113.7/32"),
        ("8080/8080", "203.0.113.7/32"),
        ("22/22", "198.51.100.0/24"),
        ("8080/8080", "198.51.100.0/24"),
    ]
    with pytest.raises(RuleError, match="nodes or console"):
        automq_ingress_rules(vpc_cidr="10.0.0.0/16", target="brokers")


def test_the_public_listener_opens_to_the_public_client_cidrs_only():
    rules = automq_ingress_rules(
        vpc_cidr="10.0.0.0/16",
        public_client_cidrs=["203.0.113.0/24", "198.51.100.7/32", "203.0.113.0/24"],
    )
    assert summary(rules) == [
        ("9092/9092", "10.0.0.0/16"),
        ("9095/9095", "203.0.113.0/24"),
        ("9095/9095", "198.51.100.7/32"),
        ("9092/9092", "self"),
        ("9093/9093", "self"),
        ("9094/9094", "self"),
    ]
    # Without public clients the port is closed to everyone, whatever its number.
    assert "9095/9095" not in [
        port
        for port, _ in summary(
            automq_ingress_rules(vpc_cidr="10.0.0.0/16", client_cidrs=["10.1.0.0/16"])
        )
    ]
    assert summary(
        automq_ingress_rules(
            vpc_cidr="10.0.0.0/16", public_client_cidrs=["203.0.113.0/24"], external_port=19095
        )
    )[1] == ("19095/19095", "203.0.113.0/24")
    for taken in (22, 9092, 9093, 9094):
        with pytest.raises(RuleError, match="a port of its own"):
            automq_ingress_rules(
                vpc_cidr="10.0.0.0/16", public_client_cidrs=["203.0.113.0/24"], external_port=taken
            )
    with pytest.raises(RuleError, match="public client CIDR"):
        automq_ingress_rules(vpc_cidr="10.0.0.0/16", public_client_cidrs=["203.0.113.0/33"])


def test_automq_ingress_rules_without_admin_or_console_have_no_ssh():
    rules = automq_ingress_rules(vpc_cidr="10.0.0.0/16")
    assert [r["ports"] for r in rules] == [9092, 9092, 9093, 9094]
    assert 22 not in [r["ports"] for r in rules]


@given(
    admins=st.lists(st.sampled_from(["203.0.113.7/32", "198.51.100.0/24", "10.9.0.0/16"])),
    clients=st.lists(st.sampled_from(["10.1.0.0/16", "10.2.0.0/16"])),
    publics=st.lists(st.sampled_from(["203.0.113.0/24", "192.0.2.8/32"])),
    console=st.sampled_from([None, "sg-console"]),
    target=st.sampled_from(["nodes", "console"]),
)
def test_automq_ingress_rules_never_open_ssh_or_the_controller_to_a_client(
    admins, clients, publics, console, target
):
    """Whatever the inputs: SSH only from admins and the console's group, the controller
    and inter-broker ports only from the group itself and the console, the public
    listener only from the public clients (and they reach nothing else), nothing from
    0.0.0.0/0, no duplicate rule."""
    rules = [
        parse_rule(r)
        for r in automq_ingress_rules(
            vpc_cidr="10.0.0.0/16",
            client_cidrs=clients,
            public_client_cidrs=publics,
            admin_cidrs=admins,
            console_port=8080,
            console_group=console,
            target=target,
        )
    ]
    assert len({r.identity() for r in rules}) == len(rules)
    for rule in rules:
        source = rule.source_cidr or rule.source_group_id
        if rule.port_range in ("22/22", "8080/8080"):
            assert source in {*admins, "sg-console"}
            assert rule.port_range == "22/22" or source in admins
        if rule.port_range in ("9093/9093", "9094/9094", "9464/9464", "9404/9404"):
            assert source in ("self", "sg-console")
        assert (rule.port_range == "9095/9095") == (source in publics)
        assert target == "nodes" or source in admins


cidrs = st.builds(
    lambda a, b, n: f"10.{a}.{b}.0/{n}",
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(16, 24),
)
rules = st.builds(
    lambda port, cidr: parse_rule({"ports": port, "cidr": cidr}),
    st.integers(1, 65535),
    cidrs,
)


def as_actual(rule, managed=True):
    return ActualRule(rule, managed)


@settings(max_examples=200, deadline=None)
@given(
    desired=st.lists(rules, max_size=8),
    managed=st.lists(rules, max_size=8),
    foreign=st.lists(rules, max_size=8),
)
def test_applying_a_plan_converges(desired, managed, foreign):
    actual = [as_actual(r) for r in managed] + [as_actual(r, managed=False) for r in foreign]
    plan = plan_rules(desired, actual)
    revoked = {id(a) for a in plan.revoke}
    after = [a for a in actual if id(a) not in revoked] + [as_actual(r) for r in plan.add]
    wanted = {r.identity() for r in desired}
    present = {a.rule.identity() for a in after}
    assert wanted <= present
    # Only foreign rules may remain beyond the desired ones.
    for item in after:
        assert item.rule.identity() in wanted or not item.managed
    # Foreign rules are never revoked without purge_foreign.
    assert all(a.managed for a in plan.revoke)
    # A second plan has nothing left to do.
    assert not plan_rules(desired, after).changed


def test_a_migration_keeps_the_plaintext_ports_open_beside_the_secure_ones():
    """During a migration to secure (README, "Migrating a plaintext cluster") the
    plaintext listeners keep their former ports (here 9092 and 9093) while the secure
    ones take new ones (9192, 9193): both open, to the same sources each."""
    rules = automq_ingress_rules(
        vpc_cidr="10.0.0.0/16",
        client_cidrs=["10.1.0.0/16"],
        console_group="sg-c",
        kafka_port=9192,
        controller_port=9193,
        migration_kafka_port=9092,
        migration_controller_port=9093,
    )
    assert summary(rules) == [
        ("9192/9192", "10.0.0.0/16"),
        ("9092/9092", "10.0.0.0/16"),
        ("9192/9192", "10.1.0.0/16"),
        ("9092/9092", "10.1.0.0/16"),
        ("9192/9192", "self"),
        ("9092/9092", "self"),
        ("9193/9193", "self"),
        ("9093/9093", "self"),
        ("9094/9094", "self"),
        ("22/22", "sg-c"),
        ("9192/9192", "sg-c"),
        ("9092/9092", "sg-c"),
        ("9193/9193", "sg-c"),
        ("9093/9093", "sg-c"),
        ("9464/9464", "sg-c"),
        ("9404/9404", "sg-c"),
    ]
    # The controllers' ports never open to clients; the public listener needs a port
    # of its own, a migration's ports included.
    assert {source for port, source in summary(rules) if port == "9093/9093"} == {"self", "sg-c"}
    with pytest.raises(RuleError, match="a port of its own"):
        automq_ingress_rules(
            vpc_cidr="10.0.0.0/16",
            public_client_cidrs=["203.0.113.0/24"],
            kafka_port=9192,
            migration_kafka_port=9095,
        )
    # Without a migration (None, or 0 through the filter) nothing more opens.
    assert summary(automq_ingress_rules(vpc_cidr="10.0.0.0/16")) == summary(
        automq_ingress_rules(
            vpc_cidr="10.0.0.0/16", migration_kafka_port=None, migration_controller_port=None
        )
    )
