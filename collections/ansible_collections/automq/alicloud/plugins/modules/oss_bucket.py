#!/usr/bin/python
"""Ansible module oss_bucket: an OSS bucket of an AutoMQ cluster (private, encrypted)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oss_bucket
short_description: Create and configure an OSS bucket (ACL, encryption, lifecycle, tags), or delete it
description:
  - Talks to OSS with C(alibabacloud-oss-v2), which signs with OSS4-HMAC-SHA256 (V4); new
    buckets reject the V1 signatures of the older SDKs.
  - Bucket names are global, so the bucket is found by O(name). A missing bucket is created
    with a private ACL; ACL, default server-side encryption, lifecycle rules and tags are
    brought to the wanted state.
  - Bucket names are global and a bucket may hold someone else's data, so an existing
    bucket is used only when it carries this cluster's C(automq:cluster) tag, or when
    O(adopt=true) says it is meant for this cluster (it is then tagged). Where the endpoint
    offers no bucket tagging, every existing bucket needs O(adopt=true).
  - O(state=absent) deletes only a bucket tagged for this cluster, and refuses one that
    still holds objects unless O(purge=true), which deletes every object and unfinished
    multipart upload first.
  - AutoMQ needs a data bucket and an ops bucket (metrics and logs under C(automq/)); give the
    ops bucket an expiry rule.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name:
    description: Name of the bucket.
    type: str
    required: true
  acl:
    description: Access control of the bucket.
    type: str
    choices: [private, public-read, public-read-write]
    default: private
  storage_class:
    description: Storage class of a new bucket.
    type: str
    choices: [Standard, IA, Archive, ColdArchive]
    default: Standard
  redundancy_type:
    description: Redundancy of a new bucket (C(ZRS) stores it across zones); the OSS default when omitted.
    type: str
    choices: [LRS, ZRS]
  server_side_encryption:
    description: Default server-side encryption of new objects; C(none) removes it.
    type: str
    choices: [AES256, KMS, SM4, none]
    default: AES256
  kms_key_id:
    description: KMS key for O(server_side_encryption=KMS); the OSS-managed key when omitted.
    type: str
  lifecycle_rules:
    description:
      - The lifecycle rules this module manages, by C(id); omit to leave the lifecycle alone.
        The bucket's rules with other ids are kept (a kept rule whose prefix overlaps a
        managed one is refused, as OSS would) unless O(purge_lifecycle_rules=true).
      - Each rule has C(id), C(prefix) (default the whole bucket), C(expiration_days),
        C(abort_multipart_days) (at least one of them) and C(enabled) (default true).
    type: list
    elements: dict
  purge_lifecycle_rules:
    description: Make O(lifecycle_rules) the bucket's whole lifecycle configuration (V([]) removes it).
    type: bool
    default: false
  adopt:
    description:
      - Use an existing bucket that is not tagged for this cluster (untagged, or tagged for
        another cluster) and tag it. Without it such a bucket is refused before any change.
    type: bool
    default: false
  purge:
    description: With O(state=absent), delete the bucket's objects and unfinished uploads first.
    type: bool
    default: false
  state:
    description: Whether the bucket should exist.
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
- name: Data bucket
  automq.alicloud.oss_bucket:
    cluster: automq-prod
    name: automq-prod-data
    redundancy_type: ZRS

- name: Ops bucket, metrics and logs expire after 7 days
  automq.alicloud.oss_bucket:
    cluster: automq-prod
    name: automq-prod-ops
    lifecycle_rules:
      - {id: automq-ops-expiry, prefix: automq/, expiration_days: 7, abort_multipart_days: 1}
"""

RETURN = r"""
bucket:
  description: Name of the bucket; null after deletion.
  type: str
  returned: always
location:
  description: Region of the bucket, for example C(oss-cn-hangzhou).
  type: str
  returned: when the bucket exists
acl:
  description: ACL after the run.
  type: str
  returned: when the bucket exists or would be created
server_side_encryption:
  description: Default encryption after the run.
  type: str
  returned: when the bucket exists or would be created
lifecycle_rules:
  description: Lifecycle rules after the run.
  type: list
  elements: dict
  returned: when the bucket exists or would be created
deleted_objects:
  description: Number of objects deleted by O(purge=true).
  type: int
  returned: when O(state=absent)
"""

from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.lifecycle import (
    LifecycleError,
    LifecycleRule,
    lifecycle_equal,
    merge_lifecycle_rules,
    parse_lifecycle_rules,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    tag_changes,
)

NO_ENCRYPTION = ("NoSuchServerSideEncryptionRule",)
NO_LIFECYCLE = ("NoSuchLifecycle",)
NO_TAGS = ("NoSuchTagSet", "NoSuchTagging")
# An endpoint without bucket tagging or multipart listing (some OSS-compatible stores, the
# test emulator) answers 501 NotImplemented. Buckets are identified by their global name, so
# the module warns and goes on.
NOT_IMPLEMENTED = ("NotImplemented",)


def sse_of(result: Any) -> tuple[str, str | None]:
    rule = getattr(result, "server_side_encryption_rule", None) if result is not None else None
    default = getattr(rule, "apply_server_side_encryption_by_default", None)
    algorithm = str(getattr(default, "sse_algorithm", None) or "none")
    if algorithm.lower() in ("none", ""):
        return "none", None
    return algorithm, getattr(default, "kms_master_key_id", None) or None


def lifecycle_of(result: Any) -> tuple[LifecycleRule, ...]:
    configuration = getattr(result, "lifecycle_configuration", None) if result is not None else None
    rules = []
    for rule in getattr(configuration, "rules", None) or []:
        expiration = getattr(rule, "expiration", None)
        abort = getattr(rule, "abort_multipart_upload", None)
        rules.append(
            LifecycleRule(
                id=str(rule.id or ""),
                prefix=str(rule.prefix or ""),
                expiration_days=getattr(expiration, "days", None),
                abort_multipart_days=getattr(abort, "days", None),
                enabled=str(rule.status or "Enabled") == "Enabled",
            )
        )
    return tuple(sorted(rules))


def tags_of(result: Any) -> dict[str, str]:
    tag_set = getattr(getattr(result, "tagging", None), "tag_set", None)
    return {str(t.key): str(t.value or "") for t in getattr(tag_set, "tags", None) or []}


def main() -> None:
    cloud = AlicloudModule(
        {
            "name": {"type": "str", "required": True},
            "acl": {
                "type": "str",
                "choices": ["private", "public-read", "public-read-write"],
                "default": "private",
            },
            "storage_class": {
                "type": "str",
                "choices": ["Standard", "IA", "Archive", "ColdArchive"],
                "default": "Standard",
            },
            "redundancy_type": {"type": "str", "choices": ["LRS", "ZRS"]},
            "server_side_encryption": {
                "type": "str",
                "choices": ["AES256", "KMS", "SM4", "none"],
                "default": "AES256",
            },
            "kms_key_id": {"type": "str", "no_log": False},
            "lifecycle_rules": {"type": "list", "elements": "dict"},
            "purge_lifecycle_rules": {"type": "bool", "default": False},
            "adopt": {"type": "bool", "default": False},
            "purge": {"type": "bool", "default": False},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "oss",
        cluster_tags=True,
    )
    import alibabacloud_oss_v2 as oss  # the SDK presence was checked by AlicloudModule

    params = cloud.params
    bucket = params["name"]
    what = f"OSS bucket {bucket!r}"
    client = cloud.client("oss")

    ignored: list[str] = []

    def call(api: str, action: str, fn: Any, ignore: tuple[str, ...] = ()) -> Any:
        return cloud.call("oss", api, f"{action} {what}", fn, ignore_codes=ignore, ignored=ignored)

    info = call(
        "GetBucketInfo",
        "look up",
        lambda: client.get_bucket_info(oss.GetBucketInfoRequest(bucket=bucket)),
        ("NoSuchBucket",),
    )
    exists = info is not None
    before: dict[str, Any] = {}
    if exists:
        bucket_info = getattr(info, "bucket_info", None)
        acl = getattr(bucket_info, "acl", None)
        if not acl:
            acl_result = call(
                "GetBucketAcl",
                "read the ACL of",
                lambda: client.get_bucket_acl(oss.GetBucketAclRequest(bucket=bucket)),
            )
            acl = getattr(acl_result, "acl", None)
        sse, kms = sse_of(
            call(
                "GetBucketEncryption",
                "read the encryption of",
                lambda: client.get_bucket_encryption(oss.GetBucketEncryptionRequest(bucket=bucket)),
                NO_ENCRYPTION,
            )
        )
        rules = lifecycle_of(
            call(
                "GetBucketLifecycle",
                "read the lifecycle of",
                lambda: client.get_bucket_lifecycle(oss.GetBucketLifecycleRequest(bucket=bucket)),
                NO_LIFECYCLE,
            )
        )
        tags = tags_of(
            call(
                "GetBucketTags",
                "read the tags of",
                lambda: client.get_bucket_tags(oss.GetBucketTagsRequest(bucket=bucket)),
                NO_TAGS + NOT_IMPLEMENTED,
            )
        )
        before = {
            "acl": str(acl or ""),
            "server_side_encryption": sse,
            "kms_key_id": kms,
            "lifecycle_rules": [r.to_dict() for r in rules],
            "tags": tags,
        }
        location = str(getattr(bucket_info, "location", None) or "") or None
    else:
        location = None

    # The tag is the only sign of ownership a global bucket name has (unknown where the
    # endpoint has no bucket tagging: then nothing is assumed).
    owner = before.get("tags", {}).get(CLUSTER_TAG) if exists else None
    ownership = (
        f"tagged {CLUSTER_TAG}={owner}" if owner else f"not tagged {CLUSTER_TAG}={cloud.cluster}"
    )
    if params["state"] == "absent":
        if not exists:
            cloud.exit(False, before, {}, bucket=None, deleted_objects=0)
        if owner != cloud.cluster:
            cloud.fail(
                f"{what} is {ownership}: it is not this cluster's ({cloud.cluster}), so it is "
                "neither emptied nor deleted. Delete it yourself if it really should go"
            )
        keys: list[str] = []
        token = None
        while True:
            page = call(
                "ListObjectsV2",
                "list the objects of",
                lambda token=token: client.list_objects_v2(
                    oss.ListObjectsV2Request(bucket=bucket, max_keys=1000, continuation_token=token)
                ),
            )
            keys.extend(str(o.key) for o in getattr(page, "contents", None) or [])
            token = getattr(page, "next_continuation_token", None)
            if (
                not getattr(page, "is_truncated", False)
                or not token
                or (keys and not params["purge"])
            ):
                break
        if keys and not params["purge"]:
            cloud.fail(
                f"{what} still holds objects (for example {keys[0]!r}): it is not deleted; empty it "
                "first, or set purge: true to delete its objects with it"
            )
        if not cloud.check_mode:
            for key in keys:
                call(
                    "DeleteObject",
                    f"delete object {key!r} of",
                    lambda key=key: client.delete_object(
                        oss.DeleteObjectRequest(bucket=bucket, key=key)
                    ),
                )
            if params["purge"]:
                uploads = call(
                    "ListMultipartUploads",
                    "list the unfinished uploads of",
                    lambda: client.list_multipart_uploads(
                        oss.ListMultipartUploadsRequest(bucket=bucket)
                    ),
                    NOT_IMPLEMENTED,
                )
                if uploads is None:
                    cloud.warn(f"the unfinished uploads of {what} could not be listed")
                for upload in getattr(uploads, "uploads", None) or []:
                    call(
                        "AbortMultipartUpload",
                        f"abort upload {upload.upload_id} of",
                        lambda upload=upload: client.abort_multipart_upload(
                            oss.AbortMultipartUploadRequest(
                                bucket=bucket, key=upload.key, upload_id=upload.upload_id
                            )
                        ),
                    )
            call(
                "DeleteBucket",
                "delete",
                lambda: client.delete_bucket(oss.DeleteBucketRequest(bucket=bucket)),
            )
        cloud.exit(True, before, {}, bucket=None, deleted_objects=len(keys))

    try:
        wanted_rules = (
            parse_lifecycle_rules(params["lifecycle_rules"])
            if params["lifecycle_rules"] is not None
            else None
        )
    except LifecycleError as exc:
        cloud.fail(str(exc))
    sse_wanted = params["server_side_encryption"]
    kms_wanted = params["kms_key_id"] if sse_wanted == "KMS" else None
    if params["kms_key_id"] and sse_wanted != "KMS":
        cloud.fail("kms_key_id needs server_side_encryption: KMS")

    if exists and owner != cloud.cluster and not params["adopt"]:
        cloud.fail(
            f"{what} already exists and is {ownership}: it may hold another cluster's or "
            "application's data, which this cluster would overwrite, expire or purge. Choose "
            "another bucket name, or, if this bucket is meant for this cluster, adopt it "
            "(alicloud_storage_adopt_buckets; the module's adopt option), which tags it"
        )

    if wanted_rules is not None:  # refused before any write when a kept rule overlaps
        try:
            wanted_rules = merge_lifecycle_rules(
                rules if exists else (), wanted_rules, exclusive=params["purge_lifecycle_rules"]
            )
        except LifecycleError as exc:
            cloud.fail(f"{what}: {exc}")

    changed = False
    if not exists:
        changed = True
        before_tags: dict[str, str] = {}
        if not cloud.check_mode:
            configuration = oss.CreateBucketConfiguration(
                storage_class=params["storage_class"],
                data_redundancy_type=params["redundancy_type"],
            )
            call(
                "PutBucket",
                "create",
                lambda: client.put_bucket(
                    oss.PutBucketRequest(
                        bucket=bucket, acl=params["acl"], create_bucket_configuration=configuration
                    )
                ),
            )
        current_acl, current_sse, current_kms = params["acl"], "none", None
        current_rules: tuple[LifecycleRule, ...] = ()
    else:
        before_tags = before["tags"]
        current_acl, current_sse = before["acl"], before["server_side_encryption"]
        current_kms, current_rules = before["kms_key_id"], rules

    write = not cloud.check_mode
    if current_acl != params["acl"]:
        changed = True
        if write:
            call(
                "PutBucketAcl",
                "set the ACL of",
                lambda: client.put_bucket_acl(
                    oss.PutBucketAclRequest(bucket=bucket, acl=params["acl"])
                ),
            )
    if (current_sse, current_kms) != (sse_wanted, kms_wanted) and not (
        sse_wanted == current_sse == "KMS" and kms_wanted is None
    ):
        changed = True
        if write and sse_wanted == "none":
            call(
                "DeleteBucketEncryption",
                "remove the encryption of",
                lambda: client.delete_bucket_encryption(
                    oss.DeleteBucketEncryptionRequest(bucket=bucket)
                ),
            )
        elif write:
            rule = oss.ServerSideEncryptionRule(
                apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
                    sse_algorithm=sse_wanted, kms_master_key_id=kms_wanted
                )
            )
            call(
                "PutBucketEncryption",
                "set the encryption of",
                lambda: client.put_bucket_encryption(
                    oss.PutBucketEncryptionRequest(bucket=bucket, server_side_encryption_rule=rule)
                ),
            )
    rules_after = current_rules
    if wanted_rules is not None and not lifecycle_equal(wanted_rules, current_rules):
        changed = True
        rules_after = wanted_rules
        if write and not wanted_rules:
            call(
                "DeleteBucketLifecycle",
                "remove the lifecycle of",
                lambda: client.delete_bucket_lifecycle(
                    oss.DeleteBucketLifecycleRequest(bucket=bucket)
                ),
            )
        elif write:
            configuration = oss.LifecycleConfiguration(
                rules=[
                    oss.LifecycleRule(
                        id=r.id,
                        prefix=r.prefix,
                        status="Enabled" if r.enabled else "Disabled",
                        expiration=oss.LifecycleRuleExpiration(days=r.expiration_days)
                        if r.expiration_days
                        else None,
                        abort_multipart_upload=oss.LifecycleRuleAbortMultipartUpload(
                            days=r.abort_multipart_days
                        )
                        if r.abort_multipart_days
                        else None,
                    )
                    for r in wanted_rules
                ]
            )
            call(
                "PutBucketLifecycle",
                "set the lifecycle of",
                lambda: client.put_bucket_lifecycle(
                    oss.PutBucketLifecycleRequest(
                        bucket=bucket, lifecycle_configuration=configuration
                    )
                ),
            )
    tags_supported = "NotImplemented" not in ignored
    if not tags_supported:  # GetBucketTags: the endpoint has no bucket tagging
        cloud.warn(f"{what} is not tagged: the endpoint offers no bucket tagging")
        before_tags = dict(cloud.tags)
        before.pop("tags", None)
    tag_plan = tag_changes(cloud.tags, before_tags, purge=params["purge_tags"])
    tags_after = {k: v for k, v in before_tags.items() if k not in tag_plan.to_remove}
    tags_after.update(tag_plan.to_set)
    tags_after = dict(sorted(tags_after.items()))
    if tag_plan.changed:
        changed = True
        if write:
            tagging = oss.Tagging(
                tag_set=oss.TagSet(tags=[oss.Tag(key=k, value=v) for k, v in tags_after.items()])
            )
            tagged = call(
                "PutBucketTags",
                "tag",
                lambda: client.put_bucket_tags(
                    oss.PutBucketTagsRequest(bucket=bucket, tagging=tagging)
                ),
                NOT_IMPLEMENTED,
            )
            if tagged is None:
                cloud.warn(f"{what} is not tagged: the endpoint offers no bucket tagging")
                tags_supported = False
    after = {
        "acl": params["acl"],
        "server_side_encryption": sse_wanted,
        "kms_key_id": kms_wanted if sse_wanted == "KMS" else None,
        "lifecycle_rules": [r.to_dict() for r in rules_after],
        "tags": tags_after,
    }
    if not tags_supported:
        del after["tags"]
    cloud.exit(
        changed,
        before,
        after,
        bucket=bucket,
        location=location or (f"oss-{cloud.region}" if cloud.region else None),
        acl=after["acl"],
        server_side_encryption=sse_wanted,
        lifecycle_rules=after["lifecycle_rules"],
    )


if __name__ == "__main__":
    main()
