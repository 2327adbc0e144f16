#!/usr/bin/python
"""Ansible module ram_access_key: a RAM user's AccessKey, created once, its secret shown once."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ram_access_key
short_description: Create a RAM user's AccessKey once and return its secret only then
description:
  - Alibaba Cloud shows an AccessKey secret only in the answer that creates the key. This
    module therefore follows a strict contract.
  - A user without an AccessKey gets one. That run, and only that run, returns
    RV(access_key_secret), and writes the key to O(secret_file) if given (vault-encrypted
    unless O(secret_file_plaintext)).
  - A user with an AccessKey the caller names, in O(user_access_key_id) (from the vault) or in
    the O(secret_file) written earlier, is left alone, with no change and no secret.
  - A user with an AccessKey the caller does not name is an error, never a silent second key.
    The message lists the keys. Name the one you hold, or delete it (O(state=absent) with
    O(user_access_key_id)) and run again to get a new one.
  - O(state=absent) deletes the key named by O(user_access_key_id) only.
  - The companion action plugin marks any result carrying a secret as C(no_log), so it is
    never printed, even at high verbosity, and still reaches C(register). Adding
    C(no_log) to the task as well is good practice.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
options:
  user_name:
    description: Name of the RAM user.
    type: str
    required: true
  user_access_key_id:
    description:
      - The user's AccessKey ID the caller holds (for example from ansible-vault). With
        O(state=absent), the key to delete.
      - Not to be confused with O(access_key_id), the key the module itself signs with.
    type: str
  secret_file:
    description:
      - Path of a JSON file (C(access_key_id), C(access_key_secret)) on the Ansible machine
        (run the task there), written with mode 0600 when a key is created. An existing file
        is never overwritten; its C(access_key_id) is used when O(user_access_key_id) is not
        given.
      - The file is written vault-encrypted with the vault secret the run was given
        (C(--vault-password-file), C(--vault-id), a password client script, C(--ask-vault-pass),
        AWX's Vault credential; C(DEFAULT_VAULT_ENCRYPT_IDENTITY) picks one of several), so the
        secret never reaches the disk in clear. Without a vault secret the task fails before
        creating a key. Ansible decrypts the file transparently (C(lookup('file')),
        C(include_vars)); the task reads an encrypted one itself.
    type: path
  secret_file_plaintext:
    description:
      - Write O(secret_file) in clear (mode 0600) instead of vault-encrypted. Only where the
        file is protected otherwise; never commit it.
    type: bool
    default: false
  state:
    description: Whether the key should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  action:
    description:
      - Runs through the collection's action plugin, which reads O(secret_file) and writes a
        new one vault-encrypted on the Ansible machine, and hides any result that carries a
        secret.
    support: full
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
# ansible-playbook --vault-password-file ~/.vault-pass ... (the file is encrypted with it)
- name: AccessKey of the OSS user (first run creates it, later runs read its ID back)
  automq.alicloud.ram_access_key:
    user_name: automq-prod-oss
    secret_file: "{{ inventory_dir }}/automq-prod-oss-key.json"
  register: oss_key
  delegate_to: localhost
  no_log: true

- name: Read the secret where it is needed (Ansible decrypts the file)
  ansible.builtin.set_fact:
    oss_secret: "{{ (lookup('ansible.builtin.file', inventory_dir ~ '/automq-prod-oss-key.json') | from_json).access_key_secret }}"
  no_log: true
"""

RETURN = r"""
access_key_id:
  description: The user's AccessKey ID (created or named); null after deletion.
  type: str
  returned: always
access_key_secret:
  description: The secret of a key created by this run. Never returned again.
  type: str
  returned: when a key was created
status:
  description: C(Active) or C(Inactive).
  type: str
  returned: when the key exists
created:
  description: Whether this run created the key.
  type: bool
  returned: always
secret_file:
  description: Path the new key was written to.
  type: str
  returned: when a key was created and O(secret_file) was given
"""

import os

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.access_key import (
    AccessKeyError,
    decide_access_key,
    key_file_content,
    keys_from_api,
    parse_key_file,
)


def write_key_file(path: str, access_key_id: str, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key_file_content(access_key_id, secret))


def main() -> None:
    cloud = AlicloudModule(
        {
            "user_name": {"type": "str", "required": True},
            "user_access_key_id": {"type": "str", "no_log": False},
            "secret_file": {"type": "path"},
            # Read by the action plugin, which writes an encrypted file itself and then
            # passes no secret_file; a secret_file that reaches the module is written in clear.
            "secret_file_plaintext": {"type": "bool", "default": False},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ram",
    )
    params = cloud.params
    user = params["user_name"]
    secret_file = params["secret_file"]
    held = params["user_access_key_id"]
    if not held and secret_file and os.path.exists(secret_file):
        try:
            with open(secret_file, encoding="utf-8") as handle:
                held = parse_key_file(handle.read(), secret_file)
        except (OSError, AccessKeyError) as exc:
            cloud.fail(str(exc))
    models = cloud.models("ram")
    body = cloud.rpc(
        "ram",
        "ListAccessKeys",
        f"list the AccessKeys of RAM user {user!r}",
        models.ListAccessKeysRequest(user_name=user),
        # A user that check mode has not created yet has no keys; a real run still needs it.
        ignore_codes=("EntityNotExist.User",) if cloud.check_mode else (),
    )
    existing = keys_from_api(body or {})
    before = {"access_keys": [k.access_key_id for k in existing]}
    try:
        decision = decide_access_key(
            user_name=user, state=params["state"], existing=existing, held_key_id=held
        )
    except AccessKeyError as exc:
        cloud.fail(str(exc))
    if decision.warning:
        cloud.warn(decision.warning)

    if decision.action == "none":
        cloud.exit(False, before, before, access_key_id=None, created=False)
    if decision.action == "delete":
        after = {"access_keys": [k for k in before["access_keys"] if k != decision.access_key_id]}
        if not cloud.check_mode:
            cloud.rpc(
                "ram",
                "DeleteAccessKey",
                f"delete AccessKey {decision.access_key_id} of RAM user {user!r}",
                models.DeleteAccessKeyRequest(
                    user_name=user, user_access_key_id=decision.access_key_id
                ),
            )
        cloud.exit(True, before, after, access_key_id=None, created=False)
    if decision.action == "keep":
        status = next(k.status for k in existing if k.access_key_id == decision.access_key_id)
        cloud.exit(
            False,
            before,
            before,
            access_key_id=decision.access_key_id,
            status=status,
            created=False,
        )

    # Create: check everything that could fail afterwards before the key exists.
    if secret_file:
        if os.path.exists(secret_file):
            cloud.fail(
                f"secret_file {secret_file} already exists: it is never overwritten; move it away"
            )
        directory = os.path.dirname(os.path.abspath(secret_file))
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            cloud.fail(
                f"secret_file {secret_file}: directory {directory} is missing or not writable"
            )
    if cloud.check_mode:
        cloud.exit(True, before, {"access_keys": ["(new key)"]}, access_key_id=None, created=True)
    body = cloud.rpc(
        "ram",
        "CreateAccessKey",
        f"create an AccessKey for RAM user {user!r}",
        models.CreateAccessKeyRequest(user_name=user),
    )
    key = (body or {}).get("AccessKey") or {}
    key_id, secret = str(key.get("AccessKeyId") or ""), str(key.get("AccessKeySecret") or "")
    if not key_id or not secret:
        cloud.fail(f"CreateAccessKey for RAM user {user!r} returned no key: check the RAM console")
    result = {
        "access_key_id": key_id,
        "access_key_secret": secret,
        "status": str(key.get("Status") or "Active"),
        "created": True,
    }
    if secret_file:
        try:
            write_key_file(secret_file, key_id, secret)
            result["secret_file"] = secret_file
        except OSError as exc:
            cloud.warn(
                f"the new AccessKey {key_id} could not be written to {secret_file} ({exc}); its "
                "secret is only in this task's registered result: store it now"
            )
    cloud.exit(True, before, {"access_keys": [*before["access_keys"], key_id]}, **result)


if __name__ == "__main__":
    main()
