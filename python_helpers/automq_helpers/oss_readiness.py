"""Prove from a node that AutoMQ can use its OSS buckets, before AutoMQ first starts.

AutoMQ checks its buckets when it starts and refuses to start with "... is not ready"
(AutoMQ 1.7.3 ``DefaultS3Client.java:132-134``), which an installer only sees as a
health timeout.  This module runs the same kind of check from the node, with the
node's own ``server.properties`` and ``credentials.env``, and names the bucket, the
failing step, the HTTP status, the OSS/S3 error code and the likely fix.

AutoMQ's readiness check (``AwsObjectStorage.java:673-750`` at 1.7.3): HEAD of a probe
key under ``__automq/readiness_check/`` expecting 404 (403 stops), PUT with Content-MD5,
DeleteObjects, multipart create/upload part/complete, ranged GET and compare,
DeleteObjects.  This check does the same and also reads the object back and lists its
prefix (AutoMQ lists objects, ``doList``), then lists the prefix again to prove that
everything it wrote is gone.  Its keys are under ``__automq/readiness_check/installer/
<probe name>/<time_ns>/``, so concurrent nodes never collide and nothing of AutoMQ's
own is touched.

Requests are what AutoMQ's AWS SDK sends to OSS: Signature V4 (service ``s3``, the
signing region is the URI's ``region=``, e.g. ``oss-cn-hangzhou``), virtual-hosted
addressing ``https://<bucket>.<endpoint host>/<key>`` unless the URI says
``pathStyle=true`` (``AwsObjectStorage.java:149,511``), and Content-MD5 on uploads
(L266-269, L302-306).  Unlike the SDK, the payload hash is always signed (never
``UNSIGNED-PAYLOAD``).

Layers: pure functions (signer, bucket URI, environment file and error parsing,
diagnosis) and :class:`ReadinessCheck`, which runs the steps over an injected
:data:`Transport`; :class:`HttpClientTransport` is the real one (``http.client``, TLS
with the system trust store, hostname verification, no proxies).

Nothing this module returns or raises contains the AccessKey secret, a session token,
a signature or an Authorization header: :class:`Redactor` scrubs every string of a
report as a second line of defence.

Runs on the cluster hosts (Python 3.8+, standard library only).
"""

# The hosts may only have Python 3.8, although ruff targets 3.11: keep typing.List & co.
# (UP006/UP035/UP045), catch socket.timeout, which only became TimeoutError in 3.10
# (UP041), and use datetime.timezone.utc, as datetime.UTC is 3.11+ (UP017).
# ruff: noqa: UP006, UP017, UP035, UP041, UP045

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import http.client
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, unquote_plus, urlsplit

from .properties import parse_properties

# --------------------------------------------------------------------------- constants

SERVICE = "s3"
ALGORITHM = "AWS4-HMAC-SHA256"
PROBE_ROOT = "__automq/readiness_check/installer/"
DEFAULT_TIMEOUT = 10.0
# Error and listing bodies are small; an endless body is not S3.
MAX_RESPONSE_BYTES = 1024 * 1024
# Size of the object written by multipart upload, and the slice read back by range.
MULTIPART_SIZE = 1024
RANGE_FIRST, RANGE_LAST = 100, 899

# Where AutoMQ reads its buckets from (AutoMQConfig.java:63-73 at 1.7.3).
BUCKET_PROPERTIES = (
    ("s3.data.buckets", "data", True),
    ("s3.ops.buckets", "ops", True),
    ("s3.wal.path", "wal", False),
)

# RAM action each step needs (OSS's authorization of the S3-compatible API).
STEP_ACTIONS: Dict[str, str] = {
    "head": "oss:GetObject",
    "head_diagnosis": "oss:GetObject",
    "put": "oss:PutObject",
    "get": "oss:GetObject",
    "list": "oss:ListObjects",
    "multipart_create": "oss:PutObject",
    "multipart_upload_part": "oss:PutObject",
    "multipart_complete": "oss:PutObject",
    "ranged_get": "oss:GetObject",
    "delete": "oss:DeleteObject",
    "cleanup_delete": "oss:DeleteObject",
    "verify_deleted": "oss:ListObjects",
    "abort_multipart": "oss:AbortMultipartUpload",
}

# S3 and OSS name the elements of their error documents alike; these are the only ones
# reported (a SignatureDoesNotMatch document also carries the signature and the string
# to sign, which are never read).
_ERROR_FIELDS = ("Code", "Message", "RequestId", "HostId", "EC", "RecommendDoc", "Endpoint")
_FIELD_LIMIT = 400

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# AutoMQ's own patterns (URIUtils.java:38-39 at 1.7.3).
_URI_LIST_PATTERN = re.compile(r"-?\d+@.*?(?=,-?\d+@|$)")
_URI_PATTERN = re.compile(r"(-?\d+)@(.+)")
_PROBE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class ReadinessError(Exception):
    """The check could not be set up (unreadable configuration, missing credentials)."""


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Credentials:
    """An AccessKey; the secret and the token never appear in repr()."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(default="", repr=False)
    source: str = ""


def parse_environment_file(text: str) -> Dict[str, str]:
    """Parse a systemd ``EnvironmentFile=`` of ``NAME=value`` lines.

    ``#`` and ``;`` start comments; a value may be wrapped in single or double quotes
    (in double quotes, a backslash escapes the next character).  Errors name the line
    but never repeat its text, which may hold a secret.
    """
    result: Dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            raise ValueError(f"line {number}: continuation lines are not supported")
        name, separator, value = line.partition("=")
        name = name.strip()
        if not separator or not _ENV_NAME.match(name):
            raise ValueError(f"line {number}: expected NAME=value")
        result[name] = _unquote_env_value(value.strip(), number)
    return result


def _unquote_env_value(value: str, number: int) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        if value[0] == "'":
            return inner
        return re.sub(r"\\(.)", r"\1", inner)
    if value[:1] in ("'", '"'):
        raise ValueError(f"line {number}: unterminated quote")
    return value


def resolve_credentials(
    uri: BucketUri, environment: Mapping[str, str], environment_source: str
) -> Credentials:
    """The AccessKey AutoMQ would use for ``uri`` with ``environment`` as its environment.

    AutoMQ's chain (``AwsObjectStorage.java`` ``credentialsProviders0``,
    ``AutoMQStaticCredentialsProvider.java:11-19`` at 1.7.3): the URI's ``accessKey``
    and ``secretKey``, each defaulting to ``KAFKA_S3_ACCESS_KEY`` / ``KAFKA_S3_SECRET_KEY``;
    then the AWS default chain, of which only the environment (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) exists on an ECS host.
    """
    access = uri.extension_string("accessKey", environment.get("KAFKA_S3_ACCESS_KEY"))
    secret = uri.extension_string("secretKey", environment.get("KAFKA_S3_SECRET_KEY"))
    if access and access.strip() and secret and secret.strip():
        where = "the bucket URI" if uri.extension_string("accessKey") else environment_source
        return Credentials(access, secret, source=where)
    access = environment.get("AWS_ACCESS_KEY_ID", "")
    secret = environment.get("AWS_SECRET_ACCESS_KEY", "")
    if access.strip() and secret.strip():
        return Credentials(
            access,
            secret,
            session_token=environment.get("AWS_SESSION_TOKEN", ""),
            source=environment_source,
        )
    raise ReadinessError(
        f"no AccessKey for bucket {uri.bucket}: {environment_source} sets neither "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY nor KAFKA_S3_ACCESS_KEY and "
        "KAFKA_S3_SECRET_KEY (set automq_oss_access_key_id and automq_oss_access_key_secret)"
    )


# --------------------------------------------------------------------------- bucket URIs


@dataclass(frozen=True)
class BucketUri:
    """One ``<id>@<protocol>://<bucket>?region=..&endpoint=..`` entry, parsed as AutoMQ does."""

    bucket_id: int
    protocol: str
    bucket: str
    region: str
    endpoint: str
    # May hold secretKey: never in repr().
    extension: Mapping[str, Tuple[Optional[str], ...]] = field(repr=False, compare=False)

    def extension_string(self, key: str, default: Optional[str] = None) -> Optional[str]:
        values = self.extension.get(key)
        if values is None:
            return default
        if len(values) > 1:
            raise ValueError(f"bucket {self.bucket}: expected one value for {key!r}")
        return values[0]

    @property
    def path_style(self) -> bool:
        # Boolean.parseBoolean, blank = default false (BucketURI.java:145-151).
        return (self.extension_string("pathStyle") or "").strip().lower() == "true"


def _split_query(raw_query: str) -> Dict[str, Tuple[Optional[str], ...]]:
    """URIUtils.splitQuery (1.7.3 L77-93): '&' pairs, URLDecoder (so '+' is a space)."""
    pairs: Dict[str, List[Optional[str]]] = {}
    if not raw_query.strip():
        return {}
    for pair in raw_query.split("&"):
        index = pair.find("=")
        key = unquote_plus(pair[:index]) if index > 0 else pair
        value = unquote_plus(pair[index + 1 :]) if 0 < index < len(pair) - 1 else None
        pairs.setdefault(key, []).append(value)
    return {key: tuple(values) for key, values in pairs.items()}


def parse_bucket_uri(text: str) -> BucketUri:
    """Parse one bucket URI (BucketURI.parse, 1.7.3 L64-89)."""
    match = _URI_PATTERN.search(text)
    if not match:
        raise ValueError("expected <id>@s3://<bucket>?region=...&endpoint=...")
    bucket_id = int(match.group(1))
    if not -(2**15) <= bucket_id < 2**15:
        raise ValueError(f"bucket id {bucket_id} is out of range")
    rest = match.group(2).strip()
    protocol, colon, specific = rest.partition(":")
    if not colon or not re.match(r"[A-Za-z][A-Za-z0-9+.-]*\Z", protocol):
        raise ValueError("expected <id>@s3://<bucket>?region=...&endpoint=...")
    specific = specific.partition("#")[0]
    path, _separator, raw_query = specific.partition("?")
    if not path.startswith("//") or len(path) == 2:
        raise ValueError(f"expected {protocol}://<bucket> after '{bucket_id}@'")
    query = _split_query(raw_query)
    endpoint = _single(query, "endpoint")
    region = _single(query, "region")
    extension = {key: values for key, values in query.items() if key not in ("endpoint", "region")}
    return BucketUri(bucket_id, protocol, path[2:], region, endpoint, extension)


def _single(query: Mapping[str, Tuple[Optional[str], ...]], key: str) -> str:
    values = query.get(key, ("",))
    if len(values) > 1:
        raise ValueError(f"expected one value for {key!r}")
    return values[0] or ""


def parse_bucket_uri_list(text: str) -> List[BucketUri]:
    """Parse a comma-separated list of bucket URIs (URIUtils.parseIdURIList)."""
    if not text.strip():
        return []
    return [parse_bucket_uri(match.group(0)) for match in _URI_LIST_PATTERN.finditer(text)]


@dataclass(frozen=True)
class Endpoint:
    """Where requests for one bucket go, as the SDK derives it from the endpoint override."""

    scheme: str
    host: str  # the name resolved, sent in SNI and checked against the certificate
    port: int
    host_header: str  # the Host header, also signed
    path_prefix: str  # "" (virtual-hosted) or "/<bucket>" (path-style)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.path_prefix}/"


def bucket_endpoint(uri: BucketUri) -> Endpoint:
    """The URL of ``uri``'s bucket: ``<scheme>://<bucket>.<endpoint host>/`` or path-style."""
    if not uri.endpoint:
        raise ValueError(
            f"bucket {uri.bucket}: the URI has no endpoint=, so AutoMQ would go to AWS S3; "
            "set automq_oss_region (or automq_oss_endpoint)"
        )
    parts = urlsplit(uri.endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"bucket {uri.bucket}: endpoint {uri.endpoint!r} is not an http(s) URL")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(f"bucket {uri.bucket}: endpoint {uri.endpoint!r} must be scheme://host")
    default_port = 443 if parts.scheme == "https" else 80
    port = parts.port or default_port
    if uri.path_style:
        host, prefix = parts.hostname, "/" + uri_encode(uri.bucket)
    else:
        host, prefix = f"{uri.bucket}.{parts.hostname}", ""
    host_header = host if port == default_port else f"{host}:{port}"
    return Endpoint(parts.scheme, host, port, host_header, prefix)


# --------------------------------------------------------------------------- SigV4


def uri_encode(value: str, encode_slash: bool = True) -> str:
    """SigV4 URI encoding: everything but A-Z a-z 0-9 - _ . ~ as %XX of its UTF-8 bytes."""
    return quote(value.encode("utf-8"), safe="-_.~" if encode_slash else "-_.~/")


def canonical_query(query: Iterable[Tuple[str, str]]) -> str:
    """Encoded pairs sorted by encoded name, then encoded value."""
    pairs = sorted((uri_encode(name), uri_encode(value)) for name, value in query)
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_headers(headers: Mapping[str, str]) -> Tuple[str, str]:
    """(canonical header block, signed header list) of all ``headers``."""
    lowered = {name.lower().strip(): " ".join(value.split()) for name, value in headers.items()}
    names = sorted(lowered)
    block = "".join(f"{name}:{lowered[name]}\n" for name in names)
    return block, ";".join(names)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[Tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str,
) -> str:
    """The canonical request; ``path`` is already URI-encoded, as sent (S3: no normalization)."""
    block, signed = canonical_headers(headers)
    return "\n".join([method.upper(), path, canonical_query(query), block, signed, payload_hash])


def string_to_sign(timestamp: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode("utf-8")).hexdigest()
    return "\n".join([ALGORITHM, timestamp, scope, digest])


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sign_headers(
    method: str,
    host_header: str,
    path: str,
    query: Sequence[Tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    now: datetime.datetime,
    service: str = SERVICE,
) -> Dict[str, str]:
    """The headers of a SigV4-signed S3 request: ``headers`` plus Host, X-Amz-Date,
    X-Amz-Content-SHA256 (the body's real hash), X-Amz-Security-Token and Authorization.

    Every header passed is signed.
    """
    timestamp = now.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload_hash = hashlib.sha256(body).hexdigest()
    signed: Dict[str, str] = {"Host": host_header, **headers}
    signed["X-Amz-Date"] = timestamp
    signed["X-Amz-Content-SHA256"] = payload_hash
    if credentials.session_token:
        signed["X-Amz-Security-Token"] = credentials.session_token
    scope = f"{timestamp[:8]}/{region}/{service}/aws4_request"
    request = canonical_request(method, path, query, signed, payload_hash)
    key = signing_key(credentials.secret_access_key, timestamp[:8], region, service)
    signature = hmac.new(
        key, string_to_sign(timestamp, scope, request).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    _canonical, signed_names = canonical_headers(signed)
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature}"
    )
    return signed


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")


# --------------------------------------------------------------------------- transport


@dataclass(frozen=True)
class HttpRequest:
    """One signed request; headers and body stay out of repr() (Authorization)."""

    method: str
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""


class TransportError(Exception):
    """No HTTP response: ``kind`` is dns, refused, timeout, unreachable, certificate, tls
    or connection."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


Transport = Callable[[HttpRequest], HttpResponse]


class HttpClientTransport:
    """``http.client`` over TLS: the system trust store (or ``ca_file`` only), hostname
    verification, SNI with the virtual-hosted name, no proxies, a timeout on each phase.

    ``connect_to`` maps ``(host, port)`` to another address to connect to, keeping the
    name for SNI, the certificate and the Host header (as ``curl --connect-to``); tests
    use it, the module does not.
    """

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        ca_file: Optional[str] = None,
        connect_to: Optional[Mapping[Tuple[str, int], Tuple[str, int]]] = None,
    ) -> None:
        self.timeout = timeout
        self.connect_to = dict(connect_to or {})
        # With a ca_file, only that anchor is trusted (create_default_context loads it
        # instead of the system store).
        self.context = ssl.create_default_context(cafile=ca_file or None)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2

    def __call__(self, request: HttpRequest) -> HttpResponse:
        address = self.connect_to.get((request.host, request.port), (request.host, request.port))
        sock = self._connect(address)
        try:
            if request.scheme == "https":
                sock = self._handshake(sock, request.host)
            return self._exchange(sock, request)
        finally:
            sock.close()

    def _connect(self, address: Tuple[str, int]) -> socket.socket:
        try:
            return socket.create_connection(address, timeout=self.timeout)
        except socket.gaierror as exc:
            raise TransportError("dns", f"cannot resolve {address[0]}: {exc.strerror}") from exc
        except ConnectionRefusedError as exc:
            raise TransportError("refused", f"connection to port {address[1]} refused") from exc
        except socket.timeout as exc:
            raise TransportError(
                "timeout", f"no TCP connection to port {address[1]} within {self.timeout}s"
            ) from exc
        except OSError as exc:
            raise TransportError("unreachable", exc.strerror or str(exc)) from exc

    def _handshake(self, sock: socket.socket, host: str) -> socket.socket:
        try:
            return self.context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise TransportError("certificate", exc.verify_message or str(exc)) from exc
        except socket.timeout as exc:
            sock.close()
            raise TransportError("timeout", f"TLS handshake took over {self.timeout}s") from exc
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise TransportError("tls", getattr(exc, "reason", None) or str(exc)) from exc

    def _exchange(self, sock: socket.socket, request: HttpRequest) -> HttpResponse:
        connection = http.client.HTTPConnection(request.host, request.port, timeout=self.timeout)
        connection.sock = sock  # already connected (and wrapped): connect() is skipped
        try:
            body = request.body if request.body or request.method in ("PUT", "POST") else None
            connection.request(request.method, request.target, body=body, headers=request.headers)
            response = connection.getresponse()
            data = response.read(MAX_RESPONSE_BYTES + 1)
            if len(data) > MAX_RESPONSE_BYTES:
                raise TransportError("connection", "response body over 1 MiB")
            headers: Dict[str, str] = {}
            for name, value in response.getheaders():
                lowered = name.lower()
                headers[lowered] = f"{headers[lowered]}, {value}" if lowered in headers else value
            return HttpResponse(response.status, headers, data)
        except socket.timeout as exc:
            raise TransportError("timeout", f"no response within {self.timeout}s") from exc
        except (http.client.HTTPException, ssl.SSLError, OSError) as exc:
            raise TransportError("connection", f"{type(exc).__name__}: {exc}") from exc
        finally:
            connection.sock = None


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ServiceError:
    code: str = ""
    message: str = ""
    request_id: str = ""
    host_id: str = ""
    ec: str = ""
    recommend_doc: str = ""
    # Where OSS says the bucket must be addressed, when it was asked at another region's
    # endpoint (AccessDenied or PermanentRedirect, "must be addressed using the specified
    # endpoint", as Alibaba's list of HTTP 403 errors documents it).
    endpoint: str = ""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_xml(body: bytes) -> Optional[ET.Element]:
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def parse_error(response: HttpResponse) -> ServiceError:
    """Code, Message, RequestId, HostId, EC and RecommendDoc of an S3/OSS error response.

    HEAD responses have no body: OSS puts the error document base64-encoded in
    ``x-oss-err`` and its code in ``x-oss-ec`` (as alibabacloud_oss_v2 reads them).
    """
    document = response.body
    if not document and response.headers.get("x-oss-err"):
        try:
            document = base64.b64decode(response.headers["x-oss-err"], validate=False)
        except ValueError:
            document = b""
    fields: Dict[str, str] = {}
    root = _parse_xml(document) if document else None
    if root is not None and _local(root.tag) == "Error":
        for child in root:
            name = _local(child.tag)
            if name in _ERROR_FIELDS and child.text:
                fields[name] = child.text.strip()[:_FIELD_LIMIT]
    headers = response.headers
    return ServiceError(
        code=fields.get("Code", ""),
        message=fields.get("Message", ""),
        request_id=fields.get("RequestId")
        or headers.get("x-oss-request-id")
        or headers.get("x-amz-request-id", ""),
        host_id=fields.get("HostId", ""),
        ec=fields.get("EC") or headers.get("x-oss-ec", ""),
        recommend_doc=fields.get("RecommendDoc", ""),
        endpoint=fields.get("Endpoint", ""),
    )


@dataclass
class Failure:
    step: str
    http_status: Optional[int]
    code: str  # the S3/OSS error code, or DNS, ConnectionRefused, Timeout, ...
    message: str  # the service's message or the network error
    fix: str
    request_id: str = ""
    ec: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {
            "step": self.step,
            "http_status": self.http_status,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
            "request_id": self.request_id,
            "ec": self.ec,
        }


TRANSPORT_CODES = {
    "dns": "DNSFailure",
    "refused": "ConnectionRefused",
    "timeout": "Timeout",
    "unreachable": "NetworkUnreachable",
    "certificate": "CertificateError",
    "tls": "TLSError",
    "connection": "ConnectionError",
}


@dataclass(frozen=True)
class Context:
    """What a diagnosis may name."""

    bucket: str
    region: str
    endpoint: str
    host: str
    port: int
    path_style: bool
    access_key_id: str
    credentials_source: str


def _is_internal(context: Context) -> bool:
    return "-internal." in context.host


def _region_name(region: str) -> str:
    """``cn-hangzhou`` of the signing region ``oss-cn-hangzhou``."""
    return region[4:] if region.startswith("oss-") else region


def transport_fix(kind: str, context: Context) -> str:
    where = f"{context.host}:{context.port}"
    vpc = (
        "; an -internal endpoint answers only ECS instances in a VPC of region "
        + _region_name(context.region)
        if _is_internal(context)
        else ""
    )
    if kind == "dns":
        return (
            f"cannot resolve {context.host}: check the endpoint {context.endpoint} and the region "
            "(automq_oss_region, automq_oss_endpoint) and that this host uses the VPC's DNS "
            "(the -internal names resolve only inside Alibaba Cloud)"
        )
    if kind in ("refused", "timeout", "unreachable"):
        return (
            f"cannot reach {where}: check the endpoint {context.endpoint}, and that the security "
            f"group allows egress to TCP {context.port}{vpc}"
        )
    if kind == "certificate":
        return (
            f"the TLS certificate of {context.host} is not trusted: update the system trust store "
            "(ca-certificates), or set ca_file for a private CA; a name mismatch means the "
            "endpoint is not the bucket's"
        )
    if kind == "tls":
        return f"the TLS handshake with {where} failed: is {context.endpoint} an OSS endpoint?"
    return f"the connection to {where} broke off: retry; if it persists, check the network path"


def wrong_region_fix(bucket_endpoint_host: str, context: Context) -> str:
    """OSS named the endpoint the bucket must be addressed through: it lives elsewhere."""
    match = re.match(r"oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$", bucket_endpoint_host)
    where = f"region {match.group(1)}" if match else bucket_endpoint_host
    return (
        f"bucket {context.bucket} is in {where} (OSS says to address it at "
        f"{bucket_endpoint_host}), not behind {context.endpoint}: set automq_oss_region to "
        "the bucket's region, or name a bucket of this region"
    )


def service_fix(step: str, status: Optional[int], code: str, context: Context) -> str:
    """The likely cause of an S3/OSS error at ``step``, as advice an operator can act on."""
    key = f"AccessKey ID {context.access_key_id} (from {context.credentials_source})"
    if code == "InvalidAccessKeyId":
        return (
            f"the {key} is wrong, disabled or deleted: check automq_oss_access_key_id against "
            "the RAM user's AccessKeys"
        )
    if code == "SignatureDoesNotMatch":
        return (
            f"the AccessKey secret is not the one of {key}: check automq_oss_access_key_secret "
            f"(or region={context.region} is not the endpoint's region)"
        )
    if code == "AccessDenied" or (status == 403 and not code):
        action = STEP_ACTIONS.get(step, "the action")
        resource = f"acs:oss:*:*:{context.bucket}" + ("" if "list" in action.lower() else "/*")
        source_vpc = (
            "; this node uses the public endpoint, which an acs:SourceVpc condition never matches"
            if not _is_internal(context)
            else ""
        )
        prefix = "" if code else "access denied (no error code in the response): "
        return (
            f"{prefix}allow {action} on {resource} in the RAM user's policy and check the bucket "
            "policy: with an acs:SourceVpc condition only requests from the cluster's VPC "
            f"through the internal endpoint (oss-{_region_name(context.region)}-internal."
            f"aliyuncs.com) are allowed{source_vpc}"
        )
    if code == "NoSuchBucket":
        return (
            f"bucket {context.bucket} does not exist at {context.endpoint}: check "
            "automq_oss_data_bucket / automq_oss_ops_bucket and automq_oss_region (the bucket "
            f"must be in region {_region_name(context.region)})"
        )
    if code == "SecondLevelDomainForbidden":
        return (
            "OSS refuses path-style requests: remove pathStyle=true from the bucket URI so "
            f"requests go to {context.bucket}.{urlsplit(context.endpoint).hostname}"
        )
    if code == "RequestTimeTooSkewed":
        return "this host's clock is more than 15 minutes off: fix time sync (chrony)"
    if code in ("AuthorizationHeaderMalformed", "InvalidRegion"):
        return f"region={context.region} does not match the endpoint {context.endpoint}"
    if code in ("PermanentRedirect", "TemporaryRedirect") or status in (301, 307):
        return (
            f"bucket {context.bucket} is not in the endpoint's region: set automq_oss_region "
            "to the bucket's region"
        )
    if code in ("InvalidBucketName",):
        return f"{context.bucket!r} is not a valid bucket name"
    if code in ("UserDisable", "AccountDisabled", "AccessKeyDisabled"):
        return f"the {key} or its account is disabled"
    if status is not None and status >= 500:
        return "OSS answered with a server error: retry later"
    return "see the error code and message; OSS's RecommendDoc link explains it"


def transport_failure(step: str, error: TransportError, context: Context) -> Failure:
    return Failure(
        step=step,
        http_status=None,
        code=TRANSPORT_CODES.get(error.kind, "ConnectionError"),
        message=error.detail,
        fix=transport_fix(error.kind, context),
    )


def response_failure(
    step: str, response: HttpResponse, context: Context, now: datetime.datetime
) -> Failure:
    error = parse_error(response)
    fix = (
        wrong_region_fix(error.endpoint, context)
        if error.endpoint
        else service_fix(step, response.status, error.code, context)
    )
    if error.code == "RequestTimeTooSkewed":
        skew = clock_skew(response, now)
        if skew is not None:
            fix = f"{fix}; this host is {skew:+.0f}s off the server's Date"
    if error.recommend_doc:
        fix = f"{fix} ({error.recommend_doc})"
    return Failure(
        step=step,
        http_status=response.status,
        code=error.code,
        message=error.message,
        fix=fix,
        request_id=error.request_id,
        ec=error.ec,
    )


def clock_skew(response: HttpResponse, now: datetime.datetime) -> Optional[float]:
    """Seconds this host is ahead of the server, from the response's Date header."""
    try:
        server = parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    if server is None:
        return None
    return (now - server).total_seconds()


# --------------------------------------------------------------------------- redaction


class Redactor:
    """Replaces every known secret in strings (and nested lists/dicts of strings)."""

    MASK = "***"

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: List[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, self.MASK)
        return value

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.data(item) for item in value]
        return value


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Target:
    """One bucket to check, with the roles it plays and the AccessKey AutoMQ uses for it."""

    roles: Tuple[str, ...]
    uri: BucketUri
    credentials: Credentials


@dataclass
class StepResult:
    step: str
    ok: bool
    http_status: Optional[int]
    elapsed_ms: float

    def as_dict(self) -> Dict[str, Any]:
        return {
            "step": self.step,
            "ok": self.ok,
            "http_status": self.http_status,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass
class BucketReport:
    roles: Tuple[str, ...]
    bucket: str
    region: str
    endpoint: str
    url: str
    access_key_id: str
    credentials_source: str
    mode: str  # "full" or "head-only" (check mode)
    probe_prefix: str
    steps: List[StepResult] = field(default_factory=list)
    failure: Optional[Failure] = None
    leftover_keys: List[str] = field(default_factory=list)
    cleanup: str = ""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def summary(self) -> str:
        """One sentence: what passed, or what failed, where, and the likely fix."""
        label = f"{'/'.join(self.roles)} bucket {self.bucket} ({self.url})"
        if self.failure is None:
            if self.mode == "head-only":
                return f"{label}: HEAD answered 404 as expected (check mode: nothing written)"
            return f"{label}: ready (every step passed, all probe objects deleted)"
        failure = self.failure
        status = f"HTTP {failure.http_status}" if failure.http_status is not None else "no HTTP"
        code = f" {failure.code}" if failure.code else ""
        detail = f": {failure.message}" if failure.message else ""
        ids = []
        if failure.ec:
            ids.append(f"EC {failure.ec}")
        if failure.request_id:
            ids.append(f"request {failure.request_id}")
        id_text = f" [{', '.join(ids)}]" if ids else ""
        leftovers = (
            f" Could not delete {', '.join(self.leftover_keys)}: remove them by hand."
            if self.leftover_keys
            else ""
        )
        return (
            f"{label}: step {failure.step} failed with {status}{code}{detail}{id_text}. "
            f"Likely fix: {failure.fix}.{leftovers}"
        )

    def as_dict(self) -> Dict[str, Any]:
        return {
            "roles": list(self.roles),
            "bucket": self.bucket,
            "region": self.region,
            "endpoint": self.endpoint,
            "url": self.url,
            "access_key_id": self.access_key_id,
            "credentials_source": self.credentials_source,
            "mode": self.mode,
            "ok": self.ok,
            "probe_prefix": self.probe_prefix,
            "steps": [step.as_dict() for step in self.steps],
            "failure": self.failure.as_dict() if self.failure else None,
            "leftover_keys": list(self.leftover_keys),
            "cleanup": self.cleanup,
            "summary": self.summary(),
        }


class _StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.step)
        self.failure = failure


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def probe_name(value: str) -> str:
    """A key-safe form of the node's name (for its own probe directory)."""
    cleaned = _PROBE_NAME_UNSAFE.sub("_", value.strip())[:64]
    return cleaned or "node"


def probe_payload(key: str, size: int) -> bytes:
    """Deterministic, binary (not UTF-8) content derived from the key."""
    out = b""
    block = key.encode("utf-8")
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:size]


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class BucketClient:
    """Signed requests to one bucket, as AutoMQ's SDK sends them (see the module's
    docstring); every signature it makes is added to :attr:`redactor`."""

    def __init__(
        self,
        target: Target,
        transport: Transport,
        now: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.target = target
        self.transport = transport
        self.now = now
        uri = target.uri
        self.endpoint = bucket_endpoint(uri)
        self.context = Context(
            bucket=uri.bucket,
            region=uri.region,
            endpoint=uri.endpoint,
            host=self.endpoint.host,
            port=self.endpoint.port,
            path_style=uri.path_style,
            access_key_id=target.credentials.access_key_id,
            credentials_source=target.credentials.source,
        )
        self.redactor = Redactor(
            [target.credentials.secret_access_key, target.credentials.session_token]
        )

    def send(
        self,
        method: str,
        key: Optional[str],
        query: Sequence[Tuple[str, str]] = (),
        body: bytes = b"",
        headers: Optional[Mapping[str, str]] = None,
    ) -> HttpResponse:
        endpoint = self.endpoint
        path = endpoint.path_prefix + "/" + (uri_encode(key, encode_slash=False) if key else "")
        extra = dict(headers or {})
        if body:
            extra["Content-MD5"] = content_md5(body)
        signed = sign_headers(
            method,
            endpoint.host_header,
            path,
            query,
            extra,
            body,
            self.target.credentials,
            self.target.uri.region,
            self.now(),
        )
        # Belt and braces: nothing derived from the signature may leave this object.
        self.redactor.add(signed["Authorization"])
        self.redactor.add(signed["Authorization"].rpartition("Signature=")[2])
        encoded_query = canonical_query(query)
        target = path + ("?" + encoded_query if encoded_query else "")
        return self.transport(
            HttpRequest(method, endpoint.scheme, endpoint.host, endpoint.port, target, signed, body)
        )


class ReadinessCheck:
    """The steps against one bucket over ``transport``; :meth:`run` returns a report.

    Full mode: head (404 expected), put, get, list, multipart_create,
    multipart_upload_part, multipart_complete, ranged_get, delete, verify_deleted.
    Check mode: head only.  Any failure stops the sequence; whatever was written is then
    deleted (and an unfinished multipart upload aborted), best effort.
    """

    def __init__(
        self,
        target: Target,
        transport: Transport,
        name: str,
        check_mode: bool = False,
        now: Callable[[], datetime.datetime] = utc_now,
        time_ns: Callable[[], int] = time.time_ns,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.transport = transport
        self.check_mode = check_mode
        self.now = now
        self.clock = clock
        uri = target.uri
        self.client = BucketClient(target, transport, now)
        self.endpoint = self.client.endpoint
        self.prefix = f"{PROBE_ROOT}{probe_name(name)}/{time_ns()}/"
        self.object_key = self.prefix + "object"
        self.multipart_key = self.prefix + "multipart"
        self.context = self.client.context
        self.redactor = self.client.redactor
        self.report = BucketReport(
            roles=target.roles,
            bucket=uri.bucket,
            region=uri.region,
            endpoint=uri.endpoint,
            url=self.endpoint.base_url,
            access_key_id=target.credentials.access_key_id,
            credentials_source=target.credentials.source,
            mode="head-only" if check_mode else "full",
            probe_prefix=self.prefix,
        )
        # Keys that may exist because of us (added before the request is sent).
        self.written: List[str] = []
        self.pending_upload: Optional[Tuple[str, str]] = None
        # Keys still listed after they were reported deleted.
        self.undeletable: List[str] = []

    # ----------------------------------------------------------------- requests

    def _step(
        self,
        step: str,
        method: str,
        key: Optional[str],
        expect: Sequence[int],
        query: Sequence[Tuple[str, str]] = (),
        body: bytes = b"",
        headers: Optional[Mapping[str, str]] = None,
    ) -> HttpResponse:
        started = self.clock()
        try:
            response = self.client.send(method, key, query, body, headers)
        except TransportError as exc:
            self._record(step, False, None, started)
            raise _StepFailed(transport_failure(step, exc, self.context)) from exc
        ok = response.status in expect
        self._record(step, ok, response.status, started)
        if not ok:
            raise _StepFailed(self._response_failure(step, response))
        return response

    def _record(self, step: str, ok: bool, status: Optional[int], started: float) -> None:
        self.report.steps.append(StepResult(step, ok, status, (self.clock() - started) * 1000))

    def _response_failure(self, step: str, response: HttpResponse) -> Failure:
        return response_failure(step, response, self.context, self.now())

    def _fail(self, step: str, code: str, message: str, fix: str) -> _StepFailed:
        if self.report.steps and self.report.steps[-1].step == step:
            self.report.steps[-1].ok = False
        return _StepFailed(Failure(step, None, code, message, fix))

    # ----------------------------------------------------------------- steps

    def _head(self) -> None:
        """HEAD of the probe key must answer 404 (AutoMQ: 403 stops the check)."""
        started = self.clock()
        try:
            response = self.client.send("HEAD", self.object_key)
        except TransportError as exc:
            self._record("head", False, None, started)
            raise _StepFailed(transport_failure("head", exc, self.context)) from exc
        error = parse_error(response)
        ok = response.status == 404 and error.code in ("", "NoSuchKey")
        self._record("head", ok, response.status, started)
        if ok:
            return
        if response.status == 200:
            raise self._fail(
                "head",
                "ProbeKeyExists",
                f"{self.object_key} already exists",
                "another check used the same key: run the check again",
            )
        if not error.code and response.status >= 400:
            # A HEAD answer has no body; some servers send no code either. The same key
            # read with GET (read-only, also in check mode) names the error.
            diagnosis = self._diagnose_with_get()
            if diagnosis is not None and diagnosis.code:
                diagnosis.step = "head"
                raise _StepFailed(diagnosis)
        raise _StepFailed(self._response_failure("head", response))

    def _diagnose_with_get(self) -> Optional[Failure]:
        started = self.clock()
        try:
            response = self.client.send("GET", self.object_key)
        except TransportError:
            return None
        self._record("head_diagnosis", False, response.status, started)
        if response.status < 400:
            return None
        return self._response_failure("head", response)

    def _put(self, payload: bytes) -> None:
        self.written.append(self.object_key)
        self._step(
            "put",
            "PUT",
            self.object_key,
            (200,),
            body=payload,
            headers={"Content-Type": "application/octet-stream"},
        )

    def _get(self, payload: bytes) -> None:
        response = self._step("get", "GET", self.object_key, (200,))
        if response.body != payload:
            raise self._fail(
                "get",
                "ContentMismatch",
                f"read {len(response.body)} bytes that differ from the {len(payload)} written",
                "something between this host and OSS alters objects: is the endpoint OSS?",
            )

    def _list_keys(self, step: str) -> List[str]:
        response = self._step(
            step, "GET", None, (200,), query=(("list-type", "2"), ("prefix", self.prefix))
        )
        root = _parse_xml(response.body)
        if root is None or _local(root.tag) != "ListBucketResult":
            raise self._fail(
                step,
                "UnexpectedResponse",
                "ListObjectsV2 did not answer with a ListBucketResult",
                "the endpoint does not speak the S3 API: check the endpoint",
            )
        return [
            (key.text or "")
            for contents in root
            if _local(contents.tag) == "Contents"
            for key in contents
            if _local(key.tag) == "Key"
        ]

    def _list(self) -> None:
        keys = self._list_keys("list")
        if self.object_key not in keys:
            raise self._fail(
                "list",
                "ObjectNotListed",
                f"ListObjectsV2 of {self.prefix} returned {len(keys)} keys, not {self.object_key}",
                "the endpoint's listing does not show new objects: is it OSS?",
            )

    def _multipart(self, payload: bytes) -> None:
        key = self.multipart_key
        self.written.append(key)
        response = self._step(
            "multipart_create",
            "POST",
            key,
            (200,),
            query=(("uploads", ""),),
            headers={"Content-Type": "application/octet-stream"},
        )
        upload_id = self._child_text(response.body, "InitiateMultipartUploadResult", "UploadId")
        if not upload_id:
            raise self._fail(
                "multipart_create",
                "UnexpectedResponse",
                "no UploadId in the answer to CreateMultipartUpload",
                "the endpoint does not speak the S3 API: check the endpoint",
            )
        self.pending_upload = (key, upload_id)
        response = self._step(
            "multipart_upload_part",
            "PUT",
            key,
            (200,),
            query=(("partNumber", "1"), ("uploadId", upload_id)),
            body=payload,
        )
        etag = response.headers.get("etag", "")
        if not etag:
            raise self._fail(
                "multipart_upload_part",
                "UnexpectedResponse",
                "no ETag in the answer to UploadPart",
                "the endpoint does not speak the S3 API: check the endpoint",
            )
        complete = (
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
            f"<ETag>{_xml_text(etag)}</ETag></Part></CompleteMultipartUpload>"
        ).encode()
        response = self._step(
            "multipart_complete",
            "POST",
            key,
            (200,),
            query=(("uploadId", upload_id),),
            body=complete,
            headers={"Content-Type": "application/xml"},
        )
        # S3 may answer 200 with an Error document to CompleteMultipartUpload.
        root = _parse_xml(response.body)
        if root is not None and _local(root.tag) == "Error":
            self.report.steps[-1].ok = False
            raise _StepFailed(self._response_failure("multipart_complete", response))
        self.pending_upload = None

    def _ranged_get(self, payload: bytes) -> None:
        response = self._step(
            "ranged_get",
            "GET",
            self.multipart_key,
            (206,),
            headers={"Range": f"bytes={RANGE_FIRST}-{RANGE_LAST}"},
        )
        expected = payload[RANGE_FIRST : RANGE_LAST + 1]
        if response.body != expected:
            raise self._fail(
                "ranged_get",
                "ContentMismatch",
                f"bytes {RANGE_FIRST}-{RANGE_LAST} of the multipart object differ from those "
                f"written ({len(response.body)} bytes read)",
                "something between this host and OSS alters objects: is the endpoint OSS?",
            )

    def _delete(self, keys: Sequence[str], step: str = "delete") -> None:
        """DeleteObjects (POST ?delete with Content-MD5); NoSuchKey counts as deleted."""
        objects = "".join(f"<Object><Key>{_xml_text(key)}</Key></Object>" for key in keys)
        body = f"<Delete><Quiet>false</Quiet>{objects}</Delete>".encode()
        response = self._step(
            step,
            "POST",
            None,
            (200,),
            query=(("delete", ""),),
            body=body,
            headers={"Content-Type": "application/xml"},
        )
        root = _parse_xml(response.body)
        if root is None or _local(root.tag) != "DeleteResult":
            raise self._fail(
                step,
                "UnexpectedResponse",
                "DeleteObjects did not answer with a DeleteResult",
                "the endpoint does not speak the S3 API: check the endpoint",
            )
        failed: List[Tuple[str, str, str]] = []
        for error in root:
            if _local(error.tag) != "Error":
                continue
            fields = {_local(child.tag): (child.text or "") for child in error}
            if fields.get("Code") != "NoSuchKey":
                failed.append(
                    (fields.get("Key", ""), fields.get("Code", ""), fields.get("Message", ""))
                )
        deleted_now = [key for key in keys if key not in {item[0] for item in failed}]
        self.written = [key for key in self.written if key not in deleted_now]
        if failed:
            key, code, message = failed[0]
            raise self._fail(
                step,
                code or "DeleteFailed",
                f"{len(failed)} of {len(keys)} objects not deleted ({key}: {message})",
                service_fix(step, 403 if code == "AccessDenied" else None, code, self.context),
            )

    def _abort(self) -> None:
        if self.pending_upload is None:
            return
        key, upload_id = self.pending_upload
        self._step(
            "abort_multipart", "DELETE", key, (204, 200, 404), query=(("uploadId", upload_id),)
        )
        self.pending_upload = None

    def _verify_deleted(self) -> None:
        keys = self._list_keys("verify_deleted")
        if keys:
            # DeleteObjects already claimed success: deleting again would prove nothing.
            self.written = []
            self.undeletable = list(keys)
            raise self._fail(
                "verify_deleted",
                "ObjectsRemain",
                f"{len(keys)} probe objects are still listed after DeleteObjects",
                "DeleteObjects reported success but the objects remain: is the endpoint OSS?",
            )

    @staticmethod
    def _child_text(body: bytes, root_tag: str, child_tag: str) -> str:
        root = _parse_xml(body)
        if root is None or _local(root.tag) != root_tag:
            return ""
        for child in root:
            if _local(child.tag) == child_tag:
                return (child.text or "").strip()
        return ""

    # ----------------------------------------------------------------- run

    def run(self) -> BucketReport:
        payload = probe_payload(self.object_key, 64)
        multipart_payload = probe_payload(self.multipart_key, MULTIPART_SIZE)
        try:
            self._head()
            if not self.check_mode:
                self._put(payload)
                self._get(payload)
                self._list()
                self._multipart(multipart_payload)
                self._ranged_get(multipart_payload)
                self._delete(list(self.written))
                self._verify_deleted()
        except _StepFailed as failed:
            self.report.failure = failed.failure
            self._clean_up()
        return self._redacted(self.report)

    def _clean_up(self) -> None:
        """Best effort after a failure: abort the upload, delete what may exist."""
        done: List[str] = []
        try:
            if self.pending_upload is not None:
                self._abort()
                done.append("aborted the multipart upload")
            if self.written:
                count = len(self.written)
                self._delete(list(self.written), step="cleanup_delete")
                done.append(f"deleted {count} probe object(s)")
        except _StepFailed as failed:
            problem = failed.failure
            code = f" {problem.code}" if problem.code else ""
            done.append(f"cleanup step {problem.step} failed:{code} {problem.message}".rstrip())
        self.report.leftover_keys = self.undeletable + self.written
        if self.pending_upload is not None:
            self.report.leftover_keys.append(f"{self.pending_upload[0]} (unfinished upload)")
        self.report.cleanup = "; ".join(done)

    def _redacted(self, report: BucketReport) -> BucketReport:
        redact = self.redactor.text
        if report.failure is not None:
            failure = report.failure
            report.failure = Failure(
                failure.step,
                failure.http_status,
                redact(failure.code),
                redact(failure.message),
                redact(failure.fix),
                redact(failure.request_id),
                redact(failure.ec),
            )
        report.cleanup = redact(report.cleanup)
        report.leftover_keys = [redact(key) for key in report.leftover_keys]
        return report


# --------------------------------------------------------------------------- configuration


def load_targets(
    server_properties_text: str, environment_text: str, environment_source: str
) -> List[Target]:
    """The buckets of a node's server.properties, each with AutoMQ's AccessKey for it.

    A bucket used in several roles (the data bucket is usually also the WAL's) is
    checked once, with all its roles.
    """
    try:
        properties = parse_properties(server_properties_text)
    except ValueError as exc:
        raise ReadinessError(f"server.properties: {exc}") from exc
    try:
        environment = parse_environment_file(environment_text)
    except ValueError as exc:
        raise ReadinessError(f"{environment_source}: {exc}") from exc
    targets: Dict[Tuple[str, ...], Target] = {}
    for name, role, required in BUCKET_PROPERTIES:
        value = properties.get(name, "")
        if not value.strip():
            if required:
                raise ReadinessError(f"server.properties has no {name}")
            continue
        try:
            uris = parse_bucket_uri_list(value)
        except ValueError as exc:
            raise ReadinessError(f"{name}: {exc}") from exc
        for uri in uris:
            if uri.protocol != "s3":
                raise ReadinessError(
                    f"{name}: only s3:// buckets can be checked, not {uri.protocol}://"
                )
            credentials = resolve_credentials(uri, environment, environment_source)
            try:
                endpoint = bucket_endpoint(uri)
            except ValueError as exc:
                raise ReadinessError(f"{name}: {exc}") from exc
            identity = (
                uri.bucket,
                endpoint.base_url,
                uri.region,
                credentials.access_key_id,
                credentials.secret_access_key,
            )
            known = targets.get(identity)
            roles = (known.roles if known else ()) + (role,)
            targets[identity] = Target(tuple(dict.fromkeys(roles)), uri, credentials)
    return list(targets.values())


def check_buckets(
    targets: Sequence[Target],
    transport: Transport,
    name: str,
    check_mode: bool = False,
    now: Callable[[], datetime.datetime] = utc_now,
    time_ns: Callable[[], int] = time.time_ns,
) -> List[BucketReport]:
    """Check every target in turn (each gets its own probe prefix)."""
    return [
        ReadinessCheck(target, transport, name, check_mode, now=now, time_ns=time_ns).run()
        for target in targets
    ]


# Values of these variables are redacted from anything a module returns.
SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "KAFKA_S3_SECRET_KEY")


def _read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ReadinessError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ReadinessError(f"{what} {path} is not UTF-8 text") from exc


def load_node_targets(
    server_properties_path: str, credentials_env_path: str
) -> Tuple[List[Target], Redactor]:
    """A node's buckets from its files, and a redactor that knows every secret in them.

    Raises :class:`ReadinessError` with a message free of secrets.
    """
    properties_text = _read_text(server_properties_path, "server.properties")
    environment_text = _read_text(credentials_env_path, "credentials file")
    redactor = Redactor()
    try:
        environment = parse_environment_file(environment_text)
    except ValueError:
        environment = {}
    for name in SECRET_VARIABLES:
        redactor.add(environment.get(name, ""))
    try:
        targets = load_targets(properties_text, environment_text, credentials_env_path)
    except ReadinessError as exc:
        raise ReadinessError(redactor.text(str(exc))) from exc
    for target in targets:
        redactor.add(target.credentials.secret_access_key)
        redactor.add(target.credentials.session_token)
    return targets, redactor
