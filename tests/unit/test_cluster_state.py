"""Tests for automq_helpers.cluster_state (parse_node_spec and plan_cluster)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.cluster_id import ClusterIdError, validate_cluster_id
from automq_helpers.cluster_state import (
    PLANNING_ERRORS,
    ClusterPlan,
    NodeSpec,
    PlanError,
    parse_node_spec,
    plan_cluster,
)
from automq_helpers.node_ids import NodeIdError

FAST = settings(max_examples=150, deadline=None)

STATE_FILE = "inventories/prod/automq_state/prod.json"
ID_A = "MkU3OEVBNTcwNTJENDM2Qg"  # what `kafka-storage.sh random-uuid` prints
ID_B = "q1Sh-9_ISia_zwGINzRvyQ"
CLUSTER_ID_RE = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")


def raw_node(
    host: str,
    controller: object = True,
    broker: object = True,
    **extra: object,
) -> dict[str, object]:
    """A node entry shaped like the one preflight builds from host variables."""
    entry: dict[str, object] = {
        "host": host,
        "controller": controller,
        "broker": broker,
        "advertised_host": host,
        "controller_port": 9093,
        "explicit_id": None,
        "on_host_id": None,
        "on_host_cluster_id": None,
    }
    entry.update(extra)
    return entry


def node(host: str, controller: bool = True, broker: bool = True, **extra: object) -> NodeSpec:
    return parse_node_spec(raw_node(host, controller, broker, **extra))


def plan(
    nodes: list[NodeSpec],
    state: object = None,
    cluster_id: str | None = None,
) -> ClusterPlan:
    return plan_cluster(state, cluster_id, nodes, state_file=STATE_FILE)


THREE = [node("h1"), node("h2"), node("h3")]


def planning_error(
    nodes: list[NodeSpec], state: object = None, cluster_id: str | None = None
) -> ValueError:
    with pytest.raises(PLANNING_ERRORS) as info:
        plan(nodes, state, cluster_id)
    return info.value


# --------------------------------------------------------------------------- fresh cluster


def test_fresh_cluster_of_three_combined_nodes() -> None:
    result = plan(THREE)

    assert CLUSTER_ID_RE.fullmatch(result.cluster_id)
    assert validate_cluster_id(result.cluster_id) == result.cluster_id
    assert result.cluster_id_generated is True
    assert dict(result.node_ids) == {"h1": 0, "h2": 1, "h3": 2}
    assert result.new_hosts == ("h1", "h2", "h3")
    assert result.voter_ids == (0, 1, 2)
    assert result.quorum_voters == "0@h1:9093,1@h2:9093,2@h3:9093"
    assert result.quorum_bootstrap_servers == "h1:9093,h2:9093,h3:9093"
    assert result.state == {
        "cluster_id": result.cluster_id,
        "security": "secure",
        "assignments": {"h1": 0, "h2": 1, "h3": 2},
        "retired": [],
    }
    # The state is what the action writes as JSON and reads back next time.
    assert json.loads(json.dumps(result.state)) == result.state


def test_fresh_clusters_get_different_ids() -> None:
    assert plan(THREE).cluster_id != plan(THREE).cluster_id


def test_quorum_strings_use_the_advertised_hosts_and_port() -> None:
    nodes = [
        node("c", advertised_host="10.0.0.13", controller_port="19093"),
        node("a", advertised_host="10.0.0.11", controller_port="19093"),
        node("b", advertised_host="fd00::12", controller_port="19093"),
        node("w", controller=False, advertised_host="10.0.0.21"),
    ]

    result = plan(nodes)

    assert dict(result.node_ids) == {"a": 0, "b": 1, "c": 2, "w": 1000}
    assert result.voter_ids == (0, 1, 2)
    assert result.quorum_voters == "0@10.0.0.11:19093,1@[fd00::12]:19093,2@10.0.0.13:19093"
    assert result.quorum_bootstrap_servers == "10.0.0.11:19093,[fd00::12]:19093,10.0.0.13:19093"


def test_configured_cluster_id_is_used() -> None:
    result = plan(THREE, cluster_id=ID_A)

    assert result.cluster_id == ID_A
    assert result.cluster_id_generated is False
    assert result.state["cluster_id"] == ID_A


def test_cluster_id_of_formatted_hosts_is_adopted() -> None:
    nodes = [
        node("h1", on_host_id="0", on_host_cluster_id=ID_B, on_host_security="secure"),
        node("h2"),
        node("h3"),
    ]

    result = plan(nodes)

    assert result.cluster_id == ID_B
    assert result.cluster_id_generated is False
    assert dict(result.node_ids) == {"h1": 0, "h2": 1, "h3": 2}


# --------------------------------------------------------------------------- re-planning


def test_replanning_with_the_state_is_stable() -> None:
    first = plan(THREE)

    second = plan(list(reversed(THREE)), state=json.loads(json.dumps(first.state)))

    assert second.cluster_id == first.cluster_id
    assert second.cluster_id_generated is False
    assert second.node_ids == first.node_ids
    assert second.new_hosts == ()
    assert second.voter_ids == first.voter_ids
    assert second.quorum_voters == first.quorum_voters
    assert second.quorum_bootstrap_servers == first.quorum_bootstrap_servers
    assert second.state == first.state


def test_adding_a_broker_only_host() -> None:
    first = plan(THREE)

    second = plan([*THREE, node("h4", controller=False)], state=first.state)

    assert dict(second.node_ids) == {"h1": 0, "h2": 1, "h3": 2, "h4": 1000}
    assert second.new_hosts == ("h4",)
    assert second.cluster_id == first.cluster_id
    assert second.voter_ids == first.voter_ids
    assert second.quorum_voters == first.quorum_voters
    assert second.quorum_bootstrap_servers == first.quorum_bootstrap_servers
    assert second.state == {
        "cluster_id": first.cluster_id,
        "security": "secure",
        "assignments": {"h1": 0, "h2": 1, "h3": 2, "h4": 1000},
        "retired": [],
    }


def test_host_left_out_of_the_inventory_keeps_its_id_reserved() -> None:
    grown = plan([*THREE, node("h4", controller=False)])

    shrunk = plan(THREE, state=grown.state)
    regrown = plan([*THREE, node("h5", controller=False)], state=shrunk.state)

    assert shrunk.state["assignments"] == {"h1": 0, "h2": 1, "h3": 2, "h4": 1000}
    assert regrown.node_ids["h5"] == 1001


# --------------------------------------------------------------------------- cluster ID conflicts


def test_host_formatted_with_another_cluster_than_configured() -> None:
    nodes = [node("h1"), node("h2", on_host_id="1", on_host_cluster_id=ID_B), node("h3")]

    error = planning_error(nodes, cluster_id=ID_A)

    assert isinstance(error, ClusterIdError)
    message = str(error)
    assert "automq_cluster_id" in message
    assert "h2" in message
    assert ID_A in message
    assert ID_B in message


def test_host_formatted_with_another_cluster_than_the_state_file() -> None:
    first = plan(THREE, cluster_id=ID_A)
    nodes = [node("h1"), node("h2"), node("h3", on_host_id="2", on_host_cluster_id=ID_B)]

    error = planning_error(nodes, state=first.state)

    message = str(error)
    assert STATE_FILE in message
    assert "h3" in message
    assert ID_A in message
    assert ID_B in message


def test_hosts_formatted_with_two_different_clusters() -> None:
    nodes = [
        node("h1", on_host_cluster_id=ID_A),
        node("h2", on_host_cluster_id=ID_B),
        node("h3"),
    ]

    message = str(planning_error(nodes))

    assert "h1: cluster.id=" + ID_A in message
    assert "h2: cluster.id=" + ID_B in message


def test_configured_cluster_id_differs_from_the_state_file() -> None:
    first = plan(THREE, cluster_id=ID_A)

    message = str(planning_error(THREE, state=first.state, cluster_id=ID_B))

    assert "automq_cluster_id" in message
    assert STATE_FILE in message


# --------------------------------------------------------------------------- other conflicts


def test_controllers_with_different_ports() -> None:
    nodes = [node("h1"), node("h2", controller_port="19093"), node("h3")]

    error = planning_error(nodes)

    assert isinstance(error, PlanError)
    assert str(error) == (
        "automq_controller_port differs between controllers (h1: 9093, h2: 19093, h3: 9093); "
        "set one port for the whole automq_controller group"
    )


def test_duplicate_explicit_ids() -> None:
    nodes = [node("h1"), node("h2", explicit_id="7"), node("h3", explicit_id=7)]

    error = planning_error(nodes)

    assert isinstance(error, NodeIdError)
    assert "Node ID 7 is claimed by several hosts" in str(error)
    assert "h2" in str(error)
    assert "h3" in str(error)


def test_negative_explicit_id_is_rejected_by_the_plan() -> None:
    message = str(planning_error([node("h1", explicit_id=-1)]))

    assert "automq_node_id is -1" in message


def test_two_controllers_are_rejected() -> None:
    message = str(planning_error([node("h1"), node("h2")]))

    assert "needs 1, 3 or 5 voters" in message


# --------------------------------------------------------------------------- malformed state


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "does not hold a JSON object"),
        ("cluster", "does not hold a JSON object"),
        (42, "does not hold a JSON object"),
        ({"cluster_id": 42, "assignments": {}}, "cluster_id is not a string"),
        ({"cluster_id": ID_A}, 'the key "assignments" is missing'),
        ({"cluster_id": ID_A, "assignments": []}, '"assignments" is not an object'),
        ({"cluster_id": ID_A, "assignments": {"h1": "0"}}, "host 'h1' has ID '0'"),
        ({"cluster_id": ID_A, "assignments": {"h1": True}}, "host 'h1' has ID True"),
        ({"cluster_id": ID_A, "assignments": {}, "retired": "3"}, '"retired" is not a list'),
        ({"cluster_id": ID_A, "assignments": {}, "retired": [-1]}, "retired ID -1"),
        ({"cluster_id": ID_A, "assignments": {}, "nodes": {}}, "unknown key(s) nodes"),
        (
            {"cluster_id": ID_A, "assignments": {"h1": 0, "h2": 0}},
            "ID 0 is assigned to several hosts: h1, h2",
        ),
        ({"cluster_id": "not-a-cluster-id", "assignments": {}}, "invalid cluster ID"),
    ],
)
def test_malformed_state_document(document: object, expected: str) -> None:
    message = str(planning_error(THREE, state=document))

    assert expected in message
    assert STATE_FILE in message  # the operator is told which file to fix


def test_state_without_retired_is_accepted() -> None:
    state = {"cluster_id": ID_A, "security": "secure", "assignments": {"h1": 2, "h2": 0}}
    result = plan(THREE, state=state)

    assert dict(result.node_ids) == {"h1": 2, "h2": 0, "h3": 1}
    assert result.state["retired"] == []


# --------------------------------------------------------------------------- parse_node_spec


def test_parse_node_spec_accepts_ansible_strings() -> None:
    spec = parse_node_spec(
        {
            "host": "h1",
            "controller": "true",
            "broker": "False",
            "advertised_host": "10.0.0.11",
            "controller_port": "9093",
            "explicit_id": "3",
            "on_host_id": "",
            "on_host_cluster_id": "",
        }
    )

    assert spec == NodeSpec(
        host="h1",
        controller=True,
        broker=False,
        advertised_host="10.0.0.11",
        controller_port=9093,
        explicit_id=3,
        on_host_id=None,
        on_host_cluster_id=None,
    )


def test_parse_node_spec_accepts_native_types_and_missing_optionals() -> None:
    spec = parse_node_spec(
        {
            "host": "h1",
            "controller": False,
            "broker": "TRUE",
            "advertised_host": "h1.example",
            "controller_port": 19093,
            "on_host_id": " 1000 ",
            "on_host_cluster_id": ID_A,
        }
    )

    assert spec == NodeSpec("h1", False, True, "h1.example", 19093, None, 1000, ID_A)


@pytest.mark.parametrize("empty", [None, ""])
def test_parse_node_spec_empty_ids_mean_unset(empty: object) -> None:
    spec = parse_node_spec(raw_node("h1", explicit_id=empty, on_host_id=empty))

    assert spec.explicit_id is None
    assert spec.on_host_id is None
    assert spec.on_host_cluster_id is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("explicit_id", "abc", "automq_node_id of h1 is 'abc'"),
        ("explicit_id", "-1", "automq_node_id of h1 is '-1'"),
        ("explicit_id", "1.5", "automq_node_id of h1 is '1.5'"),
        ("explicit_id", 2.0, "automq_node_id of h1 is 2.0"),
        ("explicit_id", True, "automq_node_id of h1 is True"),
        ("explicit_id", [1], "automq_node_id of h1 is [1]"),
        ("on_host_id", "x", "node.id in meta.properties of h1 is 'x'"),
        ("controller_port", None, "automq_controller_port of h1 is None"),
        ("controller_port", "", "automq_controller_port of h1 is None"),
        ("controller_port", "0", "automq_controller_port of h1 is 0"),
        ("controller_port", 65536, "automq_controller_port of h1 is 65536"),
        ("controller_port", "port", "automq_controller_port of h1 is 'port'"),
        ("controller_port", False, "automq_controller_port of h1 is False"),
        ("advertised_host", "", "automq_advertised_host of h1 is empty"),
        ("advertised_host", None, "automq_advertised_host of h1 is empty"),
        ("advertised_host", 10, "automq_advertised_host of h1 is empty"),
        ("controller", "yes", "controller role of h1 is 'yes': expected a boolean"),
        ("controller", None, "controller role of h1 is None: expected a boolean"),
        ("broker", 1, "broker role of h1 is 1: expected a boolean"),
        ("host", "", "has no host name"),
        ("host", None, "has no host name"),
    ],
)
def test_parse_node_spec_rejects(field: str, value: object, expected: str) -> None:
    with pytest.raises(PlanError) as info:
        parse_node_spec({**raw_node("h1"), field: value})

    assert expected in str(info.value)


def test_parse_node_spec_without_advertised_host() -> None:
    entry = raw_node("h1")
    del entry["advertised_host"]

    with pytest.raises(PlanError, match="automq_advertised_host of h1 is empty"):
        parse_node_spec(entry)


def test_parse_node_spec_rejects_non_decimal_digits() -> None:
    with pytest.raises(PlanError, match="automq_node_id of h1"):
        parse_node_spec(raw_node("h1", explicit_id="³"))


# --------------------------------------------------------------------------- properties

HOST_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,8}(\.[a-z]{2,4})?", fullmatch=True)


@st.composite
def clusters(draw: st.DrawFn) -> list[dict[str, object]]:
    """Raw node entries: 1, 3 or 5 controllers (combined or not) and 0-5 broker-only hosts."""
    controllers = draw(st.sampled_from([1, 3, 5]))
    brokers = draw(st.integers(min_value=0, max_value=5))
    hosts = draw(
        st.lists(
            HOST_NAMES, min_size=controllers + brokers, max_size=controllers + brokers, unique=True
        )
    )
    entries = []
    for index, host in enumerate(hosts):
        is_controller = index < controllers
        is_broker = draw(st.booleans()) if is_controller else True
        as_text = draw(st.booleans())  # Ansible may hand over strings or native values
        entries.append(
            raw_node(
                host,
                controller=str(is_controller).lower() if as_text else is_controller,
                broker=str(is_broker) if as_text else is_broker,
                controller_port="9093" if as_text else 9093,
                explicit_id="" if as_text else None,
            )
        )
    return entries


def check_role_ranges(result: ClusterPlan, entries: list[dict[str, object]]) -> None:
    specs = {spec.host: spec for spec in map(parse_node_spec, entries)}
    controllers = sorted(h for h, s in specs.items() if s.controller)
    assert sorted(result.node_ids[h] for h in controllers) == list(range(len(controllers)))
    assert result.voter_ids == tuple(range(len(controllers)))
    brokers_only = [h for h, s in specs.items() if not s.controller]
    assert sorted(result.node_ids[h] for h in brokers_only) == [
        1000 + i for i in range(len(brokers_only))
    ]


@FAST
@given(entries=clusters(), data=st.data(), configured=st.sampled_from([None, "", ID_A]))
def test_replanning_shuffled_input_is_stable(
    entries: list[dict[str, object]], data: st.DataObject, configured: str | None
) -> None:
    first = plan([parse_node_spec(e) for e in entries], cluster_id=configured)
    check_role_ranges(first, entries)
    assert first.cluster_id == (configured or first.cluster_id)
    assert CLUSTER_ID_RE.fullmatch(first.cluster_id)

    shuffled = data.draw(st.permutations(entries))
    state = json.loads(json.dumps(first.state))  # as written to and read from the state file
    second = plan([parse_node_spec(e) for e in shuffled], state=state, cluster_id=configured)

    assert second.cluster_id == first.cluster_id
    assert second.cluster_id_generated is False
    assert second.node_ids == first.node_ids
    assert second.new_hosts == ()
    assert second.quorum_voters == first.quorum_voters
    assert second.quorum_bootstrap_servers == first.quorum_bootstrap_servers
    assert second.state == first.state


@FAST
@given(entries=clusters(), extra=st.lists(HOST_NAMES, max_size=3, unique=True), data=st.data())
def test_adding_brokers_never_moves_existing_ids(
    entries: list[dict[str, object]], extra: list[str], data: st.DataObject
) -> None:
    first = plan([parse_node_spec(e) for e in entries])
    known = {str(e["host"]) for e in entries}
    added = [raw_node(h, controller=False) for h in extra if h not in known]

    grown = data.draw(st.permutations([*entries, *added]))
    second = plan([parse_node_spec(e) for e in grown], state=first.state)

    assert {h: second.node_ids[h] for h in first.node_ids} == dict(first.node_ids)
    assert set(second.new_hosts) == {str(e["host"]) for e in added}
    assert all(second.node_ids[str(e["host"])] >= 1000 for e in added)
    assert second.quorum_voters == first.quorum_voters
    assert second.cluster_id == first.cluster_id


# --------------------------------------------------------------------------- security mode


def plan_security(
    nodes: list[NodeSpec],
    state: object,
    security: str,
    *,
    allow_downgrade: bool = False,
    migration: str = "",
) -> ClusterPlan:
    return plan_cluster(
        state,
        None,
        nodes,
        state_file=STATE_FILE,
        security=security,
        allow_security_downgrade=allow_downgrade,
        security_migration=migration,
    )


@pytest.mark.parametrize("mode", ["secure", "plaintext"])
def test_a_new_cluster_records_the_configured_security(mode: str) -> None:
    result = plan_security(THREE, None, mode)

    assert result.security == mode
    assert result.state["security"] == mode


def test_a_secure_cluster_is_not_downgraded_silently() -> None:
    first = plan_security(THREE, None, "secure")

    message = str(planning_error_of(lambda: plan_security(THREE, first.state, "plaintext")))

    assert "automq_security_allow_downgrade" in message
    assert STATE_FILE in message


def test_an_explicit_downgrade_is_recorded() -> None:
    first = plan_security(THREE, None, "secure")

    second = plan_security(THREE, first.state, "plaintext", allow_downgrade=True)

    assert second.security == "plaintext"
    assert second.state["security"] == "plaintext"


def test_a_plaintext_cluster_is_not_switched_to_secure_in_one_run() -> None:
    first = plan_security(THREE, None, "plaintext")

    message = str(planning_error_of(lambda: plan_security(THREE, first.state, "secure")))

    assert "automq_security_migration: listeners" in message
    assert "quorum" in message


def test_a_cluster_recorded_before_security_modes_ran_plaintext() -> None:
    legacy = {"cluster_id": ID_A, "assignments": {"h1": 0, "h2": 1, "h3": 2}, "retired": []}

    assert plan_security(THREE, legacy, "plaintext").state["security"] == "plaintext"
    with pytest.raises(PLANNING_ERRORS):
        plan_security(THREE, legacy, "secure")


def test_without_a_state_file_the_hosts_configuration_decides() -> None:
    """A lost state file does not make a secure cluster look plaintext."""
    formatted = [
        node(f"h{n}", on_host_id=str(n - 1), on_host_cluster_id=ID_A, on_host_security="secure")
        for n in (1, 2, 3)
    ]

    assert plan_security(formatted, None, "secure").security == "secure"
    with pytest.raises(PLANNING_ERRORS, match="automq_security_allow_downgrade"):
        plan_security(formatted, None, "plaintext")


def test_an_unknown_security_mode_names_the_variable() -> None:
    message = str(planning_error_of(lambda: plan_security(THREE, None, "tls")))

    assert "automq_security is 'tls'" in message


@pytest.mark.parametrize("recorded", ["secure", "plaintext", None])
@pytest.mark.parametrize("configured", ["secure", "plaintext"])
def test_the_recorded_mode_changes_only_by_explicit_downgrade(
    recorded: str | None, configured: str
) -> None:
    state: dict[str, object] = {"cluster_id": ID_A, "assignments": {}, "retired": []}
    if recorded:
        state["security"] = recorded
    current = recorded or "plaintext"
    try:
        result = plan_security(THREE, state, configured)
    except PLANNING_ERRORS:
        assert current != configured
    else:
        assert result.security == configured == current


# --------------------------------------------------------------------------- live migration

# How the inventory asks for each mode: (automq_security, automq_security_migration).
ASKS = {
    "plaintext": ("plaintext", ""),
    "migrating-listeners": ("secure", "listeners"),
    "migrating-internal": ("secure", "internal"),
    "secure": ("secure", "finish"),
}


def running(mode: str, *, pending: tuple[str, ...] = (), behind: str = "") -> list[NodeSpec]:
    """Three formatted nodes configured for ``mode``; ``behind`` configured for another one."""
    return [
        node(
            f"h{n}",
            on_host_id=str(n - 1),
            on_host_cluster_id=ID_A,
            on_host_security=behind if behind and n == 3 else mode,
            restart_pending=f"h{n}" in pending,
        )
        for n in (1, 2, 3)
    ]


def plan_mode(nodes: list[NodeSpec], recorded: str, wanted: str, **extra: object) -> ClusterPlan:
    state = {"cluster_id": ID_A, "assignments": {"h1": 0, "h2": 1, "h3": 2}, "retired": []}
    state["security"] = recorded
    security, migration = ASKS[wanted]
    return plan_security(nodes, state, security, migration=migration, **extra)  # type: ignore[arg-type]


def test_a_plaintext_cluster_migrates_one_phase_per_run() -> None:
    modes = list(ASKS)
    for current, following in itertools.pairwise(modes):
        result = plan_mode(running(current), current, following)

        assert result.security == result.state["security"] == following
        # A re-run of the same phase (e.g. after an interrupted roll) is accepted.
        assert plan_mode(running(following), following, following).security == following


def test_finish_on_a_secure_cluster_changes_nothing() -> None:
    assert plan_mode(running("secure"), "secure", "secure").security == "secure"


@pytest.mark.parametrize(
    ("current", "wanted", "next_phase"),
    [
        ("plaintext", "migrating-internal", "automq_security_migration: listeners"),
        ("plaintext", "secure", "automq_security_migration: listeners"),
        ("migrating-listeners", "secure", "automq_security_migration: internal"),
    ],
)
def test_a_phase_is_never_skipped(current: str, wanted: str, next_phase: str) -> None:
    message = str(planning_error_of(lambda: plan_mode(running(current), current, wanted)))

    assert f"the next one here is automq_security: secure with {next_phase}" in message


@pytest.mark.parametrize("current", ["migrating-listeners", "migrating-internal"])
def test_the_next_phase_waits_for_a_pending_restart(current: str) -> None:
    following = list(ASKS)[list(ASKS).index(current) + 1]

    message = str(
        planning_error_of(lambda: plan_mode(running(current, pending=("h2",)), current, following))
    )

    assert "h2 (restart pending)" in message
    assert f"automq_security_migration: {current.removeprefix('migrating-')} again" in message


def test_the_next_phase_waits_for_a_node_configured_for_another_one() -> None:
    nodes = running("migrating-internal", behind="migrating-listeners")

    message = str(planning_error_of(lambda: plan_mode(nodes, "migrating-internal", "secure")))

    assert "h3 (migrating-listeners) do(es) not yet" in message


def test_no_new_node_joins_during_the_migration() -> None:
    nodes = [*running("migrating-listeners"), node("h4", controller=False)]

    message = str(
        planning_error_of(lambda: plan_mode(nodes, "migrating-listeners", "migrating-internal"))
    )

    assert "h4 would join while the cluster migrates" in message


def test_a_new_cluster_is_not_deployed_half_migrated() -> None:
    message = str(
        planning_error_of(lambda: plan_security(THREE, None, "secure", migration="listeners"))
    )

    assert "this cluster is new" in message
    assert plan_security(THREE, None, "secure", migration="finish").security == "secure"


def test_going_back_a_phase_needs_the_explicit_downgrade() -> None:
    nodes = running("migrating-internal")

    message = str(
        planning_error_of(lambda: plan_mode(nodes, "migrating-internal", "migrating-listeners"))
    )

    assert "automq_security_allow_downgrade: true" in message
    back = plan_mode(nodes, "migrating-internal", "migrating-listeners", allow_downgrade=True)
    assert back.security == "migrating-listeners"


@pytest.mark.parametrize(
    ("security", "migration", "phrase"),
    [
        ("plaintext", "listeners", "set automq_security: secure"),
        ("secure", "half", "use listeners, internal or finish"),
    ],
)
def test_a_migration_the_inventory_cannot_mean_is_refused(
    security: str, migration: str, phrase: str
) -> None:
    message = str(
        planning_error_of(lambda: plan_security(THREE, None, security, migration=migration))
    )

    assert phrase in message


@settings(max_examples=60, deadline=None)
@given(
    current=st.sampled_from(list(ASKS)),
    wanted=st.sampled_from(list(ASKS)),
    allow_downgrade=st.booleans(),
)
def test_a_mode_moves_at_most_one_phase_forward(
    current: str, wanted: str, allow_downgrade: bool
) -> None:
    modes = list(ASKS)
    step = modes.index(wanted) - modes.index(current)
    try:
        result = plan_mode(running(current), current, wanted, allow_downgrade=allow_downgrade)
    except PLANNING_ERRORS:
        assert step > 1 or (step < 0 and not allow_downgrade)
    else:
        assert result.security == wanted
        assert step in (0, 1) or (step < 0 and allow_downgrade)


def planning_error_of(call: Callable[[], object]) -> ValueError:
    with pytest.raises(PLANNING_ERRORS) as info:
        call()
    return info.value


# --------------------------------------------------------------------------- lost voter metadata


def ran(host: str, node_id: int, **extra: object) -> NodeSpec:
    """A controller formatted for ID_A whose quorum has run."""
    return node(host, on_host_id=node_id, on_host_cluster_id=ID_A, quorum_has_run=True, **extra)


def replan(nodes: list[NodeSpec], reformat: list[str] | None = None) -> ClusterPlan:
    state = plan([ran("h1", 0), ran("h2", 1), ran("h3", 2)]).state
    return plan_cluster(
        state, None, nodes, state_file=STATE_FILE, reformat_controllers=reformat or []
    )


def reformat_error(nodes: list[NodeSpec], reformat: list[str] | None = None) -> str:
    with pytest.raises(PLANNING_ERRORS) as info:
        replan(nodes, reformat)
    return " ".join(str(info.value).split())


def test_a_voter_that_lost_its_metadata_is_not_formatted_again() -> None:
    message = reformat_error([ran("h1", 0), ran("h2", 1), node("h3")])
    assert message.startswith("h3 (voter 2): no meta.properties in the metadata directory")
    assert "quorum-state is on h1, h2" in message
    assert "run once with automq_reformat_controllers: [h3]" in message


def test_a_named_voter_is_re_created_under_its_id() -> None:
    result = replan([ran("h1", 0), ran("h2", 1), node("h3")], reformat=["h3"])
    assert result.node_ids == {"h1": 0, "h2": 1, "h3": 2}
    assert result.cluster_id == ID_A


def test_one_voter_per_run() -> None:
    message = reformat_error([ran("h1", 0), node("h2"), node("h3")], reformat=["h2", "h3"])
    assert "replace one controller per run" in message


def test_the_names_must_be_lost_controllers_of_this_run() -> None:
    nodes = [ran("h1", 0), ran("h2", 1), ran("h3", 2), node("b1", controller=False)]
    assert "names 'b1', which is not a controller" in reformat_error(nodes, ["b1"])
    assert "names h3, whose metadata directory holds its meta.properties" in reformat_error(
        nodes, ["h3"]
    )


def test_a_quorum_that_never_ran_formats_its_voters() -> None:
    # An interrupted first deploy: some voters formatted, none started yet.
    formatted = [node(h, on_host_id=i, on_host_cluster_id=ID_A) for i, h in enumerate(["h1", "h2"])]
    result = replan([*formatted, node("h3")])
    assert result.node_ids["h3"] == 2
    # The variable is for a lost voter only.
    assert "no controller of a quorum that has run lost its metadata" in reformat_error(
        [*formatted, node("h3")], ["h3"]
    )


def test_a_new_broker_beside_a_running_quorum_is_formatted() -> None:
    result = replan([ran("h1", 0), ran("h2", 1), ran("h3", 2), node("b1", controller=False)])
    assert result.node_ids["b1"] == 1000


def test_parse_node_spec_reads_quorum_has_run() -> None:
    assert node("h1", quorum_has_run="True").quorum_has_run
    assert not node("h1").quorum_has_run
    with pytest.raises(PLANNING_ERRORS, match="quorum_has_run of h1"):
        node("h1", quorum_has_run="maybe")
