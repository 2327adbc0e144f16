#!/usr/bin/python
"""Ansible module ram_user: the RAM user AutoMQ signs its OSS requests as."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ram_user
short_description: Create, update or delete a RAM user
description:
  - RAM user names are unique in an account, so the user is found by O(user_name).
  - AutoMQ (open source) cannot use ECS RAM roles for OSS; it needs a RAM user's AccessKey.
    Give that user nothing but M(automq.alicloud.ram_policy) on the two buckets, and create its
    key with M(automq.alicloud.ram_access_key).
  - O(state=absent) first deletes the user's AccessKeys and detaches its policies, then deletes
    the user.
  - RAM users carry no tags; record the cluster in O(comments).
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
  display_name:
    description: Display name; defaults to O(user_name) on creation.
    type: str
  comments:
    description: Comments of the user.
    type: str
  state:
    description: Whether the user should exist.
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
- name: RAM user of the cluster's OSS access
  automq.alicloud.ram_user:
    user_name: automq-prod-oss
    comments: "AutoMQ cluster automq-prod, OSS data and ops buckets (managed-by=automq-ansible)"
  register: oss_user
"""

RETURN = r"""
user_id:
  description: ID of the user (the Principal of OSS bucket policies); null when absent.
  type: str
  returned: always
  sample: "203456789012345678"
user_name:
  description: Name of the user.
  type: str
  returned: always
user:
  description: The user's managed attributes (user_name, display_name, comments).
  type: dict
  returned: when the user exists or would be created
"""

from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.access_key import (
    keys_from_api,
)

NOT_FOUND = ("EntityNotExist.User",)


def view(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_name": user.get("UserName") or "",
        "display_name": user.get("DisplayName") or "",
        "comments": user.get("Comments") or "",
    }


def main() -> None:
    cloud = AlicloudModule(
        {
            "user_name": {"type": "str", "required": True},
            "display_name": {"type": "str"},
            "comments": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ram",
    )
    params = cloud.params
    name = params["user_name"]
    what = f"RAM user {name!r}"
    models = cloud.models("ram")
    body = cloud.rpc(
        "ram",
        "GetUser",
        f"look up {what}",
        models.GetUserRequest(user_name=name),
        ignore_codes=NOT_FOUND,
    )
    current = (body or {}).get("User")
    before = view(current) if current else {}

    if params["state"] == "absent":
        if not current:
            cloud.exit(False, before, {}, user_id=None, user_name=name)
        if not cloud.check_mode:
            keys = keys_from_api(
                cloud.rpc(
                    "ram",
                    "ListAccessKeys",
                    f"list the AccessKeys of {what}",
                    models.ListAccessKeysRequest(user_name=name),
                )
                or {}
            )
            for key in keys:
                cloud.rpc(
                    "ram",
                    "DeleteAccessKey",
                    f"delete AccessKey {key.access_key_id} of {what}",
                    models.DeleteAccessKeyRequest(
                        user_name=name, user_access_key_id=key.access_key_id
                    ),
                )
            policies = (
                (
                    cloud.rpc(
                        "ram",
                        "ListPoliciesForUser",
                        f"list the policies of {what}",
                        models.ListPoliciesForUserRequest(user_name=name),
                    )
                    or {}
                )
                .get("Policies", {})
                .get("Policy", [])
            )
            for policy in policies:
                cloud.rpc(
                    "ram",
                    "DetachPolicyFromUser",
                    f"detach policy {policy.get('PolicyName')} from {what}",
                    models.DetachPolicyFromUserRequest(
                        user_name=name,
                        policy_name=policy.get("PolicyName"),
                        policy_type=policy.get("PolicyType"),
                    ),
                )
            cloud.rpc(
                "ram", "DeleteUser", f"delete {what}", models.DeleteUserRequest(user_name=name)
            )
        cloud.exit(True, before, {}, user_id=None, user_name=name)

    if not current:
        after = {
            "user_name": name,
            "display_name": params["display_name"] or name,
            "comments": params["comments"] or "",
        }
        if cloud.check_mode:
            cloud.exit(True, before, after, user_id=None, user_name=name, user=after)
        created = (
            cloud.rpc(
                "ram",
                "CreateUser",
                f"create {what}",
                models.CreateUserRequest(
                    user_name=name,
                    display_name=after["display_name"],
                    comments=params["comments"],
                ),
            )
            or {}
        ).get("User") or {}
        cloud.exit(
            True,
            before,
            after,
            user_id=str(created.get("UserId") or "") or None,
            user_name=name,
            user=after,
        )

    after = dict(before)
    updates: dict[str, str] = {}
    if params["display_name"] is not None and params["display_name"] != before["display_name"]:
        updates["new_display_name"] = after["display_name"] = params["display_name"]
    if params["comments"] is not None and params["comments"] != before["comments"]:
        updates["new_comments"] = after["comments"] = params["comments"]
    if updates and not cloud.check_mode:
        cloud.rpc(
            "ram",
            "UpdateUser",
            f"update {what}",
            models.UpdateUserRequest(user_name=name, **updates),
        )
    cloud.exit(
        bool(updates),
        before,
        after,
        user_id=str(current.get("UserId") or ""),
        user_name=name,
        user=after,
    )


if __name__ == "__main__":
    main()
