"""Plan the finalisation of feature levels after an upgrade.

Reads the output of `kafka-features.sh describe` and decides which features to
raise to the highest level every node supports. Only the features named by
the caller are touched: `kraft.version`, for one, must not be raised on a
static quorum.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_FIELD = re.compile(r"(\w+):\s*(\S+)")


@dataclass(frozen=True)
class FeatureState:
    name: str
    supported_max: str
    finalized: str | None


def parse_describe(output: str) -> dict[str, FeatureState]:
    """Parse `kafka-features.sh describe` lines (tab-separated `Key: value` fields)."""
    features: dict[str, FeatureState] = {}
    for line in output.splitlines():
        fields = dict(_FIELD.findall(line))
        name = fields.get("Feature")
        if not name:
            continue
        if "SupportedMaxVersion" not in fields:
            raise ValueError(f"no SupportedMaxVersion for feature {name} in: {line!r}")
        finalized = fields.get("FinalizedVersionLevel")
        features[name] = FeatureState(
            name=name,
            supported_max=fields["SupportedMaxVersion"],
            finalized=None if finalized in (None, "-", "unfinalized") else finalized,
        )
    return features


def upgrade_arguments(features: Mapping[str, FeatureState], wanted: Iterable[str]) -> list[str]:
    """The `kafka-features.sh upgrade` arguments raising each wanted feature to its maximum.

    `metadata.version` takes its named level (`--metadata 3.9-IV0`); other features a
    number (`--feature automq.version=6`). Features absent from the cluster (the Kafka-
    based test package has no automq.version) and those already at their maximum are
    left out, so an empty list means nothing to do.
    """
    arguments: list[str] = []
    for name in wanted:
        state = features.get(name)
        if state is None or state.finalized == state.supported_max:
            continue
        if name == "metadata.version":
            arguments += ["--metadata", state.supported_max]
        else:
            arguments += ["--feature", f"{name}={state.supported_max}"]
    return arguments


# --- No rollback below finalized features ------------------------------------------------

_RELEASE = re.compile(r"^(\d+(?:\.\d+)*)")


def release_numbers(version: str) -> tuple[int, ...] | None:
    """The leading dotted numbers of a release (``1.7.3-rc0`` -> (1, 7, 3)), or None when
    it starts with none (then no order is claimed)."""
    match = _RELEASE.match(version.strip())
    return None if match is None else tuple(int(part) for part in match.group(1).split("."))


def is_older_release(version: str, than: str) -> bool:
    """Whether ``version`` is an older release than ``than``, by their leading numbers
    (1.6.0 < 1.7.3, 1.7 == 1.7.0); suffixes and unnumbered names never count as older."""
    mine, theirs = release_numbers(version), release_numbers(than)
    if mine is None or theirs is None:
        return False
    width = max(len(mine), len(theirs))
    return mine + (0,) * (width - len(mine)) < theirs + (0,) * (width - len(theirs))


def finalized_levels(features: Mapping[str, FeatureState], wanted: Iterable[str]) -> dict[str, str]:
    """The finalized level of each wanted feature the cluster has finalized."""
    levels = {}
    for name in wanted:
        state = features.get(name)
        if state is not None and state.finalized is not None:
            levels[name] = state.finalized
    return levels


def finalize_record(
    before: Mapping[str, FeatureState],
    after: Mapping[str, FeatureState],
    wanted: Iterable[str],
    release: str,
) -> dict[str, object]:
    """What the nodes keep after a finalize that raised levels: the release that raised
    them, the levels and the levels before (for the refusal's message)."""
    names = list(wanted)
    return {
        "finalized_by": release,
        "levels": finalized_levels(after, names),
        "previous": finalized_levels(before, names),
    }


def _levels_of(record: Mapping[str, object], key: str) -> Mapping[str, object]:
    levels = record.get(key)
    return levels if isinstance(levels, Mapping) else {}


def _describe_levels(levels: Mapping[str, object]) -> str:
    return ", ".join(f"{name} {level}" for name, level in sorted(levels.items())) or "none"


def rollback_problem(target: str, records: Iterable[Mapping[str, object] | None]) -> str:
    """Why ``target`` must not run the cluster ('' when it may): a release older than the
    newest one that raised the finalized feature levels (records as the nodes keep them;
    None where a node has none). Feature levels cannot be lowered, and an older release
    may not read metadata written at them."""
    newest: Mapping[str, object] | None = None
    for record in records:
        if not record or not isinstance(record.get("finalized_by"), str):
            continue
        if newest is None or is_older_release(
            str(newest["finalized_by"]), str(record["finalized_by"])
        ):
            newest = record
    if newest is None or not is_older_release(target, str(newest["finalized_by"])):
        return ""
    by = str(newest["finalized_by"])
    levels, previous = _levels_of(newest, "levels"), _levels_of(newest, "previous")
    return (
        f"automq_version {target} is older than {by}, whose playbooks/finalize_upgrade.yml "
        f"raised the cluster's finalized feature levels to {_describe_levels(levels)} "
        f"(from {_describe_levels(previous)}). Feature levels cannot be lowered, and an older "
        f"release may not read metadata written at them: a rollback is possible only before "
        f"finalizing. Keep automq_version at {by} or newer; nothing was changed. If you know "
        f"that {target} supports these levels, set automq_allow_older_than_finalized: true."
    )
