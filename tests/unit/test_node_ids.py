"""Tests for automq_helpers.node_ids."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.node_ids import (
    Assignment,
    IdState,
    NodeIdError,
    NodeRequest,
    assign_node_ids,
    quorum_bootstrap_servers,
    quorum_voters,
    retire_hosts,
)

FAST = settings(max_examples=200, deadline=None)


def ctl(host: str, explicit_id: int | None = None, on_host_id: int | None = None) -> NodeRequest:
    return NodeRequest(host, True, False, explicit_id, on_host_id)


def combined(
    host: str, explicit_id: int | None = None, on_host_id: int | None = None
) -> NodeRequest:
    return NodeRequest(host, True, True, explicit_id, on_host_id)


def brk(host: str, explicit_id: int | None = None, on_host_id: int | None = None) -> NodeRequest:
    return NodeRequest(host, False, True, explicit_id, on_host_id)


THREE = [combined("c1"), combined("c2"), combined("c3")]


def error_of(nodes: Sequence[NodeRequest], state: IdState | None = None) -> str:
    with pytest.raises(NodeIdError) as info:
        assign_node_ids(nodes, state or IdState())
    return str(info.value)


# --- assign_node_ids: examples -------------------------------------------------------------


def test_fresh_cluster() -> None:
    result = assign_node_ids([*THREE, brk("b2"), brk("b1")], IdState())
    assert dict(result.ids) == {"c1": 0, "c2": 1, "c3": 2, "b1": 1000, "b2": 1001}
    assert result.new_hosts == ("b1", "b2", "c1", "c2", "c3")
    assert dict(result.state.assignments) == dict(result.ids)
    assert result.state.retired == frozenset()


def test_single_controller_and_pure_controllers() -> None:
    result = assign_node_ids([ctl("c"), brk("b")], IdState())
    assert dict(result.ids) == {"c": 0, "b": 1000}
    result = assign_node_ids([ctl("x"), ctl("y"), ctl("z"), brk("b")], IdState())
    assert dict(result.ids) == {"x": 0, "y": 1, "z": 2, "b": 1000}


def test_priority_explicit_over_on_host_over_state() -> None:
    state = IdState({"c1": 0, "c2": 1, "c3": 2, "b1": 1000})
    nodes = [
        combined("c1", explicit_id=0, on_host_id=0),
        combined("c2", on_host_id=1),
        combined("c3"),
        brk("b1", explicit_id=1000),
        brk("b2", explicit_id=5),  # explicit ids are honoured in any range
    ]
    result = assign_node_ids(nodes, state)
    assert dict(result.ids) == {"c1": 0, "c2": 1, "c3": 2, "b1": 1000, "b2": 5}
    assert result.new_hosts == ()
    assert result.state.assignments["b2"] == 5


def test_state_hosts_not_requested_stay_reserved() -> None:
    state = IdState({"old-ctl": 0, "old-broker": 1000})
    result = assign_node_ids([*THREE, brk("b1")], state)
    assert dict(result.ids) == {"c1": 1, "c2": 2, "c3": 3, "b1": 1001}
    assert result.state.assignments["old-ctl"] == 0
    assert result.state.assignments["old-broker"] == 1000
    assert "old-ctl" not in result.ids


def test_retired_ids_are_skipped() -> None:
    state = IdState({}, frozenset({0, 2, 1000}))
    result = assign_node_ids([*THREE, brk("b1")], state)
    assert dict(result.ids) == {"c1": 1, "c2": 3, "c3": 4, "b1": 1001}
    assert result.state.retired == frozenset({0, 2, 1000})


def test_new_allocation_skips_explicit_ids_of_other_hosts() -> None:
    result = assign_node_ids(
        [combined("c1"), combined("c2", explicit_id=0), combined("c3")], IdState()
    )
    assert dict(result.ids) == {"c1": 1, "c2": 0, "c3": 2}
    assert result.new_hosts == ("c1", "c3")


def test_on_host_id_honoured_in_any_range() -> None:
    result = assign_node_ids([*THREE, brk("b1", on_host_id=7)], IdState({"b1": 1000}))
    assert result.ids["b1"] == 7
    assert result.state.assignments["b1"] == 7
    assert 1000 in result.state.retired  # the id it no longer uses is never handed out again
    again = assign_node_ids([*THREE, brk("b1", on_host_id=7), brk("b2")], result.state)
    assert again.ids["b2"] == 1001


def test_superseded_id_reused_by_another_requested_host_is_not_retired() -> None:
    state = IdState({"c1": 0, "c2": 1, "c3": 2})
    nodes = [combined("c1", explicit_id=1), combined("c2", explicit_id=0), combined("c3")]
    result = assign_node_ids(nodes, state)
    assert dict(result.ids) == {"c1": 1, "c2": 0, "c3": 2}
    assert result.state.retired == frozenset()


def test_input_mapping_is_not_aliased() -> None:
    raw = {"c1": 0}
    state = IdState(raw)
    raw["c2"] = 1
    assert dict(state.assignments) == {"c1": 0}
    result = assign_node_ids(THREE, state)
    with pytest.raises(TypeError):
        result.ids["c1"] = 9  # type: ignore[index]


# --- assign_node_ids: errors ---------------------------------------------------------------


def test_error_no_role() -> None:
    message = error_of([*THREE, NodeRequest("idle", controller=False, broker=False)])
    assert message.startswith("Host idle has neither the controller nor the broker role")
    assert "automq_controller" in message


def test_error_empty_request() -> None:
    assert "No AutoMQ host" in error_of([])


def test_error_duplicate_host_in_request() -> None:
    assert "Host c1 is listed twice" in error_of([*THREE, brk("c1")])


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "automq_controller has no host"),
        (2, "has 2 hosts (c0, c1)"),
        (4, "4 voters survive 1 failure, no more than 3 would"),
        (6, "more than 5 slows down"),
        (7, "has 7 hosts"),
    ],
)
def test_error_controller_count(count: int, expected: str) -> None:
    nodes = [ctl(f"c{i}") for i in range(count)] + [brk("b1")]
    message = error_of(nodes)
    assert expected in message
    assert "The inventory group automq_controller" in message
    assert "1, 3 or 5 voters" in message
    assert "majority" in message or count in (0,)


@pytest.mark.parametrize("bad", [-1, "3", 3.0, True, 2**31])
def test_error_explicit_not_a_valid_int(bad: object) -> None:
    message = error_of([*THREE, brk("b1", explicit_id=bad)])  # type: ignore[arg-type]
    assert message.startswith(f"Host b1: automq_node_id is {bad!r} ({type(bad).__name__})")
    assert "integer from 0 to 2147483647" in message
    assert "1000 and up" in message


@pytest.mark.parametrize("bad", [-5, "1"])
def test_error_on_host_not_a_valid_int(bad: object) -> None:
    message = error_of([*THREE, brk("b1", on_host_id=bad)])  # type: ignore[arg-type]
    assert message.startswith("Host b1: node.id in its meta.properties is")
    assert "wipe" in message


def test_error_explicit_differs_from_on_host() -> None:
    message = error_of([*THREE[:2], combined("c3", explicit_id=7, on_host_id=2)])
    assert message.startswith("Host c3: automq_node_id is 7, but the host is already formatted")
    assert "node.id 2" in message
    assert "set automq_node_id to 2" in message
    assert "wipe" in message


def test_error_explicit_retired() -> None:
    message = error_of([*THREE, brk("b1", explicit_id=1004)], IdState({}, frozenset({1004})))
    assert message.startswith("Host b1: automq_node_id is 1004, but ID 1004 is retired")
    assert "choose another automq_node_id" in message


def test_error_on_host_retired_wins_over_explicit_retired() -> None:
    nodes = [*THREE, brk("b1", explicit_id=1004, on_host_id=1004)]
    message = error_of(nodes, IdState({}, frozenset({1004})))
    assert message.startswith("Host b1 is formatted with node.id 1004")


def test_error_on_host_retired() -> None:
    message = error_of([*THREE, brk("b1", on_host_id=1004)], IdState({}, frozenset({1004})))
    assert message.startswith("Host b1 is formatted with node.id 1004")
    assert "retired" in message
    assert "wipe" in message


@pytest.mark.parametrize(
    ("nodes", "state", "expected"),
    [
        (
            [combined("c1", explicit_id=0), combined("c2", explicit_id=0), combined("c3")],
            IdState(),
            "Node ID 0 is claimed by several hosts: c1 (from automq_node_id); "
            "c2 (from automq_node_id)",
        ),
        (
            [combined("c1", on_host_id=1), combined("c2", explicit_id=1), combined("c3")],
            IdState(),
            "c1 (from node.id in its meta.properties); c2 (from automq_node_id)",
        ),
        (
            [combined("c1"), combined("c2", explicit_id=0), combined("c3")],
            IdState({"c1": 0}),
            "c1 (remembered in the node ID state file",
        ),
        (
            [*THREE, brk("b1", explicit_id=1000)],
            IdState({"gone": 1000}),
            "gone (reserved in the node ID state file",
        ),
    ],
)
def test_error_duplicate_ids(nodes: list[NodeRequest], state: IdState, expected: str) -> None:
    message = error_of(nodes, state)
    assert expected in message
    assert "automq_node_id" in message
    assert "must be unique" in message


def test_error_duplicate_with_reserved_host_explains_rename() -> None:
    message = error_of([*THREE, brk("new", on_host_id=1000)], IdState({"old": 1000}))
    assert "If old was renamed, rename its entry" in message
    assert "decommissioned, retire it" in message


@pytest.mark.parametrize(
    ("node", "remembered", "role"),
    [
        (combined("c3"), 1000, "combined controller+broker"),
        (ctl("c3"), 1000, "controller"),
    ],
)
def test_error_role_change_controller(node: NodeRequest, remembered: int, role: str) -> None:
    message = error_of([*THREE[:2], node], IdState({"c3": remembered}))
    assert message.startswith(f"Host c3 is now a {role} node")
    assert f"node ID {remembered}" in message
    assert "0-999" in message
    assert 'retire the host (which moves its ID 1000 to "retired"' in message
    assert "automq_node_id: 1000" in message


def test_error_role_change_broker() -> None:
    message = error_of([*THREE, brk("b1")], IdState({"b1": 3}))
    assert message.startswith("Host b1 is now a broker-only node")
    assert "1000 and up" in message


def test_role_change_allowed_when_explicit_or_on_host() -> None:
    state = IdState({"b1": 3, "c3": 1000})
    nodes = [*THREE[:2], combined("c3", explicit_id=1000), brk("b1", on_host_id=3)]
    assert dict(assign_node_ids(nodes, state).ids) == {"c1": 0, "c2": 1, "c3": 1000, "b1": 3}


def test_node_id_error_is_value_error() -> None:
    assert issubclass(NodeIdError, ValueError)


# --- IdState / JSON ------------------------------------------------------------------------


def test_to_json_is_sorted_and_stable() -> None:
    state = IdState({"b": 1000, "a": 0}, frozenset({1003, 2, 1001}))
    doc = state.to_json()
    assert doc == {"assignments": {"a": 0, "b": 1000}, "retired": [2, 1001, 1003]}
    assert json.dumps(doc) == '{"assignments": {"a": 0, "b": 1000}, "retired": [2, 1001, 1003]}'
    assert IdState.from_json(json.loads(json.dumps(doc))) == state


def test_from_json_retired_optional() -> None:
    assert IdState.from_json({"assignments": {}}) == IdState()


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "the document is a list, not an object"),
        ({}, 'the key "assignments" is missing'),
        ({"assignments": {}, "extra": 1}, "unknown key(s) extra"),
        ({"assignments": []}, '"assignments" is not an object'),
        ({"assignments": {}, "retired": {}}, '"retired" is not a list'),
        ({"assignments": {"a": "0"}}, "host 'a' has ID '0', not a valid node ID"),
        ({"assignments": {"a": -1}}, "host 'a' has ID -1"),
        ({"assignments": {"a": True}}, "host 'a' has ID True"),
        ({"assignments": {"": 1}}, "host name '' is not a non-empty string"),
        ({"assignments": {}, "retired": [[1]]}, "retired ID [1] is not a valid node ID"),
        ({"assignments": {"a": 1, "b": 1}}, "ID 1 is assigned to several hosts: a, b"),
        ({"assignments": {"a": 1}, "retired": [1]}, "ID 1 is retired but still assigned to host a"),
    ],
)
def test_from_json_rejects(data: object, problem: str) -> None:
    with pytest.raises(NodeIdError) as info:
        IdState.from_json(data, source="inventories/prod/automq_state/node_ids.json")
    message = str(info.value)
    assert message.startswith("inventories/prod/automq_state/node_ids.json is malformed: ")
    assert problem in message
    assert "meta.properties" in message


def test_state_constructor_validates() -> None:
    with pytest.raises(NodeIdError, match="assigned to several hosts"):
        IdState({"a": 1, "b": 1})
    with pytest.raises(NodeIdError, match="retired but still assigned"):
        IdState({"a": 1}, frozenset({1}))


# --- retire_hosts --------------------------------------------------------------------------


def test_retire_hosts() -> None:
    state = IdState({"c1": 0, "b1": 1000, "b2": 1001}, frozenset({5}))
    new = retire_hosts(state, ["b1", "c1", "b1"])
    assert new == IdState({"b2": 1001}, frozenset({0, 5, 1000}))
    assert retire_hosts(state, []) == state


def test_retire_unknown_host() -> None:
    with pytest.raises(NodeIdError) as info:
        retire_hosts(IdState({"c1": 0}), ["c1", "zz", "yy"])
    message = str(info.value)
    assert message.startswith("Cannot retire yy, zz: no node ID is recorded for them")
    assert "hosts with an ID: c1" in message


def test_retired_host_gets_new_id_after_wipe() -> None:
    first = assign_node_ids([*THREE, brk("b1")], IdState())
    state = retire_hosts(first.state, ["c3"])
    # c3 was wiped and now comes back as a broker-only node
    second = assign_node_ids([*THREE[:2], combined("c4"), brk("b1"), brk("c3")], state)
    assert dict(second.ids) == {"c1": 0, "c2": 1, "c4": 3, "b1": 1000, "c3": 1001}
    assert second.new_hosts == ("c3", "c4")


# --- quorum strings ------------------------------------------------------------------------


def test_quorum_voters() -> None:
    voters = [(2, "h3"), (0, "h1"), (1, "h2")]
    assert quorum_voters(voters, 9093) == "0@h1:9093,1@h2:9093,2@h3:9093"
    assert quorum_voters(iter(voters), 1) == "0@h1:1,1@h2:1,2@h3:1"


def test_quorum_bootstrap_servers_keeps_order() -> None:
    assert quorum_bootstrap_servers(["h2", "h1", "h3"], 9093) == "h2:9093,h1:9093,h3:9093"


def test_quorum_ipv6() -> None:
    assert quorum_voters([(0, "fd00::1"), (1, "[fd00::2]")], 9093) == (
        "0@[fd00::1]:9093,1@[fd00::2]:9093"
    )
    assert quorum_bootstrap_servers(["fd00::1"], 65535) == "[fd00::1]:65535"


@pytest.mark.parametrize("port", [0, 65536, -1, "9093", True, 9093.0])
def test_quorum_bad_port(port: object) -> None:
    with pytest.raises(NodeIdError, match=r"Invalid controller port .* from 1 to 65535"):
        quorum_voters([(0, "h1")], port)  # type: ignore[arg-type]
    with pytest.raises(NodeIdError, match="Invalid controller port"):
        quorum_bootstrap_servers(["h1"], port)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["", "a,b", "a b", "0@h", "[]", None])
def test_quorum_bad_host(host: object) -> None:
    with pytest.raises(NodeIdError, match="Invalid host"):
        quorum_voters([(0, host)], 9093)  # type: ignore[list-item]
    with pytest.raises(NodeIdError, match="Invalid host"):
        quorum_bootstrap_servers([host], 9093)  # type: ignore[list-item]


def test_quorum_empty_and_duplicates() -> None:
    with pytest.raises(NodeIdError, match="no voter"):
        quorum_voters([], 9093)
    with pytest.raises(NodeIdError, match="no bootstrap server"):
        quorum_bootstrap_servers([], 9093)
    with pytest.raises(NodeIdError, match="Node ID 0 appears twice"):
        quorum_voters([(0, "h1"), (0, "h2")], 9093)
    with pytest.raises(NodeIdError, match="Host h1 appears twice"):
        quorum_voters([(0, "h1"), (1, "h1")], 9093)
    with pytest.raises(NodeIdError, match="Invalid voter node ID -1"):
        quorum_voters([(-1, "h1")], 9093)
    with pytest.raises(NodeIdError, match=r"h1:9093 appear\(s\) twice"):
        quorum_bootstrap_servers(["h1", "h2", "h1"], 9093)


# --- properties ----------------------------------------------------------------------------

HOSTS = [f"host-{i:02d}" for i in range(24)]


@st.composite
def clusters(draw: st.DrawFn, min_brokers: int = 0) -> list[NodeRequest]:
    """A valid request without explicit or on-host IDs: 1, 3 or 5 controllers."""
    n_ctl = draw(st.sampled_from([1, 3, 5]))
    n_brk = draw(st.integers(min_brokers, 8))
    names = draw(st.permutations(HOSTS))[: n_ctl + n_brk]
    nodes = [NodeRequest(h, True, draw(st.booleans())) for h in names[:n_ctl]]
    nodes += [NodeRequest(h, False, True) for h in names[n_ctl:]]
    return nodes


STATE_HOSTS = (*HOSTS, "gone-1", "gone-2")
ID_POOL = st.integers(0, 6) | st.integers(1000, 1006)


@st.composite
def states(draw: st.DrawFn, hosts: Sequence[str] = STATE_HOSTS) -> IdState:
    ids = draw(st.lists(ID_POOL, unique=True, max_size=8))
    n_assigned = draw(st.integers(0, len(ids)))
    owners = draw(st.permutations(hosts))[:n_assigned]
    return IdState(dict(zip(owners, ids, strict=False)), frozenset(ids[len(owners) :]))


def check_invariants(nodes: Sequence[NodeRequest], state: IdState, result: Assignment) -> None:
    ids = dict(result.ids)
    assert set(ids) == {n.host for n in nodes}
    everyone = dict(result.state.assignments)
    assert len(set(everyone.values())) == len(everyone)  # unique, incl. reserved hosts
    assert all(everyone[h] == i for h, i in ids.items())
    assert not set(everyone.values()) & result.state.retired
    assert state.retired <= result.state.retired
    for host, node_id in state.assignments.items():  # hosts not requested stay reserved
        if host not in ids:
            assert everyone[host] == node_id
    by_host = {n.host: n for n in nodes}
    assert list(result.new_hosts) == sorted(result.new_hosts)
    for host in result.new_hosts:
        node = by_host[host]
        node_id = ids[host]
        assert node.explicit_id is None
        assert node.on_host_id is None
        assert host not in state.assignments
        assert node_id not in state.retired
        assert node_id not in state.assignments.values()
        if node.controller:
            assert 0 <= node_id < 1000
        else:
            assert node_id >= 1000
    for node in nodes:
        if node.explicit_id is not None:
            assert ids[node.host] == node.explicit_id
        elif node.on_host_id is not None:
            assert ids[node.host] == node.on_host_id
        elif node.host in state.assignments:
            assert ids[node.host] == state.assignments[node.host]
            assert node.host not in result.new_hosts


def outcome(nodes: Sequence[NodeRequest], state: IdState) -> Assignment | str:
    """The assignment, or the error message."""
    try:
        return assign_node_ids(nodes, state)
    except NodeIdError as exc:
        return f"NodeIdError: {exc}"


@FAST
@given(clusters())
def test_prop_fresh_cluster_follows_convention(nodes: list[NodeRequest]) -> None:
    result = assign_node_ids(nodes, IdState())
    controllers = sorted(n.host for n in nodes if n.controller)
    brokers = sorted(n.host for n in nodes if not n.controller)
    assert [result.ids[h] for h in controllers] == list(range(len(controllers)))
    assert [result.ids[h] for h in brokers] == list(range(1000, 1000 + len(brokers)))
    assert result.new_hosts == tuple(sorted(result.ids))
    check_invariants(nodes, IdState(), result)


@FAST
@given(clusters(), states(), st.randoms(use_true_random=False))
def test_prop_permutation_invariant_and_stable(
    nodes: list[NodeRequest], state: IdState, rnd: random.Random
) -> None:
    shuffled = list(nodes)
    rnd.shuffle(shuffled)
    result = outcome(nodes, state)
    assert outcome(shuffled, state) == result  # same result or error whatever the order
    if isinstance(result, str):
        return
    check_invariants(nodes, state, result)
    rerun = assign_node_ids(shuffled, result.state)
    assert rerun.ids == result.ids
    assert rerun.new_hosts == ()
    assert rerun.state == result.state


@FAST
@given(clusters(), st.data())
def test_prop_adding_hosts_keeps_existing_ids(
    nodes: list[NodeRequest], data: st.DataObject
) -> None:
    first = assign_node_ids(nodes, IdState())
    free = [h for h in HOSTS if h not in first.ids]
    extra = data.draw(st.lists(st.sampled_from(free), unique=True, min_size=1, max_size=4))
    grown = nodes + [NodeRequest(h, False, True) for h in extra]
    n_ctl = sum(n.controller for n in nodes)
    if n_ctl < 5 and data.draw(st.booleans()):  # grow the quorum by two voters
        more = [h for h in free if h not in extra][:2]
        grown += [NodeRequest(h, True, data.draw(st.booleans())) for h in more]
    second = assign_node_ids(grown, first.state)
    for host, node_id in first.ids.items():
        assert second.ids[host] == node_id
    assert set(second.new_hosts) == set(second.ids) - set(first.ids)
    assert len(set(second.ids.values())) == len(second.ids)
    check_invariants(grown, first.state, second)


@FAST
@given(clusters(min_brokers=1), st.data())
def test_prop_retired_ids_never_reused(nodes: list[NodeRequest], data: st.DataObject) -> None:
    first = assign_node_ids(nodes, IdState())
    brokers = [n.host for n in nodes if not n.controller]
    gone = data.draw(st.lists(st.sampled_from(brokers), unique=True, min_size=1))
    state = retire_hosts(first.state, gone)
    retired_ids = {first.ids[h] for h in gone}
    assert retired_ids <= state.retired
    remaining = [n for n in nodes if n.host not in gone]
    newcomers = [NodeRequest(h, False, True) for h in HOSTS if h not in first.ids][:4]
    # the removed hosts may even come back (wiped): they are new nodes now
    back = [NodeRequest(h, False, True) for h in gone]
    second = assign_node_ids(remaining + newcomers + back, state)
    assert not retired_ids & set(second.ids.values())
    assert set(second.new_hosts) == {n.host for n in newcomers + back}
    check_invariants(remaining + newcomers + back, state, second)


@st.composite
def messy_requests(draw: st.DrawFn) -> list[NodeRequest]:
    """Requests with explicit and on-host IDs, often conflicting."""
    nodes = draw(clusters())
    out = []
    for node in nodes:
        mode = draw(st.sampled_from(["none", "none", "explicit", "on_host", "both", "random"]))
        explicit = on_host = None
        if mode in ("explicit", "both", "random"):
            explicit = draw(ID_POOL)
        if mode in ("on_host", "both"):
            on_host = explicit if mode == "both" else draw(ID_POOL)
        if mode == "random":
            on_host = draw(ID_POOL)
        out.append(NodeRequest(node.host, node.controller, node.broker, explicit, on_host))
    return out


@FAST
@given(messy_requests(), states(), st.permutations(range(13)))
def test_prop_messy_requests_either_error_or_consistent(
    nodes: list[NodeRequest], state: IdState, order: list[int]
) -> None:
    shuffled = [nodes[i] for i in order if i < len(nodes)]
    result = outcome(nodes, state)
    assert outcome(shuffled, state) == result
    if isinstance(result, str):
        assert any(n.host in result for n in nodes) or "automq_controller" in result
        return
    check_invariants(nodes, state, result)
    rerun = assign_node_ids(shuffled, result.state)
    assert (rerun.ids, rerun.new_hosts, rerun.state) == (result.ids, (), result.state)


@FAST
@given(states())
def test_prop_json_round_trip(state: IdState) -> None:
    doc = state.to_json()
    text = json.dumps(doc)
    assert IdState.from_json(json.loads(text)) == state
    assert json.dumps(IdState.from_json(json.loads(text)).to_json()) == text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 1003) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=12,
)


@FAST
@given(
    JSON
    | st.fixed_dictionaries({"assignments": st.dictionaries(st.text(max_size=2), JSON)})
    | st.fixed_dictionaries(
        {
            "assignments": st.dictionaries(st.sampled_from("abc"), ID_POOL),
            "retired": st.lists(ID_POOL | JSON, max_size=4),
        }
    )
)
def test_prop_from_json_never_crashes(data: object) -> None:
    state: IdState | str
    try:
        state = IdState.from_json(data)
    except NodeIdError as exc:
        state = str(exc)
    if isinstance(state, str):
        assert "is malformed" in state
        return
    assert IdState.from_json(state.to_json()) == state
