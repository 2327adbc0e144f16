"""Tests for automq_helpers.alicloud.instances: names, zone spreading, extras."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.alicloud.instances import (
    DEFAULT_SUPPORTED_TYPES,
    ExistingInstance,
    InstanceError,
    VSwitchSlot,
    bandwidth_limits_from_api,
    check_instance_type,
    check_prefix,
    instance_from_api,
    plan_instances,
)

THREE_ZONES = [
    VSwitchSlot("vsw-a", "cn-hangzhou-h"),
    VSwitchSlot("vsw-b", "cn-hangzhou-i"),
    VSwitchSlot("vsw-c", "cn-hangzhou-j"),
]


def existing(name, zone, instance_id=None, status="Running"):
    return ExistingInstance(instance_id or f"i-{name}", name, zone, status=status)


def test_fresh_cluster_is_spread_round_robin():
    plan = plan_instances("automq", 5, THREE_ZONES, [])
    assert [(name, slot.vswitch_id) for name, slot in plan.create] == [
        ("automq-1", "vsw-a"),
        ("automq-2", "vsw-b"),
        ("automq-3", "vsw-c"),
        ("automq-4", "vsw-a"),
        ("automq-5", "vsw-b"),
    ]
    assert plan.keep == ()
    assert plan.extra == ()


def test_rerun_creates_nothing():
    current = [
        existing("automq-1", "cn-hangzhou-h"),
        existing("automq-2", "cn-hangzhou-i"),
        existing("automq-3", "cn-hangzhou-j"),
    ]
    plan = plan_instances("automq", 3, THREE_ZONES, current)
    assert plan.create == ()
    assert [i.name for i in plan.keep] == ["automq-1", "automq-2", "automq-3"]


def test_a_replaced_node_goes_to_the_emptiest_zone():
    current = [existing("automq-1", "cn-hangzhou-h"), existing("automq-3", "cn-hangzhou-j")]
    plan = plan_instances("automq", 3, THREE_ZONES, current)
    assert [(n, s.zone_id) for n, s in plan.create] == [("automq-2", "cn-hangzhou-i")]


def test_extras_duplicates_and_foreign_names():
    current = [
        existing("automq-1", "cn-hangzhou-h", "i-1"),
        existing("automq-1", "cn-hangzhou-i", "i-2"),  # duplicate name
        existing("automq-4", "cn-hangzhou-j"),  # above count
        existing("automq-01", "cn-hangzhou-j"),  # not our naming
        existing("other-1", "cn-hangzhou-j"),
        existing("automq-2", "cn-hangzhou-h", status="Deleted"),
    ]
    plan = plan_instances("automq", 2, THREE_ZONES, current)
    assert [i.instance_id for i in plan.keep] == ["i-1"]
    assert sorted(i.instance_id for i in plan.extra) == ["i-2", "i-automq-4"]
    assert [n for n, _ in plan.create] == ["automq-2"]


def test_count_zero_plans_nothing_and_needs_no_vswitch():
    plan = plan_instances("automq", 0, [], [existing("automq-1", "z")])
    assert plan.create == ()
    assert [i.name for i in plan.extra] == ["automq-1"]


@pytest.mark.parametrize(
    ("prefix", "count", "vswitches", "message"),
    [
        ("Automq", 1, THREE_ZONES, "name_prefix"),
        ("automq-", 1, THREE_ZONES, "name_prefix"),
        ("a" * 60, 1, THREE_ZONES, "name_prefix"),
        ("automq", -1, THREE_ZONES, "count"),
        ("automq", 1, [], "vswitch_ids is empty"),
        ("automq", 1, [THREE_ZONES[0], THREE_ZONES[0]], "twice"),
    ],
)
def test_plan_refuses(prefix, count, vswitches, message):
    with pytest.raises(InstanceError, match=message):
        plan_instances(prefix, count, vswitches, [])


def test_prefix_and_type_checks():
    assert check_prefix("a") == "a"
    assert check_prefix("automq-prod") == "automq-prod"
    assert check_instance_type("ecs.r7.large", DEFAULT_SUPPORTED_TYPES) == "ecs.r7.large"
    with pytest.raises(InstanceError, match="supported_instance_types"):
        check_instance_type("ecs.t6-c1m1.large", DEFAULT_SUPPORTED_TYPES)


def test_instance_from_api():
    item = {
        "InstanceId": "i-1",
        "InstanceName": "automq-1",
        "ZoneId": "cn-hangzhou-h",
        "Status": "Running",
        "InstanceType": "ecs.r7.large",
        "VpcAttributes": {"VSwitchId": "vsw-a", "PrivateIpAddress": {"IpAddress": ["10.0.1.5"]}},
    }
    assert instance_from_api(item) == ExistingInstance(
        "i-1", "automq-1", "cn-hangzhou-h", "vsw-a", "Running", "10.0.1.5", "ecs.r7.large"
    )
    assert instance_from_api({"InstanceId": "i-2"}).private_ip == ""


def test_bandwidth_limits_from_api():
    entries = [
        {
            "InstanceTypeId": "ecs.r7.large",
            "InstanceBandwidthRx": 2048000,
            "InstanceBandwidthTx": 1536000,
        },
        {"InstanceTypeId": "ecs.r6.large", "InstanceBandwidthRx": 1024000},  # Tx not reported
        {"InstanceTypeId": "ecs.g7.large", "InstanceBandwidthRx": 0, "InstanceBandwidthTx": 0},
        {"InstanceTypeId": "ecs.c7.large", "InstanceBandwidthRx": "1", "InstanceBandwidthTx": 1},
        {"InstanceBandwidthRx": 1, "InstanceBandwidthTx": 1},  # no name
    ]
    assert bandwidth_limits_from_api(entries) == {"ecs.r7.large": 1536000}


@given(rx=st.integers(1, 10**8), tx=st.integers(1, 10**8))
def test_the_bandwidth_limit_is_the_lower_direction(rx, tx):
    entry = {"InstanceTypeId": "t", "InstanceBandwidthRx": rx, "InstanceBandwidthTx": tx}
    assert bandwidth_limits_from_api([entry]) == {"t": min(rx, tx)}


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(0, 30),
    zones=st.integers(1, 5),
    present=st.sets(st.integers(1, 40), max_size=20),
    seed_zones=st.lists(st.integers(0, 4), min_size=40, max_size=40),
)
def test_plans_are_complete_unique_and_balanced(count, zones, present, seed_zones):
    vswitches = [VSwitchSlot(f"vsw-{z}", f"zone-{z}") for z in range(zones)]
    current = [existing(f"automq-{i}", f"zone-{seed_zones[i - 1] % zones}") for i in present]
    plan = plan_instances("automq", count, vswitches, current)
    names = [n for n, _ in plan.create] + [i.name for i in plan.keep]
    assert sorted(names) == sorted(f"automq-{i}" for i in range(1, count + 1))
    assert {i.name for i in plan.extra} == {f"automq-{i}" for i in present if i > count}
    if not plan.keep:
        per_zone = Counter(slot.zone_id for _, slot in plan.create)
        counts = [per_zone.get(v.zone_id, 0) for v in vswitches]
        assert max(counts) - min(counts) <= 1
    # Re-planning with what was created changes nothing.
    created = [existing(n, s.zone_id) for n, s in plan.create]
    again = plan_instances("automq", count, vswitches, list(plan.keep) + created)
    assert again.create == ()
