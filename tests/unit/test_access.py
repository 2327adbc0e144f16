"""The declared SCRAM users and ACLs: the preflight's checks and the ACL plan."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.access import (
    OPERATIONS,
    AclBinding,
    access_problems,
    desired_bindings,
    plan_acls,
)

RESERVED = ["admin", "automq-console"]
NODE = "automq-node.prod"
GOOD_USER = {"name": "orders-app", "password": "correct-horse-battery", "state": "present"}
PASSWORD = "correct-horse-battery"
GOOD_ACL = {
    "principal": "User:orders-app",
    "resource_type": "topic",
    "resource_name": "orders",
    "pattern_type": "literal",
    "operations": ["read", "describe"],
    "permission": "allow",
}


def problems(users: object = None, acls: object = None) -> list[str]:
    return access_problems(
        [GOOD_USER] if users is None else users,
        [GOOD_ACL] if acls is None else acls,
        RESERVED,
        NODE,
    )


def test_good_users_and_acls_have_no_problem() -> None:
    assert problems() == []
    assert problems(users=[], acls=[]) == []


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"name": "a b", "password": "correct-horse-battery"}, "automq_users[0].name is 'a b'"),
        ({"name": 1234, "password": "correct-horse-battery"}, "quote names YAML"),
        ({"name": "app", "password": "short"}, "automq_users[0] (app).password"),
        ({"name": "app"}, "automq_users[0] (app).password"),
        (
            {"name": "app", "password": PASSWORD, "state": "gone"},
            "use present or absent",
        ),
        ({"name": "admin", "password": "correct-horse-battery"}, "installer's own user"),
        ({"name": "app", "password": PASSWORD, "mechanism": "SCRAM-SHA-256"}, "SCRAM-SHA-512 only"),
        ({"name": "app", "password": PASSWORD, "iterations": 100}, "from 4096 to 16384"),
        (
            {"name": "app", "password": PASSWORD, "pasword": "x"},
            "unknown key(s) pasword",
        ),
    ],
)
def test_bad_users_are_named_with_the_fix(user: dict[str, object], expected: str) -> None:
    found = problems(users=[user], acls=[])
    assert any(expected in message for message in found), found


def test_an_absent_user_needs_no_password() -> None:
    assert problems(users=[{"name": "old-app", "state": "absent"}], acls=[]) == []


def test_a_user_listed_twice() -> None:
    found = problems(users=[GOOD_USER, GOOD_USER], acls=[GOOD_ACL])
    assert found == ["automq_users[1] (orders-app) is listed twice"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"principal": "orders-app"}, "use User:<name>"),
        ({"resource_type": "topics"}, "resource_type is 'topics'"),
        ({"resource_type": "cluster"}, "must be kafka-cluster"),
        ({"resource_name": ""}, "resource_name must be a non-empty string"),
        ({"pattern_type": "match"}, "use literal or prefixed"),
        ({"operations": ["read", "fly"]}, "operations is ['read', 'fly']"),
        ({"operations": []}, "operations is []"),
        ({"permission": "maybe"}, "use allow or deny"),
        ({"principal": "User:ghost"}, "User:ghost, which is not a user of this cluster"),
    ],
)
def test_bad_acls_are_named_with_the_fix(change: dict[str, object], expected: str) -> None:
    found = problems(acls=[{**GOOD_ACL, **change}])
    assert any(expected in message for message in found), found


def test_acls_may_name_the_installers_users_everyone_and_the_nodes() -> None:
    acls = [
        {**GOOD_ACL, "principal": "User:automq-console"},
        {**GOOD_ACL, "principal": "User:*"},
        {**GOOD_ACL, "principal": f"User:{NODE}"},
    ]
    assert problems(acls=acls) == []


def test_an_acl_of_a_removed_user_is_refused() -> None:
    found = problems(users=[{"name": "orders-app", "state": "absent"}])
    assert any("not a user of this cluster" in message for message in found)


def binding(operation: str, principal: str = "User:orders-app", **change: str) -> AclBinding:
    fields = {
        "principal": principal,
        "host": "*",
        "resource_type": "topic",
        "resource_name": "orders",
        "pattern_type": "literal",
        "operation": operation,
        "permission": "allow",
    }
    fields.update(change)
    return AclBinding(**fields)


def test_one_binding_per_operation() -> None:
    present, absent = desired_bindings([GOOD_ACL])
    assert present == {binding("read"), binding("describe")}
    assert absent == frozenset()


def test_plan_creates_the_missing_and_deletes_the_unlisted_of_managed_principals() -> None:
    present, absent = desired_bindings([GOOD_ACL])
    stray = binding("write")
    other = binding("write", principal="User:someone-else")
    create, delete = plan_acls(
        [binding("read"), stray, other], present, absent, ["User:orders-app"]
    )
    assert create == [binding("describe")]
    assert delete == [stray]  # someone-else is not managed: left alone


def test_absent_acls_are_deleted_whoever_owns_them() -> None:
    removed = {**GOOD_ACL, "principal": "User:someone-else", "state": "absent"}
    present, absent = desired_bindings([removed])
    create, delete = plan_acls(
        [binding("read", principal="User:someone-else")], present, absent, []
    )
    assert create == []
    assert delete == [binding("read", principal="User:someone-else")]


def test_present_wins_over_absent_for_the_same_binding() -> None:
    present, absent = desired_bindings([GOOD_ACL, {**GOOD_ACL, "state": "absent"}])
    assert absent == frozenset()
    assert plan_acls(present, present, absent, ["User:orders-app"]) == ([], [])


@given(
    st.sets(st.sampled_from(sorted(OPERATIONS)), min_size=1),
    st.sets(st.sampled_from(sorted(OPERATIONS))),
)
def test_applying_the_plan_reaches_the_declared_state(
    declared: set[str], existing: set[str]
) -> None:
    present, absent = desired_bindings([{**GOOD_ACL, "operations": sorted(declared)}])
    have = {binding(op) for op in existing}
    create, delete = plan_acls(have, present, absent, ["User:orders-app"])
    after = (have - set(delete)) | set(create)
    assert after == set(present)
    # A second run has nothing to do.
    assert plan_acls(after, present, absent, ["User:orders-app"]) == ([], [])
