#!/usr/bin/python
"""Ansible module node_state: a node's identity, configured security and service state in one call."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_state
short_description: Read an AutoMQ node's meta.properties, security mode, quorum state and service state at once
description:
  - One round trip instead of one per file. Read only; changes nothing.
  - Returns the parsed C(meta.properties) (node and cluster ID), only the
    C(listener.security.protocol.map) of C(server.properties) and the security mode its
    listeners give (the rest may hold a secret in an override), whether a restart is
    recorded, whether KRaft's quorum-state file is in the metadata log (written by a
    running controller, never by formatting), and C(systemctl is-active)'s answer.
  - When asked, it also reads what a deploy reads a few seconds later (the release's start
    script and log4j.properties, the node's certificate), so that a no-op run reads each once.
  - A missing file is a normal answer (a new host); a file that cannot be read is an error
    naming it.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  meta_properties:
    description: Path of the node's C(meta.properties).
    type: str
    required: true
  server_properties:
    description: Path of the node's C(server.properties).
    type: str
    required: true
  quorum_state:
    description: Path of KRaft's C(quorum-state) file; omit on a node that is no controller.
    type: str
  service:
    description: The systemd unit's name, without C(.service).
    type: str
    required: true
  finalized_features:
    description:
      - Path of the record a finalize that raised the feature levels leaves (JSON); omit to
        read none.
    type: str
  restart_record:
    description: Path of the role's pending-restart record; omit to read none.
    type: str
  state_copy:
    description:
      - Path of the node's copy of the cluster's state document (JSON, as
        M(automq.platform.cluster_state) keeps it on the Ansible machine); omit to read none.
    type: str
  release_start_script:
    description: Path of the release's C(bin/kafka-server-start.sh); omit to look at none.
    type: str
  release_log4j:
    description: Path of the release's own C(config/log4j.properties); omit to read none.
    type: str
  certificate:
    description:
      - Path of the node's certificate (PEM, public); omit to read none. Never the key store,
        which holds the private key.
    type: str
  describe:
    description:
      - Paths to describe for a later M(automq.platform.node_files) call, so the Ansible
        machine can tell whether that call is needed (the node's TLS files); see RV(described).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: str, required: true}
      parts:
        description: The parts of a file assembled from others (a PEM key store), in order.
        type: list
        elements: str
        default: []
      private_key:
        description: A PEM private key; only its public key's fingerprint is described.
        type: bool
        default: false
  gather_facts:
    description:
      - Also return, as facts, what the roles use of the host (see RV(ansible_facts)), so that
        no C(setup) round trip is needed for them.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
    description: With O(gather_facts), the facts the roles use of the host.
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Read the node
  automq.platform.node_state:
    meta_properties: /var/lib/automq/kraft-metadata/meta.properties
    server_properties: /etc/automq/server.properties
    quorum_state: /var/lib/automq/kraft-metadata/__cluster_metadata-0/quorum-state
    service: automq
  register: node
"""

RETURN = r"""
ansible_facts:
  description:
    - With O(gather_facts), the host's distribution as C(setup)'s distribution subset gathers
      it (C(ansible_distribution), C(ansible_distribution_version),
      C(ansible_distribution_major_version), C(ansible_distribution_release),
      C(ansible_os_family) and the other C(ansible_distribution_*) facts) and
      C(ansible_memtotal_mb) (MemTotal of C(/proc/meminfo) in MiB).
  type: dict
  returned: when O(gather_facts) is true
formatted:
  description: Whether C(meta.properties) exists.
  type: bool
  returned: always
meta:
  description: The keys of C(meta.properties), or null when the node was never formatted.
  type: dict
  returned: always
listener_security_protocol_map:
  description: The C(listener.security.protocol.map) of C(server.properties); null without the file or the key.
  type: str
  returned: always
security_mode:
  description:
    - What the listeners of C(server.properties) run, C(plaintext), C(secure), or a phase of the
      migration between them (C(migrating-listeners), C(migrating-internal)); null without the
      file or the key.
  type: str
  returned: always
restart_pending:
  description: Whether the restart record exists (always false without O(restart_record)).
  type: bool
  returned: always
listener_ports:
  description: The port of each listener of C(listeners) in C(server.properties), by upper-case name; empty without.
  type: dict
  returned: always
quorum_has_run:
  description: Whether the quorum-state file exists (always false without O(quorum_state)).
  type: bool
  returned: always
service_state:
  description: What C(systemctl is-active) answered (active, inactive, activating, failed, ...).
  type: str
  returned: always
running:
  description: Whether the service counts as running (active, activating, reloading, deactivating).
  type: bool
  returned: always
finalized_features:
  description: The finalize record (C(finalized_by), C(levels), C(previous)), or null without one.
  type: dict
  returned: always
state_copy:
  description: The node's copy of the cluster's state document, or null without one.
  type: dict
  returned: always
release_start_script:
  description:
    - C(path), and whether it C(exists) and is an C(executable) file; null without
      O(release_start_script).
  type: dict
  returned: always
release_log4j:
  description: C(path) and its C(content) (null without the file); null without O(release_log4j).
  type: dict
  returned: always
certificate:
  description: C(path) and its C(content) (null without the file); null without O(certificate).
  type: dict
  returned: always
described:
  description:
    - Per path of O(describe), its C(kind) (C(absent), C(file), C(directory), C(link),
      C(other)) and, when there is one, its C(owner), C(group) and C(mode) (4 octal digits);
      for a regular file its C(sha256), or with O(describe[].parts) the C(parts) and whether
      it is C(assembled) from them, or with O(describe[].private_key) the
      C(public_key_sha256) (null for a key other than an unencrypted PKCS#8 EC key). Never
      any content.
  type: dict
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.facts.system.distribution import DistributionFactCollector
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_files import (
    Described,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_state import (
    NodeStateError,
    memtotal_mb,
    read_node_state,
)


def host_facts(module: AnsibleModule) -> dict[str, object]:
    """The distribution facts as setup's distribution subset gathers them (Ansible's own
    collector) and memtotal_mb, under setup's names."""
    facts: dict[str, object] = {
        f"ansible_{key}": value
        for key, value in DistributionFactCollector().collect(module=module).items()
    }
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as meminfo:
            memory = memtotal_mb(meminfo.read())
    except OSError:
        memory = None
    if memory is not None:
        facts["ansible_memtotal_mb"] = memory
    return facts


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "meta_properties": {"type": "str", "required": True},
            "server_properties": {"type": "str", "required": True},
            "quorum_state": {"type": "str"},
            "service": {"type": "str", "required": True},
            "finalized_features": {"type": "str"},
            "restart_record": {"type": "str"},
            "state_copy": {"type": "str"},
            "release_start_script": {"type": "str"},
            "release_log4j": {"type": "str"},
            "certificate": {"type": "str"},
            "describe": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "parts": {"type": "list", "elements": "str", "default": []},
                    "private_key": {"type": "bool", "default": False},
                },
            },
            "gather_facts": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params

    def is_active(unit: str) -> tuple[int, str]:
        rc, out, err = module.run_command(["systemctl", "is-active", unit])
        return rc, out or err

    try:
        state = read_node_state(
            params["meta_properties"],
            params["server_properties"],
            params["quorum_state"],
            params["service"],
            is_active,
            params["finalized_features"],
            params["restart_record"],
            params["state_copy"],
            params["release_start_script"],
            params["release_log4j"],
            params["certificate"],
            [
                Described(entry["path"], tuple(entry["parts"]), entry["private_key"])
                for entry in params["describe"]
            ],
        )
    except NodeStateError as error:
        module.fail_json(msg=str(error))
    facts = {"ansible_facts": host_facts(module)} if params["gather_facts"] else {}
    module.exit_json(changed=False, **state.as_result(), **facts)


if __name__ == "__main__":
    main()
