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
