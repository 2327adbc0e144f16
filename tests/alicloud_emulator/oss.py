"""OSS REST API (path-style): buckets, their ACL, encryption, lifecycle and policy, objects.

:meth:`OssService.check_access` is the one authorization of OSS requests, for this API
and for the S3-compatible data plane (``s3.py``), which shares the buckets, objects
and multipart uploads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .auth import Principal
from .policy import Caller, Decision, RequestContext, UnsupportedCondition, decide
from .state import Bucket, MultipartUpload, OssObject
from .util import ApiError, iso_millis, wildcard_match

if TYPE_CHECKING:
    from .server import Emulator

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
ACLS = ("private", "public-read", "public-read-write")
STORAGE_CLASSES = ("Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive")
SSE_ALGORITHMS = ("AES256", "KMS", "SM4")


def _crc64_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64_TABLE = _crc64_table()


def crc64ecma(data: bytes) -> int:
    """The CRC-64 OSS reports in ``x-oss-hash-crc64ecma`` (ECMA-182, reflected)."""
    crc = 0xFFFFFFFFFFFFFFFF
    table = _CRC64_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def http_date(when: Any) -> str:
    return format_datetime(when, usegmt=True)


@dataclass
class OssRequest:
    method: str
    bucket: str | None
    key: str | None
    query: dict[str, str]
    headers: Any
    body: bytes
    principal: Principal | None  # None: anonymous
    context: RequestContext = field(default_factory=RequestContext)


@dataclass
class OssResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def check_content_md5(headers: Any, body: bytes) -> None:
    """A Content-MD5 header, when sent, must be the base64 MD5 of the body."""
    md5 = headers.get("Content-MD5")
    if md5 is not None:
        actual = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest())
        if md5.strip() != actual.decode():
            raise ApiError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")


def object_etag(data: bytes) -> str:
    """OSS's ETag of a simple upload: the MD5 in upper-case hex, quoted."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest().upper() + '"'


def error_response(
    error: ApiError, method: str, host: str, bucket: str | None, request_id: str
) -> OssResponse:
    """OSS's ``<Error>`` body; HEAD answers carry it base64-encoded in ``x-oss-err`` only."""
    root = ET.Element("Error")
    fields = {
        "Code": error.code,
        "Message": error.message,
        "RequestId": request_id,
        "HostId": host,
    }
    if bucket and error.code in ("NoSuchBucket", "BucketNotEmpty", "BucketAlreadyExists"):
        fields["BucketName"] = bucket
    fields.update(error.extra)
    for name, value in fields.items():
        ET.SubElement(root, name).text = value
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    headers = {"Content-Type": "application/xml"}
    if error.extra.get("EC"):
        headers["x-oss-ec"] = error.extra["EC"]
    if method == "HEAD":
        headers["x-oss-err"] = base64.b64encode(body).decode()
        return OssResponse(error.status, b"", {**headers, "Content-Length": "0"})
    return OssResponse(error.status, body, headers)


def _xml(root: ET.Element) -> OssResponse:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return OssResponse(200, body, {"Content-Type": "application/xml"})


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = str(text).lower() if isinstance(text, bool) else str(text)
    return element


def _parse_xml(body: bytes, root_tag: str) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise ApiError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    if root.tag != root_tag:
        raise ApiError(400, "MalformedXML", f"The XML root element must be {root_tag}.")
    return root


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    return None if found is None or found.text is None else found.text.strip()


class OssService:
    """OSS operations on the emulator's state; the caller holds the state lock."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    @property
    def region(self) -> str:
        return self.emulator.config.region_id

    # ----------------------------------------------------------------- dispatch

    def operation(self, request: OssRequest) -> tuple[str, Callable[[OssRequest], OssResponse]]:
        method, query = request.method, request.query
        if request.bucket is None:
            if method == "GET":
                return "ListBuckets", self.list_buckets
            raise ApiError(405, "MethodNotAllowed", "The specified method is not allowed.")
        if request.key is None:
            table: dict[tuple[str, str], tuple[str, Callable[[OssRequest], OssResponse]]] = {
                ("PUT", "acl"): ("PutBucketAcl", self.put_bucket_acl),
                ("GET", "acl"): ("GetBucketAcl", self.get_bucket_acl),
                ("GET", "bucketInfo"): ("GetBucketInfo", self.get_bucket_info),
                ("GET", "location"): ("GetBucketLocation", self.get_bucket_location),
                ("PUT", "encryption"): ("PutBucketEncryption", self.put_bucket_encryption),
                ("GET", "encryption"): ("GetBucketEncryption", self.get_bucket_encryption),
                ("DELETE", "encryption"): ("DeleteBucketEncryption", self.delete_bucket_encryption),
                ("PUT", "lifecycle"): ("PutBucketLifecycle", self.put_bucket_lifecycle),
                ("GET", "lifecycle"): ("GetBucketLifecycle", self.get_bucket_lifecycle),
                ("DELETE", "lifecycle"): ("DeleteBucketLifecycle", self.delete_bucket_lifecycle),
                ("PUT", "policy"): ("PutBucketPolicy", self.put_bucket_policy),
                ("GET", "policy"): ("GetBucketPolicy", self.get_bucket_policy),
                ("DELETE", "policy"): ("DeleteBucketPolicy", self.delete_bucket_policy),
                ("POST", "delete"): ("DeleteMultipleObjects", self.delete_multiple_objects),
                ("PUT", "tagging"): ("PutBucketTags", self.put_bucket_tags),
                ("GET", "tagging"): ("GetBucketTags", self.get_bucket_tags),
                ("DELETE", "tagging"): ("DeleteBucketTags", self.delete_bucket_tags),
                ("GET", "uploads"): ("ListMultipartUploads", self.list_multipart_uploads),
            }
            for (table_method, subresource), entry in table.items():
                if method == table_method and subresource in query:
                    return entry
            known = {
                "acl",
                "bucketInfo",
                "location",
                "encryption",
                "lifecycle",
                "policy",
                "delete",
                "tagging",
                "uploads",
            }
            others = (
                set(query)
                - known
                - {
                    "list-type",
                    "prefix",
                    "delimiter",
                    "marker",
                    "max-keys",
                    "start-after",
                    "continuation-token",
                    "encoding-type",
                    "fetch-owner",
                }
            )
            if others and method != "GET":
                raise ApiError(
                    501, "NotImplemented", f"The emulator does not implement ?{sorted(others)[0]}."
                )
            if method == "PUT":
                return "PutBucket", self.put_bucket
            if method == "DELETE":
                return "DeleteBucket", self.delete_bucket
            if method == "HEAD":
                return "GetBucketInfo", self.head_bucket
            if method == "GET" and query.get("list-type") == "2":
                return "ListObjectsV2", self.list_objects_v2
            if method == "GET" and not others:
                return "ListObjects", self.list_objects
            raise ApiError(
                501, "NotImplemented", f"The emulator does not implement ?{sorted(others)[0]}."
            )
        if method == "DELETE" and "uploadId" in request.query:
            return "AbortMultipartUpload", self.abort_multipart_upload
        if set(request.query) & {"acl", "tagging", "uploads", "uploadId", "append", "symlink"}:
            raise ApiError(
                501, "NotImplemented", "The emulator does not implement this object API."
            )
        if method == "PUT":
            if request.headers.get("x-oss-copy-source"):
                raise ApiError(501, "NotImplemented", "The emulator does not implement CopyObject.")
            return "PutObject", self.put_object
        if method in ("GET", "HEAD"):
            return ("GetObject" if method == "GET" else "HeadObject"), self.get_object
        if method == "DELETE":
            return "DeleteObject", self.delete_object
        raise ApiError(405, "MethodNotAllowed", "The specified method is not allowed.")

    def authorize(self, op: str, request: OssRequest) -> None:
        """The RAM action of ``op`` on the request's bucket or object (DeleteMultipleObjects
        checks oss:DeleteObject per key itself)."""
        if op == "DeleteMultipleObjects":
            return
        action = "oss:" + {"HeadObject": "GetObject", "ListObjectsV2": "ListObjects"}.get(op, op)
        self.check_access(request.principal, request.context, request.bucket, action, request.key)

    def check_access(
        self,
        principal: Principal | None,
        context: RequestContext,
        bucket_name: str | None,
        action: str,
        key: str | None = None,
    ) -> None:
        """Raise AccessDenied unless ``principal`` may do ``action`` on the bucket (or its
        object ``key``): an explicit Deny of the bucket policy or the caller's RAM policies
        refuses; the bucket owner needs nothing else; RAM users and anonymous callers need
        an Allow of either document, or an ACL granting the access."""
        state = self.emulator.state
        bucket = state.buckets.get(bucket_name or "")
        account = self.emulator.config.account_id
        region = bucket.region if bucket else self.region
        resource = f"acs:oss:{region}:{account}:{bucket_name or '*'}"
        if key:
            resource += f"/{key}"
        documents: list[str] = []
        if principal is None:
            caller = Caller(())
        elif principal.is_account:
            caller = Caller((account,), is_owner=True)
        else:
            caller = Caller((principal.user_id or "", account))
            user = state.users.get(principal.user_name or "")
            for policy_key in user.policies if user else ():
                policy = state.policies.get(policy_key)
                if policy is not None:
                    documents.append(policy.document)
        try:
            decision = decide(
                documents, action, resource, context, bucket.policy if bucket else None, caller
            )
        except UnsupportedCondition as error:
            raise ApiError(
                403,
                "AccessDenied",
                f"The emulator cannot evaluate a policy that applies to {action} on "
                f"{resource} ({error}), so it refuses the request.",
            ) from None
        who = (
            "anonymous"
            if principal is None
            else "the account"
            if principal.is_account
            else f"RAM user {principal.user_name}"
        )
        if decision is Decision.DENY:
            raise ApiError(
                403,
                "AccessDenied",
                f"You are denied by an explicit Deny of the bucket policy or a RAM policy: "
                f"{action} on {resource} ({who}).",
            )
        if decision is Decision.ALLOW or (principal is not None and principal.is_account):
            return
        if self._acl_allows(bucket, action, key):
            return
        if principal is None:
            raise ApiError(
                403,
                "AccessDenied",
                "You have no right to access this object because of bucket acl.",
            )
        raise ApiError(403, "AccessDenied", f"You are forbidden to {action} on {resource} ({who}).")

    @staticmethod
    def _acl_allows(bucket: Bucket | None, action: str, key: str | None) -> bool:
        if bucket is None:
            return False
        acl = bucket.acl
        obj = bucket.objects.get(key) if key else None
        if obj is not None and obj.acl != "default":
            acl = obj.acl
        if action == "oss:GetObject" and key:
            return acl in ("public-read", "public-read-write")
        if action in ("oss:PutObject", "oss:DeleteObject") and key:
            return acl == "public-read-write"
        return False

    # ----------------------------------------------------------------- helpers

    def _bucket(self, request: OssRequest) -> Bucket:
        bucket = self.emulator.state.buckets.get(request.bucket or "")
        if bucket is None:
            raise ApiError(404, "NoSuchBucket", "The specified bucket does not exist.")
        return bucket

    def add_owner(self, parent: ET.Element) -> None:
        owner = _sub(parent, "Owner")
        _sub(owner, "ID", self.emulator.config.account_id)
        _sub(owner, "DisplayName", self.emulator.config.account_id)

    def _endpoints(self, region: str) -> tuple[str, str]:
        return f"oss-{region}.aliyuncs.com", f"oss-{region}-internal.aliyuncs.com"

    @staticmethod
    def _check_md5(request: OssRequest) -> None:
        check_content_md5(request.headers, request.body)

    # ----------------------------------------------------------------- buckets

    def list_buckets(self, request: OssRequest) -> OssResponse:
        prefix = request.query.get("prefix", "")
        marker = request.query.get("marker", "")
        max_keys = int(request.query.get("max-keys") or 100)
        names = sorted(
            n for n in self.emulator.state.buckets if n.startswith(prefix) and n > marker
        )
        page = names[:max_keys]
        root = ET.Element("ListAllMyBucketsResult")
        self.add_owner(root)
        if prefix:
            _sub(root, "Prefix", prefix)
        if marker:
            _sub(root, "Marker", marker)
        if len(names) > max_keys:
            _sub(root, "MaxKeys", max_keys)
            _sub(root, "IsTruncated", True)
            _sub(root, "NextMarker", page[-1])
        buckets = _sub(root, "Buckets")
        for name in page:
            bucket = self.emulator.state.buckets[name]
            entry = _sub(buckets, "Bucket")
            extranet, intranet = self._endpoints(bucket.region)
            _sub(entry, "CreationDate", iso_millis(bucket.created))
            _sub(entry, "ExtranetEndpoint", extranet)
            _sub(entry, "IntranetEndpoint", intranet)
            _sub(entry, "Location", f"oss-{bucket.region}")
            _sub(entry, "Name", bucket.name)
            _sub(entry, "Region", bucket.region)
            _sub(entry, "StorageClass", bucket.storage_class)
        return _xml(root)

    def put_bucket(self, request: OssRequest) -> OssResponse:
        name = request.bucket or ""
        if not BUCKET_RE.match(name):
            raise ApiError(400, "InvalidBucketName", "The specified bucket is not valid.")
        acl = request.headers.get("x-oss-acl", "private")
        if acl not in ACLS:
            raise ApiError(400, "InvalidArgument", f"no such bucket access control exists: {acl}")
        self._check_md5(request)
        storage_class, redundancy = "Standard", "LRS"
        if request.body.strip():
            root = _parse_xml(request.body, "CreateBucketConfiguration")
            storage_class = _text(root, "StorageClass") or storage_class
            redundancy = _text(root, "DataRedundancyType") or redundancy
            if storage_class not in STORAGE_CLASSES:
                raise ApiError(
                    400, "InvalidArgument", f"Unsupported storage class {storage_class}."
                )
            if redundancy not in ("LRS", "ZRS"):
                raise ApiError(
                    400, "InvalidArgument", f"Unsupported DataRedundancyType {redundancy}."
                )
        if name in self.emulator.state.buckets:
            raise ApiError(
                409,
                "BucketAlreadyExists",
                "The requested bucket name is not available. The bucket namespace is shared by "
                "all users of the system. Please select a different name and try again.",
            )
        self.emulator.state.buckets[name] = Bucket(
            name=name,
            region=self.region,
            acl=acl,
            storage_class=storage_class,
            redundancy=redundancy,
        )
        return OssResponse(headers={"Location": f"/{name}"})

    def head_bucket(self, request: OssRequest) -> OssResponse:
        self._bucket(request)
        return OssResponse()

    def delete_bucket(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        if bucket.objects or bucket.uploads:  # parts of unfinished uploads count too
            raise ApiError(409, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
        del self.emulator.state.buckets[bucket.name]
        return OssResponse(204)

    def get_bucket_info(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        root = ET.Element("BucketInfo")
        info = _sub(root, "Bucket")
        extranet, intranet = self._endpoints(bucket.region)
        _sub(info, "AccessMonitor", "Disabled")
        _sub(info, "CreationDate", iso_millis(bucket.created))
        _sub(info, "ExtranetEndpoint", extranet)
        _sub(info, "IntranetEndpoint", intranet)
        _sub(info, "Location", f"oss-{bucket.region}")
        _sub(info, "StorageClass", bucket.storage_class)
        _sub(info, "TransferAcceleration", "Disabled")
        _sub(info, "CrossRegionReplication", "Disabled")
        _sub(info, "DataRedundancyType", bucket.redundancy)
        _sub(info, "Name", bucket.name)
        _sub(info, "ResourceGroupId", self.emulator.resource_group_id)
        _sub(info, "Comment", "")
        _sub(info, "BlockPublicAccess", False)
        self.add_owner(info)
        acl = _sub(info, "AccessControlList")
        _sub(acl, "Grant", bucket.acl)
        sse = _sub(info, "ServerSideEncryptionRule")
        _sub(sse, "SSEAlgorithm", (bucket.encryption or {}).get("SSEAlgorithm", "None"))
        if bucket.encryption and bucket.encryption.get("KMSMasterKeyID"):
            _sub(sse, "KMSMasterKeyID", bucket.encryption["KMSMasterKeyID"])
        logging = _sub(info, "BucketPolicy")
        _sub(logging, "LogBucket", "")
        _sub(logging, "LogPrefix", "")
        return _xml(root)

    def get_bucket_location(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        root = ET.Element("LocationConstraint")
        root.text = f"oss-{bucket.region}"
        return _xml(root)

    def put_bucket_acl(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        acl = request.headers.get("x-oss-acl")
        if acl not in ACLS:
            raise ApiError(400, "InvalidArgument", f"no such bucket access control exists: {acl}")
        bucket.acl = acl
        return OssResponse()

    def get_bucket_acl(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        root = ET.Element("AccessControlPolicy")
        self.add_owner(root)
        _sub(_sub(root, "AccessControlList"), "Grant", bucket.acl)
        return _xml(root)

    # ----------------------------------------------------------------- encryption

    def put_bucket_encryption(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        self._check_md5(request)
        root = _parse_xml(request.body, "ServerSideEncryptionRule")
        default = root.find("ApplyServerSideEncryptionByDefault")
        if default is None:
            raise ApiError(400, "MalformedXML", "ApplyServerSideEncryptionByDefault is missing.")
        algorithm = _text(default, "SSEAlgorithm")
        if algorithm not in SSE_ALGORITHMS:
            raise ApiError(
                400,
                "InvalidEncryptionAlgorithmError",
                "The Encryption request you specified is not valid. "
                "Supported value: AES256/KMS/SM4",
            )
        key_id = _text(default, "KMSMasterKeyID") or ""
        if key_id and algorithm != "KMS":
            raise ApiError(
                400,
                "InvalidArgument",
                "KMSMasterKeyID is applicable if the default sse algorithm is KMS.",
            )
        bucket.encryption = {"SSEAlgorithm": algorithm, "KMSMasterKeyID": key_id}
        data_encryption = _text(default, "KMSDataEncryption")
        if data_encryption:
            bucket.encryption["KMSDataEncryption"] = data_encryption
        return OssResponse()

    def get_bucket_encryption(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        if bucket.encryption is None:
            raise ApiError(
                404,
                "NoSuchServerSideEncryptionRule",
                "The server side encryption configuration was not found",
            )
        root = ET.Element("ServerSideEncryptionRule")
        default = _sub(root, "ApplyServerSideEncryptionByDefault")
        _sub(default, "SSEAlgorithm", bucket.encryption["SSEAlgorithm"])
        _sub(default, "KMSMasterKeyID", bucket.encryption.get("KMSMasterKeyID", ""))
        if bucket.encryption.get("KMSDataEncryption"):
            _sub(default, "KMSDataEncryption", bucket.encryption["KMSDataEncryption"])
        return _xml(root)

    def delete_bucket_encryption(self, request: OssRequest) -> OssResponse:
        self._bucket(request).encryption = None
        return OssResponse(204)

    # ----------------------------------------------------------------- tagging

    def put_bucket_tags(self, request: OssRequest) -> OssResponse:
        """PutBucketTags replaces the bucket's whole tag set (at most 20 tags)."""
        bucket = self._bucket(request)
        self._check_md5(request)
        root = _parse_xml(request.body, "Tagging")
        tag_set = root.find("TagSet")
        if tag_set is None:
            raise ApiError(400, "MalformedXML", "TagSet is missing.")
        tags: dict[str, str] = {}
        for tag in tag_set.findall("Tag"):
            key = _text(tag, "Key") or ""
            value = _text(tag, "Value") or ""
            if not key or len(key) > 64 or len(value) > 128:
                raise ApiError(400, "InvalidTag", "A tag key is 1-64 and a value 0-128 characters.")
            if key in tags:
                raise ApiError(400, "InvalidTag", "Cannot provide multiple Tags with the same key.")
            tags[key] = value
        if len(tags) > 20:
            raise ApiError(400, "BadRequest", "A bucket takes at most 20 tags.")
        bucket.tags = tags
        return OssResponse()

    def get_bucket_tags(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        root = ET.Element("Tagging")
        tag_set = _sub(root, "TagSet")
        for key, value in sorted(bucket.tags.items()):
            tag = _sub(tag_set, "Tag")
            _sub(tag, "Key", key)
            _sub(tag, "Value", value)
        return _xml(root)

    def delete_bucket_tags(self, request: OssRequest) -> OssResponse:
        self._bucket(request).tags = {}
        return OssResponse(204)

    # ----------------------------------------------------------------- lifecycle

    def put_bucket_lifecycle(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        self._check_md5(request)
        root = _parse_xml(request.body, "LifecycleConfiguration")
        rules = root.findall("Rule")
        if not rules:
            raise ApiError(
                400, "MalformedXML", "A lifecycle configuration needs at least one Rule."
            )
        if len(rules) > 1000:
            raise ApiError(400, "InvalidArgument", "At most 1000 lifecycle rules are allowed.")
        serialized, ids = [], set()
        for index, rule in enumerate(rules, start=1):
            status = _text(rule, "Status")
            if status not in ("Enabled", "Disabled"):
                raise ApiError(400, "MalformedXML", "Rule Status must be Enabled or Disabled.")
            actions = [
                rule.find(tag)
                for tag in (
                    "Expiration",
                    "Transition",
                    "AbortMultipartUpload",
                    "NoncurrentVersionExpiration",
                    "NoncurrentVersionTransition",
                )
            ]
            if all(action is None for action in actions):
                raise ApiError(
                    400, "InvalidArgument", "A lifecycle rule needs an action such as Expiration."
                )
            for action in actions:
                if action is None:
                    continue
                days = _text(action, "Days")
                date = _text(action, "CreatedBeforeDate")
                if days is not None and (not days.isdigit() or int(days) < 1):
                    raise ApiError(400, "InvalidArgument", "Days must be a positive integer.")
                if (
                    action.tag in ("Expiration", "AbortMultipartUpload")
                    and days is None
                    and (date is None and _text(action, "ExpiredObjectDeleteMarker") is None)
                ):
                    raise ApiError(
                        400, "MalformedXML", f"{action.tag} needs Days or CreatedBeforeDate."
                    )
            if rule.find("ID") is None or not _text(rule, "ID"):
                existing = rule.find("ID")
                if existing is not None:
                    rule.remove(existing)
                element = ET.Element("ID")
                element.text = f"rule-{index}"
                rule.insert(0, element)
            rule_id = _text(rule, "ID")
            if rule_id in ids:
                raise ApiError(400, "InvalidArgument", f"Duplicate lifecycle rule ID {rule_id}.")
            ids.add(rule_id)
            if rule.find("Prefix") is None and rule.find("Filter") is None:
                _sub(rule, "Prefix", "")
            serialized.append(ET.tostring(rule, encoding="unicode"))
        bucket.lifecycle_rules = serialized
        return OssResponse()

    def get_bucket_lifecycle(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        if not bucket.lifecycle_rules:
            raise ApiError(404, "NoSuchLifecycle", "No Row found in Lifecycle Table.")
        root = ET.Element("LifecycleConfiguration")
        for rule in bucket.lifecycle_rules:
            root.append(ET.fromstring(rule))
        return _xml(root)

    def delete_bucket_lifecycle(self, request: OssRequest) -> OssResponse:
        self._bucket(request).lifecycle_rules = None
        return OssResponse(204)

    # ----------------------------------------------------------------- policy

    def validate_policy(self, bucket: Bucket, body: bytes) -> None:
        def fail(reason: str, ec: str = "") -> ApiError:
            extra = {"EC": ec} if ec else {}
            return ApiError(400, "InvalidPolicyDocument", f"Invalid Policy: {reason}", **extra)

        if len(body) > 16 * 1024:
            raise fail("the policy is larger than 16 KB")
        try:
            policy = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise fail("the policy is not valid JSON") from None
        if not isinstance(policy, dict):
            raise fail("the policy must be a JSON object")
        if policy.get("Version") != "1":
            raise fail('Version must be "1"')
        statements = policy.get("Statement")
        if not isinstance(statements, list) or not statements:
            raise fail("Statement must be a non-empty list")
        account = self.emulator.config.account_id
        for index, statement in enumerate(statements):
            if not isinstance(statement, dict):
                raise fail(f"statement {index} is not an object")
            if statement.get("Effect") not in ("Allow", "Deny"):
                raise fail(f"statement {index}: Effect must be Allow or Deny")
            for element in ("Action", "Principal", "Resource"):
                if element not in statement:
                    raise fail(f"statement {index}: {element} is required")
                value = statement[element]
                values = value if isinstance(value, list) else [value]
                if not all(isinstance(v, str) for v in values):
                    raise fail(
                        f"statement {index}: {element} must be a string or a list of strings"
                    )
                if element != "Principal" and not values:
                    raise fail(f"statement {index}: {element} must not be empty")
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if not all(a.startswith("oss:") for a in actions):
                raise fail(f"statement {index}: actions must start with oss:")
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                parts = resource.split(":", 4)
                if len(parts) != 5 or parts[:2] != ["acs", "oss"]:
                    raise fail(f"statement {index}: {resource} is not an OSS resource")
                if parts[3] not in ("*", account):
                    raise fail(f"statement {index}: {resource} belongs to another account")
                target = parts[4].split("/", 1)[0]
                if not wildcard_match(target, bucket.name):
                    raise fail(f"statement {index}: {resource} is not in bucket {bucket.name}")
            conditions = statement.get("Condition") or {}
            if not isinstance(conditions, dict):
                raise fail(f"statement {index}: Condition must be an object")
            keys = {k.lower() for op in conditions.values() if isinstance(op, dict) for k in op}
            if "acs:sourceip" in keys and "acs:sourcevpc" not in keys:
                raise fail(
                    f"statement {index}: acs:SourceIp needs an acs:SourceVpc condition too",
                    ec="0030-00000008",
                )

    def put_bucket_policy(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        self.validate_policy(bucket, request.body)
        bucket.policy = request.body.decode()
        return OssResponse()

    def get_bucket_policy(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        if bucket.policy is None:
            raise ApiError(404, "NoSuchBucketPolicy", "The bucket policy does not exist.")
        return OssResponse(200, bucket.policy.encode(), {"Content-Type": "application/json"})

    def delete_bucket_policy(self, request: OssRequest) -> OssResponse:
        self._bucket(request).policy = None
        return OssResponse(204)

    # ----------------------------------------------------------------- objects

    def _object_headers(self, bucket: Bucket, obj: OssObject) -> dict[str, str]:
        headers = {
            "Content-Type": obj.content_type,
            "ETag": obj.etag,
            "Last-Modified": http_date(obj.last_modified),
            "Content-MD5": base64.b64encode(
                hashlib.md5(obj.data, usedforsecurity=False).digest()
            ).decode(),
            "x-oss-hash-crc64ecma": str(obj.crc64),
            "x-oss-object-type": "Normal",
            "x-oss-storage-class": bucket.storage_class,
        }
        if bucket.encryption:
            headers["x-oss-server-side-encryption"] = bucket.encryption["SSEAlgorithm"]
        for name, value in obj.metadata.items():
            headers[f"x-oss-meta-{name}"] = value
        return headers

    @staticmethod
    def check_key(key: str) -> None:
        if not key or len(key.encode()) > 1023 or key.startswith(("/", "\\")):
            raise ApiError(400, "InvalidObjectName", "The specified object is not valid.")

    def put_object(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        key = request.key or ""
        self.check_key(key)
        self._check_md5(request)
        acl = request.headers.get("x-oss-object-acl", "default")
        if acl not in (*ACLS, "default"):
            raise ApiError(400, "InvalidArgument", f"no such object access control exists: {acl}")
        metadata = {
            name.lower()[len("x-oss-meta-") :]: request.headers.get(name, "")
            for name in request.headers
            if name.lower().startswith("x-oss-meta-")
        }
        obj = OssObject(
            key=key,
            data=request.body,
            etag=object_etag(request.body),
            content_type=request.headers.get("Content-Type", "application/octet-stream"),
            metadata=metadata,
            acl=acl,
            crc64=crc64ecma(request.body),
        )
        bucket.objects[key] = obj
        headers = {"ETag": obj.etag, "x-oss-hash-crc64ecma": str(obj.crc64)}
        headers["Content-MD5"] = self._object_headers(bucket, obj)["Content-MD5"]
        return OssResponse(200, b"", headers)

    def get_object(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        obj = bucket.objects.get(request.key or "")
        if obj is None:
            raise ApiError(
                404, "NoSuchKey", "The specified key does not exist.", Key=request.key or ""
            )
        headers = self._object_headers(bucket, obj)
        data = obj.data
        status = 200
        range_header = request.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header or "")
        if match and (match.group(1) or match.group(2)):
            size = len(data)
            if match.group(1):
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else size - 1
            else:
                start, end = max(size - int(match.group(2)), 0), size - 1
            if start < size and start <= end:
                end = min(end, size - 1)
                data = data[start : end + 1]
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                headers.pop("x-oss-hash-crc64ecma")
                headers.pop("Content-MD5")
        headers["Content-Length"] = str(len(data))
        return OssResponse(status, data if request.method == "GET" else b"", headers)

    def delete_object(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        bucket.objects.pop(request.key or "", None)
        return OssResponse(204)

    def delete_multiple_objects(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        self._check_md5(request)
        root = _parse_xml(request.body, "Delete")
        quiet = (_text(root, "Quiet") or "false").lower() == "true"
        url = request.query.get("encoding-type") == "url"
        result = ET.Element("DeleteResult")
        if url:
            _sub(result, "EncodingType", "url")
        objects = root.findall("Object")
        if len(objects) > 1000:
            raise ApiError(400, "MalformedXML", "At most 1000 objects can be deleted at once.")
        keys = []
        for element in objects:
            found = element.find("Key")  # raw, not stripped: encoding-type is about the answer
            keys.append(found.text or "" if found is not None else "")
        for key in keys:
            self.check_access(
                request.principal, request.context, bucket.name, "oss:DeleteObject", key
            )
        for key in keys:
            bucket.objects.pop(key, None)
            if not quiet:
                _sub(_sub(result, "Deleted"), "Key", quote(key) if url else key)
        return _xml(result)

    def listing(
        self, bucket: Bucket, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> tuple[list[OssObject], list[str], bool, str]:
        contents: list[OssObject] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        for key in sorted(bucket.objects):
            if not key.startswith(prefix) or key <= after:
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if common in prefixes or common <= after:
                        continue
                    if len(contents) + len(prefixes) >= max_keys:
                        truncated = True
                        break
                    prefixes.append(common)
                    last = common
                    continue
            if len(contents) + len(prefixes) >= max_keys:
                truncated = True
                break
            contents.append(bucket.objects[key])
            last = key
        return contents, prefixes, truncated, last

    @staticmethod
    def max_keys(query: dict[str, str]) -> int:
        raw = query.get("max-keys") or "100"
        if not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ApiError(400, "InvalidArgument", "max-keys must be between 1 and 1000.")
        return int(raw)

    def _list_common(self, request: OssRequest, root: ET.Element, marker_field: str) -> None:
        bucket = self._bucket(request)
        query = request.query
        url = query.get("encoding-type") == "url"

        def enc(value: str) -> str:
            return quote(value) if url else value

        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        max_keys = self.max_keys(request.query)
        if marker_field == "continuation-token":
            after = query.get("start-after", "")
            token = query.get("continuation-token")
            if token:
                after = max(after, base64.urlsafe_b64decode(token.encode()).decode())
        else:
            after = query.get("marker", "")
        contents, prefixes, truncated, last = self.listing(
            bucket, prefix, delimiter, after, max_keys
        )
        _sub(root, "Name", bucket.name)
        _sub(root, "Prefix", enc(prefix))
        if marker_field == "continuation-token":
            if query.get("start-after"):
                _sub(root, "StartAfter", enc(query["start-after"]))
            if query.get("continuation-token"):
                _sub(root, "ContinuationToken", query["continuation-token"])
        else:
            _sub(root, "Marker", enc(after))
        _sub(root, "MaxKeys", max_keys)
        _sub(root, "Delimiter", enc(delimiter))
        if url:
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", truncated)
        if truncated:
            if marker_field == "continuation-token":
                token = base64.urlsafe_b64encode(last.encode()).decode()
                _sub(root, "NextContinuationToken", token)
            else:
                _sub(root, "NextMarker", enc(last))
        if marker_field == "continuation-token":
            _sub(root, "KeyCount", len(contents) + len(prefixes))
        fetch_owner = marker_field != "continuation-token" or query.get("fetch-owner") == "true"
        for obj in contents:
            entry = _sub(root, "Contents")
            _sub(entry, "Key", enc(obj.key))
            _sub(entry, "LastModified", iso_millis(obj.last_modified))
            _sub(entry, "ETag", obj.etag)
            _sub(entry, "Type", "Normal")
            _sub(entry, "Size", len(obj.data))
            _sub(entry, "StorageClass", bucket.storage_class)
            if fetch_owner:
                self.add_owner(entry)
        for common in prefixes:
            _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(common))

    def list_objects_v2(self, request: OssRequest) -> OssResponse:
        root = ET.Element("ListBucketResult")
        self._list_common(request, root, "continuation-token")
        return _xml(root)

    def list_multipart_uploads(self, request: OssRequest) -> OssResponse:
        """The unfinished uploads (made through the S3-compatible data plane), by key and
        initiation time."""
        bucket = self._bucket(request)
        query = request.query
        prefix = query.get("prefix", "")
        key_marker = query.get("key-marker", "")
        upload_marker = query.get("upload-id-marker", "")
        raw_max = query.get("max-uploads") or "1000"
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= 1000:
            raise ApiError(400, "InvalidArgument", "max-uploads must be between 1 and 1000.")
        max_uploads = int(raw_max)
        uploads = sorted(
            (u for u in bucket.uploads.values() if u.key.startswith(prefix)),
            key=lambda u: (u.key, u.initiated, u.upload_id),
        )
        if key_marker:
            uploads = [
                u
                for u in uploads
                if u.key > key_marker or (u.key == key_marker and u.upload_id > upload_marker)
            ]
        page, truncated = uploads[:max_uploads], len(uploads) > max_uploads
        root = ET.Element("ListMultipartUploadsResult")
        _sub(root, "Bucket", bucket.name)
        for name, query_name in (
            ("KeyMarker", "key-marker"),
            ("UploadIdMarker", "upload-id-marker"),
            ("Prefix", "prefix"),
            ("Delimiter", "delimiter"),
        ):
            _sub(root, name, query.get(query_name, ""))
        _sub(root, "NextKeyMarker", page[-1].key if truncated else "")
        _sub(root, "NextUploadIdMarker", page[-1].upload_id if truncated else "")
        _sub(root, "MaxUploads", max_uploads)
        _sub(root, "IsTruncated", truncated)
        for upload in page:
            entry = _sub(root, "Upload")
            _sub(entry, "Key", upload.key)
            _sub(entry, "UploadId", upload.upload_id)
            _sub(entry, "Initiated", iso_millis(upload.initiated))
        return _xml(root)

    def upload_of(self, bucket: Bucket, key: str, upload_id: str) -> MultipartUpload:
        upload = bucket.uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise ApiError(
                404,
                "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the "
                "upload may have been aborted or completed.",
                UploadId=upload_id,
            )
        return upload

    def abort_multipart_upload(self, request: OssRequest) -> OssResponse:
        bucket = self._bucket(request)
        upload = self.upload_of(bucket, request.key or "", request.query.get("uploadId", ""))
        del bucket.uploads[upload.upload_id]
        return OssResponse(204)

    def list_objects(self, request: OssRequest) -> OssResponse:
        root = ET.Element("ListBucketResult")
        self._list_common(request, root, "marker")
        return _xml(root)
