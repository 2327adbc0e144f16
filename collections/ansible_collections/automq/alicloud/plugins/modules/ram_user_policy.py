#!/usr/bin/python
"""Ansible module ram_user_policy: attach a RAM policy to a RAM user, or detach it."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ram_user_policy
short_description: Attach a RAM policy to a RAM user, or detach it
description:
  - Looks at the user's attached policies and attaches or detaches O(policy_name).
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
  policy_name:
    description: Name of the policy.
    type: str
    required: true
  policy_type:
    description: C(Custom) for your own policies, C(System) for Alibaba Cloud's.
    type: str
    choices: [Custom, System]
    default: Custom
  state:
    description: Whether the policy should be attached.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Give the OSS user its policy
  automq.alicloud.ram_user_policy:
    user_name: automq-prod-oss
    policy_name: automq-prod-oss
"""

RETURN = r"""
attached:
  description: Whether the policy is attached after the run.
  type: bool
  returned: always
policies:
  description: The user's attached policies after the run, as C(<type>:<name>).
  type: list
  elements: str
  returned: always
"""

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)


def main() -> None:
    cloud = AlicloudModule(
        {
            "user_name": {"type": "str", "required": True},
            "policy_name": {"type": "str", "required": True},
            "policy_type": {"type": "str", "choices": ["Custom", "System"], "default": "Custom"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ram",
    )
    params = cloud.params
    user, policy, kind = params["user_name"], params["policy_name"], params["policy_type"]
    what = f"{kind} policy {policy!r} to RAM user {user!r}"
    models = cloud.models("ram")
    body = cloud.rpc(
        "ram",
        "ListPoliciesForUser",
        f"list the policies of RAM user {user!r}",
        models.ListPoliciesForUserRequest(user_name=user),
        # A user that check mode has not created yet has no policies; a real run still needs it.
        ignore_codes=("EntityNotExist.User",)
        if cloud.check_mode or params["state"] == "absent"
        else (),
    )
    listed = ((body or {}).get("Policies") or {}).get("Policy") or []
    before = sorted(f"{p.get('PolicyType')}:{p.get('PolicyName')}" for p in listed)
    key = f"{kind}:{policy}"
    attached = key in before
    want = params["state"] == "present"
    after = sorted({*before, key}) if want else [p for p in before if p != key]
    changed = attached != want
    if changed and not cloud.check_mode:
        if want:
            cloud.rpc(
                "ram",
                "AttachPolicyToUser",
                f"attach {what}",
                models.AttachPolicyToUserRequest(
                    user_name=user, policy_name=policy, policy_type=kind
                ),
            )
        else:
            cloud.rpc(
                "ram",
                "DetachPolicyFromUser",
                f"detach {what}",
                models.DetachPolicyFromUserRequest(
                    user_name=user, policy_name=policy, policy_type=kind
                ),
            )
    cloud.exit(changed, {"policies": before}, {"policies": after}, attached=want, policies=after)


if __name__ == "__main__":
    main()
