"""Which cluster a data bucket belongs to: recorded at the first start, checked before a format.

AutoMQ names its objects after the cluster ID and numbers them from 0 in a new quorum:
``<reversed hex of the object ID>/_kafka_<cluster ID>/<object ID>`` for stream objects
(``ObjectUtils.genKey``, s3stream/.../metadata/ObjectUtils.java:64-76, namespace set in
ControllerServer.scala:261, ``Constants.DEFAULT_NAMESPACE`` = ``_kafka_``) and
``<MD5 of the node ID>/_kafka_<cluster ID>/<node ID>/...`` for the object WAL
(wal/impl/object/ObjectUtils.java:103). A new quorum formatted with a kept cluster ID
(``destroy.yml`` without purge keeps the state file and its ID; so does losing every
controller's disk) writes object 0, 1, ... again over the kept ones, and its metadata
knows nothing of them. A new quorum with another ID on a kept bucket leaves the other
cluster's objects orphaned beside its own.

So the installer writes :data:`IDENTITY_KEY` (cluster ID and name, when and from where)
into every data and WAL bucket once the quorum is formatted, and before it formats a
new quorum it looks at the bucket: a recorded identity, or anything at the top level
but AutoMQ's readiness probes (``__automq/``) and the identity itself, stops the run.
An existing cluster's bucket must carry its own identity (written when missing, for
clusters older than this check) and no AutoMQ objects of another cluster ID.

Layers: pure parsing and :func:`judge`, and :func:`inspect_bucket` /
:func:`record_identity` over an :class:`~.oss_readiness.BucketClient`.

Runs on the cluster hosts (Python 3.8+, standard library only).
"""

# The hosts may only have Python 3.8, although ruff targets 3.11: keep typing.List & co.
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import datetime
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .oss_readiness import (
    BucketClient,
    HttpResponse,
    Target,
    TransportError,
    _local,
    _parse_xml,
    parse_error,
    response_failure,
    transport_failure,
)

IDENTITY_KEY = "automq-installer/cluster-identity.json"
# Top-level names that hold no cluster's data: AutoMQ's readiness probes (the
# installer's are under them too, oss_readiness.PROBE_ROOT) and the identity.
NOT_DATA = ("__automq/", "automq-installer/")
# The top level of AutoMQ's keys: 8 hex digits (stream objects) or an MD5 (object WAL).
AUTOMQ_TOP = re.compile(r"^(?:[0-9a-f]{8}|[0-9A-F]{32})/$")
CLUSTER_NAMESPACE = re.compile(r"^_kafka_(?P<cluster_id>[^/]+)/$")
LIST_LIMIT = 100
# Top-level prefixes read one level down for the cluster IDs under them.
SAMPLED_PREFIXES = 5
FORMAT = 1


class BucketIdentityError(Exception):
    """A request failed or answered what OSS would not; the message says which and why."""


@dataclass(frozen=True)
class Identity:
    cluster_id: str
    cluster_name: str
    recorded_at: str
    recorded_by: str

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            **self.as_dict(),
            "written_by": "the AutoMQ installer for Alibaba Cloud (roles/automq)",
        }
        return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")

    def describe(self) -> str:
        name = f" ({self.cluster_name})" if self.cluster_name else ""
        return (
            f"cluster {self.cluster_id}{name}, recorded {self.recorded_at or 'at an unknown time'}"
            f" by {self.recorded_by or 'an unknown host'}"
        )

    def as_dict(self) -> Dict[str, str]:
        return asdict(self)


def parse_identity(body: bytes) -> Identity:
    """The identity document; ValueError when it is not one this installer wrote."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    cluster_id = document.get("cluster_id")
    if not isinstance(cluster_id, str) or not cluster_id:
        raise ValueError("no cluster_id")
    return Identity(
        cluster_id=cluster_id,
        cluster_name=str(document.get("cluster_name", "")),
        recorded_at=str(document.get("recorded_at", "")),
        recorded_by=str(document.get("recorded_by", "")),
    )


def new_identity(
    cluster_id: str, cluster_name: str, recorded_by: str, now: datetime.datetime
) -> Identity:
    return Identity(
        cluster_id=cluster_id,
        cluster_name=cluster_name,
        recorded_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        recorded_by=recorded_by,
    )


@dataclass(frozen=True)
class Listing:
    """One page of ListObjectsV2 with a delimiter."""

    prefixes: Tuple[str, ...]
    keys: Tuple[str, ...]
    truncated: bool


def parse_listing(body: bytes) -> Listing:
    root = _parse_xml(body)
    if root is None or _local(root.tag) != "ListBucketResult":
        raise ValueError("ListObjectsV2 did not answer with a ListBucketResult")
    prefixes: List[str] = []
    keys: List[str] = []
    truncated = False
    for child in root:
        tag = _local(child.tag)
        if tag == "CommonPrefixes":
            prefixes.extend((item.text or "") for item in child if _local(item.tag) == "Prefix")
        elif tag == "Contents":
            keys.extend((item.text or "") for item in child if _local(item.tag) == "Key")
        elif tag == "IsTruncated":
            truncated = (child.text or "").strip().lower() == "true"
    return Listing(tuple(prefixes), tuple(keys), truncated)


def data_entries(listing: Listing) -> List[str]:
    """Top-level names of a bucket that may hold a cluster's data, in listing order."""
    return [name for name in listing.prefixes + listing.keys if name not in NOT_DATA]


def cluster_ids_under(listing: Listing) -> List[str]:
    """Cluster IDs of AutoMQ's namespaces (``_kafka_<ID>/``) one level under a prefix."""
    found: List[str] = []
    for prefix in listing.prefixes:
        match = CLUSTER_NAMESPACE.match(prefix.rpartition("/")[0].rpartition("/")[2] + "/")
        if match and match["cluster_id"] not in found:
            found.append(match["cluster_id"])
    return found


@dataclass
class BucketContents:
    """What a bucket holds, as far as the identity guard cares."""

    bucket: str
    roles: Tuple[str, ...]
    identity: Optional[Identity] = None
    # Why the identity object could not be read as one (it exists, but is not ours).
    identity_problem: str = ""
    entries: List[str] = field(default_factory=list)
    more_entries: bool = False
    cluster_ids: List[str] = field(default_factory=list)

    def as_dict(self) -> Dict[str, Any]:
        return {
            "bucket": self.bucket,
            "roles": list(self.roles),
            "identity": self.identity.as_dict() if self.identity else None,
            "identity_problem": self.identity_problem,
            "data_entries": list(self.entries),
            "more_data_entries": self.more_entries,
            "cluster_ids": list(self.cluster_ids),
        }

    def describe_entries(self) -> str:
        shown = ", ".join(self.entries[:3])
        count = f"{len(self.entries)}{' or more' if self.more_entries else ''}"
        clusters = (
            f", AutoMQ objects of cluster {', '.join(self.cluster_ids)}" if self.cluster_ids else ""
        )
        return f"{count} top-level entries that are not the installer's ({shown}{clusters})"


@dataclass(frozen=True)
class Verdict:
    refusal: str = ""
    record: bool = False


RESTORE_OR_EMPTY = (
    "If it is this cluster's data, restore the controllers' metadata directories "
    "(automq_metadata_dir: meta.properties and __cluster_metadata-0) from a backup taken "
    "with the data and run again: AutoMQ reads its objects only through that metadata, so "
    "the bucket alone is not a backup. If nothing in it is needed, empty the bucket "
    "(playbooks/destroy.yml -e alicloud_destroy_purge_buckets=<data bucket>,<ops bucket> for "
    "buckets the installer made) or set automq_oss_data_bucket to a new, empty bucket"
)


def judge(contents: BucketContents, cluster_id: str, new_quorum: bool) -> Verdict:
    """Whether this run may use the bucket, and whether it records the identity.

    ``new_quorum``: no controller of the cluster has its metadata, so this run formats a
    new quorum (object IDs start at 0 again).
    """
    label = f"{'/'.join(contents.roles)} bucket {contents.bucket}"
    identity = contents.identity
    if contents.identity_problem:
        return Verdict(
            f"{label} holds {IDENTITY_KEY}, which is not an identity this installer wrote "
            f"({contents.identity_problem}). Nothing was formatted or started. Find out whose "
            "bucket it is; if it is this cluster's and the file was damaged, delete the file "
            "and run again (it is written anew)"
        )
    if new_quorum:
        if identity is not None:
            if identity.cluster_id == cluster_id:
                why = (
                    f"holds the identity of this very cluster ID ({identity.describe()}), but "
                    "no controller has its metadata: a new quorum formatted with that ID would "
                    "number its objects from 0 again and overwrite the kept ones"
                )
            else:
                why = (
                    f"belongs to another cluster ({identity.describe()}): a new quorum with "
                    f"cluster ID {cluster_id} would leave that cluster's objects orphaned "
                    "beside its own"
                )
            return Verdict(f"{label} {why}. Nothing was formatted or started. {RESTORE_OR_EMPTY}")
        if contents.entries:
            return Verdict(
                f"{label} holds {contents.describe_entries()}, and this run would format a new "
                f"quorum with cluster ID {cluster_id} onto it. Nothing was formatted or "
                f"started. {RESTORE_OR_EMPTY}"
            )
        return Verdict()
    if identity is not None:
        if identity.cluster_id != cluster_id:
            return Verdict(
                f"{label} belongs to another cluster ({identity.describe()}), not to this one "
                f"({cluster_id}): automq_oss_data_bucket (or an s3.* override) points at "
                "another cluster's bucket. Nothing was changed on the nodes' data. Set it back "
                "to this cluster's bucket and run again"
            )
        return Verdict()
    others = [found for found in contents.cluster_ids if found != cluster_id]
    if others:
        return Verdict(
            f"{label} holds AutoMQ objects of cluster {', '.join(others)}, not only of this "
            f"cluster ({cluster_id}): automq_oss_data_bucket (or an s3.* override) points at "
            "another cluster's bucket. Set it back to this cluster's bucket and run again"
        )
    return Verdict(record=True)


# --------------------------------------------------------------------------- requests


def _request(
    client: BucketClient,
    step: str,
    method: str,
    key: Optional[str],
    expect: Sequence[int],
    query: Sequence[Tuple[str, str]] = (),
    body: bytes = b"",
    headers: Optional[Dict[str, str]] = None,
) -> HttpResponse:
    try:
        response = client.send(method, key, query, body, headers)
    except TransportError as exc:
        failure = transport_failure(step, exc, client.context)
        raise BucketIdentityError(
            client.redactor.text(f"{failure.code}: {failure.message}. Likely fix: {failure.fix}")
        ) from exc
    if response.status not in expect:
        raise _service_error(client, step, response)
    return response


def _service_error(client: BucketClient, step: str, response: HttpResponse) -> BucketIdentityError:
    failure = response_failure(step, response, client.context, client.now())
    return BucketIdentityError(
        client.redactor.text(
            f"{step} answered HTTP {response.status} {failure.code}: {failure.message}. "
            f"Likely fix: {failure.fix}"
        )
    )


def _list(client: BucketClient, step: str, prefix: str, limit: int) -> Listing:
    query = [("delimiter", "/"), ("list-type", "2"), ("max-keys", str(limit))]
    if prefix:
        query.append(("prefix", prefix))
    response = _request(client, step, "GET", None, (200,), query=query)
    try:
        return parse_listing(response.body)
    except ValueError as exc:
        raise BucketIdentityError(f"{step}: {exc}: is the endpoint OSS?") from exc


def inspect_bucket(client: BucketClient, roles: Tuple[str, ...]) -> BucketContents:
    """GetObject of the identity, ListObjectsV2 of the top level and of a few prefixes."""
    contents = BucketContents(bucket=client.target.uri.bucket, roles=roles)
    response = _request(client, "get_identity", "GET", IDENTITY_KEY, (200, 404))
    if response.status == 200:
        try:
            contents.identity = parse_identity(response.body)
        except ValueError as exc:
            contents.identity_problem = str(exc)
    elif parse_error(response).code not in ("", "NoSuchKey"):  # e.g. NoSuchBucket
        raise _service_error(client, "get_identity", response)
    top = _list(client, "list_top_level", "", LIST_LIMIT)
    contents.entries = data_entries(top)
    contents.more_entries = top.truncated
    for prefix in [entry for entry in contents.entries if AUTOMQ_TOP.match(entry)][
        :SAMPLED_PREFIXES
    ]:
        for cluster_id in cluster_ids_under(_list(client, "list_namespaces", prefix, 10)):
            if cluster_id not in contents.cluster_ids:
                contents.cluster_ids.append(cluster_id)
    return contents


def record_identity(client: BucketClient, identity: Identity) -> str:
    """Write the identity, then read it back: a refusal (empty when none) when the bucket
    then names another cluster. OSS's S3 interface has no conditional PUT this code can
    rely on, so two clusters formatted onto one empty bucket at once both write; the one
    whose identity was overwritten finds out here, before its first start."""
    _request(
        client,
        "put_identity",
        "PUT",
        IDENTITY_KEY,
        (200,),
        body=identity.to_json(),
        headers={"Content-Type": "application/json"},
    )
    response = _request(client, "read_back_identity", "GET", IDENTITY_KEY, (200,))
    try:
        found = parse_identity(response.body)
    except ValueError as exc:
        raise BucketIdentityError(f"read_back_identity: {exc}: is the endpoint OSS?") from exc
    if found.cluster_id == identity.cluster_id:
        return ""
    return (
        f"bucket {client.target.uri.bucket} was claimed by another cluster while this one "
        f"recorded its identity ({found.describe()}): two clusters were formatted onto one "
        f"bucket at the same time. This cluster ({identity.cluster_id}) was formatted but not "
        "started and left nothing else in the bucket: give it another, empty data bucket "
        "(automq_oss_data_bucket) and run again; the other cluster keeps this one"
    )


def identity_targets(targets: Sequence[Target]) -> List[Target]:
    """The buckets that hold a cluster's objects: data and WAL (not the ops bucket alone)."""
    return [target for target in targets if {"data", "wal"} & set(target.roles)]
