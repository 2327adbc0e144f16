"""Policy evaluation as Alibaba Cloud documents it, and its use by both OSS APIs.

Pure tests of ``tests.alicloud_emulator.policy`` first (explicit Deny wins in either
document, an Allow is needed, Conditions with missing keys, several values and keys,
wildcards, the owner rules of bucket policies), then requests through the data plane
and the OSS API whose source VPC comes from an injected address block, so no Docker
is needed.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterator
from typing import Any

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_ram20150501 import models as ram_models
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.containers import DockerBackend, NetworkInfo
from tests.alicloud_emulator.policy import (
    Caller,
    Decision,
    RequestContext,
    UnsupportedCondition,
    condition_holds,
    decide,
)
from tests.alicloud_emulator.s3_client import S3Client
from tests.alicloud_emulator.sdk import make_clients

from automq_helpers.alicloud.bucket_policy import automq_bucket_statements
from automq_helpers.alicloud.ram_policy import automq_ram_policy

ACCOUNT = "1234567890123456"
USER = "200000000000001"
OBJECT = f"acs:oss:cn-hangzhou:{ACCOUNT}:data/s3stream/1"
BUCKET_ARN = f"acs:oss:cn-hangzhou:{ACCOUNT}:data"
FROM_VPC = RequestContext(source_ip="172.30.1.5", source_vpc="vpc-a", secure_transport=True)
FROM_OUTSIDE = RequestContext(source_ip="203.0.113.9", secure_transport=True)
USER_CALLER = Caller((USER, ACCOUNT))
OWNER = Caller((ACCOUNT,), is_owner=True)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


def allow(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:*:data/*", **extra}


def deny(**extra: Any) -> dict[str, Any]:
    return {**allow(**extra), "Effect": "Deny"}


# --------------------------------------------------------------------------- decisions


def test_an_allow_is_needed_from_either_document() -> None:
    assert decide([], "oss:GetObject", OBJECT, FROM_VPC) is Decision.NONE
    assert decide([doc(allow())], "oss:GetObject", OBJECT, FROM_VPC) is Decision.ALLOW
    bucket_allow = doc(allow(Principal=[USER]))
    assert decide([], "oss:GetObject", OBJECT, FROM_VPC, bucket_allow, USER_CALLER) is (
        Decision.ALLOW
    )
    other_user = Caller(("200000000000002",))
    assert decide([], "oss:GetObject", OBJECT, FROM_VPC, bucket_allow, other_user) is (
        Decision.NONE
    )
    assert decide([doc(allow())], "oss:PutObject", OBJECT, FROM_VPC) is Decision.NONE


def test_explicit_deny_wins_in_either_document() -> None:
    ram_allow, ram_deny = doc(allow()), doc(deny())
    bucket_allow, bucket_deny = doc(allow(Principal=[USER])), doc(deny(Principal=[USER]))
    cases = [
        ([ram_allow, ram_deny], None),
        ([ram_deny], bucket_allow),
        ([ram_allow], bucket_deny),
        ([], doc(allow(Principal=[USER]), deny(Principal=["*"]))),
    ]
    for documents, bucket_policy in cases:
        decision = decide(documents, "oss:GetObject", OBJECT, FROM_VPC, bucket_policy, USER_CALLER)
        assert decision is Decision.DENY, (documents, bucket_policy)


def test_owner_rules_of_bucket_policies() -> None:
    """``*`` without a Condition spares the owner; with one it binds the owner too."""
    unconditional = doc(deny(Principal=["*"]))
    conditional = doc(deny(Principal=["*"], Condition={"Bool": {"acs:SecureTransport": "false"}}))
    plain = RequestContext(source_ip="10.0.0.1", secure_transport=False)
    assert decide([], "oss:GetObject", OBJECT, plain, unconditional, OWNER) is Decision.NONE
    assert decide([], "oss:GetObject", OBJECT, plain, unconditional, USER_CALLER) is Decision.DENY
    assert decide([], "oss:GetObject", OBJECT, plain, conditional, OWNER) is Decision.DENY
    assert decide([], "oss:GetObject", OBJECT, FROM_VPC, conditional, OWNER) is Decision.NONE
    named = doc(deny(Principal=[ACCOUNT]))
    assert decide([], "oss:GetObject", OBJECT, plain, named, OWNER) is Decision.DENY
    anonymous = Caller(())
    assert decide([], "oss:GetObject", OBJECT, plain, unconditional, anonymous) is Decision.DENY


@pytest.mark.parametrize(
    ("action_patterns", "action", "applies"),
    [
        ("oss:*", "oss:PutObject", True),
        (["oss:Get*"], "oss:GetObject", True),
        (["oss:get*"], "oss:GetObject", True),  # actions are not case-sensitive
        (["oss:Get*"], "oss:PutObject", False),
        (["oss:*Object"], "oss:DeleteObject", True),
        (["ecs:*"], "oss:GetObject", False),
        ("*", "oss:ListParts", True),
    ],
)
def test_action_wildcards(action_patterns: Any, action: str, applies: bool) -> None:
    statement = {"Effect": "Allow", "Action": action_patterns, "Resource": "*"}
    expected = Decision.ALLOW if applies else Decision.NONE
    assert decide([doc(statement)], action, OBJECT, FROM_VPC) is expected


@pytest.mark.parametrize(
    ("resource_patterns", "resource", "applies"),
    [
        ("acs:oss:*:*:data/*", OBJECT, True),
        ("acs:oss:*:*:data/*", BUCKET_ARN, False),  # the bucket is not one of its objects
        ("acs:oss:*:*:data", BUCKET_ARN, True),
        (f"acs:oss:*:{ACCOUNT}:data/s3stream/*", OBJECT, True),
        ("acs:oss:*:9999:data/*", OBJECT, False),  # another account's bucket
        ("acs:oss:*:*:dat?/*", OBJECT, True),
        ("acs:oss:*:*:Data/*", OBJECT, False),  # resources are case-sensitive
    ],
)
def test_resource_wildcards(resource_patterns: str, resource: str, applies: bool) -> None:
    statement = {"Effect": "Allow", "Action": "oss:*", "Resource": resource_patterns}
    expected = Decision.ALLOW if applies else Decision.NONE
    assert decide([doc(statement)], "oss:GetObject", resource, FROM_VPC) is expected


def test_not_action_and_not_resource() -> None:
    statement = {"Effect": "Deny", "NotAction": ["oss:Get*"], "Resource": "*"}
    assert decide([doc(statement)], "oss:PutObject", OBJECT, FROM_VPC) is Decision.DENY
    assert decide([doc(statement)], "oss:GetObject", OBJECT, FROM_VPC) is Decision.NONE
    statement = {"Effect": "Allow", "Action": "oss:*", "NotResource": "acs:oss:*:*:secret/*"}
    assert decide([doc(statement)], "oss:GetObject", OBJECT, FROM_VPC) is Decision.ALLOW


# --------------------------------------------------------------------------- conditions

NO_KEYS = RequestContext()


@pytest.mark.parametrize(
    ("operator", "key", "value", "holds_without_the_key"),
    [
        ("StringEquals", "acs:SourceVpc", "vpc-a", False),
        ("StringNotEquals", "acs:SourceVpc", "vpc-a", True),
        ("StringEqualsIgnoreCase", "acs:SourceVpc", "VPC-A", False),
        ("StringNotEqualsIgnoreCase", "acs:SourceVpc", "VPC-A", True),
        ("StringLike", "acs:SourceVpc", "vpc-*", False),
        ("StringNotLike", "acs:SourceVpc", "vpc-*", True),
        ("IpAddress", "acs:SourceIp", "172.30.0.0/16", False),
        ("NotIpAddress", "acs:SourceIp", "172.30.0.0/16", True),
        ("Bool", "acs:SecureTransport", "true", False),
        ("StringEquals", "oss:Prefix", "x", False),  # a key the emulator never sets
    ],
)
def test_a_missing_key_makes_positive_operators_false_and_negated_ones_true(
    operator: str, key: str, value: str, holds_without_the_key: bool
) -> None:
    assert condition_holds({operator: {key: value}}, NO_KEYS) is holds_without_the_key
    # ... and with the key present, each operator means what it says:
    if key != "oss:Prefix":
        negated = "Not" in operator
        assert condition_holds({operator: {key: value}}, FROM_VPC) is (not negated)


def test_several_values_are_ored_several_keys_and_operators_anded() -> None:
    assert condition_holds({"StringEquals": {"acs:SourceVpc": ["vpc-x", "vpc-a"]}}, FROM_VPC)
    assert not condition_holds({"StringEquals": {"acs:SourceVpc": ["vpc-x", "vpc-y"]}}, FROM_VPC)
    # a negated operator's values: none may match
    assert not condition_holds({"StringNotEquals": {"acs:SourceVpc": ["vpc-x", "vpc-a"]}}, FROM_VPC)
    assert condition_holds({"StringNotEquals": {"acs:SourceVpc": ["vpc-x", "vpc-y"]}}, FROM_VPC)
    both_keys = {"StringEquals": {"acs:SourceVpc": "vpc-a", "acs:SourceIp": "172.30.1.5"}}
    assert condition_holds(both_keys, FROM_VPC)
    assert not condition_holds(
        {"StringEquals": {"acs:SourceVpc": "vpc-a", "acs:SourceIp": "172.30.1.6"}}, FROM_VPC
    )
    operators = {
        "StringEquals": {"acs:SourceVpc": "vpc-a"},
        "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "172.30.1.0/24"]},
        "Bool": {"acs:SecureTransport": True},
    }
    assert condition_holds(operators, FROM_VPC)
    insecure = RequestContext("172.30.1.5", "vpc-a", secure_transport=False)
    assert not condition_holds(operators, insecure)


def test_ip_conditions() -> None:
    assert condition_holds({"IpAddress": {"acs:SourceIp": "172.30.1.5"}}, FROM_VPC)
    assert not condition_holds({"IpAddress": {"acs:SourceIp": "not-an-ip"}}, FROM_VPC)
    assert condition_holds({"NotIpAddress": {"acs:SourceIp": "192.168.0.0/16"}}, FROM_VPC)


@pytest.mark.parametrize(
    "condition",
    [
        {"NumericLessThan": {"acs:CurrentTime": "5"}},
        {"ForAnyValue:StringEquals": {"acs:SourceVpc": "vpc-a"}},
        {"StringEquals": "vpc-a"},
        "not an object",
    ],
)
def test_conditions_the_emulator_cannot_evaluate_are_errors(condition: Any) -> None:
    with pytest.raises(UnsupportedCondition):
        decide([doc(allow(Condition=condition))], "oss:GetObject", OBJECT, FROM_VPC)


statement_strategy = st.builds(
    lambda effect, action, vpc: {
        "Effect": effect,
        "Action": action,
        "Resource": "*",
        **({"Condition": {"StringEquals": {"acs:SourceVpc": vpc}}} if vpc else {}),
    },
    st.sampled_from(["Allow", "Deny"]),
    st.sampled_from(["oss:*", "oss:GetObject", "oss:PutObject", "oss:Get*"]),
    st.sampled_from([None, "vpc-a", "vpc-b"]),
)


@settings(max_examples=200, deadline=None)
@given(statements=st.lists(statement_strategy, max_size=6), seed=st.integers())
def test_decisions_do_not_depend_on_order_and_a_matching_deny_always_wins(
    statements: list[dict[str, Any]], seed: int
) -> None:
    shuffled = list(statements)
    random.Random(seed).shuffle(shuffled)
    first = decide([doc(*statements)] if statements else [], "oss:GetObject", OBJECT, FROM_VPC)
    again = decide([doc(*shuffled)] if shuffled else [], "oss:GetObject", OBJECT, FROM_VPC)
    assert first is again
    matching = [s for s in statements if s["Action"] in ("oss:*", "oss:GetObject", "oss:Get*")]
    matching = [s for s in matching if "Condition" not in s or
                s["Condition"]["StringEquals"]["acs:SourceVpc"] == "vpc-a"]  # fmt: skip
    if any(s["Effect"] == "Deny" for s in matching):
        assert first is Decision.DENY
    elif matching:
        assert first is Decision.ALLOW
    else:
        assert first is Decision.NONE
    with_deny = [*statements, deny()]
    assert decide([doc(*with_deny)], "oss:GetObject", OBJECT, FROM_VPC) is Decision.DENY


# --------------------------------------------------------------------------- the installer's


def installer_documents(vpc: str) -> tuple[str, str]:
    ram = json.dumps(automq_ram_policy(["data"], account_id=ACCOUNT, source_vpc_ids=[vpc]))
    bucket = json.dumps(
        {
            "Version": "1",
            "Statement": automq_bucket_statements(
                bucket="data", account_id=ACCOUNT, principal=USER, vpc_ids=[vpc]
            ),
        }
    )
    return ram, bucket


@pytest.mark.parametrize(
    ("context", "user_decision", "owner_decision"),
    [
        (FROM_VPC, Decision.ALLOW, Decision.NONE),
        (RequestContext("172.31.0.5", "vpc-b", True), Decision.DENY, Decision.NONE),
        (FROM_OUTSIDE, Decision.DENY, Decision.NONE),
    ],
)
def test_the_installers_policies(
    context: RequestContext, user_decision: Decision, owner_decision: Decision
) -> None:
    """The AutoMQ user reaches its bucket from the cluster's VPC only; the owner is not
    bound by the user's statements."""
    ram, bucket = installer_documents("vpc-a")
    for action, resource in (("oss:PutObject", OBJECT), ("oss:ListObjects", BUCKET_ARN)):
        assert decide([ram], action, resource, context, bucket, USER_CALLER) is user_decision
        assert decide([], action, resource, context, bucket, OWNER) is owner_decision


# --------------------------------------------------------------------------- source VPCs


def test_source_vpc_from_the_docker_networks_of_vpcs() -> None:
    backend = DockerBackend("test")
    backend._remember(
        "vpc-a",
        NetworkInfo(
            "automq-emu-vpc-a",
            ipaddress.IPv4Network("172.30.1.0/24"),
            ipaddress.IPv4Address("172.30.1.1"),
        ),
    )
    assert backend.vpc_of_address(ipaddress.ip_address("172.30.1.7")) == "vpc-a"
    assert backend.vpc_of_address(ipaddress.ip_address("172.30.1.1")) is None  # this machine
    assert backend.vpc_of_address(ipaddress.ip_address("172.30.2.7")) is None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tests.alicloud_emulator.containers._docker", lambda *a, **k: "")
        backend.remove_network("vpc-a")
    assert backend.vpc_of_address(ipaddress.ip_address("172.30.1.7")) is None


def test_source_vpc_of_addresses() -> None:
    emulator = Emulator(
        containers=False,
        source_vpcs={"127.0.0.0/8": "vpc-wide", "127.0.0.2/32": "vpc-narrow"},
    )
    assert emulator.source_vpc_of("127.0.0.2") == "vpc-narrow"  # the most specific block
    assert emulator.source_vpc_of("127.0.0.1") == "vpc-wide"
    assert emulator.source_vpc_of("::ffff:127.0.0.2") == "vpc-narrow"
    assert emulator.source_vpc_of("192.0.2.1") is None
    assert Emulator(containers=False).source_vpc_of("127.0.0.1") is None


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def vpc_emulator() -> Iterator[Emulator]:
    """127.0.0.2 is in vpc-a, 127.0.0.3 in vpc-b, 127.0.0.1 outside every VPC."""
    with Emulator(
        containers=False,
        s3_http_port=0,
        source_vpcs={"127.0.0.2/32": "vpc-a", "127.0.0.3/32": "vpc-b"},
    ) as emu:
        yield emu


def provision_automq_user(emulator: Emulator) -> tuple[str, str]:
    clients = make_clients(emulator)
    clients.oss.put_bucket(oss.PutBucketRequest(bucket="data"))
    user = clients.ram.create_user(ram_models.CreateUserRequest(user_name="automq")).body.user
    ram = automq_ram_policy(["data"], account_id=emulator.account_id, source_vpc_ids=["vpc-a"])
    clients.ram.create_policy(
        ram_models.CreatePolicyRequest(policy_name="automq", policy_document=json.dumps(ram))
    )
    clients.ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name="automq", user_name="automq"
        )
    )
    statements = automq_bucket_statements(
        bucket="data", account_id=emulator.account_id, principal=user.user_id, vpc_ids=["vpc-a"]
    )
    clients.oss.put_bucket_policy(
        oss.PutBucketPolicyRequest(
            bucket="data", body=json.dumps({"Version": "1", "Statement": statements})
        )
    )
    key = clients.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="automq"))
    return key.body.access_key.access_key_id, key.body.access_key.access_key_secret


def test_data_plane_enforces_the_source_vpc(vpc_emulator: Emulator) -> None:
    key_id, secret = provision_automq_user(vpc_emulator)
    inside = S3Client(vpc_emulator, key_id, secret, source_address="127.0.0.2")
    assert inside.put("data", "s3stream/1", b"x").status == 200
    assert inside.get("data", "s3stream/1").body == b"x"
    assert inside.list_v2("data").status == 200
    upload_id = inside.create_multipart("data", "s3stream/2")
    assert inside.list_parts("data", "s3stream/2", upload_id).status == 200
    assert inside.abort("data", "s3stream/2", upload_id).status == 204
    assert inside.delete_objects("data", ["s3stream/1"]).status == 200
    assert inside.put("data", "s3stream/1", b"x").status == 200
    for address in ("127.0.0.3", "127.0.0.1"):
        outside = S3Client(vpc_emulator, key_id, secret, source_address=address)
        for response in (
            outside.get("data", "s3stream/1"),
            outside.put("data", "s3stream/9", b"x"),
            outside.list_v2("data"),
            outside.delete("data", "s3stream/1"),
            outside.delete_objects("data", ["s3stream/1"]),
        ):
            assert (response.status, response.code) == (403, "AccessDenied"), address
            assert "explicit Deny" in response.error["Message"]
    # The owner's provisioning key is not bound by the user's statements.
    owner = S3Client(vpc_emulator, source_address="127.0.0.1")
    assert owner.get("data", "s3stream/1").body == b"x"
    # A copy needs read access to the source and write access to the target.
    assert inside.copy("data", "s3stream/copy", "data/s3stream/1").status == 200


def test_an_allow_only_the_bucket_policy_grants(vpc_emulator: Emulator) -> None:
    clients = make_clients(vpc_emulator)
    clients.oss.put_bucket(oss.PutBucketRequest(bucket="data"))
    user = clients.ram.create_user(ram_models.CreateUserRequest(user_name="reader")).body.user
    key = clients.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="reader"))
    reader = S3Client(
        vpc_emulator,
        key.body.access_key.access_key_id,
        key.body.access_key.access_key_secret,
        source_address="127.0.0.2",
    )
    S3Client(vpc_emulator).put("data", "k", b"v")
    assert (reader.get("data", "k").status, reader.get("data", "k").code) == (403, "AccessDenied")
    policy = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": [user.user_id],
                "Action": ["oss:GetObject"],
                "Resource": [f"acs:oss:*:{vpc_emulator.account_id}:data/*"],
                "Condition": {"StringLike": {"acs:SourceVpc": "vpc-*"}},
            }
        ],
    }
    clients.oss.put_bucket_policy(
        oss.PutBucketPolicyRequest(bucket="data", body=json.dumps(policy))
    )
    assert reader.get("data", "k").body == b"v"
    from_outside = S3Client(
        vpc_emulator, key.body.access_key.access_key_id, key.body.access_key.access_key_secret
    )
    assert from_outside.get("data", "k").status == 403
    assert reader.put("data", "k", b"w").status == 403


def test_secure_transport_and_a_deny_that_binds_the_owner(vpc_emulator: Emulator) -> None:
    clients = make_clients(vpc_emulator)
    clients.oss.put_bucket(oss.PutBucketRequest(bucket="data"))
    policy = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": ["*"],
                "Action": ["oss:*"],
                "Resource": [f"acs:oss:*:{vpc_emulator.account_id}:data/*"],
                "Condition": {"Bool": {"acs:SecureTransport": "false"}},
            }
        ],
    }
    clients.oss.put_bucket_policy(
        oss.PutBucketPolicyRequest(bucket="data", body=json.dumps(policy))
    )
    assert S3Client(vpc_emulator).put("data", "k", b"v").status == 200
    plain = S3Client(vpc_emulator, tls=False).put("data", "k", b"v")
    assert (plain.status, plain.code) == (403, "AccessDenied")
    # The OSS API port is plain HTTP: its object requests are refused as well.
    with pytest.raises(oss.exceptions.OperationError) as raised:
        clients.oss.get_object(oss.GetObjectRequest(bucket="data", key="k"))
    assert raised.value.unwrap().code == "AccessDenied"


def test_the_oss_api_evaluates_conditions_too(vpc_emulator: Emulator) -> None:
    """Formerly statements with a Condition were skipped, so this Deny let the user in."""
    key_id, secret = provision_automq_user(vpc_emulator)
    user = make_clients(vpc_emulator, key_id, secret).oss  # from 127.0.0.1: no VPC
    with pytest.raises(oss.exceptions.OperationError) as raised:
        user.put_object(oss.PutObjectRequest(bucket="data", key="s3stream/1", body=b"x"))
    assert raised.value.unwrap().code == "AccessDenied"
    owner = make_clients(vpc_emulator).oss
    owner.put_object(oss.PutObjectRequest(bucket="data", key="s3stream/1", body=b"x"))
    with pytest.raises(oss.exceptions.OperationError) as raised:
        user.delete_multiple_objects(
            oss.DeleteMultipleObjectsRequest(
                bucket="data", objects=[oss.DeleteObject(key="s3stream/1")]
            )
        )
    assert raised.value.unwrap().code == "AccessDenied"
    assert owner.is_object_exist("data", "s3stream/1")


def test_unevaluable_conditions_refuse_the_request(vpc_emulator: Emulator) -> None:
    clients = make_clients(vpc_emulator)
    clients.oss.put_bucket(oss.PutBucketRequest(bucket="data"))
    policy = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": ["*"],
                "Action": ["oss:GetObject"],
                "Resource": [f"acs:oss:*:{vpc_emulator.account_id}:data/*"],
                "Condition": {"DateGreaterThan": {"acs:CurrentTime": "2020-01-01T00:00:00Z"}},
            }
        ],
    }
    clients.oss.put_bucket_policy(
        oss.PutBucketPolicyRequest(bucket="data", body=json.dumps(policy))
    )
    response = S3Client(vpc_emulator).get("data", "k")
    assert (response.status, response.code) == (403, "AccessDenied")
    assert "cannot evaluate" in response.error["Message"]
