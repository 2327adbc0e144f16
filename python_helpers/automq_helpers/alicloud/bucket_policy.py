"""The OSS bucket policy statements of an AutoMQ cluster, merged into what a bucket has.

AutoMQ's RAM user gets the object actions it needs on the bucket, only from the cluster's
VPC (``acs:SourceVpc``), and (by default) an explicit Deny of everything from anywhere
else, so a leaked AccessKey is useless outside the VPC even though the user's RAM policy
allows the actions. Bucket policies have no statement IDs, so "our" statements are
recognized by content: their ``Principal`` is exactly the AutoMQ user and every
``Resource`` is this bucket or its objects. Merging replaces ours and keeps every other
statement untouched and in its order, ours last, so ``merge(merge(p)) == merge(p)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .policy_document import (
    PolicyError,
    as_list,
    canonical_statement,
    document_size,
    load_document,
)

__all__ = [
    "AUTOMQ_ACTIONS",
    "BUCKET_ACTIONS",
    "MAX_BUCKET_POLICY_BYTES",
    "OBJECT_ACTIONS",
    "PolicyError",
    "automq_bucket_statements",
    "bucket_resources",
    "is_automq_statement",
    "merge_bucket_policy",
    "remove_automq_statements",
    "validate_bucket_policy",
]

OBJECT_ACTIONS = (
    "oss:AbortMultipartUpload",
    "oss:DeleteObject",
    "oss:GetObject",
    "oss:ListParts",
    "oss:PutObject",
)
BUCKET_ACTIONS = ("oss:ListObjects",)
AUTOMQ_ACTIONS = tuple(sorted(OBJECT_ACTIONS + BUCKET_ACTIONS))
MAX_BUCKET_POLICY_BYTES = 16 * 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_ACCOUNT = re.compile(r"^(\*|\d{1,32})$")
_VPC = re.compile(r"^vpc-[A-Za-z0-9]+$")


def _check_bucket(bucket: str) -> str:
    if not _BUCKET.match(bucket):
        raise PolicyError(
            f"bucket {bucket!r} is not a valid OSS bucket name (3-63 lowercase letters, "
            "digits and hyphens, starting and ending with a letter or digit)"
        )
    return bucket


def bucket_resources(bucket: str, account_id: str = "*") -> list[str]:
    """``acs:oss:*:<account>:<bucket>`` and ``acs:oss:*:<account>:<bucket>/*``."""
    _check_bucket(bucket)
    if not _ACCOUNT.match(account_id):
        raise PolicyError(f"account_id {account_id!r} must be the numeric account ID or *")
    base = f"acs:oss:*:{account_id}:{bucket}"
    return [base, f"{base}/*"]


def automq_bucket_statements(
    *,
    bucket: str,
    account_id: str,
    principal: str,
    vpc_ids: Sequence[str],
    deny_outside_vpc: bool = True,
) -> list[dict[str, Any]]:
    """The statements granting ``principal`` (a RAM user ID) access from ``vpc_ids`` only."""
    if not principal or not str(principal).strip() or principal == "*":
        raise PolicyError("principal must be the RAM user's ID, not empty and not *")
    vpcs = sorted(set(vpc_ids))
    if not vpcs:
        raise PolicyError("vpc_ids is empty: give the VPC ID(s) the cluster reaches OSS from")
    bad = [vpc for vpc in vpcs if not _VPC.match(vpc)]
    if bad:
        raise PolicyError(f"vpc_ids {bad} are not VPC IDs (vpc-...)")
    resources = bucket_resources(bucket, account_id)
    statements = [
        {
            "Effect": "Allow",
            "Principal": [principal],
            "Action": list(AUTOMQ_ACTIONS),
            "Resource": resources,
            "Condition": {"StringEquals": {"acs:SourceVpc": vpcs}},
        }
    ]
    if deny_outside_vpc:
        statements.append(
            {
                "Effect": "Deny",
                "Principal": [principal],
                "Action": ["oss:*"],
                "Resource": resources,
                "Condition": {"StringNotEquals": {"acs:SourceVpc": vpcs}},
            }
        )
    return [canonical_statement(s) for s in statements]


def _is_bucket_resource(resource: str, bucket: str) -> bool:
    parts = resource.split(":", 4)
    if len(parts) != 5 or parts[0] != "acs" or parts[1] != "oss":
        return False
    path = parts[4]
    return path == bucket or path.startswith(f"{bucket}/")


def is_automq_statement(statement: Mapping[str, Any], *, principal: str, bucket: str) -> bool:
    """Exactly ``principal`` as Principal, and only this bucket as Resource."""
    raw_principal = statement.get("Principal")
    if isinstance(raw_principal, Mapping):
        return False
    principals = {str(p) for p in as_list(raw_principal)}
    resources = [str(r) for r in as_list(statement.get("Resource"))]
    return (
        principals == {principal}
        and bool(resources)
        and all(_is_bucket_resource(r, bucket) for r in resources)
    )


def validate_bucket_policy(document: Mapping[str, Any]) -> None:
    """Statements well formed (Effect, Action, Resource, Principal) and at most 16 KB."""
    for position, statement in enumerate(document.get("Statement", []), start=1):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement {position}: Effect must be Allow or Deny, not {effect!r}")
        if not as_list(statement.get("Action")) and not as_list(statement.get("NotAction")):
            raise PolicyError(f"statement {position}: Action is missing")
        if not as_list(statement.get("Resource")) and not as_list(statement.get("NotResource")):
            raise PolicyError(f"statement {position}: Resource is missing")
        if "Principal" not in statement:
            raise PolicyError(f"statement {position}: a bucket policy statement needs Principal")
    size = document_size(document)
    if size > MAX_BUCKET_POLICY_BYTES:
        raise PolicyError(
            f"the bucket policy would be {size} bytes, above OSS's limit of "
            f"{MAX_BUCKET_POLICY_BYTES}: remove or merge some of its other statements"
        )


def _foreign(existing: Any, principal: str, bucket: str) -> tuple[str, list[dict[str, Any]]]:
    document = load_document(existing, f"the current policy of bucket {bucket}")
    foreign = [
        s
        for s in document["Statement"]
        if not is_automq_statement(s, principal=principal, bucket=bucket)
    ]
    return str(document.get("Version") or "1"), foreign


def merge_bucket_policy(
    existing: str | Mapping[str, Any] | None,
    statements: Iterable[Mapping[str, Any]],
    *,
    principal: str,
    bucket: str,
) -> dict[str, Any]:
    """Foreign statements untouched and in order, then ours (each once, canonical)."""
    version, foreign = _foreign(existing, principal, bucket)
    ours: list[dict[str, Any]] = []
    for statement in statements:
        canonical = canonical_statement(statement)
        if not is_automq_statement(canonical, principal=principal, bucket=bucket):
            raise PolicyError(
                "merge_bucket_policy got a statement that is not for this principal and bucket"
            )
        if canonical not in ours:
            ours.append(canonical)
    merged = {"Version": version, "Statement": foreign + ours}
    validate_bucket_policy(merged)
    return merged


def remove_automq_statements(
    existing: str | Mapping[str, Any] | None, *, principal: str, bucket: str
) -> dict[str, Any] | None:
    """The policy without our statements; ``None`` when nothing else is left."""
    version, foreign = _foreign(existing, principal, bucket)
    if not foreign:
        return None
    return {"Version": version, "Statement": foreign}
