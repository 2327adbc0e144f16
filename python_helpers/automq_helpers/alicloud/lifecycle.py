"""OSS lifecycle rules in the module's simple form, validated and compared with the bucket's.

The module manages the rules it names, by ``id``, and keeps the bucket's other rules
(someone else's) unless told to manage the whole configuration. A rule: ``id``,
``prefix`` (default: the whole bucket), ``expiration_days``, ``abort_multipart_days``,
``enabled``. AutoMQ's ops bucket holds metrics and logs under ``automq/``; expiring them
keeps it from growing for ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LifecycleError",
    "LifecycleRule",
    "check_prefixes",
    "lifecycle_equal",
    "merge_lifecycle_rules",
    "parse_lifecycle_rules",
]


class LifecycleError(ValueError):
    """A lifecycle rule OSS would refuse; the message names the rule."""


@dataclass(frozen=True, order=True)
class LifecycleRule:
    id: str
    prefix: str = ""
    expiration_days: int | None = None
    abort_multipart_days: int | None = None
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "expiration_days": self.expiration_days,
            "abort_multipart_days": self.abort_multipart_days,
            "enabled": self.enabled,
        }


def _days(raw: Any, what: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise LifecycleError(f"{what} must be a number of days")
    try:
        days = int(raw)
    except (TypeError, ValueError) as exc:
        raise LifecycleError(f"{what} must be a number of days") from exc
    if days < 1:
        raise LifecycleError(f"{what} must be at least 1 day")
    return days


def _enabled(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("enabled", "true", "yes"):
        return True
    if isinstance(raw, str) and raw.strip().lower() in ("disabled", "false", "no"):
        return False
    raise LifecycleError(f"enabled must be a boolean, got {raw!r}")


def parse_lifecycle_rules(raw: Iterable[Mapping[str, Any]]) -> tuple[LifecycleRule, ...]:
    """Validate the ``lifecycle_rules`` option (also accepts the API's ``status``)."""
    rules: list[LifecycleRule] = []
    for position, item in enumerate(raw, start=1):
        known = {"id", "prefix", "expiration_days", "abort_multipart_days", "enabled", "status"}
        unknown = sorted(set(item) - known)
        if unknown:
            raise LifecycleError(f"lifecycle rule {position}: unknown keys {', '.join(unknown)}")
        rule_id = str(item.get("id") or "").strip()
        if not rule_id or len(rule_id) > 255:
            raise LifecycleError(f"lifecycle rule {position}: id must have 1 to 255 characters")
        what = f"lifecycle rule {rule_id!r}"
        expiration = _days(item.get("expiration_days"), f"{what}: expiration_days")
        abort = _days(item.get("abort_multipart_days"), f"{what}: abort_multipart_days")
        if expiration is None and abort is None:
            raise LifecycleError(f"{what}: give expiration_days, abort_multipart_days or both")
        enabled_raw = item.get("enabled", item.get("status", True))
        rules.append(
            LifecycleRule(
                id=rule_id,
                prefix=str(item.get("prefix") or ""),
                expiration_days=expiration,
                abort_multipart_days=abort,
                enabled=_enabled(True if enabled_raw is None else enabled_raw),
            )
        )
    ids = [rule.id for rule in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise LifecycleError(f"lifecycle rule ids must be unique: {', '.join(duplicates)}")
    check_prefixes(rules)
    return tuple(sorted(rules))


def check_prefixes(rules: Iterable[LifecycleRule]) -> None:
    """OSS refuses a configuration whose rules' prefixes overlap."""
    listed = list(rules)
    for a in listed:
        for b in listed:
            if a is not b and a.prefix.startswith(b.prefix):
                raise LifecycleError(
                    f"lifecycle rules {b.id!r} and {a.id!r} have overlapping prefixes "
                    f"({b.prefix!r}, {a.prefix!r}): OSS refuses that"
                )


def merge_lifecycle_rules(
    current: Iterable[LifecycleRule], wanted: Iterable[LifecycleRule], exclusive: bool = False
) -> tuple[LifecycleRule, ...]:
    """The configuration to put: ``wanted``, replacing the bucket's rules of the same ids,
    and (unless ``exclusive``) the bucket's other rules, kept as they are. A kept rule that
    overlaps a wanted one is refused, naming both, rather than dropped."""
    wanted = tuple(wanted)
    if exclusive:
        return tuple(sorted(wanted))
    ids = {rule.id for rule in wanted}
    kept = [rule for rule in current if rule.id not in ids]
    for rule in kept:
        for own in wanted:
            if rule.prefix.startswith(own.prefix) or own.prefix.startswith(rule.prefix):
                raise LifecycleError(
                    f"the bucket's lifecycle rule {rule.id!r} (prefix {rule.prefix!r}) overlaps "
                    f"rule {own.id!r} (prefix {own.prefix!r}), and OSS refuses overlapping "
                    f"prefixes: change or remove {rule.id!r}, or let this rule replace the whole "
                    "lifecycle configuration (purge_lifecycle_rules)"
                )
    return tuple(sorted([*wanted, *kept]))


def lifecycle_equal(desired: Iterable[LifecycleRule], actual: Iterable[LifecycleRule]) -> bool:
    return sorted(desired) == sorted(actual)
