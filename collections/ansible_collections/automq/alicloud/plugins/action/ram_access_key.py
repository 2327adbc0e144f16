"""Action ram_access_key: run the module, keep a new key vault-encrypted, hide any secret.

A module cannot hide its own result: adding the secret to ``no_log_values`` would replace
it by ``********`` in the very result the playbook needs. An action plugin can mark the
result ``_ansible_no_log``, which makes every callback print it censored (even at -vvv)
while ``register`` still receives the secret.

The key file (``secret_file``, on the Ansible machine) is written here, not by the module:
encrypted with the vault secret this run was given (``--vault-password-file``,
``--vault-id``, a password client script, AWX's Vault credential), so the secret never
touches the disk in clear, not even for a moment an interrupted run could leave behind.
Only ``secret_file_plaintext: true`` hands a new file to the module, which writes it in
clear (mode 0600). An existing file, encrypted or not, is read here. See
plugins/modules/ram_access_key.py for the documentation.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.parsing.vault import VaultLib, is_encrypted, match_encrypt_secret
from ansible.plugins.action import ActionBase
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud import (
    access_key,
)

MODULE = "automq.alicloud.ram_access_key"


def write_new_file(path: str, content: bytes) -> None:
    """Write ``content`` to a new file at ``path`` (mode 0600), whole or not at all: a
    temporary file beside it is linked into place, which fails if ``path`` exists."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".ram-access-key.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


class ActionModule(ActionBase):
    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = dict(self._task.args)
        secret_file = args.get("secret_file")
        if not secret_file or args.get("state") == "absent":
            return self._run_module(result, args, task_vars)
        secret_file = os.path.expanduser(str(secret_file))

        if self._connection.transport != "local":
            return self._failed(
                result,
                "ram_access_key: secret_file is kept on the Ansible machine, so run the task "
                "there (delegate_to: localhost, or a play on localhost)",
            )
        vault = VaultLib(self._loader._vault.secrets or [])
        if os.path.exists(secret_file):
            if not args.get("user_access_key_id"):
                try:
                    args["user_access_key_id"] = self._held_key_id(vault, secret_file)
                except (OSError, AnsibleError, access_key.AccessKeyError) as error:
                    return self._failed(result, to_text(error))
            # The module never sees the file: it could not read a vaulted one.
            return self._run_module(result, {**args, "secret_file": None}, task_vars)

        # The key may be created: everything its file needs is checked first.
        directory = os.path.dirname(os.path.abspath(secret_file))
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            return self._failed(
                result,
                f"secret_file {secret_file}: directory {directory} is missing or not writable",
            )
        if boolean(args.get("secret_file_plaintext", False), strict=False):
            return self._run_module(result, args, task_vars)  # the module writes it in clear
        if not vault.secrets:
            return self._failed(result, no_vault_message(secret_file))
        result = self._run_module(result, {**args, "secret_file": None}, task_vars)
        if result.get("created") and result.get("access_key_secret"):
            vault_id, secret = match_encrypt_secret(vault.secrets, C.DEFAULT_VAULT_ENCRYPT_IDENTITY)
            key_id, key_secret = result["access_key_id"], result["access_key_secret"]
            content = to_bytes(access_key.key_file_content(key_id, key_secret))
            try:
                write_new_file(secret_file, vault.encrypt(content, secret, vault_id=vault_id))
                result["secret_file"] = secret_file
            except OSError as error:
                result.setdefault("warnings", []).append(
                    f"the new AccessKey {result['access_key_id']} could not be written to "
                    f"{secret_file} ({error}); its secret is only in this task's registered "
                    "result: store it now"
                )
        return result

    def _run_module(
        self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any] | None
    ) -> dict[str, Any]:
        result.update(
            self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        )
        if result.get("access_key_secret"):
            result["_ansible_no_log"] = True
        return result

    @staticmethod
    def _held_key_id(vault: VaultLib, path: str) -> str:
        with open(path, "rb") as handle:
            data = handle.read()
        if is_encrypted(data):
            if not vault.secrets:
                raise AnsibleError(
                    f"secret_file {path} is vault-encrypted: run with its vault password "
                    "(--vault-password-file, --vault-id or --ask-vault-pass; on AWX a Vault "
                    "credential)"
                )
            data = vault.decrypt(data)
        return access_key.parse_key_file(to_text(data), path)

    @staticmethod
    def _failed(result: dict[str, Any], message: str) -> dict[str, Any]:
        result.update(failed=True, msg=message, changed=False)
        return result


def no_vault_message(secret_file: str) -> str:
    return (
        f"The new AccessKey's file {secret_file} is written vault-encrypted, and this run was "
        "given no vault password: run with --vault-password-file, --vault-id or "
        "--ask-vault-pass (on AWX: a Vault credential), or set secret_file_plaintext "
        "(alicloud_identity_access_key_plaintext: true) to keep it in clear, mode 0600. No key "
        "was created."
    )
