"""Action cluster_state: plan node IDs and the cluster ID, persist them beside the inventory.

Runs on the Ansible machine only (the state file lives there); see
plugins/modules/cluster_state.py for the documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.cluster_state import (
    PLANNING_ERRORS,
    NodeCopy,
    merge_node_copies,
    parse_node_spec,
    plan_cluster,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.state_file import (
    StateFileError,
    read_state_file,
    state_file_text,
    write_state_file,
)

ARGUMENT_SPEC = {
    "state_file": {"type": "path", "required": True},
    "cluster_id": {"type": "str", "default": ""},
    "nodes": {"type": "list", "elements": "dict", "required": True},
    "security": {"type": "str", "default": "secure", "choices": ["secure", "plaintext"]},
    "allow_security_downgrade": {"type": "bool", "default": False},
    "security_migration": {
        "type": "str",
        "default": "",
        "choices": ["", "listeners", "internal", "finish"],
    },
    "reformat_controllers": {"type": "list", "elements": "str", "default": []},
    "node_copy_path": {"type": "str", "default": "the node's copy"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        state_file = Path(args["state_file"])

        try:
            document = read_state_file(state_file)
        except StateFileError as error:
            result.update(failed=True, msg=str(error))
            return result

        try:
            nodes = [parse_node_spec(raw) for raw in args["nodes"]]
            planned_from, copies_used = merge_node_copies(
                document,
                [NodeCopy(str(raw.get("host")), raw.get("state_copy")) for raw in args["nodes"]],
                state_file=str(state_file),
                copy_path=args["node_copy_path"],
            )
            plan = plan_cluster(
                planned_from,
                args["cluster_id"],
                nodes,
                state_file=str(state_file),
                security=args["security"],
                allow_security_downgrade=args["allow_security_downgrade"],
                security_migration=args["security_migration"],
                reformat_controllers=args["reformat_controllers"],
            )
        except PLANNING_ERRORS as error:
            result.update(failed=True, msg=str(error))
            return result

        changed = plan.state != document
        if changed and not self._task.check_mode:
            write_state_file(state_file, plan.state)
        result.update(
            changed=changed,
            state_file=str(state_file),
            cluster_id=plan.cluster_id,
            cluster_id_generated=plan.cluster_id_generated,
            node_ids=dict(plan.node_ids),
            new_hosts=list(plan.new_hosts),
            voter_ids=list(plan.voter_ids),
            quorum_voters=plan.quorum_voters,
            quorum_bootstrap_servers=plan.quorum_bootstrap_servers,
            security=plan.security,
            state_text=state_file_text(plan.state),
            # Hosts whose copies made the state file (it was missing) or added retired IDs.
            recovered_from=list(copies_used),
        )
        if changed and self._task.diff:
            result["diff"] = {
                "before_header": str(state_file),
                "after_header": str(state_file),
                "before": state_file_text(document) if document else "",
                "after": state_file_text(plan.state),
            }
        return result
