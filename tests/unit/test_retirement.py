"""Unit tests for automq_helpers.retirement: retiring decommissioned hosts' node IDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.cluster_state import NodeSpec, plan_cluster
from automq_helpers.node_ids import NodeIdError
from automq_helpers.retirement import retire_nodes

STATE_FILE = "inv/automq_state/prod.json"
DOCUMENT = {
    "cluster_id": "dqDxjycrSIbA-i4iV8WVXw",
    "assignments": {"n1": 0, "n2": 1, "n3": 2, "n4": 1000, "n5": 1001},
    "retired": [1002],
}


def test_retires_a_recorded_host():
    result = retire_nodes(DOCUMENT, {"n4": 1000}, state_file=STATE_FILE)
    assert result.retired == ("n4",)
    assert result.already_retired == ()
    assert result.document == {
        "cluster_id": "dqDxjycrSIbA-i4iV8WVXw",
        "assignments": {"n1": 0, "n2": 1, "n3": 2, "n5": 1001},
        "retired": [1000, 1002],
    }


def test_retiring_again_changes_nothing():
    first = retire_nodes(DOCUMENT, {"n4": 1000, "n5": 1001}, state_file=STATE_FILE)
    again = retire_nodes(first.document, {"n4": 1000, "n5": 1001}, state_file=STATE_FILE)
    assert again.document == first.document
    assert again.retired == ()
    assert again.already_retired == ("n4", "n5")


def test_a_host_missing_from_the_state_file_has_its_id_retired():
    result = retire_nodes(DOCUMENT, {"n9": 1003}, state_file=STATE_FILE)
    assert result.retired == ("n9",)
    assert result.document["retired"] == [1002, 1003]
    assert result.document["assignments"] == DOCUMENT["assignments"]


def test_no_state_file():
    with pytest.raises(NodeIdError, match=r"There is no state file inv/automq_state/prod\.json"):
        retire_nodes(None, {"n4": 1000}, state_file=STATE_FILE)


def test_another_id_recorded_for_the_host():
    with pytest.raises(NodeIdError) as info:
        retire_nodes(DOCUMENT, {"n4": 1005}, state_file=STATE_FILE)
    assert str(info.value).startswith(
        "inv/automq_state/prod.json records node ID 1000 for n4, but the host runs as node 1005"
    )
    assert "Nothing was retired" in str(info.value)


def test_the_id_recorded_for_another_host():
    with pytest.raises(NodeIdError, match=r"n9 runs as node 1001, but .* records that ID for n5"):
        retire_nodes(DOCUMENT, {"n9": 1001}, state_file=STATE_FILE)


def test_malformed_state_file():
    with pytest.raises(NodeIdError, match="does not hold a JSON object"):
        retire_nodes([1, 2], {"n4": 1000}, state_file=STATE_FILE)
    with pytest.raises(NodeIdError, match="malformed"):
        retire_nodes({"assignments": {"n4": "x"}}, {"n4": 1000}, state_file=STATE_FILE)


def _spec(host: str, broker_only: bool, on_host_id: int | None = None) -> NodeSpec:
    return NodeSpec(
        host=host,
        controller=not broker_only,
        broker=True,
        advertised_host=f"{host}.example",
        controller_port=9093,
        on_host_id=on_host_id,
        on_host_cluster_id="dqDxjycrSIbA-i4iV8WVXw" if on_host_id is not None else None,
    )


@given(st.integers(1, 5))
def test_a_retired_id_is_never_handed_out_again(later_hosts):
    """Scale out, decommission, scale out again: the new hosts never get the old ID."""
    controllers = [_spec(f"c{i}", False, i) for i in range(3)]
    first = plan_cluster(
        DOCUMENT
        | {"security": "secure", "assignments": {"c0": 0, "c1": 1, "c2": 2}, "retired": []},
        None,
        [*controllers, _spec("b1", True)],
        state_file=STATE_FILE,
    )
    assert first.node_ids["b1"] == 1000
    retired = retire_nodes(first.state, {"b1": 1000}, state_file=STATE_FILE)
    newcomers = [_spec(f"new{i}", True) for i in range(later_hosts)]
    later = plan_cluster(retired.document, None, [*controllers, *newcomers], state_file=STATE_FILE)
    assert sorted(later.node_ids[h.host] for h in newcomers) == list(
        range(1001, 1001 + later_hosts)
    )
    # The decommissioned host, still formatted as node 1000, is refused with a clear fix.
    with pytest.raises(NodeIdError, match="ID 1000 is retired"):
        plan_cluster(
            retired.document, None, [*controllers, _spec("b1", True, 1000)], state_file=STATE_FILE
        )


def test_a_retirement_keeps_the_recorded_security_mode() -> None:
    document = DOCUMENT | {"security": "secure"}
    retired = retire_nodes(document, {"n4": 1000}, state_file=STATE_FILE)
    assert retired.document["security"] == "secure"
    assert retired.document["cluster_id"] == DOCUMENT["cluster_id"]
