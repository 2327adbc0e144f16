#!/usr/bin/python
"""Documentation of the certificate_expiry action (the code is plugins/action/certificate_expiry.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_expiry
short_description: Report the earliest certificate expiry and warn about certificates close to it
description:
  - Given the certificates a run manages (name and C(not_after) as community.crypto's
    certificate info gives it), reports the one that expires first and adds an Ansible
    warning for each that expires within O(warn_days) or has expired.
  - Runs on the Ansible machine; changes nothing and never fails because of an expiry.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  certificates:
    description:
      - The certificates, each with C(name) (what it is, for the report) and C(not_after) (its
        expiry, ASN.1 time such as C(20271204182012Z)); other keys are ignored, so role
        automq_pki's published C(automq_pki_certificates) values can be given as they are.
    type: list
    elements: dict
    required: true
  warn_days:
    description: Warn about certificates that expire within this many days.
    type: int
    default: 30
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
- name: Report the certificates' expiry
  automq.platform.certificate_expiry:
    certificates:
      - {name: "automq-1 (node)", not_after: "20271204182012Z"}
      - {name: cluster CA, not_after: "20361202182012Z"}
    warn_days: 30
"""

RETURN = r"""
msg:
  description: One line naming the certificate that expires first and when.
  type: str
  returned: always
earliest:
  description: The certificate that expires first (C(name), C(not_after), C(days_left)), or null.
  type: dict
  returned: always
expiring:
  description: One sentence per certificate within O(warn_days) (also shown as warnings).
  type: list
  elements: str
  returned: always
"""
