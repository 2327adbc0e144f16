"""Tests for automq_helpers.alicloud.ram_policy and policy_document."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.alicloud.policy_document import (
    PolicyError,
    canonical_document,
    documents_equal,
    load_document,
)
from automq_helpers.alicloud.ram_policy import (
    automq_ram_policy,
    validate_ram_policy,
    versions_to_delete,
)


def test_policy_covers_exactly_the_two_buckets():
    document = automq_ram_policy(["automq-data", "automq-ops"])
    assert document == {
        "Version": "1",
        "Statement": [
            {
                "Action": [
                    "oss:AbortMultipartUpload",
                    "oss:DeleteObject",
                    "oss:GetObject",
                    "oss:ListParts",
                    "oss:PutObject",
                ],
                "Effect": "Allow",
                "Resource": ["acs:oss:*:*:automq-data/*", "acs:oss:*:*:automq-ops/*"],
            },
            {
                "Action": ["oss:ListObjects"],
                "Effect": "Allow",
                "Resource": ["acs:oss:*:*:automq-data", "acs:oss:*:*:automq-ops"],
            },
        ],
    }
    assert all("Principal" not in s for s in document["Statement"])


def test_policy_with_account_and_vpc_condition():
    document = automq_ram_policy(
        ["automq-data", "automq-ops"], account_id="1234", source_vpc_ids=["vpc-b", "vpc-a"]
    )
    for statement in document["Statement"]:
        assert statement["Condition"] == {"StringEquals": {"acs:SourceVpc": ["vpc-a", "vpc-b"]}}
        assert all(r.startswith("acs:oss:*:1234:automq-") for r in statement["Resource"])


def test_policy_refuses_no_buckets_and_bad_names():
    with pytest.raises(PolicyError, match="buckets is empty"):
        automq_ram_policy([])
    with pytest.raises(PolicyError, match="bucket name"):
        automq_ram_policy(["UPPER"])


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"Statement": []}, "non-empty Statement"),
        ({"Statement": ["x"]}, "must be an object"),
        ({"Statement": [{"Effect": "Yes", "Action": "a", "Resource": "r"}]}, "Effect"),
        ({"Statement": [{"Effect": "Allow", "Resource": "r"}]}, "Action is missing"),
        ({"Statement": [{"Effect": "Allow", "Action": "a"}]}, "Resource is missing"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "a", "Resource": "r", "Principal": "*"}]},
            "no Principal",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "a" * 7000, "Resource": "r"}]}, "6144"),
    ],
)
def test_validate_ram_policy(document, message):
    with pytest.raises(PolicyError, match=message):
        validate_ram_policy(document)


def test_load_document_reads_text_url_encoding_and_single_statements():
    document = {"Version": "1", "Statement": {"Effect": "Allow", "Action": "a", "Resource": "r"}}
    text = json.dumps(document)
    assert load_document(text)["Statement"] == [document["Statement"]]
    assert load_document(urllib.parse.quote(text)) == load_document(text)
    assert load_document("") == {"Version": "1", "Statement": []}
    with pytest.raises(PolicyError, match="JSON object"):
        load_document("[1]")
    with pytest.raises(PolicyError, match="list of objects"):
        load_document({"Statement": [1]})


def test_canonical_form_ignores_order_and_spelling_only():
    a = {"Statement": [{"Effect": "allow", "Action": ["b", "a", "a"], "Resource": "r"}]}
    b = {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": ["a", "b"], "Resource": ["r"]}],
    }
    assert documents_equal(a, b)
    c = {"Statement": [{"Effect": "Allow", "Action": ["a"], "Resource": ["r"]}]}
    assert not documents_equal(a, c)
    conditioned = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "a",
                "Resource": "r",
                "Condition": {"StringEquals": {"acs:SourceVpc": "vpc-1"}},
            }
        ]
    }
    canonical = canonical_document(conditioned)["Statement"][0]["Condition"]
    assert canonical == {"StringEquals": {"acs:SourceVpc": ["vpc-1"]}}


def versions(*ids, default):
    return [
        {"VersionId": v, "IsDefaultVersion": v == default, "CreateDate": f"2026-01-0{n}"}
        for n, v in enumerate(ids, start=1)
    ]


def test_versions_to_delete_makes_room_for_one():
    assert versions_to_delete(versions("v1", "v2", default="v2")) == []
    assert versions_to_delete(versions("v1", "v2", "v3", "v4", default="v4")) == []
    full = versions("v3", "v10", "v4", "v5", "v6", default="v3")
    assert versions_to_delete(full) == ["v4"]
    assert versions_to_delete(versions("v1", "v2", "v3", "v4", "v5", default="v1"), limit=3) == [
        "v2",
        "v3",
        "v4",
    ]
    as_text = [{**v, "IsDefaultVersion": str(v["IsDefaultVersion"]).lower()} for v in full]
    assert versions_to_delete(as_text) == ["v4"]


@settings(max_examples=200, deadline=None)
@given(
    numbers=st.sets(st.integers(1, 50), min_size=1, max_size=8),
    data=st.data(),
)
def test_versions_never_delete_the_default_and_always_fit(numbers, data):
    ids = [f"v{n}" for n in sorted(numbers)]
    default = data.draw(st.sampled_from(ids))
    listed = versions(*ids, default=default) if len(ids) < 10 else []
    doomed = versions_to_delete(listed)
    assert default not in doomed
    assert len(listed) - len(doomed) + 1 <= 5
    survivors = [v["VersionId"] for v in listed if v["VersionId"] not in doomed]
    # The oldest go first: every deleted version is older than every surviving non-default.
    for gone in doomed:
        for kept in survivors:
            if kept != default:
                assert int(gone[1:]) < int(kept[1:])
