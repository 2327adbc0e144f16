"""Signatures: the right key is accepted and a wrong one gets the cloud's error code."""

from __future__ import annotations

import alibabacloud_oss_v2 as oss
import pytest
import requests
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.auth import Principal, verify_oss4
from tests.alicloud_emulator.sdk import make_clients, oss_client, rpc_config


def test_acs3_right_secret_is_accepted(emulator: Emulator) -> None:
    identity = StsClient(rpc_config(emulator)).get_caller_identity().body
    assert identity.account_id == emulator.account_id
    assert identity.identity_type == "Account"
    assert identity.arn == f"acs:ram::{emulator.account_id}:root"


def test_acs3_wrong_secret_is_signature_does_not_match(emulator: Emulator) -> None:
    client = StsClient(rpc_config(emulator, access_key_secret="not-the-secret"))
    with pytest.raises(ClientException) as raised:
        client.get_caller_identity()
    assert raised.value.code == "SignatureDoesNotMatch"
    assert raised.value.status_code == 400


def test_acs3_unknown_key_is_not_found(emulator: Emulator) -> None:
    client = VpcClient(rpc_config(emulator, access_key_id="LTAI5tUnknownKey000000"))
    with pytest.raises(ClientException) as raised:
        client.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id="cn-hangzhou"))
    assert raised.value.code == "InvalidAccessKeyId.NotFound"
    assert raised.value.status_code == 404


def test_acs3_signature_covers_the_parameters(emulator: Emulator) -> None:
    """A parameter changed after signing (here by a proxy) breaks the signature."""
    client = VpcClient(rpc_config(emulator))
    session_send = requests.Session.send

    def tamper(self: requests.Session, request: requests.PreparedRequest, **kwargs: object):
        request.url = request.url.replace("VpcName=a", "VpcName=b")
        return session_send(self, request, **kwargs)

    requests.Session.send = tamper  # type: ignore[method-assign]
    try:
        with pytest.raises(ClientException) as raised:
            client.describe_vpcs(
                vpc_models.DescribeVpcsRequest(region_id="cn-hangzhou", vpc_name="a")
            )
    finally:
        requests.Session.send = session_send  # type: ignore[method-assign]
    assert raised.value.code == "SignatureDoesNotMatch"


def test_classic_rpc_signature_is_verified_too(emulator: Emulator) -> None:
    good = StsClient(rpc_config(emulator, signature_algorithm="v2"))
    assert good.get_caller_identity().body.account_id == emulator.account_id
    bad = StsClient(rpc_config(emulator, access_key_secret="wrong", signature_algorithm="v2"))
    with pytest.raises(ClientException) as raised:
        bad.get_caller_identity()
    assert raised.value.code == "SignatureDoesNotMatch"


def test_unsigned_rpc_request_is_refused(emulator: Emulator) -> None:
    answer = requests.post(
        f"http://{emulator.rpc_endpoint}/?RegionId=cn-hangzhou",
        headers={"x-acs-action": "DescribeVpcs", "x-acs-version": "2016-04-28"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["Code"] == "IncompleteSignature"


def test_unknown_action_and_version(emulator: Emulator) -> None:
    client = VpcClient(rpc_config(emulator))
    with pytest.raises(ClientException) as raised:
        client.describe_route_tables(vpc_models.DescribeRouteTablesRequest(region_id="cn-hangzhou"))
    assert raised.value.code == "InvalidAction.NotFound"
    assert raised.value.status_code == 404


def test_oss4_right_secret_is_accepted(emulator: Emulator) -> None:
    client = oss_client(emulator)
    client.put_bucket(oss.PutBucketRequest(bucket="signed-bucket"))
    names = [b.name for b in client.list_buckets(oss.ListBucketsRequest()).buckets]
    assert names == ["signed-bucket"]


def test_oss4_wrong_secret_is_signature_does_not_match(emulator: Emulator) -> None:
    client = oss_client(emulator, access_key_secret="not-the-secret")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        client.put_bucket(oss.PutBucketRequest(bucket="signed-bucket"))
    error = raised.value.unwrap()
    assert isinstance(error, oss.exceptions.ServiceError)
    assert (error.status_code, error.code) == (403, "SignatureDoesNotMatch")
    assert "signed-bucket" not in emulator.state.buckets


def test_oss4_unknown_key_is_invalid_access_key_id(emulator: Emulator) -> None:
    client = oss_client(emulator, access_key_id="LTAI5tUnknownKey000000")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        client.list_buckets(oss.ListBucketsRequest())
    error = raised.value.unwrap()
    assert (error.status_code, error.code) == (403, "InvalidAccessKeyId")


def test_oss4_head_error_is_readable_without_a_body(emulator: Emulator) -> None:
    """HEAD answers carry the error in x-oss-err, as OSS does."""
    client = oss_client(emulator, access_key_secret="not-the-secret")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        client.head_object(oss.HeadObjectRequest(bucket="any-bucket", key="k"))
    assert raised.value.unwrap().code == "SignatureDoesNotMatch"


def test_oss4_wrong_region_is_refused(emulator: Emulator) -> None:
    client = oss_client(emulator, region="cn-beijing")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        client.list_buckets(oss.ListBucketsRequest())
    assert raised.value.unwrap().code == "InvalidArgument"


def test_oss_v1_signature_is_refused(emulator: Emulator) -> None:
    client = oss_client(emulator, signature_version="v1")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        client.list_buckets(oss.ListBucketsRequest())
    assert raised.value.unwrap().code == "AccessDenied"


def test_ram_user_keys_sign_rpc_and_oss(emulator: Emulator) -> None:
    admin = make_clients(emulator)
    admin.ram.create_user(ram_models.CreateUserRequest(user_name="automq"))
    key = admin.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="automq"))
    key_id, secret = key.body.access_key.access_key_id, key.body.access_key.access_key_secret
    user = make_clients(emulator, key_id, secret)
    identity = user.sts.get_caller_identity().body
    assert identity.identity_type == "RAMUser"
    assert identity.arn == f"acs:ram::{emulator.account_id}:user/automq"
    assert identity.user_id == emulator.state.users["automq"].id
    # Signed correctly but not authorized: RAM's error codes, not signature errors.
    with pytest.raises(ClientException) as raised:
        user.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id="cn-hangzhou"))
    assert (raised.value.status_code, raised.value.code) == (403, "Forbidden.RAM")
    with pytest.raises(oss.exceptions.OperationError) as raised_oss:
        user.oss.list_buckets(oss.ListBucketsRequest())
    assert raised_oss.value.unwrap().code == "AccessDenied"
    # A wrong secret for the user's key is still a signature error.
    wrong = oss_client(emulator, key_id, "wrong-secret")
    with pytest.raises(oss.exceptions.OperationError) as raised_oss:
        wrong.list_buckets(oss.ListBucketsRequest())
    assert raised_oss.value.unwrap().code == "SignatureDoesNotMatch"


def test_deleted_key_no_longer_signs(emulator: Emulator) -> None:
    admin = make_clients(emulator)
    admin.ram.create_user(ram_models.CreateUserRequest(user_name="gone"))
    key = admin.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="gone")).body
    key_id, secret = key.access_key.access_key_id, key.access_key.access_key_secret
    assert make_clients(emulator, key_id, secret).sts.get_caller_identity().body.user_id
    admin.ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(user_name="gone", user_access_key_id=key_id)
    )
    with pytest.raises(ClientException) as raised:
        make_clients(emulator, key_id, secret).sts.get_caller_identity()
    assert raised.value.code == "InvalidAccessKeyId.NotFound"


def test_oss4_verifier_matches_the_sdk_signer_byte_for_byte() -> None:
    """The canonical request rebuilt by the server equals the SDK's own string to sign."""
    import datetime as dt

    from alibabacloud_oss_v2.credentials import Credentials
    from alibabacloud_oss_v2.signer.v4 import SignerV4
    from alibabacloud_oss_v2.types import HttpRequest, SigningContext

    now = dt.datetime.now(dt.UTC)
    request = HttpRequest(
        "PUT",
        "http://127.0.0.1:1/bkt/dir/a%20b%2Bc%7E.txt?acl&x-oss-meta=1",
        headers={"Content-Type": "text/plain", "x-oss-meta-owner": "team"},
    )
    context = SigningContext(
        product="oss",
        region="cn-hangzhou",
        bucket="bkt",
        key="dir/a b+c~.txt",
        request=request,
        credentials=Credentials("AK", "SECRET"),
        signing_time=now,
    )
    SignerV4().sign(context)
    signer = Principal("account", "1", "AK")
    principal = verify_oss4(
        "PUT",
        "bkt",
        "dir/a b+c~.txt",
        "acl&x-oss-meta=1",
        request.headers,
        lambda key_id: ("SECRET", signer) if key_id == "AK" else None,
        ["cn-hangzhou"],
    )
    assert principal is signer
