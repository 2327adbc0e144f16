"""Action retire_nodes: retire decommissioned hosts' node IDs in the state file.

Runs on the Ansible machine only (the state file lives there); see
plugins/modules/retire_nodes.py for the documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_ids import (
    NodeIdError,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.retirement import (
    retire_nodes,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.state_file import (
    StateFileError,
    read_state_file,
    state_file_text,
    write_state_file,
)

ARGUMENT_SPEC = {
    "state_file": {"type": "path", "required": True},
    "nodes": {"type": "dict", "required": True},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        state_file = Path(args["state_file"])

        nodes: dict[str, int] = {}
        for host, raw in args["nodes"].items():
            text = str(raw).strip()
            if isinstance(raw, bool) or not (text.isascii() and text.isdecimal()):
                result.update(failed=True, msg=f"node ID of {host} is {raw!r}, not an integer")
                return result
            nodes[str(host)] = int(text)

        try:
            document = read_state_file(state_file)
        except StateFileError as error:
            result.update(failed=True, msg=str(error))
            return result

        try:
            retirement = retire_nodes(document, nodes, state_file=str(state_file))
        except NodeIdError as error:
            result.update(failed=True, msg=str(error))
            return result

        changed = retirement.document != document
        if changed and not self._task.check_mode:
            write_state_file(state_file, retirement.document)
        result.update(
            changed=changed,
            state_file=str(state_file),
            retired=list(retirement.retired),
            already_retired=list(retirement.already_retired),
            retired_ids=sorted(nodes[host] for host in retirement.retired),
            state_text=state_file_text(retirement.document),
        )
        if changed and self._task.diff:
            result["diff"] = {
                "before_header": str(state_file),
                "after_header": str(state_file),
                "before": state_file_text(document),
                "after": state_file_text(retirement.document),
            }
        return result
