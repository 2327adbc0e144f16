"""The RAM policy of AutoMQ's OSS user, and the version housekeeping of RAM policies.

The user may read, write and delete objects, abort multipart uploads and list parts in the
two buckets (``<bucket>/*``) and list their objects (``<bucket>``); nothing else, nowhere
else. With ``source_vpc_ids`` every statement also requires the request to come from the
cluster's VPC. RAM keeps at most 5 versions of a policy: before a new default version is
created, the oldest non-default versions are deleted to make room.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .bucket_policy import BUCKET_ACTIONS, OBJECT_ACTIONS, bucket_resources
from .policy_document import PolicyError, as_list, canonical_statement, document_size

__all__ = [
    "MAX_POLICY_VERSIONS",
    "MAX_RAM_POLICY_BYTES",
    "automq_ram_policy",
    "validate_ram_policy",
    "versions_to_delete",
]

MAX_RAM_POLICY_BYTES = 6144
MAX_POLICY_VERSIONS = 5
_VERSION = re.compile(r"^v(\d+)$")


def automq_ram_policy(
    buckets: Sequence[str],
    *,
    account_id: str = "*",
    source_vpc_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Least privilege on exactly ``buckets`` (AutoMQ's data and ops buckets)."""
    names = list(dict.fromkeys(buckets))
    if not names:
        raise PolicyError("buckets is empty: give the data and ops bucket names")
    object_resources = [bucket_resources(b, account_id)[1] for b in names]
    bucket_arns = [bucket_resources(b, account_id)[0] for b in names]
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": object_resources},
        {"Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": bucket_arns},
    ]
    vpcs = sorted(set(source_vpc_ids))
    if vpcs:
        for statement in statements:
            statement["Condition"] = {"StringEquals": {"acs:SourceVpc": vpcs}}
    document = {"Version": "1", "Statement": [canonical_statement(s) for s in statements]}
    validate_ram_policy(document)
    return document


def validate_ram_policy(document: Mapping[str, Any]) -> None:
    """Well formed for RAM: Effect, Action, Resource, no Principal, at most 6144 bytes."""
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        raise PolicyError("policy_document needs a non-empty Statement list")
    for position, statement in enumerate(statements, start=1):
        if not isinstance(statement, Mapping):
            raise PolicyError(f"statement {position} must be an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"statement {position}: Effect must be Allow or Deny")
        if not as_list(statement.get("Action")) and not as_list(statement.get("NotAction")):
            raise PolicyError(f"statement {position}: Action is missing")
        if not as_list(statement.get("Resource")) and not as_list(statement.get("NotResource")):
            raise PolicyError(f"statement {position}: Resource is missing")
        if "Principal" in statement:
            raise PolicyError(
                f"statement {position}: RAM policies have no Principal (that belongs in a "
                "bucket policy)"
            )
    size = document_size(document)
    if size > MAX_RAM_POLICY_BYTES:
        raise PolicyError(
            f"the policy document is {size} bytes, above RAM's limit of {MAX_RAM_POLICY_BYTES}"
        )


def _number(version: Mapping[str, Any]) -> int:
    match = _VERSION.match(str(version.get("VersionId", "")))
    return int(match.group(1)) if match else 0


def versions_to_delete(
    versions: Sequence[Mapping[str, Any]], limit: int = MAX_POLICY_VERSIONS
) -> list[str]:
    """Oldest non-default version IDs to delete so that one more version fits in ``limit``."""
    surplus = len(versions) + 1 - limit
    if surplus <= 0:
        return []
    candidates = sorted(
        (v for v in versions if not _is_default(v)),
        key=lambda v: (_number(v), str(v.get("CreateDate", ""))),
    )
    return [str(v["VersionId"]) for v in candidates[:surplus]]


def _is_default(version: Mapping[str, Any]) -> bool:
    value = version.get("IsDefaultVersion")
    return value is True or str(value).lower() == "true"
