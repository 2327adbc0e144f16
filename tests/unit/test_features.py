import pytest

from automq_helpers.features import FeatureState, parse_describe, upgrade_arguments

# The output of `kafka-features.sh describe` on Kafka 3.9.1, here of a cluster formatted at 3.8-IV0.
DESCRIBE_39 = (
    "Feature: kraft.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 1\t"
    "FinalizedVersionLevel: 0\tEpoch: 30\n"
    "Feature: metadata.version\tSupportedMinVersion: 3.0-IV1\tSupportedMaxVersion: 3.9-IV0\t"
    "FinalizedVersionLevel: 3.8-IV0\tEpoch: 30\n"
)

AUTOMQ = (
    "Feature: automq.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 6\t"
    "FinalizedVersionLevel: 5\tEpoch: 7\n"
)


def test_parses_each_feature():
    parsed = parse_describe(DESCRIBE_39)
    assert parsed["metadata.version"] == FeatureState("metadata.version", "3.9-IV0", "3.8-IV0")
    assert parsed["kraft.version"] == FeatureState("kraft.version", "1", "0")


def test_raises_only_wanted_features_to_their_maximum():
    parsed = parse_describe(DESCRIBE_39 + AUTOMQ)
    assert upgrade_arguments(parsed, ["metadata.version", "automq.version"]) == [
        "--metadata",
        "3.9-IV0",
        "--feature",
        "automq.version=6",
    ]


def test_kraft_version_is_never_raised_unless_asked():
    parsed = parse_describe(DESCRIBE_39)
    assert "kraft.version" not in " ".join(upgrade_arguments(parsed, ["metadata.version"]))


def test_nothing_to_do_when_finalized_or_absent():
    parsed = parse_describe(
        DESCRIBE_39.replace("FinalizedVersionLevel: 3.8-IV0", "FinalizedVersionLevel: 3.9-IV0")
    )
    assert upgrade_arguments(parsed, ["metadata.version", "automq.version"]) == []


def test_unfinalized_feature_is_raised():
    parsed = parse_describe(AUTOMQ.replace("FinalizedVersionLevel: 5", "FinalizedVersionLevel: -"))
    assert parsed["automq.version"].finalized is None
    assert upgrade_arguments(parsed, ["automq.version"]) == ["--feature", "automq.version=6"]


def test_rejects_a_line_without_maximum():
    with pytest.raises(ValueError, match=r"automq\.version"):
        parse_describe("Feature: automq.version\tSupportedMinVersion: 0\n")
