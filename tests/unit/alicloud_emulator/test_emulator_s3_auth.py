"""AWS Signature V4 on the S3 data plane: what is accepted, and every refusal.

Signed by botocore's own signer (``S3SigV4Auth``); the canonical-URI property runs
arbitrary keys through botocore's signing and the emulator's verification.
"""

from __future__ import annotations

import datetime as dt
import email.message
import hashlib
import json
from urllib.parse import urlsplit

import alibabacloud_oss_v2 as oss
import botocore.auth
import pytest
from alibabacloud_ram20150501 import models as ram_models
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.auth import Principal, verify_sigv4
from tests.alicloud_emulator.s3_client import S3Client, Sent
from tests.alicloud_emulator.sdk import Clients
from tests.alicloud_emulator.util import ApiError

BUCKET = "automq-data"


@pytest.fixture
def s3(clients: Clients, emulator: Emulator) -> S3Client:
    clients.oss.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
    return S3Client(emulator)


def refused(response, status: int, code: str) -> dict[str, str]:
    assert (response.status, response.code) == (status, code), response.body
    return response.error


def user_key(clients: Clients, name: str = "automq", policy: dict | None = None) -> tuple[str, str]:
    clients.ram.create_user(ram_models.CreateUserRequest(user_name=name))
    document = policy or {
        "Version": "1",
        "Statement": [{"Effect": "Allow", "Action": "oss:*", "Resource": "*"}],
    }
    clients.ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name=f"{name}-oss", policy_document=json.dumps(document)
        )
    )
    clients.ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name=f"{name}-oss", user_name=name
        )
    )
    key = clients.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name=name))
    return key.body.access_key.access_key_id, key.body.access_key.access_key_secret


# --------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("signing_region", ["oss-cn-hangzhou", "cn-hangzhou", "us-east-1"])
def test_accepted_signing_regions(s3: S3Client, emulator: Emulator, signing_region: str) -> None:
    client = S3Client(emulator, signing_region=signing_region)
    assert client.put(BUCKET, "k", b"v").status == 200
    assert client.get(BUCKET, "k").body == b"v"


def test_signed_payload_and_unsigned_payload(s3: S3Client, emulator: Emulator) -> None:
    signed = S3Client(emulator, payload_signing=True)
    response = signed.put(BUCKET, "k", b"signed body")
    assert response.status == 200, response.body
    assert (
        response.sent.headers["X-Amz-Content-SHA256"] == hashlib.sha256(b"signed body").hexdigest()
    )
    unsigned = s3.put(BUCKET, "k2", b"unsigned body")
    assert unsigned.sent.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert unsigned.status == 200


def test_ram_user_keys_sign_and_disabled_keys_are_refused(
    s3: S3Client, clients: Clients, emulator: Emulator
) -> None:
    key_id, secret = user_key(clients)
    user = S3Client(emulator, key_id, secret)
    assert user.put(BUCKET, "k", b"v").status == 200
    clients.ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="automq", user_access_key_id=key_id, status="Inactive"
        )
    )
    refused(user.get(BUCKET, "k"), 403, "InvalidAccessKeyId")
    clients.ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="automq", user_access_key_id=key_id, status="Active"
        )
    )
    assert user.get(BUCKET, "k").body == b"v"
    clients.ram.delete_access_key(
        ram_models.DeleteAccessKeyRequest(user_name="automq", user_access_key_id=key_id)
    )
    refused(user.get(BUCKET, "k"), 403, "InvalidAccessKeyId")


# --------------------------------------------------------------------------- refused


def test_unknown_key(emulator: Emulator, s3: S3Client) -> None:
    error = refused(S3Client(emulator, "LTAI5tNoSuchKey", "x").get(BUCKET, "k"), 403,
                    "InvalidAccessKeyId")  # fmt: skip
    assert error["OSSAccessKeyId"] == "LTAI5tNoSuchKey"


def test_signed_with_a_different_secret(s3: S3Client) -> None:
    error = refused(s3.request("GET", BUCKET, "k", secret="not-the-secret"), 403,
                    "SignatureDoesNotMatch")  # fmt: skip
    assert error["CanonicalRequest"].startswith("GET\n/k\n")
    assert "not-the-secret" not in str(error)


def tamper_body(sent: Sent) -> None:
    sent.body = b"evil" + sent.body[4:]


def test_body_altered_after_signing(s3: S3Client, emulator: Emulator) -> None:
    signed = S3Client(emulator, payload_signing=True)
    error = refused(
        signed.request("PUT", BUCKET, "k", body=b"good body", tamper=tamper_body),
        400,
        "XAmzContentSHA256Mismatch",
    )
    assert error["ClientComputedContentSHA256"] == hashlib.sha256(b"good body").hexdigest()
    assert s3.head(BUCKET, "k").status == 404


@pytest.mark.parametrize(
    "change",
    [
        lambda sent: setattr(sent, "target", sent.target.replace("/k", "/other")),
        lambda sent: setattr(sent, "method", "DELETE"),
        lambda sent: sent.headers.update({"Content-Type": "text/evil"}),
        lambda sent: sent.headers.update(
            {"Host": sent.headers["Host"].replace("automq-data", "automq-ops")}
        ),
    ],
    ids=["path", "method", "signed-header", "host"],
)
def test_request_altered_after_signing(s3: S3Client, clients: Clients, change) -> None:
    clients.oss.put_bucket(oss.PutBucketRequest(bucket="automq-ops"))
    response = s3.request(
        "PUT", BUCKET, "k", body=b"v", headers={"Content-Type": "text/plain"}, tamper=change
    )
    refused(response, 403, "SignatureDoesNotMatch")


def test_unsigned_amz_headers(s3: S3Client) -> None:
    def add(sent: Sent) -> None:
        sent.headers["x-amz-meta-sneaky"] = "1"

    error = refused(s3.request("PUT", BUCKET, "k", body=b"v", tamper=add), 403, "AccessDenied")
    assert error["HeadersNotSigned"] == "x-amz-meta-sneaky"


def test_clock_skew(s3: S3Client, monkeypatch: pytest.MonkeyPatch) -> None:
    real = botocore.auth.get_current_datetime
    for minutes, ok in ((14, True), (-14, True), (16, False), (-16, False)):
        monkeypatch.setattr(
            botocore.auth,
            "get_current_datetime",
            lambda minutes=minutes: real() + dt.timedelta(minutes=minutes),
        )
        response = s3.put(BUCKET, "k", b"v")
        if ok:
            assert response.status == 200, (minutes, response.body)
        else:
            error = refused(response, 403, "RequestTimeTooSkewed")
            assert error["MaxAllowedSkewMilliseconds"] == "900000"


@pytest.mark.parametrize("service", ["oss", "sts", "s3express"])
def test_other_services(emulator: Emulator, s3: S3Client, service: str) -> None:
    response = S3Client(emulator, service=service).get(BUCKET, "k")
    assert (
        f"incorrect service '{service}'"
        in refused(response, 400, "AuthorizationHeaderMalformed")["Message"]
    )


@pytest.mark.parametrize("signing_region", ["cn-beijing", "oss-cn-beijing", "us-west-2"])
def test_signing_regions_of_other_places(
    emulator: Emulator, s3: S3Client, signing_region: str
) -> None:
    response = S3Client(emulator, signing_region=signing_region).get(BUCKET, "k")
    refused(response, 400, "AuthorizationHeaderMalformed")


def drop_signed(name: str):
    def change(sent: Sent) -> None:
        authorization = sent.headers["Authorization"]
        before, _, rest = authorization.partition("SignedHeaders=")
        names, _, after = rest.partition(",")
        kept = ";".join(n for n in names.split(";") if n != name)
        sent.headers["Authorization"] = f"{before}SignedHeaders={kept},{after}"

    return change


def test_host_must_be_signed(s3: S3Client) -> None:
    response = s3.request("GET", BUCKET, "k", tamper=drop_signed("host"))
    assert (
        "host header must be signed"
        in refused(response, 400, "AuthorizationHeaderMalformed")["Message"]
    )


def test_date_must_be_signed_and_valid(s3: S3Client) -> None:
    refused(s3.request("GET", BUCKET, "k", tamper=drop_signed("x-amz-date")), 400,
            "AuthorizationHeaderMalformed")  # fmt: skip

    def garbage_date(sent: Sent) -> None:
        sent.headers["X-Amz-Date"] = "yesterday"

    refused(s3.request("GET", BUCKET, "k", tamper=garbage_date), 403, "AccessDenied")

    def other_day(sent: Sent) -> None:
        sent.headers["Authorization"] = sent.headers["Authorization"].replace(
            sent.headers["X-Amz-Date"][:8], "20200101"
        )

    refused(s3.request("GET", BUCKET, "k", tamper=other_day), 400, "AuthorizationHeaderMalformed")


def test_missing_payload_hash(s3: S3Client) -> None:
    def remove(sent: Sent) -> None:
        del sent.headers["X-Amz-Content-SHA256"]

    response = s3.request("GET", BUCKET, "k", tamper=remove)
    refused(response, 400, "InvalidRequest")


@pytest.mark.parametrize(
    ("payload_hash", "headers", "status", "code"),
    [
        ("STREAMING-UNSIGNED-PAYLOAD-TRAILER", {}, 400, "NotImplemented"),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", {}, 400, "NotImplemented"),
        ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", {"Content-Encoding": "aws-chunked"}, 501,
         "NotImplemented"),
        ("UNSIGNED-PAYLOAD", {"Content-Encoding": "aws-chunked"}, 400, "InvalidArgument"),
        ("not-a-hash", {}, 400, "InvalidArgument"),
    ],
)  # fmt: skip
def test_streaming_and_malformed_payload_hashes(
    s3: S3Client, payload_hash: str, headers: dict[str, str], status: int, code: str
) -> None:
    response = s3.request("PUT", BUCKET, "k", body=b"v", headers=headers, payload_hash=payload_hash)
    error = refused(response, status, code)
    if "aws-chunked" in headers.values() and payload_hash == "UNSIGNED-PAYLOAD":
        assert error["EC"] == "0017-00000804"
    assert s3.head(BUCKET, "k").status == 404


def test_other_authorization_schemes_and_anonymous_requests(s3: S3Client, clients: Clients) -> None:
    def v2(sent: Sent) -> None:
        sent.headers["Authorization"] = "AWS LTAI5tKey:c2lnbmF0dXJl"

    refused(s3.request("GET", BUCKET, "k", tamper=v2), 403, "AccessDenied")

    def sigv4a(sent: Sent) -> None:
        sent.headers["Authorization"] = sent.headers["Authorization"].replace(
            "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"
        )

    refused(s3.request("GET", BUCKET, "k", tamper=sigv4a), 400, "InvalidArgument")
    presigned = s3.request(
        "GET", BUCKET, "k", params={"X-Amz-Signature": "00", "X-Amz-Credential": "x"}, sign=False
    )
    refused(presigned, 403, "AccessDenied")
    s3.put(BUCKET, "k", b"v")
    refused(s3.request("GET", BUCKET, "k", sign=False), 403, "AccessDenied")
    clients.oss.put_bucket_acl(oss.PutBucketAclRequest(bucket=BUCKET, acl="public-read"))
    assert s3.request("GET", BUCKET, "k", sign=False).body == b"v"
    refused(s3.request("PUT", BUCKET, "k", body=b"x", sign=False), 403, "AccessDenied")


# --------------------------------------------------------------------------- canonical forms


class _Headers(email.message.Message):
    """The header object http.server gives the emulator."""


def verify_prepared(method: str, url: str, body: bytes, headers: dict[str, str]) -> Principal:
    message = _Headers()
    for name, value in headers.items():
        message[name] = value
    split = urlsplit(url)
    message["Host"] = split.netloc

    def lookup(key_id: str) -> tuple[str, Principal] | None:
        if key_id != "AKID":
            return None
        return "secret", Principal("account", "1", "AKID")

    return verify_sigv4(method, split.path, split.query, message, body, lookup, {"oss-cn-hangzhou"})


def sign(method: str, url: str, body: bytes = b"", **context: bool) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body)
    request.context.update(context)
    S3SigV4Auth(Credentials("AKID", "secret"), "s3", "oss-cn-hangzhou").add_auth(request)
    return dict(request.headers.items())


keys = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
    min_size=1,
    max_size=60,
).filter(lambda key: not key.startswith("/"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=keys, prefix=st.text(max_size=30), token=st.text(max_size=20))
def test_canonical_uri_and_query_of_arbitrary_keys_round_trip(
    key: str, prefix: str, token: str
) -> None:
    """Any key (as botocore encodes it into the path) and any query value verify; the
    same request for another key does not."""
    host = "https://automq-data.oss-cn-hangzhou-internal.aliyuncs.com"
    url = f"{host}/{percent_encode(key, safe='/~')}"
    query = percent_encode_sequence([("list-type", "2"), ("prefix", prefix), ("token", token)])
    for target in (url, f"{url}?{query}", f"{url}?uploads"):
        headers = sign("GET", target)
        assert verify_prepared("GET", target, b"", headers).access_key_id == "AKID"
        other = target.replace(host + "/", host + "/x", 1)
        with pytest.raises(ApiError) as raised:
            verify_prepared("GET", other, b"", headers)
        assert raised.value.code == "SignatureDoesNotMatch"


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=2048), flip=st.integers(min_value=0, max_value=2047))
def test_signed_payloads_round_trip_and_any_altered_byte_is_refused(body: bytes, flip: int) -> None:
    url = "https://automq-data.oss-cn-hangzhou-internal.aliyuncs.com/k"
    headers = sign("PUT", url, body, payload_signing_enabled=True)
    assert verify_prepared("PUT", url, body, headers).access_key_id == "AKID"
    if body:
        index = flip % len(body)
        altered = body[:index] + bytes([body[index] ^ 0xFF]) + body[index + 1 :]
        with pytest.raises(ApiError) as raised:
            verify_prepared("PUT", url, altered, headers)
        assert raised.value.code == "XAmzContentSHA256Mismatch"


def test_special_keys_over_the_wire(s3: S3Client) -> None:
    for key in ("a b", "plus+sign", "percent%41", "tilde~", "star*!'()", "ünïcödé/ключ", "a//b"):
        assert s3.put(BUCKET, key, key.encode()).status == 200, key
        assert s3.get(BUCKET, key).body == key.encode(), key
