"""Tests for automq_helpers.alicloud.tags."""

from __future__ import annotations

import pytest

from automq_helpers.alicloud.tags import (
    CLUSTER_TAG,
    MANAGED_BY_TAG,
    TagError,
    desired_tags,
    is_cluster_resource,
    parse_tags,
    tag_changes,
)


def test_desired_tags_add_the_standard_pair():
    assert desired_tags("prod", {"team": "data", "cost": 7}) == {
        "automq:cluster": "prod",
        "cost": "7",
        "managed-by": "automq-ansible",
        "team": "data",
    }


@pytest.mark.parametrize(
    ("cluster", "extra", "message"),
    [
        ("", None, "cluster must be"),
        ("prod", {CLUSTER_TAG: "other"}, "set by the module"),
        ("prod", {MANAGED_BY_TAG: "me"}, "set by the module"),
        ("prod", {"aliyun:x": "1"}, "must not start"),
        ("prod", {"acs:x": "1"}, "must not start"),
        ("prod", {"k": "v" * 129}, "longer than 128"),
        ("prod", {f"k{i}": "v" for i in range(19)}, "at most 20"),
        ("prod", {"http://x": "v"}, "http://"),
    ],
)
def test_desired_tags_refuses(cluster, extra, message):
    with pytest.raises(TagError, match=message):
        desired_tags(cluster, extra)


@pytest.mark.parametrize(
    "raw",
    [
        {"Tag": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": ""}]},
        {"Tag": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": None}]},
        [{"Key": "a", "Value": "1"}, {"Key": "b"}],
        {"a": "1", "b": ""},
        {"TagSet": {"Tag": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}},
    ],
)
def test_parse_tags_reads_every_api_shape(raw):
    assert parse_tags(raw) == {"a": "1", "b": ""}


def test_parse_tags_of_nothing():
    assert parse_tags(None) == {}
    assert parse_tags({"Tag": []}) == {}
    assert parse_tags("junk") == {}


def test_tag_changes_keep_foreign_tags_unless_purging():
    desired = {"automq:cluster": "prod", "team": "data"}
    actual = {"automq:cluster": "prod", "team": "ops", "owner": "alice"}
    changes = tag_changes(desired, actual)
    assert changes.to_set == {"team": "data"}
    assert changes.to_remove == ()
    assert changes.changed
    purged = tag_changes(desired, actual, purge=True)
    assert purged.to_remove == ("owner",)
    assert not tag_changes(desired, {**desired, "x": "1"}).changed


def test_is_cluster_resource():
    assert is_cluster_resource({"automq:cluster": "prod"}, "prod")
    assert not is_cluster_resource({"automq:cluster": "dev"}, "prod")
    assert not is_cluster_resource({}, "prod")
