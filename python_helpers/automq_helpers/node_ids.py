"""Assign stable KRaft node IDs to the hosts of an AutoMQ cluster.

AutoMQ's convention: controllers (including combined controller+broker nodes) get the IDs
0..n-1 and broker-only nodes get IDs from 1000 up.  A node ID is written into the host's
``meta.properties`` when the host is formatted and can never change afterwards, so the IDs
handed out are remembered in a JSON state file beside the inventory (:class:`IdState`):

* ``assignments`` maps every host that ever got an ID to that ID; hosts that are not in the
  current run keep their entry, so their ID stays reserved;
* ``retired`` holds IDs that must never be handed out again (hosts that were decommissioned
  or wiped: a new node reusing such an ID could be mistaken for the old one by the quorum).

Everything here is pure Python, with no Ansible import, so it can be unit tested.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "BROKER_ID_BASE",
    "CONTROLLER_GROUP",
    "DEFAULT_STATE_FILE",
    "MAX_NODE_ID",
    "NODE_ID_VARIABLE",
    "VALID_CONTROLLER_COUNTS",
    "Assignment",
    "IdState",
    "NodeIdError",
    "NodeRequest",
    "assign_node_ids",
    "quorum_bootstrap_servers",
    "quorum_voters",
    "retire_hosts",
]

BROKER_ID_BASE = 1000
"""Controllers get IDs below this, broker-only nodes IDs from this up."""
MAX_NODE_ID = 2**31 - 1
"""``node.id`` is a Java int."""
NODE_ID_VARIABLE = "automq_node_id"
CONTROLLER_GROUP = "automq_controller"
VALID_CONTROLLER_COUNTS = (1, 3, 5)
DEFAULT_STATE_FILE = "the node ID state file (automq_state/ beside the inventory)"


class NodeIdError(ValueError):
    """A node ID request cannot be satisfied; the message says which host and how to fix it."""


@dataclass(frozen=True)
class NodeRequest:
    """One host of the inventory, with its roles and the IDs already known for it.

    ``explicit_id`` is the host variable ``automq_node_id``; ``on_host_id`` is the ``node.id``
    of the host's ``meta.properties`` (None when the host is not formatted yet).
    """

    host: str
    controller: bool
    broker: bool
    explicit_id: int | None = None
    on_host_id: int | None = None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_error(source: str, problem: str) -> NodeIdError:
    return NodeIdError(
        f"{source} is malformed: {problem}. Expected "
        '{"assignments": {"<host>": <id>, ...}, "retired": [<id>, ...]} with non-negative '
        "integer IDs, each assigned to one host only and none both assigned and retired. "
        "Fix: restore the file from version control or a backup; it is written by the "
        "installer, so do not edit it by hand unless you know the IDs the hosts were formatted "
        "with (node.id in their meta.properties)."
    )


def _check_state(assignments: Mapping[str, int], retired: frozenset[int], source: str) -> None:
    for host, node_id in assignments.items():
        if not isinstance(host, str) or not host:
            raise _json_error(source, f"host name {host!r} is not a non-empty string")
        if not _is_int(node_id) or not 0 <= node_id <= MAX_NODE_ID:
            raise _json_error(source, f"host {host!r} has ID {node_id!r}, not a valid node ID")
    for node_id in retired:
        if not _is_int(node_id) or not 0 <= node_id <= MAX_NODE_ID:
            raise _json_error(source, f"retired ID {node_id!r} is not a valid node ID")
    by_id: dict[int, list[str]] = {}
    for host, node_id in assignments.items():
        by_id.setdefault(node_id, []).append(host)
    for node_id, hosts in sorted(by_id.items()):
        if len(hosts) > 1:
            raise _json_error(
                source, f"ID {node_id} is assigned to several hosts: {', '.join(sorted(hosts))}"
            )
        if node_id in retired:
            raise _json_error(
                source, f"ID {node_id} is retired but still assigned to host {hosts[0]}"
            )


@dataclass(frozen=True)
class IdState:
    """The persisted node ID bookkeeping (see the module docstring).

    Validated on construction (:class:`NodeIdError`); ``assignments`` is stored as a read-only
    copy, so an ``IdState`` is immutable.
    """

    assignments: Mapping[str, int] = field(default_factory=dict)
    retired: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        assignments = dict(self.assignments)
        retired = frozenset(self.retired)
        _check_state(assignments, retired, DEFAULT_STATE_FILE)
        object.__setattr__(
            self, "assignments", types.MappingProxyType(dict(sorted(assignments.items())))
        )
        object.__setattr__(self, "retired", retired)

    def to_json(self) -> dict[str, object]:
        """The JSON document for the state file, with sorted keys and lists (stable diffs)."""
        return {
            "assignments": dict(sorted(self.assignments.items())),
            "retired": sorted(self.retired),
        }

    @classmethod
    def from_json(cls, data: object, *, source: str = DEFAULT_STATE_FILE) -> IdState:
        """Parse and validate a state file document; ``source`` names the file in errors.

        ``"retired"`` may be omitted (no retired IDs); other keys are rejected.
        """
        if not isinstance(data, Mapping):
            raise _json_error(source, f"the document is a {type(data).__name__}, not an object")
        unknown = sorted(str(key) for key in data if key not in ("assignments", "retired"))
        if unknown:
            raise _json_error(source, f"unknown key(s) {', '.join(unknown)}")
        if "assignments" not in data:
            raise _json_error(source, 'the key "assignments" is missing')
        assignments = data["assignments"]
        if not isinstance(assignments, Mapping):
            raise _json_error(source, '"assignments" is not an object')
        retired = data.get("retired", [])
        if not isinstance(retired, list):
            raise _json_error(source, '"retired" is not a list')
        for node_id in retired:
            if not _is_int(node_id) or not 0 <= node_id <= MAX_NODE_ID:
                raise _json_error(source, f"retired ID {node_id!r} is not a valid node ID")
        parsed_assignments: dict[str, int] = dict(assignments)
        parsed_retired: frozenset[int] = frozenset(retired)
        _check_state(parsed_assignments, parsed_retired, source)
        return cls(assignments=parsed_assignments, retired=parsed_retired)


@dataclass(frozen=True)
class Assignment:
    """The result of :func:`assign_node_ids`.

    ``ids`` covers the requested hosts; ``state`` is the new state to persist; ``new_hosts``
    lists (sorted) the hosts that got a freshly allocated ID.
    """

    ids: Mapping[str, int]
    state: IdState
    new_hosts: tuple[str, ...]


def _role(node: NodeRequest) -> str:
    if node.controller and node.broker:
        return "combined controller+broker"
    return "controller" if node.controller else "broker-only"


def _in_role_range(node: NodeRequest, node_id: int) -> bool:
    return node_id < BROKER_ID_BASE if node.controller else node_id >= BROKER_ID_BASE


def _range_text(node: NodeRequest) -> str:
    if node.controller:
        return f"0-{BROKER_ID_BASE - 1}"
    return f"{BROKER_ID_BASE} and up"


def _failures(voters: int) -> str:
    tolerated = (voters - 1) // 2
    return "no failure" if tolerated == 0 else f"{tolerated} failure{'s' * (tolerated > 1)}"


def _validate_requests(nodes: Sequence[NodeRequest]) -> None:
    if not nodes:
        msg = "No AutoMQ host to assign node IDs to: the inventory has no controller or broker."
        raise NodeIdError(msg)
    seen: set[str] = set()
    for node in nodes:
        if not isinstance(node.host, str) or not node.host:
            msg = f"Invalid host name {node.host!r}: it must be a non-empty string."
            raise NodeIdError(msg)
        if node.host in seen:
            msg = f"Host {node.host} is listed twice in the node ID request."
            raise NodeIdError(msg)
        seen.add(node.host)
    for node in nodes:
        if not node.controller and not node.broker:
            msg = (
                f"Host {node.host} has neither the controller nor the broker role. Fix: add it "
                f"to the {CONTROLLER_GROUP} group and/or the broker group, or remove it from "
                "the AutoMQ inventory groups."
            )
            raise NodeIdError(msg)
        if node.explicit_id is not None and (
            not _is_int(node.explicit_id) or not 0 <= node.explicit_id <= MAX_NODE_ID
        ):
            msg = (
                f"Host {node.host}: {NODE_ID_VARIABLE} is {node.explicit_id!r} "
                f"({type(node.explicit_id).__name__}), but a node ID must be an integer from 0 "
                f"to {MAX_NODE_ID}. Fix: set {NODE_ID_VARIABLE} to an unquoted non-negative "
                f"integer ({_role(node)} nodes conventionally use {_range_text(node)}), or "
                "remove it to let the installer allocate one."
            )
            raise NodeIdError(msg)
        if node.on_host_id is not None and (
            not _is_int(node.on_host_id) or not 0 <= node.on_host_id <= MAX_NODE_ID
        ):
            msg = (
                f"Host {node.host}: node.id in its meta.properties is {node.on_host_id!r}, "
                "which is not a valid node ID, so its log directory is corrupt. Fix: restore "
                "its meta.properties, or wipe the host's AutoMQ data/log directory (this "
                "destroys its data) so it is formatted again."
            )
            raise NodeIdError(msg)
    controllers = sorted(node.host for node in nodes if node.controller)
    if len(controllers) not in VALID_CONTROLLER_COUNTS:
        if not controllers:
            found = f"The inventory group {CONTROLLER_GROUP} has no host"
        else:
            found = (
                f"The inventory group {CONTROLLER_GROUP} has {len(controllers)} hosts "
                f"({', '.join(controllers)})"
            )
        count = len(controllers)
        if count > max(VALID_CONTROLLER_COUNTS):
            why = (
                "every metadata commit waits for a majority of the voters, so more than 5 "
                "slows down commits and elections while 5 already survive 2 failures"
            )
        elif controllers:
            why = (
                f"the quorum works only while a strict majority of its voters is up "
                f"({count // 2 + 1} of {count}), so {count} voters survive "
                f"{_failures(count)}, no more than {count - 1} would, and the extra voter is "
                "one more host that can fail"
            )
        else:
            why = "AutoMQ cannot run without a KRaft controller quorum"
        msg = (
            f"{found}, but a KRaft controller quorum needs 1, 3 or 5 voters: {why}. Fix: put "
            f"1 (no fault tolerance, for tests only), 3 (survives 1 failure) or 5 (survives 2 "
            f"failures) hosts in {CONTROLLER_GROUP}; the other hosts can be broker-only."
        )
        raise NodeIdError(msg)


def _check_explicit_and_on_host(node: NodeRequest, state: IdState) -> None:
    explicit, on_host = node.explicit_id, node.on_host_id
    if explicit is not None and on_host is not None and explicit != on_host:
        msg = (
            f"Host {node.host}: {NODE_ID_VARIABLE} is {explicit}, but the host is already "
            f"formatted with node.id {on_host} (meta.properties). A node ID cannot change "
            f"without wiping the host. Fix: set {NODE_ID_VARIABLE} to {on_host} (or remove it), "
            f"or wipe the host's AutoMQ data/log directory (this destroys its data) and retire "
            f"ID {on_host} if you really want ID {explicit}."
        )
        raise NodeIdError(msg)
    if on_host is not None and on_host in state.retired:
        msg = (
            f"Host {node.host} is formatted with node.id {on_host} (meta.properties), but ID "
            f"{on_host} is retired in {DEFAULT_STATE_FILE}: the host still holds the data of a "
            f"node that was decommissioned. Fix: wipe the host's AutoMQ data/log directory so "
            f"it is formatted again as a new node with a new ID, or remove the host from the "
            "inventory."
        )
        raise NodeIdError(msg)
    if explicit is not None and explicit in state.retired:
        msg = (
            f"Host {node.host}: {NODE_ID_VARIABLE} is {explicit}, but ID {explicit} is retired "
            f'(it belonged to a decommissioned or wiped node and is listed under "retired" '
            f"in {DEFAULT_STATE_FILE}); reusing it could make the cluster take the new node for "
            f"the old one. Fix: choose another {NODE_ID_VARIABLE} ({_role(node)} nodes "
            f"conventionally use {_range_text(node)}), or remove it to let the installer "
            "allocate one."
        )
        raise NodeIdError(msg)


def _check_remembered(node: NodeRequest, node_id: int) -> None:
    if _in_role_range(node, node_id):
        return
    msg = (
        f"Host {node.host} is now a {_role(node)} node, but {DEFAULT_STATE_FILE} remembers "
        f"node ID {node_id} for it, outside the {_role(node)} range {_range_text(node)}: its "
        "role changed since the ID was assigned. A node keeps its ID for life, so a role "
        "change needs a new node. Fix: wipe the host's AutoMQ data/log directory if it was "
        f'formatted, retire the host (which moves its ID {node_id} to "retired" in the state '
        "file), then "
        f"run again so it gets a {_role(node)} ID; or set {NODE_ID_VARIABLE}: {node_id} to "
        "keep the old ID deliberately."
    )
    raise NodeIdError(msg)


def _source_text(source: str) -> str:
    return {
        "explicit": f"from {NODE_ID_VARIABLE}",
        "on_host": "from node.id in its meta.properties",
        "state": f"remembered in {DEFAULT_STATE_FILE}",
        "reserved": f"reserved in {DEFAULT_STATE_FILE}, host not in this inventory",
    }[source]


def _duplicate_error(node_id: int, claims: list[tuple[str, str]]) -> NodeIdError:
    who = "; ".join(f"{host} ({_source_text(source)})" for host, source in claims)
    hosts = [host for host, _source in claims]
    reserved = [host for host, source in claims if source == "reserved"]
    fix = (
        f"Fix: give each host a distinct {NODE_ID_VARIABLE}, or remove {NODE_ID_VARIABLE} "
        "from the hosts that are not formatted yet so the installer allocates a free ID."
    )
    if reserved:
        fix += (
            f' If {", ".join(reserved)} was renamed, rename its entry under "assignments" in '
            f"{DEFAULT_STATE_FILE}; if it was decommissioned, retire it (its ID is then never "
            "reused, so the other host needs another ID)."
        )
    return NodeIdError(
        f"Node ID {node_id} is claimed by several hosts: {who}. Node IDs must be unique in a "
        f"cluster, so {', '.join(hosts)} cannot share it. {fix}"
    )


def _smallest_free(start: int, stop: int, used: set[int]) -> int:
    candidate = start
    while candidate in used:
        candidate += 1
    if candidate >= stop:
        msg = f"No free node ID left in the range {start}-{stop - 1}."
        raise NodeIdError(msg)
    return candidate


def assign_node_ids(nodes: Sequence[NodeRequest], state: IdState) -> Assignment:
    """Give every requested host a node ID and return the IDs and the new state.

    A host's ID is, by priority: ``explicit_id`` (``automq_node_id``), ``on_host_id`` (the
    ``node.id`` it is formatted with), its entry in ``state``, a new allocation.  Explicit and
    on-host IDs are honoured in any range; remembered IDs must fit the host's role (controllers
    below 1000, broker-only nodes from 1000).  New IDs are the smallest free ones of the role's
    range, given in host-name order, so the result does not depend on the order of ``nodes``.
    A remembered ID that a host no longer uses (superseded by an explicit or on-host ID) is
    retired.  Raises :class:`NodeIdError` with an actionable message on any conflict.
    """
    _validate_requests(nodes)
    ordered = sorted(nodes, key=lambda node: node.host)
    requested = {node.host for node in ordered}

    chosen: dict[str, tuple[int, str]] = {}
    superseded: set[int] = set()
    for node in ordered:
        _check_explicit_and_on_host(node, state)
        remembered = state.assignments.get(node.host)
        if node.explicit_id is not None:
            chosen[node.host] = (node.explicit_id, "explicit")
        elif node.on_host_id is not None:
            chosen[node.host] = (node.on_host_id, "on_host")
        elif remembered is not None:
            _check_remembered(node, remembered)
            chosen[node.host] = (remembered, "state")
        if remembered is not None and chosen[node.host][0] != remembered:
            superseded.add(remembered)

    claims: dict[int, list[tuple[str, str]]] = {}
    for host, (node_id, source) in chosen.items():
        claims.setdefault(node_id, []).append((host, source))
    kept = {host: nid for host, nid in state.assignments.items() if host not in requested}
    for host, node_id in sorted(kept.items()):
        claims.setdefault(node_id, []).append((host, "reserved"))
    for node_id, claimants in sorted(claims.items()):
        if len(claimants) > 1:
            raise _duplicate_error(node_id, claimants)

    used = set(claims) | superseded | set(state.retired) | set(state.assignments.values())
    new_hosts: list[str] = []
    ids: dict[str, int] = {host: node_id for host, (node_id, _source) in chosen.items()}
    for node in ordered:
        if node.host in ids:
            continue
        if node.controller:
            node_id = _smallest_free(0, BROKER_ID_BASE, used)
        else:
            node_id = _smallest_free(BROKER_ID_BASE, MAX_NODE_ID + 1, used)
        used.add(node_id)
        ids[node.host] = node_id
        new_hosts.append(node.host)

    new_state = IdState(
        assignments={**kept, **ids},
        retired=state.retired | frozenset(superseded - set(ids.values())),
    )
    return Assignment(
        ids=types.MappingProxyType(dict(sorted(ids.items()))),
        state=new_state,
        new_hosts=tuple(new_hosts),
    )


def retire_hosts(state: IdState, hosts: Iterable[str]) -> IdState:
    """Forget the hosts' assignments and retire their IDs so they are never handed out again.

    Use it for decommissioned hosts and for hosts that are wiped to join as a new node.
    """
    to_retire = sorted(set(hosts))
    unknown = [host for host in to_retire if host not in state.assignments]
    if unknown:
        known = ", ".join(state.assignments) or "none"
        msg = (
            f"Cannot retire {', '.join(unknown)}: no node ID is recorded for "
            f"{'it' if len(unknown) == 1 else 'them'} in {DEFAULT_STATE_FILE} (hosts with an "
            f"ID: {known}). Fix: check the host name(s) against the state file."
        )
        raise NodeIdError(msg)
    return IdState(
        assignments={h: i for h, i in state.assignments.items() if h not in to_retire},
        retired=state.retired | {state.assignments[host] for host in to_retire},
    )


def _check_port(port: int) -> None:
    if not _is_int(port) or not 1 <= port <= 65535:
        msg = f"Invalid controller port {port!r}: it must be an integer from 1 to 65535."
        raise NodeIdError(msg)


def _endpoint(host: str, port: int) -> str:
    bare = host[1:-1] if isinstance(host, str) and host[:1] == "[" and host[-1:] == "]" else host
    if not isinstance(bare, str) or not bare or any(c in bare for c in ",@[] \t\r\n"):
        msg = (
            f"Invalid host {host!r} for the controller quorum: it must be a non-empty host "
            "name or IP address without whitespace, ',' or '@'."
        )
        raise NodeIdError(msg)
    if ":" in bare:  # an IPv6 address must be bracketed before the port
        return f"[{bare}]:{port}"
    return f"{bare}:{port}"


def quorum_voters(voters: Iterable[tuple[int, str]], port: int) -> str:
    """``controller.quorum.voters``: ``"0@h1:9093,1@h2:9093"``, sorted by node ID."""
    _check_port(port)
    pairs = sorted(voters, key=lambda pair: pair[0])
    if not pairs:
        msg = "The controller quorum has no voter."
        raise NodeIdError(msg)
    seen_ids: set[int] = set()
    seen_hosts: set[str] = set()
    parts: list[str] = []
    for node_id, host in pairs:
        if not _is_int(node_id) or not 0 <= node_id <= MAX_NODE_ID:
            msg = f"Invalid voter node ID {node_id!r} for host {host!r}."
            raise NodeIdError(msg)
        if node_id in seen_ids:
            msg = f"Node ID {node_id} appears twice among the controller quorum voters."
            raise NodeIdError(msg)
        endpoint = _endpoint(host, port)
        if endpoint in seen_hosts:
            msg = f"Host {host} appears twice among the controller quorum voters."
            raise NodeIdError(msg)
        seen_ids.add(node_id)
        seen_hosts.add(endpoint)
        parts.append(f"{node_id}@{endpoint}")
    return ",".join(parts)


def quorum_bootstrap_servers(hosts: Iterable[str], port: int) -> str:
    """``controller.quorum.bootstrap.servers``: ``"h1:9093,h2:9093"``, in the given order."""
    _check_port(port)
    host_list = list(hosts)
    if not host_list:
        msg = "The controller quorum has no bootstrap server."
        raise NodeIdError(msg)
    endpoints = [_endpoint(host, port) for host in host_list]
    duplicates = sorted({ep for ep in endpoints if endpoints.count(ep) > 1})
    if duplicates:
        msg = f"{', '.join(duplicates)} appear(s) twice among the quorum bootstrap servers."
        raise NodeIdError(msg)
    return ",".join(endpoints)
