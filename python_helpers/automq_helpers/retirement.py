"""Retire the node IDs of decommissioned hosts in the cluster's state file.

The state file (``{"cluster_id": ..., "assignments": {...}, "retired": [...]}``, see
:mod:`cluster_state`) forgets a decommissioned host and lists its ID under ``retired``, so
the ID is never handed out again (:func:`node_ids.retire_hosts`).  Pure: the Ansible
action plugin ``retire_nodes`` does the I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .node_ids import IdState, NodeIdError, retire_hosts

__all__ = ["Retirement", "retire_nodes"]


@dataclass(frozen=True)
class Retirement:
    """``document`` is the new state file; ``retired`` the hosts retired now (sorted),
    ``already_retired`` the hosts whose ID was retired before (sorted)."""

    document: dict[str, object]
    retired: tuple[str, ...]
    already_retired: tuple[str, ...]


# Keys of the state file that are not node IDs: kept as they are by a retirement.
_CLUSTER_KEYS = ("cluster_id", "security")


def _split(document: object, state_file: str) -> tuple[dict[str, object], IdState]:
    if document is None:
        raise NodeIdError(
            f"There is no state file {state_file}, so no node ID was ever recorded for this "
            "cluster. Fix: run the decommission with the inventory the cluster was deployed "
            "with (the state file lives in its automq_state/ directory)."
        )
    if not isinstance(document, Mapping):
        raise NodeIdError(
            f"{state_file} does not hold a JSON object; restore it from version control"
        )
    ids = {key: value for key, value in document.items() if key not in _CLUSTER_KEYS}
    kept = {key: document[key] for key in _CLUSTER_KEYS if document.get(key) is not None}
    return kept, IdState.from_json(ids, source=state_file)


def retire_nodes(document: object, nodes: Mapping[str, int], *, state_file: str) -> Retirement:
    """Retire each host's node ID (``nodes`` maps host name to the ID it runs with).

    A host recorded with that ID is retired; a host whose ID is already retired (and who is
    no longer recorded) is reported in ``already_retired``; a host not recorded at all has
    its ID retired as long as no other host holds it.  Raises :class:`NodeIdError` when the
    state file records another ID for the host, or the ID for another host.
    """
    kept, state = _split(document, state_file)
    to_retire: list[str] = []
    unrecorded: set[int] = set()
    already: list[str] = []
    owners = {node_id: host for host, node_id in state.assignments.items()}
    for host, node_id in sorted(nodes.items()):
        recorded = state.assignments.get(host)
        if recorded == node_id:
            to_retire.append(host)
        elif recorded is not None:
            raise NodeIdError(
                f"{state_file} records node ID {recorded} for {host}, but the host runs as node "
                f"{node_id} (node.id in its meta.properties). Nothing was retired. Fix: check "
                "that the inventory and the state file belong to the same cluster."
            )
        elif node_id in state.retired:
            already.append(host)
        elif node_id in owners:
            raise NodeIdError(
                f"{host} runs as node {node_id}, but {state_file} records that ID for "
                f"{owners[node_id]}. Nothing was retired. Fix: check that the inventory and the "
                "state file belong to the same cluster."
            )
        else:
            unrecorded.add(node_id)
    retired_state = retire_hosts(state, to_retire)
    new_state = IdState(
        assignments=retired_state.assignments, retired=retired_state.retired | unrecorded
    )
    new_document: dict[str, object] = {**new_state.to_json(), **kept}
    retired_now = sorted(
        host for host, node_id in nodes.items() if host in to_retire or node_id in unrecorded
    )
    return Retirement(
        document=new_document, retired=tuple(retired_now), already_retired=tuple(already)
    )
