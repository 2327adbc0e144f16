"""Excluding leaving brokers from AutoMQ's AutoBalancer (automq_helpers.balancer_exclusion).

The test package is Apache Kafka, which does not define the setting, so the decommission
scenario sees only the unsupported path; the AutoMQ path is proven here against a fake
admin that keeps the setting as a broker does (the change shows after a delay).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.balancer_exclusion import (
    EXCLUDE_BROKER_IDS,
    ExclusionPlan,
    exclude_brokers,
    parse_broker_ids,
    plan_exclusion,
)
from automq_helpers.kafka_admin import ConfigEntry
from automq_helpers.kafka_probe import ProbeError

LIST, UNKNOWN = 7, 0
DEFAULT_SOURCE, DYNAMIC_DEFAULT_SOURCE = 5, 4


def entry(value: str | None, config_type: int = LIST) -> ConfigEntry:
    return ConfigEntry(EXCLUDE_BROKER_IDS, value, DEFAULT_SOURCE, config_type)


def test_parse_broker_ids() -> None:
    assert parse_broker_ids(None, "x") == []
    assert parse_broker_ids("", "x") == []
    assert parse_broker_ids(" 3, 1,,3 ", "x") == [3, 1]
    with pytest.raises(ValueError, match=r"in automq_server_properties_overrides is '1,b'"):
        parse_broker_ids("1,b", "automq_server_properties_overrides")


def test_a_release_without_the_setting_is_left_alone() -> None:
    """Not listed (Kafka, never set), or listed of unknown type (Kafka, set before)."""
    assert plan_exclusion(None, [4]) == ExclusionPlan(False, (), (), None)
    assert plan_exclusion(entry(None, UNKNOWN), [4]) == ExclusionPlan(False, (), (), None)


def test_the_leaving_brokers_are_added_to_what_is_excluded() -> None:
    assert plan_exclusion(entry(""), [1001, 1000]) == ExclusionPlan(
        True, (), (1000, 1001), "1000,1001"
    )
    assert plan_exclusion(entry("7"), [1000]) == ExclusionPlan(True, (7,), (7, 1000), "7,1000")
    assert plan_exclusion(entry("7,1000"), [1000]) == ExclusionPlan(
        True, (7, 1000), (7, 1000), None
    )


@given(st.lists(st.integers(0, 5000), max_size=6), st.lists(st.integers(0, 5000), max_size=4))
def test_exclusion_only_ever_adds(held: list[int], leaving: list[int]) -> None:
    plan = plan_exclusion(entry(",".join(map(str, held))), leaving)
    assert set(plan.excluded) == set(held) | set(leaving)
    assert list(plan.excluded[: len(plan.previous)]) == list(plan.previous)
    assert (plan.value is None) == set(leaving).issubset(held)


class FakeAdmin:
    """Keeps the cluster-wide value; node 0 sees it ``lag`` looks after it was set."""

    def __init__(self, value: str, config_type: int = LIST, lag: int = 1) -> None:
        self.in_effect = value
        self.config_type = config_type
        self.pending: str | None = None
        self.lag = lag
        self.sets: list[tuple[str, str]] = []

    def broker_config(self, broker: str, name: str) -> ConfigEntry | None:
        assert (broker, name) == ("0", EXCLUDE_BROKER_IDS)
        if self.pending is not None:
            if self.lag == 0:
                self.in_effect, self.pending = self.pending, None
            self.lag -= 1
        return entry(self.in_effect, self.config_type)

    def set_cluster_broker_config(self, name: str, value: str) -> None:
        self.sets.append((name, value))
        self.pending = value


def test_exclude_brokers_sets_then_waits_until_the_broker_has_it() -> None:
    admin = FakeAdmin("7", lag=2)
    plan = exclude_brokers(admin, 0, [1000])  # type: ignore[arg-type]
    assert plan == ExclusionPlan(True, (7,), (7, 1000), "7,1000")
    assert admin.sets == [(EXCLUDE_BROKER_IDS, "7,1000")]
    assert admin.in_effect == "7,1000"
    # Again: nothing to set.
    assert exclude_brokers(admin, 0, [1000]).value is None  # type: ignore[arg-type]
    assert len(admin.sets) == 1


def test_exclude_brokers_in_check_mode_and_on_kafka_sets_nothing() -> None:
    admin = FakeAdmin("")
    assert exclude_brokers(admin, 0, [1000], apply=False).value == "1000"  # type: ignore[arg-type]
    kafka = FakeAdmin("", config_type=UNKNOWN)
    assert not exclude_brokers(kafka, 0, [1000]).supported  # type: ignore[arg-type]
    assert admin.sets == kafka.sets == []


def test_exclude_brokers_names_a_setting_that_does_not_take_effect() -> None:
    admin = FakeAdmin("", lag=10**6)
    with pytest.raises(
        ProbeError,
        match=r"=1000, set cluster-wide, did not take effect within 0.05s: "
        r"node 0 still excludes \[\]: .* --entity-name 0\)\?",
    ):
        exclude_brokers(admin, 0, [1000], wait_timeout=0.05)  # type: ignore[arg-type]
