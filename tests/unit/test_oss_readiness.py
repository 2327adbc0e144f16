"""The OSS readiness check: parsing, the step sequence over a fake OSS, and the real transport.

``FakeOss`` (oss_fake.py) verifies every signature with botocore and behaves like OSS on
the errors the check must explain; ``faults`` and ``deny`` script failures at any step.
"""

from __future__ import annotations

import base64
import datetime
import json
import socket
import threading
from pathlib import Path

import pytest
from oss_fake import (
    ACCESS_KEY_ID,
    ENDPOINT_HOST,
    REGION,
    SECRET,
    FakeOss,
    error_response,
    make_pki,
    serve_tls,
)

from automq_helpers.oss_readiness import (
    PROBE_ROOT,
    BucketUri,
    Credentials,
    HttpClientTransport,
    HttpResponse,
    ReadinessCheck,
    ReadinessError,
    Target,
    TransportError,
    bucket_endpoint,
    check_buckets,
    load_targets,
    parse_bucket_uri,
    parse_bucket_uri_list,
    parse_environment_file,
    parse_error,
    probe_name,
    resolve_credentials,
)

NOW = datetime.datetime(2026, 12, 3, 21, 6, 7, tzinfo=datetime.UTC)
TIME_NS = 1764795967123456789
PREFIX = f"{PROBE_ROOT}node-0/{TIME_NS}/"
OBJECT_KEY = PREFIX + "object"
MULTIPART_KEY = PREFIX + "multipart"
ENV_SOURCE = "/etc/automq/credentials.env"
FULL_STEPS = [
    "head",
    "put",
    "get",
    "list",
    "multipart_create",
    "multipart_upload_part",
    "multipart_complete",
    "ranged_get",
    "delete",
    "verify_deleted",
]
FULL_OPERATIONS = [
    "HeadObject",
    "PutObject",
    "GetObject",
    "ListObjectsV2",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "GetObject",
    "DeleteObjects",
    "ListObjectsV2",
]


def uri(
    bucket: str = "automq-data", endpoint: str = f"https://{ENDPOINT_HOST}", extra: str = ""
) -> BucketUri:
    return parse_bucket_uri(f"0@s3://{bucket}?region={REGION}&endpoint={endpoint}{extra}")


def target(
    bucket: str = "automq-data",
    key_id: str = ACCESS_KEY_ID,
    secret: str = SECRET,
    extra: str = "",
    endpoint: str = f"https://{ENDPOINT_HOST}",
) -> Target:
    return Target(
        ("data", "wal"),
        uri(bucket, endpoint, extra),
        Credentials(key_id, secret, source=ENV_SOURCE),
    )


def fake_oss(**kwargs) -> FakeOss:
    return FakeOss(clock=lambda: NOW, **kwargs)


def run(fake, check_target=None, check_mode=False, now=NOW):
    check = ReadinessCheck(
        check_target or target(),
        fake,
        "node-0",
        check_mode=check_mode,
        now=lambda: now,
        time_ns=lambda: TIME_NS,
    )
    return check.run()


def step_names(report) -> list[str]:
    return [step.step for step in report.steps]


# --------------------------------------------------------------------------- success


def test_every_step_passes_and_nothing_is_left_behind() -> None:
    fake = fake_oss()
    fake.objects[("automq-data", "kafka/automq-object")] = b"AutoMQ's own data"

    report = run(fake)

    assert report.ok, report.summary()
    assert step_names(report) == FULL_STEPS
    assert all(step.ok for step in report.steps)
    assert [step.http_status for step in report.steps] == [
        404, 200, 200, 200, 200, 200, 200, 206, 200, 200
    ]  # fmt: skip
    assert fake.operations == FULL_OPERATIONS
    # Only AutoMQ's own object remains; no upload is pending.
    assert fake.objects == {("automq-data", "kafka/automq-object"): b"AutoMQ's own data"}
    assert fake.uploads == {}
    assert report.probe_prefix == PREFIX
    assert report.url == f"https://automq-data.{ENDPOINT_HOST}/"
    assert report.summary() == (
        f"data/wal bucket automq-data (https://automq-data.{ENDPOINT_HOST}/): ready "
        "(every step passed, all probe objects deleted)"
    )


def test_requests_are_virtual_hosted_with_content_md5_on_every_upload() -> None:
    fake = fake_oss()

    run(fake)

    hosts = {request.headers["Host"] for request in fake.requests}
    assert hosts == {f"automq-data.{ENDPOINT_HOST}"}
    targets = [request.target for request in fake.requests]
    assert targets[0] == "/" + OBJECT_KEY
    assert targets[3] == "/?list-type=2&prefix=" + PREFIX.replace("/", "%2F")
    assert targets[8] == "/?delete="
    for request in fake.requests:
        assert request.headers["X-Amz-Content-SHA256"] != "UNSIGNED-PAYLOAD"
        if request.body:
            assert "Content-MD5" in request.headers
            assert "content-md5" in request.headers["Authorization"]
    assert fake.requests[7].headers["Range"] == "bytes=100-899"


def test_check_mode_only_sends_head() -> None:
    fake = fake_oss()

    report = run(fake, check_mode=True)

    assert report.ok
    assert report.mode == "head-only"
    assert fake.operations == ["HeadObject"]
    assert step_names(report) == ["head"]
    assert fake.objects == {}
    assert "check mode: nothing written" in report.summary()


def test_check_mode_reports_a_failing_head() -> None:
    fake = fake_oss(deny={"HeadObject", "GetObject"})

    report = run(fake, check_mode=True)

    assert not report.ok
    assert report.failure.code == "AccessDenied"
    assert [request.method for request in fake.requests] == ["HEAD"]


# --------------------------------------------------------------------------- errors


ERROR_CASES = {
    "wrong AccessKey ID": (
        {},
        {"key_id": "LTAI5tDeletedKey"},
        403,
        "InvalidAccessKeyId",
        "AccessKey ID LTAI5tDeletedKey (from /etc/automq/credentials.env) is wrong, "
        "disabled or deleted",
    ),
    "wrong AccessKey secret": (
        {},
        {"secret": "not-the-secret"},
        403,
        "SignatureDoesNotMatch",
        "the AccessKey secret is not the one of AccessKey ID",
    ),
    "RAM or bucket policy denies": (
        {"deny": {"HeadObject", "GetObject"}},
        {},
        403,
        "AccessDenied",
        "allow oss:GetObject on acs:oss:*:*:automq-data/* in the RAM user's policy and check "
        "the bucket policy: with an acs:SourceVpc condition only requests from the cluster's "
        "VPC through the internal endpoint (oss-cn-hangzhou-internal.aliyuncs.com) are allowed",
    ),
    "no such bucket": (
        {},
        {"bucket": "automq-dta"},
        404,
        "NoSuchBucket",
        "bucket automq-dta does not exist at https://oss-cn-hangzhou-internal.aliyuncs.com",
    ),
    "path-style": (
        {},
        {"extra": "&pathStyle=true"},
        403,
        "SecondLevelDomainForbidden",
        "remove pathStyle=true from the bucket URI",
    ),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_service_errors_at_head_stop_the_check(case: str) -> None:
    fake_args, target_args, status, code, fix = ERROR_CASES[case]
    fake = fake_oss(**fake_args)

    report = run(fake, target(**target_args))

    assert not report.ok
    failure = report.failure
    assert (failure.step, failure.http_status, failure.code) == ("head", status, code)
    assert fix in failure.fix
    assert failure.request_id.startswith("FAKE")
    assert failure.ec  # OSS's EC came through the x-oss-err header of the HEAD answer
    assert fake.operations == ["HeadObject"]  # nothing after the failing step
    assert report.cleanup == ""
    summary = report.summary()
    assert f"bucket {target(**target_args).uri.bucket}" in summary
    assert f"step head failed with HTTP {status} {code}" in summary
    assert fix in summary


def test_signature_mismatch_reports_no_signature_or_string_to_sign() -> None:
    fake = fake_oss()

    report = run(fake, target(secret="wrong-secret-value"))

    text = json.dumps(report.as_dict())
    sent = fake.requests[0].headers["Authorization"]
    assert report.failure.code == "SignatureDoesNotMatch"
    assert "wrong-secret-value" not in text
    assert sent.rpartition("Signature=")[2] not in text
    assert "AWS4-HMAC-SHA256" not in text  # neither the header nor the string to sign
    assert "aws4_request" not in text


def test_clock_skew_names_the_host_clock_and_the_offset() -> None:
    fake = fake_oss()

    report = run(fake, now=NOW + datetime.timedelta(minutes=20))

    assert report.failure.code == "RequestTimeTooSkewed"
    assert report.failure.step == "head"
    assert "this host's clock is more than 15 minutes off" in report.failure.fix
    assert "this host is +1200s off the server's Date" in report.failure.fix


TRANSPORT_CASES = {
    "dns": ("DNSFailure", "cannot resolve automq-data.oss-cn-hangzhou-internal.aliyuncs.com"),
    "refused": ("ConnectionRefused", "security group allows egress to TCP 443"),
    "timeout": ("Timeout", "an -internal endpoint answers only ECS instances in a VPC"),
    "certificate": ("CertificateError", "system trust store (ca-certificates)"),
}


@pytest.mark.parametrize("kind", TRANSPORT_CASES)
def test_network_errors_at_head_stop_the_check(kind: str) -> None:
    code, fix = TRANSPORT_CASES[kind]
    fake = fake_oss(faults={"HeadObject": TransportError(kind, "detail of " + kind)})

    report = run(fake)

    failure = report.failure
    assert (failure.step, failure.http_status, failure.code) == ("head", None, code)
    assert fix in failure.fix
    assert failure.message == "detail of " + kind
    assert fake.operations == ["HeadObject"]
    assert f"step head failed with no HTTP {code}: detail of {kind}" in report.summary()


MIDWAY_CASES = {
    "put denied": ({"deny": {"PutObject"}}, "put", "AccessDenied", "oss:PutObject"),
    "list denied": ({"deny": {"ListObjectsV2"}}, "list", "AccessDenied", "oss:ListObjects"),
    "multipart denied": (
        {"deny": {"CreateMultipartUpload"}},
        "multipart_create",
        "AccessDenied",
        "oss:PutObject",
    ),
    "part times out": (
        {"faults": {"UploadPart": TransportError("timeout", "no response within 10.0s")}},
        "multipart_upload_part",
        "Timeout",
        "cannot reach",
    ),
    "complete denied": (
        {"deny": {"CompleteMultipartUpload"}},
        "multipart_complete",
        "AccessDenied",
        "oss:PutObject",
    ),
    "read refused": (
        {"faults": {"GetObject": TransportError("refused", "connection refused")}},
        "get",
        "ConnectionRefused",
        "cannot reach",
    ),
    "server error": (
        {"faults": {"ListObjectsV2": error_response(503, "ServiceUnavailable", "busy")}},
        "list",
        "ServiceUnavailable",
        "retry later",
    ),
}


@pytest.mark.parametrize("case", MIDWAY_CASES)
def test_a_failure_midway_stops_and_deletes_what_was_written(case: str) -> None:
    fake_args, step, code, fix = MIDWAY_CASES[case]
    fake = fake_oss(**fake_args)

    report = run(fake)

    assert report.failure.step == step
    assert report.failure.code == code
    assert fix in report.failure.fix
    names = step_names(report)
    assert names[: names.index(step) + 1] == FULL_STEPS[: FULL_STEPS.index(step) + 1]
    assert set(names[names.index(step) + 1 :]) <= {"abort_multipart", "cleanup_delete"}
    assert fake.objects == {}
    assert fake.uploads == {}
    assert report.leftover_keys == []
    assert "deleted" in report.cleanup


def test_a_ranged_read_timing_out_still_cleans_up() -> None:
    fake = fake_oss()

    def ranged_reads_time_out(request):
        if "Range" in request.headers:
            raise TransportError("timeout", "no response within 10.0s")
        return fake(request)

    report = run(ranged_reads_time_out)

    assert (report.failure.step, report.failure.code) == ("ranged_get", "Timeout")
    assert step_names(report)[-1] == "cleanup_delete"
    assert fake.objects == {}


def test_an_unfinished_multipart_upload_is_aborted() -> None:
    fake = fake_oss(deny={"CompleteMultipartUpload"})

    report = run(fake)

    assert step_names(report)[-2:] == ["abort_multipart", "cleanup_delete"]
    assert report.cleanup == "aborted the multipart upload; deleted 2 probe object(s)"
    assert fake.uploads == {}


def test_delete_denied_leaves_keys_to_remove_by_hand() -> None:
    fake = fake_oss(deny={"DeleteObjects"})

    report = run(fake)

    assert report.failure.step == "delete"
    assert report.failure.code == "AccessDenied"
    assert "allow oss:DeleteObject" in report.failure.fix
    assert report.leftover_keys == [OBJECT_KEY, MULTIPART_KEY]
    assert "cleanup step cleanup_delete failed: AccessDenied" in report.cleanup
    assert f"Could not delete {OBJECT_KEY}, {MULTIPART_KEY}: remove them by hand." in (
        report.summary()
    )


def test_objects_read_back_must_match() -> None:
    fake = fake_oss(faults={"GetObject": HttpResponse(200, {}, b"something else")})

    report = run(fake)

    assert report.failure.step == "get"
    assert report.failure.code == "ContentMismatch"
    assert fake.objects == {}


def test_a_range_request_answered_in_full_fails() -> None:
    fake = fake_oss()
    original = fake._op_GetObject

    def ignore_range(request, headers, query, bucket, key):
        return original(request, {}, query, bucket, key)  # as if Range were not sent

    fake._op_GetObject = ignore_range  # type: ignore[method-assign]

    report = run(fake)

    assert report.failure.step == "ranged_get"
    assert report.failure.http_status == 200
    assert fake.objects == {}


def test_listing_must_show_the_new_object() -> None:
    empty = b"<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>"
    fake = fake_oss(faults={"ListObjectsV2": HttpResponse(200, {}, empty)})

    report = run(fake)

    assert report.failure.step == "list"
    assert report.failure.code == "ObjectNotListed"
    assert fake.objects == {}


def test_complete_answering_200_with_an_error_document_fails() -> None:
    fake = fake_oss(
        faults={"CompleteMultipartUpload": error_response(200, "InternalError", "try again")}
    )

    report = run(fake)

    assert report.failure.step == "multipart_complete"
    assert report.failure.code == "InternalError"
    assert report.steps[FULL_STEPS.index("multipart_complete")].ok is False
    assert fake.uploads == {}
    assert fake.objects == {}


def test_objects_still_listed_after_delete_fail() -> None:
    fake = fake_oss()

    def delete_nothing(request, headers, query, bucket, key):
        return HttpResponse(200, {}, b"<DeleteResult/>")

    fake._op_DeleteObjects = delete_nothing  # type: ignore[method-assign]

    report = run(fake)

    assert report.failure.step == "verify_deleted"
    assert report.failure.code == "ObjectsRemain"
    assert report.leftover_keys == [MULTIPART_KEY, OBJECT_KEY]


def test_head_without_an_error_code_is_diagnosed_with_a_get() -> None:
    fake = fake_oss(
        deny={"GetObject"}, faults={"HeadObject": HttpResponse(403, {"x-oss-request-id": "R1"})}
    )

    report = run(fake)

    assert fake.operations == ["HeadObject", "GetObject"]
    assert report.failure.step == "head"
    assert report.failure.code == "AccessDenied"
    assert "https://api.aliyun.com/troubleshoot?q=0003-00000001" in report.failure.fix


def test_head_403_without_any_code_still_points_at_access() -> None:
    fake = fake_oss(
        faults={
            "HeadObject": HttpResponse(403, {"x-oss-request-id": "R1"}),
            "GetObject": HttpResponse(403, {}),
        }
    )

    report = run(fake)

    assert report.failure.code == ""
    assert report.failure.http_status == 403
    assert report.failure.request_id == "R1"
    assert report.failure.fix.startswith("access denied (no error code in the response)")


@pytest.mark.parametrize("code", ["AccessDenied", "PermanentRedirect"])
def test_a_bucket_of_another_region_names_its_region_not_the_policies(code: str) -> None:
    """OSS answers a request at another region's endpoint with the endpoint to use
    (Alibaba's list of HTTP 403 errors: AccessDenied, newer pages PermanentRedirect)."""
    wrong_region = error_response(
        403,
        code,
        "The bucket you are attempting to access must be addressed using the specified "
        "endpoint. Please send all future requests to this endpoint.",
        Bucket="automq-data",
        Endpoint="oss-cn-beijing-internal.aliyuncs.com",
    )
    fake = fake_oss(faults={"HeadObject": wrong_region})

    report = run(fake)

    assert report.failure.step == "head"
    assert report.failure.code == code
    assert report.failure.fix.startswith(
        "bucket automq-data is in region cn-beijing (OSS says to address it at "
        "oss-cn-beijing-internal.aliyuncs.com), not behind "
        "https://oss-cn-hangzhou-internal.aliyuncs.com: set automq_oss_region"
    )
    assert "RAM user's policy" not in report.failure.fix


def test_public_endpoint_and_source_vpc_hint() -> None:
    fake = fake_oss(deny={"PutObject"})
    fake.endpoint_host = "oss-cn-hangzhou.aliyuncs.com"

    report = run(fake, target(endpoint="https://oss-cn-hangzhou.aliyuncs.com"))

    assert "this node uses the public endpoint" in report.failure.fix


def test_secrets_echoed_by_the_server_are_redacted() -> None:
    sent = {}

    def echo(request):
        sent.update(request.headers)
        echoed = " ".join(
            [SECRET, request.headers["Authorization"], request.headers["X-Amz-Security-Token"]]
        )
        return error_response(403, "AccessDenied", echoed)

    credentials = Credentials("STS.key", SECRET, "token-value", ENV_SOURCE)
    check = ReadinessCheck(Target(("data",), uri(), credentials), echo, "n", now=lambda: NOW)

    report = check.run()

    text = json.dumps(report.as_dict())
    assert sent["X-Amz-Security-Token"] == "token-value"
    assert SECRET not in text
    assert "token-value" not in text
    assert sent["Authorization"] not in text
    assert sent["Authorization"].rpartition("Signature=")[2] not in text
    assert report.failure.message == "*** *** ***"


# --------------------------------------------------------------------------- parsing


def test_parse_the_installers_bucket_uri() -> None:
    parsed = parse_bucket_uri(
        "0@s3://automq-data?region=oss-cn-hangzhou"
        "&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com"
    )

    assert (parsed.bucket_id, parsed.protocol, parsed.bucket) == (0, "s3", "automq-data")
    assert parsed.region == "oss-cn-hangzhou"
    assert parsed.endpoint == "https://oss-cn-hangzhou-internal.aliyuncs.com"
    assert parsed.path_style is False
    endpoint = bucket_endpoint(parsed)
    assert (endpoint.host, endpoint.port, endpoint.host_header) == (
        "automq-data.oss-cn-hangzhou-internal.aliyuncs.com",
        443,
        "automq-data.oss-cn-hangzhou-internal.aliyuncs.com",
    )


def test_parse_a_list_with_extensions_like_automq() -> None:
    parsed = parse_bucket_uri_list(
        "0@s3://a?region=r1&endpoint=http://e1:9000&pathStyle=TRUE,"
        "-2@s3://b?region=r2&endpoint=https://e2&accessKey=AK&secretKey=S%2Bk+e&batchInterval=250"
    )

    assert [(item.bucket_id, item.bucket) for item in parsed] == [(0, "a"), (-2, "b")]
    assert parsed[0].path_style is True
    endpoint = bucket_endpoint(parsed[0])
    assert (endpoint.host, endpoint.port, endpoint.host_header, endpoint.path_prefix) == (
        "e1",
        9000,
        "e1:9000",
        "/a",
    )
    assert endpoint.base_url == "http://e1:9000/a/"
    # URLDecoder: %2B is '+', '+' is a space.
    assert parsed[1].extension_string("secretKey") == "S+k e"
    assert "S+k e" not in repr(parsed[1])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("s3://bucket?region=r", "expected <id>@s3://"),
        ("0@s3:bucket", "expected s3://<bucket>"),
        ("70000@s3://b", "out of range"),
        ("0@s3://b?region=a&region=b", "expected one value for 'region'"),
    ],
)
def test_bad_bucket_uris(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_bucket_uri(text)


def test_an_endpoint_is_required() -> None:
    with pytest.raises(ValueError, match="no endpoint=, so AutoMQ would go to AWS S3"):
        bucket_endpoint(parse_bucket_uri("0@s3://b?region=oss-cn-hangzhou"))


def test_environment_file() -> None:
    parsed = parse_environment_file(
        "# Managed by Ansible\n"
        "; also a comment\n"
        "AWS_ACCESS_KEY_ID=LTAI5t\n"
        'AWS_SECRET_ACCESS_KEY = "quoted \\" secret"\n'
        "EMPTY=\n"
        "SINGLE='it''s'\n"
    )

    assert parsed == {
        "AWS_ACCESS_KEY_ID": "LTAI5t",
        "AWS_SECRET_ACCESS_KEY": 'quoted " secret',
        "EMPTY": "",
        "SINGLE": "it''s",
    }


@pytest.mark.parametrize(
    "text",
    ["AWS_SECRET_ACCESS_KEY", "9BAD=x", "KEY=value \\", 'AWS_SECRET_ACCESS_KEY="unterminated'],
)
def test_environment_file_errors_never_repeat_the_line(text: str) -> None:
    with pytest.raises(ValueError, match="line 2") as raised:
        parse_environment_file("# comment\n" + text)
    assert text not in str(raised.value)
    assert "SECRET" not in str(raised.value)


def test_credentials_follow_automqs_chain() -> None:
    environment = {
        "AWS_ACCESS_KEY_ID": "aws-id",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_SESSION_TOKEN": "token",
    }
    plain = uri()
    assert resolve_credentials(plain, environment, ENV_SOURCE) == Credentials(
        "aws-id", "aws-secret", "token", ENV_SOURCE
    )
    kafka = {**environment, "KAFKA_S3_ACCESS_KEY": "k-id", "KAFKA_S3_SECRET_KEY": "k-secret"}
    assert resolve_credentials(plain, kafka, ENV_SOURCE) == Credentials(
        "k-id", "k-secret", "", ENV_SOURCE
    )
    in_uri = uri(extra="&accessKey=u-id&secretKey=u-secret")
    assert resolve_credentials(in_uri, kafka, ENV_SOURCE) == Credentials(
        "u-id", "u-secret", "", "the bucket URI"
    )
    with pytest.raises(ReadinessError, match="sets neither AWS_ACCESS_KEY_ID"):
        resolve_credentials(plain, {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": " "}, "f")
    assert "aws-secret" not in repr(resolve_credentials(plain, environment, ENV_SOURCE))


def test_error_documents_from_the_body_and_from_x_oss_err() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
        b"<Message>denied</Message><RequestId>RID</RequestId><HostId>h</HostId>"
        b"<EC>0003-00000001</EC><SignatureProvided>abc</SignatureProvided></Error>"
    )
    from_body = parse_error(HttpResponse(403, {}, body))
    from_header = parse_error(HttpResponse(403, {"x-oss-err": base64.b64encode(body).decode()}))

    for parsed in (from_body, from_header):
        assert (parsed.code, parsed.message, parsed.request_id, parsed.ec) == (
            "AccessDenied",
            "denied",
            "RID",
            "0003-00000001",
        )
    headers_only = parse_error(
        HttpResponse(403, {"x-oss-request-id": "R2", "x-oss-ec": "0002-1"}, b"not xml")
    )
    assert (headers_only.code, headers_only.request_id, headers_only.ec) == ("", "R2", "0002-1")
    aws = parse_error(HttpResponse(404, {"x-amz-request-id": "A1"}, b""))
    assert aws.request_id == "A1"


SERVER_PROPERTIES = """\
# Managed by Ansible (role automq); local changes are overwritten.
node.id=0
s3.data.buckets=0@s3://automq-data?region=oss-cn-hangzhou&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com
s3.ops.buckets=1@s3://automq-ops?region=oss-cn-hangzhou&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com
s3.wal.path=0@s3://automq-data?region=oss-cn-hangzhou&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com
"""
CREDENTIALS_ENV = f"""\
# Managed by Ansible (role automq). OSS AccessKey of the RAM user AutoMQ uses.
AWS_ACCESS_KEY_ID={ACCESS_KEY_ID}
AWS_SECRET_ACCESS_KEY={SECRET}
"""


def test_targets_of_a_nodes_configuration() -> None:
    targets = load_targets(SERVER_PROPERTIES, CREDENTIALS_ENV, ENV_SOURCE)

    assert [(item.roles, item.uri.bucket) for item in targets] == [
        (("data", "wal"), "automq-data"),
        (("ops",), "automq-ops"),
    ]
    assert {item.credentials for item in targets} == {
        Credentials(ACCESS_KEY_ID, SECRET, "", ENV_SOURCE)
    }


@pytest.mark.parametrize(
    ("properties", "environment", "error"),
    [
        ("node.id=0\n", CREDENTIALS_ENV, "server.properties has no s3.data.buckets"),
        (
            SERVER_PROPERTIES.replace("1@s3://automq-ops", "1@file://automq-ops"),
            CREDENTIALS_ENV,
            "s3.ops.buckets: only s3:// buckets can be checked, not file://",
        ),
        (SERVER_PROPERTIES, "AWS_ACCESS_KEY_ID=x\n", "sets neither AWS_ACCESS_KEY_ID"),
        (SERVER_PROPERTIES, SECRET + "\n", f"{ENV_SOURCE}: line 1: expected NAME=value"),
        (
            SERVER_PROPERTIES.replace(
                "&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com", ""
            ),
            CREDENTIALS_ENV,
            "s3.data.buckets: bucket automq-data: the URI has no endpoint=",
        ),
    ],
)
def test_configuration_errors(properties: str, environment: str, error: str) -> None:
    with pytest.raises(ReadinessError) as raised:
        load_targets(properties, environment, ENV_SOURCE)
    assert error in str(raised.value)
    assert SECRET not in str(raised.value)


def test_each_bucket_is_checked_with_its_own_probe_prefix() -> None:
    fake = fake_oss()
    clock = iter(range(TIME_NS, TIME_NS + 10))

    reports = check_buckets(
        load_targets(SERVER_PROPERTIES, CREDENTIALS_ENV, ENV_SOURCE),
        fake,
        "node 0/x",
        now=lambda: NOW,
        time_ns=lambda: next(clock),
    )

    assert [report.bucket for report in reports] == ["automq-data", "automq-ops"]
    assert all(report.ok for report in reports)
    assert [report.probe_prefix for report in reports] == [
        f"{PROBE_ROOT}node_0_x/{TIME_NS}/",
        f"{PROBE_ROOT}node_0_x/{TIME_NS + 1}/",
    ]
    assert fake.objects == {}


def test_probe_names_are_key_safe() -> None:
    assert probe_name("ecs-01.cn-hangzhou") == "ecs-01.cn-hangzhou"
    assert probe_name(" a/b c\u00e9 ") == "a_b_c_"
    assert probe_name("") == "node"
    assert len(probe_name("x" * 100)) == 64


# --------------------------------------------------------------------------- real transport


VIRTUAL_HOST = f"automq-data.{ENDPOINT_HOST}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    return make_pki(tmp_path_factory.mktemp("pki"), [f"*.{ENDPOINT_HOST}", ENDPOINT_HOST])


def tls_transport(port: int, ca_file: Path | None, timeout: float = 5.0) -> HttpClientTransport:
    return HttpClientTransport(
        timeout=timeout,
        ca_file=str(ca_file) if ca_file else None,
        connect_to={(VIRTUAL_HOST, 443): ("127.0.0.1", port)},
    )


def test_full_check_over_tls_with_a_private_ca(pki, monkeypatch: pytest.MonkeyPatch) -> None:
    # Proxies are not used: a proxy variable pointing nowhere changes nothing.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    fake = FakeOss()
    with serve_tls(fake, pki) as server:
        report = ReadinessCheck(target(), tls_transport(server.port, pki.ca_file), "node-0").run()

    assert report.ok, report.summary()
    assert step_names(report) == FULL_STEPS
    assert fake.operations == FULL_OPERATIONS  # every signature verified by botocore
    assert set(server.server_names) == {VIRTUAL_HOST}  # SNI is the virtual-hosted name
    assert fake.objects == {}


def test_an_untrusted_certificate_is_refused(pki) -> None:
    fake = FakeOss()
    with serve_tls(fake, pki) as server:
        report = ReadinessCheck(target(), tls_transport(server.port, None), "node-0").run()

    assert report.failure.code == "CertificateError"
    assert "certificate" in report.failure.message
    assert fake.operations == []


def test_a_certificate_for_another_name_is_refused(tmp_path: Path) -> None:
    other = make_pki(tmp_path, ["oss-cn-beijing.aliyuncs.com"])
    fake = FakeOss()
    with serve_tls(fake, other) as server:
        report = ReadinessCheck(target(), tls_transport(server.port, other.ca_file), "n").run()

    assert report.failure.code == "CertificateError"
    assert "Hostname mismatch" in report.failure.message
    assert fake.operations == []


def test_a_closed_port_is_connection_refused(pki) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    report = ReadinessCheck(target(), tls_transport(port, pki.ca_file), "n").run()

    assert report.failure.code == "ConnectionRefused"
    assert report.failure.step == "head"


def test_a_silent_server_times_out(pki) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        accepted = []
        thread = threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True)
        thread.start()
        transport = tls_transport(listener.getsockname()[1], pki.ca_file, timeout=0.3)
        report = ReadinessCheck(target(), transport, "n").run()
        thread.join(2)
        for connection, _ in accepted:
            connection.close()

    assert report.failure.code == "Timeout"
    assert "TLS handshake took over 0.3s" in report.failure.message


def test_dns_failure(pki, monkeypatch: pytest.MonkeyPatch) -> None:
    def unresolvable(address, timeout=None):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unresolvable)

    report = ReadinessCheck(target(), HttpClientTransport(ca_file=str(pki.ca_file)), "n").run()

    assert report.failure.code == "DNSFailure"
    assert report.failure.message == f"cannot resolve {VIRTUAL_HOST}: Name or service not known"
    assert "this host uses the VPC's DNS" in report.failure.fix
