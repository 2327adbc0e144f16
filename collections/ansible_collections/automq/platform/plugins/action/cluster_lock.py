"""Action cluster_lock: who this run is, then the lock on the host.

Runs on the Ansible machine, in a worker process of ``ansible-playbook``: its parent is
the run's main process, which names the run (host name, process ID and the process's
start time). See plugins/modules/cluster_lock.py for the documentation.
"""

from __future__ import annotations

import datetime
import getpass
import os
import socket
from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.operation_lock import (
    process_start,
    run_id,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "playbook": {"type": "str", "required": True},
    "break_id": {"type": "str", "default": ""},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        controller = socket.gethostname()
        pid = os.getppid()  # ansible-playbook's main process
        lock_id = run_id(controller, pid) or f"{pid}@{controller}"
        started = process_start(pid) or datetime.datetime.now(datetime.UTC)
        holder = {
            "id": lock_id,
            "user": getpass.getuser(),
            "controller": controller,
            "pid": pid,
            "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        module_args = {**args, "holder": holder}
        outcome = self._execute_module(
            module_name="automq.platform.cluster_lock",
            module_args=module_args,
            task_vars=task_vars,
        )
        other = outcome.get("holder")
        if (
            args["state"] == "present"
            and not outcome.get("failed")
            and not outcome.get("acquired")
            and other
            and other["controller"] == controller
            and run_id(controller, other["pid"]) != other["id"]
        ):
            # Its run ended on this machine without giving the lock back (a failure, an
            # interrupt): nobody else can be relying on it.
            retry = {**module_args, "break_id": other["id"]}
            outcome = self._execute_module(
                module_name="automq.platform.cluster_lock",
                module_args=retry,
                task_vars=task_vars,
            )
            if outcome.get("acquired"):
                outcome.setdefault("warnings", []).append(
                    f"took over the cluster lock of an earlier run on this machine that "
                    f"ended without giving it back: {other['playbook']} by {other['user']}, "
                    f"started {other['started']}"
                )
        result.update(outcome)
        result["lock_id"] = lock_id
        result["host"] = (task_vars or {}).get("inventory_hostname", "")
        return result
