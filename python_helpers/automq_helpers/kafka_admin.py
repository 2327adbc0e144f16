"""Kafka admin requests for the cluster's SCRAM users and ACLs, and their reconciliation.

Runs on the broker hosts as module_utils of the ``kafka_scram_users`` and ``kafka_acls``
modules: standard library only, Python 3.8+ (see kafka_probe's header).  Built on
kafka_probe: its Reader/Writer, framing, TLS/SASL connections and version negotiation.

Requests, with the schemas of Kafka 3.9's ``clients/src/main/resources/common/message``:

* ``DescribeUserScramCredentials`` (key 50) v0 and ``AlterUserScramCredentials`` (key 51)
  v0, both flexible.  An upsertion carries the salt and the *salted* password
  (RFC 5802 ``Hi()``), computed here: the password never leaves this host, and neither
  the salted password nor the salt appears in a result, message or ``repr``.
* ``DescribeAcls`` (29), ``CreateAcls`` (30), ``DeleteAcls`` (31) at v2-v3, the highest
  both sides support (flexible; v3 only adds the USER resource type).
* ``IncrementalAlterConfigs`` (44) v1 (flexible), for one node's own configuration: what
  makes a running node reload its key store file (``reload_node_files``).

They are sent to a broker listener.  The broker forwards the changes to the active
controller (KafkaApis: ``maybeForwardToController``) and answers descriptions from its
own metadata image, so a change shows up there (and in what the broker authenticates
and authorizes with) a moment after the answer: the ``reconcile_*`` functions poll
until it does, within a bounded time.

Layers: pure request bodies, decoders, conversions and plans (``plan_scram_users``,
``alteration_batches``, ``plan_acl_changes``); then :class:`KafkaAdmin` (I/O) and
:func:`reconcile_scram_users` / :func:`reconcile_acls`, which the modules call.
Kafka error codes in answers are raised as :class:`AdminError` subclasses named after
Kafka's errors, with Kafka's message.
"""

# The hosts may only have Python 3.8: keep typing.List & co. (UP006/UP035/UP045).
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import (
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    Type,
)

from .access import (
    OPERATIONS,
    PATTERN_TYPES,
    PERMISSIONS,
    RESOURCE_TYPES,
    AclBinding,
    HoldOpenPlan,
    desired_bindings,
    plan_acls,
    plan_holding_open,
)
from .kafka_probe import (
    API_ALTER_USER_SCRAM_CREDENTIALS,
    API_CREATE_ACLS,
    API_DELETE_ACLS,
    API_DESCRIBE_ACLS,
    API_DESCRIBE_CONFIGS,
    API_DESCRIBE_USER_SCRAM_CREDENTIALS,
    API_INCREMENTAL_ALTER_CONFIGS,
    API_METADATA,
    DEFAULT_TIMEOUT,
    ERROR_NONE,
    SCRAM_HASHES,
    SCRAM_MAX_ITERATIONS,
    SCRAM_MIN_ITERATIONS,
    KafkaConnection,
    KafkaProbe,
    ProbeError,
    Reader,
    SaslAuthenticationFailed,
    SecurityConfig,
    Writer,
    error_name,
    format_address,
    parse_address,
    scram_salted_password,
)

DEFAULT_ADMIN_CLIENT_ID = "automq-admin"

# org.apache.kafka.clients.admin.ScramMechanism (UNKNOWN is 0).
SCRAM_MECHANISM_CODES: Dict[str, int] = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}
DEFAULT_SCRAM_MECHANISM = "SCRAM-SHA-512"
DEFAULT_SCRAM_ITERATIONS = 8192
SALT_BYTES = 32
SCRAM_API_VERSION = 0
ACL_MIN_VERSION = 2  # the first flexible version
ACL_MAX_VERSION = 3
INCREMENTAL_ALTER_CONFIGS_VERSION = 1  # the first flexible version (Kafka 2.4+)
DESCRIBE_CONFIGS_VERSION = 4  # the first flexible version (Kafka 2.8+)
# ConfigResource.Type.BROKER, AlterConfigOp.OpType SET and DELETE, and the source
CONFIG_RESOURCE_BROKER = 4
CONFIG_OPERATION_SET = 0
CONFIG_OPERATION_DELETE = 1
# DescribeConfigsResponse ConfigType of a setting the node's release does not define
# (Kafka lists one set dynamically anyway, as sensitive, without its value).
CONFIG_TYPE_UNKNOWN = 0
# The resource name of the settings every broker (and controller) takes by default.
CLUSTER_DEFAULT_BROKER = ""

# ResourceType.ANY, PatternType.ANY, AclOperation.ANY and AclPermissionType.ANY; then
# UNKNOWN (0) of each, and PatternType.MATCH: what a filter that must match exactly one
# ACL may not hold (AclBindingFilter.matchesAtMostOne).
CODE_UNKNOWN = 0
CODE_ANY = 1
PATTERN_MATCH = 2

ERROR_RESOURCE_NOT_FOUND = 91

# Kafka's default message for the errors these requests answer (Errors.java), used when
# the broker sends none.
ERROR_MESSAGES: Dict[int, str] = {
    -1: "The server experienced an unexpected error when processing the request.",
    7: "The request timed out.",
    31: "Cluster authorization failed.",
    33: "The broker does not support the requested SASL mechanism.",
    35: "The version of API is not supported.",
    41: "This is not the correct controller for this cluster.",
    42: (
        "This most likely occurs because of a request being malformed by the client library "
        "or the message was sent to an incompatible broker. See the broker logs for more "
        "details."
    ),
    44: "Request parameters do not satisfy the configured policy.",
    54: "Security features are disabled.",
    91: "A request illegally referred to a resource that does not exist.",
    92: "A request illegally referred to the same resource twice.",
    93: "Requested credential would not meet criteria for acceptability.",
}
# What the operator can do about them.
_ERROR_HINTS: Dict[int, str] = {
    31: (
        "the connection's principal lacks the cluster permission (ALTER to change, "
        "DESCRIBE to read): connect with the node's certificate, a super user"
    ),
    54: "the broker has no authorizer (authorizer.class.name)",
}


# --------------------------------------------------------------------------- errors


class AdminError(ProbeError):
    """A Kafka error code in an admin answer; ``code``, ``name`` and the broker's
    ``broker_message`` (or Kafka's default message) are kept for callers."""

    def __init__(self, text: str, code: int, broker_message: Optional[str]) -> None:
        super().__init__(text)
        self.code = code
        self.name = error_name(code)
        self.broker_message = broker_message


class ClusterAuthorizationFailed(AdminError):
    """CLUSTER_AUTHORIZATION_FAILED (31)."""


class UnsupportedSaslMechanism(AdminError):
    """UNSUPPORTED_SASL_MECHANISM (33)."""


class InvalidRequest(AdminError):
    """INVALID_REQUEST (42)."""


class SecurityDisabled(AdminError):
    """SECURITY_DISABLED (54): no authorizer on the broker."""


class ResourceNotFound(AdminError):
    """RESOURCE_NOT_FOUND (91), e.g. the credential of an unknown user."""


class DuplicateResource(AdminError):
    """DUPLICATE_RESOURCE (92): a user twice in one request."""


class UnacceptableCredential(AdminError):
    """UNACCEPTABLE_CREDENTIAL (93), e.g. too few iterations."""


_ERROR_TYPES: Dict[int, Type[AdminError]] = {
    31: ClusterAuthorizationFailed,
    33: UnsupportedSaslMechanism,
    42: InvalidRequest,
    54: SecurityDisabled,
    91: ResourceNotFound,
    92: DuplicateResource,
    93: UnacceptableCredential,
}


class PropagationTimeout(ProbeError):
    """A change the controller accepted did not show on the broker in time."""


@dataclass(frozen=True)
class Failure:
    """One error code of an answer: what it is about (e.g. ``user 'alice'``), the code,
    and the broker's message."""

    subject: str
    code: int
    message: Optional[str]


def admin_error(what: str, failures: Sequence[Failure]) -> AdminError:
    """The typed error for the failures of one request (its type from the first):
    ``<what> failed: <subject>: <NAME>: <message>[ (<hint>)]; ...``."""
    if not failures:
        raise ValueError("admin_error needs at least one failure")
    parts = []
    for failure in failures:
        message = failure.message or ERROR_MESSAGES.get(failure.code, "no message")
        hint = _ERROR_HINTS.get(failure.code)
        subject = f"{failure.subject}: " if failure.subject else ""
        parts.append(
            f"{subject}{error_name(failure.code)}: {message}" + (f" ({hint})" if hint else "")
        )
    first = failures[0]
    error_type = _ERROR_TYPES.get(first.code, AdminError)
    return error_type(f"{what} failed: " + "; ".join(parts), first.code, first.message)


# --------------------------------------------------------------------------- SCRAM credentials


def scram_mechanism_name(code: int) -> str:
    for name, known in SCRAM_MECHANISM_CODES.items():
        if known == code:
            return name
    return f"UNKNOWN({code})"


@dataclass(frozen=True)
class ScramCredentialInfo:
    mechanism: int  # SCRAM_MECHANISM_CODES
    iterations: int

    @property
    def mechanism_name(self) -> str:
        return scram_mechanism_name(self.mechanism)


@dataclass(frozen=True)
class UserScramDescription:
    user: str
    error_code: int
    error_message: Optional[str]
    credentials: Tuple[ScramCredentialInfo, ...]


@dataclass(frozen=True)
class DescribeUserScramResult:
    throttle_time_ms: int
    error_code: int
    error_message: Optional[str]
    results: Tuple[UserScramDescription, ...]


@dataclass(frozen=True)
class ScramDeletion:
    name: str
    mechanism: int


@dataclass(frozen=True)
class ScramUpsertion:
    """One credential to write; ``repr`` leaves the salt and salted password out."""

    name: str
    mechanism: int
    iterations: int
    salt: bytes = field(repr=False)
    salted_password: bytes = field(repr=False)


@dataclass(frozen=True)
class UserAlterationResult:
    user: str
    error_code: int
    error_message: Optional[str]


def _check_iterations(iterations: int) -> None:
    # Kafka's controller refuses fewer than 4096 and more than 16384
    # (ScramControlManager.validateUpsertion), and so does kafka_probe's SCRAM client.
    if not SCRAM_MIN_ITERATIONS <= iterations <= SCRAM_MAX_ITERATIONS:
        raise ValueError(
            f"iterations must be {SCRAM_MIN_ITERATIONS}-{SCRAM_MAX_ITERATIONS} "
            f"(Kafka's limits), not {iterations}"
        )


def scram_upsertion(
    name: str, mechanism: str, password: str, iterations: int, salt: Optional[bytes] = None
) -> ScramUpsertion:
    """The credential Kafka stores for ``password``: a random salt (``os.urandom``) and
    SaltedPassword = Hi(password, salt, iterations), PBKDF2-HMAC of the mechanism's hash
    (kafka_probe.scram_salted_password: UTF-8, no SASLprep, as Kafka's ScramFormatter)."""
    if mechanism not in SCRAM_MECHANISM_CODES:
        raise ValueError(
            f"mechanism must be one of {', '.join(SCRAM_MECHANISM_CODES)}, not {mechanism!r}"
        )
    _check_iterations(iterations)
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    salted = scram_salted_password(SCRAM_HASHES[mechanism], password, salt, iterations)
    return ScramUpsertion(name, SCRAM_MECHANISM_CODES[mechanism], iterations, salt, salted)


def describe_user_scram_credentials_request_body(users: Optional[Sequence[str]]) -> bytes:
    """DescribeUserScramCredentials v0: Users[Name] (null: every user)."""
    writer = Writer()
    if users is None:
        writer.compact_array_length(None)
    else:
        writer.compact_array_length(len(users))
        for user in users:
            writer.compact_string(user).tagged_fields()
    return writer.tagged_fields().getvalue()


def decode_describe_user_scram_credentials_response(body: bytes) -> DescribeUserScramResult:
    """DescribeUserScramCredentials v0 response body."""
    reader = Reader(body)
    throttle = reader.int32()
    error_code = reader.int16()
    error_message = reader.compact_nullable_string()
    results = []
    for _user in range(max(reader.compact_array_length(), 0)):
        user = reader.compact_string()
        user_error = reader.int16()
        user_message = reader.compact_nullable_string()
        infos = []
        for _credential in range(max(reader.compact_array_length(), 0)):
            infos.append(ScramCredentialInfo(reader.int8(), reader.int32()))
            reader.tagged_fields()
        reader.tagged_fields()
        results.append(UserScramDescription(user, user_error, user_message, tuple(infos)))
    reader.tagged_fields()
    reader.expect_end("DescribeUserScramCredentials v0 response")
    return DescribeUserScramResult(throttle, error_code, error_message, tuple(results))


def alter_user_scram_credentials_request_body(
    deletions: Sequence[ScramDeletion], upsertions: Sequence[ScramUpsertion]
) -> bytes:
    """AlterUserScramCredentials v0: Deletions[Name, Mechanism], then
    Upsertions[Name, Mechanism, Iterations, Salt, SaltedPassword]."""
    writer = Writer().compact_array_length(len(deletions))
    for deletion in deletions:
        writer.compact_string(deletion.name).int8(deletion.mechanism).tagged_fields()
    writer.compact_array_length(len(upsertions))
    for upsertion in upsertions:
        writer.compact_string(upsertion.name).int8(upsertion.mechanism)
        writer.int32(upsertion.iterations)
        writer.compact_bytes(upsertion.salt).compact_bytes(upsertion.salted_password)
        writer.tagged_fields()
    return writer.tagged_fields().getvalue()


def decode_alter_user_scram_credentials_response(
    body: bytes,
) -> Tuple[UserAlterationResult, ...]:
    """AlterUserScramCredentials v0 response body: one result per user."""
    reader = Reader(body)
    reader.int32()  # ThrottleTimeMs
    results = []
    for _user in range(max(reader.compact_array_length(), 0)):
        user = reader.compact_string()
        code = reader.int16()
        message = reader.compact_nullable_string()
        reader.tagged_fields()
        results.append(UserAlterationResult(user, code, message))
    reader.tagged_fields()
    reader.expect_end("AlterUserScramCredentials v0 response")
    return tuple(results)


# --------------------------------------------------------------------------- ACLs


@dataclass(frozen=True)
class WireAcl:
    """An ACL, or an ACL filter, in Kafka's codes; None strings match anything (filters)."""

    resource_type: int
    resource_name: Optional[str]
    pattern_type: int
    principal: Optional[str]
    host: Optional[str]
    operation: int
    permission: int


# DescribeAcls' "every ACL".
ANY_ACL = WireAcl(CODE_ANY, None, CODE_ANY, None, None, CODE_ANY, CODE_ANY)

_CODE_TABLES: Dict[str, Dict[str, int]] = {
    "resource_type": RESOURCE_TYPES,
    "pattern_type": PATTERN_TYPES,
    "operation": OPERATIONS,
    "permission": PERMISSIONS,
}
_UNKNOWN_NAME = re.compile(r"^code-([0-9]{1,3})$")


def _name_of(kind: str, code: int) -> str:
    """access.py's name of a code; a code it does not know (say, from a newer Kafka)
    becomes ``code-<n>``, which no declared ACL uses and :func:`_code_of` reads back."""
    for name, known in _CODE_TABLES[kind].items():
        if known == code:
            return name
    return f"code-{code}"


def _code_of(kind: str, name: str) -> int:
    table = _CODE_TABLES[kind]
    if name in table:
        return table[name]
    unknown = _UNKNOWN_NAME.match(name)
    if unknown:
        return int(unknown.group(1))
    raise ValueError(f"unknown {kind.replace('_', ' ')} {name!r}: use one of {', '.join(table)}")


def acl_binding(acl: WireAcl) -> AclBinding:
    """A described ACL in the names of access.py."""
    if acl.resource_name is None or acl.principal is None or acl.host is None:
        raise ValueError("an ACL filter with null fields is not a binding")
    return AclBinding(
        principal=acl.principal,
        host=acl.host,
        resource_type=_name_of("resource_type", acl.resource_type),
        resource_name=acl.resource_name,
        pattern_type=_name_of("pattern_type", acl.pattern_type),
        operation=_name_of("operation", acl.operation),
        permission=_name_of("permission", acl.permission),
    )


def wire_acl(binding: AclBinding) -> WireAcl:
    """The binding in Kafka's codes: an ACL to create, or a filter matching it alone."""
    return WireAcl(
        resource_type=_code_of("resource_type", binding.resource_type),
        resource_name=binding.resource_name,
        pattern_type=_code_of("pattern_type", binding.pattern_type),
        principal=binding.principal,
        host=binding.host,
        operation=_code_of("operation", binding.operation),
        permission=_code_of("permission", binding.permission),
    )


def is_exact_filter(acl: WireAcl) -> bool:
    """Whether a DeleteAcls filter can match one ACL only: no null string, no ANY or
    UNKNOWN code, and a LITERAL or PREFIXED pattern (MATCH would also match the
    prefixed and wildcard ACLs covering the name; ResourcePatternFilter.matches)."""
    codes = (acl.resource_type, acl.pattern_type, acl.operation, acl.permission)
    strings = (acl.resource_name, acl.principal, acl.host)
    return (
        all(code > CODE_ANY for code in codes)
        and acl.pattern_type != PATTERN_MATCH
        and all(text is not None for text in strings)
    )


def _check_acl_version(version: int) -> None:
    if not ACL_MIN_VERSION <= version <= ACL_MAX_VERSION:
        raise ValueError(
            f"only ACL requests v{ACL_MIN_VERSION}-v{ACL_MAX_VERSION} are implemented, "
            f"not v{version}"
        )


def _write_acl(writer: Writer, acl: WireAcl) -> Writer:
    """The field order shared by DescribeAcls' filter, a CreateAcls creation and a
    DeleteAcls filter: type, name, pattern, principal, host, operation, permission."""
    writer.int8(acl.resource_type).compact_string(acl.resource_name).int8(acl.pattern_type)
    writer.compact_string(acl.principal).compact_string(acl.host)
    return writer.int8(acl.operation).int8(acl.permission)


def describe_acls_request_body(acl_filter: WireAcl, version: int) -> bytes:
    _check_acl_version(version)
    return _write_acl(Writer(), acl_filter).tagged_fields().getvalue()


@dataclass(frozen=True)
class DescribeAclsResult:
    throttle_time_ms: int
    error_code: int
    error_message: Optional[str]
    acls: Tuple[WireAcl, ...]


def decode_describe_acls_response(body: bytes, version: int) -> DescribeAclsResult:
    """DescribeAcls v2-v3 response: Resources[type, name, pattern, Acls[principal, host,
    operation, permission]], flattened to one WireAcl per ACL."""
    _check_acl_version(version)
    reader = Reader(body)
    throttle = reader.int32()
    error_code = reader.int16()
    error_message = reader.compact_nullable_string()
    acls = []
    for _resource in range(max(reader.compact_array_length(), 0)):
        resource_type = reader.int8()
        resource_name = reader.compact_string()
        pattern_type = reader.int8()
        for _acl in range(max(reader.compact_array_length(), 0)):
            principal = reader.compact_string()
            host = reader.compact_string()
            operation = reader.int8()
            permission = reader.int8()
            reader.tagged_fields()
            acls.append(
                WireAcl(
                    resource_type,
                    resource_name,
                    pattern_type,
                    principal,
                    host,
                    operation,
                    permission,
                )
            )
        reader.tagged_fields()
    reader.tagged_fields()
    reader.expect_end(f"DescribeAcls v{version} response")
    return DescribeAclsResult(throttle, error_code, error_message, tuple(acls))


def create_acls_request_body(creations: Sequence[WireAcl], version: int) -> bytes:
    _check_acl_version(version)
    writer = Writer().compact_array_length(len(creations))
    for acl in creations:
        _write_acl(writer, acl).tagged_fields()
    return writer.tagged_fields().getvalue()


def decode_create_acls_response(body: bytes, version: int) -> Tuple[Tuple[int, Optional[str]], ...]:
    """CreateAcls v2-v3 response: (error code, message) per creation, in request order."""
    _check_acl_version(version)
    reader = Reader(body)
    reader.int32()  # ThrottleTimeMs
    results = []
    for _result in range(max(reader.compact_array_length(), 0)):
        code = reader.int16()
        message = reader.compact_nullable_string()
        reader.tagged_fields()
        results.append((code, message))
    reader.tagged_fields()
    reader.expect_end(f"CreateAcls v{version} response")
    return tuple(results)


def delete_acls_request_body(filters: Sequence[WireAcl], version: int) -> bytes:
    _check_acl_version(version)
    writer = Writer().compact_array_length(len(filters))
    for acl_filter in filters:
        _write_acl(writer, acl_filter).tagged_fields()
    return writer.tagged_fields().getvalue()


@dataclass(frozen=True)
class DeletedAcl:
    error_code: int
    error_message: Optional[str]
    acl: WireAcl


@dataclass(frozen=True)
class DeleteFilterResult:
    error_code: int
    error_message: Optional[str]
    matching: Tuple[DeletedAcl, ...]


def decode_delete_acls_response(body: bytes, version: int) -> Tuple[DeleteFilterResult, ...]:
    """DeleteAcls v2-v3 response: per filter, its error and the ACLs it matched."""
    _check_acl_version(version)
    reader = Reader(body)
    reader.int32()  # ThrottleTimeMs
    results = []
    for _filter_result in range(max(reader.compact_array_length(), 0)):
        code = reader.int16()
        message = reader.compact_nullable_string()
        matching = []
        for _acl in range(max(reader.compact_array_length(), 0)):
            acl_code = reader.int16()
            acl_message = reader.compact_nullable_string()
            acl = WireAcl(
                resource_type=reader.int8(),
                resource_name=reader.compact_string(),
                pattern_type=reader.int8(),
                principal=reader.compact_string(),
                host=reader.compact_string(),
                operation=reader.int8(),
                permission=reader.int8(),
            )
            reader.tagged_fields()
            matching.append(DeletedAcl(acl_code, acl_message, acl))
        reader.tagged_fields()
        results.append(DeleteFilterResult(code, message, tuple(matching)))
    reader.tagged_fields()
    reader.expect_end(f"DeleteAcls v{version} response")
    return tuple(results)


# --------------------------------------------------------------------------- node configuration


@dataclass(frozen=True)
class ConfigResult:
    error_code: int
    error_message: Optional[str]
    resource_type: int
    resource_name: str


def delete_node_configs_request_body(node_id: int, names: Sequence[str]) -> bytes:
    """IncrementalAlterConfigs v1: one BROKER resource (the node), a DELETE of each name,
    ValidateOnly false."""
    writer = Writer().compact_array_length(1)
    writer.int8(CONFIG_RESOURCE_BROKER).compact_string(str(node_id))
    writer.compact_array_length(len(names))
    for name in names:
        writer.compact_string(name).int8(CONFIG_OPERATION_DELETE).compact_string(None)
        writer.tagged_fields()
    writer.tagged_fields()
    return writer.boolean(False).tagged_fields().getvalue()


def set_cluster_broker_config_request_body(name: str, value: str) -> bytes:
    """IncrementalAlterConfigs v1: the cluster-wide default BROKER resource, a SET of
    ``name``, ValidateOnly false."""
    writer = Writer().compact_array_length(1)
    writer.int8(CONFIG_RESOURCE_BROKER).compact_string(CLUSTER_DEFAULT_BROKER)
    writer.compact_array_length(1)
    writer.compact_string(name).int8(CONFIG_OPERATION_SET).compact_string(value)
    writer.tagged_fields()
    writer.tagged_fields()
    return writer.boolean(False).tagged_fields().getvalue()


def decode_incremental_alter_configs_response(body: bytes) -> Tuple[ConfigResult, ...]:
    """IncrementalAlterConfigs v1 response body: one result per resource."""
    reader = Reader(body)
    reader.int32()  # ThrottleTimeMs
    results = []
    for _result in range(max(reader.compact_array_length(), 0)):
        code = reader.int16()
        message = reader.compact_nullable_string()
        resource_type = reader.int8()
        name = reader.compact_string()
        reader.tagged_fields()
        results.append(ConfigResult(code, message, resource_type, name))
    reader.tagged_fields()
    reader.expect_end("IncrementalAlterConfigs v1 response")
    return tuple(results)


@dataclass(frozen=True)
class ConfigEntry:
    name: str
    value: Optional[str]
    source: int
    config_type: int  # DescribeConfigsResponse ConfigType; CONFIG_TYPE_UNKNOWN: undefined


@dataclass(frozen=True)
class DescribeConfigsResult:
    error_code: int
    error_message: Optional[str]
    resource_name: str
    entries: Tuple[ConfigEntry, ...]


def describe_broker_configs_request_body(broker: str, names: Sequence[str]) -> bytes:
    """DescribeConfigs v4: the BROKER resource ``broker`` (a node ID, or "" for the
    cluster-wide defaults), the settings ``names``, without synonyms or documentation."""
    writer = Writer().compact_array_length(1)
    writer.int8(CONFIG_RESOURCE_BROKER).compact_string(broker)
    writer.compact_array_length(len(names))
    for name in names:
        writer.compact_string(name)
    writer.tagged_fields()
    return writer.boolean(False).boolean(False).tagged_fields().getvalue()


def decode_describe_configs_response(body: bytes) -> Tuple[DescribeConfigsResult, ...]:
    """DescribeConfigs v4 response body: one result per resource."""
    reader = Reader(body)
    reader.int32()  # ThrottleTimeMs
    results = []
    for _resource in range(max(reader.compact_array_length(), 0)):
        code = reader.int16()
        message = reader.compact_nullable_string()
        reader.int8()  # ResourceType
        resource_name = reader.compact_string()
        entries = []
        for _config in range(max(reader.compact_array_length(), 0)):
            name = reader.compact_string()
            value = reader.compact_nullable_string()
            reader.boolean()  # ReadOnly
            source = reader.int8()
            reader.boolean()  # IsSensitive
            for _synonym in range(max(reader.compact_array_length(), 0)):  # Synonyms
                reader.compact_string()
                reader.compact_nullable_string()
                reader.int8()
                reader.tagged_fields()
            config_type = reader.int8()
            reader.compact_nullable_string()  # Documentation
            reader.tagged_fields()
            entries.append(ConfigEntry(name, value, source, config_type))
        reader.tagged_fields()
        results.append(DescribeConfigsResult(code, message, resource_name, tuple(entries)))
    reader.tagged_fields()
    reader.expect_end("DescribeConfigs v4 response")
    return tuple(results)


# --------------------------------------------------------------------------- the client


class KafkaAdmin(KafkaProbe):
    """The admin requests above against one broker listener (negotiated with ApiVersions).

    Raises ProbeError when the broker cannot be asked, and an :class:`AdminError`
    subclass for a Kafka error code in its answer.
    """

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float = DEFAULT_TIMEOUT,
        client_id: Optional[str] = DEFAULT_ADMIN_CLIENT_ID,
        security: Optional[SecurityConfig] = None,
    ) -> None:
        super().__init__(host, port, timeout, client_id, security)

    @classmethod
    def from_address(
        cls,
        address: str,
        timeout: float = DEFAULT_TIMEOUT,
        client_id: Optional[str] = DEFAULT_ADMIN_CLIENT_ID,
        security: Optional[SecurityConfig] = None,
    ) -> KafkaAdmin:
        host, port = parse_address(address)
        return cls(host, port, timeout, client_id, security)

    def require_broker(self) -> None:
        """Refuse a controller listener: controllers serve no Metadata, and these
        requests belong on a broker, which forwards the changes to the controller."""
        if self.api_versions().version_range(API_METADATA) is None:
            raise ProbeError(
                f"{self.address}: not a broker listener (it does not serve Metadata): "
                "send the admin requests to a broker"
            )

    def _what(self, api: str, version: int) -> str:
        return f"{self.address}: {api} v{version}"

    def describe_user_scram_credentials(
        self, users: Optional[Sequence[str]]
    ) -> Dict[str, Tuple[ScramCredentialInfo, ...]]:
        """The SCRAM credentials of ``users`` (None: of every user); a user without any
        (RESOURCE_NOT_FOUND) maps to ``()``."""
        version = self._negotiate(
            API_DESCRIBE_USER_SCRAM_CREDENTIALS, SCRAM_API_VERSION, SCRAM_API_VERSION
        )
        what = self._what("DescribeUserScramCredentials", version)
        # "Every user" is sent as an empty list, not null: a broker refusing a null list
        # (CLUSTER_AUTHORIZATION_FAILED) fails to build its answer and sends none
        # (DescribeUserScramCredentialsRequest.getErrorResponse iterates data.users()).
        body = describe_user_scram_credentials_request_body(list(users or ()))
        response = self.connection.call(API_DESCRIBE_USER_SCRAM_CREDENTIALS, version, body)
        result = self._decode(
            what, lambda: decode_describe_user_scram_credentials_response(response)
        )
        if result.error_code != ERROR_NONE:
            raise admin_error(what, [Failure("", result.error_code, result.error_message)])
        found: Dict[str, Tuple[ScramCredentialInfo, ...]] = {}
        failures = []
        for item in result.results:
            if item.error_code == ERROR_NONE:
                found[item.user] = item.credentials
            elif item.error_code == ERROR_RESOURCE_NOT_FOUND:
                found[item.user] = ()
            else:
                failures.append(Failure(f"user {item.user!r}", item.error_code, item.error_message))
        if failures:
            raise admin_error(what, failures)
        return found

    def alter_user_scram_credentials(
        self, deletions: Sequence[ScramDeletion], upsertions: Sequence[ScramUpsertion]
    ) -> None:
        """Delete and write credentials; each user at most once per call (the controller
        answers DUPLICATE_RESOURCE otherwise: see :func:`alteration_batches`)."""
        version = self._negotiate(
            API_ALTER_USER_SCRAM_CREDENTIALS, SCRAM_API_VERSION, SCRAM_API_VERSION
        )
        what = self._what("AlterUserScramCredentials", version)
        body = alter_user_scram_credentials_request_body(deletions, upsertions)
        response = self.connection.call(API_ALTER_USER_SCRAM_CREDENTIALS, version, body)
        results = self._decode(what, lambda: decode_alter_user_scram_credentials_response(response))
        failures = [
            Failure(f"user {item.user!r}", item.error_code, item.error_message)
            for item in results
            if item.error_code != ERROR_NONE
        ]
        answered = {item.user for item in results}
        failures += [
            Failure(f"user {name!r}", -1, "no result for this user in the answer")
            for name in sorted({d.name for d in deletions} | {u.name for u in upsertions})
            if name not in answered
        ]
        if failures:
            raise admin_error(what, failures)

    def _acl_version(self, api_key: int) -> int:
        return self._negotiate(api_key, ACL_MIN_VERSION, ACL_MAX_VERSION)

    def describe_acls(self, acl_filter: WireAcl = ANY_ACL) -> List[WireAcl]:
        version = self._acl_version(API_DESCRIBE_ACLS)
        what = self._what("DescribeAcls", version)
        body = describe_acls_request_body(acl_filter, version)
        response = self.connection.call(API_DESCRIBE_ACLS, version, body)
        result = self._decode(what, lambda: decode_describe_acls_response(response, version))
        if result.error_code != ERROR_NONE:
            raise admin_error(what, [Failure("", result.error_code, result.error_message)])
        return list(result.acls)

    def create_acls(self, creations: Sequence[WireAcl]) -> None:
        version = self._acl_version(API_CREATE_ACLS)
        what = self._what("CreateAcls", version)
        body = create_acls_request_body(creations, version)
        response = self.connection.call(API_CREATE_ACLS, version, body)
        results = self._decode(what, lambda: decode_create_acls_response(response, version))
        if len(results) != len(creations):
            raise ProbeError(f"{what}: {len(results)} results for {len(creations)} ACLs")
        failures = [
            Failure(acl_binding(acl).describe(), code, message)
            for acl, (code, message) in zip(creations, results)  # noqa: B905 (3.8; lengths checked)
            if code != ERROR_NONE
        ]
        if failures:
            raise admin_error(what, failures)

    def delete_acls(self, filters: Sequence[WireAcl]) -> List[WireAcl]:
        """Delete what each filter matches; the deleted ACLs."""
        version = self._acl_version(API_DELETE_ACLS)
        what = self._what("DeleteAcls", version)
        body = delete_acls_request_body(filters, version)
        response = self.connection.call(API_DELETE_ACLS, version, body)
        results = self._decode(what, lambda: decode_delete_acls_response(response, version))
        if len(results) != len(filters):
            raise ProbeError(f"{what}: {len(results)} results for {len(filters)} filters")
        failures: List[Failure] = []
        deleted: List[WireAcl] = []
        for acl_filter, result in zip(filters, results):  # noqa: B905 (3.8; lengths checked)
            subject = _filter_text(acl_filter)
            if result.error_code != ERROR_NONE:
                failures.append(Failure(subject, result.error_code, result.error_message))
            for match in result.matching:
                if match.error_code != ERROR_NONE:
                    failures.append(Failure(subject, match.error_code, match.error_message))
                else:
                    deleted.append(match.acl)
        if failures:
            raise admin_error(what, failures)
        return deleted

    def reload_node_files(self, node_id: int, names: Sequence[str]) -> None:
        """Make node ``node_id`` reload the files its listeners read (key and trust
        stores) by deleting the per-node dynamic configs ``names``.

        The controller writes a config record for a node even when nothing changes
        (KAFKA-14136), and a node applying a record of its own reloads every listener's
        store files whose content changed (DynamicConfigPublisher,
        ``reloadUpdatedFilesWithoutConfigChange``).  Deleting a config that was never
        set leaves nothing behind.  Send it to that node: a broker validates per-node
        changes only for itself.
        """
        self._alter_one_resource(
            delete_node_configs_request_body(node_id, names), f"node {node_id}"
        )

    def broker_config(self, broker: str, name: str) -> Optional[ConfigEntry]:
        """Setting ``name`` of BROKER resource ``broker`` (a node ID: the value in effect
        on that node; "": the cluster-wide dynamic default), or None when the broker does
        not list it (a node lists every setting its release defines, and one set
        dynamically that it does not define with type CONFIG_TYPE_UNKNOWN)."""
        version = self._negotiate(
            API_DESCRIBE_CONFIGS, DESCRIBE_CONFIGS_VERSION, DESCRIBE_CONFIGS_VERSION
        )
        what = self._what("DescribeConfigs", version)
        body = describe_broker_configs_request_body(broker, [name])
        response = self.connection.call(API_DESCRIBE_CONFIGS, version, body)
        results = self._decode(what, lambda: decode_describe_configs_response(response))
        if len(results) != 1:
            raise ProbeError(f"{what}: {len(results)} results for 1 resource")
        result = results[0]
        if result.error_code != ERROR_NONE:
            subject = f"node {broker}" if broker else "the cluster default"
            raise admin_error(what, [Failure(subject, result.error_code, result.error_message)])
        return next((entry for entry in result.entries if entry.name == name), None)

    def set_cluster_broker_config(self, name: str, value: str) -> None:
        """Set broker setting ``name`` cluster-wide (every node's dynamic default)."""
        self._alter_one_resource(
            set_cluster_broker_config_request_body(name, value), "the cluster default"
        )

    def _alter_one_resource(self, body: bytes, subject: str) -> None:
        """Send an IncrementalAlterConfigs ``body`` naming one resource; raise its error."""
        version = self._negotiate(
            API_INCREMENTAL_ALTER_CONFIGS,
            INCREMENTAL_ALTER_CONFIGS_VERSION,
            INCREMENTAL_ALTER_CONFIGS_VERSION,
        )
        what = self._what("IncrementalAlterConfigs", version)
        response = self.connection.call(API_INCREMENTAL_ALTER_CONFIGS, version, body)
        results = self._decode(what, lambda: decode_incremental_alter_configs_response(response))
        if len(results) != 1:
            raise ProbeError(f"{what}: {len(results)} results for 1 resource")
        if results[0].error_code != ERROR_NONE:
            failure = Failure(subject, results[0].error_code, results[0].error_message)
            raise admin_error(what, [failure])


def _filter_text(acl: WireAcl) -> str:
    try:
        return acl_binding(acl).describe()
    except ValueError:
        return repr(acl)


def scram_login_works(
    address: str,
    user: ScramUser,
    ca_file: Optional[str],
    timeout: float = DEFAULT_TIMEOUT,
) -> bool:
    """Whether ``user`` can log in with its declared password over SASL_SSL on
    ``address`` (a broker's client listener): True on success, False when the broker
    refuses the credentials; ProbeError when the login cannot be tried."""
    if user.password is None:
        raise ValueError(f"user {user.name!r} has no password to log in with")
    security = SecurityConfig(
        protocol="SASL_SSL",
        ca_file=ca_file,
        sasl_mechanism=user.mechanism,
        username=user.name,
        password=user.password,
    )
    host, port = parse_address(address)
    connection = KafkaConnection(host, port, timeout, DEFAULT_ADMIN_CLIENT_ID, security)
    try:
        connection.open()  # TLS, ApiVersions, SaslHandshake and the SCRAM exchange
    except SaslAuthenticationFailed:
        return False
    except ProbeError as exc:
        raise ProbeError(f"cannot check the password of user {user.name!r}: {exc}") from None
    finally:
        connection.close()
    return True


# --------------------------------------------------------------------------- waiting


def wait_until(
    missing: Callable[[], Optional[str]],
    timeout: float,
    what: str,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    first_interval: float = 0.05,
    max_interval: float = 1.0,
) -> float:
    """Poll ``missing`` (None once the condition holds, else what is still missing)
    with growing intervals until it holds; the seconds it took.  Raises
    PropagationTimeout naming what is missing after ``timeout`` seconds."""
    started = clock()
    interval = first_interval
    while True:
        left = missing()
        if left is None:
            return clock() - started
        elapsed = clock() - started
        if elapsed >= timeout:
            raise PropagationTimeout(f"{what} within {timeout:g}s: {left}")
        sleep(min(interval, max(timeout - elapsed, 0.0)))
        interval = min(interval * 2, max_interval)


# --------------------------------------------------------------------------- SCRAM users


SCRAM_USER_STATES = ("present", "absent")


@dataclass(frozen=True)
class ScramUser:
    """A declared user; ``repr`` leaves the password out."""

    name: str
    state: str = "present"
    mechanism: str = DEFAULT_SCRAM_MECHANISM
    iterations: int = DEFAULT_SCRAM_ITERATIONS
    password: Optional[str] = field(default=None, repr=False)


def scram_users(entries: Iterable[Mapping[str, object]]) -> List[ScramUser]:
    """Declared users from the module's ``users`` option; ValueError (never naming a
    password) for a user listed twice, a present user without a password, an unknown
    mechanism or iterations Kafka refuses."""
    users: List[ScramUser] = []
    problems: List[str] = []
    seen: Set[str] = set()
    for index, entry in enumerate(entries):
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"users[{index}] needs a name")
            continue
        where = f"users[{index}] ({name})"
        if name in seen:
            problems.append(f"{where} is listed twice")
        seen.add(name)
        state = str(entry.get("state") or "present")
        mechanism = str(entry.get("mechanism") or DEFAULT_SCRAM_MECHANISM)
        iterations = entry.get("iterations")
        iterations = DEFAULT_SCRAM_ITERATIONS if iterations is None else iterations
        password = entry.get("password")
        if state not in SCRAM_USER_STATES:
            problems.append(f"{where}: state must be present or absent, not {state!r}")
        if mechanism not in SCRAM_MECHANISM_CODES:
            problems.append(
                f"{where}: mechanism must be one of {', '.join(SCRAM_MECHANISM_CODES)}, "
                f"not {mechanism!r}"
            )
        if not isinstance(iterations, int) or isinstance(iterations, bool):
            problems.append(f"{where}: iterations must be an integer")
            continue
        try:
            _check_iterations(iterations)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
        if state == "present" and (not isinstance(password, str) or not password):
            problems.append(f"{where}: a present user needs a password")
        users.append(
            ScramUser(
                name=name,
                state=state,
                mechanism=mechanism,
                iterations=iterations,
                password=password if isinstance(password, str) else None,
            )
        )
    if problems:
        raise ValueError("; ".join(problems))
    return users


@dataclass(frozen=True)
class ScramPlan:
    """What to change: user names per outcome, the users whose declared credential is
    written, and the credentials deleted (an absent user's, or a present user's other
    mechanisms)."""

    created: Tuple[str, ...] = ()
    updated: Tuple[str, ...] = ()
    removed: Tuple[str, ...] = ()
    upsert: Tuple[ScramUser, ...] = ()
    delete: Tuple[ScramDeletion, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.upsert or self.delete)


def plan_scram_users(
    declared: Sequence[ScramUser],
    existing: Mapping[str, Sequence[ScramCredentialInfo]],
    login_works: Callable[[ScramUser], bool],
) -> ScramPlan:
    """Compare the declared users with their credentials on the cluster.

    A present user is created when it has no credential, updated when its declared
    mechanism's credential has other iterations or does not accept the declared password
    (``login_works``, asked only then), and loses the credentials of other mechanisms.
    An absent user with credentials is removed.  Unchanged users are in no list.
    """
    created: List[str] = []
    updated: List[str] = []
    removed: List[str] = []
    upsert: List[ScramUser] = []
    delete: List[ScramDeletion] = []
    for user in declared:
        have = tuple(existing.get(user.name, ()))
        if user.state == "absent":
            if have:
                removed.append(user.name)
                delete.extend(ScramDeletion(user.name, info.mechanism) for info in have)
            continue
        code = SCRAM_MECHANISM_CODES[user.mechanism]
        same = [info for info in have if info.mechanism == code]
        others = [info for info in have if info.mechanism != code]
        if not have:
            created.append(user.name)
            upsert.append(user)
        elif not same or same[0].iterations != user.iterations or not login_works(user):
            updated.append(user.name)
            upsert.append(user)
        if others:
            delete.extend(ScramDeletion(user.name, info.mechanism) for info in others)
            if user.name not in updated:
                updated.append(user.name)
    return ScramPlan(tuple(created), tuple(updated), tuple(removed), tuple(upsert), tuple(delete))


def alteration_batches(
    deletions: Sequence[ScramDeletion], upsertions: Sequence[ScramUpsertion]
) -> List[Tuple[List[ScramDeletion], List[ScramUpsertion]]]:
    """Split the changes into requests that name each user once (the controller refuses
    a user twice in one request: ScramControlManager.alterCredentials); upsertions go in
    the first request, a user's further deletions in the following ones."""
    batches: List[Tuple[List[ScramDeletion], List[ScramUpsertion]]] = []
    seen: Dict[str, int] = {}

    def batch_for(name: str) -> Tuple[List[ScramDeletion], List[ScramUpsertion]]:
        index = seen.get(name, 0)
        seen[name] = index + 1
        while len(batches) <= index:
            batches.append(([], []))
        return batches[index]

    for upsertion in upsertions:
        batch_for(upsertion.name)[1].append(upsertion)
    for deletion in deletions:
        batch_for(deletion.name)[0].append(deletion)
    return batches


def reconcile_scram_users(
    admin: KafkaAdmin,
    declared: Sequence[ScramUser],
    login_works: Callable[[ScramUser], bool],
    check_mode: bool = False,
    wait_timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ScramPlan:
    """Make the declared users' SCRAM credentials so (unless ``check_mode``), then wait
    until each written user logs in with its new password and each deleted credential
    is gone from the broker's view; the plan carried out."""
    admin.require_broker()
    names = [user.name for user in declared]
    existing = admin.describe_user_scram_credentials(names) if names else {}
    plan = plan_scram_users(declared, existing, login_works)
    if check_mode or not plan.changed:
        return plan
    upsertions = [
        scram_upsertion(user.name, user.mechanism, user.password or "", user.iterations)
        for user in plan.upsert
    ]
    for deletions, batch in alteration_batches(plan.delete, upsertions):
        admin.alter_user_scram_credentials(deletions, batch)
    del upsertions  # the salted passwords are not kept longer than needed

    waiting = list(plan.upsert)
    gone = {(deletion.name, deletion.mechanism) for deletion in plan.delete}

    def missing() -> Optional[str]:
        waiting[:] = [user for user in waiting if not login_works(user)]
        left = [f"user {user.name!r} cannot log in with the new password" for user in waiting]
        if gone:
            now = admin.describe_user_scram_credentials(sorted({name for name, _mechanism in gone}))
            still = sorted(
                (name, mechanism)
                for name, mechanism in gone
                if any(info.mechanism == mechanism for info in now.get(name, ()))
            )
            gone.intersection_update(still)
            left += [
                f"user {name!r} still has its {scram_mechanism_name(mechanism)} credential"
                for name, mechanism in still
            ]
        return "; ".join(left) or None

    wait_until(
        missing,
        wait_timeout,
        "the broker did not apply the SCRAM changes (see wait_timeout)",
        clock=clock,
        sleep=sleep,
    )
    return plan


# --------------------------------------------------------------------------- ACLs


@dataclass(frozen=True)
class AclPlan:
    before: Tuple[AclBinding, ...]
    create: Tuple[AclBinding, ...]
    delete: Tuple[AclBinding, ...]
    holding: HoldOpenPlan = field(default_factory=HoldOpenPlan)

    @property
    def changed(self) -> bool:
        return bool(self.create or self.delete or self.holding.close_last)

    @property
    def after(self) -> Tuple[AclBinding, ...]:
        gone = set(self.delete) | set(self.holding.close_last)
        return tuple(sorted((set(self.before) - gone) | set(self.create)))


def acl_lines(bindings: Iterable[AclBinding]) -> str:
    """Sorted ``AclBinding.describe()`` lines, the text of the diff."""
    return "".join(f"{line}\n" for line in sorted(binding.describe() for binding in bindings))


def plan_acl_changes(
    existing: Iterable[WireAcl],
    acls: Iterable[Mapping[str, object]],
    principals: Iterable[str],
    hold_open: bool = False,
) -> AclPlan:
    """The declared ACLs (access.desired_bindings) against the described ones
    (access.plan_acls); with ``hold_open``, what holds their resources open meanwhile
    (access.plan_holding_open)."""
    before = frozenset(acl_binding(acl) for acl in existing)
    present, absent = desired_bindings(acls)
    create, delete = plan_acls(before, present, absent, principals)
    holding = plan_holding_open(before, create, present, delete) if hold_open else HoldOpenPlan()
    return AclPlan(tuple(sorted(before)), tuple(create), tuple(delete), holding)


def _delete_exactly(admin: KafkaAdmin, bindings: Sequence[AclBinding]) -> None:
    """DeleteAcls with one filter per ACL, each matching that ACL alone."""
    filters = [wire_acl(binding) for binding in bindings]
    inexact = [_filter_text(f) for f in filters if not is_exact_filter(f)]
    if inexact:  # never sent: it could delete other principals' ACLs
        raise ValueError(f"refusing to delete with inexact filters: {'; '.join(inexact)}")
    deleted = frozenset(acl_binding(acl) for acl in admin.delete_acls(filters))
    unexpected = deleted - frozenset(bindings)
    if unexpected:
        raise ProbeError(
            f"{admin.address}: DeleteAcls deleted ACLs it was not asked to: "
            + "; ".join(sorted(binding.describe() for binding in unexpected))
        )


def broker_admins(admin: KafkaAdmin) -> List[KafkaAdmin]:
    """An admin for every registered, unfenced broker, on the listener ``admin`` speaks
    to (its own connection for its own broker), with the same security checked against
    each broker's own name."""
    connection = admin.connection
    others = connection.security.for_other_hosts()
    admins: List[KafkaAdmin] = []
    for broker in admin.describe_cluster().brokers:
        if format_address(broker.host, broker.port) == admin.address:
            admins.append(admin)
        else:
            admins.append(
                KafkaAdmin(
                    broker.host, broker.port, connection.timeout, connection.client_id, others
                )
            )
    if admin not in admins:
        admins.insert(0, admin)
    return admins


def wait_until_described(
    admins: Sequence[KafkaAdmin],
    wanted: Iterable[AclBinding],
    unwanted: Iterable[AclBinding],
    wait_timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Poll until every broker in ``admins`` describes the ``wanted`` ACLs and none of
    the ``unwanted`` ones: a broker describes ACLs from its own authorizer, so then it
    authorizes with them."""
    wanted, unwanted = frozenset(wanted), frozenset(unwanted)

    def missing() -> Optional[str]:
        left: List[str] = []
        for admin in admins:
            now = frozenset(acl_binding(acl) for acl in admin.describe_acls(ANY_ACL))
            where = f"{admin.address}: " if len(admins) > 1 else ""
            left += [f"{where}missing: {b.describe()}" for b in sorted(wanted - now)]
            left += [f"{where}still there: {b.describe()}" for b in sorted(unwanted & now)]
        return "; ".join(left) or None

    wait_until(
        missing,
        wait_timeout,
        "the broker does not describe the ACL changes (see wait_timeout)",
        clock=clock,
        sleep=sleep,
    )


def reconcile_acls(
    admin: KafkaAdmin,
    acls: Iterable[Mapping[str, object]],
    principals: Iterable[str],
    check_mode: bool = False,
    wait_timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    hold_open: bool = False,
    admins_of_brokers: Callable[[KafkaAdmin], List[KafkaAdmin]] = broker_admins,
) -> AclPlan:
    """Create the missing declared ACLs and delete the unwanted ones, each with a filter
    that matches that ACL alone; then wait until the broker describes the result.

    With ``hold_open`` (brokers that allow everyone where no ACL matches): first hold
    open the resources that get their first ACLs and wait until every broker applies
    that, then the declared changes, again until every broker has them, then close
    what was held open. Waiting for every broker keeps each step in a metadata update
    of its own: a broker that catches up on several steps at once would drop an ACL
    created and deleted within one update (AclsDelta.replay of the removal)."""
    admin.require_broker()
    plan = plan_acl_changes(admin.describe_acls(ANY_ACL), acls, principals, hold_open)
    if check_mode or not plan.changed:
        return plan
    holding = plan.holding
    describers = admins_of_brokers(admin) if hold_open else [admin]

    def wait(wanted: Iterable[AclBinding], unwanted: Iterable[AclBinding]) -> None:
        wait_until_described(describers, wanted, unwanted, wait_timeout, sleep, clock)

    try:
        if holding.open_first:
            admin.create_acls([wire_acl(binding) for binding in holding.open_first])
            wait(holding.open_first, ())
        create = [binding for binding in plan.create if binding not in holding.open_first]
        if create:
            admin.create_acls([wire_acl(binding) for binding in create])
        if plan.delete:
            _delete_exactly(admin, plan.delete)
        wait(plan.create, plan.delete)
        if holding.close_last:
            _delete_exactly(admin, holding.close_last)
            wait((), holding.close_last)
    finally:
        for other in describers:
            if other is not admin:
                other.close()
    return plan
