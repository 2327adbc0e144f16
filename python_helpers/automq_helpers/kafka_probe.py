"""Minimal, dependency-free Kafka wire-protocol client for health probes.

Runs on the cluster hosts as the helper of an Ansible module, so it uses only the
Python standard library and must keep working on Python 3.8 (hence ``typing``
generics and no 3.9+ APIs).

Four read-only requests are implemented, with the schemas of Kafka 3.9's
``clients/src/main/resources/common/message/*.json``:

* ``ApiVersions`` (key 18) v0: is the node serving requests, and which versions?
* ``DescribeQuorum`` (key 55) v1: the KRaft quorum of ``__cluster_metadata``-0.
* ``DescribeCluster`` (key 60) v0: cluster id and unfenced brokers.  (Its controller
  id is a random live broker in KRaft; DescribeQuorum's leader id is the controller.)
* ``Metadata`` (key 3) v9-v12: all topics and partitions, to find offline ones.

Secured listeners (``SecurityConfig``): TLS 1.2+ with the server's certificate
verified against a CA file and its host name checked, optionally with a client
certificate (mTLS); and SASL over PLAINTEXT or TLS with ``SaslHandshake`` (key 17)
v1 and ``SaslAuthenticate`` (key 36) v0-v2, for SCRAM-SHA-512/256 (RFC 5802,
RFC 7677; the server's signature is verified) or PLAIN.

The module has two layers.  The pure one (``Reader``/``Writer``, ``encode_*``,
``decode_*``, ``evaluate_quorum``, ``find_offline_partitions``, ``ScramClient``,
``describe_tls_failure``) never touches a socket.  ``KafkaConnection`` does the
blocking socket I/O (with the TLS handshake and SASL authentication when it
connects) and ``KafkaProbe`` negotiates versions with ``ApiVersions`` before
sending anything else.

Every failure is raised as ``ProbeError``; errors raised while talking to a node
carry ``host:port`` in their message.
"""

# The hosts may only have Python 3.8, although ruff targets 3.11: keep typing.List & co.
# (UP006/UP035/UP045), and catch socket.timeout, which only became TimeoutError in 3.10.
# ruff: noqa: UP006, UP035, UP041, UP045

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import ssl
import struct
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

_T = TypeVar("_T")
_Probe = TypeVar("_Probe", bound="KafkaProbe")

# --------------------------------------------------------------------------- constants

API_METADATA = 3
API_SASL_HANDSHAKE = 17
API_API_VERSIONS = 18
API_DESCRIBE_ACLS = 29
API_CREATE_ACLS = 30
API_DELETE_ACLS = 31
API_DESCRIBE_CONFIGS = 32
API_SASL_AUTHENTICATE = 36
API_INCREMENTAL_ALTER_CONFIGS = 44
API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50
API_ALTER_USER_SCRAM_CREDENTIALS = 51
API_DESCRIBE_QUORUM = 55
API_DESCRIBE_CLUSTER = 60

API_NAMES: Dict[int, str] = {
    API_METADATA: "Metadata",
    API_SASL_HANDSHAKE: "SaslHandshake",
    API_API_VERSIONS: "ApiVersions",
    API_DESCRIBE_ACLS: "DescribeAcls",
    API_CREATE_ACLS: "CreateAcls",
    API_DELETE_ACLS: "DeleteAcls",
    API_DESCRIBE_CONFIGS: "DescribeConfigs",
    API_SASL_AUTHENTICATE: "SaslAuthenticate",
    API_INCREMENTAL_ALTER_CONFIGS: "IncrementalAlterConfigs",
    API_DESCRIBE_USER_SCRAM_CREDENTIALS: "DescribeUserScramCredentials",
    API_ALTER_USER_SCRAM_CREDENTIALS: "AlterUserScramCredentials",
    API_DESCRIBE_QUORUM: "DescribeQuorum",
    API_DESCRIBE_CLUSTER: "DescribeCluster",
}

# First flexible (KIP-482) version of each request/response we speak (kafka_admin's too).
_FIRST_FLEXIBLE_VERSION: Dict[int, int] = {
    API_METADATA: 9,
    API_SASL_HANDSHAKE: 0x7FFF,  # "flexibleVersions": "none"
    API_API_VERSIONS: 3,
    API_DESCRIBE_ACLS: 2,
    API_CREATE_ACLS: 2,
    API_DELETE_ACLS: 2,
    API_DESCRIBE_CONFIGS: 4,
    API_SASL_AUTHENTICATE: 2,
    API_INCREMENTAL_ALTER_CONFIGS: 1,
    API_DESCRIBE_USER_SCRAM_CREDENTIALS: 0,
    API_ALTER_USER_SCRAM_CREDENTIALS: 0,
    API_DESCRIBE_QUORUM: 0,
    API_DESCRIBE_CLUSTER: 0,
}

API_VERSIONS_VERSION = 0
DESCRIBE_QUORUM_VERSION = 1
DESCRIBE_CLUSTER_VERSION = 0
METADATA_MIN_VERSION = 9
METADATA_MAX_VERSION = 12
# v1 puts the SASL tokens into SaslAuthenticate requests (v0 sends them raw).
SASL_HANDSHAKE_VERSION = 1
SASL_AUTHENTICATE_MIN_VERSION = 0
SASL_AUTHENTICATE_MAX_VERSION = 2

METADATA_TOPIC = "__cluster_metadata"
DEFAULT_CLIENT_ID = "automq-probe"
DEFAULT_TIMEOUT = 5.0
# Refuse absurd frame sizes: a non-Kafka peer (TLS, HTTP) yields garbage lengths.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

ERROR_NONE = 0
ERROR_LEADER_NOT_AVAILABLE = 5
ERROR_NOT_LEADER_OR_FOLLOWER = 6
ERROR_UNSUPPORTED_SASL_MECHANISM = 33
ERROR_ILLEGAL_SASL_STATE = 34
ERROR_UNSUPPORTED_VERSION = 35
ERROR_SASL_AUTHENTICATION_FAILED = 58
ERROR_LISTENER_NOT_FOUND = 72

ERROR_NAMES: Dict[int, str] = {
    -1: "UNKNOWN_SERVER_ERROR",
    0: "NONE",
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    5: "LEADER_NOT_AVAILABLE",
    6: "NOT_LEADER_OR_FOLLOWER",
    7: "REQUEST_TIMED_OUT",
    8: "BROKER_NOT_AVAILABLE",
    9: "REPLICA_NOT_AVAILABLE",
    29: "TOPIC_AUTHORIZATION_FAILED",
    30: "GROUP_AUTHORIZATION_FAILED",
    31: "CLUSTER_AUTHORIZATION_FAILED",
    33: "UNSUPPORTED_SASL_MECHANISM",
    34: "ILLEGAL_SASL_STATE",
    35: "UNSUPPORTED_VERSION",
    41: "NOT_CONTROLLER",
    42: "INVALID_REQUEST",
    44: "POLICY_VIOLATION",
    54: "SECURITY_DISABLED",
    56: "KAFKA_STORAGE_ERROR",
    58: "SASL_AUTHENTICATION_FAILED",
    72: "LISTENER_NOT_FOUND",
    91: "RESOURCE_NOT_FOUND",
    92: "DUPLICATE_RESOURCE",
    93: "UNACCEPTABLE_CREDENTIAL",
    114: "MISMATCHED_ENDPOINT_TYPE",
    115: "UNSUPPORTED_ENDPOINT_TYPE",
}

# Partition error codes that mean "no client can use this partition right now".
OFFLINE_ERROR_CODES = frozenset({ERROR_LEADER_NOT_AVAILABLE, ERROR_LISTENER_NOT_FOUND})

_INT8 = struct.Struct(">b")
_INT16 = struct.Struct(">h")
_UINT16 = struct.Struct(">H")
_INT32 = struct.Struct(">i")
_INT64 = struct.Struct(">q")


def error_name(code: int) -> str:
    """Kafka's name for an error code, or ``ERROR_<code>`` for ones not listed here."""
    return ERROR_NAMES.get(code, f"ERROR_{code}")


def api_name(api_key: int) -> str:
    return API_NAMES.get(api_key, f"ApiKey{api_key}")


def format_address(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def parse_address(value: str) -> Tuple[str, int]:
    """Parse ``host:port`` or ``[v6]:port``."""
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bad address {value!r}: expected [host]:port")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"bad address {value!r}: expected host:port")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad address {value!r}: expected host:port")
    return host, int(port_text)


class ProbeError(Exception):
    """Any failure to get a usable answer from a Kafka node."""


class DecodeError(ProbeError):
    """Bytes that do not match the expected schema."""


class SaslAuthenticationFailed(ProbeError):
    """The broker refused the SASL credentials (SASL_AUTHENTICATION_FAILED): a wrong
    password or an unknown user, as opposed to a listener that cannot be reached."""


# --------------------------------------------------------------------------- primitives


def encode_unsigned_varint(value: int) -> bytes:
    """Kafka's unsigned varint: 7 bits per byte, least significant group first."""
    if value < 0 or value > 0xFFFFFFFF:
        raise ValueError(f"unsigned varint out of range: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_uuid(value: str) -> bytes:
    """Kafka's textual Uuid (URL-safe base64 without padding) to its 16 bytes."""
    raw = base64.urlsafe_b64decode(value + "==")
    if len(raw) != 16:
        raise ValueError(f"not a Kafka Uuid: {value!r}")
    return raw


def format_uuid(raw: bytes) -> str:
    """16 bytes to Kafka's textual Uuid form (as printed by kafka-topics.sh)."""
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


class Writer:
    """Accumulates the big-endian wire encoding of Kafka primitive types."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def raw(self, data: bytes) -> Writer:
        self._buf += data
        return self

    def int8(self, value: int) -> Writer:
        self._buf += _INT8.pack(value)
        return self

    def boolean(self, value: bool) -> Writer:
        self._buf.append(1 if value else 0)
        return self

    def int16(self, value: int) -> Writer:
        self._buf += _INT16.pack(value)
        return self

    def uint16(self, value: int) -> Writer:
        self._buf += _UINT16.pack(value)
        return self

    def int32(self, value: int) -> Writer:
        self._buf += _INT32.pack(value)
        return self

    def int64(self, value: int) -> Writer:
        self._buf += _INT64.pack(value)
        return self

    def uuid(self, value: str) -> Writer:
        self._buf += encode_uuid(value)
        return self

    def unsigned_varint(self, value: int) -> Writer:
        self._buf += encode_unsigned_varint(value)
        return self

    def string(self, value: Optional[str]) -> Writer:
        """Classic (nullable) string: int16 length, -1 for null."""
        if value is None:
            return self.int16(-1)
        data = value.encode("utf-8")
        return self.int16(len(data)).raw(data)

    def compact_string(self, value: Optional[str]) -> Writer:
        """Compact (nullable) string: unsigned varint length+1, 0 for null."""
        if value is None:
            return self.unsigned_varint(0)
        data = value.encode("utf-8")
        return self.unsigned_varint(len(data) + 1).raw(data)

    def sized_bytes(self, data: bytes) -> Writer:
        """Classic (non-null) bytes: int32 length, then the bytes."""
        return self.int32(len(data)).raw(data)

    def compact_bytes(self, data: bytes) -> Writer:
        """Compact (non-null) bytes: unsigned varint length+1, then the bytes."""
        return self.unsigned_varint(len(data) + 1).raw(data)

    def array_length(self, length: Optional[int]) -> Writer:
        """Classic array length: int32, -1 for null."""
        return self.int32(-1 if length is None else length)

    def compact_array_length(self, length: Optional[int]) -> Writer:
        """Compact array length: unsigned varint length+1, 0 for null."""
        return self.unsigned_varint(0 if length is None else length + 1)

    def tagged_fields(self, fields: Optional[Mapping[int, bytes]] = None) -> Writer:
        """A tagged-fields section: count, then (tag, size, bytes) in ascending tag order."""
        items = sorted((fields or {}).items())
        self.unsigned_varint(len(items))
        for tag, data in items:
            self.unsigned_varint(tag).unsigned_varint(len(data)).raw(data)
        return self


class Reader:
    """Decodes Kafka primitive types from a byte string, with bounds checks."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self._data = data
        self._pos = offset

    @property
    def offset(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def expect_end(self, what: str) -> None:
        if self._pos != len(self._data):
            raise DecodeError(
                f"{what}: {self.remaining()} unexpected trailing bytes at offset {self._pos}"
            )

    def take(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise DecodeError(
                f"truncated data: need {size} bytes at offset {self._pos}, {self.remaining()} left"
            )
        chunk = self._data[self._pos : self._pos + size]
        self._pos += size
        return chunk

    def _unpack(self, fmt: struct.Struct) -> int:
        value: int = fmt.unpack(self.take(fmt.size))[0]
        return value

    def int8(self) -> int:
        return self._unpack(_INT8)

    def boolean(self) -> bool:
        return self.take(1) != b"\x00"

    def int16(self) -> int:
        return self._unpack(_INT16)

    def uint16(self) -> int:
        return self._unpack(_UINT16)

    def int32(self) -> int:
        return self._unpack(_INT32)

    def int64(self) -> int:
        return self._unpack(_INT64)

    def uuid(self) -> str:
        return format_uuid(self.take(16))

    def unsigned_varint(self) -> int:
        value = 0
        for shift in range(0, 35, 7):
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > 0xFFFFFFFF:
                    break
                return value
        raise DecodeError(f"unsigned varint longer than 32 bits at offset {self._pos}")

    def _text(self, size: int) -> str:
        try:
            return self.take(size).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8 string: {exc}") from exc

    def nullable_string(self) -> Optional[str]:
        size = self.int16()
        if size < -1:
            raise DecodeError(f"negative string length {size}")
        return None if size == -1 else self._text(size)

    def string(self) -> str:
        value = self.nullable_string()
        if value is None:
            raise DecodeError("null in a non-nullable string field")
        return value

    def compact_nullable_string(self) -> Optional[str]:
        size = self.unsigned_varint()
        return None if size == 0 else self._text(size - 1)

    def compact_string(self) -> str:
        value = self.compact_nullable_string()
        if value is None:
            raise DecodeError("null in a non-nullable compact string field")
        return value

    def sized_bytes(self) -> bytes:
        """Classic (non-null) bytes: int32 length, then the bytes."""
        size = self.int32()
        if size < 0:
            raise DecodeError(f"null or negative length {size} in a non-nullable bytes field")
        return self.take(size)

    def compact_bytes(self) -> bytes:
        """Compact (non-null) bytes: unsigned varint length+1, then the bytes."""
        size = self.unsigned_varint()
        if size == 0:
            raise DecodeError("null in a non-nullable compact bytes field")
        return self.take(size - 1)

    def array_length(self) -> int:
        """Classic array length; null (-1) is returned as -1."""
        size = self.int32()
        if size < -1:
            raise DecodeError(f"negative array length {size}")
        self._check_plausible(size)
        return size

    def compact_array_length(self) -> int:
        """Compact array length; null is returned as -1."""
        size = self.unsigned_varint() - 1
        self._check_plausible(size)
        return size

    def _check_plausible(self, size: int) -> None:
        # Every element takes at least one byte: catches garbage before allocating.
        if size > self.remaining():
            raise DecodeError(
                f"array of {size} elements cannot fit in {self.remaining()} remaining bytes"
            )

    def tagged_fields(self) -> Dict[int, bytes]:
        """Read a tagged-fields section; unknown tags are kept raw."""
        fields: Dict[int, bytes] = {}
        for _field in range(self.unsigned_varint()):
            tag = self.unsigned_varint()
            fields[tag] = self.take(self.unsigned_varint())
        return fields

    def int32_array(self, compact: bool) -> Tuple[int, ...]:
        size = self.compact_array_length() if compact else self.array_length()
        return tuple(self.int32() for _item in range(max(size, 0)))


# --------------------------------------------------------------------------- framing


def is_flexible(api_key: int, api_version: int) -> bool:
    first = _FIRST_FLEXIBLE_VERSION.get(api_key)
    if first is None:
        raise ValueError(f"unknown API key {api_key}")
    return api_version >= first


def encode_request(
    api_key: int, api_version: int, correlation_id: int, client_id: Optional[str], body: bytes
) -> bytes:
    """Size-prefixed request: header v1 (non-flexible) or v2 (flexible), then the body.

    The header's ClientId keeps the classic int16-length string even in v2.
    """
    header = Writer().int16(api_key).int16(api_version).int32(correlation_id).string(client_id)
    if is_flexible(api_key, api_version):
        header.tagged_fields()
    payload = header.raw(body).getvalue()
    return _INT32.pack(len(payload)) + payload


def decode_response_header(api_key: int, api_version: int, frame: bytes) -> Tuple[int, bytes]:
    """Split a response frame (without its size prefix) into (correlation id, body).

    Response header v1 (with tagged fields) follows flexible versions, except for
    ApiVersions whose response header is always v0.
    """
    reader = Reader(frame)
    correlation_id = reader.int32()
    if api_key != API_API_VERSIONS and is_flexible(api_key, api_version):
        reader.tagged_fields()
    return correlation_id, frame[reader.offset :]


# --------------------------------------------------------------------------- ApiVersions


@dataclass(frozen=True)
class ApiVersionRange:
    api_key: int
    min_version: int
    max_version: int


@dataclass(frozen=True)
class ApiVersionsResult:
    error_code: int
    api_keys: Tuple[ApiVersionRange, ...]
    throttle_time_ms: int = 0

    def version_range(self, api_key: int) -> Optional[ApiVersionRange]:
        for entry in self.api_keys:
            if entry.api_key == api_key:
                return entry
        return None


def choose_version(
    api_versions: ApiVersionsResult, api_key: int, client_min: int, client_max: int
) -> Optional[int]:
    """Highest version both sides support, or None."""
    server = api_versions.version_range(api_key)
    if server is None:
        return None
    best = min(server.max_version, client_max)
    if best < max(server.min_version, client_min):
        return None
    return best


def encode_api_versions_request(
    correlation_id: int, client_id: Optional[str] = DEFAULT_CLIENT_ID
) -> bytes:
    """ApiVersions v0: empty body."""
    return encode_request(API_API_VERSIONS, API_VERSIONS_VERSION, correlation_id, client_id, b"")


def decode_api_versions_response(
    body: bytes, version: int = API_VERSIONS_VERSION
) -> ApiVersionsResult:
    """ApiVersions response body, versions 0-2 (non-flexible)."""
    if not 0 <= version <= 2:
        raise ValueError(f"only ApiVersions v0-v2 are implemented, not v{version}")
    reader = Reader(body)
    error_code = reader.int16()
    ranges = []
    for _api in range(max(reader.array_length(), 0)):
        ranges.append(ApiVersionRange(reader.int16(), reader.int16(), reader.int16()))
    throttle = reader.int32() if version >= 1 else 0
    reader.expect_end(f"ApiVersions v{version} response")
    return ApiVersionsResult(error_code, tuple(ranges), throttle)


# --------------------------------------------------------------------------- DescribeQuorum


@dataclass(frozen=True)
class ReplicaState:
    replica_id: int
    log_end_offset: int
    last_fetch_timestamp: int = -1
    last_caught_up_timestamp: int = -1


@dataclass(frozen=True)
class QuorumInfo:
    """One partition of a DescribeQuorum response.

    ``error_code`` is the top-level code, ``partition_error_code`` the partition's;
    a controller that is not the quorum leader answers NOT_LEADER_OR_FOLLOWER (6)
    in the latter, with no usable leader or voter information.
    """

    error_code: int
    partition_error_code: int
    topic: str
    partition: int
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voters: Tuple[ReplicaState, ...]
    observers: Tuple[ReplicaState, ...]


def describe_quorum_request_body(topic: str = METADATA_TOPIC, partition: int = 0) -> bytes:
    """DescribeQuorum v1 (flexible): Topics[TopicName, Partitions[PartitionIndex]]."""
    return (
        Writer()
        .compact_array_length(1)
        .compact_string(topic)
        .compact_array_length(1)
        .int32(partition)
        .tagged_fields()  # PartitionData
        .tagged_fields()  # TopicData
        .tagged_fields()  # request
        .getvalue()
    )


def encode_describe_quorum_request(
    correlation_id: int,
    client_id: Optional[str] = DEFAULT_CLIENT_ID,
    topic: str = METADATA_TOPIC,
    partition: int = 0,
) -> bytes:
    body = describe_quorum_request_body(topic, partition)
    return encode_request(
        API_DESCRIBE_QUORUM, DESCRIBE_QUORUM_VERSION, correlation_id, client_id, body
    )


def _read_replica_states(reader: Reader) -> Tuple[ReplicaState, ...]:
    states = []
    for _replica in range(max(reader.compact_array_length(), 0)):
        replica_id = reader.int32()
        log_end_offset = reader.int64()
        last_fetch = reader.int64()
        last_caught_up = reader.int64()
        reader.tagged_fields()
        states.append(ReplicaState(replica_id, log_end_offset, last_fetch, last_caught_up))
    return tuple(states)


def decode_describe_quorum_response(
    body: bytes, topic: str = METADATA_TOPIC, partition: int = 0
) -> QuorumInfo:
    """DescribeQuorum v1 response body, reduced to the requested partition.

    If the response has a top-level error and no such partition, a QuorumInfo with
    leader -1 and no replicas is returned; if it has neither, DecodeError is raised.
    """
    reader = Reader(body)
    error_code = reader.int16()
    found: Optional[QuorumInfo] = None
    for _topic in range(max(reader.compact_array_length(), 0)):
        topic_name = reader.compact_string()
        for _partition in range(max(reader.compact_array_length(), 0)):
            partition_index = reader.int32()
            partition_error = reader.int16()
            leader_id = reader.int32()
            leader_epoch = reader.int32()
            high_watermark = reader.int64()
            voters = _read_replica_states(reader)
            observers = _read_replica_states(reader)
            reader.tagged_fields()
            info = QuorumInfo(
                error_code=error_code,
                partition_error_code=partition_error,
                topic=topic_name,
                partition=partition_index,
                leader_id=leader_id,
                leader_epoch=leader_epoch,
                high_watermark=high_watermark,
                voters=voters,
                observers=observers,
            )
            if topic_name == topic and info.partition == partition and found is None:
                found = info
        reader.tagged_fields()
    reader.tagged_fields()
    reader.expect_end("DescribeQuorum v1 response")
    if found is not None:
        return found
    if error_code != ERROR_NONE:
        return QuorumInfo(error_code, error_code, topic, partition, -1, -1, -1, (), ())
    raise DecodeError(f"DescribeQuorum response has no entry for {topic}-{partition}")


@dataclass(frozen=True)
class QuorumVerdict:
    healthy: bool
    problems: Tuple[str, ...]
    leader_id: int
    leader_epoch: int
    high_watermark: int
    voter_ids: Tuple[int, ...]
    missing_voters: Tuple[int, ...]
    unexpected_voters: Tuple[int, ...]
    lagging_voters: Tuple[int, ...]
    # voter id -> high watermark - log end offset (>= 0); absent when unknown
    voter_lag: Dict[int, int] = field(default_factory=dict)


def evaluate_quorum(
    info: QuorumInfo,
    expected_voters: Iterable[int],
    max_lag: int,
    max_caught_up_age_ms: Optional[int] = None,
) -> QuorumVerdict:
    """Health verdict for a KRaft quorum.

    Healthy when: no error codes; a leader is elected (leader id >= 0) and is one of
    the voters; the voter set is exactly ``expected_voters``; the high watermark is
    known; and every voter's lag, ``high_watermark - log_end_offset`` (0 for a voter
    ahead of the high watermark, such as the leader), is at most ``max_lag``.  A voter
    whose log end offset is unknown (-1) counts as lagging.

    With ``max_caught_up_age_ms``, a voter must also have caught up with the leader's
    log within that many ms.  The age is measured against the leader's own
    LastCaughtUpTimestamp (which the leader reports as its current time), so both
    timestamps come from the leader's clock and host clock skew does not matter.
    """
    problems: List[str] = []
    if info.error_code != ERROR_NONE:
        problems.append(f"DescribeQuorum error {error_name(info.error_code)}")
    if info.partition_error_code != ERROR_NONE:
        problems.append(
            f"{info.topic}-{info.partition} error {error_name(info.partition_error_code)}"
        )
    failed = bool(problems)
    expected = sorted(set(expected_voters))
    voter_ids = tuple(sorted(v.replica_id for v in info.voters))
    missing = tuple(v for v in expected if v not in voter_ids)
    unexpected = tuple(v for v in voter_ids if v not in expected)
    leader_id = -1 if failed else info.leader_id
    if not failed:
        if missing:
            problems.append(f"expected voters missing: {list(missing)}")
        if unexpected:
            problems.append(f"unexpected voters: {list(unexpected)}")
        if info.leader_id < 0:
            problems.append(f"no leader elected (epoch {info.leader_epoch})")
        elif info.leader_id not in voter_ids:
            problems.append(f"leader {info.leader_id} is not a voter")
        if info.high_watermark < 0:
            problems.append("high watermark unknown")

    leader_caught_up = -1
    for voter in info.voters:
        if voter.replica_id == info.leader_id:
            leader_caught_up = voter.last_caught_up_timestamp

    lag: Dict[int, int] = {}
    lagging: List[int] = []
    for voter in sorted(info.voters, key=lambda v: v.replica_id):
        if failed:
            break
        vid = voter.replica_id
        if voter.log_end_offset < 0 or info.high_watermark < 0:
            lagging.append(vid)
            problems.append(f"voter {vid} log end offset unknown")
            continue
        lag[vid] = max(0, info.high_watermark - voter.log_end_offset)
        if lag[vid] > max_lag:
            lagging.append(vid)
            problems.append(f"voter {vid} lags by {lag[vid]} (> {max_lag})")
            continue
        if max_caught_up_age_ms is not None and vid != info.leader_id:
            if voter.last_caught_up_timestamp < 0 or leader_caught_up < 0:
                lagging.append(vid)
                problems.append(f"voter {vid} last caught-up time unknown")
            else:
                age = leader_caught_up - voter.last_caught_up_timestamp
                if age > max_caught_up_age_ms:
                    lagging.append(vid)
                    problems.append(
                        f"voter {vid} last caught up {age} ms ago (> {max_caught_up_age_ms})"
                    )

    return QuorumVerdict(
        healthy=not problems,
        problems=tuple(problems),
        leader_id=leader_id,
        leader_epoch=info.leader_epoch,
        high_watermark=info.high_watermark,
        voter_ids=voter_ids,
        missing_voters=missing,
        unexpected_voters=unexpected,
        lagging_voters=tuple(lagging),
        voter_lag=lag,
    )


# --------------------------------------------------------------------------- DescribeCluster


@dataclass(frozen=True)
class BrokerInfo:
    node_id: int
    host: str
    port: int
    rack: Optional[str] = None


@dataclass(frozen=True)
class ClusterInfo:
    """A DescribeCluster answer.

    In KRaft, ``brokers`` lists only registered, unfenced brokers (a killed broker drops
    out when its session expires, ~9 s by default) and ``controller_id`` is a *random
    live broker* (where the broker would forward admin requests), not the active
    controller: use DescribeQuorum's leader id for that.  The same holds for
    ``MetadataResult``.
    """

    error_code: int
    error_message: Optional[str]
    cluster_id: str
    controller_id: int
    brokers: Tuple[BrokerInfo, ...]
    throttle_time_ms: int = 0


def _read_brokers(reader: Reader) -> List[BrokerInfo]:
    """Compact array of (id int32, host, port int32, rack nullable, tags), as in
    DescribeCluster v0+ and Metadata v9+."""
    brokers = []
    for _broker in range(max(reader.compact_array_length(), 0)):
        node_id = reader.int32()
        host = reader.compact_string()
        port = reader.int32()
        rack = reader.compact_nullable_string()
        reader.tagged_fields()
        brokers.append(BrokerInfo(node_id, host, port, rack))
    return brokers


def describe_cluster_request_body() -> bytes:
    """DescribeCluster v0 (flexible): IncludeClusterAuthorizedOperations=false."""
    return Writer().boolean(False).tagged_fields().getvalue()


def encode_describe_cluster_request(
    correlation_id: int, client_id: Optional[str] = DEFAULT_CLIENT_ID
) -> bytes:
    body = describe_cluster_request_body()
    return encode_request(
        API_DESCRIBE_CLUSTER, DESCRIBE_CLUSTER_VERSION, correlation_id, client_id, body
    )


def decode_describe_cluster_response(body: bytes) -> ClusterInfo:
    """DescribeCluster v0 response body."""
    reader = Reader(body)
    throttle = reader.int32()
    error_code = reader.int16()
    error_message = reader.compact_nullable_string()
    cluster_id = reader.compact_string()
    controller_id = reader.int32()
    brokers = _read_brokers(reader)
    reader.int32()  # ClusterAuthorizedOperations
    reader.tagged_fields()
    reader.expect_end("DescribeCluster v0 response")
    return ClusterInfo(
        error_code=error_code,
        error_message=error_message,
        cluster_id=cluster_id,
        controller_id=controller_id,
        brokers=tuple(sorted(brokers, key=lambda b: b.node_id)),
        throttle_time_ms=throttle,
    )


# --------------------------------------------------------------------------- Metadata


@dataclass(frozen=True)
class PartitionMetadata:
    partition: int
    error_code: int
    leader_id: int
    leader_epoch: int
    replicas: Tuple[int, ...]
    isr: Tuple[int, ...]
    offline_replicas: Tuple[int, ...]


@dataclass(frozen=True)
class TopicMetadata:
    name: Optional[str]
    topic_id: str
    error_code: int
    is_internal: bool
    partitions: Tuple[PartitionMetadata, ...]


@dataclass(frozen=True)
class MetadataResult:
    brokers: Tuple[BrokerInfo, ...]
    cluster_id: Optional[str]
    controller_id: int
    topics: Tuple[TopicMetadata, ...]
    throttle_time_ms: int = 0


@dataclass(frozen=True)
class OfflinePartition:
    """A partition no client can use; ``partition`` is -1 for a topic-level error."""

    topic: Optional[str]
    partition: int
    leader_id: int
    error_code: int
    error_name: str
    replicas: Tuple[int, ...] = ()


def _check_metadata_version(version: int) -> None:
    if not METADATA_MIN_VERSION <= version <= METADATA_MAX_VERSION:
        raise ValueError(
            f"only Metadata v{METADATA_MIN_VERSION}-v{METADATA_MAX_VERSION} are implemented, "
            f"not v{version}"
        )


def metadata_request_body(version: int = METADATA_MAX_VERSION) -> bytes:
    """Metadata v9-v12 for all topics: Topics=null, no auto-creation, no ACL bits."""
    _check_metadata_version(version)
    body = Writer().compact_array_length(None).boolean(False)  # Topics, AllowAutoTopicCreation
    if version <= 10:
        body.boolean(False)  # IncludeClusterAuthorizedOperations (v8-v10)
    return body.boolean(False).tagged_fields().getvalue()  # IncludeTopicAuthorizedOperations


def encode_metadata_request(
    correlation_id: int,
    client_id: Optional[str] = DEFAULT_CLIENT_ID,
    version: int = METADATA_MAX_VERSION,
) -> bytes:
    body = metadata_request_body(version)
    return encode_request(API_METADATA, version, correlation_id, client_id, body)


def decode_metadata_response(body: bytes, version: int = METADATA_MAX_VERSION) -> MetadataResult:
    """Metadata v9-v12 response body."""
    _check_metadata_version(version)
    reader = Reader(body)
    throttle = reader.int32()
    brokers = _read_brokers(reader)
    cluster_id = reader.compact_nullable_string()
    controller_id = reader.int32()
    topics = []
    for _topic in range(max(reader.compact_array_length(), 0)):
        topic_error = reader.int16()
        name = reader.compact_nullable_string()
        topic_id = reader.uuid() if version >= 10 else format_uuid(bytes(16))
        is_internal = reader.boolean()
        partitions = []
        for _partition in range(max(reader.compact_array_length(), 0)):
            partition_error = reader.int16()
            partition_index = reader.int32()
            leader_id = reader.int32()
            leader_epoch = reader.int32()
            replicas = reader.int32_array(compact=True)
            isr = reader.int32_array(compact=True)
            offline_replicas = reader.int32_array(compact=True)
            reader.tagged_fields()
            partitions.append(
                PartitionMetadata(
                    partition=partition_index,
                    error_code=partition_error,
                    leader_id=leader_id,
                    leader_epoch=leader_epoch,
                    replicas=replicas,
                    isr=isr,
                    offline_replicas=offline_replicas,
                )
            )
        reader.int32()  # TopicAuthorizedOperations
        reader.tagged_fields()
        topics.append(
            TopicMetadata(
                name=name,
                topic_id=topic_id,
                error_code=topic_error,
                is_internal=is_internal,
                partitions=tuple(sorted(partitions, key=lambda p: p.partition)),
            )
        )
    if version <= 10:
        reader.int32()  # ClusterAuthorizedOperations (v8-v10)
    reader.tagged_fields()
    reader.expect_end(f"Metadata v{version} response")
    return MetadataResult(
        brokers=tuple(sorted(brokers, key=lambda b: b.node_id)),
        cluster_id=cluster_id,
        controller_id=controller_id,
        topics=tuple(sorted(topics, key=lambda t: t.name or "")),
        throttle_time_ms=throttle,
    )


def find_offline_partitions(metadata: MetadataResult) -> List[OfflinePartition]:
    """Partitions without a usable leader: leader id < 0, or LEADER_NOT_AVAILABLE /
    LISTENER_NOT_FOUND; plus one entry (partition -1) per topic with a topic error."""
    offline: List[OfflinePartition] = []
    for topic in metadata.topics:
        if topic.error_code != ERROR_NONE:
            offline.append(
                OfflinePartition(topic.name, -1, -1, topic.error_code, error_name(topic.error_code))
            )
        for part in topic.partitions:
            if part.leader_id < 0 or part.error_code in OFFLINE_ERROR_CODES:
                offline.append(
                    OfflinePartition(
                        topic=topic.name,
                        partition=part.partition,
                        leader_id=part.leader_id,
                        error_code=part.error_code,
                        error_name=error_name(part.error_code),
                        replicas=part.replicas,
                    )
                )
    return offline


# --------------------------------------------------------------------------- security configuration

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
# hashlib names of the SCRAM mechanisms Kafka offers (Kafka's ScramMechanism.java).
SCRAM_HASHES: Dict[str, str] = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
# RFC 7677 section 4 asks for at least 4096 iterations; Kafka stores credentials with
# 4096-16384 (ScramMechanism.java), so a larger count only burns the probe's CPU.
SCRAM_MIN_ITERATIONS = 4096
SCRAM_MAX_ITERATIONS = 16384


@dataclass(frozen=True)
class SecurityConfig:
    """How to reach one Kafka listener, in the terms of Kafka's client settings.

    * ``protocol``: ``security.protocol``: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    * TLS (SSL, SASL_SSL), always TLS 1.2 or newer with the server's certificate verified:
      ``ca_file`` (PEM CA certificates the server's chain must lead to; None: the system's
      trust store), ``cert_file`` and ``key_file`` (PEM client certificate and its
      unencrypted key, for listeners with ``ssl.client.auth=required``; without
      ``key_file`` the key is read from ``cert_file``), ``check_hostname`` (the certificate
      must name the host, as ``ssl.endpoint.identification.algorithm=https`` does) and
      ``server_hostname`` (the name to check and send as SNI instead of the host connected
      to, e.g. when probing a node's own listener on 127.0.0.1).
    * SASL (SASL_PLAINTEXT, SASL_SSL): ``sasl_mechanism`` (SCRAM-SHA-512, SCRAM-SHA-256 or
      PLAIN), ``username`` and ``password``.

    ``repr`` leaves the password out, and no message of this module contains it.
    Invalid combinations raise ValueError.
    """

    protocol: str = "PLAINTEXT"
    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None
    check_hostname: bool = True
    server_hostname: Optional[str] = None
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)

    def __post_init__(self) -> None:
        problems: List[str] = []
        if self.protocol not in SECURITY_PROTOCOLS:
            problems.append(
                f"protocol must be one of {', '.join(SECURITY_PROTOCOLS)}, not {self.protocol!r}"
            )
        if self.sasl_mechanism not in SASL_MECHANISMS:
            problems.append(
                f"sasl_mechanism must be one of {', '.join(SASL_MECHANISMS)}, "
                f"not {self.sasl_mechanism!r}"
            )
        if self.uses_sasl:
            problems.extend(
                f"protocol {self.protocol} needs a {name}"
                for name in ("username", "password")
                if not getattr(self, name)
            )
        # Settings the protocol would ignore are a mistake in the caller's configuration.
        for names, used, kind in (
            (("username", "password"), self.uses_sasl, "SASL (SASL_PLAINTEXT or SASL_SSL)"),
            (("ca_file", "cert_file", "key_file", "server_hostname"), self.uses_tls, "TLS"),
        ):
            stray = [name for name in names if getattr(self, name) is not None]
            if stray and not used:
                problems.append(
                    f"{', '.join(stray)} set, but protocol {self.protocol} does not use {kind}"
                )
        if self.key_file is not None and self.cert_file is None:
            problems.append("key_file needs cert_file")
        if problems:
            raise ValueError("security: " + "; ".join(problems))

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @classmethod
    def from_options(cls, options: Optional[Mapping[str, Any]]) -> SecurityConfig:
        """From a mapping of the field names, such as an Ansible module's ``security`` option.

        A missing mapping, and fields that are missing or None, take the defaults.
        """
        if not options:
            return cls()
        known = [item.name for item in fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(
                f"security: unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        return cls(**{name: value for name, value in options.items() if value is not None})

    def for_other_hosts(self) -> SecurityConfig:
        """The same settings for listeners of other hosts, checked against their own names."""
        return replace(self, server_hostname=None)


PLAINTEXT = SecurityConfig()


# --------------------------------------------------------------------------- SASL frames


def sasl_handshake_request_body(mechanism: str) -> bytes:
    """SaslHandshake v0-v1 (never flexible): Mechanism."""
    return Writer().string(mechanism).getvalue()


def encode_sasl_handshake_request(
    correlation_id: int, mechanism: str, client_id: Optional[str] = DEFAULT_CLIENT_ID
) -> bytes:
    body = sasl_handshake_request_body(mechanism)
    return encode_request(
        API_SASL_HANDSHAKE, SASL_HANDSHAKE_VERSION, correlation_id, client_id, body
    )


@dataclass(frozen=True)
class SaslHandshakeResult:
    error_code: int
    mechanisms: Tuple[str, ...]  # the mechanisms the listener has enabled


def decode_sasl_handshake_response(body: bytes) -> SaslHandshakeResult:
    """SaslHandshake v0-v1 response body: ErrorCode, Mechanisms[string]."""
    reader = Reader(body)
    error_code = reader.int16()
    mechanisms = tuple(reader.string() for _mechanism in range(max(reader.array_length(), 0)))
    reader.expect_end("SaslHandshake response")
    return SaslHandshakeResult(error_code, mechanisms)


def _check_sasl_authenticate_version(version: int) -> None:
    if not SASL_AUTHENTICATE_MIN_VERSION <= version <= SASL_AUTHENTICATE_MAX_VERSION:
        raise ValueError(f"only SaslAuthenticate v0-v2 are implemented, not v{version}")


def sasl_authenticate_request_body(auth_bytes: bytes, version: int) -> bytes:
    """SaslAuthenticate v0-v2: AuthBytes (compact, with tagged fields, from v2)."""
    _check_sasl_authenticate_version(version)
    if version >= 2:
        return Writer().compact_bytes(auth_bytes).tagged_fields().getvalue()
    return Writer().sized_bytes(auth_bytes).getvalue()


def encode_sasl_authenticate_request(
    correlation_id: int,
    auth_bytes: bytes,
    version: int,
    client_id: Optional[str] = DEFAULT_CLIENT_ID,
) -> bytes:
    body = sasl_authenticate_request_body(auth_bytes, version)
    return encode_request(API_SASL_AUTHENTICATE, version, correlation_id, client_id, body)


@dataclass(frozen=True)
class SaslAuthenticateResult:
    error_code: int
    error_message: Optional[str]
    auth_bytes: bytes
    session_lifetime_ms: int = 0


def decode_sasl_authenticate_response(body: bytes, version: int) -> SaslAuthenticateResult:
    """SaslAuthenticate v0-v2 response body: ErrorCode, ErrorMessage, AuthBytes,
    SessionLifetimeMs (v1+); compact strings and bytes with tagged fields from v2."""
    _check_sasl_authenticate_version(version)
    reader = Reader(body)
    error_code = reader.int16()
    if version >= 2:
        message = reader.compact_nullable_string()
        auth_bytes = reader.compact_bytes()
    else:
        message = reader.nullable_string()
        auth_bytes = reader.sized_bytes()
    lifetime = reader.int64() if version >= 1 else 0
    if version >= 2:
        reader.tagged_fields()
    reader.expect_end(f"SaslAuthenticate v{version} response")
    return SaslAuthenticateResult(error_code, message, auth_bytes, lifetime)


def sasl_plain_token(username: str, password: str) -> bytes:
    """RFC 4616 PLAIN: empty authorization id, NUL, user name, NUL, password."""
    return b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")


# --------------------------------------------------------------------------- SCRAM


class ScramError(ValueError):
    """A SCRAM exchange the client must abandon (RFC 5802).  Never contains the password."""


# No channel binding and no authorization id: the only GS2 header Kafka accepts
# (ScramMessages.ClientFirstMessage).
_SCRAM_GS2_HEADER = "n,,"
_SCRAM_ITERATION_COUNT = re.compile(r"[0-9]{1,10}")
_SCRAM_NONCE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")  # printable ASCII except ","


def scram_saslname(username: str) -> str:
    """RFC 5802 saslname: ``=`` becomes ``=3D``, then ``,`` becomes ``=2C``."""
    return username.replace("=", "=3D").replace(",", "=2C")


@dataclass(frozen=True)
class ScramServerFirst:
    nonce: str  # the client's nonce followed by the server's
    salt: bytes
    iterations: int


def parse_scram_server_first(message: str, client_nonce: str) -> ScramServerFirst:
    """Parse and check a server-first-message, ``r=<nonce>,s=<salt>,i=<count>[,ext]``.

    Refuses a mandatory extension (``m=``), a nonce that does not extend the client's,
    and an iteration count outside 4096-16384.
    """
    if message.startswith("m="):
        raise ScramError("the server requires a SCRAM extension (m=) this client does not know")
    attributes = message.split(",")
    if len(attributes) < 3 or [item[:2] for item in attributes[:3]] != ["r=", "s=", "i="]:
        raise ScramError("malformed server-first message: expected r=...,s=...,i=...")
    nonce, salt_text, count_text = (item[2:] for item in attributes[:3])
    if not nonce.startswith(client_nonce) or len(nonce) == len(client_nonce):
        raise ScramError(
            "the server's nonce does not extend the client's nonce: not an answer to this exchange"
        )
    if not _SCRAM_NONCE.fullmatch(nonce):
        raise ScramError("the server's nonce has characters RFC 5802 does not allow")
    try:
        salt = base64.b64decode(salt_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ScramError("the server's salt is not valid base64") from exc
    if not salt:
        raise ScramError("the server sent an empty salt")
    if not _SCRAM_ITERATION_COUNT.fullmatch(count_text):
        raise ScramError(f"malformed iteration count {count_text[:20]!r}")
    iterations = int(count_text)
    if iterations < SCRAM_MIN_ITERATIONS:
        raise ScramError(
            f"the server asks for {iterations} iterations; fewer than {SCRAM_MIN_ITERATIONS} "
            "are refused (RFC 7677)"
        )
    if iterations > SCRAM_MAX_ITERATIONS:
        raise ScramError(
            f"the server asks for {iterations} iterations; more than {SCRAM_MAX_ITERATIONS} "
            "(Kafka's maximum) are refused"
        )
    return ScramServerFirst(nonce, salt, iterations)


def scram_salted_password(hash_name: str, password: str, salt: bytes, iterations: int) -> bytes:
    """SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2 with HMAC.

    Normalize is plain UTF-8 without SASLprep, as in Kafka (ScramFormatter.normalize),
    so that non-ASCII passwords match the credentials Kafka stored.
    """
    return hashlib.pbkdf2_hmac(hash_name, password.encode("utf-8"), salt, iterations)


def _hmac(hash_name: str, key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hash_name).digest()


def scram_client_proof(hash_name: str, salted_password: bytes, auth_message: bytes) -> bytes:
    """ClientProof := ClientKey XOR HMAC(H(ClientKey), AuthMessage),
    ClientKey := HMAC(SaltedPassword, "Client Key")."""
    client_key = _hmac(hash_name, salted_password, b"Client Key")
    stored_key = hashlib.new(hash_name, client_key).digest()
    signature = _hmac(hash_name, stored_key, auth_message)
    mixed = int.from_bytes(client_key, "big") ^ int.from_bytes(signature, "big")
    return mixed.to_bytes(len(client_key), "big")


def scram_server_signature(hash_name: str, salted_password: bytes, auth_message: bytes) -> bytes:
    """ServerSignature := HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)."""
    server_key = _hmac(hash_name, salted_password, b"Server Key")
    return _hmac(hash_name, server_key, auth_message)


def _scram_text(message: bytes, what: str) -> str:
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScramError(f"the {what} message is not UTF-8") from exc


class ScramClient:
    """The client side of one SCRAM exchange (RFC 5802 section 3), without channel binding.

    Send :meth:`first_message`; answer the server-first message with
    :meth:`final_message`; then :meth:`verify_server_final` raises ScramError unless
    the server proved that it holds this user's keys.  ``hash_name`` is a hashlib
    name (see ``SCRAM_HASHES``); ``nonce`` is random unless given (for tests).
    The password is dropped as soon as the salted password is computed.
    """

    def __init__(
        self, hash_name: str, username: str, password: str, nonce: Optional[str] = None
    ) -> None:
        hashlib.new(hash_name)  # ValueError now for an unknown hash, not mid-exchange
        self.hash_name = hash_name
        self.username = username
        self.nonce = secrets.token_urlsafe(24) if nonce is None else nonce
        if not _SCRAM_NONCE.fullmatch(self.nonce):
            raise ValueError("a SCRAM nonce is printable ASCII without ','")
        self._password: Optional[str] = password
        self._first_bare = f"n={scram_saslname(username)},r={self.nonce}"
        self._server_signature: Optional[bytes] = None

    def __repr__(self) -> str:
        return f"ScramClient(hash_name={self.hash_name!r}, username={self.username!r})"

    def first_message(self) -> bytes:
        """client-first-message: GS2 header, then ``n=<saslname>,r=<nonce>``."""
        return (_SCRAM_GS2_HEADER + self._first_bare).encode("utf-8")

    def final_message(self, server_first: bytes) -> bytes:
        """client-final-message ``c=biws,r=<nonce>,p=<proof>`` for the server-first message."""
        if self._password is None:
            raise ScramError("this SCRAM exchange already answered a server-first message")
        text = _scram_text(server_first, "server-first")
        first = parse_scram_server_first(text, self.nonce)
        salted = scram_salted_password(self.hash_name, self._password, first.salt, first.iterations)
        self._password = None
        channel_binding = base64.b64encode(_SCRAM_GS2_HEADER.encode("ascii")).decode("ascii")
        without_proof = f"c={channel_binding},r={first.nonce}"
        auth_message = f"{self._first_bare},{text},{without_proof}".encode()
        proof = scram_client_proof(self.hash_name, salted, auth_message)
        self._server_signature = scram_server_signature(self.hash_name, salted, auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode('ascii')}".encode("ascii")

    def verify_server_final(self, server_final: bytes) -> None:
        """Check the server-final message ``v=<signature>``; ``e=<error>`` is a refusal."""
        if self._server_signature is None:
            raise ScramError("server-final message before the client-final message")
        attribute = _scram_text(server_final, "server-final").split(",", 1)[0]
        if attribute.startswith("e="):
            raise ScramError(f"the server refused the exchange: {attribute[2:][:200]}")
        if not attribute.startswith("v="):
            raise ScramError("malformed server-final message: expected v=...")
        try:
            signature = base64.b64decode(attribute[2:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ScramError("the server signature is not valid base64") from exc
        if not hmac.compare_digest(signature, self._server_signature):
            raise ScramError(
                "the server's signature is wrong: it does not hold this user's SCRAM keys "
                "(not the real broker?)"
            )


# --------------------------------------------------------------------------- TLS


class _EncryptedKey(Exception):
    """Raised by the key password callback: the probe never prompts for a passphrase."""


def _refuse_key_password() -> str:
    raise _EncryptedKey


def _os_error_text(error: OSError) -> str:
    if isinstance(error, ssl.SSLError):
        return str(error)
    return error.strerror or str(error)


def build_ssl_context(security: SecurityConfig) -> ssl.SSLContext:
    """The client TLS context for ``security``: TLS 1.2 or newer, the server's chain
    verified against ``ca_file`` (or the system's trust store), its name checked unless
    ``check_hostname`` is off, and the client certificate if one is set.

    Raises ValueError naming the file that cannot be used.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and names
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = security.check_hostname
    try:
        if security.ca_file is None:
            context.load_default_certs()
        else:
            context.load_verify_locations(cafile=security.ca_file)
    except OSError as exc:  # includes ssl.SSLError: no PEM certificate in the file
        raise ValueError(
            f"cannot use the CA file {security.ca_file}: {_os_error_text(exc)}"
        ) from exc
    if security.cert_file is not None:
        key_file = security.key_file or security.cert_file
        try:
            context.load_cert_chain(security.cert_file, security.key_file, _refuse_key_password)
        except _EncryptedKey:
            raise ValueError(
                f"the client key {key_file} is encrypted; the probe needs an unencrypted "
                "PEM key (readable by this user only)"
            ) from None
        except OSError as exc:
            raise ValueError(
                f"cannot use the client certificate {security.cert_file} with the key "
                f"{key_file}: {_os_error_text(exc)}"
            ) from exc
    return context


# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h) behind the verify messages.
_X509_HOSTNAME_MISMATCH = frozenset({62, 64})  # host name, IP address
_X509_NOT_TRUSTED = frozenset({2, 7, 18, 19, 20, 21, 24, 27, 28})
_X509_VALIDITY = frozenset({9, 10})  # not yet valid, expired
# OpenSSL reasons (ssl.SSLError.reason) for the alerts a server sends.
_TLS_VERSION_REASONS = frozenset(
    {"UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE"}
)
_CLIENT_CERTIFICATE_REASONS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
        "TLSV1_ALERT_DECRYPT_ERROR",
    }
)
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "HTTP_REQUEST"}
)


def describe_tls_failure(
    error: BaseException, security: SecurityConfig, server_hostname: str
) -> str:
    """What went wrong in a TLS handshake (or in the alert a TLS 1.3 server sends right
    after it), as a sentence a user can act on."""
    if isinstance(error, ssl.SSLCertVerificationError):
        code = getattr(error, "verify_code", None)
        detail = getattr(error, "verify_message", None) or str(error)
        if code in _X509_HOSTNAME_MISMATCH:
            return (
                f"TLS: the broker's certificate does not name {server_hostname} ({detail}); "
                "connect by a name or IP address the certificate carries, or set "
                "server_hostname to one"
            )
        if code in _X509_NOT_TRUSTED:
            trusted = (
                f"the CA file {security.ca_file}"
                if security.ca_file is not None
                else "the system's trust store (no ca_file set)"
            )
            return (
                f"TLS: the broker's certificate is not trusted: {trusted} does not hold the CA "
                f"that signed it ({detail})"
            )
        if code in _X509_VALIDITY:
            return (
                f"TLS: the broker's certificate is outside its validity period ({detail}); "
                "check the certificate and this host's clock"
            )
        return f"TLS: the broker's certificate failed verification ({detail})"
    reason = getattr(error, "reason", None)
    if reason in _TLS_VERSION_REASONS:
        return (
            f"TLS: the broker and this client share no TLS version ({reason}); "
            "this client requires TLS 1.2 or newer"
        )
    if reason in _CLIENT_CERTIFICATE_REASONS or (
        reason == "SSLV3_ALERT_HANDSHAKE_FAILURE" and security.cert_file is None
    ):
        if security.cert_file is None:
            return (
                f"TLS: the broker refused the connection ({reason}): the listener requires a "
                "client certificate (mTLS) and none is configured; set cert_file and key_file"
            )
        return (
            f"TLS: the broker refused the client certificate {security.cert_file} ({reason}): "
            "is it signed by a CA the broker trusts, still valid, and usable for client "
            "authentication?"
        )
    if reason in _NOT_TLS_REASONS:
        return (
            f"TLS: the peer does not speak TLS ({reason}): a PLAINTEXT or SASL_PLAINTEXT "
            "listener? Use its security protocol"
        )
    if isinstance(error, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionError)):
        return (
            "TLS: the peer closed the connection during the TLS handshake: a PLAINTEXT or "
            "SASL_PLAINTEXT listener (Kafka drops a TLS ClientHello as an oversized request)?"
        )
    return f"TLS handshake failed: {error}"


def looks_like_tls_record(header: bytes) -> bool:
    """Whether bytes read as a Kafka size prefix are the start of a TLS record instead
    (content type 20-23, protocol version 3.x): a TLS listener answering a non-TLS client."""
    return len(header) >= 3 and 20 <= header[0] <= 23 and header[1] == 3 and header[2] <= 4


# --------------------------------------------------------------------------- socket I/O


class KafkaConnection:
    """One blocking connection to a Kafka listener, secured as ``security`` says.

    ``timeout`` bounds the connect (with the TLS handshake), and separately each
    request/response round trip.  The socket is opened lazily on the first request.
    On a SASL listener the connection authenticates as soon as it is open: ApiVersions
    (allowed before authentication; kept in ``pre_auth_api_versions``), SaslHandshake
    v1 and SaslAuthenticate.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = DEFAULT_TIMEOUT,
        client_id: Optional[str] = DEFAULT_CLIENT_ID,
        security: Optional[SecurityConfig] = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.client_id = client_id
        self.security = security or PLAINTEXT
        self.address = format_address(host, port)
        self.pre_auth_api_versions: Optional[ApiVersionsResult] = None
        self._sock: Optional[socket.socket] = None
        self._next_correlation_id = 1

    def __enter__(self) -> KafkaConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _error(self, message: str) -> ProbeError:
        return ProbeError(f"{self.address}: {message}")

    @property
    def server_hostname(self) -> str:
        """The name the server's certificate must carry."""
        return self.security.server_hostname or self.host

    def open(self) -> None:
        """Connect (TLS handshake and SASL authentication included) unless already open."""
        self._connect()

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        try:
            sock = socket.create_connection((self.host, self.port), self.timeout)
        except socket.timeout as exc:
            raise self._error(f"connect timed out after {self.timeout}s") from exc
        except OSError as exc:
            raise self._error(f"connect failed: {exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.security.uses_tls:
            sock = self._start_tls(sock)
        self._sock = sock
        self.pre_auth_api_versions = None
        if self.security.uses_sasl:
            try:
                self._authenticate()  # its requests find self._sock open
            except BaseException:
                self.close()
                raise
        return sock

    def _start_tls(self, sock: socket.socket) -> socket.socket:
        try:
            context = build_ssl_context(self.security)
        except ValueError as exc:  # a CA, certificate or key file that cannot be used
            sock.close()
            raise self._error(str(exc)) from exc
        try:
            # The handshake runs here, bounded by the connect timeout of the socket.
            return context.wrap_socket(sock, server_hostname=self.server_hostname)
        except socket.timeout as exc:
            sock.close()
            raise self._error(f"TLS handshake timed out after {self.timeout}s") from exc
        except OSError as exc:  # ssl.SSLError, or the peer closing or resetting
            sock.close()
            failure = describe_tls_failure(exc, self.security, self.server_hostname)
            raise self._error(failure) from exc

    def _authenticate(self) -> None:
        """SASL on the fresh connection; raises ProbeError naming what the user must fix."""
        mechanism = self.security.sasl_mechanism
        body = self.call(API_API_VERSIONS, API_VERSIONS_VERSION, b"")
        try:
            versions = decode_api_versions_response(body)
        except DecodeError as exc:
            raise self._error(f"malformed ApiVersions v0 response: {exc}") from exc
        if versions.error_code != ERROR_NONE:
            raise self._error(f"ApiVersions v0 failed with {error_name(versions.error_code)}")
        if (
            choose_version(
                versions, API_SASL_HANDSHAKE, SASL_HANDSHAKE_VERSION, SASL_HANDSHAKE_VERSION
            )
            is None
        ):
            raise self._error(
                f"does not offer SaslHandshake v{SASL_HANDSHAKE_VERSION}, so no SASL "
                f"({self.security.protocol}) on this listener"
            )
        body = self.call(
            API_SASL_HANDSHAKE, SASL_HANDSHAKE_VERSION, sasl_handshake_request_body(mechanism)
        )
        try:
            handshake = decode_sasl_handshake_response(body)
        except DecodeError as exc:
            raise self._error(f"malformed SaslHandshake response: {exc}") from exc
        if handshake.error_code == ERROR_UNSUPPORTED_SASL_MECHANISM:
            offered = ", ".join(handshake.mechanisms) or "none"
            raise self._error(
                f"SASL mechanism {mechanism} is not enabled on this listener; it offers: {offered}"
            )
        if handshake.error_code == ERROR_ILLEGAL_SASL_STATE:
            raise self._error(
                "the listener does not use SASL (SaslHandshake answered ILLEGAL_SASL_STATE): "
                f"use security protocol {'SSL' if self.security.uses_tls else 'PLAINTEXT'} "
                f"for it, not {self.security.protocol}"
            )
        if handshake.error_code != ERROR_NONE:
            raise self._error(f"SaslHandshake failed with {error_name(handshake.error_code)}")
        version = choose_version(
            versions,
            API_SASL_AUTHENTICATE,
            SASL_AUTHENTICATE_MIN_VERSION,
            SASL_AUTHENTICATE_MAX_VERSION,
        )
        if version is None:
            raise self._error("does not offer SaslAuthenticate v0-v2")
        username = self.security.username or ""
        password = self.security.password or ""
        if mechanism == "PLAIN":
            self._sasl_step(version, sasl_plain_token(username, password))
        else:
            scram = ScramClient(SCRAM_HASHES[mechanism], username, password)
            try:
                server_first = self._sasl_step(version, scram.first_message())
                server_final = self._sasl_step(version, scram.final_message(server_first))
                scram.verify_server_final(server_final)
            except ScramError as exc:
                raise self._error(
                    f"SASL {mechanism} authentication of {username!r}: {exc}"
                ) from None
        self.pre_auth_api_versions = versions

    def _sasl_step(self, version: int, token: bytes) -> bytes:
        """One SaslAuthenticate round trip; the server's token."""
        body = self.call(
            API_SASL_AUTHENTICATE, version, sasl_authenticate_request_body(token, version)
        )
        try:
            result = decode_sasl_authenticate_response(body, version)
        except DecodeError as exc:
            raise self._error(f"malformed SaslAuthenticate v{version} response: {exc}") from exc
        if result.error_code == ERROR_NONE:
            return result.auth_bytes
        detail = f": {result.error_message}" if result.error_message else ""
        if result.error_code == ERROR_SASL_AUTHENTICATION_FAILED:
            raise SaslAuthenticationFailed(
                f"{self.address}: SASL authentication failed for user "
                f"{self.security.username!r} with {self.security.sasl_mechanism} "
                f"(SASL_AUTHENTICATION_FAILED){detail}"
            )
        raise self._error(f"SaslAuthenticate failed with {error_name(result.error_code)}{detail}")

    def roundtrip(self, request: bytes, what: str = "request") -> bytes:
        """Send one size-prefixed request; return the response frame without its size."""
        sock = self._connect()
        deadline = time.monotonic() + self.timeout
        try:
            self._set_timeout(sock, deadline, what)
            sock.sendall(request)
            header = self._recv_exactly(sock, 4, deadline, what)
            size = _INT32.unpack(header)[0]
            if size < 4 or size > MAX_RESPONSE_BYTES:
                if looks_like_tls_record(header):
                    raise self._error(
                        f"the peer answered the {what} with a TLS record: a TLS listener; use "
                        f"security protocol SSL or SASL_SSL for it, not {self.security.protocol}"
                    )
                raise self._error(
                    f"implausible response size {size} to {what} "
                    f"(not a {self.security.protocol} Kafka listener?)"
                )
            return self._recv_exactly(sock, size, deadline, what)
        except ProbeError:
            self.close()
            raise
        except socket.timeout as exc:
            self.close()
            raise self._error(
                f"timed out after {self.timeout}s waiting for the {what} response"
            ) from exc
        except ssl.SSLError as exc:  # a TLS 1.3 server refuses a client certificate here
            self.close()
            failure = describe_tls_failure(exc, self.security, self.server_hostname)
            raise self._error(f"{failure} (during the {what})") from exc
        except ConnectionError as exc:
            self.close()
            raise self._error(f"{what} failed: {exc} ({self._closed_hint()})") from exc
        except OSError as exc:
            self.close()
            raise self._error(f"{what} failed: {exc}") from exc

    def _set_timeout(self, sock: socket.socket, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout(f"deadline passed during {what}")
        sock.settimeout(remaining)

    def _closed_hint(self) -> str:
        """Why a Kafka listener would close the connection instead of answering."""
        protocol = self.security.protocol
        if not self.security.uses_tls:
            return (
                f"not a {protocol} listener? TLS and SASL listeners close the connection of a "
                "client that skips TLS or SASL; or the API is not served on this listener"
            )
        if not self.security.uses_sasl:
            return (
                "does the listener require SASL (SASL_SSL), or refuse the client certificate? "
                "Or the API is not served on this listener"
            )
        return "API not served on this listener?"

    def _recv_exactly(self, sock: socket.socket, size: int, deadline: float, what: str) -> bytes:
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            self._set_timeout(sock, deadline, what)
            n = sock.recv_into(view[got:], size - got)
            if n == 0:
                raise self._error(
                    f"connection closed by peer after {got} of {size} bytes of the {what} response "
                    f"({self._closed_hint()})"
                )
            got += n
        return bytes(buf)

    def call(self, api_key: int, api_version: int, body: bytes) -> bytes:
        """Send a request with the given body; return the response body."""
        correlation_id = self._next_correlation_id
        self._next_correlation_id = (correlation_id + 1) & 0x7FFFFFFF
        what = f"{api_name(api_key)} v{api_version}"
        frame = self.roundtrip(
            encode_request(api_key, api_version, correlation_id, self.client_id, body), what
        )
        try:
            got_id, response_body = decode_response_header(api_key, api_version, frame)
        except DecodeError as exc:
            self.close()
            raise self._error(f"malformed {what} response header: {exc}") from exc
        if got_id != correlation_id:
            self.close()
            raise self._error(
                f"correlation id mismatch in {what} response: sent {correlation_id}, got {got_id}"
            )
        return response_body


class KafkaProbe:
    """Health probes against one Kafka node, negotiated with ApiVersions first.

    All methods raise ProbeError (with ``host:port``) when the node cannot be
    reached, does not answer in time, lacks the needed request version, or sends
    something undecodable.  Kafka error codes inside a decoded answer are returned,
    not raised, because they are part of the health picture.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = DEFAULT_TIMEOUT,
        client_id: Optional[str] = DEFAULT_CLIENT_ID,
        security: Optional[SecurityConfig] = None,
    ) -> None:
        self.connection = KafkaConnection(host, port, timeout, client_id, security)
        self._api_versions: Optional[ApiVersionsResult] = None

    @classmethod
    def from_address(
        cls: type[_Probe],
        address: str,
        timeout: float = DEFAULT_TIMEOUT,
        client_id: Optional[str] = DEFAULT_CLIENT_ID,
        security: Optional[SecurityConfig] = None,
    ) -> _Probe:
        host, port = parse_address(address)
        return cls(host, port, timeout, client_id, security)

    @property
    def address(self) -> str:
        return self.connection.address

    def __enter__(self: _Probe) -> _Probe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def _decode(self, what: str, decoder: Callable[[], _T]) -> _T:
        try:
            return decoder()
        except DecodeError as exc:
            self.close()
            raise ProbeError(f"{self.address}: malformed {what} response: {exc}") from exc

    def api_versions(self, refresh: bool = False) -> ApiVersionsResult:
        """ApiVersions v0; cached per probe unless ``refresh``.

        A SASL connection asked it before authenticating: that answer is reused.
        """
        if self._api_versions is None or refresh:
            self.connection.open()
            if not refresh and self.connection.pre_auth_api_versions is not None:
                self._api_versions = self.connection.pre_auth_api_versions
                return self._api_versions
            response = self.connection.call(API_API_VERSIONS, API_VERSIONS_VERSION, b"")
            result = self._decode("ApiVersions v0", lambda: decode_api_versions_response(response))
            if result.error_code != ERROR_NONE:
                raise ProbeError(
                    f"{self.address}: ApiVersions v0 failed with {error_name(result.error_code)}"
                )
            self._api_versions = result
        return self._api_versions

    def _negotiate(self, api_key: int, client_min: int, client_max: int) -> int:
        versions = self.api_versions()
        chosen = choose_version(versions, api_key, client_min, client_max)
        if chosen is not None:
            return chosen
        server = versions.version_range(api_key)
        wanted = f"v{client_min}" if client_min == client_max else f"v{client_min}-v{client_max}"
        if server is None:
            detail = f"does not serve {api_name(api_key)} (key {api_key}) on this listener"
        else:
            detail = (
                f"supports {api_name(api_key)} v{server.min_version}-v{server.max_version} only"
            )
        raise ProbeError(f"{self.address}: {detail}; this probe needs {wanted}")

    def describe_quorum(self, topic: str = METADATA_TOPIC, partition: int = 0) -> QuorumInfo:
        """DescribeQuorum v1 for the KRaft metadata partition.

        Broker listeners forward it to the active controller; on a controller listener
        only the quorum leader answers, others return NOT_LEADER_OR_FOLLOWER.
        """
        version = self._negotiate(
            API_DESCRIBE_QUORUM, DESCRIBE_QUORUM_VERSION, DESCRIBE_QUORUM_VERSION
        )
        body = describe_quorum_request_body(topic, partition)
        response = self.connection.call(API_DESCRIBE_QUORUM, version, body)
        return self._decode(
            "DescribeQuorum v1",
            lambda: decode_describe_quorum_response(response, topic, partition),
        )

    def describe_cluster(self) -> ClusterInfo:
        """DescribeCluster v0: in KRaft, the registered *unfenced* brokers."""
        version = self._negotiate(
            API_DESCRIBE_CLUSTER, DESCRIBE_CLUSTER_VERSION, DESCRIBE_CLUSTER_VERSION
        )
        body = describe_cluster_request_body()
        response = self.connection.call(API_DESCRIBE_CLUSTER, version, body)
        return self._decode(
            "DescribeCluster v0", lambda: decode_describe_cluster_response(response)
        )

    def metadata(self) -> MetadataResult:
        """Metadata for all topics, at the highest common version in v9-v12."""
        version = self._negotiate(API_METADATA, METADATA_MIN_VERSION, METADATA_MAX_VERSION)
        body = metadata_request_body(version)
        response = self.connection.call(API_METADATA, version, body)
        return self._decode(
            f"Metadata v{version}", lambda: decode_metadata_response(response, version)
        )

    def offline_partitions(self) -> List[OfflinePartition]:
        return find_offline_partitions(self.metadata())


def describe_quorum_from_any(
    addresses: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT,
    probe_factory: Optional[Callable[[str, float], KafkaProbe]] = None,
    security: Optional[SecurityConfig] = None,
) -> QuorumInfo:
    """DescribeQuorum against each ``host:port`` in turn until one answers without error.

    On a controller listener only the quorum leader answers; the others reply with
    NOT_LEADER_OR_FOLLOWER.  A broker listener forwards the request to the active
    controller.  Raises ProbeError listing every attempt if none succeeds.
    Without ``probe_factory``, every address is reached with ``security``.
    """
    factory = probe_factory or (
        lambda address, t: KafkaProbe.from_address(address, t, security=security)
    )
    failures: List[str] = []
    for address in addresses:
        try:
            with factory(address, timeout) as probe:
                info = probe.describe_quorum()
        except (ProbeError, ValueError) as exc:
            failures.append(str(exc))
            continue
        if info.error_code == ERROR_NONE and info.partition_error_code == ERROR_NONE:
            return info
        failures.append(
            f"{address}: DescribeQuorum answered {error_name(info.error_code)}"
            f"/{error_name(info.partition_error_code)}"
        )
    raise ProbeError("no node answered DescribeQuorum: " + "; ".join(failures or ["no addresses"]))


# --------------------------------------------------------------------------- CLI


def _int_list(text: str) -> List[int]:
    return [int(part) for part in text.split(",") if part.strip()]


DEFAULT_PASSWORD_ENV = "AUTOMQ_PROBE_PASSWORD"


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options for a :class:`SecurityConfig`; the password comes from the
    environment, never from the command line (which other users can see)."""
    group = parser.add_argument_group("security")
    group.add_argument("--security-protocol", choices=SECURITY_PROTOCOLS, default="PLAINTEXT")
    group.add_argument("--ca-file", help="PEM CA certificates that signed the broker's")
    group.add_argument("--cert-file", help="PEM client certificate (mTLS listeners)")
    group.add_argument("--key-file", help="PEM unencrypted key of the client certificate")
    group.add_argument(
        "--no-check-hostname",
        dest="check_hostname",
        action="store_false",
        help="do not require the certificate to name the host (the chain is still verified)",
    )
    group.add_argument("--server-hostname", help="name to check in the certificate instead")
    group.add_argument("--sasl-mechanism", choices=SASL_MECHANISMS, default="SCRAM-SHA-512")
    group.add_argument("--username", help="SASL user name")
    group.add_argument(
        "--password-env",
        default=DEFAULT_PASSWORD_ENV,
        metavar="NAME",
        help=f"environment variable holding the SASL password (default {DEFAULT_PASSWORD_ENV})",
    )


def security_from_arguments(
    args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None
) -> SecurityConfig:
    """The :class:`SecurityConfig` of options added by :func:`add_security_arguments`."""
    uses_sasl = args.security_protocol.startswith("SASL_")
    password = None
    if uses_sasl:
        password = (os.environ if environ is None else environ).get(args.password_env)
        if not password:
            raise ValueError(
                f"security: protocol {args.security_protocol} needs a password in the "
                f"environment variable {args.password_env}"
            )
    return SecurityConfig(
        protocol=args.security_protocol,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
        check_hostname=args.check_hostname,
        server_hostname=args.server_hostname,
        sasl_mechanism=args.sasl_mechanism,
        username=args.username,
        password=password,
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m automq_helpers.kafka_probe",
        description="Probe a Kafka/AutoMQ node over the wire protocol; prints JSON.",
    )
    parser.add_argument("--bootstrap", required=True, help="host:port of the listener to ask")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per call")
    add_security_arguments(parser)
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    sub.add_parser("api-versions", help="ApiVersions v0")
    sub.add_parser("cluster", help="DescribeCluster v0 (unfenced brokers)")
    sub.add_parser("metadata", help="Metadata (all topics)")
    sub.add_parser("offline", help="offline partitions; exit 1 if any")
    quorum = sub.add_parser("quorum", help="DescribeQuorum v1 + verdict; exit 1 if unhealthy")
    quorum.add_argument("--expected-voters", type=_int_list, default=None, help="e.g. 1,2,3")
    quorum.add_argument("--max-lag", type=int, default=1000, help="max voter lag in records")
    quorum.add_argument("--max-caught-up-age-ms", type=int, default=None)
    sub.add_parser("status", help="ApiVersions + DescribeCluster + offline partitions")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point. Exit 0: fine, 1: unhealthy answer, 2: probe failure."""
    args = _build_parser().parse_args(argv)
    output: Dict[str, object] = {"bootstrap": args.bootstrap}
    status = 0
    started = time.monotonic()
    try:
        security = security_from_arguments(args)
        with KafkaProbe.from_address(args.bootstrap, args.timeout, security=security) as probe:
            command = args.command
            if command == "api-versions":
                output["api_versions"] = asdict(probe.api_versions())
            elif command == "cluster":
                cluster = probe.describe_cluster()
                output["cluster"] = asdict(cluster)
                status = 0 if cluster.error_code == ERROR_NONE else 1
            elif command == "metadata":
                output["metadata"] = asdict(probe.metadata())
            elif command == "offline":
                offline = probe.offline_partitions()
                output["offline_partitions"] = [asdict(p) for p in offline]
                status = 1 if offline else 0
            elif command == "quorum":
                info = probe.describe_quorum()
                expected = args.expected_voters
                if expected is None:
                    expected = [v.replica_id for v in info.voters]
                verdict = evaluate_quorum(info, expected, args.max_lag, args.max_caught_up_age_ms)
                output["quorum"] = asdict(info)
                output["verdict"] = asdict(verdict)
                status = 0 if verdict.healthy else 1
            else:  # status
                versions = probe.api_versions()
                cluster = probe.describe_cluster()
                offline = probe.offline_partitions()
                output["api_keys"] = len(versions.api_keys)
                output["cluster"] = asdict(cluster)
                output["offline_partitions"] = [asdict(p) for p in offline]
                status = 1 if offline or cluster.error_code != ERROR_NONE else 0
    except (ProbeError, ValueError) as exc:
        output["error"] = str(exc)
        status = 2
    output["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    json.dump(output, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return status


if __name__ == "__main__":
    # The command line only: modules import this file from module_utils, where
    # ansible-test's pylint refuses sys.exit() (modules end with exit_json/fail_json).
    raise SystemExit(main())
