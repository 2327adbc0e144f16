"""Callback plugin of `make bench`: per host, the module runs of a playbook run.

A no-op run costs what its round trips cost: every task that runs a module on a host
starts Python there and costs the Ansible machine a connection, while a task that only
sets a fact or checks an input runs on the Ansible machine alone. Counted per host: the
module runs on the host itself (each loop item counts) and, apart, those delegated to
the Ansible machine. Written as JSON to the file named by AUTOMQ_BENCH_MODULE_RUNS when
the run ends; enabled by the bench only (ANSIBLE_CALLBACKS_ENABLED).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from ansible.plugins.callback import CallbackBase

OUTPUT_VARIABLE = "AUTOMQ_BENCH_MODULE_RUNS"
# Actions that run on the Ansible machine only, whatever the host.
CONTROLLER_ONLY = frozenset(
    {
        "add_host",
        "assert",
        "debug",
        "fail",
        "group_by",
        "import_role",
        "import_tasks",
        "include_role",
        "include_tasks",
        "include_vars",
        "meta",
        "set_fact",
        "set_stats",
        "validate_argument_spec",
    }
)
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1"})


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "module_runs"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.on_host: Counter[str] = Counter()
        self.on_ansible_machine: Counter[str] = Counter()

    def _count(self, result: Any) -> None:
        if result._task.action.rsplit(".", 1)[-1] in CONTROLLER_ONLY:
            return
        host = result._host.get_name()
        delegated = result._result.get("_ansible_delegated_vars") or {}
        if delegated.get("ansible_delegated_host") in LOCAL_NAMES or (
            delegated.get("ansible_host") in LOCAL_NAMES
        ):
            self.on_ansible_machine[host] += 1
        else:
            self.on_host[host] += 1

    def _count_unless_looped(self, result: Any) -> None:
        # A loop's items were counted one by one (v2_runner_item_on_*).
        if "results" not in result._result:
            self._count(result)

    def v2_runner_on_ok(self, result: Any) -> None:
        self._count_unless_looped(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._count_unless_looped(result)

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._count(result)

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._count(result)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        path = os.environ.get(OUTPUT_VARIABLE)
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(
                    {
                        "on_host": dict(self.on_host),
                        "on_ansible_machine": dict(self.on_ansible_machine),
                    },
                    handle,
                    sort_keys=True,
                )
