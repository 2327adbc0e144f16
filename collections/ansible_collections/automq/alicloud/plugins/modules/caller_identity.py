#!/usr/bin/python
"""Ansible module caller_identity: who the credentials belong to (STS GetCallerIdentity)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: caller_identity
short_description: Return the Alibaba Cloud account ID and identity of the credentials in use
description:
  - Calls STS C(GetCallerIdentity). Use it to learn the account ID for C(acs:...) resource
    names (OSS bucket policies, RAM policies) and to check early that the credentials work.
  - Read only; never changes anything.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Learn the account ID
  automq.alicloud.caller_identity:
  register: identity

- name: Use it
  ansible.builtin.debug:
    msg: "Account {{ identity.account_id }} as {{ identity.arn }}"
"""

RETURN = r"""
account_id:
  description: ID of the Alibaba Cloud account (the resource owner).
  type: str
  returned: always
  sample: "1234567890123456"
user_id:
  description: ID of the RAM user or role session (the account ID for the root account).
  type: str
  returned: always
arn:
  description: ARN of the caller, for example C(acs:ram::1234567890123456:user/automq).
  type: str
  returned: always
identity_type:
  description: C(Account), C(RAMUser) or C(AssumedRoleUser).
  type: str
  returned: always
principal_id:
  description: Principal ID of the caller.
  type: str
  returned: always
"""

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)


def main() -> None:
    cloud = AlicloudModule({}, "sts")
    body = cloud.rpc("sts", "GetCallerIdentity", "identify the caller") or {}
    cloud.exit(
        False,
        account_id=str(body.get("AccountId") or ""),
        user_id=str(body.get("UserId") or ""),
        arn=str(body.get("Arn") or ""),
        identity_type=str(body.get("IdentityType") or ""),
        principal_id=str(body.get("PrincipalId") or ""),
    )


if __name__ == "__main__":
    main()
