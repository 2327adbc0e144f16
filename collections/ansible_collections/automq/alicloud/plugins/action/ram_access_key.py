"""Action ram_access_key: run the module, and hide any result that carries a secret.

A module cannot hide its own result: adding the secret to ``no_log_values`` would replace
it by ``********`` in the very result the playbook needs. An action plugin can mark the
result ``_ansible_no_log``, which makes every callback print it censored (even at -vvv)
while ``register`` still receives the secret. See plugins/modules/ram_access_key.py for the
documentation.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        result.update(
            self._execute_module(
                module_name="automq.alicloud.ram_access_key",
                module_args=self._task.args,
                task_vars=task_vars,
            )
        )
        if result.get("access_key_secret"):
            result["_ansible_no_log"] = True
        return result
