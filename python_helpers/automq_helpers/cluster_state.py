"""Plan a cluster's identity: its cluster ID, node IDs and controller quorum.

Combines :mod:`cluster_id` and :mod:`node_ids` over one state file document
(``{"cluster_id": ..., "assignments": {...}, "retired": [...]}``) and the
facts read from the hosts. Pure: the Ansible action plugin does the I/O.

Every node keeps a copy of the document (:func:`merge_node_copies`): a run from an
Ansible machine without the state file (an AWX job's fresh container, a colleague's
checkout) recovers it from the nodes, and retired IDs recorded by a run elsewhere are
never handed out again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .cluster_id import ClusterIdError, resolve_cluster_id
from .node_ids import (
    NODE_ID_VARIABLE,
    IdState,
    NodeIdError,
    NodeRequest,
    assign_node_ids,
    quorum_bootstrap_servers,
    quorum_voters,
)

__all__ = [
    "MIGRATION_PHASES",
    "RUNNING_MODES",
    "SECURITY_MODES",
    "ClusterPlan",
    "NodeCopy",
    "NodeSpec",
    "PlanError",
    "merge_node_copies",
    "parse_node_spec",
    "plan_cluster",
    "refuse_voter_reformat",
    "resolve_security",
    "target_security",
]

REFORMAT_VARIABLE = "automq_reformat_controllers"

SECURITY_MODES = ("secure", "plaintext")
# What a cluster can run, weakest first: the two modes and, between them, the phases of
# the live migration (automq_security_migration), one rolling run each.
MIGRATION_PHASES = ("listeners", "internal", "finish")
RUNNING_MODES = ("plaintext", "migrating-listeners", "migrating-internal", "secure")
# Clusters recorded before the security mode was: they all ran plaintext.
LEGACY_SECURITY = "plaintext"
MIGRATION_VARIABLE = "automq_security_migration"


class PlanError(ValueError):
    """The inputs cannot give a consistent cluster; the message says what to fix."""


@dataclass(frozen=True)
class NodeSpec:
    """What the preflight knows of one host."""

    host: str
    controller: bool
    broker: bool
    advertised_host: str
    controller_port: int
    explicit_id: int | None = None
    on_host_id: int | None = None
    on_host_cluster_id: str | None = None
    # One of RUNNING_MODES, as the node's current server.properties has it.
    on_host_security: str | None = None
    # A restart is recorded for the node: it still runs its previous configuration.
    restart_pending: bool = False
    # The node's metadata log holds KRaft's quorum-state file: the quorum ran
    # with it (formatting alone does not write the file).
    quorum_has_run: bool = False


@dataclass(frozen=True)
class ClusterPlan:
    cluster_id: str
    cluster_id_generated: bool
    node_ids: Mapping[str, int]
    new_hosts: tuple[str, ...]
    voter_ids: tuple[int, ...]
    quorum_voters: str
    quorum_bootstrap_servers: str
    security: str
    state: dict[str, object]


def _optional_int(raw: object, what: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise PlanError(f"{what} is {raw!r}: it must be a non-negative integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdecimal():
        return int(raw.strip())
    raise PlanError(f"{what} is {raw!r}: it must be a non-negative integer")


def _bool(raw: object, what: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise PlanError(f"{what} is {raw!r}: expected a boolean")


def parse_node_spec(raw: Mapping[str, object]) -> NodeSpec:
    """Build a :class:`NodeSpec` from the loosely typed mapping Ansible passes."""
    host = raw.get("host")
    if not isinstance(host, str) or not host:
        raise PlanError(f"node entry {dict(raw)!r} has no host name")
    advertised = raw.get("advertised_host")
    if not isinstance(advertised, str) or not advertised:
        raise PlanError(f"automq_advertised_host of {host} is empty: set it to the host's address")
    port = _optional_int(raw.get("controller_port"), f"automq_controller_port of {host}")
    if port is None or not 0 < port < 65536:
        raise PlanError(f"automq_controller_port of {host} is {port!r}: use a port 1-65535")
    cluster_id = raw.get("on_host_cluster_id")
    security = raw.get("on_host_security")
    if security in ("", None):
        security = None
    elif security not in RUNNING_MODES:
        raise PlanError(f"on_host_security of {host} is {security!r}")
    return NodeSpec(
        host=host,
        controller=_bool(raw.get("controller"), f"controller role of {host}"),
        broker=_bool(raw.get("broker"), f"broker role of {host}"),
        advertised_host=advertised,
        controller_port=port,
        explicit_id=_optional_int(raw.get("explicit_id"), f"{NODE_ID_VARIABLE} of {host}"),
        on_host_id=_optional_int(raw.get("on_host_id"), f"node.id in meta.properties of {host}"),
        on_host_cluster_id=cluster_id if isinstance(cluster_id, str) and cluster_id else None,
        on_host_security=security if isinstance(security, str) else None,
        quorum_has_run=_bool(raw.get("quorum_has_run", False), f"quorum_has_run of {host}"),
        restart_pending=_bool(raw.get("restart_pending", False), f"restart_pending of {host}"),
    )


def _split_state(document: object, state_file: str) -> tuple[str | None, str | None, IdState]:
    if document is None:
        return None, None, IdState()
    if not isinstance(document, Mapping):
        raise PlanError(
            f"{state_file} does not hold a JSON object; restore it from version control"
        )
    persisted = document.get("cluster_id")
    if persisted is not None and not isinstance(persisted, str):
        raise PlanError(
            f"{state_file}: cluster_id is not a string; restore it from version control"
        )
    security = document.get("security")
    if security is not None and security not in RUNNING_MODES:
        raise PlanError(
            f"{state_file}: security is {security!r}, not one of {', '.join(RUNNING_MODES)}; "
            "restore the file from version control"
        )
    ids = {key: value for key, value in document.items() if key not in ("cluster_id", "security")}
    return persisted, security, IdState.from_json(ids, source=state_file)


@dataclass(frozen=True)
class NodeCopy:
    """A node's copy of the state document (None when the node has none yet)."""

    host: str
    document: object


def _assignments_agreed(parsed: Sequence[IdState], retired: frozenset[int]) -> dict[str, int]:
    """The host -> ID entries every copy that names the host agrees on, without retired IDs
    and IDs claimed by two hosts (such hosts get their IDs from their meta.properties)."""
    seen: dict[str, set[int]] = {}
    for state in parsed:
        for host, node_id in state.assignments.items():
            seen.setdefault(host, set()).add(node_id)
    agreed = {host: ids.pop() for host, ids in seen.items() if len(ids) == 1}
    owners: dict[int, list[str]] = {}
    for host, node_id in agreed.items():
        owners.setdefault(node_id, []).append(host)
    return {
        host: node_id
        for host, node_id in sorted(agreed.items())
        if node_id not in retired and len(owners[node_id]) == 1
    }


def merge_node_copies(
    document: object, copies: Sequence[NodeCopy], *, state_file: str, copy_path: str
) -> tuple[object, tuple[str, ...]]:
    """The state document to plan from, and the hosts whose copies added to it.

    Without the state file (``document`` None) the nodes' copies make it: one cluster ID
    (copies of different clusters refuse the run), the security mode they agree on, every
    retired ID of any copy, and the assignments the copies agree on. With the state file,
    the copies add only the retired IDs it lacks (a decommission run elsewhere), and a host
    recorded with such an ID leaves the assignments. A copy of another cluster than the
    state file's refuses the run. Retired IDs only ever grow: a copy can never bring one back.
    """
    valid: list[tuple[str, str | None, str | None, IdState]] = []
    for copy in copies:
        if copy.document is None:
            continue
        cluster_id, security, ids = _split_state(copy.document, f"{copy_path} on {copy.host}")
        valid.append((copy.host, cluster_id, security, ids))
    if not valid:
        return document, ()
    retired = frozenset(node_id for *_rest, ids in valid for node_id in ids.retired)
    if document is None:
        clusters: dict[str | None, list[str]] = {}
        for host, cluster_id, _security, _ids in valid:
            clusters.setdefault(cluster_id, []).append(host)
        if len(clusters) > 1:
            held = "; ".join(
                f"{cluster_id} on {', '.join(hosts)}" for cluster_id, hosts in sorted(
                    clusters.items(), key=lambda item: str(item[0]))
            )  # fmt: skip
            raise PlanError(
                f"{state_file} does not exist on this Ansible machine, and the nodes' copies of "
                f"it ({copy_path}) name different clusters: {held}. Nothing was changed. Restore "
                "the state file from the machine or backup of the cluster's last run, or take "
                "the hosts of the other cluster out of this inventory"
            )
        securities = {security for _host, _cid, security, _ids in valid}
        recovered: dict[str, object] = {"cluster_id": next(iter(clusters))}
        if len(securities) == 1 and None not in securities:
            recovered["security"] = securities.pop()
        recovered.update(
            IdState(
                assignments=_assignments_agreed([ids for *_rest, ids in valid], retired),
                retired=retired,
            ).to_json()
        )
        return recovered, tuple(sorted(host for host, *_rest in valid))
    recorded_cluster, recorded_security, recorded = _split_state(document, state_file)
    foreign = sorted(
        f"{host} ({cluster_id})" for host, cluster_id, _sec, _ids in valid
        if cluster_id != recorded_cluster
    )  # fmt: skip
    if foreign:
        raise PlanError(
            f"{', '.join(foreign)} keep(s) a copy of another cluster's state ({copy_path}) than "
            f"{state_file} ({recorded_cluster}). Nothing was changed. Check that the inventory "
            "and the state file belong to the same cluster; a host reused from another cluster "
            "must be wiped first"
        )
    added = retired - recorded.retired
    if not added:
        return document, ()
    retired |= recorded.retired
    merged: dict[str, object] = {"cluster_id": recorded_cluster}
    if recorded_security is not None:
        merged["security"] = recorded_security
    merged.update(
        IdState(
            assignments={h: i for h, i in recorded.assignments.items() if i not in retired},
            retired=retired,
        ).to_json()
    )
    return merged, tuple(sorted(host for host, _cid, _sec, ids in valid if ids.retired & added))


def target_security(configured: str, migration: str = "") -> str:
    """The mode the inventory asks for: ``automq_security``, or a migration phase of it."""
    if configured not in SECURITY_MODES:
        raise PlanError(
            f"automq_security is {configured!r}: use secure (TLS, SASL/SCRAM, ACLs) or plaintext"
        )
    if migration in ("", None):
        return configured
    if migration not in MIGRATION_PHASES:
        raise PlanError(
            f"{MIGRATION_VARIABLE} is {migration!r}: use listeners, internal or finish (one "
            "rolling run each, in that order), or leave it empty"
        )
    if configured != "secure":
        raise PlanError(
            f"{MIGRATION_VARIABLE} is {migration} but automq_security is {configured}: the "
            "migration takes a plaintext cluster to secure, so set automq_security: secure"
        )
    return "secure" if migration == "finish" else f"migrating-{migration}"


def _phase_variable(mode: str) -> str:
    """How the inventory asks for ``mode``."""
    if mode == "plaintext":
        return "automq_security: plaintext"
    if mode == "secure":
        return f"automq_security: secure with {MIGRATION_VARIABLE}: finish"
    return f"automq_security: secure with {MIGRATION_VARIABLE}: {mode.removeprefix('migrating-')}"


def resolve_security(
    recorded: str | None,
    configured: str,
    *,
    nodes: Sequence[NodeSpec],
    cluster_exists: bool,
    allow_downgrade: bool,
    state_file: str,
    migration: str = "",
) -> str:
    """The security mode to record, or a :class:`PlanError` saying why the run must stop.

    A cluster keeps the mode it runs with: the state file's, else the most secure one its
    nodes are configured with (``nodes``), else, for a cluster whose state file predates
    the recorded modes, plaintext; otherwise the cluster takes ``automq_security``.
    Weakening a cluster (secure to plaintext, or back a migration phase) needs
    ``automq_security_allow_downgrade``. A running plaintext cluster becomes secure only
    through the migration's phases, one per run (RUNNING_MODES): switching in one run
    would split its quorum (nodes restarted onto TLS could no longer reach the others).
    A phase starts only once every node runs the previous one (no restart pending) and
    no new node joins while the cluster is between two modes.
    """
    target = target_security(configured, migration)
    modes = [node.on_host_security for node in nodes if node.on_host_security]
    from_hosts = max(modes, key=RUNNING_MODES.index) if modes else None
    current = recorded or from_hosts or (LEGACY_SECURITY if cluster_exists else None)
    if current is None:
        if target.startswith("migrating-"):
            raise PlanError(
                f"{MIGRATION_VARIABLE} is {migration}, but this cluster is new: the migration "
                "is for a running plaintext cluster. Remove the variable to deploy it secure"
            )
        return target
    if target.startswith("migrating-") or current.startswith("migrating-"):
        new = sorted(node.host for node in nodes if node.on_host_security is None)
        if new:
            raise PlanError(
                f"{', '.join(new)} would join while the cluster migrates to secure ({current}): "
                f"finish the migration ({MIGRATION_VARIABLE}: finish) first, then add the "
                "host(s), or take them out of the inventory for now"
            )
    if current == target:
        return target
    now, wanted = RUNNING_MODES.index(current), RUNNING_MODES.index(target)
    if wanted < now:
        if allow_downgrade:
            return target
        raise PlanError(
            f"this cluster runs {current} ({state_file} records it) and the inventory asks "
            f"for {target} ({_phase_variable(target)}): that would weaken it (TLS, "
            "authentication or ACLs dropped). Set "
            f"{_phase_variable(current)} again, or, if the downgrade is intended, "
            "automq_security_allow_downgrade: true"
        )
    if wanted > now + 1:
        first = (
            ""
            if current != "plaintext"
            else (
                "restarting its nodes onto TLS listeners in one run would split the controller "
                "quorum. "
            )
        )
        raise PlanError(
            f"this cluster runs {current} ({state_file}) and the inventory asks for {target}: "
            f"{first}A running plaintext cluster becomes secure in three rolling runs, "
            f"{MIGRATION_VARIABLE}: listeners, then internal, then finish (once its clients "
            "use the secure listener); the next one here is "
            f"{_phase_variable(RUNNING_MODES[now + 1])}"
        )
    behind = sorted(
        f"{node.host} ({'restart pending' if node.restart_pending else node.on_host_security})"
        for node in nodes
        if node.on_host_security is not None
        and (node.on_host_security != current or node.restart_pending)
    )
    if behind:
        raise PlanError(
            f"the next phase ({target}) starts only once every node runs {current}, and "
            f"{', '.join(behind)} do(es) not yet: run the same playbook with "
            f"{_phase_variable(current)} again to finish that phase first"
        )
    return target


def refuse_voter_reformat(
    nodes: Sequence[NodeSpec],
    node_ids: Mapping[str, int],
    reformat: Sequence[str],
) -> None:
    """Raise :class:`PlanError` unless formatting this run's unformatted controllers is safe.

    A controller found without meta.properties while the quorum has run (some controller's
    metadata log holds KRaft's quorum-state; formatting alone writes none) lost its
    metadata (a replaced or unmounted disk). Formatting it again gives a voter with an empty
    log under its old ID, which can help elect a leader that lacks committed metadata. It
    is formatted only when ``reformat`` (automq_reformat_controllers) names it, one
    controller per run, while every other voter keeps its metadata. The names are checked
    too: each must be a controller of this run that has lost its metadata, so a name left
    in the inventory cannot format a later loss silently.
    """
    controllers = {node.host: node for node in nodes if node.controller}
    for host in reformat:
        if host not in controllers:
            raise PlanError(
                f"{REFORMAT_VARIABLE} names {host!r}, which is not a controller of this run: "
                "name the controller (inventory host of automq_controller) whose metadata was lost"
            )
        if controllers[host].on_host_cluster_id is not None:
            raise PlanError(
                f"{REFORMAT_VARIABLE} names {host}, whose metadata directory holds its "
                "meta.properties: nothing to re-create. Remove it from the variable, which is "
                "meant for the one run that replaces a controller"
            )
    unformatted = sorted(h for h, node in controllers.items() if node.on_host_cluster_id is None)
    ran = sorted(h for h, node in controllers.items() if node.quorum_has_run)
    if not ran or not unformatted:
        if reformat:
            raise PlanError(
                f"{REFORMAT_VARIABLE} names {', '.join(reformat)}, but no controller of a quorum "
                "that has run lost its metadata: remove the variable"
            )
        return
    refused = [host for host in unformatted if host not in reformat]
    if refused:
        described = ", ".join(f"{host} (voter {node_ids[host]})" for host in refused)
        raise PlanError(
            f"{described}: no meta.properties in the metadata directory, although the "
            f"controller quorum has run (its quorum-state is on {', '.join(ran)}). Formatting "
            "a voter again would give it an empty metadata log under its old ID, and such a "
            "voter can help elect a leader that lacks committed metadata. If the disk is only "
            "unmounted or the directory moved, put it back and run again. To replace the "
            f"controller's lost metadata, run once with {REFORMAT_VARIABLE}: [{refused[0]}] "
            "while every other voter runs with its metadata; it is formatted with the cluster "
            "ID and catches up from the leader (the health gate waits for it). One controller "
            "per run"
        )
    if len(unformatted) > 1:
        raise PlanError(
            f"{REFORMAT_VARIABLE} names {', '.join(unformatted)}: replace one controller per "
            "run, so that every other voter holds the committed metadata while it catches up"
        )


def plan_cluster(
    state_document: object,
    configured_cluster_id: str | None,
    nodes: Sequence[NodeSpec],
    *,
    state_file: str,
    security: str = "secure",
    allow_security_downgrade: bool = False,
    reformat_controllers: Sequence[str] = (),
    security_migration: str = "",
) -> ClusterPlan:
    """Decide every node's ID, the cluster ID and the quorum strings.

    ``state_document`` is the parsed state file (None when there is none yet).
    Raises :class:`PlanError`, :class:`~.cluster_id.ClusterIdError` or
    :class:`~.node_ids.NodeIdError` (all ValueErrors) with operator-facing messages.
    """
    persisted, recorded_security, id_state = _split_state(state_document, state_file)
    decision = resolve_cluster_id(
        configured_cluster_id or None,
        persisted,
        {node.host: node.on_host_cluster_id for node in nodes},
        state_file=state_file,
    )
    security_mode = resolve_security(
        recorded_security,
        security,
        nodes=nodes,
        cluster_exists=persisted is not None,
        allow_downgrade=allow_security_downgrade,
        state_file=state_file,
        migration=security_migration,
    )
    assignment = assign_node_ids(
        [
            NodeRequest(
                host=node.host,
                controller=node.controller,
                broker=node.broker,
                explicit_id=node.explicit_id,
                on_host_id=node.on_host_id,
            )
            for node in nodes
        ],
        id_state,
    )
    refuse_voter_reformat(nodes, assignment.ids, reformat_controllers)
    controllers = sorted((assignment.ids[node.host], node) for node in nodes if node.controller)
    ports = {node.controller_port for _node_id, node in controllers}
    if len(ports) != 1:
        each = ", ".join(f"{node.host}: {node.controller_port}" for _node_id, node in controllers)
        raise PlanError(
            f"automq_controller_port differs between controllers ({each}); "
            "set one port for the whole automq_controller group"
        )
    port = ports.pop()
    state: dict[str, object] = {
        "cluster_id": decision.cluster_id,
        "security": security_mode,
        **assignment.state.to_json(),
    }
    return ClusterPlan(
        cluster_id=decision.cluster_id,
        cluster_id_generated=decision.generated,
        node_ids=dict(assignment.ids),
        new_hosts=assignment.new_hosts,
        voter_ids=tuple(node_id for node_id, _node in controllers),
        quorum_voters=quorum_voters(((i, n.advertised_host) for i, n in controllers), port),
        quorum_bootstrap_servers=quorum_bootstrap_servers(
            (node.advertised_host for _node_id, node in controllers), port
        ),
        security=security_mode,
        state=state,
    )


# Re-exported so callers can catch every planning error with one tuple.
PLANNING_ERRORS = (PlanError, ClusterIdError, NodeIdError)
