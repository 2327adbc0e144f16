"""RAM and OSS bucket policy evaluation, Condition blocks included.

What Alibaba Cloud documents, and the emulator does:

* A request is allowed when a statement of the caller's RAM policies or of the
  bucket policy allows it and no statement of either denies it: an explicit Deny
  wins (https://www.alibabacloud.com/help/en/oss/user-guide/ram-policy-overview,
  https://www.alibabacloud.com/help/en/oss/user-guide/oss-bucket-policy/). The
  account that owns the bucket needs no Allow; only a Deny stops it.
* Bucket policy ``Principal``: RAM user UIDs, account UIDs or ``*``. ``*`` in a
  statement without a ``Condition`` means everyone but the bucket owner; with a
  ``Condition`` it binds the owner and anonymous callers too, so such a Deny can
  lock the owner out (same page, "special rules for the bucket owner").
* ``Condition``: several operators and several keys of one operator are ANDed,
  several values of one key are ORed (for a negated operator: none may match).
  A key the request does not have makes a positive operator false and a negated
  one true, which is how OSS's own example ``StringNotLike acs:SourceVpc vpc-*``
  selects requests from outside every VPC
  (https://help.aliyun.com/zh/oss/user-guide/0030-00000008).

Operators: ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``,
``StringNotEqualsIgnoreCase``, ``StringLike``, ``StringNotLike`` (``*``/``?``),
``IpAddress``, ``NotIpAddress`` (addresses or CIDR blocks) and ``Bool``; keys
``acs:SourceIp``, ``acs:SourceVpc``, ``acs:SecureTransport``. Any other operator
(Numeric*, Date*, ForAnyValue:...) raises :class:`UnsupportedCondition`: the
caller refuses the request rather than guess.
"""

from __future__ import annotations

import enum
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .util import wildcard_match


@dataclass(frozen=True)
class RequestContext:
    """The condition keys of one request; ``None``: the request has no such key."""

    source_ip: str | None = None
    source_vpc: str | None = None  # the emulated VPC the request comes from
    secure_transport: bool | None = None  # HTTPS

    def values(self, key: str) -> list[str] | None:
        name = key.lower()
        if name == "acs:sourceip":
            return None if self.source_ip is None else [self.source_ip]
        if name == "acs:sourcevpc":
            return None if self.source_vpc is None else [self.source_vpc]
        if name == "acs:securetransport":
            if self.secure_transport is None:
                return None
            return ["true" if self.secure_transport else "false"]
        return None


class UnsupportedCondition(Exception):
    """A Condition the emulator cannot evaluate (an unknown operator or a malformed block)."""


class Decision(enum.Enum):
    DENY = "deny"  # a statement explicitly denies
    ALLOW = "allow"  # a statement allows and none denies
    NONE = "none"  # no statement applies: an implicit deny


def _in_network(value: str, pattern: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False


# operator (lower case) -> (does one request value match one policy value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "stringequals": (lambda value, pattern: value == pattern, False),
    "stringnotequals": (lambda value, pattern: value == pattern, True),
    "stringequalsignorecase": (lambda value, pattern: value.lower() == pattern.lower(), False),
    "stringnotequalsignorecase": (lambda value, pattern: value.lower() == pattern.lower(), True),
    "stringlike": (lambda value, pattern: wildcard_match(pattern, value), False),
    "stringnotlike": (lambda value, pattern: wildcard_match(pattern, value), True),
    "ipaddress": (_in_network, False),
    "notipaddress": (_in_network, True),
    "bool": (lambda value, pattern: value.lower() == pattern.lower(), False),
}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _policy_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def condition_holds(condition: Any, context: RequestContext) -> bool:
    """Whether a statement's ``Condition`` block holds for the request."""
    if not isinstance(condition, Mapping):
        raise UnsupportedCondition(f"Condition must be an object, not {condition!r}")
    for operator, keys in condition.items():
        entry = _OPERATORS.get(str(operator).lower())
        if entry is None:
            raise UnsupportedCondition(f"the condition operator {operator} is not supported")
        if not isinstance(keys, Mapping):
            raise UnsupportedCondition(f"the {operator} condition must be an object")
        match, negated = entry
        for key, expected in keys.items():
            patterns = [_policy_value(p) for p in as_list(expected)]
            actual = context.values(str(key))
            if actual is None:
                holds = negated
            else:
                hit = any(match(value, pattern) for value in actual for pattern in patterns)
                holds = hit != negated
            if not holds:
                return False
    return True


def policy_statements(document: str | None) -> list[dict[str, Any]]:
    if not document:
        return []
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError:
        return []
    statements = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    return [s for s in as_list(statements) if isinstance(s, dict)]


def _matches_any(patterns: Iterable[str], value: str, ignore_case: bool) -> bool:
    if ignore_case:
        return any(wildcard_match(p.lower(), value.lower()) for p in patterns)
    return any(wildcard_match(p, value) for p in patterns)


def _element_matches(
    statement: Mapping[str, Any], element: str, value: str, ignore_case: bool
) -> bool:
    """``Action``/``Resource`` must match, ``NotAction``/``NotResource`` must not."""
    if element in statement:
        return _matches_any([str(p) for p in as_list(statement[element])], value, ignore_case)
    if "Not" + element in statement:
        patterns = [str(p) for p in as_list(statement["Not" + element])]
        return not _matches_any(patterns, value, ignore_case)
    return False


def _principals(statement: Mapping[str, Any]) -> list[str]:
    raw = statement.get("Principal")
    if isinstance(raw, Mapping):  # {"RAM": [...]} in trust policies
        values: list[str] = []
        for entry in raw.values():
            values += [str(v) for v in as_list(entry)]
        return values or ["*"]
    return [str(p) for p in as_list(raw)] or ["*"]


@dataclass(frozen=True)
class Caller:
    """Whom a bucket policy's ``Principal`` is compared with."""

    principal_ids: tuple[str, ...]  # e.g. the RAM user's UID (and its account's)
    is_owner: bool = False  # the account owning the bucket


def statement_applies(
    statement: Mapping[str, Any],
    action: str,
    resource: str | None,
    context: RequestContext,
    caller: Caller | None = None,
) -> bool:
    """Whether a statement covers the request; ``caller`` only for bucket policies."""
    if not _element_matches(statement, "Action", action, ignore_case=True):
        return False
    if resource is not None and not _element_matches(
        statement, "Resource", resource, ignore_case=False
    ):
        return False
    has_condition = "Condition" in statement
    if caller is not None:
        principals = _principals(statement)
        named = any(p in caller.principal_ids for p in principals)
        everyone = "*" in principals and (has_condition or not caller.is_owner)
        if not (named or everyone):
            return False
    return not has_condition or condition_holds(statement["Condition"], context)


def decide(
    identity_documents: Iterable[str],
    action: str,
    resource: str | None,
    context: RequestContext,
    bucket_policy: str | None = None,
    caller: Caller | None = None,
) -> Decision:
    """Explicit Deny in any statement wins, then an Allow in either document."""
    candidates: list[tuple[dict[str, Any], Caller | None]] = []
    for document in identity_documents:
        candidates += [(s, None) for s in policy_statements(document)]
    if bucket_policy:
        bound = caller or Caller(())
        candidates += [(s, bound) for s in policy_statements(bucket_policy)]
    allowed = False
    for statement, statement_caller in candidates:
        if not statement_applies(statement, action, resource, context, statement_caller):
            continue
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            return Decision.DENY
        if effect == "allow":
            allowed = True
    return Decision.ALLOW if allowed else Decision.NONE


def evaluate(
    documents: Iterable[str],
    action: str,
    resource: str | None,
    context: RequestContext,
    resource_policy: str | None = None,
    principal_ids: Sequence[str] = (),
) -> bool:
    """RAM-style: allowed when some statement allows and none denies."""
    caller = Caller(tuple(principal_ids))
    return decide(documents, action, resource, context, resource_policy, caller) is Decision.ALLOW
