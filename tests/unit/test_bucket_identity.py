"""The bucket identity guard: the verdicts, the requests over a fake OSS, and the module.

``FakeOss`` (oss_fake.py) checks every signature with botocore and lists with a
delimiter as S3 does. Keys of "AutoMQ objects" below are made with AutoMQ's own layout
(``ObjectUtils.genKey``: reversed 8-hex object ID / ``_kafka_<cluster ID>`` / object ID;
the object WAL: MD5 of the node ID / ``_kafka_<cluster ID>`` / node ID / ...).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from oss_fake import ACCESS_KEY_ID, ENDPOINT_HOST, REGION, SECRET, FakeOss, make_pki, serve_tls
from test_ansible_plugins import run_playbook_output
from test_oss_readiness_module import assert_no_secret, node_files

from automq_helpers.bucket_identity import (
    IDENTITY_KEY,
    BucketContents,
    BucketIdentityError,
    Identity,
    inspect_bucket,
    judge,
    new_identity,
    parse_identity,
    record_identity,
)
from automq_helpers.oss_readiness import (
    BucketClient,
    Credentials,
    Target,
    parse_bucket_uri,
)

NOW = datetime.datetime(2026, 12, 5, 6, 0, 0, tzinfo=datetime.UTC)
CLUSTER = "Zq1v8S5bQmKp0aYx3JtW2g"
OTHER = "Hh7Lr2uN9cVd4eBf6gXk1A"
BUCKET = "automq-data"


def stream_object_key(cluster_id: str, object_id: int) -> str:
    """ObjectUtils.genKey(0, objectId) with namespace _kafka_<cluster ID>."""
    return f"{f'{object_id:08x}'[::-1]}/_kafka_{cluster_id}/{object_id}"


def wal_object_key(cluster_id: str, node_id: int) -> str:
    """wal/impl/object/ObjectUtils.nodePrefix + genObjectPathV0."""
    digest = hashlib.md5(str(node_id).encode()).hexdigest().upper()
    return f"{digest}/_kafka_{cluster_id}/{node_id}/0/wal/0"


def contents(**fields: Any) -> BucketContents:
    return BucketContents(bucket=BUCKET, roles=("data", "wal"), **fields)


def identity(cluster_id: str = CLUSTER) -> Identity:
    return new_identity(cluster_id, "production", "automq-1", NOW)


# --------------------------------------------------------------------------- verdicts


def test_a_new_quorum_on_an_empty_bucket_goes_ahead_and_records_nothing_yet() -> None:
    verdict = judge(contents(), CLUSTER, new_quorum=True)
    assert verdict.refusal == ""
    assert verdict.record is False


def test_a_new_quorum_with_the_kept_cluster_id_is_refused() -> None:
    """destroy.yml without purge kept the state file: the same ID, objects numbered from 0."""
    verdict = judge(contents(identity=identity()), CLUSTER, new_quorum=True)
    assert verdict.record is False
    assert f"data/wal bucket {BUCKET} holds the identity of this very cluster ID" in verdict.refusal
    assert f"cluster {CLUSTER} (production), recorded 2026-12-05T06:00:00Z by automq-1" in (
        verdict.refusal
    )
    assert "number its objects from 0 again and overwrite the kept ones" in verdict.refusal
    assert "Nothing was formatted or started." in verdict.refusal
    assert "restore the controllers' metadata directories" in verdict.refusal
    assert "the bucket alone is not a backup" in verdict.refusal
    assert "alicloud_destroy_purge_buckets=" in verdict.refusal
    assert "automq_oss_data_bucket" in verdict.refusal


def test_a_new_quorum_on_another_clusters_bucket_is_refused() -> None:
    verdict = judge(contents(identity=identity(OTHER)), CLUSTER, new_quorum=True)
    assert f"belongs to another cluster (cluster {OTHER} (production)" in verdict.refusal
    assert f"a new quorum with cluster ID {CLUSTER} would leave" in verdict.refusal


def test_a_new_quorum_on_a_bucket_with_objects_but_no_identity_is_refused() -> None:
    found = contents(entries=["00000000/", "10000000/", "kept/"], cluster_ids=[OTHER])
    verdict = judge(found, CLUSTER, new_quorum=True)
    assert (
        f"holds 3 top-level entries that are not the installer's (00000000/, 10000000/, kept/, "
        f"AutoMQ objects of cluster {OTHER})" in verdict.refusal
    )
    assert "Nothing was formatted or started." in verdict.refusal


def test_an_existing_cluster_records_a_missing_identity() -> None:
    assert judge(contents(), CLUSTER, new_quorum=False).record is True
    mine = contents(entries=["00000000/"], cluster_ids=[CLUSTER])
    assert judge(mine, CLUSTER, new_quorum=False).record is True


def test_an_existing_cluster_with_its_own_identity_changes_nothing() -> None:
    verdict = judge(contents(identity=identity(), entries=["00000000/"]), CLUSTER, False)
    assert verdict.refusal == ""
    assert verdict.record is False


def test_an_existing_cluster_pointed_at_another_clusters_bucket_is_refused() -> None:
    verdict = judge(contents(identity=identity(OTHER)), CLUSTER, new_quorum=False)
    assert verdict.record is False
    assert f"belongs to another cluster (cluster {OTHER}" in verdict.refusal
    assert f"not to this one ({CLUSTER})" in verdict.refusal
    assert "automq_oss_data_bucket" in verdict.refusal
    unlabelled = contents(entries=["00000000/"], cluster_ids=[CLUSTER, OTHER])
    verdict = judge(unlabelled, CLUSTER, new_quorum=False)
    assert verdict.record is False
    assert f"holds AutoMQ objects of cluster {OTHER}, not only of this cluster" in verdict.refusal


@pytest.mark.parametrize("new_quorum", [True, False])
def test_an_identity_file_we_did_not_write_is_refused(new_quorum: bool) -> None:
    verdict = judge(contents(identity_problem="no cluster_id"), CLUSTER, new_quorum)
    assert verdict.record is False
    assert f"holds {IDENTITY_KEY}, which is not an identity this installer wrote" in (
        verdict.refusal
    )
    assert "(no cluster_id)" in verdict.refusal


@given(
    cluster_id=st.text(min_size=1, max_size=40).filter(lambda text: "\x00" not in text),
    name=st.text(max_size=40),
    host=st.text(max_size=40),
)
def test_an_identity_reads_back_as_written(cluster_id: str, name: str, host: str) -> None:
    written = new_identity(cluster_id, name, host, NOW)
    assert parse_identity(written.to_json()) == written


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"cluster_name": "x"}', "no cluster_id"),
        (b'{"cluster_id": ""}', "no cluster_id"),
    ],
)
def test_what_is_not_an_identity(body: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_identity(body)


# --------------------------------------------------------------------------- over OSS


def client(fake: FakeOss, secret: str = SECRET) -> BucketClient:
    uri = parse_bucket_uri(f"0@s3://{BUCKET}?region={REGION}&endpoint=https://{ENDPOINT_HOST}")
    target = Target(("data", "wal"), uri, Credentials(ACCESS_KEY_ID, secret, source="env"))
    return BucketClient(target, fake, now=lambda: NOW)


def fake_oss() -> FakeOss:
    return FakeOss(clock=lambda: NOW)


def test_an_empty_bucket_then_its_recorded_identity() -> None:
    fake = fake_oss()
    found = inspect_bucket(client(fake), ("data", "wal"))
    assert (found.identity, found.entries, found.cluster_ids) == (None, [], [])
    assert fake.operations == ["GetObject", "ListObjectsV2"]
    record_identity(client(fake), identity())
    document = json.loads(fake.objects[(BUCKET, IDENTITY_KEY)])
    assert document["cluster_id"] == CLUSTER
    assert document["recorded_at"] == "2026-12-05T06:00:00Z"
    again = inspect_bucket(client(fake), ("data", "wal"))
    assert again.identity == identity()
    assert again.entries == []  # the identity itself is not data


def test_an_identity_overwritten_at_once_by_another_cluster_is_found_on_reading_back() -> None:
    fake = fake_oss()
    assert record_identity(client(fake), identity()) == ""  # read back as written
    assert fake.operations == ["PutObject", "GetObject"]

    class Race(FakeOss):
        """Another cluster's PUT lands between this one's PUT and its read back."""

        def _op_PutObject(self, request, headers, query, bucket, key):
            answer = super()._op_PutObject(request, headers, query, bucket, key)
            self.objects[(bucket, key)] = identity(OTHER).to_json()
            return answer

    lost = record_identity(client(Race(clock=lambda: NOW)), identity())
    assert f"bucket {BUCKET} was claimed by another cluster" in lost
    assert f"cluster {OTHER} (production)" in lost
    assert f"This cluster ({CLUSTER}) was formatted but not started" in lost
    assert "automq_oss_data_bucket" in lost


def test_automq_objects_are_found_with_their_cluster_ids() -> None:
    fake = fake_oss()
    for object_id in range(3):
        fake.objects[(BUCKET, stream_object_key(OTHER, object_id))] = b"x"
    fake.objects[(BUCKET, wal_object_key(CLUSTER, 1000))] = b"x"
    # Readiness probes (AutoMQ's and the installer's) are no cluster's data.
    fake.objects[(BUCKET, "__automq/readiness_check/normal_obj/123")] = b"x"
    fake.objects[(BUCKET, "__automq/readiness_check/installer/node-0/1/object")] = b"x"
    found = inspect_bucket(client(fake), ("data", "wal"))
    wal_top = wal_object_key(CLUSTER, 1000).split("/")[0] + "/"
    assert found.entries == ["00000000/", "10000000/", "20000000/", wal_top]
    assert found.cluster_ids == [OTHER, CLUSTER]
    assert found.more_entries is False
    assert judge(found, CLUSTER, new_quorum=False).refusal  # another cluster's objects
    assert judge(found, CLUSTER, new_quorum=True).refusal


def test_a_long_top_level_is_cut_and_says_so() -> None:
    fake = fake_oss()
    for number in range(105):
        fake.objects[(BUCKET, f"logs/{number:03d}/x")] = b"x"
        fake.objects[(BUCKET, f"file-{number:03d}")] = b"x"
    found = inspect_bucket(client(fake), ("data",))
    assert len(found.entries) == 100
    assert found.more_entries is True
    assert "100 or more top-level entries" in found.describe_entries()


def test_a_damaged_identity_is_reported_not_trusted() -> None:
    fake = fake_oss()
    fake.objects[(BUCKET, IDENTITY_KEY)] = b"{not json"
    found = inspect_bucket(client(fake), ("data",))
    assert found.identity is None
    assert found.identity_problem.startswith("not JSON")


def test_a_denied_read_names_the_error_without_the_secret() -> None:
    fake = fake_oss()
    fake.deny.add("GetObject")
    with pytest.raises(BucketIdentityError) as raised:
        inspect_bucket(client(fake), ("data",))
    assert "get_identity answered HTTP 403 AccessDenied" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert "Signature=" not in str(raised.value)


# --------------------------------------------------------------------------- module


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    return make_pki(tmp_path_factory.mktemp("pki"), ["localhost", "127.0.0.1"])


def identity_task(
    properties: Path, credentials: Path, ca_file: Path, new_quorum: bool
) -> dict[str, Any]:
    return {
        "name": "identity",
        "automq.platform.bucket_identity": {
            "server_properties": str(properties),
            "credentials_env": str(credentials),
            "ca_file": str(ca_file),
            "cluster_id": CLUSTER,
            "cluster_name": "production",
            "new_quorum": new_quorum,
            "recorded_by": "automq-1",
        },
    }


def run_module(tmp_path: Path, pki, fake: FakeOss, new_quorum: bool, *options: str):
    with serve_tls(fake, pki) as server:
        properties, credentials = node_files(tmp_path, server.port)
        completed, results = run_playbook_output(
            tmp_path, [identity_task(properties, credentials, pki.ca_file, new_quorum)], *options
        )
    return completed, results["identity"]


def test_the_module_records_once_and_then_refuses_a_new_quorum(tmp_path: Path, pki) -> None:
    fake = FakeOss(endpoint_host="localhost", allow_path_style=True)
    completed, result = run_module(tmp_path, pki, fake, False, "--check")
    assert completed.returncode == 0, result
    assert result["changed"] is True
    assert fake.objects == {}  # check mode writes nothing

    completed, result = run_module(tmp_path, pki, fake, False, "-vvv")
    assert completed.returncode == 0, result
    assert result["changed"] is True
    (bucket,) = result["buckets"]  # the data bucket is also the WAL's; not the ops bucket
    assert (bucket["bucket"], bucket["roles"], bucket["recorded"]) == (
        "automq-data",
        ["data", "wal"],
        True,
    )
    assert json.loads(fake.objects[("automq-data", IDENTITY_KEY)])["cluster_id"] == CLUSTER
    assert_no_secret(completed, result, SECRET)

    completed, result = run_module(tmp_path, pki, fake, False)
    assert completed.returncode == 0, result
    assert result["changed"] is False
    assert result["buckets"][0]["identity"]["cluster_id"] == CLUSTER

    completed, result = run_module(tmp_path, pki, fake, True, "-vvv")
    assert completed.returncode == 2
    assert result["failed"] is True
    assert "holds the identity of this very cluster ID" in result["msg"]
    assert result["msg"].split("\n") == result["problems"]
    assert_no_secret(completed, result, SECRET)
