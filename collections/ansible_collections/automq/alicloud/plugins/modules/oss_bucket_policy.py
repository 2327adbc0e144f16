#!/usr/bin/python
"""Ansible module oss_bucket_policy: AutoMQ's statements in an OSS bucket policy, merged."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oss_bucket_policy
short_description: Merge AutoMQ's statements into an OSS bucket policy, keeping all others
description:
  - Builds the statements that let only the RAM user O(ram_user_id) use the bucket, only from
    the cluster's VPCs (C(acs:SourceVpc)). C(oss:GetObject), C(PutObject), C(DeleteObject),
    C(AbortMultipartUpload), C(ListObjects), C(ListParts) on the bucket and its objects, plus
    (O(deny_outside_vpc)) a Deny of everything for that user from anywhere else.
  - Merges them into the bucket's current policy. AutoMQ's earlier statements (Principal
    exactly that user, Resource only this bucket) are replaced; every other statement is kept
    unchanged and in its order. Re-running changes nothing. The result must stay within the
    16 KB limit of OSS.
  - O(state=absent) removes AutoMQ's statements and deletes the policy if nothing else is left.
  - The policy is read and written with the OSS V4 signature (C(alibabacloud-oss-v2)).
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
options:
  bucket:
    description: Name of the bucket.
    type: str
    required: true
  ram_user_id:
    description: ID (not name) of the RAM user AutoMQ uses, as returned by M(automq.alicloud.ram_user).
    type: str
    required: true
  vpc_ids:
    description: VPCs the cluster reaches OSS from. Required when O(state=present).
    type: list
    elements: str
  account_id:
    description:
      - Account ID in the resource names. Looked up with STS C(GetCallerIdentity) when omitted,
        through E(AUTOMQ_ALICLOUD_STS_ENDPOINT) if set.
    type: str
  deny_outside_vpc:
    description: Also deny the user every action on the bucket from outside O(vpc_ids).
    type: bool
    default: true
  state:
    description: Whether AutoMQ's statements should be in the policy.
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
- name: Bucket policies of the data and ops buckets
  automq.alicloud.oss_bucket_policy:
    bucket: "{{ item }}"
    ram_user_id: "{{ oss_user.user_id }}"
    vpc_ids: ["{{ vpc.vpc_id }}"]
    account_id: "{{ identity.account_id }}"
  loop: [automq-prod-data, automq-prod-ops]
"""

RETURN = r"""
policy:
  description: The bucket policy after the run; null when the bucket has none.
  type: dict
  returned: always
statements:
  description: AutoMQ's statements (empty with O(state=absent)).
  type: list
  elements: dict
  returned: always
account_id:
  description: Account ID used in the resource names.
  type: str
  returned: always
"""

from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.bucket_policy import (
    automq_bucket_statements,
    merge_bucket_policy,
    remove_automq_statements,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.policy_document import (
    PolicyError,
    canonical_document,
    documents_equal,
    dump_document,
    load_document,
)


def main() -> None:
    cloud = AlicloudModule(
        {
            "bucket": {"type": "str", "required": True},
            "ram_user_id": {"type": "str", "required": True},
            "vpc_ids": {"type": "list", "elements": "str"},
            "account_id": {"type": "str"},
            "deny_outside_vpc": {"type": "bool", "default": True},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "oss",
        other_services=["sts"],
        required_if=[("state", "present", ["vpc_ids"])],
    )
    import alibabacloud_oss_v2 as oss  # the SDK presence was checked by AlicloudModule

    params = cloud.params
    bucket, principal = params["bucket"], params["ram_user_id"].strip()
    what = f"the policy of OSS bucket {bucket!r}"
    client = cloud.client("oss")

    account_id = params["account_id"]
    if not account_id:
        identity = cloud.rpc("sts", "GetCallerIdentity", "look up the account ID") or {}
        account_id = str(identity.get("AccountId") or "")
        if not account_id:
            cloud.fail("STS GetCallerIdentity returned no AccountId: pass account_id")

    result = cloud.call(
        "oss",
        "GetBucketPolicy",
        f"read {what}",
        lambda: client.get_bucket_policy(oss.GetBucketPolicyRequest(bucket=bucket)),
        ignore_codes=("NoSuchBucketPolicy",),
    )
    text = getattr(result, "body", None) if result is not None else None
    try:
        existing = load_document(text, f"the current policy of bucket {bucket}") if text else None
        if params["state"] == "present":
            statements = automq_bucket_statements(
                bucket=bucket,
                account_id=account_id,
                principal=principal,
                vpc_ids=params["vpc_ids"],
                deny_outside_vpc=params["deny_outside_vpc"],
            )
            wanted: dict[str, Any] | None = merge_bucket_policy(
                existing, statements, principal=principal, bucket=bucket
            )
        else:
            statements = []
            wanted = remove_automq_statements(existing, principal=principal, bucket=bucket)
    except PolicyError as exc:
        cloud.fail(f"{what}: {exc}")

    before = {"policy": canonical_document(existing)} if existing else {}
    after = {"policy": canonical_document(wanted)} if wanted else {}
    changed = (existing is None) != (wanted is None) or (
        existing is not None and not documents_equal(existing, wanted)
    )
    if changed and not cloud.check_mode:
        if wanted is None:
            cloud.call(
                "oss",
                "DeleteBucketPolicy",
                f"delete {what}",
                lambda: client.delete_bucket_policy(oss.DeleteBucketPolicyRequest(bucket=bucket)),
            )
        else:
            body = dump_document(wanted)
            cloud.call(
                "oss",
                "PutBucketPolicy",
                f"write {what}",
                lambda: client.put_bucket_policy(
                    oss.PutBucketPolicyRequest(bucket=bucket, body=body)
                ),
            )
    cloud.exit(changed, before, after, policy=wanted, statements=statements, account_id=account_id)


if __name__ == "__main__":
    main()
