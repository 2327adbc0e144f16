import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.features import (
    FeatureState,
    finalize_record,
    is_older_release,
    parse_describe,
    rollback_problem,
    upgrade_arguments,
)

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


# --- No rollback below finalized features ----------------------------------------------------


@pytest.mark.parametrize(
    ("version", "than", "older"),
    [
        ("1.6.0", "1.7.3", True),
        ("1.6.0-fixture", "1.7.3-fixture", True),
        ("1.7.2", "1.7.10", True),  # by number, not by text
        ("1.7", "1.7.0", False),
        ("1.7.3-rc0", "1.7.3", False),  # a suffix never makes a release older
        ("1.8.0", "1.7.3", False),
        ("latest", "1.7.3", False),  # no number: no order claimed
    ],
)
def test_releases_compare_by_their_leading_numbers(version: str, than: str, older: bool):
    assert is_older_release(version, than) is older


releases = st.lists(st.integers(0, 30), min_size=1, max_size=4).map(
    lambda parts: ".".join(map(str, parts))
)


@given(releases, releases)
def test_of_two_releases_at_most_one_is_older(a: str, b: str):
    assert not (is_older_release(a, b) and is_older_release(b, a))
    assert not is_older_release(a, a)


FINALIZED_39 = DESCRIBE_39.replace(
    "FinalizedVersionLevel: 3.8-IV0", "FinalizedVersionLevel: 3.9-IV0"
)


def test_the_record_names_the_release_and_the_levels_before_and_after():
    record = finalize_record(
        parse_describe(DESCRIBE_39), parse_describe(FINALIZED_39), ["metadata.version"], "1.7.3"
    )
    assert record == {
        "finalized_by": "1.7.3",
        "levels": {"metadata.version": "3.9-IV0"},
        "previous": {"metadata.version": "3.8-IV0"},
    }


RECORD = {
    "finalized_by": "1.7.3",
    "levels": {"metadata.version": "3.9-IV0"},
    "previous": {"metadata.version": "3.8-IV0"},
}


def test_a_release_older_than_the_finalizing_one_is_refused_naming_the_levels():
    problem = rollback_problem("1.6.0", [None, RECORD, RECORD])
    assert problem.startswith("automq_version 1.6.0 is older than 1.7.3")
    assert "to metadata.version 3.9-IV0 (from metadata.version 3.8-IV0)" in problem
    assert "automq_allow_older_than_finalized: true" in problem
    assert "nothing was changed" in problem


@pytest.mark.parametrize("target", ["1.7.3", "1.8.0", "1.7.3-hotfix"])
def test_the_finalizing_release_and_newer_ones_may_run(target: str):
    assert rollback_problem(target, [RECORD]) == ""


def test_without_a_record_nothing_is_refused():
    assert rollback_problem("1.0.0", [None, None]) == ""
    assert rollback_problem("1.0.0", [{"levels": {}}]) == ""


def test_the_newest_record_decides():
    """A node that missed a later finalize (its record older) does not hide it."""
    later = {**RECORD, "finalized_by": "1.9.0", "levels": {"metadata.version": "4.0-IV0"}}
    problem = rollback_problem("1.8.0", [RECORD, later])
    assert "older than 1.9.0" in problem
    assert "metadata.version 4.0-IV0" in problem
    assert rollback_problem("1.9.0", [RECORD, later]) == ""
