"""The tags every resource of a cluster carries, and how to reconcile them.

Every taggable resource gets ``automq:cluster=<cluster>`` and ``managed-by=automq-ansible``
besides the user's tags. Lookups find a resource by its name *and* the cluster tag, so two
clusters in one account never see each other's resources; changing tags never removes a
foreign tag unless the module is asked to purge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLUSTER_TAG",
    "MANAGED_BY_TAG",
    "MANAGED_BY_VALUE",
    "TagChanges",
    "TagError",
    "desired_tags",
    "is_cluster_resource",
    "parse_tags",
    "tag_changes",
]

CLUSTER_TAG = "automq:cluster"
MANAGED_BY_TAG = "managed-by"
MANAGED_BY_VALUE = "automq-ansible"
MAX_TAGS = 20
"""ECS, VPC and OSS allow 20 tags per resource."""
_RESERVED_PREFIXES = ("aliyun", "acs:")


class TagError(ValueError):
    """A tag the cloud would refuse; the message names it."""


def _check(key: str, value: str) -> None:
    if not key or len(key) > 128:
        raise TagError(f"tag key {key!r} must have 1 to 128 characters")
    if key.lower().startswith(_RESERVED_PREFIXES):
        raise TagError(f"tag key {key!r} must not start with 'aliyun' or 'acs:'")
    if "http://" in key or "https://" in key:
        raise TagError(f"tag key {key!r} must not contain http:// or https://")
    if len(value) > 128:
        raise TagError(f"the value of tag {key!r} is longer than 128 characters")


def desired_tags(cluster: str, extra: Mapping[str, object] | None = None) -> dict[str, str]:
    """The user's tags plus the two standard ones (which the user cannot override)."""
    if not cluster or not cluster.strip():
        raise TagError("cluster must be a non-empty name")
    tags: dict[str, str] = {}
    for key, value in (extra or {}).items():
        if key in (CLUSTER_TAG, MANAGED_BY_TAG):
            raise TagError(f"tag {key!r} is set by the module itself; remove it from tags")
        tags[str(key)] = "" if value is None else str(value)
    tags[CLUSTER_TAG] = cluster.strip()
    tags[MANAGED_BY_TAG] = MANAGED_BY_VALUE
    for key, value in tags.items():
        _check(key, value)
    if len(tags) > MAX_TAGS:
        raise TagError(f"{len(tags)} tags, but a resource can carry at most {MAX_TAGS}")
    return dict(sorted(tags.items()))


def _pairs(raw: Any) -> Iterable[Mapping[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        # {"Tag": [...]} as the Describe* calls return, or a plain {key: value} mapping.
        for wrapper in ("Tag", "Tags", "tag", "TagSet", "ResourceTag", "ResourceTags"):
            if wrapper in raw and isinstance(raw[wrapper], list | Mapping):
                return _pairs(raw[wrapper])
        return [{"Key": key, "Value": value} for key, value in raw.items()]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, Mapping)]
    return []


def parse_tags(raw: Any) -> dict[str, str]:
    """Tags from any API shape: ``{"Tag": [{"TagKey"|"Key": k, "TagValue"|"Value": v}]}``."""
    tags: dict[str, str] = {}
    for item in _pairs(raw):
        key = item.get("TagKey", item.get("Key", item.get("key")))
        value = item.get("TagValue", item.get("Value", item.get("value")))
        if key is not None:
            tags[str(key)] = "" if value is None else str(value)
    return tags


def is_cluster_resource(tags: Mapping[str, str], cluster: str) -> bool:
    return tags.get(CLUSTER_TAG) == cluster


@dataclass(frozen=True)
class TagChanges:
    to_set: dict[str, str]
    to_remove: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return bool(self.to_set or self.to_remove)


def tag_changes(
    desired: Mapping[str, str], actual: Mapping[str, str], purge: bool = False
) -> TagChanges:
    """Tags to add or update; with ``purge``, also the foreign tags to remove."""
    to_set = {k: v for k, v in sorted(desired.items()) if actual.get(k) != v}
    to_remove = tuple(sorted(k for k in actual if k not in desired)) if purge else ()
    return TagChanges(to_set, to_remove)
