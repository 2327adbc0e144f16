"""kafka_admin: the admin requests' bytes, the SCRAM credential, errors, plans, redaction.

The byte strings are written by hand from the JSON schemas of Kafka 3.9
(clients/src/main/resources/common/message/<Name>Request.json and ...Response.json),
field by field in schema order, with the flexible encodings of KIP-482: a compact
string is its UTF-8 length + 1 as an unsigned varint then the bytes (0 for null), a
compact array its element count + 1 (0 for null), compact bytes likewise, and each
struct and the message end with a tagged-field count (0 here).  int8/int16/int32 are
big-endian.  Each literal is commented with the field it encodes.

The real broker is in tests/integration/test_kafka_admin_modules.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Sequence
from typing import Any

import pytest
from test_decommission_plugins import FakeBroker, _api_versions

from automq_helpers.access import AclBinding
from automq_helpers.kafka_admin import (
    ANY_ACL,
    SALT_BYTES,
    AclPlan,
    AdminError,
    ClusterAuthorizationFailed,
    ConfigEntry,
    ConfigResult,
    DeletedAcl,
    DeleteFilterResult,
    DescribeAclsResult,
    DescribeConfigsResult,
    DescribeUserScramResult,
    DuplicateResource,
    KafkaAdmin,
    PropagationTimeout,
    ResourceNotFound,
    ScramCredentialInfo,
    ScramDeletion,
    ScramPlan,
    ScramUpsertion,
    ScramUser,
    SecurityDisabled,
    UnacceptableCredential,
    UnsupportedSaslMechanism,
    UserAlterationResult,
    UserScramDescription,
    WireAcl,
    acl_binding,
    acl_lines,
    alter_user_scram_credentials_request_body,
    alteration_batches,
    broker_admins,
    create_acls_request_body,
    decode_alter_user_scram_credentials_response,
    decode_create_acls_response,
    decode_delete_acls_response,
    decode_describe_acls_response,
    decode_describe_configs_response,
    decode_describe_user_scram_credentials_response,
    decode_incremental_alter_configs_response,
    delete_acls_request_body,
    delete_node_configs_request_body,
    describe_acls_request_body,
    describe_broker_configs_request_body,
    describe_user_scram_credentials_request_body,
    is_exact_filter,
    plan_acl_changes,
    plan_scram_users,
    reconcile_acls,
    reconcile_scram_users,
    scram_upsertion,
    scram_users,
    set_cluster_broker_config_request_body,
    wait_until,
    wire_acl,
)
from automq_helpers.kafka_probe import (
    BrokerInfo,
    ClusterInfo,
    DecodeError,
    ProbeError,
    SecurityConfig,
    decode_response_header,
    encode_request,
)


def cs(text: str) -> bytes:
    """A compact string, by hand: length + 1 (< 127: one varint byte), then UTF-8."""
    data = text.encode()
    assert len(data) < 127
    return bytes([len(data) + 1]) + data


def i16(value: int) -> bytes:
    return struct.pack(">h", value)


def i32(value: int) -> bytes:
    return struct.pack(">i", value)


TAGS = b"\x00"  # an empty tagged-fields section
NULL = b"\x00"  # a null compact string or array


# --------------------------------------------------------------------------- framing


def test_admin_requests_use_request_header_v2() -> None:
    """Flexible requests: RequestHeader v2 (ClientId stays an int16-length string, then
    tags); ResponseHeader v1 (correlation id, then tags)."""
    frame = encode_request(50, 0, 7, "automq-admin", b"BODY")
    header = i16(50) + i16(0) + i32(7) + i16(12) + b"automq-admin" + TAGS
    assert frame == i32(len(header) + 4) + header + b"BODY"
    for key, version in ((29, 2), (30, 3), (31, 2), (51, 0)):
        assert encode_request(key, version, 1, None, b"")[-1:] == TAGS
        assert decode_response_header(key, version, i32(9) + TAGS + b"rest") == (9, b"rest")


# --------------------------------------------------------------------------- SCRAM: bytes


def test_describe_user_scram_credentials_request() -> None:
    body = describe_user_scram_credentials_request_body(["alice", "bob"])
    # Users: 2 entries, each Name + tags; then the request's tags.
    assert body == b"\x03" + cs("alice") + TAGS + cs("bob") + TAGS + TAGS
    assert describe_user_scram_credentials_request_body(None) == NULL + TAGS
    assert describe_user_scram_credentials_request_body([]) == b"\x01" + TAGS


DESCRIBE_SCRAM_RESPONSE = (
    i32(10)  # ThrottleTimeMs
    + i16(0)  # ErrorCode
    + NULL  # ErrorMessage
    + b"\x03"  # Results: 2
    + cs("alice")  # User
    + i16(0)  # ErrorCode
    + NULL  # ErrorMessage
    + b"\x03"  # CredentialInfos: 2
    + b"\x02" + i32(8192) + TAGS  # Mechanism SCRAM-SHA-512, Iterations
    + b"\x01" + i32(4096) + TAGS  # Mechanism SCRAM-SHA-256, Iterations
    + TAGS  # end of alice
    + cs("bob")
    + i16(91)  # RESOURCE_NOT_FOUND
    + cs("Attempt to describe a user credential that does not exist: bob")
    + b"\x01"  # CredentialInfos: empty
    + TAGS
    + TAGS  # end of the response
)  # fmt: skip


def test_decode_describe_user_scram_credentials_response() -> None:
    assert decode_describe_user_scram_credentials_response(
        DESCRIBE_SCRAM_RESPONSE
    ) == DescribeUserScramResult(
        throttle_time_ms=10,
        error_code=0,
        error_message=None,
        results=(
            UserScramDescription(
                "alice", 0, None, (ScramCredentialInfo(2, 8192), ScramCredentialInfo(1, 4096))
            ),
            UserScramDescription(
                "bob", 91, "Attempt to describe a user credential that does not exist: bob", ()
            ),
        ),
    )
    assert ScramCredentialInfo(2, 1).mechanism_name == "SCRAM-SHA-512"
    assert ScramCredentialInfo(9, 1).mechanism_name == "UNKNOWN(9)"
    with pytest.raises(DecodeError, match="1 unexpected trailing bytes"):
        decode_describe_user_scram_credentials_response(DESCRIBE_SCRAM_RESPONSE + b"\x00")
    with pytest.raises(DecodeError, match="truncated"):
        decode_describe_user_scram_credentials_response(DESCRIBE_SCRAM_RESPONSE[:-3])


def test_alter_user_scram_credentials_request() -> None:
    upsertion = ScramUpsertion("dave", 2, 4096, salt=b"\x01\x02", salted_password=b"\xaa" * 3)
    body = alter_user_scram_credentials_request_body([ScramDeletion("carol", 1)], [upsertion])
    assert body == (
        b"\x02"  # Deletions: 1
        + cs("carol") + b"\x01" + TAGS  # Name, Mechanism SCRAM-SHA-256
        + b"\x02"  # Upsertions: 1
        + cs("dave") + b"\x02" + i32(4096)  # Name, Mechanism SCRAM-SHA-512, Iterations
        + b"\x03\x01\x02"  # Salt: compact bytes, 2
        + b"\x04\xaa\xaa\xaa"  # SaltedPassword: compact bytes, 3
        + TAGS
        + TAGS
    )  # fmt: skip
    assert alter_user_scram_credentials_request_body([], []) == b"\x01\x01" + TAGS


def test_decode_alter_user_scram_credentials_response() -> None:
    body = (
        i32(0)  # ThrottleTimeMs
        + b"\x03"  # Results: 2
        + cs("dave") + i16(0) + NULL + TAGS
        + cs("erin") + i16(93) + cs("Too few iterations") + TAGS
        + TAGS
    )  # fmt: skip
    assert decode_alter_user_scram_credentials_response(body) == (
        UserAlterationResult("dave", 0, None),
        UserAlterationResult("erin", 93, "Too few iterations"),
    )


# --------------------------------------------------------------------------- SCRAM: the credential


# RFC 7677 section 3: SCRAM-SHA-256, user "user", password "pencil".
RFC7677_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
RFC7677_AUTH_MESSAGE = (
    b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
)
RFC7677_PROOF = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
RFC7677_SERVER_SIGNATURE = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_salted_password_matches_rfc7677() -> None:
    """The salted password sent to Kafka is the one behind RFC 7677's exchange: the
    client proof and server signature derived from it here (RFC 5802 section 3, with
    hmac/hashlib directly) are the RFC's."""
    upsertion = scram_upsertion("user", "SCRAM-SHA-256", "pencil", 4096, salt=RFC7677_SALT)
    assert (upsertion.mechanism, upsertion.iterations, upsertion.salt) == (1, 4096, RFC7677_SALT)
    salted = upsertion.salted_password

    def mac(key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    client_key = mac(salted, b"Client Key")
    signature = mac(hashlib.sha256(client_key).digest(), RFC7677_AUTH_MESSAGE)
    assert bytes(a ^ b for a, b in zip(client_key, signature, strict=True)) == RFC7677_PROOF
    server_key = mac(salted, b"Server Key")
    assert mac(server_key, RFC7677_AUTH_MESSAGE) == RFC7677_SERVER_SIGNATURE


def hi(password: bytes, salt: bytes, iterations: int) -> bytes:
    """RFC 5802's Hi(), written out: U1 = HMAC(p, salt + INT(1)), Ui = HMAC(p, Ui-1),
    the result their XOR."""
    block = hmac.new(password, salt + b"\x00\x00\x00\x01", hashlib.sha512).digest()
    result = int.from_bytes(block, "big")
    for _ in range(iterations - 1):
        block = hmac.new(password, block, hashlib.sha512).digest()
        result ^= int.from_bytes(block, "big")
    return result.to_bytes(64, "big")


def test_salted_password_sha512_and_a_random_salt() -> None:
    salt = bytes(range(16))
    upsertion = scram_upsertion("u", "SCRAM-SHA-512", "pässwörd", 4096, salt=salt)
    assert upsertion.mechanism == 2
    assert upsertion.salted_password == hi("pässwörd".encode(), salt, 4096)

    first = scram_upsertion("u", "SCRAM-SHA-512", "same", 4096)
    second = scram_upsertion("u", "SCRAM-SHA-512", "same", 4096)
    assert len(first.salt) == len(second.salt) == SALT_BYTES
    assert first.salt != second.salt
    assert first.salted_password != second.salted_password


@pytest.mark.parametrize(
    ("mechanism", "iterations", "message"),
    [
        ("SCRAM-SHA-1", 8192, "mechanism must be one of SCRAM-SHA-256, SCRAM-SHA-512"),
        ("SCRAM-SHA-512", 4095, "iterations must be 4096-16384 (Kafka's limits), not 4095"),
        ("SCRAM-SHA-512", 16385, "iterations must be 4096-16384 (Kafka's limits), not 16385"),
    ],
)
def test_scram_upsertion_refuses_what_kafka_refuses(
    mechanism: str, iterations: int, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as failure:
        scram_upsertion("u", mechanism, "secret-password", iterations)
    assert "secret-password" not in str(failure.value)


# --------------------------------------------------------------------------- ACLs: bytes


ORDERS_READ = WireAcl(2, "orders", 3, "User:alice", "*", 3, 3)
ORDERS_ALL_PREFIXED = WireAcl(2, "orders", 4, "User:bob", "*", 2, 2)
# type TOPIC, name, pattern LITERAL, principal, host, operation READ, permission ALLOW
ORDERS_READ_BYTES = b"\x02" + cs("orders") + b"\x03" + cs("User:alice") + cs("*") + b"\x03\x03"
ORDERS_ALL_PREFIXED_BYTES = (
    b"\x02" + cs("orders") + b"\x04" + cs("User:bob") + cs("*") + b"\x02\x02"
)


@pytest.mark.parametrize("version", [2, 3])
def test_describe_acls_request(version: int) -> None:
    # ResourceTypeFilter ANY, ResourceNameFilter null, PatternTypeFilter ANY,
    # PrincipalFilter null, HostFilter null, Operation ANY, PermissionType ANY, tags.
    assert describe_acls_request_body(ANY_ACL, version) == b"\x01\x00\x01\x00\x00\x01\x01\x00"
    assert describe_acls_request_body(ORDERS_READ, version) == ORDERS_READ_BYTES + TAGS


@pytest.mark.parametrize("version", [0, 1, 4])
def test_acl_requests_refuse_other_versions(version: int) -> None:
    for encode in (describe_acls_request_body, create_acls_request_body):
        with pytest.raises(ValueError, match=f"only ACL requests v2-v3 .* not v{version}"):
            encode(ANY_ACL if encode is describe_acls_request_body else [], version)  # type: ignore[operator]


DESCRIBE_ACLS_RESPONSE = (
    i32(0)  # ThrottleTimeMs
    + i16(0)  # ErrorCode
    + NULL  # ErrorMessage
    + b"\x03"  # Resources: 2
    + b"\x02" + cs("orders") + b"\x03"  # TOPIC orders LITERAL
    + b"\x03"  # Acls: 2
    + cs("User:alice") + cs("*") + b"\x03\x03" + TAGS  # READ ALLOW
    + cs("User:alice") + cs("10.0.0.1") + b"\x08\x02" + TAGS  # DESCRIBE DENY
    + TAGS
    + b"\x04" + cs("kafka-cluster") + b"\x03"  # CLUSTER kafka-cluster LITERAL
    + b"\x02"  # Acls: 1
    + cs("User:monitor") + cs("*") + b"\x0a\x03" + TAGS  # DESCRIBE_CONFIGS ALLOW
    + TAGS
    + TAGS
)  # fmt: skip


def test_decode_describe_acls_response() -> None:
    assert decode_describe_acls_response(DESCRIBE_ACLS_RESPONSE, 3) == DescribeAclsResult(
        0,
        0,
        None,
        (
            ORDERS_READ,
            WireAcl(2, "orders", 3, "User:alice", "10.0.0.1", 8, 2),
            WireAcl(4, "kafka-cluster", 3, "User:monitor", "*", 10, 3),
        ),
    )
    refused = i32(0) + i16(54) + cs("No Authorizer is configured on the broker") + b"\x01" + TAGS
    assert decode_describe_acls_response(refused, 2) == DescribeAclsResult(
        0, 54, "No Authorizer is configured on the broker", ()
    )


def test_create_acls_request_and_response() -> None:
    body = create_acls_request_body([ORDERS_READ, ORDERS_ALL_PREFIXED], 2)
    # Creations: 2, each ResourceType, ResourceName, ResourcePatternType, Principal,
    # Host, Operation, PermissionType, tags.
    assert body == b"\x03" + ORDERS_READ_BYTES + TAGS + ORDERS_ALL_PREFIXED_BYTES + TAGS + TAGS
    response = (
        i32(0)  # ThrottleTimeMs
        + b"\x03"  # Results: 2
        + i16(0) + NULL + TAGS
        + i16(42) + cs("bad ACL") + TAGS
        + TAGS
    )  # fmt: skip
    assert decode_create_acls_response(response, 3) == ((0, None), (42, "bad ACL"))


def test_delete_acls_request_and_response() -> None:
    body = delete_acls_request_body([ORDERS_READ], 3)
    assert body == b"\x02" + ORDERS_READ_BYTES + TAGS + TAGS
    response = (
        i32(0)  # ThrottleTimeMs
        + b"\x03"  # FilterResults: 2
        + i16(0) + NULL  # ErrorCode, ErrorMessage
        + b"\x02"  # MatchingAcls: 1
        + i16(0) + NULL + ORDERS_READ_BYTES + TAGS  # ErrorCode, ErrorMessage, the ACL
        + TAGS
        + i16(31) + cs("denied") + b"\x01" + TAGS  # a refused filter, nothing matched
        + TAGS
    )  # fmt: skip
    assert decode_delete_acls_response(response, 2) == (
        DeleteFilterResult(0, None, (DeletedAcl(0, None, ORDERS_READ),)),
        DeleteFilterResult(31, "denied", ()),
    )


# --------------------------------------------------------------------------- ACLs: names, filters


def test_acl_binding_round_trip_and_unknown_codes() -> None:
    assert acl_binding(ORDERS_READ) == AclBinding(
        "User:alice", "*", "topic", "orders", "literal", "read", "allow"
    )
    assert wire_acl(acl_binding(ORDERS_ALL_PREFIXED)) == ORDERS_ALL_PREFIXED
    # A code access.py does not know (a newer Kafka's) survives the round trip.
    future = WireAcl(8, "x", 3, "User:a", "*", 15, 3)
    assert acl_binding(future).resource_type == "code-8"
    assert acl_binding(future).operation == "code-15"
    assert wire_acl(acl_binding(future)) == future
    with pytest.raises(ValueError, match="unknown operation 'everything'"):
        wire_acl(AclBinding("User:a", "*", "topic", "x", "literal", "everything", "allow"))
    with pytest.raises(ValueError, match="null fields"):
        acl_binding(ANY_ACL)


def test_exact_filters() -> None:
    assert is_exact_filter(ORDERS_READ)
    assert is_exact_filter(ORDERS_ALL_PREFIXED)  # ALL (2) is an operation, not ANY (1)
    for inexact in (
        ANY_ACL,
        WireAcl(2, "orders", 2, "User:a", "*", 3, 3),  # PatternType.MATCH
        WireAcl(2, "orders", 1, "User:a", "*", 3, 3),  # PatternType.ANY
        WireAcl(2, "orders", 3, "User:a", "*", 1, 3),  # AclOperation.ANY
        WireAcl(2, "orders", 3, None, "*", 3, 3),  # any principal
        WireAcl(0, "orders", 3, "User:a", "*", 3, 3),  # UNKNOWN resource type
    ):
        assert not is_exact_filter(inexact), inexact


# --------------------------------------------------------------------------- the client: errors


VERSIONS = _api_versions({3: (0, 12), 18: (0, 4), 29: (0, 3), 30: (0, 3), 31: (0, 3), 50: (0, 0)})


def frame(body: bytes) -> bytes:
    """A flexible response frame for FakeBroker: correlation id (patched), tags, body."""
    return i32(0) + TAGS + body


def scram_error_response(code: int, message: str | None) -> bytes:
    return i32(0) + i16(code) + (NULL if message is None else cs(message)) + b"\x01" + TAGS


@pytest.mark.parametrize(
    ("code", "message", "error_type", "text"),
    [
        (
            31,
            None,
            ClusterAuthorizationFailed,
            "CLUSTER_AUTHORIZATION_FAILED: Cluster authorization failed. (the connection's "
            "principal lacks the cluster permission (ALTER to change, DESCRIBE to read): "
            "connect with the node's certificate, a super user)",
        ),
        (
            54,
            "No Authorizer is configured on the broker",
            SecurityDisabled,
            "SECURITY_DISABLED: No Authorizer is configured on the broker (the broker has no "
            "authorizer (authorizer.class.name))",
        ),
        (-1, None, AdminError, "UNKNOWN_SERVER_ERROR: The server experienced an unexpected"),
        (77, "odd", AdminError, "ERROR_77: odd"),
    ],
)
def test_top_level_errors_are_typed(
    code: int, message: str | None, error_type: type[AdminError], text: str
) -> None:
    frames = {18: VERSIONS, 50: frame(scram_error_response(code, message))}
    with (
        FakeBroker(frames) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(AdminError) as failure,
    ):
        admin.describe_user_scram_credentials(["alice"])
    assert type(failure.value) is error_type
    assert str(failure.value).startswith(
        f"127.0.0.1:{broker.port}: DescribeUserScramCredentials v0 failed: {text}"
    )
    assert (failure.value.code, failure.value.broker_message) == (code, message)


def test_unknown_users_are_not_present_and_other_user_errors_raise() -> None:
    frames = {18: VERSIONS, 50: frame(DESCRIBE_SCRAM_RESPONSE)}
    with FakeBroker(frames) as broker, KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin:
        found = admin.describe_user_scram_credentials(["alice", "bob"])
    assert found == {
        "alice": (ScramCredentialInfo(2, 8192), ScramCredentialInfo(1, 4096)),
        "bob": (),
    }

    duplicate = (
        i32(0) + i16(0) + NULL + b"\x02"
        + cs("carol") + i16(92) + cs("Cannot describe SCRAM credentials for the same user twice")
        + b"\x01" + TAGS + TAGS
    )  # fmt: skip
    with (
        FakeBroker({18: VERSIONS, 50: frame(duplicate)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(DuplicateResource) as failure,
    ):
        admin.describe_user_scram_credentials(["carol", "carol"])
    assert str(failure.value) == (
        f"127.0.0.1:{broker.port}: DescribeUserScramCredentials v0 failed: user 'carol': "
        "DUPLICATE_RESOURCE: Cannot describe SCRAM credentials for the same user twice"
    )


def test_alter_errors_name_each_user_and_no_secret() -> None:
    answer = (
        i32(0) + b"\x03"
        + cs("erin") + i16(33) + cs("Unknown SCRAM mechanism") + TAGS
        + cs("dave") + i16(93) + cs("Too few iterations") + TAGS
        + TAGS
    )  # fmt: skip
    versions = _api_versions({3: (0, 12), 18: (0, 4), 51: (0, 0)})
    upsertion = scram_upsertion("dave", "SCRAM-SHA-512", "dave-secret-password", 4096)
    with (
        FakeBroker({18: versions, 51: frame(answer)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(UnsupportedSaslMechanism) as failure,
    ):
        admin.alter_user_scram_credentials([ScramDeletion("erin", 9)], [upsertion])
    text = str(failure.value)
    assert text == (
        f"127.0.0.1:{broker.port}: AlterUserScramCredentials v0 failed: user 'erin': "
        "UNSUPPORTED_SASL_MECHANISM: Unknown SCRAM mechanism; user 'dave': "
        "UNACCEPTABLE_CREDENTIAL: Too few iterations"
    )
    assert_no_secret(text, "dave-secret-password", upsertion)


def test_a_user_missing_from_the_alter_answer_is_an_error() -> None:
    versions = _api_versions({3: (0, 12), 18: (0, 4), 51: (0, 0)})
    answer = i32(0) + b"\x01" + TAGS
    with (
        FakeBroker({18: versions, 51: frame(answer)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(AdminError, match="user 'erin': UNKNOWN_SERVER_ERROR: no result for"),
    ):
        admin.alter_user_scram_credentials([ScramDeletion("erin", 2)], [])


def test_acl_errors_name_the_acl() -> None:
    frames = {18: VERSIONS, 30: frame(i32(0) + b"\x02" + i16(42) + cs("bad") + TAGS + TAGS)}
    with (
        FakeBroker(frames) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(AdminError) as failure,
    ):
        admin.create_acls([ORDERS_READ])
    assert str(failure.value) == (
        f"127.0.0.1:{broker.port}: CreateAcls v3 failed: allow User:alice read on topic "
        "literal:orders from *: INVALID_REQUEST: bad"
    )


def test_controller_listeners_and_old_brokers_are_refused() -> None:
    controller = _api_versions({18: (0, 4), 29: (0, 3), 50: (0, 0)})  # no Metadata
    with (
        FakeBroker({18: controller}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(ProbeError, match="not a broker listener"),
    ):
        admin.require_broker()
    old = _api_versions({3: (0, 12), 18: (0, 4), 29: (0, 1)})  # DescribeAcls v0-v1 only
    with FakeBroker({18: old}) as broker, KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin:
        admin.require_broker()
        with pytest.raises(
            ProbeError, match=r"supports DescribeAcls v0-v1 only; this probe needs v2-v3"
        ):
            admin.describe_acls()


# --------------------------------------------------------------------------- declared users


def test_scram_users_from_the_option() -> None:
    users = scram_users(
        [
            {"name": "a", "password": "pw-a-123456789"},
            {"name": "b", "state": "absent", "password": None, "mechanism": None},
            {"name": "c", "password": "pw-c", "mechanism": "SCRAM-SHA-256", "iterations": 4096},
        ]
    )
    assert users == [
        ScramUser("a", password="pw-a-123456789"),
        ScramUser("b", state="absent"),
        ScramUser("c", mechanism="SCRAM-SHA-256", iterations=4096, password="pw-c"),
    ]
    assert "pw-a" not in repr(users)


def test_scram_users_problems_never_show_a_password() -> None:
    with pytest.raises(ValueError, match="listed twice") as failure:
        scram_users(
            [
                {"name": "a", "password": "first-secret"},
                {"name": "a", "password": "second-secret"},
                {"name": "b"},
                {"name": "c", "password": "third-secret", "iterations": 20000},
                {"name": "d", "password": "fourth-secret", "mechanism": "PLAIN"},
                {"password": "fifth-secret"},
            ]
        )
    text = str(failure.value)
    assert text == (
        "users[1] (a) is listed twice; users[2] (b): a present user needs a password; "
        "users[3] (c): iterations must be 4096-16384 (Kafka's limits), not 20000; "
        "users[4] (d): mechanism must be one of SCRAM-SHA-256, SCRAM-SHA-512, not 'PLAIN'; "
        "users[5] needs a name"
    )
    assert "secret" not in text


# --------------------------------------------------------------------------- plans


SHA512, SHA256 = 2, 1


def never_asked(user: ScramUser) -> bool:
    raise AssertionError(f"no login expected for {user.name}")


def test_plan_scram_users() -> None:
    declared = [
        ScramUser("new", password="p1"),
        ScramUser("same", password="p2"),
        ScramUser("changed", password="p3"),
        ScramUser("fewer-iterations", password="p4", iterations=4096),
        ScramUser("other-mechanism", password="p5"),
        ScramUser("both-mechanisms", password="p6"),
        ScramUser("gone", state="absent"),
        ScramUser("never-there", state="absent"),
    ]
    existing = {
        "new": (),
        "same": (ScramCredentialInfo(SHA512, 8192),),
        "changed": (ScramCredentialInfo(SHA512, 8192),),
        "fewer-iterations": (ScramCredentialInfo(SHA512, 8192),),
        "other-mechanism": (ScramCredentialInfo(SHA256, 8192),),
        "both-mechanisms": (ScramCredentialInfo(SHA512, 8192), ScramCredentialInfo(SHA256, 4096)),
        "gone": (ScramCredentialInfo(SHA512, 8192), ScramCredentialInfo(SHA256, 4096)),
    }
    asked: list[str] = []

    def login_works(user: ScramUser) -> bool:
        asked.append(user.name)
        return user.name != "changed"

    plan = plan_scram_users(declared, existing, login_works)
    assert asked == ["same", "changed", "both-mechanisms"]  # only where the credential fits
    assert plan.created == ("new",)
    assert plan.updated == ("changed", "fewer-iterations", "other-mechanism", "both-mechanisms")
    assert plan.removed == ("gone",)
    assert [user.name for user in plan.upsert] == [
        "new",
        "changed",
        "fewer-iterations",
        "other-mechanism",
    ]
    assert plan.delete == (
        ScramDeletion("other-mechanism", SHA256),
        ScramDeletion("both-mechanisms", SHA256),
        ScramDeletion("gone", SHA512),
        ScramDeletion("gone", SHA256),
    )
    assert plan.changed
    unchanged = plan_scram_users(declared[1:2], existing, lambda user: True)
    assert unchanged == ScramPlan()
    assert not unchanged.changed


def test_alteration_batches_name_each_user_once_per_request() -> None:
    up = [scram_upsertion(name, "SCRAM-SHA-512", "pw", 4096, b"s") for name in ("a", "b")]
    deletions = [ScramDeletion("a", SHA256), ScramDeletion("c", SHA512), ScramDeletion("c", SHA256)]
    assert alteration_batches(deletions, up) == [
        ([ScramDeletion("c", SHA512)], up),
        ([ScramDeletion("a", SHA256), ScramDeletion("c", SHA256)], []),
    ]
    assert alteration_batches([], []) == []


ACL_APP_READ = AclBinding("User:app", "*", "topic", "orders", "literal", "read", "allow")
ACL_APP_ALL = AclBinding("User:app", "*", "topic", "orders", "literal", "all", "allow")
ACL_OTHER_ALL = AclBinding("User:other", "*", "topic", "orders", "literal", "all", "allow")
ACL_OTHER_PREFIXED = AclBinding("User:other", "*", "topic", "orders", "prefixed", "read", "allow")
ACL_OTHER_READ = AclBinding("User:other", "*", "topic", "orders", "literal", "read", "allow")


def declared_acl(principal: str, operations: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "principal": principal,
        "resource_type": "topic",
        "resource_name": "orders",
        "pattern_type": "literal",
        "operations": operations,
        "permission": "allow",
        "host": "*",
        "state": "present",
        **fields,
    }


def test_plan_acl_changes() -> None:
    existing = [
        wire_acl(b) for b in (ACL_APP_ALL, ACL_OTHER_ALL, ACL_OTHER_PREFIXED, ACL_OTHER_READ)
    ]
    plan = plan_acl_changes(
        existing,
        [
            declared_acl("User:app", ["read"]),
            declared_acl("User:other", ["read"], state="absent"),
        ],
        ["User:app"],
    )
    assert plan.create == (ACL_APP_READ,)
    assert plan.delete == (ACL_APP_ALL, ACL_OTHER_READ)
    assert set(plan.after) == {ACL_APP_READ, ACL_OTHER_ALL, ACL_OTHER_PREFIXED}
    assert acl_lines(plan.after) == (
        "allow User:app read on topic literal:orders from *\n"
        "allow User:other all on topic literal:orders from *\n"
        "allow User:other read on topic prefixed:orders from *\n"
    )
    assert AclPlan((), (), ()).changed is False


# --------------------------------------------------------------------------- reconciliation


class FakeAdmin:
    """KafkaAdmin's admin calls on an in-memory cluster."""

    address = "fake:9094"

    def __init__(self) -> None:
        self.credentials: dict[str, dict[int, int]] = {}
        self.acls: set[WireAcl] = set()
        self.calls: list[str] = []

    def require_broker(self) -> None:
        self.calls.append("require_broker")

    def describe_user_scram_credentials(
        self, users: Sequence[str]
    ) -> dict[str, tuple[ScramCredentialInfo, ...]]:
        self.calls.append(f"describe {','.join(users)}")
        return {
            user: tuple(
                ScramCredentialInfo(m, i) for m, i in sorted(self.credentials.get(user, {}).items())
            )
            for user in users
        }

    def alter_user_scram_credentials(
        self, deletions: Sequence[ScramDeletion], upsertions: Sequence[ScramUpsertion]
    ) -> None:
        names = [d.name for d in deletions] + [u.name for u in upsertions]
        assert len(names) == len(set(names)), "a user twice in one request"
        self.calls.append(f"alter -{len(deletions)} +{len(upsertions)}")
        for deletion in deletions:
            del self.credentials[deletion.name][deletion.mechanism]
        for upsertion in upsertions:
            self.credentials.setdefault(upsertion.name, {})[upsertion.mechanism] = (
                upsertion.iterations
            )

    def describe_acls(self, acl_filter: WireAcl = ANY_ACL) -> list[WireAcl]:
        self.calls.append("describe_acls")
        return sorted(self.acls, key=repr)

    def create_acls(self, creations: Sequence[WireAcl]) -> None:
        self.calls.append(f"create_acls {len(creations)}")
        self.acls.update(creations)

    def delete_acls(self, filters: Sequence[WireAcl]) -> list[WireAcl]:
        self.calls.append(f"delete_acls {len(filters)}")
        # Kafka's matching (AclBindingFilter.matches) for the exact filters sent here.
        gone = [acl for acl in self.acls if acl in filters]
        self.acls.difference_update(gone)
        return gone


def test_reconcile_scram_users_writes_then_waits_for_the_login() -> None:
    admin = FakeAdmin()
    admin.credentials = {"old": {SHA512: 8192}, "mixed": {SHA256: 4096}}
    logins: list[str] = []
    written: dict[str, str] = {}
    original = admin.alter_user_scram_credentials

    def alter(deletions: Sequence[ScramDeletion], upsertions: Sequence[ScramUpsertion]) -> None:
        original(deletions, upsertions)
        written.update({u.name: u.salted_password.hex() for u in upsertions})

    admin.alter_user_scram_credentials = alter  # type: ignore[method-assign]
    propagated = {"count": 0}

    def login_works(user: ScramUser) -> bool:
        logins.append(user.name)
        if user.name not in written:
            return False
        propagated["count"] += 1
        return propagated["count"] > 1  # the first check after the write is too early

    sleeps: list[float] = []
    plan = reconcile_scram_users(
        admin,  # type: ignore[arg-type]
        [
            ScramUser("new", password="p-new"),
            ScramUser("mixed", password="p-mixed"),
            ScramUser("old", state="absent"),
        ],
        login_works,
        wait_timeout=5,
        sleep=sleeps.append,
    )
    assert (plan.created, plan.updated, plan.removed) == (("new",), ("mixed",), ("old",))
    # One request for the writes and the first deletion of each user, one for the rest.
    assert admin.calls == [
        "require_broker",
        "describe new,mixed,old",
        "alter -1 +2",
        "alter -1 +0",
        "describe mixed,old",
    ]
    assert admin.credentials == {"new": {SHA512: 8192}, "mixed": {SHA512: 8192}, "old": {}}
    assert sleeps == [0.05]  # polled again once, after a short pause
    assert logins.count("new") == 2  # not logged in again once it worked


def test_reconcile_scram_users_check_mode_and_no_change() -> None:
    admin = FakeAdmin()
    plan = reconcile_scram_users(
        admin,  # type: ignore[arg-type]
        [ScramUser("new", password="p")],
        never_asked,
        check_mode=True,
    )
    assert plan.created == ("new",)
    assert admin.calls == ["require_broker", "describe new"]
    admin.calls.clear()
    assert reconcile_scram_users(admin, [], never_asked) == ScramPlan()  # type: ignore[arg-type]
    assert admin.calls == ["require_broker"]  # an empty list would describe every user


def test_reconcile_scram_users_times_out_naming_the_user() -> None:
    admin = FakeAdmin()
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(PropagationTimeout) as failure:
        reconcile_scram_users(
            admin,  # type: ignore[arg-type]
            [ScramUser("slow", password="slow-secret-password")],
            lambda user: False,
            wait_timeout=3,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert now[0] == pytest.approx(3.0)
    assert str(failure.value).startswith(
        "the broker did not apply the SCRAM changes (see wait_timeout) within 3s: "
        "user 'slow' cannot log in with the new password"
    )
    assert "slow-secret-password" not in str(failure.value)


def test_wait_until_is_bounded_and_grows_its_interval() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(PropagationTimeout, match=r"^waiting within 2s: still$"):
        wait_until(lambda: "still", 2.0, "waiting", clock=lambda: now[0], sleep=sleep)
    assert sleeps[:5] == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert sum(sleeps) == pytest.approx(2.0)
    answers = iter(["not yet", None])
    took = wait_until(lambda: next(answers), 2.0, "x", clock=lambda: now[0], sleep=sleep)
    assert took == pytest.approx(0.05)


def test_reconcile_acls_deletes_exactly_and_waits() -> None:
    admin = FakeAdmin()
    admin.acls = {
        wire_acl(b) for b in (ACL_APP_ALL, ACL_OTHER_ALL, ACL_OTHER_PREFIXED, ACL_OTHER_READ)
    }
    declared = [
        declared_acl("User:app", ["read"]),
        declared_acl("User:other", ["read"], state="absent"),
    ]
    planned = reconcile_acls(admin, declared, ["User:app"], check_mode=True)  # type: ignore[arg-type]
    assert planned.create == (ACL_APP_READ,)
    assert admin.calls == ["require_broker", "describe_acls"]

    admin.calls.clear()
    plan = reconcile_acls(admin, declared, ["User:app"], sleep=lambda s: None)  # type: ignore[arg-type]
    assert plan == planned
    assert admin.calls == [
        "require_broker",
        "describe_acls",
        "create_acls 1",
        "delete_acls 2",
        "describe_acls",
    ]
    assert {acl_binding(acl) for acl in admin.acls} == {
        ACL_APP_READ,
        ACL_OTHER_ALL,
        ACL_OTHER_PREFIXED,
    }


def test_reconcile_acls_refuses_a_broker_that_deletes_more() -> None:
    admin = FakeAdmin()
    admin.acls = {wire_acl(ACL_APP_ALL), wire_acl(ACL_OTHER_ALL)}

    def delete_everything(filters: Sequence[WireAcl]) -> list[WireAcl]:
        gone = list(admin.acls)
        admin.acls.clear()
        return gone

    admin.delete_acls = delete_everything  # type: ignore[method-assign]
    with pytest.raises(ProbeError) as failure:
        reconcile_acls(admin, [], ["User:app"])  # type: ignore[arg-type]
    assert str(failure.value) == (
        "fake:9094: DeleteAcls deleted ACLs it was not asked to: "
        "allow User:other all on topic literal:orders from *"
    )


# --------------------------------------------------------------------------- redaction


def assert_no_secret(text: str, password: str, upsertion: ScramUpsertion) -> None:
    for secret in (
        password,
        upsertion.salt.hex(),
        upsertion.salted_password.hex(),
        repr(upsertion.salt),
        repr(upsertion.salted_password),
        base64.b64encode(upsertion.salted_password).decode(),
    ):
        assert secret not in text


def test_reprs_leave_the_secrets_out() -> None:
    upsertion = scram_upsertion("dave", "SCRAM-SHA-512", "dave-secret-password", 8192)
    assert repr(upsertion) == "ScramUpsertion(name='dave', mechanism=2, iterations=8192)"
    assert_no_secret(repr([upsertion]), "dave-secret-password", upsertion)
    user = ScramUser("dave", password="dave-secret-password")
    assert "dave-secret-password" not in repr(user) + str(user)


def test_admin_errors_from_a_failure_list() -> None:
    error = ResourceNotFound("x", 91, None)
    assert (error.code, error.name) == (91, "RESOURCE_NOT_FOUND")
    assert isinstance(error, ProbeError)
    assert isinstance(UnacceptableCredential("x", 93, None), AdminError)


# --------------------------------------------------------------------------- node configuration

KEY = "listener.name.internal.ssl.keystore.location"


def test_delete_node_configs_request() -> None:
    """IncrementalAlterConfigs v1: Resources[ResourceType, ResourceName,
    Configs[Name, ConfigOperation, Value]], ValidateOnly."""
    assert delete_node_configs_request_body(3, [KEY]) == (
        b"\x02"  # one resource
        + b"\x04"  # ResourceType BROKER
        + cs("3")  # ResourceName: the node ID
        + b"\x02"  # one config
        + cs(KEY)
        + b"\x01"  # ConfigOperation DELETE
        + NULL  # Value
        + TAGS
        + TAGS
        + b"\x00"  # ValidateOnly false
        + TAGS
    )


ALTER_CONFIGS_RESPONSE = (
    i32(0)  # ThrottleTimeMs
    + b"\x02"  # one response
    + i16(0)  # ErrorCode
    + NULL  # ErrorMessage
    + b"\x04"  # ResourceType
    + cs("3")
    + TAGS
    + TAGS
)


def test_decode_incremental_alter_configs_response() -> None:
    assert decode_incremental_alter_configs_response(ALTER_CONFIGS_RESPONSE) == (
        ConfigResult(0, None, 4, "3"),
    )


def test_reload_node_files_sends_the_request_and_raises_its_error() -> None:
    versions = _api_versions({18: (0, 4), 44: (0, 1)})
    with (
        FakeBroker({18: versions, 44: frame(ALTER_CONFIGS_RESPONSE)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
    ):
        admin.reload_node_files(3, [KEY])
    refused = (
        i32(0) + b"\x02" + i16(42) + cs("Unable to validate") + b"\x04" + cs("3") + TAGS + TAGS
    )
    with (
        FakeBroker({18: versions, 44: frame(refused)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(AdminError, match=r"IncrementalAlterConfigs v1 failed: node 3: INVALID_REQ"),
    ):
        admin.reload_node_files(3, [KEY])
    old = _api_versions({18: (0, 4), 44: (0, 0)})
    with (
        FakeBroker({18: old}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(ProbeError, match=r"IncrementalAlterConfigs v0-v0 only; this probe needs v1"),
    ):
        admin.reload_node_files(3, [KEY])


EXCLUDE = "autobalancer.controller.exclude.broker.ids"


def test_describe_broker_configs_request() -> None:
    """DescribeConfigs v4: Resources[ResourceType, ResourceName, ConfigurationKeys],
    IncludeSynonyms, IncludeDocumentation."""
    assert describe_broker_configs_request_body("0", [EXCLUDE]) == (
        b"\x02" + b"\x04" + cs("0") + b"\x02" + cs(EXCLUDE) + TAGS + b"\x00" + b"\x00" + TAGS
    )


def describe_configs_response(entries: list[tuple[str, str | None, int, int]]) -> bytes:
    body = i32(0) + b"\x02" + i16(0) + NULL + b"\x04" + cs("0") + bytes([len(entries) + 1])
    for name, value, source, config_type in entries:
        body += cs(name) + (NULL if value is None else cs(value))
        body += b"\x00" + bytes([source]) + (b"\x01" if value is None else b"\x00")
        body += b"\x02" + cs(name) + cs("x") + bytes([source]) + TAGS  # one synonym
        body += bytes([config_type]) + NULL + TAGS
    return body + TAGS + TAGS


def test_decode_describe_configs_response() -> None:
    """AutoMQ's broker lists the setting it defines (LIST, 7); Kafka's lists one set
    dynamically that it does not define as sensitive, without value, of type UNKNOWN."""
    body = describe_configs_response([(EXCLUDE, "1000", 4, 7), ("other", None, 4, 0)])
    assert decode_describe_configs_response(body) == (
        DescribeConfigsResult(
            0, None, "0", (ConfigEntry(EXCLUDE, "1000", 4, 7), ConfigEntry("other", None, 4, 0))
        ),
    )


def test_set_cluster_broker_config_request() -> None:
    assert set_cluster_broker_config_request_body(EXCLUDE, "4,5") == (
        b"\x02"
        + b"\x04"
        + cs("")  # ResourceName: the cluster-wide default
        + b"\x02"
        + cs(EXCLUDE)
        + b"\x00"  # ConfigOperation SET
        + cs("4,5")
        + TAGS
        + TAGS
        + b"\x00"
        + TAGS
    )


def test_broker_config_over_the_wire() -> None:
    versions = _api_versions({18: (0, 4), 32: (0, 4), 44: (0, 1)})
    listed = describe_configs_response([(EXCLUDE, "", 5, 7)])
    with (
        FakeBroker({18: versions, 32: frame(listed)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
    ):
        assert admin.broker_config("0", EXCLUDE) == ConfigEntry(EXCLUDE, "", 5, 7)
        assert admin.broker_config("0", "not.listed") is None
    refused = i32(0) + b"\x02" + i16(31) + NULL + b"\x04" + cs("") + TAGS + TAGS
    with (
        FakeBroker({18: versions, 44: frame(refused)}) as broker,
        KafkaAdmin("127.0.0.1", broker.port, 2.0) as admin,
        pytest.raises(AdminError, match=r"failed: the cluster default: CLUSTER_AUTHORIZATION_F"),
    ):
        admin.set_cluster_broker_config(EXCLUDE, "4")


class LaggingBroker:
    """Another broker: describes what the first one has, one describe call late."""

    def __init__(self, leader: FakeAdmin, address: str) -> None:
        self.leader = leader
        self.address = address
        self.seen: list[WireAcl] = []
        self.closed = False

    def describe_acls(self, acl_filter: WireAcl = ANY_ACL) -> list[WireAcl]:
        self.leader.calls.append(f"describe_acls on {self.address}")
        shown, self.seen = self.seen, sorted(self.leader.acls, key=repr)
        return shown

    def close(self) -> None:
        self.closed = True


def test_reconcile_acls_holding_open_waits_for_every_broker_between_steps() -> None:
    admin = FakeAdmin()
    other = LaggingBroker(admin, "other:9094")
    declared = [declared_acl("User:app", ["write", "describe"], pattern_type="prefixed")]
    bridge = AclBinding("User:*", "*", "topic", "orders", "prefixed", "all", "allow")
    plan = reconcile_acls(
        admin,  # type: ignore[arg-type]
        declared,
        ["User:app"],
        sleep=lambda s: None,
        hold_open=True,
        admins_of_brokers=lambda first: [first, other],  # type: ignore[list-item]
    )
    assert plan.holding.open_first == (bridge,)
    assert plan.holding.close_last == (bridge,)
    assert [call.split(" on ")[0] for call in admin.calls] == [
        "require_broker",
        "describe_acls",
        "create_acls 1",  # the bridge, until both brokers describe it
        "describe_acls",
        "describe_acls",
        "describe_acls",
        "describe_acls",
        "create_acls 2",  # describe, then write: the bridge admits both meanwhile
        "describe_acls",
        "describe_acls",
        "describe_acls",
        "describe_acls",
        "delete_acls 1",  # the bridge goes once both brokers have the ACLs
        "describe_acls",
        "describe_acls",
        "describe_acls",
        "describe_acls",
    ]
    assert {acl_binding(acl) for acl in admin.acls} == set(plan.create) == set(plan.after)
    assert other.closed
    assert plan.changed
    again = reconcile_acls(admin, declared, ["User:app"], hold_open=True)  # type: ignore[arg-type]
    assert not again.changed
    assert again.holding.open_first == ()


def test_reconcile_acls_without_holding_open_asks_one_broker() -> None:
    admin = FakeAdmin()

    def never(first: object) -> list[object]:
        raise AssertionError("only a hold-open run asks every broker")

    reconcile_acls(
        admin,  # type: ignore[arg-type]
        [declared_acl("User:app", ["read"])],
        ["User:app"],
        sleep=lambda s: None,
        admins_of_brokers=never,  # type: ignore[arg-type]
    )
    assert admin.calls == ["require_broker", "describe_acls", "create_acls 1", "describe_acls"]


def test_broker_admins_reach_every_broker_checked_against_its_own_name() -> None:
    security = SecurityConfig(protocol="SSL", ca_file="/ca.crt", server_hostname="node-1")
    admin = KafkaAdmin("10.0.0.1", 9094, 3.0, security=security)
    brokers = (BrokerInfo(1, "10.0.0.1", 9094), BrokerInfo(2, "10.0.0.2", 9094))
    admin.describe_cluster = lambda: ClusterInfo(0, None, "c", 1, brokers)  # type: ignore[method-assign]
    first, second = broker_admins(admin)
    assert first is admin
    assert second.address == "10.0.0.2:9094"
    assert second.connection.timeout == 3.0
    assert second.connection.security == SecurityConfig(protocol="SSL", ca_file="/ca.crt")
    admin.describe_cluster = lambda: ClusterInfo(0, None, "c", 1, brokers[1:])  # type: ignore[method-assign]
    assert broker_admins(admin)[0] is admin  # asked even when it is not listed (fenced)
