"""Filter certificate_bundle: each certificate of a PEM bundle with its expiry."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.certificate_expiry import (  # noqa: E501
    bundle_expiries,
)

DOCUMENTATION = r"""
name: certificate_bundle
short_description: Each certificate of a PEM bundle, named by its common name, with its expiry
description:
  - For the CAs the cluster trusts (C(automq_pki_ca.trust_pem), two during a CA rotation) as
    the action C(automq.platform.certificate_expiry) takes them. Runs on the Ansible machine
    (python cryptography).
options:
  _input:
    description: One or more PEM certificates.
    type: str
    required: true
  label:
    description: What each name starts with, before the certificate's common name.
    type: str
    default: the cluster CA
"""

EXAMPLES = r"""
- name: The trusted CAs with their expiry
  ansible.builtin.debug:
    msg: "{{ automq_pki_ca.trust_pem | automq.platform.certificate_bundle }}"
"""

RETURN = r"""
_value:
  description: C({name, not_after}) per certificate, C(not_after) like C(20361204182012Z).
  type: list
  elements: dict
"""


def _certificate_bundle(pem: Any, label: str = "the cluster CA") -> list[dict[str, str]]:
    if not isinstance(pem, str):
        raise AnsibleFilterError("certificate_bundle expects PEM text")
    try:
        return bundle_expiries(pem, label)
    except ValueError as error:
        raise AnsibleFilterError(f"certificate_bundle: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"certificate_bundle": _certificate_bundle}
