"""Tests for automq_helpers.cluster_state.merge_node_copies: the nodes' copies of the state
document stand in for a state file the Ansible machine lacks (an AWX job's fresh container)
and add the IDs retired by a run from elsewhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.cluster_state import (
    NodeCopy,
    PlanError,
    merge_node_copies,
    parse_node_spec,
    plan_cluster,
)
from automq_helpers.node_ids import IdState, NodeIdError

STATE_FILE = "inventories/prod/automq_state/prod.json"
COPY = "/var/lib/automq/cluster-state.json"
ID_A = "MkU3OEVBNTcwNTJENDM2Qg"
ID_B = "q1Sh-9_ISia_zwGINzRvyQ"


def document(
    assignments: dict[str, int], retired: tuple[int, ...] = (), cluster_id: str = ID_A
) -> dict[str, object]:
    return {
        "cluster_id": cluster_id,
        "security": "secure",
        "assignments": assignments,
        "retired": sorted(retired),
    }


def merge(local: object, *copies: tuple[str, object]) -> tuple[object, tuple[str, ...]]:
    return merge_node_copies(
        local,
        [NodeCopy(host, copy) for host, copy in copies],
        state_file=STATE_FILE,
        copy_path=COPY,
    )


# Before a decommission: three controllers and broker 1000; after it, 1000 retired.
BEFORE = document({"c1": 0, "c2": 1, "c3": 2, "b1": 1000})
AFTER = document({"c1": 0, "c2": 1, "c3": 2}, retired=(1000,))


def test_without_copies_the_state_file_is_used_as_it_is() -> None:
    assert merge(AFTER) == (AFTER, ())
    assert merge(AFTER, ("c1", None), ("c2", None)) == (AFTER, ())
    assert merge(None, ("c1", None)) == (None, ())


def test_copies_that_say_nothing_new_change_nothing() -> None:
    assert merge(AFTER, ("c1", AFTER), ("c2", BEFORE)) == (AFTER, ())


def test_a_missing_state_file_is_made_from_the_copies() -> None:
    recovered, hosts = merge(None, ("c1", AFTER), ("c2", AFTER), ("c3", None))
    assert recovered == AFTER
    assert hosts == ("c1", "c2")


def test_an_id_retired_in_any_copy_stays_retired() -> None:
    # c1 missed the decommission's update (a failed write): c2's copy still counts.
    recovered, hosts = merge(None, ("c1", BEFORE), ("c2", AFTER))
    assert recovered == AFTER
    assert hosts == ("c1", "c2")


def test_a_stale_state_file_learns_ids_retired_elsewhere() -> None:
    # The laptop's file predates a decommission an AWX job ran.
    merged, hosts = merge(BEFORE, ("c1", AFTER), ("c2", AFTER), ("c3", BEFORE))
    assert merged == AFTER
    assert hosts == ("c1", "c2")


def test_copies_never_bring_a_retired_id_back() -> None:
    old = document({"c1": 0, "c2": 1, "c3": 2, "b1": 1000, "b2": 1001})
    merged, _hosts = merge(AFTER, ("c1", old))
    assert merged == AFTER


def test_copies_that_disagree_on_a_host_leave_it_to_its_meta_properties() -> None:
    one = document({"c1": 0, "c2": 1, "c3": 2, "b1": 1000})
    other = document({"c1": 0, "c2": 1, "c3": 2, "b1": 1001})
    recovered, _hosts = merge(None, ("c1", one), ("c2", other))
    assert recovered == document({"c1": 0, "c2": 1, "c3": 2})


def test_copies_of_different_clusters_refuse_to_recover() -> None:
    with pytest.raises(PlanError) as refused:
        merge(None, ("c1", AFTER), ("x1", document({"x1": 0}, cluster_id=ID_B)))
    message = str(refused.value)
    assert f"{STATE_FILE} does not exist on this Ansible machine" in message
    assert f"{ID_A} on c1" in message
    assert f"{ID_B} on x1" in message
    assert "Nothing was changed" in message


def test_a_copy_of_another_cluster_than_the_state_file_is_refused() -> None:
    with pytest.raises(PlanError) as refused:
        merge(AFTER, ("c1", AFTER), ("x1", document({"x1": 0}, cluster_id=ID_B)))
    assert f"x1 ({ID_B}) keep(s) a copy of another cluster's state ({COPY})" in str(refused.value)


def test_a_malformed_copy_names_the_host_and_the_path() -> None:
    with pytest.raises(NodeIdError) as refused:
        merge(None, ("c1", {"cluster_id": ID_A, "assignments": {"c1": "zero"}}))
    assert f"{COPY} on c1" in str(refused.value)


def test_the_plan_from_recovered_copies_never_hands_out_a_retired_id() -> None:
    """The AWX case end to end: no state file, the three controllers formatted, a new
    broker. Without the copies it would get 1000, the ID of the decommissioned broker."""
    nodes = [
        parse_node_spec(
            {
                "host": host,
                "controller": True,
                "broker": True,
                "advertised_host": host,
                "controller_port": 9093,
                "on_host_id": node_id,
                "on_host_cluster_id": ID_A,
                "on_host_security": "secure",
            }
        )
        for host, node_id in (("c1", 0), ("c2", 1), ("c3", 2))
    ]
    nodes.append(
        parse_node_spec(
            {
                "host": "b2",
                "controller": False,
                "broker": True,
                "advertised_host": "b2",
                "controller_port": 9093,
            }
        )
    )
    without = plan_cluster(None, None, nodes, state_file=STATE_FILE)
    assert without.node_ids["b2"] == 1000
    recovered, _hosts = merge(None, *((host, AFTER) for host in ("c1", "c2", "c3")))
    planned = plan_cluster(recovered, None, nodes, state_file=STATE_FILE)
    assert planned.node_ids == {"c1": 0, "c2": 1, "c3": 2, "b2": 1001}
    assert planned.state["retired"] == [1000]


HOSTS = st.sampled_from(["c1", "c2", "c3", "b1", "b2", "b3"])
IDS = st.integers(min_value=0, max_value=1005)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, object]:
    assignments = draw(st.dictionaries(HOSTS, IDS, max_size=5))
    # One host per ID, as every valid state file has it.
    unique: dict[str, int] = {}
    for host, node_id in assignments.items():
        if node_id not in unique.values():
            unique[host] = node_id
    retired = draw(st.sets(IDS, max_size=4)) - set(unique.values())
    return document(unique, tuple(retired))


@settings(max_examples=200, deadline=None)
@given(
    local=st.none() | documents(),
    copies=st.lists(st.none() | documents(), max_size=4),
)
def test_merging_keeps_every_retired_id_and_gives_a_valid_state(
    local: dict[str, object] | None, copies: list[dict[str, object] | None]
) -> None:
    merged, hosts = merge(local, *((f"n{i}", copy) for i, copy in enumerate(copies)))
    known = [d for d in [local, *copies] if d is not None]
    if not known:
        assert merged is None
        return
    assert isinstance(merged, dict)
    # Valid (IdState checks: one host per ID, no retired ID assigned) and nothing lost.
    state = IdState.from_json({k: merged[k] for k in ("assignments", "retired")})
    every_retired = {node_id for d in known for node_id in d["retired"]}  # type: ignore[attr-defined]
    assert state.retired == every_retired
    if local is not None:
        # The state file's assignments stay unless their ID was retired elsewhere.
        kept = {h: i for h, i in local["assignments"].items() if i not in every_retired}  # type: ignore[attr-defined]
        assert dict(state.assignments) == kept
        assert (merged == local) == (hosts == ())
