"""Tests for automq_helpers.alicloud.lifecycle, .pvtz and .access_key."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.alicloud.access_key import (
    AccessKeyError,
    KeyDecision,
    KeyInfo,
    decide_access_key,
    key_file_content,
    keys_from_api,
    parse_key_file,
)
from automq_helpers.alicloud.lifecycle import (
    LifecycleError,
    LifecycleRule,
    lifecycle_equal,
    merge_lifecycle_rules,
    parse_lifecycle_rules,
)
from automq_helpers.alicloud.pvtz import (
    PvtzError,
    Record,
    bound_vpcs,
    cluster_zone_name,
    plan_records,
    records_from_api,
    validate_record,
)

# --- lifecycle ----------------------------------------------------------------------------


def test_parse_lifecycle_rules():
    rules = parse_lifecycle_rules(
        [
            {"id": "logs", "prefix": "automq/logs/", "expiration_days": "7"},
            {"id": "uploads", "prefix": "tmp/", "abort_multipart_days": 1, "status": "Disabled"},
        ]
    )
    assert rules == (
        LifecycleRule("logs", "automq/logs/", 7, None, True),
        LifecycleRule("uploads", "tmp/", None, 1, False),
    )
    assert rules[0].to_dict()["expiration_days"] == 7


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"prefix": "a", "expiration_days": 1}], "id must have"),
        ([{"id": "a"}], "give expiration_days"),
        ([{"id": "a", "expiration_days": 0}], "at least 1 day"),
        ([{"id": "a", "expiration_days": True}], "number of days"),
        ([{"id": "a", "expiration_days": "x"}], "number of days"),
        ([{"id": "a", "expiration_days": 1, "enabled": "maybe"}], "boolean"),
        ([{"id": "a", "expiration_days": 1, "days": 1}], "unknown keys days"),
        (
            [{"id": "a", "expiration_days": 1}, {"id": "a", "prefix": "x", "expiration_days": 1}],
            "unique",
        ),
        (
            [
                {"id": "all", "expiration_days": 30},
                {"id": "logs", "prefix": "logs/", "expiration_days": 7},
            ],
            "overlapping prefixes",
        ),
    ],
)
def test_parse_lifecycle_rules_refuses(raw, message):
    with pytest.raises(LifecycleError, match=message):
        parse_lifecycle_rules(raw)


def test_lifecycle_equal_ignores_order():
    a = parse_lifecycle_rules(
        [
            {"id": "x", "prefix": "a/", "expiration_days": 3},
            {"id": "y", "prefix": "b/", "expiration_days": 4},
        ]
    )
    assert lifecycle_equal(a, tuple(reversed(a)))
    assert not lifecycle_equal(a, a[:1])


OURS = LifecycleRule("automq-ops-expiry", "automq/", expiration_days=7)
THEIRS = LifecycleRule("their-archive", "archive/", expiration_days=365)


def test_merge_keeps_the_buckets_other_rules_and_replaces_ours():
    old_ours = LifecycleRule("automq-ops-expiry", "automq/", expiration_days=30)
    assert merge_lifecycle_rules([THEIRS, old_ours], [OURS]) == (OURS, THEIRS)
    assert merge_lifecycle_rules([THEIRS], []) == (THEIRS,)  # naming none keeps all
    assert merge_lifecycle_rules([THEIRS, old_ours], [OURS], exclusive=True) == (OURS,)
    assert merge_lifecycle_rules([THEIRS], [], exclusive=True) == ()


@pytest.mark.parametrize("their_prefix", ["", "automq/", "automq/logs/"])
def test_merge_refuses_a_kept_rule_that_overlaps_ours(their_prefix):
    theirs = LifecycleRule("theirs", their_prefix, expiration_days=1)
    with pytest.raises(LifecycleError, match=r"rule 'theirs' .* overlaps rule 'automq-ops-expiry'"):
        merge_lifecycle_rules([theirs], [OURS])
    assert merge_lifecycle_rules([theirs], [OURS], exclusive=True) == (OURS,)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a/", "b/", "c/d/", "e/"]), unique=True))
def test_merge_with_disjoint_prefixes_keeps_every_other_rule(prefixes):
    current = [LifecycleRule(f"r{i}", p, expiration_days=i + 1) for i, p in enumerate(prefixes)]
    merged = merge_lifecycle_rules(current, [OURS])
    assert set(merged) == {OURS, *current}


# --- PrivateZone --------------------------------------------------------------------------


def test_cluster_zone_name():
    assert cluster_zone_name("Prod-1") == "prod-1.automq.private"
    with pytest.raises(PvtzError, match="DNS label"):
        cluster_zone_name("prod_1")


def test_bound_vpcs_and_records_from_api():
    info = {"BindVpcs": {"Vpc": [{"RegionId": "cn-hangzhou", "VpcId": "vpc-1"}, {"VpcId": ""}]}}
    assert bound_vpcs(info) == [("cn-hangzhou", "vpc-1")]
    assert bound_vpcs({}) == []
    body = {
        "Records": {
            "Record": [{"RecordId": 7, "Rr": "n1", "Type": "a", "Value": "10.0.0.1", "Ttl": 60}]
        }
    }
    assert records_from_api(body) == [Record("7", "n1", "A", "10.0.0.1", 60)]


def rec(record_id, rr, value, ttl=60, record_type="A"):
    return Record(record_id, rr, record_type, value, ttl)


def test_plan_records_reuses_before_adding_or_deleting():
    existing = [
        rec("1", "node-1", "10.0.0.1"),
        rec("2", "node-1", "10.0.0.9"),
        rec("3", "node-2", "10.0.0.2"),
    ]
    same = plan_records("node-1", "A", ["10.0.0.1", "10.0.0.9"], 60, existing)
    assert not same.changed
    moved = plan_records("node-1", "A", ["10.0.0.5"], 60, existing)
    assert moved.update == ((existing[0], "10.0.0.5"),)
    assert moved.delete == (existing[1],)
    assert moved.create == ()
    ttl = plan_records("node-2", "A", ["10.0.0.2"], 300, existing)
    assert ttl.update == ((existing[2], "10.0.0.2"),)
    new = plan_records("node-3", "A", ["10.0.0.3"], 60, existing)
    assert new.create == ("10.0.0.3",)
    gone = plan_records("node-1", "A", [], 60, existing)
    assert gone.delete == tuple(existing[:2])
    other_type = plan_records("node-2", "TXT", ["x"], 60, existing)
    assert other_type.create == ("x",)
    assert not other_type.delete


@pytest.mark.parametrize(
    ("rr", "record_type", "values", "ttl", "message"),
    [
        ("", "A", ["10.0.0.1"], 60, "non-empty"),
        ("a b", "A", ["10.0.0.1"], 60, "non-empty"),
        ("n", "NS", ["x"], 60, "record type"),
        ("n", "A", ["10.0.0.1"], 1, "5-86400"),
        ("n", "A", ["host"], 60, "not an IPv4 address"),
        ("n", "A", [], 60, "non-empty value"),
        ("n", "A", [""], 60, "non-empty value"),
    ],
)
def test_validate_record(rr, record_type, values, ttl, message):
    with pytest.raises(PvtzError, match=message):
        validate_record(rr, record_type, values, ttl)


values = st.lists(st.sampled_from([f"10.0.0.{n}" for n in range(1, 8)]), max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    existing_values=values,
    ttls=st.lists(st.sampled_from([60, 300]), min_size=5, max_size=5),
    wanted=values,
)
def test_applying_a_record_plan_converges(existing_values, ttls, wanted):
    existing = [rec(str(i), "node", v, ttls[i]) for i, v in enumerate(existing_values)]
    plan = plan_records("node", "A", wanted, 60, existing)
    after = list(plan.keep)
    after += [Record(r.record_id, r.rr, r.type, value, 60) for r, value in plan.update]
    after += [rec(f"new{i}", "node", v) for i, v in enumerate(plan.create)]
    assert sorted(r.value for r in after) == sorted(dict.fromkeys(wanted))
    assert all(r.ttl == 60 for r in after)
    touched = [r for r, _ in plan.update] + list(plan.delete) + list(plan.keep)
    assert sorted(r.record_id for r in touched) == sorted(r.record_id for r in existing)
    assert not plan_records("node", "A", wanted, 60, after).changed


# --- AccessKeys ---------------------------------------------------------------------------

ACTIVE = KeyInfo("LTAI1", "Active", "2026-01-01")


def test_no_key_means_create():
    assert decide_access_key(user_name="u", state="present", existing=[], held_key_id=None) == (
        KeyDecision("create", None)
    )


def test_the_held_key_is_kept():
    decision = decide_access_key(
        user_name="u", state="present", existing=[ACTIVE], held_key_id="LTAI1"
    )
    assert decision == KeyDecision("keep", "LTAI1")
    inactive = decide_access_key(
        user_name="u", state="present", existing=[KeyInfo("LTAI1", "Inactive")], held_key_id="LTAI1"
    )
    assert inactive.action == "keep"
    assert "Inactive" in (inactive.warning or "")


def test_an_unnamed_existing_key_is_never_doubled():
    with pytest.raises(
        AccessKeyError, match=r"already has AccessKey LTAI1 \(Active\).*no second key"
    ):
        decide_access_key(user_name="u", state="present", existing=[ACTIVE], held_key_id=None)


def test_a_held_key_the_user_does_not_have():
    with pytest.raises(AccessKeyError, match="LTAI9 is not a key of RAM user u"):
        decide_access_key(user_name="u", state="present", existing=[ACTIVE], held_key_id="LTAI9")


def test_absent_deletes_only_the_named_key():
    assert (
        decide_access_key(
            user_name="u", state="absent", existing=[ACTIVE], held_key_id="LTAI1"
        ).action
        == "delete"
    )
    assert (
        decide_access_key(user_name="u", state="absent", existing=[], held_key_id="LTAI1").action
        == "none"
    )
    with pytest.raises(AccessKeyError, match="needs user_access_key_id"):
        decide_access_key(user_name="u", state="absent", existing=[ACTIVE], held_key_id=None)
    with pytest.raises(AccessKeyError, match="present or absent"):
        decide_access_key(user_name="u", state="rotated", existing=[], held_key_id=None)


def test_keys_from_api_and_key_files():
    body = {
        "AccessKeys": {
            "AccessKey": [
                {"AccessKeyId": "LTAI2", "Status": "Active", "CreateDate": "2026-02-01"},
                {"AccessKeyId": "LTAI1", "Status": "Inactive", "CreateDate": "2026-01-01"},
            ]
        }
    }
    assert [k.access_key_id for k in keys_from_api(body)] == ["LTAI1", "LTAI2"]
    assert keys_from_api({}) == []
    text = key_file_content("LTAI1", "secret")
    assert json.loads(text) == {"access_key_id": "LTAI1", "access_key_secret": "secret"}
    assert parse_key_file(text, "/k.json") == "LTAI1"
    with pytest.raises(AccessKeyError, match="ansible-vault"):
        parse_key_file("$ANSIBLE_VAULT;1.1;AES256\n6162", "/k.json")
    with pytest.raises(AccessKeyError, match="not the JSON file"):
        parse_key_file("nope", "/k.json")
    with pytest.raises(AccessKeyError, match="no access_key_id"):
        parse_key_file("{}", "/k.json")
