"""Lookup vault_ids: the vault IDs this run was given, so a preflight can require one."""

from __future__ import annotations

DOCUMENTATION = r"""
name: vault_ids
short_description: The IDs of the vault secrets this run was given (never the secrets)
description:
  - The vault IDs Ansible loaded from C(--vault-password-file), C(--vault-id),
    C(--ask-vault-pass), C(ANSIBLE_VAULT_PASSWORD_FILE) or AWX's Vault credential, in order;
    an empty list when the run has none. A preflight uses it to stop before creating a
    secret that must be stored encrypted.
author: AutoMQ Ansible maintainers (!UNKNOWN)
version_added: 0.2.0
options: {}
"""

EXAMPLES = r"""
- name: Require a vault password
  ansible.builtin.assert:
    that: query('automq.alicloud.vault_ids') | length > 0
    fail_msg: Run with --vault-password-file or --vault-id.
"""

RETURN = r"""
_raw:
  description: The vault IDs (C(default) for a password without an ID).
  type: list
  elements: str
"""

from typing import Any

from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        vault = getattr(self._loader, "_vault", None)
        return [str(vault_id) for vault_id, _secret in getattr(vault, "secrets", None) or []]
