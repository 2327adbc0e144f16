#!/usr/bin/python
"""Documentation of the cluster_state action (the code is plugins/action/cluster_state.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_state
short_description: Assign AutoMQ node IDs and the cluster ID, kept in a state file
description:
  - Decides every node's KRaft C(node.id) and the cluster ID from, by priority, the host
    variable C(automq_node_id), the host's C(meta.properties), the state file and, for new
    hosts, a new allocation (controllers 0..n-1, broker-only nodes from 1000).
  - IDs stay stable across runs and inventory reordering; retired IDs are never reused;
    conflicts stop the play with a message naming the host, the variable and the fix.
  - Runs on the Ansible machine; writes the state file only when it changes, never in check mode.
  - The nodes keep copies of the state file (C(state_copy) of O(nodes)), so a run from
    another Ansible machine (an AWX job's fresh container) recovers it.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  state_file:
    description: JSON file beside the inventory that remembers the IDs.
    type: path
    required: true
  cluster_id:
    description: The user's C(automq_cluster_id); empty to keep or generate one.
    type: str
    default: ""
  nodes:
    description:
      - One entry per host with C(host), C(controller), C(broker), C(advertised_host),
        C(controller_port), and optionally C(explicit_id), C(on_host_id), C(on_host_cluster_id),
        C(on_host_security) (what node_state's C(security_mode) answered), C(restart_pending),
        C(quorum_has_run) (the host's metadata log holds KRaft's C(quorum-state) file) and
        C(state_copy) (the node's copy of the state document, what node_state read; null
        without one).
      - Without O(state_file), the nodes' copies make it (one cluster ID, every retired ID,
        the assignments they agree on; copies of different clusters stop the play). With it,
        the copies add the retired IDs it lacks, so an ID retired by a run from another
        Ansible machine is never handed out again. A copy of another cluster stops the play.
    type: list
    elements: dict
    required: true
  security:
    description:
      - The security mode the inventory asks for (C(automq_security)). A new cluster records
        it; an existing one keeps the recorded mode, or C(plaintext) when none is recorded.
      - Changing C(secure) to C(plaintext) fails unless O(allow_security_downgrade); changing
        a running C(plaintext) cluster to C(secure) goes through the phases of
        O(security_migration), one per run (a switch in one run would split the quorum).
    type: str
    choices: [secure, plaintext]
    default: secure
  security_migration:
    description:
      - The phase of the live migration of a plaintext cluster to secure this run applies
        (C(automq_security_migration)), with O(security) C(secure). C(listeners) adds the TLS
        listeners beside the plaintext ones, C(internal) moves the nodes' own traffic onto
        them, C(finish) drops plaintext. Each phase needs every node to run the previous one,
        without a pending restart; no new node may join in between.
    type: str
    choices: ["", listeners, internal, finish]
    default: ""
  allow_security_downgrade:
    description: Accept a weaker mode than the recorded one (C(plaintext), or an earlier migration phase).
    type: bool
    default: false
  reformat_controllers:
    description:
      - Controllers to format again although the quorum has run, because their metadata was
        lost (C(automq_reformat_controllers)). Without it such a controller stops the play.
      - One per run; each must be a controller of the run without C(meta.properties).
    type: list
    elements: str
    default: []
  node_copy_path:
    description: Where the nodes keep their copies, for the messages.
    type: str
    default: the node's copy
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
- name: Assign node IDs and the cluster ID
  automq.platform.cluster_state:
    state_file: "{{ inventory_dir }}/automq_state/automq.json"
    nodes:
      - {host: node1, controller: true, broker: true, advertised_host: 10.0.0.11, controller_port: 9093}
  run_once: true
"""

RETURN = r"""
cluster_id:
  description: The cluster ID.
  type: str
  returned: success
node_ids:
  description: Node ID of each host.
  type: dict
  returned: success
voter_ids:
  description: Node IDs of the controllers, sorted.
  type: list
  returned: success
quorum_voters:
  description: Value of C(controller.quorum.voters).
  type: str
  returned: success
quorum_bootstrap_servers:
  description: Value of C(controller.quorum.bootstrap.servers).
  type: str
  returned: success
security:
  description:
    - The security mode recorded for the cluster, C(plaintext), C(secure), or the migration phase
      between them it runs (C(migrating-listeners), C(migrating-internal)).
  type: str
  returned: success
new_hosts:
  description: Hosts that got a new node ID in this run.
  type: list
  returned: success
state_text:
  description: The state document as the state file holds it, for the nodes' copies.
  type: str
  returned: success
recovered_from:
  description: Hosts whose copies made the missing state file or added retired IDs to it.
  type: list
  returned: success
"""
