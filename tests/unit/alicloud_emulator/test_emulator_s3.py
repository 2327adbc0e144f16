"""OSS's S3-compatible data plane: the operations AutoMQ's brokers use, over TLS.

Requests are signed by botocore's SigV4 signer and sent with http.client to the
in-process emulator, with the virtual-hosted Host a broker sends, over TLS that
trusts only the emulator's CA (``tests.alicloud_emulator.s3_client``).
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator

import alibabacloud_oss_v2 as oss
import pytest
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.s3 import MIN_PART_SIZE
from tests.alicloud_emulator.s3_client import S3Client, content_md5, text, texts
from tests.alicloud_emulator.sdk import Clients

BUCKET = "automq-data"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def s3(clients: Clients, emulator: Emulator) -> S3Client:
    clients.oss.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
    return S3Client(emulator)


def assert_error(response, status: int, code: str) -> dict[str, str]:
    assert response.status == status, (response.status, response.body)
    error = response.error
    assert error["Code"] == code, error
    assert error["RequestId"] == response.headers["x-oss-request-id"]
    assert error["Message"]
    assert "HostId" in error
    return error


def test_put_get_head_delete_share_objects_with_the_oss_api(s3: S3Client, clients: Clients) -> None:
    body = b"stream set object" * 1000
    put = s3.put(BUCKET, "s3stream/0001", body, **{"x-amz-meta-owner": "broker-1"})
    assert put.status == 200, put.body
    etag = '"' + hashlib.md5(body).hexdigest().upper() + '"'
    assert put.headers["ETag"] == etag
    got = s3.get(BUCKET, "s3stream/0001")
    assert (got.status, got.body, got.headers["ETag"]) == (200, body, etag)
    assert got.headers["x-amz-meta-owner"] == "broker-1"
    head = s3.head(BUCKET, "s3stream/0001")
    assert (head.status, head.body, head.headers["Content-Length"]) == (200, b"", str(len(body)))
    # The same object through the OSS API, and an OSS API object through S3.
    native = clients.oss.get_object(oss.GetObjectRequest(bucket=BUCKET, key="s3stream/0001"))
    assert native.body.read() == body
    assert native.metadata == {"owner": "broker-1"}
    clients.oss.put_object(oss.PutObjectRequest(bucket=BUCKET, key="ops/x", body=b"native"))
    assert s3.get(BUCKET, "ops/x").body == b"native"

    assert s3.delete(BUCKET, "s3stream/0001").status == 204
    assert s3.delete(BUCKET, "s3stream/0001").status == 204  # deleting nothing succeeds
    missing = s3.head(BUCKET, "s3stream/0001")
    assert (missing.status, missing.body) == (404, b"")
    error = assert_error(s3.get(BUCKET, "s3stream/0001"), 404, "NoSuchKey")
    assert error["HostId"].startswith(f"{BUCKET}.oss-cn-hangzhou-internal.aliyuncs.com")
    assert not clients.oss.is_object_exist(BUCKET, "s3stream/0001")


@pytest.mark.parametrize(
    ("header", "status", "expected"),
    [
        ("bytes=0-4", 206, b"01234"),
        ("bytes=5-", 206, b"56789"),
        ("bytes=-3", 206, b"789"),
        ("bytes=8-100", 206, b"89"),
        ("bytes=10-12", 200, b"0123456789"),  # OSS answers an unsatisfiable range in full
    ],
)
def test_range_reads(s3: S3Client, header: str, status: int, expected: bytes) -> None:
    s3.put(BUCKET, "k", b"0123456789")
    response = s3.get(BUCKET, "k", Range=header)
    assert (response.status, response.body) == (status, expected)
    if status == 206:
        assert response.headers["Content-Range"].endswith("/10")


def test_content_md5_is_checked(s3: S3Client) -> None:
    bad = s3.put(BUCKET, "k", b"data", md5=False, **{"Content-MD5": content_md5(b"other")})
    assert_error(bad, 400, "InvalidDigest")
    assert s3.head(BUCKET, "k").status == 404
    assert s3.put(BUCKET, "k", b"data", md5=False).status == 200  # Content-MD5 is optional


def test_list_objects_v2(s3: S3Client) -> None:
    keys = [f"s3stream/{i:02d}" for i in range(5)] + ["ops/a", "ops/b", "top", "a key+plus%"]
    for key in keys:
        assert s3.put(BUCKET, key, key.encode()).status == 200
    root = s3.list_v2(BUCKET, delimiter="/").xml()
    assert texts(root, "Contents/Key") == ["a key+plus%", "top"]
    assert texts(root, "CommonPrefixes/Prefix") == ["ops/", "s3stream/"]
    assert (text(root, "KeyCount"), text(root, "IsTruncated")) == ("4", "false")
    assert texts(root, "Contents/Size") == ["11", "3"]

    seen, token, pages = [], None, 0
    while True:
        params = {"prefix": "s3stream/", "max_keys": "2"}
        if token:
            params["continuation_token"] = token
        page = s3.list_v2(BUCKET, **params).xml()
        seen += texts(page, "Contents/Key")
        pages += 1
        if text(page, "IsTruncated") == "false":
            break
        token = text(page, "NextContinuationToken")
    assert (seen, pages) == ([f"s3stream/{i:02d}" for i in range(5)], 3)

    after = s3.list_v2(BUCKET, start_after="s3stream/02").xml()
    assert texts(after, "Contents/Key") == ["s3stream/03", "s3stream/04", "top"]
    encoded = s3.list_v2(BUCKET, prefix="a ", encoding_type="url").xml()
    assert texts(encoded, "Contents/Key") == ["a%20key%2Bplus%25"]
    bad = s3.list_v2(BUCKET, continuation_token="%%%")
    assert_error(bad, 400, "InvalidArgument")


def test_delete_objects(s3: S3Client) -> None:
    for key in ("a", "b", "c", "d"):
        s3.put(BUCKET, key, b"x")
    loud = s3.delete_objects(BUCKET, ["a", "b", "never-was"])
    assert loud.status == 200, loud.body
    assert sorted(texts(loud.xml(), "Deleted/Key")) == ["a", "b", "never-was"]
    quiet = s3.delete_objects(BUCKET, ["c"], quiet=True)
    assert (quiet.status, texts(quiet.xml(), "Deleted/Key")) == (200, [])
    assert texts(s3.list_v2(BUCKET).xml(), "Contents/Key") == ["d"]
    assert_error(s3.delete_objects(BUCKET, ["d"], md5=False), 400, "InvalidRequest")
    assert_error(s3.delete_objects(BUCKET, [f"k{i}" for i in range(1001)]), 400, "MalformedXML")
    assert texts(s3.list_v2(BUCKET).xml(), "Contents/Key") == ["d"]


def test_copy_object(s3: S3Client, clients: Clients) -> None:
    clients.oss.put_bucket(oss.PutBucketRequest(bucket="automq-ops"))
    s3.put(BUCKET, "src", b"payload", **{"x-amz-meta-a": "1", "Content-Type": "text/plain"})
    copied = s3.copy(BUCKET, "dst", f"{BUCKET}/src")
    assert copied.status == 200, copied.body
    assert text(copied.xml(), "ETag") == s3.head(BUCKET, "src").headers["ETag"]
    same = s3.get(BUCKET, "dst")
    assert (same.body, same.headers["x-amz-meta-a"], same.headers["Content-Type"]) == (
        b"payload", "1", "text/plain",
    )  # fmt: skip
    replaced = s3.copy(
        "automq-ops",
        "elsewhere",
        f"/{BUCKET}/src",
        **{"x-amz-metadata-directive": "REPLACE", "x-amz-meta-b": "2"},
    )
    assert replaced.status == 200, replaced.body
    other = s3.get("automq-ops", "elsewhere")
    assert other.body == b"payload"
    assert ("x-amz-meta-a" not in other.headers, other.headers["x-amz-meta-b"]) == (True, "2")
    assert_error(s3.copy(BUCKET, "dst2", f"{BUCKET}/absent"), 404, "NoSuchKey")
    assert_error(s3.copy(BUCKET, "dst2", "no-such-bucket/src"), 404, "NoSuchBucket")


def test_multipart_upload(s3: S3Client, clients: Clients) -> None:
    first = bytes(range(256)) * (MIN_PART_SIZE // 256)  # exactly the minimum
    last = b"tail"
    upload_id = s3.create_multipart(BUCKET, "s3stream/big", **{"x-amz-meta-kind": "sso"})
    listed = clients.oss.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET))
    assert [(u.key, u.upload_id) for u in listed.uploads] == [("s3stream/big", upload_id)]
    etag1 = s3.upload_part(BUCKET, "s3stream/big", upload_id, 1, first).headers["ETag"]
    etag2 = s3.upload_part(BUCKET, "s3stream/big", upload_id, 2, last).headers["ETag"]
    parts = s3.list_parts(BUCKET, "s3stream/big", upload_id).xml()
    assert texts(parts, "Part/PartNumber") == ["1", "2"]
    assert texts(parts, "Part/Size") == [str(len(first)), str(len(last))]
    assert texts(parts, "Part/ETag") == [etag1, etag2]
    paged = s3.list_parts(BUCKET, "s3stream/big", upload_id, max_parts="1").xml()
    assert (texts(paged, "Part/PartNumber"), text(paged, "IsTruncated")) == (["1"], "true")
    assert text(paged, "NextPartNumberMarker") == "1"

    done = s3.complete(BUCKET, "s3stream/big", upload_id, [(1, etag1), (2, etag2)])
    assert done.status == 200, done.body
    digests = bytes.fromhex(etag1.strip('"')) + bytes.fromhex(etag2.strip('"'))
    expected_etag = '"' + hashlib.md5(digests).hexdigest().upper() + '-2"'
    assert text(done.xml(), "ETag") == expected_etag
    got = s3.get(BUCKET, "s3stream/big")
    assert (got.body, got.headers["ETag"], got.headers["x-amz-meta-kind"]) == (
        first + last, expected_etag, "sso",
    )  # fmt: skip
    assert got.headers["x-oss-object-type"] == "Multipart"
    assert_error(s3.list_parts(BUCKET, "s3stream/big", upload_id), 404, "NoSuchUpload")
    after = clients.oss.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET))
    assert not after.uploads


def test_upload_part_copy_with_a_range(s3: S3Client) -> None:
    source = bytes(range(256)) * 1024  # 256 KiB
    s3.put(BUCKET, "source", source)
    upload_id = s3.create_multipart(BUCKET, "compacted")
    copied = s3.request(
        "PUT",
        BUCKET,
        "compacted",
        params={"partNumber": "1", "uploadId": upload_id},
        headers={"x-amz-copy-source": f"{BUCKET}/source", "x-amz-copy-source-range": "bytes=0-"
                 f"{MIN_PART_SIZE - 1}"},
    )  # fmt: skip
    assert copied.status == 200, copied.body
    etag1 = text(copied.xml(), "ETag")
    etag2 = s3.upload_part(BUCKET, "compacted", upload_id, 2, b"!").headers["ETag"]
    assert s3.complete(BUCKET, "compacted", upload_id, [(1, etag1), (2, etag2)]).status == 200
    assert s3.get(BUCKET, "compacted").body == source[:MIN_PART_SIZE] + b"!"
    upload_id = s3.create_multipart(BUCKET, "compacted")
    outside = s3.request(
        "PUT",
        BUCKET,
        "compacted",
        params={"partNumber": "1", "uploadId": upload_id},
        headers={"x-amz-copy-source": f"{BUCKET}/source", "x-amz-copy-source-range": "bytes=0-"
                 f"{len(source)}"},
    )  # fmt: skip
    assert_error(outside, 400, "InvalidArgument")


def test_multipart_completion_is_checked(s3: S3Client) -> None:
    key = "s3stream/checked"
    upload_id = s3.create_multipart(BUCKET, key)
    small = b"x" * (MIN_PART_SIZE - 1)
    big = b"y" * MIN_PART_SIZE
    etag1 = s3.upload_part(BUCKET, key, upload_id, 1, small).headers["ETag"]
    etag2 = s3.upload_part(BUCKET, key, upload_id, 2, big).headers["ETag"]
    etag3 = s3.upload_part(BUCKET, key, upload_id, 3, b"z").headers["ETag"]
    too_small = s3.complete(BUCKET, key, upload_id, [(1, etag1), (2, etag2), (3, etag3)])
    error = assert_error(too_small, 400, "EntityTooSmall")
    assert (error["EC"], error["PartNumber"]) == ("0042-00000213", "1")
    wrong_etag = s3.complete(BUCKET, key, upload_id, [(2, etag2), (3, etag2)])
    assert_error(wrong_etag, 400, "InvalidPart")
    never_uploaded = s3.complete(BUCKET, key, upload_id, [(2, etag2), (4, etag3)])
    assert_error(never_uploaded, 400, "InvalidPart")
    assert_error(s3.complete(BUCKET, key, upload_id, [(3, etag3), (2, etag2)]), 400,
                 "InvalidPartOrder")  # fmt: skip
    for number in ("0", "10001", "x"):
        bad = s3.request(
            "PUT", BUCKET, key, params={"partNumber": number, "uploadId": upload_id}, body=b"1"
        )
        assert_error(bad, 400, "InvalidArgument")
    assert_error(s3.upload_part(BUCKET, key, "NOSUCHUPLOAD", 1, b"1"), 404, "NoSuchUpload")
    assert_error(s3.upload_part(BUCKET, "other-key", upload_id, 1, b"1"), 404, "NoSuchUpload")
    bad_md5 = s3.request(
        "PUT",
        BUCKET,
        key,
        params={"partNumber": "5", "uploadId": upload_id},
        body=b"1",
        headers={"Content-MD5": content_md5(b"2")},
    )
    assert_error(bad_md5, 400, "InvalidDigest")
    # Parts 2 (>= 100 KB) and 3 (the last) make a valid object; nothing was stored before.
    assert s3.head(BUCKET, key).status == 404
    assert s3.complete(BUCKET, key, upload_id, [(2, etag2), (3, etag3)]).status == 200
    assert s3.get(BUCKET, key).body == big + b"z"


def test_abort_and_unfinished_uploads_keep_the_bucket(s3: S3Client, clients: Clients) -> None:
    upload_id = s3.create_multipart(BUCKET, "k")
    s3.upload_part(BUCKET, "k", upload_id, 1, b"1")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        clients.oss.delete_bucket(oss.DeleteBucketRequest(bucket=BUCKET))
    assert raised.value.unwrap().code == "BucketNotEmpty"
    assert s3.abort(BUCKET, "k", upload_id).status == 204
    assert_error(s3.abort(BUCKET, "k", upload_id), 404, "NoSuchUpload")
    # The OSS API aborts data-plane uploads too (the bucket module's purge does).
    other = s3.create_multipart(BUCKET, "k2")
    clients.oss.abort_multipart_upload(
        oss.AbortMultipartUploadRequest(bucket=BUCKET, key="k2", upload_id=other)
    )
    clients.oss.delete_bucket(oss.DeleteBucketRequest(bucket=BUCKET))


def test_unknown_bucket_and_unimplemented_operations(s3: S3Client) -> None:
    error = assert_error(s3.put("no-such-bucket", "k", b"x"), 404, "NoSuchBucket")
    assert error["BucketName"] == "no-such-bucket"
    assert_error(s3.request("GET", BUCKET, "k", params=[("acl", "")]), 501, "NotImplemented")
    assert_error(s3.request("GET", BUCKET), 501, "NotImplemented")  # ListObjects (V1)
    flexible = s3.put(BUCKET, "k", b"x", **{"x-amz-checksum-crc32": "AAAAAA=="})
    assert_error(flexible, 501, "NotImplemented")


@pytest.mark.parametrize("internal", [True, False])
def test_path_style_is_refused(s3: S3Client, emulator: Emulator, internal: bool) -> None:
    client = S3Client(emulator, internal=internal)
    assert client.put(BUCKET, "k", b"x").status == 200
    refused = client.request("GET", None, path=f"/{BUCKET}/k")
    assert refused.headers["Content-Type"] == "application/xml"
    error = assert_error(refused, 403, "SecondLevelDomainForbidden")
    assert error["Message"] == "Please use virtual hosted style to access."
    assert error["HostId"].startswith(client.host(None))


def test_a_bucket_is_served_by_its_own_region(s3: S3Client, emulator: Emulator) -> None:
    elsewhere = S3Client(emulator, region="cn-beijing")
    with pytest.raises(ssl.SSLCertVerificationError):  # not a region of this emulator
        elsewhere.get(BUCKET, "k")
    two_regions = Emulator(containers=False, extra_regions=("cn-beijing",))
    with two_regions:
        from tests.alicloud_emulator.sdk import make_clients

        make_clients(two_regions).oss.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
        wrong = S3Client(two_regions, region="cn-beijing", internal=False)
        error = assert_error(wrong.get(BUCKET, "k"), 403, "AccessDenied")
        assert (error["Bucket"], error["Endpoint"]) == (BUCKET, "oss-cn-hangzhou.aliyuncs.com")
        assert S3Client(two_regions, internal=False).put(BUCKET, "k", b"x").status == 200


@pytest.fixture
def plain_emulator() -> Iterator[Emulator]:
    with Emulator(containers=False, s3_http_port=0) as emu:
        yield emu


def test_plain_http_listener(plain_emulator: Emulator) -> None:
    from tests.alicloud_emulator.sdk import make_clients

    make_clients(plain_emulator).oss.put_bucket(oss.PutBucketRequest(bucket=BUCKET))
    plain = S3Client(plain_emulator, tls=False)
    assert plain.put(BUCKET, "k", b"over http").status == 200
    assert S3Client(plain_emulator).get(BUCKET, "k").body == b"over http"
    assert plain_emulator.s3_http_port not in (None, plain_emulator.s3_port)
    unknown = plain.request("GET", BUCKET, "k", host="automq-data.s3.example.com")
    assert_error(unknown, 400, "InvalidRequest")


def test_calls_are_recorded_and_faults_injected(s3: S3Client, emulator: Emulator) -> None:
    emulator.fail_next("PutObject", code="ServiceUnavailable", status=503, product="s3")
    assert_error(s3.put(BUCKET, "k", b"x"), 503, "ServiceUnavailable")
    assert s3.put(BUCKET, "k", b"x").status == 200
    records = [(c.product, c.status) for c in emulator.calls_of("PutObject")]
    assert records == [("s3", 503), ("s3", 200)]
