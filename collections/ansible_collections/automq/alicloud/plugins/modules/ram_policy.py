#!/usr/bin/python
"""Ansible module ram_policy: a custom RAM policy, updated through new default versions."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ram_policy
short_description: Create or update a custom RAM policy (new default version), or delete it
description:
  - Finds the custom policy by O(policy_name). A missing policy is created; a policy whose
    default version differs from the wanted document (compared ignoring order and spelling)
    gets a new default version. RAM keeps at most 5 versions, so the oldest non-default
    versions are deleted first when needed.
  - Give either O(policy_document), or O(oss_buckets) to build AutoMQ's least-privilege OSS
    policy; C(oss:GetObject), C(PutObject), C(DeleteObject), C(AbortMultipartUpload),
    C(ListParts) on C(<bucket>/*) and C(oss:ListObjects) on C(<bucket>), for exactly those
    buckets (optionally only from O(source_vpc_ids)).
  - O(state=absent) deletes the non-default versions and the policy; it fails while the policy
    is attached (detach it with M(automq.alicloud.ram_user_policy) first).
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
options:
  policy_name:
    description: Name of the custom policy.
    type: str
    required: true
  policy_document:
    description: The policy, as a dict or JSON text (C(Version), C(Statement)); no C(Principal).
    type: raw
  oss_buckets:
    description: Build AutoMQ's OSS policy for these buckets (data and ops) instead of O(policy_document).
    type: list
    elements: str
  source_vpc_ids:
    description: With O(oss_buckets), allow the actions only from these VPCs (C(acs:SourceVpc)).
    type: list
    elements: str
    default: []
  account_id:
    description: With O(oss_buckets), the account ID in the resource names; C(*) means any.
    type: str
    default: "*"
  description:
    description: Description, set when the policy is created.
    type: str
  state:
    description: Whether the policy should exist.
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
- name: AutoMQ's OSS policy
  automq.alicloud.ram_policy:
    policy_name: automq-prod-oss
    oss_buckets: [automq-prod-data, automq-prod-ops]
    source_vpc_ids: ["{{ vpc.vpc_id }}"]
    description: AutoMQ cluster automq-prod, object access to its two buckets
"""

RETURN = r"""
policy_name:
  description: Name of the policy.
  type: str
  returned: always
default_version:
  description: Default version after the run (for example C(v2)); null when absent or in check mode before creation.
  type: str
  returned: always
policy_document:
  description: The wanted (and, unless in check mode, current) policy document.
  type: dict
  returned: when O(state=present)
deleted_versions:
  description: Old versions deleted to keep at most 5.
  type: list
  elements: str
  returned: always
"""

import json
from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.policy_document import (
    PolicyError,
    canonical_document,
    documents_equal,
    dump_document,
    load_document,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.ram_policy import (
    automq_ram_policy,
    validate_ram_policy,
    versions_to_delete,
)

NOT_FOUND = ("EntityNotExist.Policy",)


def list_versions(cloud: AlicloudModule, name: str) -> list[dict[str, Any]]:
    models = cloud.models("ram")
    body = cloud.rpc(
        "ram",
        "ListPolicyVersions",
        f"list the versions of RAM policy {name!r}",
        models.ListPolicyVersionsRequest(policy_name=name, policy_type="Custom"),
    )
    return list(((body or {}).get("PolicyVersions") or {}).get("PolicyVersion") or [])


def delete_version(cloud: AlicloudModule, name: str, version: str) -> None:
    models = cloud.models("ram")
    cloud.rpc(
        "ram",
        "DeletePolicyVersion",
        f"delete version {version} of RAM policy {name!r}",
        models.DeletePolicyVersionRequest(policy_name=name, version_id=version),
    )


def main() -> None:
    cloud = AlicloudModule(
        {
            "policy_name": {"type": "str", "required": True},
            "policy_document": {"type": "raw"},
            "oss_buckets": {"type": "list", "elements": "str"},
            "source_vpc_ids": {"type": "list", "elements": "str", "default": []},
            "account_id": {"type": "str", "default": "*"},
            "description": {"type": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ram",
        mutually_exclusive=[("policy_document", "oss_buckets")],
        required_if=[("state", "present", ("policy_document", "oss_buckets"), True)],
    )
    params = cloud.params
    name = params["policy_name"]
    what = f"RAM policy {name!r}"
    models = cloud.models("ram")
    body = cloud.rpc(
        "ram",
        "GetPolicy",
        f"look up {what}",
        models.GetPolicyRequest(policy_name=name, policy_type="Custom"),
        ignore_codes=NOT_FOUND,
    )
    policy = (body or {}).get("Policy")
    default = (body or {}).get("DefaultPolicyVersion") or {}
    try:
        current_document = load_document(default.get("PolicyDocument")) if policy else None
    except PolicyError as exc:
        cloud.fail(f"the current default version of {what} cannot be read: {exc}")
    before = {"policy_document": canonical_document(current_document)} if policy else {}

    if params["state"] == "absent":
        if not policy:
            cloud.exit(
                False, before, {}, policy_name=name, default_version=None, deleted_versions=[]
            )
        deleted: list[str] = []
        for version in list_versions(cloud, name):
            if version.get("IsDefaultVersion") not in (True, "true", "True"):
                deleted.append(str(version["VersionId"]))
        if not cloud.check_mode:
            for version_id in deleted:
                delete_version(cloud, name, version_id)
            cloud.rpc(
                "ram",
                "DeletePolicy",
                f"delete {what}",
                models.DeletePolicyRequest(policy_name=name),
            )
        cloud.exit(
            True, before, {}, policy_name=name, default_version=None, deleted_versions=deleted
        )

    try:
        if params["oss_buckets"] is not None:
            wanted = automq_ram_policy(
                params["oss_buckets"],
                account_id=params["account_id"],
                source_vpc_ids=params["source_vpc_ids"],
            )
        else:
            raw = params["policy_document"]
            wanted = load_document(
                raw if isinstance(raw, str | dict) else json.dumps(raw), "policy_document"
            )
            validate_ram_policy(wanted)
    except PolicyError as exc:
        cloud.fail(str(exc))
    after = {"policy_document": canonical_document(wanted)}

    if not policy:
        if cloud.check_mode:
            cloud.exit(
                True,
                before,
                after,
                policy_name=name,
                default_version=None,
                policy_document=wanted,
                deleted_versions=[],
            )
        cloud.rpc(
            "ram",
            "CreatePolicy",
            f"create {what}",
            models.CreatePolicyRequest(
                policy_name=name,
                policy_document=dump_document(wanted),
                description=params["description"],
            ),
        )
        cloud.exit(
            True,
            before,
            after,
            policy_name=name,
            default_version="v1",
            policy_document=wanted,
            deleted_versions=[],
        )

    default_version = str(default.get("VersionId") or (policy or {}).get("DefaultVersion") or "")
    if params["description"] is not None and params["description"] != (
        policy.get("Description") or ""
    ):
        cloud.warn(f"{what} keeps its description; RAM policies' descriptions are set at creation")
    if documents_equal(current_document, wanted):
        cloud.exit(
            False,
            before,
            after,
            policy_name=name,
            default_version=default_version,
            policy_document=wanted,
            deleted_versions=[],
        )

    doomed = versions_to_delete(list_versions(cloud, name))
    if cloud.check_mode:
        cloud.exit(
            True,
            before,
            after,
            policy_name=name,
            default_version=None,
            policy_document=wanted,
            deleted_versions=doomed,
        )
    for version_id in doomed:
        delete_version(cloud, name, version_id)
    created = cloud.rpc(
        "ram",
        "CreatePolicyVersion",
        f"create a new default version of {what}",
        models.CreatePolicyVersionRequest(
            policy_name=name, policy_document=dump_document(wanted), set_as_default=True
        ),
    )
    new_version = str(((created or {}).get("PolicyVersion") or {}).get("VersionId") or "") or None
    cloud.exit(
        True,
        before,
        after,
        policy_name=name,
        default_version=new_version,
        policy_document=wanted,
        deleted_versions=doomed,
    )


if __name__ == "__main__":
    main()
