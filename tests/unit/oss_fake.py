"""An in-memory stand-in for OSS's S3-compatible API, for the readiness check's tests.

``FakeOss`` answers ``HttpRequest`` objects like OSS does for the operations the check
uses: it verifies each Signature V4 with botocore (not with the code under test), the
payload hash and Content-MD5, refuses path-style requests (SecondLevelDomainForbidden),
reports errors of HEAD requests only in ``x-oss-err``/``x-oss-ec`` headers, and can be
told to deny operations or to fail them (``faults``).  ``serve_tls`` puts it behind a
real HTTPS server on loopback; ``make_pki`` makes a private CA and a server certificate.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import http.server
import ipaddress
import ssl
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from automq_helpers.oss_readiness import HttpRequest, HttpResponse, TransportError

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
ACCESS_KEY_ID = "LTAI5tFakeAccessKeyId01"
SECRET = "s3cr3t/With+Special=Chars~AndMore0123"
REGION = "oss-cn-hangzhou"
ENDPOINT_HOST = "oss-cn-hangzhou-internal.aliyuncs.com"


def operation_of(method: str, key: str, query: dict[str, str], headers: dict[str, str]) -> str:
    """The S3 operation of a request, as OSS's authorization sees it."""
    if method == "HEAD":
        return "HeadObject"
    if method == "GET" and not key:
        return "ListObjectsV2"
    if method == "GET":
        return "GetObject"
    if method == "PUT":
        return "UploadPart" if "partNumber" in query else "PutObject"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload"
    return f"{method}?"


def error_document(code: str, message: str, request_id: str, **extra: str) -> bytes:
    root = ET.Element("Error")
    for name, value in (("Code", code), ("Message", message), ("RequestId", request_id)):
        ET.SubElement(root, name).text = value
    for name, value in extra.items():
        ET.SubElement(root, name).text = value
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


@dataclass
class FakeOss:
    buckets: set[str] = field(default_factory=lambda: {"automq-data", "automq-ops"})
    keys: dict[str, str] = field(default_factory=lambda: {ACCESS_KEY_ID: SECRET})
    region: str = REGION
    endpoint_host: str = ENDPOINT_HOST
    allow_path_style: bool = False
    # Operations answered with 403 AccessDenied, e.g. {"PutObject"}.
    deny: set[str] = field(default_factory=set)
    # Operation -> the response to give, or the TransportError to raise, instead.
    faults: dict[str, HttpResponse | TransportError] = field(default_factory=dict)
    clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)
    objects: dict[tuple[str, str], bytes] = field(default_factory=dict)
    uploads: dict[str, tuple[str, str, dict[int, bytes]]] = field(default_factory=dict)
    requests: list[HttpRequest] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    _next_id: int = 0

    # ------------------------------------------------------------------ transport

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        split = urlsplit(request.target)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        host = headers["host"].rsplit(":", 1)[0] if ":" in headers["host"] else headers["host"]
        path = unquote(split.path)
        if host == self.endpoint_host:  # path-style
            bucket, _, key = path[1:].partition("/")
        else:
            bucket, key = host.removesuffix("." + self.endpoint_host), path[1:]
        operation = operation_of(request.method, key, query, headers)
        self.operations.append(operation)
        fault = self.faults.get(operation)
        if isinstance(fault, TransportError):
            raise fault
        if fault is not None:
            return fault
        response = self._answer(request, headers, query, bucket, key, operation, host)
        if request.method == "HEAD" and response.status >= 300 and response.body:
            # OSS: a HEAD error carries its document in x-oss-err, and no body.
            root = ET.fromstring(response.body)
            extra = {
                "x-oss-err": base64.b64encode(response.body).decode(),
                "x-oss-ec": root.findtext("EC") or "",
            }
            return HttpResponse(response.status, {**response.headers, **extra}, b"")
        return response

    # ------------------------------------------------------------------ helpers

    def _id(self) -> str:
        self._next_id += 1
        return f"FAKE{self._next_id:020d}"

    def _error(
        self, status: int, code: str, message: str, ec: str = "", **extra: str
    ) -> HttpResponse:
        request_id = self._id()
        fields = {"EC": ec} if ec else {}
        fields.update(extra)
        body = error_document(code, message, request_id, **fields)
        headers = {
            "x-oss-request-id": request_id,
            "date": self.clock().strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "content-type": "application/xml",
        }
        if ec:
            headers["x-oss-ec"] = ec
        return HttpResponse(status, headers, body)

    def _xml(self, root: ET.Element, status: int = 200) -> HttpResponse:
        return HttpResponse(
            status,
            {"content-type": "application/xml", "x-oss-request-id": self._id()},
            ET.tostring(root, xml_declaration=True, encoding="UTF-8"),
        )

    def _check_signature(
        self, request: HttpRequest, headers: dict[str, str]
    ) -> HttpResponse | None:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return self._error(403, "AccessDenied", "Anonymous access is forbidden.")
        parts = dict(
            item.strip().split("=", 1)
            for item in authorization[len("AWS4-HMAC-SHA256 ") :].split(",")
        )
        access_key, _date, region, service, _ = parts["Credential"].split("/")
        secret = self.keys.get(access_key)
        if secret is None:
            return self._error(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
                ec="0002-00000902",
            )
        amz_date = headers.get("x-amz-date", "")
        sent = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        if abs((sent - self.clock()).total_seconds()) > 15 * 60:
            return self._error(
                403,
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                ec="0002-00000504",
            )
        if hashlib.sha256(request.body).hexdigest() != headers.get("x-amz-content-sha256"):
            return self._error(400, "XAmzContentSHA256Mismatch", "payload hash mismatch")
        signed_names = parts["SignedHeaders"].split(";")
        split = urlsplit(request.target)
        url = f"{request.scheme}://{headers['host']}{split.path}"
        boto_request = AWSRequest(
            method=request.method,
            url=url,
            headers={name: headers[name] for name in signed_names},
            data=request.body,
            params=parse_qsl(split.query, keep_blank_values=True),
        )
        boto_request.context["timestamp"] = amz_date
        signer = S3SigV4Auth(BotoCredentials(access_key, secret), "s3", self.region)
        canonical = signer.canonical_request(boto_request)
        expected = signer.signature(signer.string_to_sign(boto_request, canonical), boto_request)
        if region != self.region or service != "s3" or parts["Signature"] != expected:
            return self._error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                ec="0002-00000040",
                SignatureProvided=parts["Signature"],
                StringToSign=signer.string_to_sign(boto_request, canonical),
                CanonicalRequest=canonical,
            )
        return None

    def _check_md5(self, request: HttpRequest, headers: dict[str, str]) -> HttpResponse | None:
        digest = base64.b64encode(hashlib.md5(request.body).digest()).decode()
        if headers.get("content-md5") != digest:
            return self._error(400, "InvalidDigest", "The Content-MD5 you specified is invalid.")
        return None

    # ------------------------------------------------------------------ operations

    def _answer(
        self,
        request: HttpRequest,
        headers: dict[str, str],
        query: dict[str, str],
        bucket: str,
        key: str,
        operation: str,
        host: str,
    ) -> HttpResponse:
        if host == self.endpoint_host and not self.allow_path_style:
            return self._error(
                403,
                "SecondLevelDomainForbidden",
                "Please use virtual hosted style to access.",
                ec="0003-00001402",
            )
        problem = self._check_signature(request, headers)
        if problem is not None:
            return problem
        if bucket not in self.buckets:
            return self._error(
                404, "NoSuchBucket", "The specified bucket does not exist.", ec="0015-00000101"
            )
        if operation in self.deny:
            return self._error(
                403,
                "AccessDenied",
                "You have no right to access this object because of bucket acl.",
                ec="0003-00000001",
                RecommendDoc="https://api.aliyun.com/troubleshoot?q=0003-00000001",
            )
        if operation in ("PutObject", "UploadPart", "DeleteObjects"):
            problem = self._check_md5(request, headers)
            if problem is not None:
                return problem
        handler = getattr(self, "_op_" + operation, None)
        if handler is None:
            return self._error(400, "InvalidRequest", f"unsupported {operation}")
        response: HttpResponse = handler(request, headers, query, bucket, key)
        return response

    def _op_HeadObject(self, request, headers, query, bucket, key) -> HttpResponse:
        if (bucket, key) not in self.objects:
            return self._error(404, "NoSuchKey", "The specified key does not exist.")
        return HttpResponse(200, {"content-length": str(len(self.objects[(bucket, key)]))})

    def _op_GetObject(self, request, headers, query, bucket, key) -> HttpResponse:
        data = self.objects.get((bucket, key))
        if data is None:
            return self._error(404, "NoSuchKey", "The specified key does not exist.")
        if "range" in headers:
            first, _, last = headers["range"].removeprefix("bytes=").partition("-")
            end = min(int(last), len(data) - 1) if last else len(data) - 1
            return HttpResponse(206, {}, data[int(first) : end + 1])
        return HttpResponse(200, {}, data)

    def _op_PutObject(self, request, headers, query, bucket, key) -> HttpResponse:
        self.objects[(bucket, key)] = request.body
        return HttpResponse(200, {"etag": f'"{hashlib.md5(request.body).hexdigest().upper()}"'})

    def _op_ListObjectsV2(self, request, headers, query, bucket, key) -> HttpResponse:
        if query.get("list-type") != "2":
            return self._error(400, "InvalidArgument", "list-type")
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        max_keys = int(query.get("max-keys", "1000"))
        root = ET.Element(f"{{{S3_NS}}}ListBucketResult")
        ET.SubElement(root, f"{{{S3_NS}}}Name").text = bucket
        ET.SubElement(root, f"{{{S3_NS}}}Prefix").text = prefix
        # Keys and common prefixes in key order, as S3 returns them, up to max-keys.
        entries: list[tuple[str, bytes | None]] = []
        for (name, object_key), data in sorted(self.objects.items()):
            if name != bucket or not object_key.startswith(prefix):
                continue
            rest = object_key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                if (common, None) not in entries:
                    entries.append((common, None))
            else:
                entries.append((object_key, data))
        for entry, data in entries[:max_keys]:
            if data is None:
                common_prefixes = ET.SubElement(root, f"{{{S3_NS}}}CommonPrefixes")
                ET.SubElement(common_prefixes, f"{{{S3_NS}}}Prefix").text = entry
            else:
                contents = ET.SubElement(root, f"{{{S3_NS}}}Contents")
                ET.SubElement(contents, f"{{{S3_NS}}}Key").text = entry
                ET.SubElement(contents, f"{{{S3_NS}}}Size").text = str(len(data))
        truncated = "true" if len(entries) > max_keys else "false"
        ET.SubElement(root, f"{{{S3_NS}}}IsTruncated").text = truncated
        return self._xml(root)

    def _op_CreateMultipartUpload(self, request, headers, query, bucket, key) -> HttpResponse:
        upload_id = self._id()
        self.uploads[upload_id] = (bucket, key, {})
        root = ET.Element("InitiateMultipartUploadResult")
        for name, value in (("Bucket", bucket), ("Key", key), ("UploadId", upload_id)):
            ET.SubElement(root, name).text = value
        return self._xml(root)

    def _op_UploadPart(self, request, headers, query, bucket, key) -> HttpResponse:
        upload = self.uploads.get(query.get("uploadId", ""))
        if upload is None or upload[:2] != (bucket, key):
            return self._error(404, "NoSuchUpload", "The specified upload does not exist.")
        upload[2][int(query["partNumber"])] = request.body
        return HttpResponse(200, {"etag": f'"{hashlib.md5(request.body).hexdigest().upper()}"'})

    def _op_CompleteMultipartUpload(self, request, headers, query, bucket, key) -> HttpResponse:
        upload = self.uploads.get(query.get("uploadId", ""))
        if upload is None or upload[:2] != (bucket, key):
            return self._error(404, "NoSuchUpload", "The specified upload does not exist.")
        parts = upload[2]
        root = ET.fromstring(request.body)
        data = b""
        for part in root.iter("Part"):
            number = int(part.findtext("PartNumber") or "0")
            etag = (part.findtext("ETag") or "").strip('"').lower()
            if number not in parts or hashlib.md5(parts[number]).hexdigest() != etag:
                return self._error(400, "InvalidPart", "One or more of the parts was not found.")
            data += parts[number]
        self.objects[(bucket, key)] = data
        del self.uploads[query["uploadId"]]
        result = ET.Element("CompleteMultipartUploadResult")
        ET.SubElement(result, "Key").text = key
        return self._xml(result)

    def _op_AbortMultipartUpload(self, request, headers, query, bucket, key) -> HttpResponse:
        if self.uploads.pop(query.get("uploadId", ""), None) is None:
            return self._error(404, "NoSuchUpload", "The specified upload does not exist.")
        return HttpResponse(204, {})

    def _op_DeleteObjects(self, request, headers, query, bucket, key) -> HttpResponse:
        document = ET.fromstring(request.body)
        result = ET.Element(f"{{{S3_NS}}}DeleteResult")
        for item in document.iter("Object"):
            object_key = item.findtext("Key") or ""
            self.objects.pop((bucket, object_key), None)
            deleted = ET.SubElement(result, f"{{{S3_NS}}}Deleted")
            ET.SubElement(deleted, f"{{{S3_NS}}}Key").text = object_key
        return self._xml(result)


def error_response(status: int, code: str, message: str = "", **extra: str) -> HttpResponse:
    return HttpResponse(
        status, {"x-oss-request-id": "SCRIPTED"}, error_document(code, message, "SCRIPTED", **extra)
    )


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_pki(directory: Path, names: list[str], ca_name: str = "readiness test CA") -> Pki:
    """A private CA and a server certificate for ``names`` (DNS names or IP addresses)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    pki.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pki


@dataclass
class TlsServer:
    port: int
    server_names: list[str]  # SNI of each handshake


@contextlib.contextmanager
def serve_tls(fake: FakeOss, pki: Pki, host: str = "127.0.0.1") -> Iterator[TlsServer]:
    """Serve ``fake`` over HTTPS on ``host`` (an ephemeral port) in a thread."""
    seen = TlsServer(0, [])

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = HttpRequest(
                self.command,
                "https",
                self.headers.get("Host", ""),
                seen.port,
                self.path,
                dict(self.headers.items()),
                body,
            )
            try:
                response = fake(request)
            except TransportError:
                self.connection.close()
                return
            self.send_response(response.status)
            for name, value in response.headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)

    def remember(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        seen.server_names.append(name or "")

    context.sni_callback = remember  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    # The handshake happens in the handler's thread, so a stalled client blocks no one.
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    seen.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
