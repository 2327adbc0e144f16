"""Tests for automq_helpers.cluster_id."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.cluster_id import (
    ClusterIdDecision,
    ClusterIdError,
    generate_cluster_id,
    resolve_cluster_id,
    validate_cluster_id,
)

FAST = settings(max_examples=200, deadline=None)

ID_A = "MkU3OEVBNTcwNTJENDM2Qg"  # what `kafka-storage.sh random-uuid` prints
ID_B = "q1Sh-9_ISia_zwGINzRvyQ"
ID_C = "AAAAAAAAAAAAAAAAAAAAAg"
STATE = "inventories/prod/automq_state/cluster.json"


def encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def fixed(*chunks: bytes) -> Callable[[int], bytes]:
    """A random source returning the given chunks in turn."""
    it: Iterator[bytes] = iter(chunks)

    def rand(n: int) -> bytes:
        assert n == 16
        return next(it)

    return rand


# --- generate_cluster_id -------------------------------------------------------------------


def test_generate_format() -> None:
    value = generate_cluster_id()
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", value)
    assert validate_cluster_id(value) == value
    assert len(base64.urlsafe_b64decode(value + "==")) == 16


def test_generate_uses_rand() -> None:
    raw = bytes(range(16))
    assert generate_cluster_id(fixed(raw)) == encode(raw) == "AAECAwQFBgcICQoLDA0ODw"


def test_generate_retries_on_zero_reserved_and_dash() -> None:
    zero = bytes(16)
    metadata_topic = bytes(15) + b"\x01"
    dash = b"\xf8" + bytes(15)  # encodes to "-A..."
    assert encode(dash).startswith("-")
    good = b"\x01" * 16
    assert generate_cluster_id(fixed(zero, metadata_topic, dash, good)) == encode(good)


def test_generate_gives_up_on_broken_source() -> None:
    with pytest.raises(RuntimeError, match="no usable cluster ID"):
        generate_cluster_id(lambda n: bytes(n))


def test_generate_rejects_short_random() -> None:
    with pytest.raises(ValueError, match="expected 16"):
        generate_cluster_id(lambda n: b"x")


@FAST
@given(st.binary(min_size=16, max_size=16))
def test_generate_property(raw: bytes) -> None:
    good = b"\x07" * 16
    value = generate_cluster_id(fixed(raw, good))
    assert validate_cluster_id(value) == value
    assert not value.startswith("-")
    decoded = base64.urlsafe_b64decode(value + "==")
    assert decoded in (raw, good)
    assert encode(decoded) == value


def test_generated_ids_differ() -> None:
    assert len({generate_cluster_id() for _ in range(100)}) == 100


# --- validate_cluster_id -------------------------------------------------------------------


@pytest.mark.parametrize("value", [ID_A, ID_B, ID_C, "_" * 21 + "w"])
def test_validate_accepts(value: str) -> None:
    assert validate_cluster_id(value) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "0 characters long"),
        ("abc", "3 characters long"),
        (ID_A + "==", "drop the '=' padding"),
        (ID_A + "\n", "whitespace"),
        (" " + ID_A, "whitespace"),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", "hyphenated UUID"),
        ("MkU3OEVBNTcwNTJENDM2Q+", "'-' and '_' instead of '+' and '/'"),
        ("MkU3OEVBNTcwNTJENDM2Q!", "outside the base64url alphabet: '!'"),
        ("MkU3OEVBNTcwNTJENDM2QB", "canonical encoding of 16 bytes"),
        ("-kU3OEVBNTcwNTJENDM2Qg", "starts with '-'"),
        ("A" * 22, "all-zero"),
        ("A" * 21 + "Q", "__cluster_metadata"),
    ],
)
def test_validate_rejects(value: str, reason: str) -> None:
    with pytest.raises(ClusterIdError) as info:
        validate_cluster_id(value)
    message = str(info.value)
    assert reason in message
    assert message.startswith("automq_cluster_id has an invalid cluster ID")
    assert "22 characters" in message
    assert "kafka-storage.sh random-uuid" in message
    assert repr(value) in message


def test_validate_rejects_non_string() -> None:
    with pytest.raises(ClusterIdError, match=r"automq_cluster_id must be a string, got int"):
        validate_cluster_id(12345)  # type: ignore[arg-type]


def test_validate_names_other_source() -> None:
    with pytest.raises(ClusterIdError) as info:
        validate_cluster_id("nope", source=STATE)
    message = str(info.value)
    assert message.startswith(f"{STATE} has an invalid cluster ID 'nope'")
    assert "edited by hand" in message


def test_cluster_id_error_is_value_error() -> None:
    assert issubclass(ClusterIdError, ValueError)


@FAST
@given(st.binary(min_size=16, max_size=16))
def test_validate_accepts_every_kafka_uuid(raw: bytes) -> None:
    value = encode(raw)
    reserved = raw in (bytes(16), bytes(15) + b"\x01") or value.startswith("-")
    if reserved:
        with pytest.raises(ClusterIdError):
            validate_cluster_id(value)
    else:
        assert validate_cluster_id(value) == value


@FAST
@given(st.text(max_size=30))
def test_validate_accepts_only_canonical_uuids(value: str) -> None:
    try:
        validate_cluster_id(value)
    except ClusterIdError:
        return
    assert encode(base64.urlsafe_b64decode(value + "==")) == value


# --- resolve_cluster_id --------------------------------------------------------------------


def test_resolve_generates_when_nothing_known() -> None:
    raw = b"\x42" * 16
    decision = resolve_cluster_id(None, None, {"h1": None, "h2": None}, rand=fixed(raw))
    assert decision == ClusterIdDecision(cluster_id=encode(raw), generated=True)


def test_resolve_generates_with_no_hosts() -> None:
    decision = resolve_cluster_id(None, None, {})
    assert decision.generated
    assert validate_cluster_id(decision.cluster_id)


@pytest.mark.parametrize(
    ("configured", "persisted", "on_hosts", "expected"),
    [
        (ID_A, None, {}, ID_A),
        (ID_A, None, {"h1": None}, ID_A),
        (ID_A, ID_A, {"h1": ID_A, "h2": None}, ID_A),
        (None, ID_A, {}, ID_A),
        (None, ID_A, {"h1": None}, ID_A),
        (None, None, {"h1": ID_A, "h2": ID_A, "h3": None}, ID_A),
        (None, ID_A, {"h1": ID_A}, ID_A),
        ("", "", {"h1": ID_A}, ID_A),
        (ID_A, "", {}, ID_A),
    ],
)
def test_resolve_uses_known_id(
    configured: str | None, persisted: str | None, on_hosts: dict[str, str | None], expected: str
) -> None:
    assert resolve_cluster_id(configured, persisted, on_hosts) == ClusterIdDecision(
        expected, generated=False
    )


def test_resolve_hosts_disagree() -> None:
    with pytest.raises(ClusterIdError) as info:
        resolve_cluster_id(ID_A, ID_A, {"h1": ID_A, "h2": ID_B, "h3": ID_A, "h4": None})
    message = str(info.value)
    assert "2 different clusters" in message
    for host, cid in (("h1", ID_A), ("h2", ID_B), ("h3", ID_A)):
        assert f"  {host}: cluster.id={cid}" in message
    assert "h4" not in message
    assert "belongs to another cluster" in message
    assert "wipe" in message
    assert "remove the host(s)" in message
    assert "inventory" in message


def test_resolve_host_with_empty_id() -> None:
    with pytest.raises(ClusterIdError, match=r"meta\.properties on h2 has an empty cluster\.id"):
        resolve_cluster_id(None, None, {"h1": ID_A, "h2": ""})


def test_resolve_configured_invalid() -> None:
    with pytest.raises(ClusterIdError, match=r"^automq_cluster_id has an invalid cluster ID"):
        resolve_cluster_id("not-an-id", None, {})


def test_resolve_configured_differs_from_hosts() -> None:
    with pytest.raises(ClusterIdError) as info:
        resolve_cluster_id(ID_B, None, {"h2": ID_A, "h1": ID_A, "h3": None})
    message = str(info.value)
    assert message.startswith(f"automq_cluster_id is '{ID_B}'")
    assert "h1, h2 are already formatted" in message
    assert f"cluster ID '{ID_A}'" in message
    assert f"set automq_cluster_id to '{ID_A}'" in message
    assert "h3" not in message


def test_resolve_persisted_invalid() -> None:
    with pytest.raises(ClusterIdError) as info:
        resolve_cluster_id(None, "garbage", {}, state_file=STATE)
    assert str(info.value).startswith(f"{STATE} has an invalid cluster ID 'garbage'")


def test_resolve_persisted_differs_from_hosts() -> None:
    with pytest.raises(ClusterIdError) as info:
        resolve_cluster_id(None, ID_B, {"h1": ID_A}, state_file=STATE)
    message = str(info.value)
    assert message.startswith(f"{STATE} records cluster ID '{ID_B}'")
    assert f"h1 are formatted with cluster ID '{ID_A}'" in message
    assert f"set the cluster ID in {STATE} to '{ID_A}'" in message


def test_resolve_persisted_differs_from_hosts_default_state_name() -> None:
    with pytest.raises(ClusterIdError, match=r"state file \(automq_state/ beside the inventory"):
        resolve_cluster_id(None, ID_B, {"h1": ID_A})


def test_resolve_persisted_differs_from_configured() -> None:
    with pytest.raises(ClusterIdError) as info:
        resolve_cluster_id(ID_A, ID_B, {"h1": None}, state_file=STATE)
    message = str(info.value)
    assert message.startswith(f"automq_cluster_id is '{ID_A}', but {STATE} records")
    assert f"'{ID_B}'" in message
    assert f"set automq_cluster_id to '{ID_B}'" in message


def test_resolve_configured_vs_hosts_checked_before_state() -> None:
    with pytest.raises(ClusterIdError, match=r"^automq_cluster_id is"):
        resolve_cluster_id(ID_B, ID_C, {"h1": ID_A})


def test_resolve_accepts_nonstandard_id_already_on_hosts() -> None:
    odd = "-kU3OEVBNTcwNTJENDM2Qg"
    assert resolve_cluster_id(None, odd, {"h1": odd}) == ClusterIdDecision(odd, False)


IDS = st.sampled_from([ID_A, ID_B, ID_C])
MAYBE_ID = st.none() | IDS


@FAST
@given(
    configured=MAYBE_ID,
    persisted=MAYBE_ID,
    on_hosts=st.dictionaries(st.sampled_from(["h1", "h2", "h3", "h4"]), MAYBE_ID, max_size=4),
)
def test_resolve_property(
    configured: str | None, persisted: str | None, on_hosts: dict[str, str | None]
) -> None:
    formatted = {cid for cid in on_hosts.values() if cid is not None}
    known = formatted | {v for v in (configured, persisted) if v is not None}
    try:
        decision = resolve_cluster_id(configured, persisted, on_hosts, rand=fixed(b"\x05" * 16))
    except ClusterIdError:
        assert len(known) > 1
        return
    assert len(known) <= 1
    if known:
        assert decision == ClusterIdDecision(known.pop(), generated=False)
    else:
        assert decision == ClusterIdDecision(encode(b"\x05" * 16), generated=True)


@FAST
@given(
    st.lists(MAYBE_ID, max_size=4),
    st.permutations(range(4)),
)
def test_resolve_independent_of_host_order(values: list[str | None], order: list[int]) -> None:
    hosts = {f"h{i}": v for i, v in enumerate(values)}
    shuffled = {f"h{i}": hosts[f"h{i}"] for i in order if f"h{i}" in hosts}

    def outcome(mapping: dict[str, str | None]) -> object:
        try:
            return resolve_cluster_id(None, None, mapping, rand=fixed(b"\x05" * 16))
        except ClusterIdError as exc:
            return str(exc)

    assert outcome(hosts) == outcome(shuffled)


def test_every_pair_of_distinct_sources_errors() -> None:
    for a, b in itertools.permutations([ID_A, ID_B], 2):
        cases: list[tuple[str | None, str | None, dict[str, str | None]]] = [
            (a, b, {}),
            (a, None, {"h": b}),
            (None, a, {"h": b}),
        ]
        for configured, persisted, on_hosts in cases:
            with pytest.raises(ClusterIdError):
                resolve_cluster_id(configured, persisted, on_hosts)
