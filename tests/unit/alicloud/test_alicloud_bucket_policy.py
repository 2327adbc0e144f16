"""Tests for automq_helpers.alicloud.bucket_policy (merge properties with hypothesis)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.alicloud.bucket_policy import (
    AUTOMQ_ACTIONS,
    MAX_BUCKET_POLICY_BYTES,
    automq_bucket_statements,
    bucket_resources,
    is_automq_statement,
    merge_bucket_policy,
    remove_automq_statements,
    validate_bucket_policy,
)
from automq_helpers.alicloud.policy_document import PolicyError, documents_equal

USER = "203456789012345678"
BUCKET = "automq-prod-data"
ACCOUNT = "1234567890123456"


def ours(vpcs=("vpc-abc",), deny=True):
    return automq_bucket_statements(
        bucket=BUCKET, account_id=ACCOUNT, principal=USER, vpc_ids=list(vpcs), deny_outside_vpc=deny
    )


FOREIGN = {
    "Effect": "Allow",
    "Principal": ["111"],
    "Action": "oss:GetObject",
    "Resource": f"acs:oss:*:{ACCOUNT}:{BUCKET}/public/*",
}


def test_statements_grant_exactly_the_automq_actions_from_the_vpc():
    allow, deny = ours()
    assert allow == {
        "Action": sorted(AUTOMQ_ACTIONS),
        "Condition": {"StringEquals": {"acs:SourceVpc": ["vpc-abc"]}},
        "Effect": "Allow",
        "Principal": [USER],
        "Resource": [f"acs:oss:*:{ACCOUNT}:{BUCKET}", f"acs:oss:*:{ACCOUNT}:{BUCKET}/*"],
    }
    assert set(AUTOMQ_ACTIONS) == {
        "oss:GetObject",
        "oss:PutObject",
        "oss:DeleteObject",
        "oss:AbortMultipartUpload",
        "oss:ListObjects",
        "oss:ListParts",
    }
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"StringNotEquals": {"acs:SourceVpc": ["vpc-abc"]}}
    assert len(ours(deny=False)) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"principal": "*"}, "RAM user's ID"),
        ({"principal": ""}, "RAM user's ID"),
        ({"vpc_ids": []}, "vpc_ids is empty"),
        ({"vpc_ids": ["10.0.0.0/8"]}, "not VPC IDs"),
        ({"bucket": "Bad_Bucket"}, "not a valid OSS bucket name"),
        ({"account_id": "acct"}, "numeric account ID"),
    ],
)
def test_statements_refuse_bad_input(kwargs, message):
    arguments = {"bucket": BUCKET, "account_id": ACCOUNT, "principal": USER, "vpc_ids": ["vpc-a"]}
    arguments.update(kwargs)
    with pytest.raises(PolicyError, match=message):
        automq_bucket_statements(**arguments)


def test_bucket_resources():
    assert bucket_resources("b-1") == ["acs:oss:*:*:b-1", "acs:oss:*:*:b-1/*"]


def test_merge_into_nothing():
    merged = merge_bucket_policy(None, ours(), principal=USER, bucket=BUCKET)
    assert merged == {"Version": "1", "Statement": ours()}


def test_merge_keeps_foreign_statements_in_order_and_replaces_ours():
    old_ours = ours(vpcs=["vpc-old"])
    existing = json.dumps({"Version": "1", "Statement": [old_ours[0], FOREIGN, old_ours[1]]})
    merged = merge_bucket_policy(existing, ours(), principal=USER, bucket=BUCKET)
    assert merged["Statement"] == [FOREIGN, *ours()]


def test_statement_for_several_principals_or_other_buckets_is_foreign():
    shared = {**ours()[0], "Principal": [USER, "999"]}
    other_bucket = {**ours()[0], "Resource": ["acs:oss:*:*:other-bucket/*"]}
    mixed = {**ours()[0], "Resource": [f"acs:oss:*:*:{BUCKET}/*", "acs:oss:*:*:other/*"]}
    for statement in (shared, other_bucket, mixed):
        assert not is_automq_statement(statement, principal=USER, bucket=BUCKET)
    prefix_bucket = {**ours()[0], "Resource": [f"acs:oss:*:*:{BUCKET}-backup/*"]}
    assert not is_automq_statement(prefix_bucket, principal=USER, bucket=BUCKET)
    assert is_automq_statement({**ours()[0], "Principal": USER}, principal=USER, bucket=BUCKET)


def test_remove_leaves_the_foreign_statements_or_nothing():
    existing = {"Version": "1", "Statement": [*ours(), FOREIGN]}
    assert remove_automq_statements(existing, principal=USER, bucket=BUCKET) == {
        "Version": "1",
        "Statement": [FOREIGN],
    }
    assert remove_automq_statements({"Statement": ours()}, principal=USER, bucket=BUCKET) is None
    with pytest.raises(PolicyError, match="not list"):
        remove_automq_statements(ours(), principal=USER, bucket=BUCKET)
    assert remove_automq_statements(None, principal=USER, bucket=BUCKET) is None


def test_merge_refuses_malformed_existing_policy_and_foreign_input():
    with pytest.raises(PolicyError, match="not valid JSON"):
        merge_bucket_policy("{nope", ours(), principal=USER, bucket=BUCKET)
    with pytest.raises(PolicyError, match="not for this principal"):
        merge_bucket_policy(None, [FOREIGN], principal=USER, bucket=BUCKET)


def test_size_limit():
    big = [
        {**FOREIGN, "Principal": [str(n)], "Resource": [f"acs:oss:*:*:{BUCKET}/p{n}/" + "x" * 100]}
        for n in range(120)
    ]
    with pytest.raises(PolicyError, match="above OSS's limit of 16384"):
        merge_bucket_policy({"Statement": big}, ours(), principal=USER, bucket=BUCKET)
    assert MAX_BUCKET_POLICY_BYTES == 16384


def test_validate_requires_the_bucket_policy_elements():
    for statement, message in [
        ({"Effect": "Permit", "Action": "a", "Resource": "r", "Principal": "*"}, "Effect"),
        ({"Effect": "Allow", "Resource": "r", "Principal": "*"}, "Action"),
        ({"Effect": "Allow", "Action": "a", "Principal": "*"}, "Resource"),
        ({"Effect": "Allow", "Action": "a", "Resource": "r"}, "Principal"),
    ]:
        with pytest.raises(PolicyError, match=message):
            validate_bucket_policy({"Statement": [statement]})


def test_equivalent_spellings_compare_equal():
    a = {"Version": "1", "Statement": [{**FOREIGN, "Action": ["oss:GetObject"]}]}
    b = json.dumps({"Version": "1", "Statement": [{**FOREIGN, "Principal": "111"}]})
    assert documents_equal(a, b)


# --- properties -------------------------------------------------------------------------

principals = st.sampled_from([USER, "111", "222", "*"])
paths = st.sampled_from([BUCKET, f"{BUCKET}/*", f"{BUCKET}/logs/*", "other", "other/*"])
foreign_statements = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Principal": st.lists(principals, min_size=1, max_size=3, unique=True),
        "Action": st.lists(
            st.sampled_from(["oss:GetObject", "oss:PutObject", "oss:*"]), min_size=1, max_size=2
        ),
        "Resource": st.lists(
            paths.map(lambda p: f"acs:oss:*:*:{p}"), min_size=1, max_size=2, unique=True
        ),
    }
)
vpc_lists = st.lists(st.sampled_from(["vpc-a", "vpc-b", "vpc-c"]), min_size=1, unique=True)


@settings(max_examples=300, deadline=None)
@given(existing=st.lists(foreign_statements, max_size=6), vpcs=vpc_lists, deny=st.booleans())
def test_merge_properties(existing, vpcs, deny):
    statements = ours(vpcs, deny)
    once = merge_bucket_policy({"Statement": existing}, statements, principal=USER, bucket=BUCKET)
    twice = merge_bucket_policy(once, statements, principal=USER, bucket=BUCKET)
    # Idempotent: merging again changes nothing.
    assert twice == once
    # Foreign statements survive, untouched and in their order.
    foreign_before = [
        s for s in existing if not is_automq_statement(s, principal=USER, bucket=BUCKET)
    ]
    foreign_after = [
        s for s in once["Statement"] if not is_automq_statement(s, principal=USER, bucket=BUCKET)
    ]
    assert foreign_after == foreign_before
    # Ours appear exactly once each, and nothing else of ours.
    mine = [s for s in once["Statement"] if is_automq_statement(s, principal=USER, bucket=BUCKET)]
    assert mine == statements
    # Removing ours gives back exactly the foreign part.
    removed = remove_automq_statements(once, principal=USER, bucket=BUCKET)
    assert (removed or {"Statement": []})["Statement"] == foreign_before


@settings(max_examples=100, deadline=None)
@given(existing=st.lists(foreign_statements, max_size=6), old=vpc_lists, new=vpc_lists)
def test_changing_the_vpc_replaces_rather_than_accumulates(existing, old, new):
    first = merge_bucket_policy({"Statement": existing}, ours(old), principal=USER, bucket=BUCKET)
    second = merge_bucket_policy(first, ours(new), principal=USER, bucket=BUCKET)
    direct = merge_bucket_policy({"Statement": existing}, ours(new), principal=USER, bucket=BUCKET)
    assert second == direct
