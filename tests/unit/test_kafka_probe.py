"""Unit tests for automq_helpers.kafka_probe (no Kafka needed).

Response fixtures were captured from a real Apache Kafka 3.9.1 KRaft cluster (node 1:
broker+controller on 127.0.0.1:29092/29093, node 2: broker on 29094 with
broker.rack=rack-b; topics probe-a (3 partitions), probe-on1 (on node 1), probe-on2
(on node 2)); "offline" ones after node 2 was SIGKILLed and its session expired.
They are whole response frames without the 4-byte size prefix.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers import kafka_probe as kp
from automq_helpers.kafka_probe import (
    ApiVersionRange,
    ApiVersionsResult,
    BrokerInfo,
    DecodeError,
    KafkaConnection,
    KafkaProbe,
    MetadataResult,
    PartitionMetadata,
    ProbeError,
    QuorumInfo,
    Reader,
    ReplicaState,
    TopicMetadata,
    Writer,
)


def _hex(*parts: str) -> bytes:
    return bytes.fromhex("".join(parts).replace(" ", ""))


# --------------------------------------------------------------------------- fixtures

API_VERSIONS_V0_CONTROLLER = _hex(
    "0000000100000000002a00010000001100070000000300110000000100120000000400130000000700140000"
    "0006001d00000003001e00000003001f00000003002000000004002100000002002400000002002500000003"
    "002600000003002700000002002800000002002900000003002b00000002002c00000001002d00000000002e"
    "0000000000310000000100320000000000330000000000340000000100350000000100360000000100370000"
    "0002003800000003003900000001003a00000000003b00000001003c00000001003e00000004003f00000001"
    "004000000000004300000000004600000000004900000000005000000000005100000000005200000000"
)  # 262 bytes, 42 APIs, no Metadata (3)

DESCRIBE_QUORUM_V1_CONTROLLER = _hex(
    "0000000200000002135f5f636c75737465725f6d657461646174610200000000000000000001000000010000"
    "0000000001e1020000000100000000000001e1000001a2181412f1000001a2181412f1000200000002000000"
    "00000001e1000001a2181411c1000001a2181411c100000000"
)  # 113 bytes

DESCRIBE_CLUSTER_V0_BROKER = _hex(
    "00000003000000000000000017645867503470324a5149324464424d4f6d6d384a4667000000020300000001"
    "0a3132372e302e302e31000071a40000000000020a3132372e302e302e31000071a6077261636b2d62008000"
    "000000"
)  # 91 bytes

DESCRIBE_CLUSTER_V0_AFTER_KILL = _hex(
    "00000003000000000000000017645867503470324a5149324464424d4f6d6d384a4667000000010200000001"
    "0a3132372e302e302e31000071a400008000000000"
)  # 65 bytes: node 2 fenced after SIGKILL + session timeout

DESCRIBE_CLUSTER_V0_CONTROLLER = _hex(
    "000000030000000000002a615468652072657175657374207761732073656e7420746f20616e20656e64706f"
    "696e74206f66207479706520434f4e54524f4c4c45522c206275742077652077616e74656420616e20656e64"
    "706f696e74206f6620747970652042524f4b455201ffffffff018000000000"
)  # 119 bytes: v0 sent to the controller listener

METADATA_V9_ONLINE = _hex(
    "00000004000000000003000000010a3132372e302e302e31000071a40000000000020a3132372e302e302e31"
    "000071a6077261636b2d620017645867503470324a5149324464424d4f6d6d384a4667000000010400000870"
    "726f62652d610004000000000001000000010000000002000000010200000001010000000000000200000001"
    "0000000002000000010200000001010000000000000000000002000000000200000002020000000201008000"
    "00000000000a70726f62652d6f6e320003000000000001000000020000000002000000020200000002010000"
    "00000000000000000200000000020000000202000000020100800000000000000a70726f62652d6f6e310003"
    "0000000000010000000100000000020000000102000000010100000000000000000000010000000002000000"
    "010200000001010080000000008000000000"
)  # 326 bytes

METADATA_V12_OFFLINE = _hex(
    "00000004000000000002000000010a3132372e302e302e31000071a4000017645867503470324a5149324464"
    "424d4f6d6d384a4667000000010400000870726f62652d61da520c1bd8c54be0a3a092132d559bda00040000"
    "000000010000000100000000020000000102000000010100000500000000ffffffff00000001020000000202"
    "000000020200000002000000000000020000000100000000020000000102000000010100800000000000000a"
    "70726f62652d6f6e32b22ade570ed5403a8700e2b582344e6a0003000500000001ffffffff00000001020000"
    "00020200000002020000000200000500000000ffffffff000000010200000002020000000202000000020080"
    "0000000000000a70726f62652d6f6e3152b153dc3d5c4d27810bcbd65c1f54b6000300000000000100000001"
    "0000000002000000010200000001010000000000000000000001000000000200000001020000000101008000"
    "00000000"
)  # 356 bytes: node 2 down

# Serialized by Kafka 3.9.1's own code (RequestUtils.serialize of the response objects the
# raft client returns), since a single-controller quorum never produces them live.
DESCRIBE_QUORUM_V1_NOT_LEADER = _hex(
    "0000000700000002135f5f636c75737465725f6d6574616461746102000000000006000000000000000000"
    "000000000000000101000000"
)  # DescribeQuorumResponse.singletonErrorResponse(tp, NOT_LEADER_OR_FOLLOWER)
DESCRIBE_QUORUM_V1_TOP_LEVEL_ERROR = _hex("0000000700001f0100")  # CLUSTER_AUTHORIZATION_FAILED

CLUSTER_ID = "dXgP4p2JQI2DdBMOmm8JFg"
ALL_FIXTURES = [
    (kp.API_API_VERSIONS, 0, API_VERSIONS_V0_CONTROLLER),
    (kp.API_DESCRIBE_QUORUM, 1, DESCRIBE_QUORUM_V1_CONTROLLER),
    (kp.API_DESCRIBE_QUORUM, 1, DESCRIBE_QUORUM_V1_NOT_LEADER),
    (kp.API_DESCRIBE_CLUSTER, 0, DESCRIBE_CLUSTER_V0_BROKER),
    (kp.API_DESCRIBE_CLUSTER, 0, DESCRIBE_CLUSTER_V0_CONTROLLER),
    (kp.API_METADATA, 9, METADATA_V9_ONLINE),
    (kp.API_METADATA, 12, METADATA_V12_OFFLINE),
]


def decode(api_key: int, version: int, frame: bytes) -> Any:
    _, body = kp.decode_response_header(api_key, version, frame)
    if api_key == kp.API_API_VERSIONS:
        return kp.decode_api_versions_response(body, version)
    if api_key == kp.API_DESCRIBE_QUORUM:
        return kp.decode_describe_quorum_response(body)
    if api_key == kp.API_DESCRIBE_CLUSTER:
        return kp.decode_describe_cluster_response(body)
    return kp.decode_metadata_response(body, version)


# --------------------------------------------------------------------------- primitives


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (16383, "ff7f"),
        (16384, "808001"),
        (0xFFFFFFFF, "ffffffff0f"),
    ],
)
def test_unsigned_varint_known_values(value, encoded):
    assert kp.encode_unsigned_varint(value).hex() == encoded
    assert Reader(bytes.fromhex(encoded)).unsigned_varint() == value


@pytest.mark.parametrize("value", [-1, 1 << 32])
def test_unsigned_varint_range(value):
    with pytest.raises(ValueError, match="out of range"):
        kp.encode_unsigned_varint(value)


@pytest.mark.parametrize("data", ["8080808080", "ffffffff1f", "8080"])
def test_unsigned_varint_malformed(data):
    with pytest.raises(DecodeError):
        Reader(bytes.fromhex(data)).unsigned_varint()


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_unsigned_varint_roundtrip(value):
    data = kp.encode_unsigned_varint(value)
    reader = Reader(data)
    assert reader.unsigned_varint() == value
    assert reader.remaining() == 0


@given(st.one_of(st.none(), st.text(max_size=300)))
def test_compact_string_roundtrip(value):
    data = Writer().compact_string(value).getvalue()
    length = 0 if value is None else len(value.encode("utf-8")) + 1
    assert data.startswith(kp.encode_unsigned_varint(length))
    reader = Reader(data)
    assert reader.compact_nullable_string() == value
    assert reader.remaining() == 0


@given(st.one_of(st.none(), st.text(max_size=300)))
def test_classic_string_roundtrip(value):
    data = Writer().string(value).getvalue()
    assert struct.unpack(">h", data[:2])[0] == (-1 if value is None else len(data) - 2)
    assert Reader(data).nullable_string() == value


def test_compact_strings_reject_null_where_not_nullable():
    with pytest.raises(DecodeError, match="null"):
        Reader(b"\x00").compact_string()
    with pytest.raises(DecodeError, match="null"):
        Reader(b"\xff\xff").string()


@given(
    st.dictionaries(st.integers(0, 0xFFFFFFFF), st.binary(max_size=40), max_size=6),
    st.binary(max_size=8),
)
def test_tagged_fields_roundtrip(fields, trailer):
    data = Writer().tagged_fields(fields).raw(trailer).getvalue()
    reader = Reader(data)
    assert reader.tagged_fields() == fields
    assert reader.take(reader.remaining()) == trailer


def test_tagged_fields_encoding_is_sorted():
    assert Writer().tagged_fields({5: b"\xaa", 1: b""}).getvalue().hex() == "020100" + "0501aa"
    assert Writer().tagged_fields().getvalue() == b"\x00"


@given(st.lists(st.integers(-(2**31), 2**31 - 1), max_size=20), st.booleans())
def test_int32_array_roundtrip(values, compact):
    writer = Writer()
    if compact:
        writer.compact_array_length(len(values))
    else:
        writer.array_length(len(values))
    for value in values:
        writer.int32(value)
    assert Reader(writer.getvalue()).int32_array(compact) == tuple(values)


def test_null_arrays():
    assert Writer().compact_array_length(None).getvalue() == b"\x00"
    assert Reader(b"\x00").compact_array_length() == -1
    assert Reader(b"\xff\xff\xff\xff").array_length() == -1


def test_reader_bounds():
    with pytest.raises(DecodeError, match="truncated"):
        Reader(b"\x00\x01\x02").int32()
    with pytest.raises(DecodeError, match="cannot fit"):
        Reader(b"\x00\x00\x10\x00").array_length()
    with pytest.raises(DecodeError, match="trailing"):
        Reader(b"\x00").expect_end("x")


def test_uuid_format_matches_kafka():
    # Topic id of probe-a as printed by kafka-topics.sh --describe.
    raw = bytes.fromhex("da520c1bd8c54be0a3a092132d559bda")
    assert kp.format_uuid(raw) == "2lIMG9jFS-CjoJITLVWb2g"
    assert kp.encode_uuid("2lIMG9jFS-CjoJITLVWb2g") == raw
    assert kp.format_uuid(bytes(16)) == "AAAAAAAAAAAAAAAAAAAAAA"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("broker1:9092", ("broker1", 9092)),
        (" 10.0.0.5:9093 ", ("10.0.0.5", 9093)),
        ("[::1]:9092", ("::1", 9092)),
    ],
)
def test_parse_address(text, expected):
    assert kp.parse_address(text) == expected
    assert kp.parse_address(kp.format_address(*expected)) == expected


@pytest.mark.parametrize("text", ["broker1", "broker1:", ":9092", "h:0", "h:70000", "[::1]9092"])
def test_parse_address_rejects(text):
    with pytest.raises(ValueError, match="bad address"):
        kp.parse_address(text)


# --------------------------------------------------------------------------- requests
# Hand-assembled from the Kafka 3.9 JSON schemas; each also equals what Kafka's own
# RequestUtils.serialize produces for the same header (correlation id 7, client "probe").

HEADER_V1_PROBE = "00000007" + "0005" + "70726f6265"  # correlation id, int16-length "probe"


def test_encode_api_versions_v0():
    expected = (
        "0000000f"  # size 15
        "0012" + "0000" + HEADER_V1_PROBE  # key 18, v0, header v1 (no tagged fields)
        # empty body
    )
    assert kp.encode_api_versions_request(7, "probe").hex() == expected


def test_encode_describe_quorum_v1():
    expected = (
        "0000002c"  # size 44
        "0037" + "0001" + HEADER_V1_PROBE + "00"  # key 55, v1, header v2: + tagged fields
        "02"  # Topics: compact array, 1 element
        "13"  # TopicName: compact string, length 18 + 1
        "5f5f636c75737465725f6d65746164617461"  # "__cluster_metadata"
        "02"  # Partitions: 1 element
        "00000000"  # PartitionIndex 0
        "00"  # partition tagged fields
        "00"  # topic tagged fields
        "00"  # request tagged fields
    )
    assert kp.encode_describe_quorum_request(7, "probe").hex() == expected


def test_encode_describe_cluster_v0():
    expected = (
        "00000012"  # size 18
        "003c" + "0000" + HEADER_V1_PROBE + "00"  # key 60, v0, header v2
        "00"  # IncludeClusterAuthorizedOperations false
        "00"  # tagged fields
    )
    assert kp.encode_describe_cluster_request(7, "probe").hex() == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # size, key 3, version, header v2; Topics null (00), AllowAutoTopicCreation false,
        # [IncludeClusterAuthorizedOperations false (v8-v10)], IncludeTopicAuthorized... false,
        # tagged fields
        (9, "0000001500030009" + HEADER_V1_PROBE + "000000000000"),
        (10, "000000150003000a" + HEADER_V1_PROBE + "000000000000"),
        (11, "000000140003000b" + HEADER_V1_PROBE + "0000000000"),
        (12, "000000140003000c" + HEADER_V1_PROBE + "0000000000"),
    ],
)
def test_encode_metadata_all_topics(version, expected):
    assert kp.encode_metadata_request(7, "probe", version).hex() == expected


def test_encode_metadata_rejects_unimplemented_versions():
    with pytest.raises(ValueError, match="v9-v12"):
        kp.encode_metadata_request(1, "probe", 8)


def test_null_client_id_and_flexibility():
    framed = kp.encode_request(kp.API_DESCRIBE_CLUSTER, 0, 1, None, b"")
    assert framed.hex() == "0000000b003c000000000001ffff00"
    assert kp.is_flexible(kp.API_METADATA, 9)
    assert not kp.is_flexible(kp.API_METADATA, 8)
    assert not kp.is_flexible(kp.API_API_VERSIONS, 0)
    with pytest.raises(ValueError, match="unknown API key"):
        kp.is_flexible(999, 0)


def test_response_header_versions():
    # ApiVersions always uses response header v0, even for flexible versions.
    assert kp.decode_response_header(kp.API_API_VERSIONS, 3, _hex("00000009 00")) == (9, b"\x00")
    # Flexible responses carry a tagged-fields section after the correlation id.
    assert kp.decode_response_header(kp.API_METADATA, 12, _hex("00000009 00 ab")) == (9, b"\xab")
    assert kp.decode_response_header(kp.API_METADATA, 8, _hex("00000009 00 ab")) == (9, b"\x00\xab")


# --------------------------------------------------------------------------- responses


def test_decode_api_versions_controller_fixture():
    correlation_id, body = kp.decode_response_header(18, 0, API_VERSIONS_V0_CONTROLLER)
    assert correlation_id == 1
    result = kp.decode_api_versions_response(body)
    assert result.error_code == 0
    assert len(result.api_keys) == 42
    assert result.version_range(kp.API_DESCRIBE_QUORUM) == ApiVersionRange(55, 0, 2)
    assert result.version_range(kp.API_API_VERSIONS) == ApiVersionRange(18, 0, 4)
    assert result.version_range(kp.API_DESCRIBE_CLUSTER) == ApiVersionRange(60, 0, 1)
    assert result.version_range(kp.API_METADATA) is None  # not on a controller listener


def test_decode_api_versions_v1_throttle_and_error():
    body = Writer().int16(35).array_length(1).int16(18).int16(0).int16(2).int32(5).getvalue()
    result = kp.decode_api_versions_response(body, 1)
    assert result == ApiVersionsResult(35, (ApiVersionRange(18, 0, 2),), 5)
    with pytest.raises(ValueError, match="v0-v2"):
        kp.decode_api_versions_response(body, 3)


def test_decode_describe_quorum_fixture():
    info = decode(55, 1, DESCRIBE_QUORUM_V1_CONTROLLER)
    assert info == QuorumInfo(
        error_code=0,
        partition_error_code=0,
        topic="__cluster_metadata",
        partition=0,
        leader_id=1,
        leader_epoch=1,
        high_watermark=481,
        voters=(ReplicaState(1, 481, 1795700298481, 1795700298481),),
        observers=(ReplicaState(2, 481, 1795700298177, 1795700298177),),
    )


def test_decode_describe_quorum_not_leader():
    info = decode(55, 1, DESCRIBE_QUORUM_V1_NOT_LEADER)
    assert info.error_code == 0
    assert info.partition_error_code == kp.ERROR_NOT_LEADER_OR_FOLLOWER
    assert info.voters == ()
    assert info.observers == ()


def test_decode_describe_quorum_top_level_error_without_partitions():
    info = decode(55, 1, DESCRIBE_QUORUM_V1_TOP_LEVEL_ERROR)
    assert info.error_code == 31
    assert info.leader_id == -1
    assert info.voters == ()


def test_decode_describe_quorum_wrong_partition():
    _, body = kp.decode_response_header(55, 1, DESCRIBE_QUORUM_V1_CONTROLLER)
    with pytest.raises(DecodeError, match="no entry for __cluster_metadata-1"):
        kp.decode_describe_quorum_response(body, partition=1)


def test_decode_describe_cluster_fixtures():
    cluster = decode(60, 0, DESCRIBE_CLUSTER_V0_BROKER)
    assert cluster == kp.ClusterInfo(
        error_code=0,
        error_message=None,
        cluster_id=CLUSTER_ID,
        controller_id=2,  # KRaft: a random live broker, not the active controller (node 1)
        brokers=(
            BrokerInfo(1, "127.0.0.1", 29092, None),
            BrokerInfo(2, "127.0.0.1", 29094, "rack-b"),
        ),
    )
    after_kill = decode(60, 0, DESCRIBE_CLUSTER_V0_AFTER_KILL)
    assert after_kill.brokers == (BrokerInfo(1, "127.0.0.1", 29092, None),)


def test_decode_describe_cluster_at_controller_listener():
    cluster = decode(60, 0, DESCRIBE_CLUSTER_V0_CONTROLLER)
    assert cluster.error_code == 42
    assert kp.error_name(cluster.error_code) == "INVALID_REQUEST"
    assert cluster.error_message is not None
    assert "endpoint of type CONTROLLER" in cluster.error_message
    assert cluster.brokers == ()
    assert cluster.controller_id == -1


def test_decode_metadata_v9_online_fixture():
    metadata = decode(3, 9, METADATA_V9_ONLINE)
    assert metadata.cluster_id == CLUSTER_ID
    assert metadata.controller_id == 1
    assert [b.node_id for b in metadata.brokers] == [1, 2]
    assert metadata.brokers[1].rack == "rack-b"
    assert [t.name for t in metadata.topics] == ["probe-a", "probe-on1", "probe-on2"]
    probe_a = metadata.topics[0]
    assert probe_a.topic_id == "AAAAAAAAAAAAAAAAAAAAAA"  # no topic ids before v10
    assert [(p.partition, p.leader_id, p.replicas, p.isr) for p in probe_a.partitions] == [
        (0, 2, (2,), (2,)),
        (1, 1, (1,), (1,)),
        (2, 1, (1,), (1,)),
    ]
    assert kp.find_offline_partitions(metadata) == []


def test_decode_metadata_v12_offline_fixture():
    metadata = decode(3, 12, METADATA_V12_OFFLINE)
    assert [b.node_id for b in metadata.brokers] == [1]  # fenced brokers are not listed
    assert {t.name: t.topic_id for t in metadata.topics} == {
        "probe-a": "2lIMG9jFS-CjoJITLVWb2g",
        "probe-on1": "UrFT3D1cTSeBC8vWXB9Utg",
        "probe-on2": "sireVw7VQDqHAOK1gjROag",
    }
    dead = metadata.topics[2].partitions[0]
    assert dead == PartitionMetadata(0, 5, -1, 1, (2,), (2,), (2,))
    offline = kp.find_offline_partitions(metadata)
    assert [(o.topic, o.partition, o.leader_id, o.error_name) for o in offline] == [
        ("probe-a", 0, -1, "LEADER_NOT_AVAILABLE"),
        ("probe-on2", 0, -1, "LEADER_NOT_AVAILABLE"),
        ("probe-on2", 1, -1, "LEADER_NOT_AVAILABLE"),
    ]
    assert offline[0].replicas == (2,)


@pytest.mark.parametrize(("api_key", "version", "frame"), ALL_FIXTURES)
def test_fixtures_reject_truncation_and_trailing_bytes(api_key, version, frame):
    decode(api_key, version, frame)
    for cut in range(4, len(frame)):
        with pytest.raises(DecodeError):
            decode(api_key, version, frame[:cut])
    with pytest.raises(DecodeError, match="trailing"):
        decode(api_key, version, frame + b"\x00")


@given(st.binary(max_size=200), st.sampled_from(ALL_FIXTURES))
def test_garbage_only_raises_decode_error(data, fixture):
    api_key, version, _ = fixture
    with contextlib.suppress(DecodeError):
        decode(api_key, version, data)


# --------------------------------------------------------------------------- synthetic
# Test-side response encoders, written from the JSON schemas, for round trips.

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
INT16 = st.integers(-(2**15), 2**15 - 1)
TAGS = st.dictionaries(st.integers(0, 1000), st.binary(max_size=5), max_size=2)


def encode_replicas(writer: Writer, replicas: tuple[ReplicaState, ...], tags: dict) -> None:
    writer.compact_array_length(len(replicas))
    for r in replicas:
        writer.int32(r.replica_id).int64(r.log_end_offset)
        writer.int64(r.last_fetch_timestamp).int64(r.last_caught_up_timestamp)
        writer.tagged_fields(tags)


def encode_quorum_response(info: QuorumInfo, tags: dict) -> bytes:
    w = Writer().int16(info.error_code).compact_array_length(1).compact_string(info.topic)
    w.compact_array_length(1).int32(info.partition).int16(info.partition_error_code)
    w.int32(info.leader_id).int32(info.leader_epoch).int64(info.high_watermark)
    encode_replicas(w, info.voters, tags)
    encode_replicas(w, info.observers, tags)
    return w.tagged_fields(tags).tagged_fields(tags).tagged_fields(tags).getvalue()


replica_states = st.builds(ReplicaState, INT32, INT64, INT64, INT64)
quorum_infos = st.builds(
    QuorumInfo,
    error_code=INT16,
    partition_error_code=INT16,
    topic=st.text(min_size=1, max_size=30),
    partition=INT32,
    leader_id=INT32,
    leader_epoch=INT32,
    high_watermark=INT64,
    voters=st.lists(replica_states, max_size=5).map(tuple),
    observers=st.lists(replica_states, max_size=5).map(tuple),
)


@given(quorum_infos, TAGS)
def test_describe_quorum_roundtrip(info, tags):
    body = encode_quorum_response(info, tags)
    assert kp.decode_describe_quorum_response(body, info.topic, info.partition) == info


def encode_metadata_response(m: MetadataResult, version: int, tags: dict) -> bytes:
    w = Writer().int32(m.throttle_time_ms).compact_array_length(len(m.brokers))
    for b in m.brokers:
        w.int32(b.node_id).compact_string(b.host).int32(b.port).compact_string(b.rack)
        w.tagged_fields(tags)
    w.compact_string(m.cluster_id).int32(m.controller_id).compact_array_length(len(m.topics))
    for t in m.topics:
        w.int16(t.error_code).compact_string(t.name)
        if version >= 10:
            w.uuid(t.topic_id)
        w.boolean(t.is_internal).compact_array_length(len(t.partitions))
        for p in t.partitions:
            w.int16(p.error_code).int32(p.partition).int32(p.leader_id).int32(p.leader_epoch)
            for nodes in (p.replicas, p.isr, p.offline_replicas):
                w.compact_array_length(len(nodes))
                for node in nodes:
                    w.int32(node)
            w.tagged_fields(tags)
        w.int32(-(2**31)).tagged_fields(tags)
    if version <= 10:
        w.int32(-(2**31))
    return w.tagged_fields(tags).getvalue()


node_lists = st.lists(INT32, max_size=4).map(tuple)
partitions = st.builds(
    PartitionMetadata, INT32, INT16, INT32, INT32, node_lists, node_lists, node_lists
)
topic_ids = st.binary(min_size=16, max_size=16).map(kp.format_uuid)
topics = st.builds(
    TopicMetadata,
    name=st.one_of(st.none(), st.text(max_size=20)),
    topic_id=topic_ids,
    error_code=INT16,
    is_internal=st.booleans(),
    partitions=st.lists(partitions, max_size=4, unique_by=lambda p: p.partition).map(
        lambda ps: tuple(sorted(ps, key=lambda p: p.partition))
    ),
)
brokers = st.builds(BrokerInfo, INT32, st.text(max_size=20), INT32, st.one_of(st.none(), st.text()))
metadata_results = st.builds(
    MetadataResult,
    brokers=st.lists(brokers, max_size=4, unique_by=lambda b: b.node_id).map(
        lambda bs: tuple(sorted(bs, key=lambda b: b.node_id))
    ),
    cluster_id=st.one_of(st.none(), st.text(max_size=22)),
    controller_id=INT32,
    topics=st.lists(topics, max_size=4, unique_by=lambda t: t.name or "").map(
        lambda ts: tuple(sorted(ts, key=lambda t: t.name or ""))
    ),
    throttle_time_ms=INT32,
)


@given(metadata_results, st.integers(9, 12), TAGS)
def test_metadata_roundtrip(metadata, version, tags):
    body = encode_metadata_response(metadata, version, tags)
    decoded = kp.decode_metadata_response(body, version)
    if version < 10:  # no topic ids on the wire
        zero = kp.format_uuid(bytes(16))
        metadata = replace(
            metadata, topics=tuple(replace(t, topic_id=zero) for t in metadata.topics)
        )
    assert decoded == metadata


def test_find_offline_partitions_rules():
    def part(index: int, error: int, leader: int) -> PartitionMetadata:
        return PartitionMetadata(index, error, leader, 0, (1,), (1,), ())

    metadata = MetadataResult(
        brokers=(),
        cluster_id="c",
        controller_id=1,
        topics=(
            TopicMetadata("t", "AAAAAAAAAAAAAAAAAAAAAA", 0, False, (
                part(0, 0, 1),  # fine
                part(1, 0, -1),  # no leader without an error code
                part(2, 72, 1),  # leader has no endpoint on this listener
                part(3, 9, 1),  # REPLICA_NOT_AVAILABLE: degraded but usable
            )),
            TopicMetadata("bad", "AAAAAAAAAAAAAAAAAAAAAA", 29, False, ()),
        ),
    )  # fmt: skip
    offline = kp.find_offline_partitions(metadata)
    assert [(o.topic, o.partition, o.error_name) for o in offline] == [
        ("t", 1, "NONE"),
        ("t", 2, "LISTENER_NOT_FOUND"),
        ("bad", -1, "TOPIC_AUTHORIZATION_FAILED"),
    ]


def test_error_names():
    assert kp.error_name(5) == "LEADER_NOT_AVAILABLE"
    assert kp.error_name(12345) == "ERROR_12345"


# --------------------------------------------------------------------------- verdict

NOW = 1_700_000_000_000


def quorum(
    voters: list[tuple[int, int]] | None = None,
    leader: int = 1,
    hw: int = 100,
    caught_up: dict[int, int] | None = None,
    **changes: Any,
) -> QuorumInfo:
    voters = [(1, 100), (2, 100), (3, 98)] if voters is None else voters
    caught_up = caught_up or {}
    states = tuple(ReplicaState(v, leo, NOW, caught_up.get(v, NOW)) for v, leo in voters)
    info = QuorumInfo(0, 0, "__cluster_metadata", 0, leader, 7, hw, states, ())
    return replace(info, **changes)


def test_verdict_healthy():
    verdict = kp.evaluate_quorum(quorum(), [3, 2, 1], max_lag=2)
    assert verdict.healthy
    assert verdict.problems == ()
    assert verdict.leader_id == 1
    assert verdict.voter_ids == (1, 2, 3)
    assert verdict.voter_lag == {1: 0, 2: 0, 3: 2}


def test_verdict_lag_threshold_is_inclusive():
    assert not kp.evaluate_quorum(quorum(), [1, 2, 3], max_lag=1).healthy
    verdict = kp.evaluate_quorum(quorum(), [1, 2, 3], max_lag=1)
    assert verdict.lagging_voters == (3,)
    assert verdict.problems == ("voter 3 lags by 2 (> 1)",)


def test_verdict_leader_ahead_of_high_watermark_has_no_lag():
    verdict = kp.evaluate_quorum(quorum(voters=[(1, 120), (2, 100)], hw=100), [1, 2], 0)
    assert verdict.healthy
    assert verdict.voter_lag == {1: 0, 2: 0}


def test_verdict_missing_and_unexpected_voters():
    verdict = kp.evaluate_quorum(quorum(voters=[(1, 100), (4, 100)]), [1, 2, 3], 10)
    assert not verdict.healthy
    assert verdict.missing_voters == (2, 3)
    assert verdict.unexpected_voters == (4,)
    assert "expected voters missing: [2, 3]" in verdict.problems
    assert "unexpected voters: [4]" in verdict.problems


def test_verdict_no_leader():
    verdict = kp.evaluate_quorum(quorum(leader=-1), [1, 2, 3], 10)
    assert not verdict.healthy
    assert verdict.problems == ("no leader elected (epoch 7)",)


def test_verdict_leader_not_a_voter():
    verdict = kp.evaluate_quorum(quorum(leader=9), [1, 2, 3], 10)
    assert verdict.problems == ("leader 9 is not a voter",)


def test_verdict_unknown_offsets():
    verdict = kp.evaluate_quorum(quorum(voters=[(1, 100), (2, -1), (3, 100)]), [1, 2, 3], 10)
    assert verdict.lagging_voters == (2,)
    assert verdict.problems == ("voter 2 log end offset unknown",)
    verdict = kp.evaluate_quorum(quorum(hw=-1), [1, 2, 3], 10)
    assert not verdict.healthy
    assert "high watermark unknown" in verdict.problems
    assert verdict.lagging_voters == (1, 2, 3)


def test_verdict_error_codes_short_circuit():
    # What a follower controller answers: partition error, all other fields zero.
    not_leader = decode(55, 1, DESCRIBE_QUORUM_V1_NOT_LEADER)
    verdict = kp.evaluate_quorum(not_leader, [1], 10)
    assert not verdict.healthy
    assert verdict.leader_id == -1  # the zero in the response is not a leader id
    assert verdict.problems == ("__cluster_metadata-0 error NOT_LEADER_OR_FOLLOWER",)
    verdict = kp.evaluate_quorum(quorum(error_code=31), [1, 2, 3], 10)
    assert verdict.problems == ("DescribeQuorum error CLUSTER_AUTHORIZATION_FAILED",)


def test_verdict_caught_up_age():
    info = quorum(caught_up={2: NOW - 500, 3: NOW - 20_000})
    assert kp.evaluate_quorum(info, [1, 2, 3], 10).healthy  # age not checked by default
    verdict = kp.evaluate_quorum(info, [1, 2, 3], 10, max_caught_up_age_ms=1000)
    assert verdict.lagging_voters == (3,)
    assert verdict.problems == ("voter 3 last caught up 20000 ms ago (> 1000)",)
    verdict = kp.evaluate_quorum(quorum(caught_up={2: -1}), [1, 2, 3], 10, 1000)
    assert verdict.problems == ("voter 2 last caught-up time unknown",)


def test_verdict_on_live_fixture():
    info = decode(55, 1, DESCRIBE_QUORUM_V1_CONTROLLER)
    assert kp.evaluate_quorum(info, [1], max_lag=0, max_caught_up_age_ms=0).healthy
    assert kp.evaluate_quorum(info, [1, 2], max_lag=0).missing_voters == (2,)  # 2 observes


def test_verdict_serializes_to_json():
    verdict = kp.evaluate_quorum(quorum(), [1, 2, 3], 10)
    assert json.loads(json.dumps(kp.asdict(verdict)))["voter_lag"] == {"1": 0, "2": 0, "3": 2}


# --------------------------------------------------------------------------- socket I/O


def api_versions_frame(ranges: dict[int, tuple[int, int]]) -> bytes:
    w = Writer().int32(0).int16(0).array_length(len(ranges))
    for key, (low, high) in sorted(ranges.items()):
        w.int16(key).int16(low).int16(high)
    return w.getvalue()


BROKER_API_VERSIONS = api_versions_frame({3: (0, 12), 18: (0, 4), 55: (0, 2), 60: (0, 1)})


class FakeKafka:
    """A local TCP server answering each request with a canned frame for its API key.

    The correlation id of each canned frame is replaced by the request's.  ``chunk``
    sends responses in pieces of that many bytes (to exercise short reads); ``mode``
    injects faults: "silent", "close" (half a response, then close), "bad-correlation",
    "huge-size".
    """

    def __init__(self, frames: dict[int, bytes], chunk: int = 0, mode: str = "") -> None:
        self.frames = frames
        self.chunk = chunk
        self.mode = mode
        self.requests: list[tuple[int, int, int]] = []
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(0.05)  # closing it does not wake accept(): poll self.stop
        self.port: int = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self) -> FakeKafka:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.server.close()

    @staticmethod
    def recv_exactly(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:  # tests run on 3.11, where socket.timeout is this
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError):  # includes ConnectionError
                self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        while True:
            size = struct.unpack(">i", self.recv_exactly(conn, 4))[0]
            request = self.recv_exactly(conn, size)
            key, version, correlation_id = struct.unpack(">hhi", request[:8])
            self.requests.append((key, version, correlation_id))
            if self.mode == "silent":
                self.stop.wait(5)
                return
            frame = self.frames[key]
            if self.mode == "bad-correlation":
                correlation_id += 1
            frame = struct.pack(">i", correlation_id) + frame[4:]
            data = struct.pack(">i", len(frame)) + frame
            if self.mode == "huge-size":
                data = struct.pack(">i", 0x7FFFFFFF) + frame
            if self.mode == "close":
                conn.sendall(data[: len(data) // 2])
                return
            step = self.chunk or len(data)
            for start in range(0, len(data), step):
                conn.sendall(data[start : start + step])
                if self.chunk:
                    time.sleep(0.0005)


def test_probe_negotiates_then_describes_quorum_with_short_reads():
    frames = {18: API_VERSIONS_V0_CONTROLLER, 55: DESCRIBE_QUORUM_V1_CONTROLLER}
    with FakeKafka(frames, chunk=1) as fake, KafkaProbe("127.0.0.1", fake.port, 5.0) as probe:
        info = probe.describe_quorum()
        again = probe.describe_quorum()
    assert info == again == decode(55, 1, DESCRIBE_QUORUM_V1_CONTROLLER)
    # ApiVersions first, once; then DescribeQuorum v1; increasing correlation ids.
    assert fake.requests == [(18, 0, 1), (55, 1, 2), (55, 1, 3)]


def test_probe_cluster_and_metadata_on_broker():
    frames = {
        18: BROKER_API_VERSIONS,
        60: DESCRIBE_CLUSTER_V0_BROKER,
        3: METADATA_V12_OFFLINE,
    }
    with FakeKafka(frames, chunk=7) as fake, KafkaProbe("127.0.0.1", fake.port) as probe:
        cluster = probe.describe_cluster()
        offline = probe.offline_partitions()
    assert cluster.cluster_id == CLUSTER_ID
    assert len(offline) == 3
    assert [r[:2] for r in fake.requests] == [(18, 0), (60, 0), (3, 12)]


def test_probe_picks_highest_common_metadata_version():
    frames = {18: api_versions_frame({3: (0, 9), 18: (0, 3)}), 3: METADATA_V9_ONLINE}
    with FakeKafka(frames) as fake, KafkaProbe("127.0.0.1", fake.port) as probe:
        assert len(probe.metadata().topics) == 3
    assert fake.requests[-1][:2] == (3, 9)


def test_choose_version():
    versions = ApiVersionsResult(0, (ApiVersionRange(3, 0, 13), ApiVersionRange(55, 0, 0)))
    assert kp.choose_version(versions, 3, 9, 12) == 12
    assert kp.choose_version(versions, 55, 1, 1) is None
    assert kp.choose_version(versions, 60, 0, 0) is None
    assert kp.choose_version(ApiVersionsResult(0, (ApiVersionRange(3, 10, 11),)), 3, 9, 12) == 11


@pytest.mark.parametrize(
    ("frames", "call", "message"),
    [
        (
            {18: API_VERSIONS_V0_CONTROLLER},
            KafkaProbe.metadata,
            "does not serve Metadata (key 3) on this listener; this probe needs v9-v12",
        ),
        (
            {18: api_versions_frame({18: (0, 4), 55: (0, 0)})},
            KafkaProbe.describe_quorum,
            "supports DescribeQuorum v0-v0 only; this probe needs v1",
        ),
        (
            {18: api_versions_frame({18: (0, 4), 3: (0, 8)})},
            KafkaProbe.metadata,
            "supports Metadata v0-v8 only; this probe needs v9-v12",
        ),
        (
            {18: Writer().int32(0).int16(35).array_length(0).getvalue()},
            KafkaProbe.describe_cluster,
            "ApiVersions v0 failed with UNSUPPORTED_VERSION",
        ),
    ],
)
def test_probe_negotiation_failures(frames, call, message):
    with FakeKafka(frames) as fake, KafkaProbe("127.0.0.1", fake.port) as probe:
        with pytest.raises(ProbeError) as info:
            call(probe)
        assert str(info.value) == f"127.0.0.1:{fake.port}: {message}"
        assert [r[0] for r in fake.requests] == [18]  # nothing sent after ApiVersions


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("silent", "timed out after 0.3s waiting for the ApiVersions v0 response"),
        ("close", "connection closed by peer after"),
        ("bad-correlation", "correlation id mismatch in ApiVersions v0 response: sent 1, got 2"),
        ("huge-size", "implausible response size 2147483647"),
    ],
)
def test_connection_faults(mode, message):
    with FakeKafka({18: BROKER_API_VERSIONS}, mode=mode) as fake:
        start = time.monotonic()
        with pytest.raises(ProbeError) as info, KafkaProbe("127.0.0.1", fake.port, 0.3) as probe:
            probe.api_versions()
        assert time.monotonic() - start < 2
    assert str(info.value).startswith(f"127.0.0.1:{fake.port}: ")
    assert message in str(info.value)


def test_connection_refused_names_the_address():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(ProbeError, match=rf"^127\.0\.0\.1:{port}: connect failed"):
        KafkaProbe("127.0.0.1", port, 1.0).describe_cluster()


def test_malformed_response_is_reported_with_address():
    frames = {18: BROKER_API_VERSIONS, 60: DESCRIBE_CLUSTER_V0_BROKER[:-3]}
    with (
        FakeKafka(frames) as fake,
        KafkaProbe("127.0.0.1", fake.port) as probe,
        pytest.raises(ProbeError, match=r"malformed DescribeCluster v0 response: truncated"),
    ):
        probe.describe_cluster()


def test_connection_reconnects_after_failure():
    frames = {18: BROKER_API_VERSIONS, 60: DESCRIBE_CLUSTER_V0_BROKER}
    with FakeKafka(frames) as fake, KafkaConnection("127.0.0.1", fake.port, 1.0) as conn:
        conn.call(18, 0, b"")
        conn.close()
        body = conn.call(60, 0, kp.describe_cluster_request_body())
    assert kp.decode_describe_cluster_response(body).cluster_id == CLUSTER_ID


class StubProbe:
    def __init__(self, address: str, outcome: QuorumInfo | Exception) -> None:
        self.address = address
        self.outcome = outcome

    def __enter__(self) -> StubProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def describe_quorum(self) -> QuorumInfo:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def test_describe_quorum_from_any():
    good = decode(55, 1, DESCRIBE_QUORUM_V1_CONTROLLER)
    outcomes: dict[str, QuorumInfo | Exception] = {
        "c1:9093": ProbeError("c1:9093: connect failed"),
        "c2:9093": decode(55, 1, DESCRIBE_QUORUM_V1_NOT_LEADER),
        "c3:9093": good,
    }
    seen: list[str] = []

    def factory(address: str, timeout: float) -> Any:
        seen.append(address)
        return StubProbe(address, outcomes[address])

    assert kp.describe_quorum_from_any(list(outcomes), 1.0, factory) == good
    assert seen == ["c1:9093", "c2:9093", "c3:9093"]
    with pytest.raises(ProbeError) as info:
        kp.describe_quorum_from_any(["c1:9093", "c2:9093"], 1.0, factory)
    assert str(info.value) == (
        "no node answered DescribeQuorum: c1:9093: connect failed; "
        "c2:9093: DescribeQuorum answered NONE/NOT_LEADER_OR_FOLLOWER"
    )


# --------------------------------------------------------------------------- CLI


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = kp.main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_cli_quorum(capsys):
    frames = {18: API_VERSIONS_V0_CONTROLLER, 55: DESCRIBE_QUORUM_V1_CONTROLLER}
    with FakeKafka(frames) as fake:
        address = f"127.0.0.1:{fake.port}"
        status, out = run_cli(capsys, "--bootstrap", address, "quorum")
        assert status == 0
        assert out["verdict"]["healthy"] is True
        assert out["quorum"]["high_watermark"] == 481
        status, out = run_cli(capsys, "--bootstrap", address, "quorum", "--expected-voters", "1,2")
        assert status == 1
        assert out["verdict"]["missing_voters"] == [2]


def test_cli_status_and_errors(capsys):
    frames = {18: BROKER_API_VERSIONS, 60: DESCRIBE_CLUSTER_V0_BROKER, 3: METADATA_V12_OFFLINE}
    with FakeKafka(frames) as fake:
        status, out = run_cli(capsys, "--bootstrap", f"127.0.0.1:{fake.port}", "status")
    assert status == 1
    assert out["cluster"]["cluster_id"] == CLUSTER_ID
    assert len(out["offline_partitions"]) == 3
    status, out = run_cli(capsys, "--bootstrap", "nonsense", "status")
    assert status == 2
    assert "bad address" in out["error"]
