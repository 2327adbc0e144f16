#!/usr/bin/python
"""Documentation of the retire_nodes action (the code is plugins/action/retire_nodes.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: retire_nodes
short_description: Retire the node IDs of decommissioned AutoMQ hosts in the state file
description:
  - Removes each host from C(assignments) of the cluster's state file and lists its node ID
    under C(retired), so the ID is never handed out again (the cluster_state action refuses
    retired IDs).
  - A host whose ID is already retired is reported in C(already_retired) and changes nothing.
  - Fails, changing nothing, when the state file records another ID for a host, or the ID
    for another host.
  - Runs on the Ansible machine; writes the state file only when it changes, never in check mode.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  state_file:
    description: JSON file beside the inventory that remembers the IDs.
    type: path
    required: true
  nodes:
    description: Host name to the node ID it runs with (C(node.id) in its C(meta.properties)).
    type: dict
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Retire node-4's ID
  automq.platform.retire_nodes:
    state_file: "{{ inventory_dir }}/automq_state/automq.json"
    nodes:
      node-4: 1000
  run_once: true
"""

RETURN = r"""
retired:
  description: Hosts whose ID was retired by this run (or would be, in check mode).
  type: list
  elements: str
  returned: success
already_retired:
  description: Hosts whose ID was retired before.
  type: list
  elements: str
  returned: success
retired_ids:
  description: The node IDs of C(retired).
  type: list
  elements: int
  returned: success
state_text:
  description: The state document as the state file holds it, for the nodes' copies.
  type: str
  returned: success
"""
