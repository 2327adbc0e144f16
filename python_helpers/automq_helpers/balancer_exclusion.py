"""Keep brokers out of AutoMQ's AutoBalancer and out of its leader choice.

AutoMQ's controllers read ``autobalancer.controller.exclude.broker.ids`` (a list of
node IDs, reconfigurable at run time: AutoMQ's AutoBalancerControllerConfig.java, applied
by AnomalyDetectorImpl.reconfigure). The balancer moves no partition onto an excluded
broker, and when a broker shuts down, the controller picks the new home of each of its
partitions among the active brokers that are not excluded
(LoadAwarePartitionLeaderSelector). A decommission excludes the leaving brokers first,
so their partitions go to brokers that stay, and the balancer never moves any back.

The value is set cluster-wide as a dynamic broker setting, which replaces the one of the
nodes' files; a change starts from the value in effect on a broker. Kafka's releases (the
test package) do not define the setting: a broker lists every setting its release
defines (and one set dynamically that it does not define, of unknown type), so that
tells whether there is an AutoBalancer to keep away.

Runs on the hosts: standard library only, Python 3.8.
"""

# ruff: noqa: UP006, UP035, UP045 (typing names: the hosts run Python 3.8)

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

from .kafka_admin import CONFIG_TYPE_UNKNOWN, ConfigEntry, KafkaAdmin, wait_until

EXCLUDE_BROKER_IDS = "autobalancer.controller.exclude.broker.ids"


def parse_broker_ids(value: Optional[str], where: str) -> List[int]:
    """The node IDs of a comma-separated list (spaces allowed, empty entries skipped).

    Raises ValueError, naming ``where``, for anything that is not a node ID."""
    ids: List[int] = []
    for part in (value or "").split(","):
        text = part.strip()
        if not text:
            continue
        if not text.isdigit():
            raise ValueError(
                f"{EXCLUDE_BROKER_IDS} in {where} is {value!r}: {text!r} is not a node ID. "
                "Correct it (a comma-separated list of node IDs) and run again."
            )
        if int(text) not in ids:
            ids.append(int(text))
    return ids


@dataclass(frozen=True)
class ExclusionPlan:
    supported: bool  # whether the release defines the setting (AutoMQ's does, Kafka's not)
    previous: Tuple[int, ...]
    excluded: Tuple[int, ...]
    value: Optional[str]  # what to set cluster-wide; None when nothing changes


def plan_exclusion(in_effect: Optional[ConfigEntry], brokers: Iterable[int]) -> ExclusionPlan:
    """Add ``brokers`` to the list in effect on a broker (``in_effect``: its entry of
    the setting; None, or of unknown type, when its release does not define it)."""
    if in_effect is None or in_effect.config_type == CONFIG_TYPE_UNKNOWN:
        return ExclusionPlan(False, (), (), None)
    previous = parse_broker_ids(in_effect.value, "the brokers' settings")
    excluded = previous + sorted({int(b) for b in brokers} - set(previous))
    value = None if excluded == previous else ",".join(str(b) for b in excluded)
    return ExclusionPlan(True, tuple(previous), tuple(excluded), value)


def exclude_brokers(
    admin: KafkaAdmin,
    node_id: int,
    brokers: Iterable[int],
    apply: bool = True,
    wait_timeout: float = 30.0,
) -> ExclusionPlan:
    """Read the list in effect on broker ``node_id`` (the one ``admin`` talks to); when it
    lacks one of ``brokers``, set the list with them added cluster-wide (unless ``apply``
    is false: check mode) and wait until that broker has it in effect."""
    wanted = set(int(b) for b in brokers)
    plan = plan_exclusion(admin.broker_config(str(node_id), EXCLUDE_BROKER_IDS), wanted)
    if not apply or plan.value is None:
        return plan
    admin.set_cluster_broker_config(EXCLUDE_BROKER_IDS, plan.value)

    def still_missing() -> Optional[str]:
        now = plan_exclusion(admin.broker_config(str(node_id), EXCLUDE_BROKER_IDS), wanted)
        if now.value is None:
            return None
        return (
            f"node {node_id} still excludes {list(now.previous)}: does a per-node setting "
            "override it (kafka-configs.sh --describe --entity-type brokers "
            f"--entity-name {node_id})?"
        )

    wait_until(
        still_missing,
        wait_timeout,
        f"{EXCLUDE_BROKER_IDS}={plan.value}, set cluster-wide, did not take effect",
    )
    return plan
