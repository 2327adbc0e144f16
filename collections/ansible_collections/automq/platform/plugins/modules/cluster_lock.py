#!/usr/bin/python
"""Ansible module cluster_lock: one operation at a time on an AutoMQ node."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_lock
short_description: Take or give back the lock that keeps two operations off a cluster at once
description:
  - A lock file on the node names the run that holds it (its ID, user, Ansible machine and
    process, playbook, start time). With O(state=present) the run takes it unless another run
    holds it; it never fails for that, it returns C(acquired=false) and the C(holder), so the
    playbook can give back what it took on the other nodes before it stops.
  - The action plugin of the same name runs on the Ansible machine, fills in O(holder) for the
    run, and breaks a lock by itself only when its holder ran on the same Ansible machine and its
    process is gone. Any other lock is broken only by naming its ID in O(break_id).
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  path:
    description: The lock file; its directory is created when missing.
    type: path
    required: true
  state:
    description: C(present) takes the lock, C(absent) gives it back (only the run's own lock).
    type: str
    choices: [present, absent]
    default: present
  playbook:
    description: What the run does, for the lock's holder (a playbook's name).
    type: str
    required: true
  holder:
    description: The run taking the lock; filled in by the action plugin, leave it unset.
    type: dict
    suboptions:
      id:
        description: The run's lock ID.
        type: str
        required: true
      user:
        description: Who runs it.
        type: str
        required: true
      controller:
        description: Host name of the Ansible machine.
        type: str
        required: true
      pid:
        description: Its ansible-playbook process.
        type: int
        required: true
      started:
        description: When it started (UTC, ISO 8601).
        type: str
        required: true
  break_id:
    description:
      - Replace the lock held under this ID (C(unreadable) for a damaged lock file).
    type: str
    default: ""
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Take the cluster lock
  automq.platform.cluster_lock:
    path: /var/lib/automq/operation.lock
    playbook: upgrade.yml
  register: lock
"""

RETURN = r"""
acquired:
  description: The run holds the lock now.
  type: bool
  returned: always
holder:
  description: Who holds the lock (none when nobody does or the file is unreadable).
  type: dict
  returned: always
description:
  description: Who holds the lock instead, in words (the refusal's text).
  type: str
  returned: when another run holds the lock
path:
  description: The lock file (O(path)).
  type: str
  returned: always
unreadable:
  description: The lock file exists but names no holder readably.
  type: bool
  returned: always
broken:
  description: The holder this call replaced.
  type: dict
  returned: when a lock was broken
lock_id:
  description: This run's lock ID (added by the action plugin).
  type: str
  returned: always
host:
  description: The inventory name of the host (added by the action plugin).
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.operation_lock import (
    LockHolder,
    acquire,
    release,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "playbook": {"type": "str", "required": True},
            "holder": {
                "type": "dict",
                "options": {
                    "id": {"type": "str", "required": True},
                    "user": {"type": "str", "required": True},
                    "controller": {"type": "str", "required": True},
                    "pid": {"type": "int", "required": True},
                    "started": {"type": "str", "required": True},
                },
            },
            "break_id": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not params["holder"]:
        module.fail_json(msg="holder is missing: run this module through its action plugin")
    holder = LockHolder(playbook=params["playbook"], **params["holder"])
    try:
        if params["state"] == "present":
            state = acquire(params["path"], holder, params["break_id"], module.check_mode)
        else:
            state = release(params["path"], holder.id, module.check_mode)
    except OSError as error:
        module.fail_json(msg=f"lock file {params['path']}: {error}")
    result = {
        "path": params["path"],
        "changed": state.changed,
        "acquired": state.acquired,
        "holder": state.holder.public() if state.holder else None,
        "unreadable": state.unreadable,
    }
    if params["state"] == "present" and not state.acquired:
        result["description"] = (
            state.holder.describe() if state.holder else f"an unreadable lock file {params['path']}"
        )
    if state.broken is not None:
        result["broken"] = state.broken.public()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
