"""The cluster's SCRAM users and ACLs as the inventory declares them: checks and plans.

Pure (no I/O): the preflight asks :func:`access_problems` what is wrong with
``automq_users`` and ``automq_acls`` before any host changes, and the
``kafka_acls`` module turns the declared ACLs into Kafka's bindings
(:func:`desired_bindings`) and diffs them with the cluster's (:func:`plan_acls`).

Runs on the hosts too (module_utils of the Kafka-protocol modules): standard
library only, Python 3.8 compatible.
"""

# The hosts may only have Python 3.8: keep typing.List & co. (UP006/UP035/UP045).
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

# Kafka's codes (org.apache.kafka.common.resource.ResourceType, PatternType,
# org.apache.kafka.common.acl.AclOperation, AclPermissionType).
RESOURCE_TYPES: Dict[str, int] = {
    "topic": 2,
    "group": 3,
    "cluster": 4,
    "transactional_id": 5,
    "delegation_token": 6,
    "user": 7,
}
PATTERN_TYPES: Dict[str, int] = {"literal": 3, "prefixed": 4}
OPERATIONS: Dict[str, int] = {
    "all": 2,
    "read": 3,
    "write": 4,
    "create": 5,
    "delete": 6,
    "alter": 7,
    "describe": 8,
    "cluster_action": 9,
    "describe_configs": 10,
    "alter_configs": 11,
    "idempotent_write": 12,
    "create_tokens": 13,
    "describe_tokens": 14,
}
PERMISSIONS: Dict[str, int] = {"deny": 2, "allow": 3}
CLUSTER_RESOURCE_NAME = "kafka-cluster"
USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
PRINCIPAL_RE = re.compile(r"^User:(\*|[A-Za-z0-9][A-Za-z0-9._@-]{0,63})$")
MIN_PASSWORD_LENGTH = 12
STATES = ("present", "absent")
ACL_KEYS = frozenset(
    {
        "principal",
        "resource_type",
        "resource_name",
        "pattern_type",
        "operations",
        "permission",
        "host",
        "state",
    }
)
USER_KEYS = frozenset({"name", "password", "state", "mechanism", "iterations"})
# The CLIENT listener enables SCRAM-SHA-512 only; Kafka accepts 4096-16384 iterations.
USER_MECHANISMS = ("SCRAM-SHA-512",)
ITERATIONS_RANGE = (4096, 16384)


@dataclass(frozen=True, order=True)
class AclBinding:
    """One Kafka ACL: a principal may (not) do one operation on matching resources."""

    principal: str
    host: str
    resource_type: str
    resource_name: str
    pattern_type: str
    operation: str
    permission: str

    def describe(self) -> str:
        return (
            f"{self.permission} {self.principal} {self.operation} on {self.resource_type} "
            f"{self.pattern_type}:{self.resource_name} from {self.host}"
        )


def _text(value: object) -> Optional[str]:
    return value if isinstance(value, str) else None


def user_problems(users: object, reserved: Sequence[str]) -> List[str]:
    """What is wrong with ``automq_users``; each message names the entry and the fix."""
    if not isinstance(users, list):
        return ["automq_users must be a list of {name, password, state} entries"]
    problems: List[str] = []
    seen: Set[str] = set()
    for index, entry in enumerate(users):
        where = f"automq_users[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be a mapping with name, password and state")
            continue
        unknown = sorted(str(key) for key in entry if key not in USER_KEYS)
        if unknown:
            problems.append(f"{where} has unknown key(s) {', '.join(unknown)}")
        name = _text(entry.get("name"))
        if name is None or not USER_NAME_RE.match(name):
            problems.append(
                f"{where}.name is {entry.get('name')!r}: use 1-64 letters, digits, '.', '_', "
                "'@' or '-', starting with a letter or digit (a string: quote names YAML "
                "would read as numbers)"
            )
            continue
        where = f"automq_users[{index}] ({name})"
        if name in seen:
            problems.append(f"{where} is listed twice")
        seen.add(name)
        if name in reserved:
            problems.append(
                f"{where}: {name} is the installer's own user; its password is kept on the "
                "Ansible machine (automq_admin_user, automq_monitor_user)"
            )
        state = entry.get("state", "present")
        if state not in STATES:
            problems.append(f"{where}.state is {state!r}: use present or absent")
        mechanism = entry.get("mechanism", USER_MECHANISMS[0])
        if mechanism not in USER_MECHANISMS:
            problems.append(
                f"{where}.mechanism is {mechanism!r}: the client listener offers "
                f"{', '.join(USER_MECHANISMS)} only"
            )
        iterations = entry.get("iterations", 8192)
        if (
            isinstance(iterations, bool)
            or not isinstance(iterations, int)
            or not ITERATIONS_RANGE[0] <= iterations <= ITERATIONS_RANGE[1]
        ):
            problems.append(
                f"{where}.iterations is {iterations!r}: an integer from {ITERATIONS_RANGE[0]} "
                f"to {ITERATIONS_RANGE[1]}"
            )
        password = entry.get("password")
        if state == "present" and (
            not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH
        ):
            problems.append(
                f"{where}.password must be a string of at least {MIN_PASSWORD_LENGTH} "
                "characters (keep it in ansible-vault)"
            )
    return problems


def _acl_entry_problems(where: str, entry: Mapping[str, object]) -> List[str]:
    problems: List[str] = []
    unknown = sorted(str(key) for key in entry if key not in ACL_KEYS)
    if unknown:
        problems.append(f"{where} has unknown key(s) {', '.join(unknown)}")
    principal = _text(entry.get("principal"))
    if principal is None or not re.match(
        r"^User:(\*|[A-Za-z0-9][A-Za-z0-9._@-]{0,63})$", principal
    ):
        problems.append(
            f"{where}.principal is {entry.get('principal')!r}: use User:<name> (or User:*)"
        )
    resource_type = entry.get("resource_type")
    if resource_type not in RESOURCE_TYPES:
        problems.append(
            f"{where}.resource_type is {resource_type!r}: use one of {', '.join(RESOURCE_TYPES)}"
        )
    name = _text(entry.get("resource_name"))
    if not name:
        problems.append(f"{where}.resource_name must be a non-empty string ('*' for all)")
    elif resource_type == "cluster" and name != CLUSTER_RESOURCE_NAME:
        problems.append(f"{where}.resource_name of a cluster ACL must be {CLUSTER_RESOURCE_NAME}")
    pattern = entry.get("pattern_type", "literal")
    if pattern not in PATTERN_TYPES:
        problems.append(f"{where}.pattern_type is {pattern!r}: use literal or prefixed")
    operations = entry.get("operations")
    if (
        not isinstance(operations, list)
        or not operations
        or any(op not in OPERATIONS for op in operations)
    ):
        problems.append(f"{where}.operations is {operations!r}: a list of {', '.join(OPERATIONS)}")
    permission = entry.get("permission", "allow")
    if permission not in PERMISSIONS:
        problems.append(f"{where}.permission is {permission!r}: use allow or deny")
    host = entry.get("host", "*")
    if not isinstance(host, str) or not host:
        problems.append(f"{where}.host must be '*' or an IP address")
    state = entry.get("state", "present")
    if state not in STATES:
        problems.append(f"{where}.state is {state!r}: use present or absent")
    return problems


def acl_problems(acls: object, known_users: Iterable[str]) -> List[str]:
    """What is wrong with ``automq_acls``; an ACL must name a known user (or User:*)."""
    if not isinstance(acls, list):
        return ["automq_acls must be a list of ACL entries"]
    known = set(known_users)
    problems: List[str] = []
    for index, entry in enumerate(acls):
        where = f"automq_acls[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where} must be a mapping (principal, resource_type, ...)")
            continue
        found = _acl_entry_problems(where, entry)
        problems.extend(found)
        principal = _text(entry.get("principal")) or ""
        user = principal[len("User:") :] if principal.startswith("User:") else None
        if not found and user not in ("*", None) and user not in known:
            problems.append(
                f"{where} names {principal}, which is not a user of this cluster: add it to "
                "automq_users (state: present) or fix the principal"
            )
    return problems


def access_problems(
    users: object, acls: object, reserved_users: Sequence[str], node_principal: str
) -> List[str]:
    """Every problem of ``automq_users`` and ``automq_acls`` (empty: they are usable)."""
    problems = user_problems(users, reserved_users)
    present = [
        entry["name"]
        for entry in (users if isinstance(users, list) else [])
        if isinstance(entry, Mapping)
        and isinstance(entry.get("name"), str)
        and entry.get("state", "present") == "present"
    ]
    return problems + acl_problems(acls, [*present, *reserved_users, node_principal])


def desired_bindings(
    acls: Iterable[Mapping[str, object]],
) -> Tuple[FrozenSet[AclBinding], FrozenSet[AclBinding]]:
    """(bindings that must exist, bindings that must not), one per operation."""
    present: Set[AclBinding] = set()
    absent: Set[AclBinding] = set()
    for entry in acls:
        operations = entry.get("operations")
        for operation in operations if isinstance(operations, list) else []:
            binding = AclBinding(
                principal=str(entry["principal"]),
                host=str(entry.get("host", "*")),
                resource_type=str(entry["resource_type"]),
                resource_name=str(entry["resource_name"]),
                pattern_type=str(entry.get("pattern_type", "literal")),
                operation=str(operation),
                permission=str(entry.get("permission", "allow")),
            )
            (absent if entry.get("state", "present") == "absent" else present).add(binding)
    return frozenset(present), frozenset(absent - present)


def plan_acls(
    existing: Iterable[AclBinding],
    present: FrozenSet[AclBinding],
    absent: FrozenSet[AclBinding],
    managed_principals: Iterable[str],
) -> Tuple[List[AclBinding], List[AclBinding]]:
    """(to create, to delete), in the order to send them: the managed principals' ACLs
    become exactly ``present``; ``absent`` ones are deleted whoever they belong to;
    other principals' are left alone."""
    managed = set(managed_principals)
    have = set(existing)
    # Brokers apply ACLs one at a time in this order: new denies before new allows,
    # old allows gone before old denies, so no moment allows what neither the old nor
    # the new ACLs allow.
    create = sorted(present - have, key=lambda binding: (binding.permission != "deny", binding))
    delete = sorted(
        (
            binding
            for binding in have
            if (binding.principal in managed and binding not in present) or binding in absent
        ),
        key=lambda binding: (binding.permission != "allow", binding),
    )
    return create, delete


# --------------------------------------------------------------------------- holding open

# Brokers with allow.everyone.if.no.acl.found=true (the second phase of a migration to
# secure) let everyone do anything on a resource no ACL matches, and only what its ACLs
# allow once one does. A broker applies new ACL records one at a time, in log order
# (AutoMQ core/src/main/scala/kafka/server/metadata/AclPublisher.scala: addAcl per
# change; StandardAuthorizer.addAcl publishes each one), so between the first and the
# last ACL of such a resource it would deny what the later ones allow (a producer's
# write while only its describe has landed). Holding the resource open first (an ACL
# letting every user do everything there, no more than the brokers already allow)
# closes that window; it goes once the declared ACLs are in place.
EVERY_USER = "User:*"
Pattern = Tuple[str, str, str]  # (resource type, resource name, pattern type)


def pattern_of(binding: AclBinding) -> Pattern:
    return (binding.resource_type, binding.resource_name, binding.pattern_type)


def holding_open(pattern: Pattern) -> AclBinding:
    """The ACL that lets every user do everything on the resources ``pattern`` matches."""
    resource_type, resource_name, pattern_type = pattern
    return AclBinding(EVERY_USER, "*", resource_type, resource_name, pattern_type, "all", "allow")


def opens_everything(binding: AclBinding) -> bool:
    return binding == holding_open(pattern_of(binding))


def patterns_overlap(first: Pattern, second: Pattern) -> bool:
    """Whether some resource name matches both patterns (Kafka's matching: a literal
    ``*`` matches every name of its type, a prefixed pattern every name it begins)."""
    if first[0] != second[0]:
        return False
    if ("*", "literal") in ((first[1], first[2]), (second[1], second[2])):
        return True
    (name_a, kind_a), (name_b, kind_b) = (first[1], first[2]), (second[1], second[2])
    if kind_a == "literal" and kind_b == "literal":
        return name_a == name_b
    if kind_a == "literal":
        return name_a.startswith(name_b)
    if kind_b == "literal":
        return name_b.startswith(name_a)
    return name_a.startswith(name_b) or name_b.startswith(name_a)


def pattern_covers(outer: Pattern, inner: Pattern) -> bool:
    """Whether every resource name ``inner`` matches is matched by ``outer`` too."""
    if outer[0] != inner[0]:
        return False
    if (outer[1], outer[2]) == ("*", "literal") or outer == inner:
        return True
    return (
        outer[2] == "prefixed" and inner[1].startswith(outer[1]) and inner[1:] != ("*", "literal")
    )


@dataclass(frozen=True)
class HoldOpenPlan:
    """What holds resources open while ACLs land on brokers that allow everyone where no
    ACL matches: ``open_first`` before the declared changes, ``close_last`` after them
    (with any left by an interrupted run); ``not_held`` are patterns of new ACLs that
    overlap resources existing ACLs already restrict (holding those open would let
    everyone in there for a moment), so they get their ACLs without it."""

    open_first: Tuple[AclBinding, ...] = ()
    close_last: Tuple[AclBinding, ...] = ()
    not_held: Tuple[Pattern, ...] = ()


def plan_holding_open(
    existing: Iterable[AclBinding],
    create: Iterable[AclBinding],
    present: FrozenSet[AclBinding],
    delete: Iterable[AclBinding] = (),
) -> HoldOpenPlan:
    """Hold open every pattern that gets new ACLs while no existing ACL restricts a
    resource it matches (one that existing ACLs cover whole needs nothing); close them,
    and those an earlier run left on a declared pattern, afterwards (unless declared, or
    deleted by the plan anyway)."""
    have = set(existing)
    restricting = [pattern_of(binding) for binding in have if not opens_everything(binding)]
    opened: Set[AclBinding] = set()
    not_held: Set[Pattern] = set()
    for pattern in {pattern_of(binding) for binding in create}:
        if any(pattern_covers(other, pattern) for other in restricting):
            continue  # every resource it matches is restricted already: ACLs only add
        if any(patterns_overlap(pattern, other) for other in restricting):
            not_held.add(pattern)
        else:
            opened.add(holding_open(pattern))
    declared_patterns = {pattern_of(binding) for binding in present}
    left_over = {
        binding
        for binding in have
        if opens_everything(binding) and pattern_of(binding) in declared_patterns
    }
    return HoldOpenPlan(
        open_first=tuple(sorted(opened - have)),
        close_last=tuple(sorted((opened | left_over) - present - set(delete))),
        not_held=tuple(sorted(not_held)),
    )
