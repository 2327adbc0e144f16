"""The order ACL changes land in (access.plan_acls, access.plan_holding_open).

A model of Kafka's StandardAuthorizer (deny wins, an allow admits, a resource with ACLs
but no matching allow denies, one without any uses allow.everyone.if.no.acl.found) is
applied one ACL at a time, in request order, as a broker applies ACL records
(AclPublisher.addAcl per record). Between every two ACLs, the plan must never allow what
neither the start nor the end allows and, holding open, never deny what both allow.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.access import (
    AclBinding,
    Pattern,
    desired_bindings,
    holding_open,
    pattern_covers,
    patterns_overlap,
    plan_acls,
    plan_holding_open,
)

NAMES = ["", "a", "b", "ab", "aa", "ba", "abc"]  # resource names the model looks at
IMPLIES = {"describe": {"read", "write", "delete", "alter"}, "describe_configs": {"alter_configs"}}


def matches(pattern: Pattern, resource_type: str, name: str) -> bool:
    kind, pattern_name, pattern_type = pattern
    if kind != resource_type:
        return False
    if pattern_type == "literal":
        return pattern_name in ("*", name)
    return name.startswith(pattern_name)


def authorized(
    acls: Iterable[AclBinding], principal: str, operation: str, resource: tuple[str, str]
) -> bool:
    """StandardAuthorizerData.authorize with allow.everyone.if.no.acl.found=true."""
    on_resource = [
        acl
        for acl in acls
        if matches((acl.resource_type, acl.resource_name, acl.pattern_type), *resource)
    ]
    relevant = [
        acl
        for acl in on_resource
        if acl.principal in (principal, "User:*")
        and (
            acl.operation in ("all", operation)
            # Only an allow implies describe (an allowed write may be described).
            or (acl.permission == "allow" and acl.operation in IMPLIES.get(operation, ()))
        )
    ]
    if any(acl.permission == "deny" for acl in relevant):
        return False
    if any(acl.permission == "allow" for acl in relevant):
        return True
    return not on_resource


def steps(plan_steps: list[tuple[str, list[AclBinding]]], start: set[AclBinding]):
    """Every state a broker passes through, applying each ACL change on its own."""
    state = set(start)
    yield frozenset(state)
    for action, bindings in plan_steps:
        for binding in bindings:
            (state.add if action == "create" else state.discard)(binding)
            yield frozenset(state)


PRINCIPALS = ["User:app", "User:other"]
OPERATIONS_SEEN = ["read", "write", "describe"]


def actions(resource_types: Iterable[str]):
    for principal, operation, kind, name in itertools.product(
        PRINCIPALS, OPERATIONS_SEEN, sorted(set(resource_types)), NAMES
    ):
        yield principal, operation, (kind, name)


MIGRATED = [
    {
        "principal": "User:app",
        "resource_type": "topic",
        "resource_name": "a",
        "pattern_type": "prefixed",
        "operations": ["write", "read", "describe"],
    }
]


def test_without_holding_open_a_producer_is_denied_between_its_acls() -> None:
    """The failure this exists for: the migration's ACLs, created one by one in the
    plan's order (describe before write), deny the producer in between."""
    present, absent = desired_bindings(MIGRATED)
    create, _ = plan_acls(set(), present, absent, ["User:app"])
    states = list(steps([("create", create)], set()))
    produce = ("User:app", "write", ("topic", "ab"))
    assert authorized(states[0], *produce)
    assert authorized(states[-1], *produce)
    assert not all(authorized(state, *produce) for state in states)


def test_holding_open_keeps_the_producer_in_and_leaves_nothing_behind() -> None:
    present, absent = desired_bindings(MIGRATED)
    create, delete = plan_acls(set(), present, absent, ["User:app"])
    holding = plan_holding_open(set(), create, present, delete)
    bridge = holding_open(("topic", "a", "prefixed"))
    assert holding.open_first == (bridge,)
    assert holding.close_last == (bridge,)
    assert holding.not_held == ()
    plan_steps = [
        ("create", list(holding.open_first)),
        ("create", create),
        ("delete", list(holding.close_last)),
    ]
    states = list(steps(plan_steps, set()))
    assert states[-1] == present
    for state in states:
        assert authorized(state, "User:app", "write", ("topic", "ab"))
        assert authorized(state, "User:app", "read", ("topic", "ab"))


def test_a_bridge_left_by_an_interrupted_run_is_closed_and_reused() -> None:
    present, absent = desired_bindings(MIGRATED)
    bridge = holding_open(("topic", "a", "prefixed"))
    half_way = {bridge, *list(present)[:1]}
    create, delete = plan_acls(half_way, present, absent, ["User:app"])
    holding = plan_holding_open(half_way, create, present, delete)
    assert holding.open_first == ()  # it is there already
    assert holding.close_last == (bridge,)
    done = plan_holding_open(present | {bridge}, [], present)
    assert done.close_last == (bridge,)  # even with nothing left to create


def test_a_declared_every_user_acl_stays() -> None:
    declared = [{**MIGRATED[0], "principal": "User:*", "operations": ["all"]}]
    present, absent = desired_bindings(declared)
    create, delete = plan_acls(set(), present, absent, ["User:*"])
    holding = plan_holding_open(set(), create, present, delete)
    assert holding.open_first == tuple(present)
    assert holding.close_last == ()


def test_restricted_resources_are_not_held_open() -> None:
    """Holding open a pattern that overlaps resources existing ACLs restrict would let
    everyone in there; one that existing ACLs cover whole needs no holding at all."""
    reader = AclBinding("User:other", "*", "topic", "ab", "literal", "read", "allow")
    widen = AclBinding("User:app", "*", "topic", "a", "prefixed", "write", "allow")
    holding = plan_holding_open({reader}, [widen], frozenset({widen}))
    assert holding.open_first == ()
    assert holding.not_held == (("topic", "a", "prefixed"),)
    covered = AclBinding("User:app", "*", "topic", "ab", "literal", "write", "allow")
    assert plan_holding_open({reader}, [covered], frozenset({covered})) == type(holding)()


patterns = st.tuples(
    st.sampled_from(["topic", "group"]),
    st.sampled_from(["*", *NAMES[1:]]),
    st.sampled_from(["literal", "prefixed"]),
).filter(lambda p: not (p[1] == "*" and p[2] == "prefixed"))


@given(patterns, patterns)
def test_overlap_and_cover_agree_with_matching(first: Pattern, second: Pattern) -> None:
    names = [*NAMES, "abcd", "b*"]
    both = [n for n in names if matches(first, first[0], n) and matches(second, first[0], n)]
    assert patterns_overlap(first, second) == (first[0] == second[0] and bool(both))
    if pattern_covers(first, second):
        assert all(matches(first, second[0], n) for n in names if matches(second, second[0], n))


acl_entries = st.builds(
    lambda principal, pattern, operations, permission: {
        "principal": principal,
        "resource_type": pattern[0],
        "resource_name": pattern[1],
        "pattern_type": pattern[2],
        "operations": operations,
        "permission": permission,
    },
    st.sampled_from([*PRINCIPALS, "User:*"]),
    patterns,
    st.lists(st.sampled_from(["read", "write", "describe", "all"]), min_size=1, max_size=3),
    st.sampled_from(["allow", "allow", "deny"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(acl_entries, max_size=4),
    st.lists(acl_entries, min_size=1, max_size=5),
)
def test_every_step_allows_what_both_ends_allow_and_nothing_neither_does(
    existing_entries: list[dict[str, object]], declared: list[dict[str, object]]
) -> None:
    existing, _ = desired_bindings(existing_entries)
    present, absent = desired_bindings(declared)
    managed = ["User:app"]  # "User:other" and "User:*" keep what they have
    create, delete = plan_acls(existing, present, absent, managed)
    holding = plan_holding_open(existing, create, present, delete)
    plan_steps = [
        ("create", list(holding.open_first)),
        ("create", [b for b in create if b not in holding.open_first]),
        ("delete", list(delete)),
        ("delete", list(holding.close_last)),
    ]
    states = list(steps(plan_steps, set(existing)))
    start, end = states[0], states[-1]
    assert end == (set(existing) - set(delete) - set(holding.close_last)) | set(create)
    assert not set(holding.close_last) & end
    kinds = {b.resource_type for b in (*existing, *present)}
    for principal, operation, resource in actions(kinds):
        before = authorized(start, principal, operation, resource)
        after = authorized(end, principal, operation, resource)
        held = not any(matches(p, *resource) for p in holding.not_held)
        deleting = any(
            matches((b.resource_type, b.resource_name, b.pattern_type), *resource) for b in delete
        )
        for state in states:
            now = authorized(state, principal, operation, resource)
            assert not now or before or after, (principal, operation, resource, state)
            if held and not deleting:
                assert now or not (before and after), (principal, operation, resource, state)


def test_denies_come_first_and_go_last() -> None:
    """Deleting app's deny-all before its allow-read would let app read for a moment,
    which neither the old ACLs (deny) nor the new (other's only) allow."""
    deny = AclBinding("User:app", "*", "topic", "ab", "literal", "all", "deny")
    allow = AclBinding("User:app", "*", "topic", "ab", "literal", "read", "allow")
    other = AclBinding("User:other", "*", "topic", "ab", "literal", "read", "allow")
    create, delete = plan_acls({deny, allow}, frozenset({other}), frozenset(), ["User:app"])
    assert delete == [allow, deny]
    states = list(steps([("create", create), ("delete", delete)], {deny, allow}))
    assert not any(authorized(state, "User:app", "read", ("topic", "ab")) for state in states)
    new_deny = AclBinding("User:other", "*", "topic", "ab", "literal", "all", "deny")
    create, _ = plan_acls(set(), frozenset({other, new_deny}), frozenset(), [])
    assert create == [new_deny, other]
