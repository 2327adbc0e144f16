"""The OSS readiness check against the emulator's S3-compatible data plane, in-process.

The emulator (``tests/alicloud_emulator``) serves OSS's S3 API virtual-hosted over HTTPS
with its own CA, verifies Signature V4 and evaluates RAM and bucket policies with their
``acs:SourceVpc`` conditions. The buckets, the RAM user, its AccessKey and both policies
are made as the installer makes them (``automq_ram_policy``, ``automq_bucket_statements``)
through the official SDKs; the check then runs with the node's configuration as the
automq role writes it. The bucket names resolve nowhere here, so the transport connects
to the emulator's port while keeping the virtual-hosted name for SNI, the certificate and
the Host header. No Docker is needed: the emulator's ``source_vpcs`` tells it that
requests from 127.0.0.1 come from the cluster's VPC (or, in one test, that they do not).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_ram20150501 import models as ram_models

from automq_helpers.alicloud.bucket_policy import automq_bucket_statements
from automq_helpers.alicloud.ram_policy import automq_ram_policy
from automq_helpers.bucket_identity import (
    IDENTITY_KEY,
    BucketIdentityError,
    Verdict,
    identity_targets,
    inspect_bucket,
    judge,
    new_identity,
    record_identity,
)
from automq_helpers.oss_readiness import (
    PROBE_ROOT,
    BucketClient,
    BucketReport,
    HttpClientTransport,
    Target,
    check_buckets,
    load_targets,
    utc_now,
)

from .conftest import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.sdk import Clients, make_clients

VPC = "vpc-automq0test"
DATA, OPS = "automq-it-data", "automq-it-ops"
CREDENTIALS_FILE = "/etc/automq/credentials.env"
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


@dataclass(frozen=True)
class Cluster:
    emulator: Emulator
    clients: Clients
    user_id: str
    key_id: str
    secret: str


def server_properties(
    data: str = DATA,
    ops: str = OPS,
    extra: str = "",
    region: str = "cn-hangzhou",
    endpoint: str | None = None,
) -> str:
    """The bucket keys of server.properties as roles/automq/templates/server.properties.j2
    writes them for automq_oss_region ``region`` (and automq_oss_endpoint ``endpoint``)."""
    endpoint = endpoint or f"https://oss-{region}-internal.aliyuncs.com"
    query = f"region=oss-{region}&endpoint={endpoint}{extra}"
    return (
        f"s3.data.buckets=0@s3://{data}?{query}\n"
        f"s3.ops.buckets=1@s3://{ops}?{query}\n"
        f"s3.wal.path=0@s3://{data}?{query}\n"
    )


def credentials_env(key_id: str, secret: str) -> str:
    return f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}\n"


def ram_policy_without(action: str, account_id: str) -> dict:
    """The installer's RAM policy for the two buckets, less ``action`` (no VPC condition)."""
    policy = automq_ram_policy([DATA, OPS], account_id=account_id)
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    return policy


def provision(emulator: Emulator, ram_policy: dict | None = None, bucket_policy: bool = True):
    """Buckets, RAM user, policies and AccessKey, as playbooks/provision.yml makes them."""
    clients = make_clients(emulator)
    for bucket in (DATA, OPS):
        clients.oss.put_bucket(oss.PutBucketRequest(bucket=bucket))
    user = clients.ram.create_user(ram_models.CreateUserRequest(user_name="automq")).body.user
    document = ram_policy or automq_ram_policy(
        [DATA, OPS], account_id=emulator.account_id, source_vpc_ids=[VPC]
    )
    clients.ram.create_policy(
        ram_models.CreatePolicyRequest(policy_name="automq", policy_document=json.dumps(document))
    )
    clients.ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name="automq", user_name="automq"
        )
    )
    if bucket_policy:
        for bucket in (DATA, OPS):
            statements = automq_bucket_statements(
                bucket=bucket, account_id=emulator.account_id, principal=user.user_id, vpc_ids=[VPC]
            )
            clients.oss.put_bucket_policy(
                oss.PutBucketPolicyRequest(
                    bucket=bucket, body=json.dumps({"Version": "1", "Statement": statements})
                )
            )
    key = clients.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="automq"))
    access_key = key.body.access_key
    return Cluster(
        emulator, clients, user.user_id, access_key.access_key_id, access_key.access_key_secret
    )


@pytest.fixture
def in_vpc() -> Iterator[Emulator]:
    """Requests from 127.0.0.1 come from the cluster's VPC."""
    with Emulator(containers=False, source_vpcs={"127.0.0.1/32": VPC}) as emulator:
        yield emulator


def transport(emulator: Emulator) -> HttpClientTransport:
    """To the emulator's data plane, trusting only its CA."""
    names = [
        emulator.oss_data_host(bucket, region, internal)
        for bucket in (DATA, OPS, "automq-it-missing")
        for region in emulator.config.regions
        for internal in (True, False)
    ]
    names.append("oss-cn-hangzhou-internal.aliyuncs.com")  # path-style requests
    return HttpClientTransport(
        timeout=5.0,
        ca_file=emulator.oss_data_ca_file,
        connect_to={(name, 443): ("127.0.0.1", emulator.s3_port) for name in names},
    )


def run_check(
    cluster: Cluster,
    properties: str | None = None,
    secret: str | None = None,
    key_id: str | None = None,
    check_mode: bool = False,
) -> list[BucketReport]:
    targets = load_targets(
        properties or server_properties(),
        credentials_env(key_id or cluster.key_id, secret or cluster.secret),
        CREDENTIALS_FILE,
    )
    return check_buckets(targets, transport(cluster.emulator), "node-0", check_mode=check_mode)


def probe_objects(cluster: Cluster, bucket: str) -> list[str]:
    """What is under the probe root, seen through the OSS API with the account's key."""
    result = cluster.clients.oss.list_objects_v2(
        oss.ListObjectsV2Request(bucket=bucket, prefix=PROBE_ROOT)
    )
    return [item.key for item in result.contents or []]


def test_the_installers_policies_pass_from_the_vpc(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)

    reports = run_check(cluster)

    assert [(report.roles, report.bucket) for report in reports] == [
        (("data", "wal"), DATA),
        (("ops",), OPS),
    ]
    for report in reports:
        assert report.ok, report.summary()
        assert [step.step for step in report.steps] == FULL_STEPS
        assert report.url == f"https://{report.bucket}.oss-cn-hangzhou-internal.aliyuncs.com/"
    assert probe_objects(cluster, DATA) == []
    assert probe_objects(cluster, OPS) == []


def test_check_mode_writes_nothing(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)

    reports = run_check(cluster, check_mode=True)

    assert [(report.ok, report.mode) for report in reports] == [(True, "head-only")] * 2
    assert [[step.step for step in report.steps] for report in reports] == [["head"]] * 2
    for bucket in (DATA, OPS):
        listing = cluster.clients.oss.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket))
        assert not listing.contents


def test_outside_the_vpc_the_bucket_policy_denies() -> None:
    with Emulator(containers=False, source_vpcs={"127.0.0.2/32": VPC}) as emulator:
        cluster = provision(emulator)
        reports = run_check(cluster)

    for report in reports:
        failure = report.failure
        assert failure is not None
        assert (failure.step, failure.http_status, failure.code) == ("head", 403, "AccessDenied")
        assert "acs:SourceVpc" in failure.fix
        assert [step.step for step in report.steps][-1] != "put"  # stopped at HEAD


def test_the_public_endpoint_carries_no_source_vpc(in_vpc: Emulator) -> None:
    """From inside the VPC, but through the public endpoint: the bucket policy's
    acs:SourceVpc condition does not match, and the fix names the internal endpoint."""
    cluster = provision(in_vpc)
    reports = run_check(cluster, server_properties(endpoint="https://oss-cn-hangzhou.aliyuncs.com"))

    for report in reports:
        failure = report.failure
        assert failure is not None
        assert (failure.step, failure.http_status, failure.code) == ("head", 403, "AccessDenied")
        assert "oss-cn-hangzhou-internal.aliyuncs.com" in failure.fix, failure.fix
        assert "this node uses the public endpoint" in failure.fix, failure.fix
    assert all(not probe_objects(cluster, bucket) for bucket in (DATA, OPS))


def test_a_wrong_secret(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)

    reports = run_check(cluster, secret="not-" + cluster.secret)

    assert {(r.failure.step, r.failure.code) for r in reports} == {
        ("head", "SignatureDoesNotMatch")
    }
    assert "check automq_oss_access_key_secret" in reports[0].summary()
    assert cluster.secret not in json.dumps([report.as_dict() for report in reports])


def test_an_unknown_access_key_id(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)

    reports = run_check(cluster, key_id="LTAI5tNoSuchKey000")

    assert {(r.failure.step, r.failure.code) for r in reports} == {("head", "InvalidAccessKeyId")}
    assert "LTAI5tNoSuchKey000" in reports[0].failure.fix


def test_an_inactive_access_key(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)
    cluster.clients.ram.update_access_key(
        ram_models.UpdateAccessKeyRequest(
            user_name="automq", user_access_key_id=cluster.key_id, status="Inactive"
        )
    )

    reports = run_check(cluster)

    failure = reports[0].failure
    assert failure is not None
    assert failure.step == "head"
    assert failure.code == "InvalidAccessKeyId", reports[0].summary()
    assert "wrong, disabled or deleted" in failure.fix


def test_a_misspelt_bucket(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)

    reports = run_check(cluster, server_properties(data="automq-it-missing"))

    failure = reports[0].failure
    assert reports[0].bucket == "automq-it-missing"
    assert (failure.step, failure.http_status, failure.code) == ("head", 404, "NoSuchBucket")
    assert reports[1].ok  # the ops bucket is fine


def test_path_style(in_vpc: Emulator) -> None:
    cluster = provision(in_vpc)

    reports = run_check(cluster, server_properties(extra="&pathStyle=true"))

    assert {(r.failure.step, r.failure.code) for r in reports} == {
        ("head", "SecondLevelDomainForbidden")
    }
    assert "remove pathStyle=true" in reports[0].failure.fix


def test_a_ram_policy_without_delete_leaves_objects_to_remove(in_vpc: Emulator) -> None:
    no_delete = ram_policy_without("oss:DeleteObject", in_vpc.account_id)
    cluster = provision(in_vpc, ram_policy=no_delete, bucket_policy=False)

    reports = run_check(cluster)

    report = reports[0]
    assert report.failure is not None
    assert (report.failure.step, report.failure.code) == ("delete", "AccessDenied")
    assert "allow oss:DeleteObject" in report.failure.fix
    assert sorted(report.leftover_keys) == sorted(probe_objects(cluster, DATA))
    assert len(report.leftover_keys) == 2


def test_a_ram_policy_without_put_stops_before_writing(in_vpc: Emulator) -> None:
    no_put = ram_policy_without("oss:PutObject", in_vpc.account_id)
    cluster = provision(in_vpc, ram_policy=no_put, bucket_policy=False)

    reports = run_check(cluster)

    for report in reports:
        assert report.failure is not None
        assert (report.failure.step, report.failure.code) == ("put", "AccessDenied")
        assert "allow oss:PutObject" in report.failure.fix
        assert report.leftover_keys == []
    assert probe_objects(cluster, DATA) == []


def test_an_explicit_deny_in_a_second_policy_beats_the_installers_allow(in_vpc: Emulator) -> None:
    """A guardrail an administrator attached to the user beside the installer's policy: an
    explicit Deny of PutObject wins over both Allows (the RAM policy's and the bucket
    policy's), as in the cloud; the check stops at the first write, naming the action."""
    cluster = provision(in_vpc)
    deny = {
        "Version": "1",
        "Statement": [
            {"Effect": "Deny", "Action": ["oss:PutObject"], "Resource": ["acs:oss:*:*:*"]}
        ],
    }
    ram = cluster.clients.ram
    ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name="freeze-writes", policy_document=json.dumps(deny)
        )
    )
    ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name="freeze-writes", user_name="automq"
        )
    )

    reports = run_check(cluster)

    assert len(reports) == 2
    for report in reports:
        assert report.failure is not None
        assert (report.failure.step, report.failure.code) == ("put", "AccessDenied")
        assert "allow oss:PutObject" in report.failure.fix
        assert report.leftover_keys == []
    assert probe_objects(cluster, DATA) == probe_objects(cluster, OPS) == []

    # Detached, the installer's policies pass again.
    ram.detach_policy_from_user(
        ram_models.DetachPolicyFromUserRequest(
            policy_type="Custom", policy_name="freeze-writes", user_name="automq"
        )
    )
    assert all(report.failure is None for report in run_check(cluster))


def test_a_wrong_region_names_the_buckets_region() -> None:
    """The buckets are in cn-hangzhou; the node was configured for cn-beijing."""
    with Emulator(
        containers=False, source_vpcs={"127.0.0.1/32": VPC}, extra_regions=("cn-beijing",)
    ) as emulator:
        cluster = provision(emulator)
        reports = run_check(cluster, server_properties(region="cn-beijing"))

    for report in reports:
        failure = report.failure
        assert failure is not None
        assert (failure.step, failure.http_status, failure.code) == ("head", 403, "AccessDenied")
        assert failure.fix.startswith(
            f"bucket {report.bucket} is in region cn-hangzhou (OSS says to address it at "
            "oss-cn-hangzhou-internal.aliyuncs.com), not behind "
            "https://oss-cn-beijing-internal.aliyuncs.com: set automq_oss_region"
        ), failure.fix


# --- The bucket identity guard (automq_helpers.bucket_identity) through the same OSS ----


def identity_clients(cluster: Cluster) -> list[tuple[Target, BucketClient]]:
    targets = load_targets(
        server_properties(), credentials_env(cluster.key_id, cluster.secret), CREDENTIALS_FILE
    )
    return [
        (target, BucketClient(target, transport(cluster.emulator)))
        for target in identity_targets(targets)
    ]


def test_the_bucket_identity_guard_with_the_installers_policies(in_vpc: Emulator) -> None:
    """With the RAM user's key, from the VPC: an empty data bucket lets a new quorum go
    ahead; the identity recorded after the format is then read back, refuses a new quorum
    with the same cluster ID (destroy.yml without purge kept it) or another, and refuses
    another cluster pointed at the bucket. AutoMQ's keys, put with the account's key,
    name their cluster."""
    cluster = provision(in_vpc)
    ((target, client),) = identity_clients(cluster)
    assert (target.roles, target.uri.bucket) == (("data", "wal"), DATA)  # not the ops bucket

    empty = inspect_bucket(client, target.roles)
    assert judge(empty, "ClusterAAAAAAAAAAAAAAAA", new_quorum=True) == Verdict()
    assert judge(empty, "ClusterAAAAAAAAAAAAAAAA", new_quorum=False).record is True
    record_identity(client, new_identity("ClusterAAAAAAAAAAAAAAAA", "it", "node-0", utc_now()))
    stored = cluster.clients.oss.get_object(oss.GetObjectRequest(bucket=DATA, key=IDENTITY_KEY))
    assert json.loads(stored.body.read())["cluster_id"] == "ClusterAAAAAAAAAAAAAAAA"

    kept = inspect_bucket(client, target.roles)
    assert kept.identity is not None
    assert kept.identity.cluster_id == "ClusterAAAAAAAAAAAAAAAA"
    assert kept.entries == []
    assert judge(kept, "ClusterAAAAAAAAAAAAAAAA", new_quorum=False) == Verdict()
    same_id = judge(kept, "ClusterAAAAAAAAAAAAAAAA", new_quorum=True).refusal
    assert "overwrite the kept ones" in same_id, same_id
    assert "belongs to another cluster" in judge(kept, "ClusterBBBBBBBBBBBBBBBB", True).refusal
    assert "not to this one" in judge(kept, "ClusterBBBBBBBBBBBBBBBB", False).refusal

    # Without the identity, AutoMQ's own keys: a stream object and an object WAL's.
    cluster.clients.oss.delete_object(oss.DeleteObjectRequest(bucket=DATA, key=IDENTITY_KEY))
    for key in (
        "10000000/_kafka_ClusterBBBBBBBBBBBBBBBB/1",
        "C4CA4238A0B923820DCC509A6F75849B/_kafka_ClusterBBBBBBBBBBBBBBBB/1/0/wal/0",
    ):
        cluster.clients.oss.put_object(oss.PutObjectRequest(bucket=DATA, key=key, body=b"x"))
    orphans = inspect_bucket(client, target.roles)
    assert orphans.identity is None
    assert orphans.entries == ["10000000/", "C4CA4238A0B923820DCC509A6F75849B/"]
    assert orphans.cluster_ids == ["ClusterBBBBBBBBBBBBBBBB"]
    refusal = judge(orphans, "ClusterAAAAAAAAAAAAAAAA", new_quorum=True).refusal
    assert "AutoMQ objects of cluster ClusterBBBBBBBBBBBBBBBB" in refusal, refusal
    assert "AutoMQ objects of cluster ClusterBBBBBBBBBBBBBBBB, not only of this cluster" in (
        judge(orphans, "ClusterAAAAAAAAAAAAAAAA", new_quorum=False).refusal
    )


def test_the_bucket_identity_guard_outside_the_vpc_names_the_denial() -> None:
    with Emulator(containers=False, source_vpcs={"127.0.0.2/32": VPC}) as emulator:
        cluster = provision(emulator)
        ((target, client),) = identity_clients(cluster)
        with pytest.raises(BucketIdentityError) as raised:
            inspect_bucket(client, target.roles)
    assert "get_identity answered HTTP 403 AccessDenied" in str(raised.value)
    assert "acs:SourceVpc" in str(raised.value)
    assert cluster.secret not in str(raised.value)
