"""A test client of the emulator's S3 data plane: botocore's own SigV4 signer, http.client.

Requests go to the in-process emulator's port with the virtual-hosted ``Host`` a
broker would send (``<bucket>.oss-<region>-internal.aliyuncs.com``), over TLS that
trusts only the emulator's CA and checks that host name. Like AutoMQ's AWS SDK
client over HTTPS, bodies are sent with ``UNSIGNED-PAYLOAD`` and Content-MD5 unless
``payload_signing`` asks for the hex SHA-256. Tests only: the emulator does not
import it (botocore is a test requirement).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

from .server import Emulator


@dataclass
class Sent:
    """What goes on the wire, for ``tamper`` to change after signing."""

    method: str
    target: str  # path and query
    headers: dict[str, str]
    body: bytes


@dataclass
class S3Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    sent: Sent = field(repr=False)

    def xml(self) -> ET.Element:
        return ET.fromstring(self.body)

    @property
    def error(self) -> dict[str, str]:
        """The fields of OSS's ``<Error>`` body ({} when there is none)."""
        if not self.body.lstrip().startswith(b"<?xml") or b"<Error>" not in self.body:
            return {}
        return {child.tag: child.text or "" for child in self.xml()}

    @property
    def code(self) -> str | None:
        return self.error.get("Code")


def content_md5(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


class _FixedPayloadHash(S3SigV4Auth):  # type: ignore[misc]  # botocore is untyped
    """botocore's S3 signer with a chosen ``x-amz-content-sha256`` (streaming forms)."""

    def __init__(self, credentials: Credentials, region: str, payload_hash: str) -> None:
        super().__init__(credentials, "s3", region)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


class S3Client:
    def __init__(
        self,
        emulator: Emulator,
        access_key_id: str | None = None,
        access_key_secret: str | None = None,
        *,
        signing_region: str | None = None,  # default: oss-<region>, as AutoMQ signs
        region: str | None = None,  # the endpoint's region
        internal: bool = True,
        tls: bool = True,
        service: str = "s3",
        payload_signing: bool = False,
        source_address: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.access_key_id = access_key_id or emulator.access_key_id
        self.access_key_secret = access_key_secret or emulator.access_key_secret
        self.region = region or emulator.region_id
        self.signing_region = signing_region or f"oss-{self.region}"
        self.internal = internal
        self.tls = tls
        self.service = service
        self.payload_signing = payload_signing
        self.source_address = source_address

    @property
    def port(self) -> int:
        port = self.emulator.s3_port if self.tls else self.emulator.s3_http_port
        assert port is not None, "the emulator serves no plain HTTP data plane"
        return port

    def host(self, bucket: str | None) -> str:
        endpoint = f"oss-{self.region}{'-internal' if self.internal else ''}.aliyuncs.com"
        return f"{bucket}.{endpoint}" if bucket else endpoint

    def _connection(self, host: str) -> http.client.HTTPConnection:
        source = (self.source_address, 0) if self.source_address else None
        connection: http.client.HTTPConnection
        if self.tls:
            context = ssl.create_default_context(cafile=self.emulator.oss_data_ca_file)
            connection = http.client.HTTPSConnection(
                host, self.port, context=context, timeout=30, source_address=source
            )
        else:
            connection = http.client.HTTPConnection(
                host, self.port, timeout=30, source_address=source
            )
        address = self.emulator.config.s3_host
        # The name is for TLS (SNI, certificate check) and Host; the socket goes to the emulator.
        connection._create_connection = (  # type: ignore[attr-defined]
            lambda _address, timeout=None, source_address=None: socket.create_connection(
                (address, self.port), timeout, source_address
            )
        )
        return connection

    def request(
        self,
        method: str,
        bucket: str | None,
        key: str = "",
        params: Sequence[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        host: str | None = None,
        path: str | None = None,
        sign: bool = True,
        payload_hash: str | None = None,
        tamper: Callable[[Sent], None] | None = None,
        secret: str | None = None,
    ) -> S3Response:
        """``params`` with value None-like "" are subresources (``?uploads``)."""
        host = host or self.host(bucket)
        netloc = f"{host}:{self.port}"
        target = path if path is not None else "/" + percent_encode(key, safe="/~")
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        flags = [name for name, value in items if value == ""]
        valued = [(name, value) for name, value in items if value != ""]
        query = "&".join(
            part for part in (percent_encode_sequence(valued) if valued else "", *flags) if part
        )
        if query:
            target += "?" + query
        url = f"{'https' if self.tls else 'http'}://{netloc}{target}"
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        request.context["payload_signing_enabled"] = self.payload_signing
        if sign:
            credentials = Credentials(self.access_key_id, secret or self.access_key_secret)
            signer: S3SigV4Auth
            if payload_hash is not None:
                signer = _FixedPayloadHash(credentials, self.signing_region, payload_hash)
            else:
                signer = S3SigV4Auth(credentials, self.service, self.signing_region)
            signer.add_auth(request)
        sent = Sent(method, target, {"Host": netloc, **dict(request.headers.items())}, body)
        if tamper is not None:
            tamper(sent)
        connection = self._connection(host)
        try:
            connection.putrequest(
                sent.method, sent.target, skip_host=True, skip_accept_encoding=True
            )
            for name, value in sent.headers.items():
                connection.putheader(name, value)
            if "Content-Length" not in sent.headers and (sent.body or method in ("PUT", "POST")):
                connection.putheader("Content-Length", str(len(sent.body)))
            connection.endheaders(sent.body or None)
            response = connection.getresponse()
            data = response.read()
            return S3Response(response.status, response.headers, data, sent)
        finally:
            connection.close()

    # ----------------------------------------------------------------- operations

    def put(
        self, bucket: str, key: str, body: bytes, md5: bool = True, **headers: str
    ) -> S3Response:
        extra = {"Content-MD5": content_md5(body)} if md5 else {}
        return self.request("PUT", bucket, key, body=body, headers={**extra, **headers})

    def get(self, bucket: str, key: str, **headers: str) -> S3Response:
        return self.request("GET", bucket, key, headers=headers)

    def head(self, bucket: str, key: str) -> S3Response:
        return self.request("HEAD", bucket, key)

    def delete(self, bucket: str, key: str) -> S3Response:
        return self.request("DELETE", bucket, key)

    def list_v2(self, bucket: str, **params: str) -> S3Response:
        query = {"list-type": "2", **{k.replace("_", "-"): v for k, v in params.items()}}
        return self.request("GET", bucket, params=query)

    def delete_objects(
        self, bucket: str, keys: Sequence[str], quiet: bool = False, md5: bool = True
    ) -> S3Response:
        root = ET.Element("Delete", xmlns="http://s3.amazonaws.com/doc/2006-03-01/")
        for key in keys:
            ET.SubElement(ET.SubElement(root, "Object"), "Key").text = key
        ET.SubElement(root, "Quiet").text = "true" if quiet else "false"
        body = ET.tostring(root)
        headers = {"Content-MD5": content_md5(body)} if md5 else {}
        return self.request("POST", bucket, params=[("delete", "")], body=body, headers=headers)

    def copy(self, bucket: str, key: str, source: str, **headers: str) -> S3Response:
        return self.request(
            "PUT",
            bucket,
            key,
            headers={"x-amz-copy-source": percent_encode(source, safe="/~"), **headers},
        )

    def create_multipart(self, bucket: str, key: str, **headers: str) -> str:
        response = self.request("POST", bucket, key, params=[("uploads", "")], headers=headers)
        assert response.status == 200, response.body
        return text(response.xml(), "UploadId")

    def upload_part(
        self, bucket: str, key: str, upload_id: str, number: int, body: bytes
    ) -> S3Response:
        return self.request(
            "PUT",
            bucket,
            key,
            params={"partNumber": str(number), "uploadId": upload_id},
            body=body,
            headers={"Content-MD5": content_md5(body)},
        )

    def complete(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> S3Response:
        root = ET.Element("CompleteMultipartUpload")
        for number, etag in parts:
            part = ET.SubElement(root, "Part")
            ET.SubElement(part, "PartNumber").text = str(number)
            ET.SubElement(part, "ETag").text = etag
        return self.request(
            "POST", bucket, key, params={"uploadId": upload_id}, body=ET.tostring(root)
        )

    def abort(self, bucket: str, key: str, upload_id: str) -> S3Response:
        return self.request("DELETE", bucket, key, params={"uploadId": upload_id})

    def list_parts(self, bucket: str, key: str, upload_id: str, **params: str) -> S3Response:
        query = {"uploadId": upload_id, **{k.replace("_", "-"): v for k, v in params.items()}}
        return self.request("GET", bucket, key, params=query)


def text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    assert found is not None, f"no {path} in {ET.tostring(element)!r}"
    return found.text or ""


def texts(element: ET.Element, path: str) -> list[str]:
    return [found.text or "" for found in element.findall(path)]
