#!/usr/bin/python
"""Ansible module node_files: a node's managed directories, files and links in one step."""

from __future__ import annotations

DOCUMENTATION = r"""
module: node_files
short_description: Bring a node's directories, files and links to their wanted state in one call
description:
  - Compares every listed directory, file and link with what is on the host and changes only
    what differs, in one module call instead of one per file; files are replaced atomically
    (a temporary file in the same directory, then a rename).
  - Never removes anything. A path of the wrong kind (a directory where a file should be) is
    an error that names it, and nothing is changed.
  - With O(restart_record), the record is written and synced before the first change of an
    entry marked C(restart), so an interrupted run still restarts the node next time.
  - Only a new content or link target needs the restart. An owner, group or mode put back
    changes nothing the running service loaded, so it is fixed without a restart.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  directories:
    description: Directories, created parents first (missing parents get mode 0755, owner root).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: str, required: true}
      owner: {description: Owner., type: str, default: root}
      group: {description: Group., type: str, default: root}
      mode: {description: Mode as a quoted octal string., type: str, required: true}
  files:
    description: Regular files with their whole content; shown in the diff.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: str, required: true}
      content: {description: The whole content., type: str, required: true}
      owner: {description: Owner., type: str, default: root}
      group: {description: Group., type: str, default: root}
      mode: {description: Mode as a quoted octal string., type: str, required: true}
      restart: {description: A change takes effect only at the service's restart., type: bool, default: false}
      validate:
        description:
          - A command that checks new content before it replaces the file, C(%s) standing for a
            temporary file holding it (as the template module's C(validate)). Files without a
            check are written first (a checked file may name them); then each checked file, in
            list order, is checked and written, so it may name the checked files before it. A
            refused check leaves it and the checked files after it as they were. Not run in
            check mode.
        type: str
  secret_files:
    description: Like O(files), for content that must never be shown (no diff of the content, no log).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: str, required: true}
      content: {description: The whole content (never logged)., type: str, required: true}
      owner: {description: Owner., type: str, default: root}
      group: {description: Group., type: str, default: root}
      mode: {description: Mode as a quoted octal string., type: str, required: true}
      restart: {description: A change takes effect only at the service's restart., type: bool, default: false}
      validate:
        description: As for O(files); a refusal does not quote the check's output.
        type: str
  assembled:
    description:
      - Files put together on the host from other files (a PEM key store from the key and the
        certificate), so a key never leaves the host. Never shown in a diff.
      - A part written by the same call contributes its new content.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: str, required: true}
      parts: {description: "Absolute paths of the parts, in order.", type: list, elements: str, required: true}
      owner: {description: Owner., type: str, default: root}
      group: {description: Group., type: str, default: root}
      mode: {description: Mode as a quoted octal string., type: str, required: true}
      restart: {description: A change takes effect only at the service's restart., type: bool, default: false}
  checked_files:
    description:
      - Files whose content comes from elsewhere (a downloaded agent). Their sha256 is checked,
        their owner, group and mode fixed. A missing file or another sha256 is not fixed but
        reported in RV(stale_paths), for the task that copies it.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path., type: str, required: true}
      sha256: {description: The content's sha256 in hex., type: str, required: true}
      owner: {description: Owner., type: str, default: root}
      group: {description: Group., type: str, default: root}
      mode: {description: Mode as a quoted octal string., type: str, required: true}
      restart: {description: A change takes effect only at the service's restart., type: bool, default: false}
  links:
    description: Symbolic links (owned by root).
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path of the link., type: str, required: true}
      target: {description: What the link points at., type: str, required: true}
      restart: {description: A change takes effect only at the service's restart., type: bool, default: false}
      hold:
        description: Report a differing target (and record the restart) but do not change the link.
        type: bool
        default: false
  restart_record:
    description:
      - Path of the restart record, written before the first change of an entry marked C(restart).
      - Omit it for a node that is not running.
    type: str
  restart_record_content:
    description: Content of the restart record.
    type: str
    default: "A change of this node's configuration needs a restart.\n"
  restart_due_record:
    description:
      - Path of a record of a restart that may wait until the time on its first line (UTC,
        C(YYYY-MM-DDTHH:MM:SSZ)), written by M(automq.platform.certificate_reload).
      - Once that time has come (or the line is not a time), the restart record is written as for
        a change. Needs O(restart_record).
    type: str
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
- name: Write the node's configuration
  automq.platform.node_files:
    directories:
      - {path: /etc/automq, group: automq, mode: "0750"}
    files:
      - path: /etc/automq/server.properties
        content: "{{ lookup('ansible.builtin.template', 'server.properties.j2') }}"
        group: automq
        mode: "0640"
        restart: true
    secret_files:
      - path: /etc/automq/credentials.env
        content: "{{ lookup('ansible.builtin.template', 'credentials.env.j2') }}"
        owner: automq
        group: automq
        mode: "0600"
        restart: true
    links:
      - {path: /opt/automq/current, target: /opt/automq/automq-1.7.3, restart: true, hold: true}
    restart_record: /var/lib/automq/restart-pending
  register: node_files
"""

RETURN = r"""
changed_paths:
  description: Paths that differed (changed, or would be in check mode; held links included).
  type: list
  elements: str
  returned: always
held_paths:
  description: Links that differ but were left alone (O(links[].hold)).
  type: list
  elements: str
  returned: always
stale_paths:
  description: Paths of O(checked_files) that are missing or hold another content (not fixed).
  type: list
  elements: str
  returned: always
restart_pending:
  description: Whether the restart record of O(restart_record) exists (written now or by an earlier run).
  type: bool
  returned: always
restart_needed:
  description: Whether the content or target of an entry marked C(restart) differed (the record was written when O(restart_record) is set).
  type: bool
  returned: always
restart_record_created:
  description: Whether this call created the restart record (it did not exist before).
  type: bool
  returned: always
restart_due:
  description: The time of O(restart_due_record) when it exists (C(unreadable) when it holds none).
  type: str
  returned: when the record exists
"""

import hashlib
import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_files import (
    Directory,
    File,
    Link,
    NodeFilesError,
    apply,
    assemble,
    diff,
    host_ids,
    observe,
    parse_mode,
    plan,
    read_file,
    read_restart_due,
    utc_now,
    write_atomically,
)

_OWNED = {
    "path": {"type": "str", "required": True},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "mode": {"type": "str", "required": True},
}
_FILE = {
    **_OWNED,
    "content": {"type": "str", "required": True},
    "restart": {"type": "bool", "default": False},
    "validate": {"type": "str"},
}
# Only the content is secret: marking the whole list no_log would mask its paths and
# owners ("root") in every later output too.
_SECRET_FILE = {**_FILE, "content": {"type": "str", "required": True, "no_log": True}}


def _file(item: dict[str, Any], content: bytes, secret: bool) -> File:
    """A File from an entry of files, secret_files, assembled or checked_files."""
    return File(
        path=item["path"],
        content=content,
        owner=item["owner"],
        group=item["group"],
        mode=parse_mode(item["mode"], item["path"]),
        restart=item["restart"],
        secret=secret,
        validate=item.get("validate"),
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {"type": "list", "elements": "dict", "default": [], "options": _OWNED},
            "files": {"type": "list", "elements": "dict", "default": [], "options": _FILE},
            "secret_files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": _SECRET_FILE,
                # The secret is each entry's content, itself no_log (_SECRET_FILE).
                "no_log": False,
            },
            "checked_files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    **_OWNED,
                    "sha256": {"type": "str", "required": True},
                    "restart": {"type": "bool", "default": False},
                },
            },
            "assembled": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    **_OWNED,
                    "parts": {"type": "list", "elements": "str", "required": True},
                    "restart": {"type": "bool", "default": False},
                },
            },
            "links": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "str", "required": True},
                    "target": {"type": "str", "required": True},
                    "restart": {"type": "bool", "default": False},
                    "hold": {"type": "bool", "default": False},
                },
            },
            "restart_record": {"type": "str"},
            "restart_record_content": {
                "type": "str",
                "default": "A change of this node's configuration needs a restart.\n",
            },
            "restart_due_record": {"type": "str"},
        },
        required_by={"restart_due_record": "restart_record"},
        supports_check_mode=True,
    )
    params = module.params
    try:
        directories = [
            Directory(
                item["path"], item["owner"], item["group"], parse_mode(item["mode"], item["path"])
            )
            for item in params["directories"]
        ]
        files = [_file(item, item["content"].encode("utf-8"), False) for item in params["files"]]
        files += [
            _file(item, item["content"].encode("utf-8"), True) for item in params["secret_files"]
        ]
        files += [
            _file(item, assemble(item["parts"], files, read_file), True)
            for item in params["assembled"]
        ]
        stale: list[str] = []
        for item in params["checked_files"]:
            seen = observe([item["path"]], [item["path"]])[item["path"]]
            if (
                seen.content is None
                or hashlib.sha256(seen.content).hexdigest() != item["sha256"].lower()
            ):
                stale.append(item["path"])
                continue
            # Its own content: only the owner, group and mode can differ.
            files.append(_file(item, seen.content, False))
        links = [
            Link(item["path"], item["target"], item["restart"], item["hold"])
            for item in params["links"]
        ]
        paths = [
            *(directory.path for directory in directories),
            *(file.path for file in files),
            *(link.path for link in links),
        ]
        observed = observe(paths, [entry.path for entry in files])
        wanted = plan(directories, files, links, observed, host_ids)
        recorded = False
        record = params["restart_record"]
        record_existed = bool(record) and os.path.lexists(record)
        due_exists, due = (
            read_restart_due(params["restart_due_record"])
            if params["restart_due_record"]
            else (False, None)
        )
        # A restart that could wait until now: recorded as any other.
        due_now = due_exists and (due is None or due <= utc_now())
        if due_now and not record_existed and not module.check_mode:
            content = params["restart_record_content"].encode("utf-8")
            write_atomically(record, content, 0, 0, 0o644)
            recorded = True
        if wanted.changes and not module.check_mode:
            recorded = (
                apply(
                    wanted.changes,
                    host_ids,
                    (record, params["restart_record_content"].encode("utf-8")) if record else None,
                )
                or recorded
            )
    except (NodeFilesError, OSError) as error:
        module.fail_json(msg=str(error))
    applied = [change for change in wanted.changes if not change.held]
    # Written now, or left by an earlier run whose restart has not happened yet.
    pending = bool(record) and (
        os.path.exists(record) or (module.check_mode and (wanted.restart_needed or due_now))
    )
    result: dict[str, Any] = {
        # A held link changes nothing itself, but its restart record is a change.
        "changed": bool(applied)
        or recorded
        or (
            module.check_mode
            and ((wanted.restart_needed and bool(record)) or (due_now and not record_existed))
        ),
        "changed_paths": wanted.changed_paths,
        "stale_paths": stale,
        "held_paths": [change.path for change in wanted.changes if change.held],
        "restart_needed": wanted.restart_needed,
        "restart_pending": pending,
        "restart_record_created": recorded and not record_existed,
    }
    if due_exists:
        result["restart_due"] = due.strftime("%Y-%m-%dT%H:%M:%SZ") if due else "unreadable"
    if module._diff and wanted.changes:
        result["diff"] = diff(wanted.changes, observed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
