"""OSS through alibabacloud-oss-v2 (V4 signatures, path-style)."""

from __future__ import annotations

import json

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_oss_v2.crc import Crc64
from alibabacloud_ram20150501 import models as ram_models
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.oss import crc64ecma
from tests.alicloud_emulator.sdk import Clients, make_clients, oss_client

BUCKET = "automq-data"


def service_error(call) -> oss.exceptions.ServiceError:
    with pytest.raises(oss.exceptions.OperationError) as raised:
        call()
    error = raised.value.unwrap()
    assert isinstance(error, oss.exceptions.ServiceError)
    return error


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


@pytest.fixture
def client(clients: Clients) -> oss.Client:
    clients.oss.put_bucket(
        oss.PutBucketRequest(
            bucket=BUCKET,
            acl="private",
            create_bucket_configuration=oss.CreateBucketConfiguration(
                storage_class="Standard", data_redundancy_type="ZRS"
            ),
        )
    )
    return clients.oss


def test_bucket_create_info_list_delete(client: oss.Client, emulator: Emulator) -> None:
    info = client.get_bucket_info(oss.GetBucketInfoRequest(bucket=BUCKET)).bucket_info
    assert (info.name, info.acl, info.storage_class, info.data_redundancy_type) == (
        BUCKET, "private", "Standard", "ZRS",
    )  # fmt: skip
    assert info.location == f"oss-{emulator.region_id}"
    assert info.owner.id == emulator.account_id
    assert info.sse_rule.sse_algorithm == "None"
    assert client.is_bucket_exist(BUCKET)
    assert not client.is_bucket_exist("absent-bucket")
    error = service_error(lambda: client.put_bucket(oss.PutBucketRequest(bucket=BUCKET)))
    assert (error.status_code, error.code) == (409, "BucketAlreadyExists")
    client.put_bucket(oss.PutBucketRequest(bucket="automq-ops"))
    listed = client.list_buckets(oss.ListBucketsRequest()).buckets
    assert [(b.name, b.region) for b in listed] == [
        ("automq-data", "cn-hangzhou"),
        ("automq-ops", "cn-hangzhou"),
    ]
    paged = client.list_buckets(oss.ListBucketsRequest(max_keys=1))
    assert (paged.is_truncated, paged.next_marker) == (True, "automq-data")
    client.delete_bucket(oss.DeleteBucketRequest(bucket="automq-ops"))
    error = service_error(
        lambda: client.get_bucket_info(oss.GetBucketInfoRequest(bucket="automq-ops"))
    )
    assert (error.status_code, error.code) == (404, "NoSuchBucket")
    assert error.error_fileds.get("BucketName") == "automq-ops"


def test_bucket_acl(client: oss.Client) -> None:
    assert client.get_bucket_acl(oss.GetBucketAclRequest(bucket=BUCKET)).acl == "private"
    client.put_bucket_acl(oss.PutBucketAclRequest(bucket=BUCKET, acl="public-read"))
    assert client.get_bucket_acl(oss.GetBucketAclRequest(bucket=BUCKET)).acl == "public-read"
    error = service_error(
        lambda: client.put_bucket_acl(oss.PutBucketAclRequest(bucket=BUCKET, acl="open"))
    )
    assert (error.status_code, error.code) == (400, "InvalidArgument")


def test_bucket_encryption(client: oss.Client) -> None:
    get = oss.GetBucketEncryptionRequest(bucket=BUCKET)
    error = service_error(lambda: client.get_bucket_encryption(get))
    assert (error.status_code, error.code) == (404, "NoSuchServerSideEncryptionRule")
    rule = oss.ServerSideEncryptionRule(
        apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
            sse_algorithm="AES256"
        )
    )
    client.put_bucket_encryption(
        oss.PutBucketEncryptionRequest(bucket=BUCKET, server_side_encryption_rule=rule)
    )
    got = client.get_bucket_encryption(get).server_side_encryption_rule
    assert got.apply_server_side_encryption_by_default.sse_algorithm == "AES256"
    info = client.get_bucket_info(oss.GetBucketInfoRequest(bucket=BUCKET)).bucket_info
    assert info.sse_rule.sse_algorithm == "AES256"
    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="k", body=b"x"))
    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="k"))
    assert head.server_side_encryption == "AES256"
    client.delete_bucket_encryption(oss.DeleteBucketEncryptionRequest(bucket=BUCKET))
    assert (
        service_error(lambda: client.get_bucket_encryption(get)).code
        == "NoSuchServerSideEncryptionRule"
    )
    bad = oss.ServerSideEncryptionRule(
        apply_server_side_encryption_by_default=oss.ApplyServerSideEncryptionByDefault(
            sse_algorithm="ROT13"
        )
    )
    error = service_error(
        lambda: client.put_bucket_encryption(
            oss.PutBucketEncryptionRequest(bucket=BUCKET, server_side_encryption_rule=bad)
        )
    )
    assert error.status_code == 400


def test_bucket_tags(client: oss.Client) -> None:
    get = oss.GetBucketTagsRequest(bucket=BUCKET)
    assert client.get_bucket_tags(get).tagging.tag_set.tags in (None, [])
    tagging = oss.Tagging(
        tag_set=oss.TagSet(
            tags=[oss.Tag(key="automq:cluster", value="x"), oss.Tag(key="team", value="")]
        )
    )
    client.put_bucket_tags(oss.PutBucketTagsRequest(bucket=BUCKET, tagging=tagging))
    tags = client.get_bucket_tags(get).tagging.tag_set.tags
    assert {t.key: t.value or "" for t in tags} == {"automq:cluster": "x", "team": ""}
    replaced = oss.Tagging(tag_set=oss.TagSet(tags=[oss.Tag(key="only", value="1")]))
    client.put_bucket_tags(oss.PutBucketTagsRequest(bucket=BUCKET, tagging=replaced))
    assert [(t.key, t.value) for t in client.get_bucket_tags(get).tagging.tag_set.tags] == [
        ("only", "1")
    ]
    client.delete_bucket_tags(oss.DeleteBucketTagsRequest(bucket=BUCKET))
    assert client.get_bucket_tags(get).tagging.tag_set.tags in (None, [])


def test_a_new_bucket_lists_no_multipart_uploads(client: oss.Client) -> None:
    """Uploads are made through the S3 data plane (test_emulator_s3.py lists them)."""
    result = client.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET))
    assert (result.bucket, result.uploads or [], result.is_truncated) == (BUCKET, [], False)


def test_bucket_lifecycle(client: oss.Client) -> None:
    get = oss.GetBucketLifecycleRequest(bucket=BUCKET)
    assert service_error(lambda: client.get_bucket_lifecycle(get)).code == "NoSuchLifecycle"
    rules = [
        oss.LifecycleRule(
            id="ops-logs",
            prefix="logs/",
            status="Enabled",
            expiration=oss.LifecycleRuleExpiration(days=7),
        ),
        oss.LifecycleRule(
            prefix="tmp/", status="Disabled", expiration=oss.LifecycleRuleExpiration(days=1)
        ),
    ]
    client.put_bucket_lifecycle(
        oss.PutBucketLifecycleRequest(
            bucket=BUCKET, lifecycle_configuration=oss.LifecycleConfiguration(rules=rules)
        )
    )
    got = client.get_bucket_lifecycle(get).lifecycle_configuration.rules
    assert [(r.id, r.prefix, r.status, r.expiration.days) for r in got] == [
        ("ops-logs", "logs/", "Enabled", 7),
        ("rule-2", "tmp/", "Disabled", 1),
    ]
    no_action = oss.LifecycleConfiguration(rules=[oss.LifecycleRule(prefix="x/", status="Enabled")])
    error = service_error(
        lambda: client.put_bucket_lifecycle(
            oss.PutBucketLifecycleRequest(bucket=BUCKET, lifecycle_configuration=no_action)
        )
    )
    assert (error.status_code, error.code) == (400, "InvalidArgument")
    client.delete_bucket_lifecycle(oss.DeleteBucketLifecycleRequest(bucket=BUCKET))
    assert service_error(lambda: client.get_bucket_lifecycle(get)).code == "NoSuchLifecycle"


def test_bucket_policy(client: oss.Client, emulator: Emulator) -> None:
    get = oss.GetBucketPolicyRequest(bucket=BUCKET)
    assert service_error(lambda: client.get_bucket_policy(get)).code == "NoSuchBucketPolicy"
    document = policy(
        {
            "Effect": "Allow",
            "Action": ["oss:GetObject", "oss:PutObject"],
            "Principal": ["20000000000000"],
            "Resource": [f"acs:oss:*:{emulator.account_id}:{BUCKET}/*"],
        }
    )
    client.put_bucket_policy(oss.PutBucketPolicyRequest(bucket=BUCKET, body=document))
    assert json.loads(client.get_bucket_policy(get).body) == json.loads(document)
    client.delete_bucket_policy(oss.DeleteBucketPolicyRequest(bucket=BUCKET))
    assert service_error(lambda: client.get_bucket_policy(get)).code == "NoSuchBucketPolicy"


GOOD = {
    "Effect": "Allow",
    "Action": ["oss:GetObject"],
    "Principal": ["*"],
    "Resource": [f"acs:oss:*:*:{BUCKET}/*"],
}


@pytest.mark.parametrize(
    "document",
    [
        "this is not json",
        json.dumps({"Version": "2", "Statement": [GOOD]}),
        json.dumps({"Version": "1", "Statement": []}),
        policy({**GOOD, "Effect": "Perhaps"}),
        policy({k: v for k, v in GOOD.items() if k != "Action"}),
        policy({k: v for k, v in GOOD.items() if k != "Principal"}),
        policy({k: v for k, v in GOOD.items() if k != "Resource"}),
        policy({**GOOD, "Resource": ["acs:oss:*:*:another-bucket/*"]}),
        policy({**GOOD, "Condition": {"IpAddress": {"acs:SourceIp": ["192.0.2.0/24"]}}}),
    ],
)
def test_bucket_policy_is_validated(client: oss.Client, document: str) -> None:
    error = service_error(
        lambda: client.put_bucket_policy(oss.PutBucketPolicyRequest(bucket=BUCKET, body=document))
    )
    assert (error.status_code, error.code) == (400, "InvalidPolicyDocument")


def test_bucket_policy_with_source_vpc_and_ip_is_accepted(client: oss.Client) -> None:
    condition = {
        "IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]},
        "StringEquals": {"acs:SourceVpc": ["vpc-123"]},
    }
    document = policy({**GOOD, "Condition": condition})
    client.put_bucket_policy(oss.PutBucketPolicyRequest(bucket=BUCKET, body=document))


def test_objects(client: oss.Client) -> None:
    body = b"kafka record batch" * 100
    put = client.put_object(
        oss.PutObjectRequest(
            bucket=BUCKET, key="data/0001 segment.bin", body=body, metadata={"owner": "broker-1"}
        )
    )
    crc = Crc64(0)
    crc.update(body)
    assert put.hash_crc64 == str(crc.sum64()) == str(crc64ecma(body))
    got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="data/0001 segment.bin"))
    assert got.body.read() == body
    assert got.metadata == {"owner": "broker-1"}
    assert got.etag == put.etag
    ranged = client.get_object(
        oss.GetObjectRequest(bucket=BUCKET, key="data/0001 segment.bin", range_header="bytes=0-4")
    )
    assert (ranged.body.read(), ranged.status_code) == (b"kafka", 206)
    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="data/0001 segment.bin"))
    assert head.content_length == len(body)
    assert client.is_object_exist(BUCKET, "data/0001 segment.bin")
    error = service_error(
        lambda: client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="absent"))
    )
    assert (error.status_code, error.code) == (404, "NoSuchKey")
    error = service_error(
        lambda: client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="absent"))
    )
    assert (error.status_code, error.code) == (404, "NoSuchKey")
    assert not client.is_object_exist(BUCKET, "absent")

    error = service_error(lambda: client.delete_bucket(oss.DeleteBucketRequest(bucket=BUCKET)))
    assert (error.status_code, error.code) == (409, "BucketNotEmpty")
    client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="data/0001 segment.bin"))
    client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="data/0001 segment.bin"))
    client.delete_bucket(oss.DeleteBucketRequest(bucket=BUCKET))
    error = service_error(
        lambda: client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="k", body=b""))
    )
    assert (error.status_code, error.code) == (404, "NoSuchBucket")


def test_list_objects_v2_and_delete_multiple(client: oss.Client) -> None:
    keys = [f"s3stream/{i:02d}" for i in range(5)] + ["ops/a", "ops/b", "top", "spaced key+plus%41"]
    for key in keys:
        client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=key.encode()))
    result = client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET, delimiter="/"))
    assert [c.key for c in result.contents] == ["spaced key+plus%41", "top"]
    assert [p.prefix for p in result.common_prefixes] == ["ops/", "s3stream/"]
    assert (result.key_count, result.is_truncated) == (4, False)
    seen = []
    for page in client.list_objects_v2_paginator().iter_page(
        oss.ListObjectsV2Request(bucket=BUCKET, prefix="s3stream/", max_keys=2)
    ):
        seen += [c.key for c in page.contents]
    assert seen == [f"s3stream/{i:02d}" for i in range(5)]
    listed = client.list_objects(oss.ListObjectsRequest(bucket=BUCKET, prefix="ops/"))
    assert [c.key for c in listed.contents] == ["ops/a", "ops/b"]

    deleted = client.delete_multiple_objects(
        oss.DeleteMultipleObjectsRequest(
            bucket=BUCKET, objects=[oss.DeleteObject(key=k) for k in keys], quiet=False
        )
    )
    assert sorted(d.key for d in deleted.deleted_objects) == sorted(keys)
    assert client.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET)).contents in (None, [])


def test_ram_user_reaches_only_what_its_policies_allow(
    client: oss.Client, clients: Clients, emulator: Emulator
) -> None:
    client.put_bucket(oss.PutBucketRequest(bucket="automq-ops"))
    clients.ram.create_user(ram_models.CreateUserRequest(user_name="automq"))
    clients.ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name="automq-data",
            policy_document=json.dumps(
                {
                    "Version": "1",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["oss:PutObject", "oss:GetObject", "oss:ListObjects"],
                            "Resource": [f"acs:oss:*:*:{BUCKET}", f"acs:oss:*:*:{BUCKET}/*"],
                        }
                    ],
                }
            ),
        )
    )
    clients.ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name="automq-data", user_name="automq"
        )
    )
    key = clients.ram.create_access_key(
        ram_models.CreateAccessKeyRequest(user_name="automq")
    ).body.access_key
    user = make_clients(emulator, key.access_key_id, key.access_key_secret).oss
    user.put_object(oss.PutObjectRequest(bucket=BUCKET, key="data/1", body=b"1"))
    assert user.get_object(oss.GetObjectRequest(bucket=BUCKET, key="data/1")).body.read() == b"1"
    assert [
        c.key for c in user.list_objects_v2(oss.ListObjectsV2Request(bucket=BUCKET)).contents
    ] == ["data/1"]
    for denied in (
        lambda: user.put_object(oss.PutObjectRequest(bucket="automq-ops", key="x", body=b"")),
        lambda: user.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="data/1")),
        lambda: user.put_bucket(oss.PutBucketRequest(bucket="user-bucket")),
    ):
        error = service_error(denied)
        assert (error.status_code, error.code) == (403, "AccessDenied")
    # A bucket policy can grant the user more.
    user_id = emulator.state.users["automq"].id
    client.put_bucket_policy(
        oss.PutBucketPolicyRequest(
            bucket="automq-ops",
            body=policy(
                {
                    "Effect": "Allow",
                    "Action": ["oss:PutObject"],
                    "Principal": [user_id],
                    "Resource": ["acs:oss:*:*:automq-ops/*"],
                }
            ),
        )
    )
    user.put_object(oss.PutObjectRequest(bucket="automq-ops", key="x", body=b""))


def test_anonymous_access_follows_the_acl(client: oss.Client) -> None:
    import requests

    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="public", body=b"hello"))
    url = f"{client._client._options.endpoint.geturl()}/{BUCKET}/public"
    denied = requests.get(url, timeout=10)
    assert denied.status_code == 403
    assert "<Code>AccessDenied</Code>" in denied.text
    client.put_bucket_acl(oss.PutBucketAclRequest(bucket=BUCKET, acl="public-read"))
    assert requests.get(url, timeout=10).content == b"hello"
    assert requests.put(url, data=b"x", timeout=10).status_code == 403


def test_endpoint_forms_for_path_style(emulator: Emulator) -> None:
    """An IP endpoint is path-style by itself; localhost needs use_path_style."""
    port = emulator.oss_port
    by_ip = oss_client(emulator, endpoint=f"127.0.0.1:{port}", disable_ssl=True)
    by_ip.put_bucket(oss.PutBucketRequest(bucket="by-ip"))
    by_name = oss_client(emulator, endpoint=f"http://localhost:{port}", use_path_style=True)
    assert [b.name for b in by_name.list_buckets(oss.ListBucketsRequest()).buckets] == ["by-ip"]
    by_name.put_object(oss.PutObjectRequest(bucket="by-ip", key="k", body=b"v"))
