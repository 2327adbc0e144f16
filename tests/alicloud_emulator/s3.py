"""OSS's S3-compatible data plane, as AutoMQ's brokers use it.

AutoMQ talks to OSS through the AWS SDK for Java v2: AWS Signature V4,
virtual-hosted style (``<bucket>.oss-<region>[-internal].aliyuncs.com``), no
path style, Content-MD5 on uploads and no aws-chunked encoding
(AutoMQ 1.7.3 ``s3stream/.../operator/AwsObjectStorage.java`` L149, L266-269,
L302-305, L497-512). This module serves those requests over the buckets, objects
and multipart uploads that the OSS API (``oss.py``) keeps, so an object written
through one API is seen by the other; access is decided by ``OssService.check_access``
(RAM policies, bucket policy with its Conditions, ACL), as for the OSS API.

Operations: PutObject, GetObject (Range), HeadObject, DeleteObject, DeleteObjects
(``POST ?delete``), ListObjectsV2, CopyObject, CreateMultipartUpload, UploadPart,
UploadPartCopy, CompleteMultipartUpload, AbortMultipartUpload, ListParts. Anything
else answers 501 NotImplemented.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from .auth import Principal, verify_sigv4
from .call import CallRecord
from .oss import (
    OssResponse,
    _sub,
    _xml,
    check_content_md5,
    crc64ecma,
    error_response,
    http_date,
    object_etag,
)
from .policy import RequestContext
from .state import Bucket, MultipartUpload, OssObject, UploadPart
from .util import ApiError, iso_millis

if TYPE_CHECKING:
    from .server import Emulator, _Handler

LOG = logging.getLogger("alicloud_emulator")

HOST_RE = re.compile(
    r"^(?:(?P<bucket>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.)?"
    r"oss-(?P<region>[a-z0-9-]+?)(?P<internal>-internal)?\.aliyuncs\.com$"
)
# OSS: every part but the last must be at least 100 KB, checked by CompleteMultipartUpload
# (https://help.aliyun.com/en/oss/user-guide/0042-00000213).
MIN_PART_SIZE = 100 * 1024
MAX_PART_NUMBER = 10000
MAX_DELETE_KEYS = 1000
# What AWS's flexible checksums add; the emulator does not verify them, so it refuses them
# (AutoMQ sends Content-MD5 unless checksumAlgorithm is set: AwsObjectStorage.java L266-269).
CHECKSUM_HEADERS = (
    "x-amz-sdk-checksum-algorithm",
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-crc64nvme",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-trailer",
)


@dataclass(frozen=True)
class VirtualHost:
    bucket: str | None  # None: the bare endpoint
    region: str
    internal: bool

    @property
    def endpoint(self) -> str:
        return f"oss-{self.region}{'-internal' if self.internal else ''}.aliyuncs.com"

    def signing_regions(self) -> set[str]:
        """What the credential scope may name. OSS documents none; the emulator takes
        ``oss-<region>`` (AutoMQ's documented Aliyun URI, ``topo.yaml`` L7), ``<region>``
        (Alibaba's AWS SDK examples) and ``us-east-1`` (``Region.AWS_GLOBAL`` in Alibaba's
        Java v2 example; the scope of OSS's own SigV4 error examples) -- see README."""
        return {f"oss-{self.region}", self.region, "us-east-1"}


def parse_host(host: str) -> VirtualHost | None:
    name = host.strip().lower()
    if name.startswith("["):
        return None
    name = name.rsplit(":", 1)[0] if ":" in name else name
    match = HOST_RE.match(name)
    if match is None:
        return None
    return VirtualHost(match.group("bucket"), match.group("region"), bool(match.group("internal")))


@dataclass
class S3Request:
    method: str
    host: VirtualHost
    bucket: str
    key: str  # "" for the bucket itself
    query: dict[str, str]
    headers: Any
    body: bytes
    principal: Principal | None
    context: RequestContext


def request_context(context: RequestContext, host: VirtualHost) -> RequestContext:
    """A request to the public endpoint crosses the Internet even from an instance in a
    VPC (through an EIP or a NAT gateway), so it carries no ``acs:SourceVpc``: only the
    ``-internal`` endpoint tells OSS the VPC a request comes from."""
    return context if host.internal else replace(context, source_vpc=None)


def _local(tag: str) -> str:
    """An element's name without its namespace (AWS SDKs send S3's namespace)."""
    return tag.rsplit("}", 1)[-1]


def _parse(body: bytes, root_name: str) -> ET.Element:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise ApiError(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    if _local(root.tag) != root_name:
        raise ApiError(400, "MalformedXML", f"The XML root element must be {root_name}.")
    return root


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _child_text(element: ET.Element, name: str) -> str | None:
    found = _children(element, name)
    return None if not found else found[0].text or ""


def _metadata(headers: Any) -> dict[str, str]:
    return {
        name.lower()[len("x-amz-meta-") :]: headers.get(name, "")
        for name in headers
        if name.lower().startswith("x-amz-meta-")
    }


def _parse_byte_range(value: str, size: int) -> tuple[int, int] | None:
    """``bytes=first-last`` (inclusive), ``bytes=first-`` or ``bytes=-suffix``."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not match or not (match.group(1) or match.group(2)):
        return None
    if match.group(1):
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else size - 1
    else:
        start, end = max(size - int(match.group(2)), 0), size - 1
    if start >= size or start > end:
        return None
    return start, min(end, size - 1)


class S3Service:
    """Serves the data plane's requests; the handlers run under the emulator's lock."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    # ----------------------------------------------------------------- HTTP

    def handle(self, handler: _Handler) -> None:
        body = handler.read_body()
        request_id = secrets.token_hex(12).upper()
        headers = handler.headers
        host_header = headers.get("Host", "")
        split = urlsplit(handler.path)
        query = {
            unquote(k): unquote(v)
            for k, _, v in (p.partition("=") for p in split.query.split("&") if p)
        }
        op, code, bucket_name, key = "", "", "", ""
        try:
            host = parse_host(host_header)
            if host is None:
                raise ApiError(
                    400,
                    "InvalidRequest",
                    "The emulator's OSS data plane serves <bucket>.oss-<region>.aliyuncs.com and "
                    f"<bucket>.oss-<region>-internal.aliyuncs.com, not Host {host_header!r}.",
                )
            if host.bucket is None:
                if split.path not in ("", "/"):
                    raise ApiError(
                        403,
                        "SecondLevelDomainForbidden",
                        "Please use virtual hosted style to access.",
                    )
                raise ApiError(
                    501, "NotImplemented", "The emulator's data plane does not list buckets."
                )
            bucket_name = host.bucket
            key = unquote(split.path)[1:]
            principal: Principal | None = None
            if "X-Amz-Signature" in query or "X-Amz-Credential" in query:
                raise ApiError(403, "AccessDenied", "The emulator does not accept presigned URLs.")
            if headers.get("Authorization"):
                principal = verify_sigv4(
                    handler.command,
                    split.path,
                    split.query,
                    headers,
                    body,
                    self.emulator.lookup_key,
                    host.signing_regions(),
                )
            request = S3Request(
                handler.command,
                host,
                bucket_name,
                key,
                query,
                headers,
                body,
                principal,
                request_context(handler.context(), host),
            )
            op, function = self.operation(request)
            with self.emulator.lock:
                fault = self.emulator.take_fault("s3", op)
                if fault is not None:
                    raise ApiError(fault.status, fault.code, fault.message)
                response = function(request)
        except ApiError as error:
            code = error.code
            response = error_response(
                error, handler.command, host_header, bucket_name or None, request_id
            )
        except Exception as error:
            LOG.exception("S3 %s failed", op)
            code = "InternalError"
            response = error_response(
                ApiError(500, "InternalError", f"The emulator failed: {error!r}"),
                handler.command,
                host_header,
                bucket_name or None,
                request_id,
            )
        LOG.info("S3 %s %s/%s -> %s", op or handler.command, bucket_name, key, response.status)
        self.emulator.record(
            CallRecord(
                "s3",
                op or handler.command,
                dict(query, bucket=bucket_name, key=key),
                response.status,
                code,
                None,
            )
        )
        handler.send(
            response.status,
            response.body,
            {
                "Server": "AliyunOSS",
                "Date": formatdate(usegmt=True),
                "x-oss-request-id": request_id,
                **response.headers,
            },
        )

    def operation(self, request: S3Request) -> tuple[str, Callable[[S3Request], OssResponse]]:
        method, query, headers = request.method, request.query, request.headers
        if not request.key:
            if method == "GET" and query.get("list-type") == "2":
                return "ListObjectsV2", self.list_objects_v2
            if method == "POST" and "delete" in query:
                return "DeleteObjects", self.delete_objects
            raise ApiError(
                501,
                "NotImplemented",
                "The emulator's data plane implements ListObjectsV2 and DeleteObjects on buckets.",
            )
        if method == "PUT" and "uploadId" in query:
            if headers.get("x-amz-copy-source"):
                return "UploadPartCopy", self.upload_part_copy
            return "UploadPart", self.upload_part
        if method == "POST" and "uploads" in query:
            return "CreateMultipartUpload", self.create_multipart_upload
        if method == "POST" and "uploadId" in query:
            return "CompleteMultipartUpload", self.complete_multipart_upload
        if method == "DELETE" and "uploadId" in query:
            return "AbortMultipartUpload", self.abort_multipart_upload
        if method == "GET" and "uploadId" in query:
            return "ListParts", self.list_parts
        others = sorted(set(query) - {"partNumber", "x-id"})
        if others:
            raise ApiError(
                501, "NotImplemented", f"The emulator's data plane does not implement ?{others[0]}."
            )
        if method == "PUT":
            if headers.get("x-amz-copy-source"):
                return "CopyObject", self.copy_object
            return "PutObject", self.put_object
        if method == "GET":
            return "GetObject", self.get_object
        if method == "HEAD":
            return "HeadObject", self.get_object
        if method == "DELETE":
            return "DeleteObject", self.delete_object
        raise ApiError(405, "MethodNotAllowed", "The specified method is not allowed.")

    # ----------------------------------------------------------------- helpers

    def _bucket(self, request: S3Request, name: str | None = None) -> Bucket:
        name = name or request.bucket
        bucket = self.emulator.state.buckets.get(name)
        if bucket is None:
            raise ApiError(404, "NoSuchBucket", "The specified bucket does not exist.")
        if bucket.region != request.host.region:
            endpoint = f"oss-{bucket.region}{'-internal' if request.host.internal else ''}"
            raise ApiError(
                403,
                "AccessDenied",
                "The bucket you are attempting to access must be addressed using the specified "
                "endpoint. Please send all future requests to this endpoint.",
                Bucket=name,
                Endpoint=f"{endpoint}.aliyuncs.com",
            )
        return bucket

    def _allow(self, request: S3Request, action: str, key: str | None, bucket: str = "") -> None:
        self.emulator.oss.check_access(
            request.principal, request.context, bucket or request.bucket, action, key
        )

    @staticmethod
    def _refuse_checksums(request: S3Request) -> None:
        for name in CHECKSUM_HEADERS:
            if request.headers.get(name) is not None:
                raise ApiError(
                    501,
                    "NotImplemented",
                    f"The emulator does not verify {name}; send Content-MD5 (AutoMQ does "
                    "without a checksumAlgorithm).",
                )

    def _object(self, bucket: Bucket, key: str) -> OssObject:
        obj = bucket.objects.get(key)
        if obj is None:
            raise ApiError(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        return obj

    def _copy_source(self, request: S3Request) -> tuple[Bucket, OssObject]:
        """``x-amz-copy-source``: ``[/]bucket/key``, URL-encoded; read access to it needed."""
        raw = request.headers.get("x-amz-copy-source", "")
        source, _, version = raw.partition("?")
        if version:
            raise ApiError(501, "NotImplemented", "The emulator keeps no object versions.")
        bucket_name, _, key = unquote(source).lstrip("/").partition("/")
        if not bucket_name or not key:
            raise ApiError(
                400,
                "InvalidArgument",
                "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.",
                ArgumentName="x-amz-copy-source",
                ArgumentValue=raw,
            )
        bucket = self._bucket(request, bucket_name)
        self._allow(request, "oss:GetObject", key, bucket_name)
        return bucket, self._object(bucket, key)

    def _object_headers(self, bucket: Bucket, obj: OssObject) -> dict[str, str]:
        headers = {
            "Content-Type": obj.content_type,
            "ETag": obj.etag,
            "Last-Modified": http_date(obj.last_modified),
            "Accept-Ranges": "bytes",
            "x-oss-hash-crc64ecma": str(obj.crc64),
            "x-oss-object-type": "Multipart" if "-" in obj.etag else "Normal",
            "x-oss-storage-class": bucket.storage_class,
        }
        for name, value in obj.metadata.items():
            headers[f"x-amz-meta-{name}"] = value
        return headers

    @staticmethod
    def _store(
        bucket: Bucket,
        key: str,
        data: bytes,
        etag: str,
        content_type: str,
        metadata: dict[str, str],
    ) -> OssObject:
        obj = OssObject(
            key=key,
            data=data,
            etag=etag,
            content_type=content_type,
            metadata=metadata,
            acl="default",
            crc64=crc64ecma(data),
        )
        bucket.objects[key] = obj
        return obj

    # ----------------------------------------------------------------- objects

    def put_object(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self.emulator.oss.check_key(request.key)
        self._allow(request, "oss:PutObject", request.key)
        self._refuse_checksums(request)
        check_content_md5(request.headers, request.body)
        obj = self._store(
            bucket,
            request.key,
            request.body,
            object_etag(request.body),
            request.headers.get("Content-Type", "application/octet-stream"),
            _metadata(request.headers),
        )
        return OssResponse(200, b"", {"ETag": obj.etag, "x-oss-hash-crc64ecma": str(obj.crc64)})

    def get_object(self, request: S3Request) -> OssResponse:
        """GetObject and HeadObject; an invalid Range gets the whole object, as OSS does."""
        bucket = self._bucket(request)
        self._allow(request, "oss:GetObject", request.key)
        obj = self._object(bucket, request.key)
        headers = self._object_headers(bucket, obj)
        data, status = obj.data, 200
        byte_range = _parse_byte_range(request.headers.get("Range") or "", len(data))
        if byte_range is not None:
            start, end = byte_range
            data, status = data[start : end + 1], 206
            headers["Content-Range"] = f"bytes {start}-{end}/{len(obj.data)}"
            headers.pop("x-oss-hash-crc64ecma")
        headers["Content-Length"] = str(len(data))
        return OssResponse(status, data if request.method == "GET" else b"", headers)

    def delete_object(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self._allow(request, "oss:DeleteObject", request.key)
        bucket.objects.pop(request.key, None)
        return OssResponse(204)

    def delete_objects(self, request: S3Request) -> OssResponse:
        """Every key needs oss:DeleteObject; one refused key refuses the whole request."""
        bucket = self._bucket(request)
        if request.headers.get("Content-MD5") is None:
            raise ApiError(
                400, "InvalidRequest", "Missing required header for this request: Content-MD5"
            )
        self._refuse_checksums(request)
        check_content_md5(request.headers, request.body)
        root = _parse(request.body, "Delete")
        quiet = (_child_text(root, "Quiet") or "false").strip().lower() == "true"
        keys = [_child_text(entry, "Key") or "" for entry in _children(root, "Object")]
        if not keys or len(keys) > MAX_DELETE_KEYS:
            raise ApiError(
                400, "MalformedXML", f"Delete 1 to {MAX_DELETE_KEYS} objects in one request."
            )
        for key in keys:
            self._allow(request, "oss:DeleteObject", key)
        result = ET.Element("DeleteResult")
        for key in keys:
            bucket.objects.pop(key, None)
            if not quiet:
                _sub(_sub(result, "Deleted"), "Key", key)
        return _xml(result)

    def list_objects_v2(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self._allow(request, "oss:ListObjects", None)
        query = request.query
        url = query.get("encoding-type") == "url"
        if query.get("encoding-type") not in (None, "url"):
            raise ApiError(400, "InvalidArgument", "encoding-type must be url.")

        def enc(value: str) -> str:
            return quote(value, safe="/") if url else value

        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        start_after = query.get("start-after", "")
        token = query.get("continuation-token")
        after = start_after
        if token is not None:
            try:
                decoded = base64.b64decode(token.encode(), altchars=b"-_", validate=True)
                after = max(after, decoded.decode())
            except (ValueError, UnicodeDecodeError):
                raise ApiError(
                    400, "InvalidArgument", "The continuation token provided is incorrect."
                ) from None
        max_keys = self.emulator.oss.max_keys(query)
        contents, prefixes, truncated, last = self.emulator.oss.listing(
            bucket, prefix, delimiter, after, max_keys
        )
        root = ET.Element("ListBucketResult")
        _sub(root, "Name", bucket.name)
        _sub(root, "Prefix", enc(prefix))
        if start_after:
            _sub(root, "StartAfter", enc(start_after))
        if token is not None:
            _sub(root, "ContinuationToken", token)
        _sub(root, "MaxKeys", max_keys)
        if delimiter:
            _sub(root, "Delimiter", enc(delimiter))
        if url:
            _sub(root, "EncodingType", "url")
        _sub(root, "IsTruncated", truncated)
        if truncated:
            _sub(root, "NextContinuationToken", base64.urlsafe_b64encode(last.encode()).decode())
        _sub(root, "KeyCount", len(contents) + len(prefixes))
        for obj in contents:
            entry = _sub(root, "Contents")
            _sub(entry, "Key", enc(obj.key))
            _sub(entry, "LastModified", iso_millis(obj.last_modified))
            _sub(entry, "ETag", obj.etag)
            _sub(entry, "Size", len(obj.data))
            _sub(entry, "StorageClass", bucket.storage_class)
            if query.get("fetch-owner") == "true":
                self.emulator.oss.add_owner(entry)
        for common in prefixes:
            _sub(_sub(root, "CommonPrefixes"), "Prefix", enc(common))
        return _xml(root)

    def copy_object(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self.emulator.oss.check_key(request.key)
        _, source = self._copy_source(request)
        self._allow(request, "oss:PutObject", request.key)
        directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise ApiError(400, "InvalidArgument", "Unknown metadata directive.")
        if directive == "COPY":
            content_type, metadata = source.content_type, dict(source.metadata)
        else:
            content_type = request.headers.get("Content-Type", "application/octet-stream")
            metadata = _metadata(request.headers)
        obj = self._store(bucket, request.key, source.data, source.etag, content_type, metadata)
        root = ET.Element("CopyObjectResult")
        _sub(root, "LastModified", iso_millis(obj.last_modified))
        _sub(root, "ETag", obj.etag)
        return _xml(root)

    # ----------------------------------------------------------------- multipart uploads

    def _upload(self, request: S3Request, bucket: Bucket) -> MultipartUpload:
        return self.emulator.oss.upload_of(bucket, request.key, request.query.get("uploadId", ""))

    @staticmethod
    def _part_number(request: S3Request) -> int:
        raw = request.query.get("partNumber", "")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
            raise ApiError(
                400,
                "InvalidArgument",
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive.",
                ArgumentName="partNumber",
                ArgumentValue=raw,
            )
        return int(raw)

    def create_multipart_upload(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self.emulator.oss.check_key(request.key)
        self._allow(request, "oss:PutObject", request.key)
        self._refuse_checksums(request)
        upload = MultipartUpload(
            upload_id=secrets.token_hex(16).upper(),
            key=request.key,
            content_type=request.headers.get("Content-Type", "application/octet-stream"),
            metadata=_metadata(request.headers),
        )
        bucket.uploads[upload.upload_id] = upload
        root = ET.Element("InitiateMultipartUploadResult")
        _sub(root, "Bucket", bucket.name)
        _sub(root, "Key", upload.key)
        _sub(root, "UploadId", upload.upload_id)
        return _xml(root)

    def _put_part(self, upload: MultipartUpload, number: int, data: bytes) -> UploadPart:
        part = UploadPart(number, data, object_etag(data))
        upload.parts[number] = part
        return part

    def upload_part(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self._allow(request, "oss:PutObject", request.key)
        number = self._part_number(request)
        upload = self._upload(request, bucket)
        self._refuse_checksums(request)
        check_content_md5(request.headers, request.body)
        part = self._put_part(upload, number, request.body)
        return OssResponse(200, b"", {"ETag": part.etag})

    def upload_part_copy(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self._allow(request, "oss:PutObject", request.key)
        number = self._part_number(request)
        upload = self._upload(request, bucket)
        _, source = self._copy_source(request)
        data = source.data
        raw_range = request.headers.get("x-amz-copy-source-range")
        if raw_range is not None:
            match = re.fullmatch(r"bytes=(\d+)-(\d+)", raw_range.strip())
            if match is None or not int(match[1]) <= int(match[2]) < len(data):
                raise ApiError(
                    400,
                    "InvalidArgument",
                    "The x-amz-copy-source-range value must be of the form bytes=first-last, "
                    f"within the source object of size {len(data)}.",
                    ArgumentName="x-amz-copy-source-range",
                    ArgumentValue=raw_range,
                )
            data = data[int(match[1]) : int(match[2]) + 1]
        part = self._put_part(upload, number, data)
        root = ET.Element("CopyPartResult")
        _sub(root, "LastModified", iso_millis(part.last_modified))
        _sub(root, "ETag", part.etag)
        return _xml(root)

    def complete_multipart_upload(self, request: S3Request) -> OssResponse:
        """Parts listed in ascending order, each uploaded with that ETag, each but the last
        at least 100 KB; the object's ETag is OSS's ``MD5(part MD5s)-<count>``."""
        bucket = self._bucket(request)
        self._allow(request, "oss:PutObject", request.key)
        upload = self._upload(request, bucket)
        root = _parse(request.body, "CompleteMultipartUpload")
        listed: list[tuple[int, str]] = []
        for entry in _children(root, "Part"):
            raw_number, raw_etag = _child_text(entry, "PartNumber"), _child_text(entry, "ETag")
            if raw_number is None or not raw_number.strip().isdigit() or raw_etag is None:
                raise ApiError(400, "MalformedXML", "Each Part needs a PartNumber and an ETag.")
            listed.append((int(raw_number), raw_etag.strip().strip('"').upper()))
        if not listed:
            raise ApiError(400, "MalformedXML", "The XML lists no parts.")
        numbers = [number for number, _ in listed]
        if numbers != sorted(set(numbers)):
            raise ApiError(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        parts = []
        for number, etag in listed:
            part = upload.parts.get(number)
            if part is None or part.etag.strip('"').upper() != etag:
                raise ApiError(
                    400,
                    "InvalidPart",
                    "One or more of the specified parts could not be found or the specified "
                    "entity tag might not have matched the part's entity tag.",
                    PartNumber=str(number),
                    ETag=etag,
                )
            parts.append(part)
        for part in parts[:-1]:
            if len(part.data) < MIN_PART_SIZE:
                raise ApiError(
                    400,
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed size: every "
                    "part but the last must be at least 100 KB.",
                    PartNumber=str(part.number),
                    EC="0042-00000213",
                )
        digests = b"".join(bytes.fromhex(part.etag.strip('"')) for part in parts)
        etag = f'"{hashlib.md5(digests, usedforsecurity=False).hexdigest().upper()}-{len(parts)}"'
        data = b"".join(part.data for part in parts)
        self._store(bucket, request.key, data, etag, upload.content_type, dict(upload.metadata))
        del bucket.uploads[upload.upload_id]
        result = ET.Element("CompleteMultipartUploadResult")
        _sub(
            result,
            "Location",
            f"https://{bucket.name}.{request.host.endpoint}/{quote(request.key)}",
        )
        _sub(result, "Bucket", bucket.name)
        _sub(result, "Key", request.key)
        _sub(result, "ETag", etag)
        return _xml(result)

    def abort_multipart_upload(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self._allow(request, "oss:AbortMultipartUpload", request.key)
        upload = self._upload(request, bucket)
        del bucket.uploads[upload.upload_id]
        return OssResponse(204)

    def list_parts(self, request: S3Request) -> OssResponse:
        bucket = self._bucket(request)
        self._allow(request, "oss:ListParts", request.key)
        upload = self._upload(request, bucket)
        raw_max = request.query.get("max-parts") or "1000"
        raw_marker = request.query.get("part-number-marker") or "0"
        if not raw_max.isdigit() or not 1 <= int(raw_max) <= 1000 or not raw_marker.isdigit():
            raise ApiError(400, "InvalidArgument", "max-parts must be between 1 and 1000.")
        max_parts, marker = int(raw_max), int(raw_marker)
        numbers = sorted(n for n in upload.parts if n > marker)
        page, truncated = numbers[:max_parts], len(numbers) > max_parts
        root = ET.Element("ListPartsResult")
        _sub(root, "Bucket", bucket.name)
        _sub(root, "Key", upload.key)
        _sub(root, "UploadId", upload.upload_id)
        _sub(root, "PartNumberMarker", marker)
        _sub(root, "NextPartNumberMarker", page[-1] if page else marker)
        _sub(root, "MaxParts", max_parts)
        _sub(root, "IsTruncated", truncated)
        _sub(root, "StorageClass", bucket.storage_class)
        for number in page:
            part = upload.parts[number]
            entry = _sub(root, "Part")
            _sub(entry, "PartNumber", number)
            _sub(entry, "LastModified", iso_millis(part.last_modified))
            _sub(entry, "ETag", part.etag)
            _sub(entry, "Size", len(part.data))
        return _xml(root)
