"""The readiness check's Signature V4 signer, against botocore's S3SigV4Auth.

botocore is a test-only dependency: for the same credentials, time, method, URL, query,
headers and body, our Authorization header must be byte for byte botocore's.
"""

from __future__ import annotations

import datetime
from unittest import mock

import botocore.auth
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.utils import percent_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.oss_readiness import (
    Credentials,
    canonical_query,
    content_md5,
    sign_headers,
    signing_key,
    uri_encode,
)

NOW = datetime.datetime(2026, 12, 3, 21, 6, 7, tzinfo=datetime.UTC)
HOST = "automq-data.oss-cn-hangzhou-internal.aliyuncs.com"


def botocore_headers(
    method: str,
    host: str,
    key: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    now: datetime.datetime,
    scheme: str = "https",
) -> dict[str, str]:
    """What botocore sends for the request; the key is encoded as botocore's serializer does
    (``{Key+}``: percent_encode with '/' and '~' safe)."""
    url = f"{scheme}://{host}/" + percent_encode(key, safe="/~")
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body, params=query)
    # Sign the payload hash always, as the readiness check does (never UNSIGNED-PAYLOAD).
    request.context["client_config"] = Config(s3={"payload_signing_enabled": True})
    boto_credentials = BotoCredentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token or None
    )
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=now):
        S3SigV4Auth(boto_credentials, "s3", region).add_auth(request)
    return dict(request.headers.items())


def ours(
    method: str,
    host: str,
    key: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    now: datetime.datetime,
) -> dict[str, str]:
    path = "/" + uri_encode(key, encode_slash=False)
    return sign_headers(method, host, path, query, headers, body, credentials, region, now)


def assert_same(method, host, key, query, headers, body, credentials, region, now=NOW) -> None:
    expected = botocore_headers(method, host, key, query, headers, body, credentials, region, now)
    actual = ours(method, host, key, query, headers, body, credentials, region, now)
    assert actual["Authorization"] == expected["Authorization"]
    assert actual["X-Amz-Date"] == expected["X-Amz-Date"]
    assert actual["X-Amz-Content-SHA256"] == expected["X-Amz-Content-SHA256"]
    assert actual.get("X-Amz-Security-Token") == expected.get("X-Amz-Security-Token")


CREDENTIALS = Credentials("LTAI5tExampleKeyId", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


def test_put_with_content_md5_matches_botocore() -> None:
    body = b"Sat Dec 03 21:06:07 UTC 2026"
    headers = {"Content-MD5": content_md5(body), "Content-Type": "application/octet-stream"}
    key = "__automq/readiness_check/installer/node-0/1764795967000000000/object"
    assert_same("PUT", HOST, key, [], headers, body, CREDENTIALS, "oss-cn-hangzhou")


def test_every_request_of_the_check_matches_botocore() -> None:
    key = "__automq/readiness_check/installer/n/1/multipart"
    xml = b"<Delete><Object><Key>a</Key></Object></Delete>"
    cases = [
        ("HEAD", key, [], {}, b""),
        ("GET", "", [("list-type", "2"), ("prefix", "__automq/readiness_check/")], {}, b""),
        ("POST", key, [("uploads", "")], {"Content-Type": "application/octet-stream"}, b""),
        ("PUT", key, [("partNumber", "1"), ("uploadId", "0004B9895DBBB6EC98E3")], {}, b"\x00\xff"),
        ("GET", key, [], {"Range": "bytes=100-899"}, b""),
        ("POST", "", [("delete", "")], {"Content-MD5": content_md5(xml)}, xml),
        ("DELETE", key, [("uploadId", "0004B9895DBBB6EC98E3")], {}, b""),
    ]
    for method, object_key, query, headers, body in cases:
        assert_same(method, HOST, object_key, query, headers, body, CREDENTIALS, "oss-cn-beijing")


def test_session_token_and_non_default_port_match_botocore() -> None:
    credentials = Credentials("STS.NTx", "secret", session_token="token+/=with spaces")
    assert_same("GET", f"{HOST}:8443", "k", [], {}, b"", credentials, "oss-cn-hangzhou")


def test_aws_documented_get_object_example() -> None:
    """AWS's published SigV4 example "GET Object" (S3 API reference, "Examples: Signature
    Calculations in AWS Signature Version 4"): examplebucket, /test.txt, Range bytes=0-9."""
    credentials = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    headers = ours(
        "GET",
        "examplebucket.s3.amazonaws.com",
        "test.txt",
        [],
        {"Range": "bytes=0-9"},
        b"",
        credentials,
        "us-east-1",
        datetime.datetime(2013, 5, 24, tzinfo=datetime.UTC),
    )
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_aws_documented_signing_key() -> None:
    """AWS's published signing-key derivation example (IAM, 20120215, us-east-1)."""
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_uri_encode_keeps_only_unreserved_characters() -> None:
    assert uri_encode("a b+c/d=e~f_g-h.i*ü") == "a%20b%2Bc%2Fd%3De~f_g-h.i%2A%C3%BC"
    assert uri_encode("a b/c", encode_slash=False) == "a%20b/c"
    assert canonical_query([("prefix", "a/b c"), ("list-type", "2"), ("delete", "")]) == (
        "delete=&list-type=2&prefix=a%2Fb%20c"
    )


def test_time_zone_of_now_does_not_matter() -> None:
    plus_eight = NOW.astimezone(datetime.timezone(datetime.timedelta(hours=8)))
    key = "k"
    assert ours("GET", HOST, key, [], {}, b"", CREDENTIALS, "oss-cn-hangzhou", plus_eight) == ours(
        "GET", HOST, key, [], {}, b"", CREDENTIALS, "oss-cn-hangzhou", NOW
    )


# Characters the brief calls out, plus unicode; no surrogates (not UTF-8 encodable).
TRICKY = st.sampled_from(list(" ~+/=&?#%:@!$'()*,;[]\"<>\\^`{|}\t")) | st.characters(
    blacklist_categories=("Cs",)
)
tricky_text = st.text(alphabet=TRICKY, max_size=24)
header_value = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.just(" "), max_size=20
).map(lambda value: "v " + value)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    key=st.text(alphabet=TRICKY, min_size=1, max_size=40),
    query=st.lists(st.tuples(tricky_text.filter(bool), tricky_text), max_size=4),
    meta=st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).map(
            lambda name: "x-amz-meta-" + name
        ),
        header_value,
        max_size=3,
    ),
    body=st.binary(max_size=256),
    secret=st.text(alphabet=TRICKY, min_size=1, max_size=40),
    token=st.none() | st.text(alphabet=TRICKY, min_size=1, max_size=20),
    region=st.sampled_from(["oss-cn-hangzhou", "oss-ap-southeast-1", "us-east-1", "aws-global"]),
    port=st.sampled_from([None, 8443]),
    when=st.datetimes(
        min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2099, 12, 31)
    ),
)
def test_matches_botocore_for_arbitrary_requests(
    method, key, query, meta, body, secret, token, region, port, when
) -> None:
    credentials = Credentials("LTAI5tKeyId", secret, session_token=token or "")
    headers = dict(meta)
    if body:
        headers["Content-MD5"] = content_md5(body)
    host = HOST if port is None else f"{HOST}:{port}"
    # Header values are sent as given; tabs and repeated spaces are trimmed for signing.
    assert_same(
        method,
        host,
        key,
        query,
        headers,
        body,
        credentials,
        region,
        when.replace(tzinfo=datetime.UTC),
    )
