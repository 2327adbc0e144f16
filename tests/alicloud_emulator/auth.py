"""Request signatures.

Three schemes are verified byte for byte against the official SDKs:

* ``ACS3-HMAC-SHA256`` (V3, default of the V2.0 SDKs, ``alibabacloud_tea_openapi``):
  canonical request = method, path, sorted RFC 3986 query, every header named in
  ``SignedHeaders`` (values trimmed, repeated headers joined by ``,``), the signed
  header list and ``x-acs-content-sha256``; signature = hex HMAC-SHA256 of
  ``"ACS3-HMAC-SHA256\\n" + hex(sha256(canonical request))``.
* classic RPC ``HMAC-SHA1`` (``SignatureVersion=1.0``, ``signature_algorithm='v2'``).
* ``OSS4-HMAC-SHA256`` (``alibabacloud_oss_v2/signer/v4.py``): canonical request =
  method, ``quote('/bucket/key', safe='/')``, the raw query pairs sorted, the
  ``x-oss-*``/``content-type``/``content-md5`` and additional headers, the
  additional header list and ``x-oss-content-sha256``; key derived from
  ``"aliyun_v4" + secret``, date, region, ``oss`` and ``aliyun_v4_request``.

The S3-compatible data plane verifies AWS Signature V4 (``AWS4-HMAC-SHA256`` in the
``Authorization`` header) by AWS's documented rules, checked against botocore's
signer: see :func:`verify_sigv4`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from .util import ApiError, utcnow


@dataclass(frozen=True)
class Principal:
    """Who signed a request: the account itself or one of its RAM users."""

    kind: str  # "account" or "user"
    account_id: str
    access_key_id: str
    user_name: str | None = None
    user_id: str | None = None

    @property
    def is_account(self) -> bool:
        return self.kind == "account"


KeyLookup = Callable[[str], "tuple[str, Principal] | None"]

RPC_KEY_NOT_FOUND = ApiError(
    404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
)
CLOCK_SKEW = dt.timedelta(minutes=15)


def _hmac_sha256(key: bytes, data: str) -> bytes:
    return hmac.new(key, data.encode("utf-8"), hashlib.sha256).digest()


# --------------------------------------------------------------------------- RPC


def acs3_canonical_query(query: Iterable[tuple[str, str]]) -> str:
    items = dict(query)
    return "&".join(f"{key}={quote(items[key], safe='~')}" for key in sorted(items))


def _header_values(headers: Any, name: str) -> list[str]:
    values = headers.get_all(name) if hasattr(headers, "get_all") else None
    if values is None:
        value = headers.get(name)
        values = [] if value is None else [value]
    return [value.strip() for value in values]


def verify_acs3(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Any,
    body: bytes,
    lookup: KeyLookup,
) -> Principal:
    authorization = headers.get("Authorization", "")
    match = re.fullmatch(
        r"(ACS3-[A-Z0-9-]+)\s+Credential=([^,]*),\s*SignedHeaders=([^,]*),\s*Signature=([0-9a-f]+)",
        authorization.strip(),
    )
    if not match:
        raise ApiError(
            400,
            "IncompleteSignature",
            "The request signature does not conform to Alibaba Cloud standards.",
        )
    algorithm, access_key_id, signed_headers, signature = match.groups()
    if algorithm != "ACS3-HMAC-SHA256":
        raise ApiError(
            400,
            "InvalidSignatureMethod",
            f"The signature method {algorithm} is not supported by this emulator.",
        )
    found = lookup(access_key_id)
    if found is None:
        raise RPC_KEY_NOT_FOUND
    secret, principal = found
    names = signed_headers.split(";")
    for required in ("host", "x-acs-action", "x-acs-version", "x-acs-date"):
        if required not in names:
            raise ApiError(
                400,
                "IncompleteSignature",
                f"The header {required} must be signed.",
            )
    _check_date(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
    payload_hash = headers.get("x-acs-content-sha256", "")
    if payload_hash != hashlib.sha256(body).hexdigest():
        raise ApiError(
            400,
            "SignatureDoesNotMatch",
            "The x-acs-content-sha256 header does not match the request body.",
        )
    canonical_headers = "".join(
        f"{name}:{','.join(sorted(_header_values(headers, name)))}\n" for name in names
    )
    canonical_request = "\n".join(
        [
            method,
            path or "/",
            acs3_canonical_query(query),
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    string_to_sign = f"{algorithm}\n{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
    expected = hmac.new(
        secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ApiError(
            400,
            "SignatureDoesNotMatch",
            "Specified signature does not match our calculation. "
            f"server string to sign is:{string_to_sign}",
        )
    return principal


def _rpc_percent_encode(value: str) -> str:
    return quote(value, safe="~").replace("+", "%20").replace("*", "%2A")


def verify_rpc_v1(method: str, params: Mapping[str, str], lookup: KeyLookup) -> Principal:
    """Classic RPC signature: ``SignatureMethod=HMAC-SHA1``, ``SignatureVersion=1.0``."""
    access_key_id = params.get("AccessKeyId", "")
    signature = params.get("Signature", "")
    if not access_key_id or not signature:
        raise ApiError(400, "MissingParameter", "AccessKeyId and Signature are required.")
    if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
        raise ApiError(
            400, "InvalidSignatureMethod", "Only HMAC-SHA1 is supported for this scheme."
        )
    found = lookup(access_key_id)
    if found is None:
        raise RPC_KEY_NOT_FOUND
    secret, principal = found
    timestamp = params.get("Timestamp", "")
    if timestamp:
        _check_date(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    canonical = "&".join(
        f"{_rpc_percent_encode(key)}={_rpc_percent_encode(params[key])}"
        for key in sorted(params)
        if key != "Signature"
    )
    string_to_sign = f"{method}&%2F&{_rpc_percent_encode(canonical)}"
    expected = base64.b64encode(
        hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"), "sha1").digest()
    ).decode()
    if not hmac.compare_digest(expected, signature):
        raise ApiError(
            400,
            "SignatureDoesNotMatch",
            "Specified signature does not match our calculation. "
            f"server string to sign is:{string_to_sign}",
        )
    return principal


def _check_date(value: str, fmt: str) -> None:
    try:
        when = dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError(
            400, "InvalidTimeStamp.Format", f"Specified time stamp {value!r} is not valid."
        ) from None
    if abs(utcnow() - when) > CLOCK_SKEW:
        raise ApiError(
            400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."
        )


# --------------------------------------------------------------------------- OSS


@dataclass
class OssSignatureError(Exception):
    code: str
    message: str
    extra: dict[str, str]


def oss4_canonical_uri(bucket: str | None, key: str | None) -> str:
    uri = "/"
    if bucket is not None:
        uri = uri + bucket + "/"
    if key is not None:
        uri = uri + key
    return quote(uri, safe="/")


def oss4_canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for pair in raw_query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return "&".join(f"{key}={value}" if value else key for key, value in sorted(pairs))


def verify_oss4(
    method: str,
    bucket: str | None,
    key: str | None,
    raw_query: str,
    headers: Any,
    lookup: KeyLookup,
    regions: Sequence[str],
) -> Principal:
    authorization = headers.get("Authorization", "").strip()
    if authorization.startswith("OSS "):
        raise ApiError(
            403,
            "AccessDenied",
            "The V1 signature (OSS AccessKeyId:Signature) is not accepted; sign requests with "
            "OSS4-HMAC-SHA256.",
        )
    fields: dict[str, str] = {}
    if authorization.startswith("OSS4-HMAC-SHA256 "):
        for part in authorization[len("OSS4-HMAC-SHA256 ") :].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
    if not {"Credential", "Signature"} <= fields.keys():
        raise ApiError(400, "InvalidArgument", "Authorization header is invalid.")
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or credential[3] != "oss" or credential[4] != "aliyun_v4_request":
        raise ApiError(400, "InvalidArgument", "Invalid credential in Authorization header.")
    access_key_id, date, region, product, _terminator = credential
    found = lookup(access_key_id)
    if found is None:
        raise ApiError(
            403,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
            OSSAccessKeyId=access_key_id,
        )
    secret, principal = found
    if region not in regions:
        raise ApiError(
            400,
            "InvalidArgument",
            f"Invalid signing region in Authorization header: {region}; "
            f"this endpoint serves {', '.join(regions)}.",
        )
    oss_date = headers.get("x-oss-date", "")
    _check_oss_date(oss_date)
    if oss_date[:8] != date:
        raise ApiError(400, "InvalidArgument", "Invalid signing date in Authorization header.")
    additional = [name for name in fields.get("AdditionalHeaders", "").split(";") if name]
    header_items: dict[str, str] = {}
    for name in headers:
        lower = name.lower()
        if (
            lower.startswith("x-oss-")
            or lower in ("content-type", "content-md5")
            or (lower in additional)
        ):
            header_items[lower] = headers.get(name, "")
    canonical_headers = "".join(f"{name}:{header_items[name]}\n" for name in sorted(header_items))
    canonical_request = "\n".join(
        [
            method,
            oss4_canonical_uri(bucket, key),
            oss4_canonical_query(raw_query),
            canonical_headers,
            ";".join(additional),
            headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
        ]
    )
    scope = f"{date}/{region}/{product}/aliyun_v4_request"
    string_to_sign = "\n".join(
        [
            "OSS4-HMAC-SHA256",
            oss_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    signing_key = _hmac_sha256(("aliyun_v4" + secret).encode("utf-8"), date)
    for part in (region, product, "aliyun_v4_request"):
        signing_key = _hmac_sha256(signing_key, part)
    expected = hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        raise ApiError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            OSSAccessKeyId=access_key_id,
            SignatureProvided=fields["Signature"],
            StringToSign=string_to_sign,
            CanonicalRequest=canonical_request,
        )
    return principal


def _check_oss_date(value: str) -> None:
    try:
        when = dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError(403, "AccessDenied", "x-oss-date is missing or malformed.") from None
    if abs(utcnow() - when) > CLOCK_SKEW:
        raise ApiError(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )


# --------------------------------------------------------------------------- AWS SigV4

SIGV4_ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
# aws-chunked with a signature per chunk: OSS accepts it, the emulator does not implement it
SIGNED_STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
# OSS answers 400 NotImplemented "Aws MultiChunkedEncoding <value> is not supported." to the
# trailer variants (what botocore >= 1.36 sends by default for PutObject over HTTPS).
STREAMING_REFUSED_BY_OSS = (
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
)
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNRESERVED = "-_.~"


def _malformed(message: str) -> ApiError:
    return ApiError(400, "AuthorizationHeaderMalformed", message)


def sigv4_canonical_uri(raw_path: str) -> str:
    """AWS's UriEncode of the decoded path, ``/`` kept (S3 neither normalizes nor
    double-encodes). Clients encode keys the same way, so this is their path."""
    return quote(unquote(raw_path or "/"), safe="/" + _UNRESERVED)


def sigv4_canonical_query(raw_query: str) -> str:
    """Names and values decoded, UriEncoded (``/`` too), sorted by name then value."""
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        name, _, value = part.partition("=")
        pairs.append(
            (quote(unquote(name), safe=_UNRESERVED), quote(unquote(value), safe=_UNRESERVED))
        )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def sigv4_canonical_headers(headers: Any, names: Sequence[str]) -> str:
    """``name:value`` lines: values trimmed, inner runs of spaces collapsed, repeats joined."""
    lines = []
    for name in names:
        values = [" ".join(value.split()) for value in _header_values(headers, name)]
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def sigv4_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac_sha256(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac_sha256(key, part)
    return key


def _parse_sigv4_authorization(authorization: str) -> tuple[list[str], list[str], str]:
    if authorization.startswith("AWS "):
        raise ApiError(
            403,
            "AccessDenied",
            "AWS Signature V2 is not accepted by the emulator; sign with AWS4-HMAC-SHA256.",
        )
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != SIGV4_ALGORITHM:
        raise ApiError(400, "InvalidArgument", f"Unsupported Authorization Type: {algorithm}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise _malformed(
            "The authorization header is malformed; it needs Credential, SignedHeaders and "
            "Signature."
        )
    credential = fields["Credential"].split("/")
    if len(credential) != 5 or not all(credential):
        raise _malformed(
            "The authorization header is malformed; the Credential is mal-formed; expecting "
            '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    signed = fields["SignedHeaders"].split(";")
    return credential, signed, fields["Signature"]


def _check_amz_date(value: str) -> dt.datetime:
    try:
        when = dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError(
            403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header"
        ) from None
    now = utcnow()
    if abs(now - when) > CLOCK_SKEW:
        raise ApiError(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            RequestTime=value,
            ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            MaxAllowedSkewMilliseconds=str(int(CLOCK_SKEW.total_seconds() * 1000)),
        )
    return when


def _check_payload_hash(payload_hash: str, headers: Any) -> None:
    """Refuse the payload forms the emulator (or OSS) does not take, before the signature."""
    if not payload_hash:
        raise ApiError(
            400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        )
    encodings = [e.strip().lower() for e in headers.get("Content-Encoding", "").split(",")]
    if payload_hash in STREAMING_REFUSED_BY_OSS:
        raise ApiError(
            400, "NotImplemented", f"Aws MultiChunkedEncoding {payload_hash} is not supported."
        )
    if payload_hash == SIGNED_STREAMING:
        raise ApiError(
            501,
            "NotImplemented",
            "The emulator does not implement aws-chunked uploads "
            f"(x-amz-content-sha256: {SIGNED_STREAMING}); send UNSIGNED-PAYLOAD or the "
            "hex SHA-256 of the body, as AutoMQ's client does over HTTPS.",
        )
    if "aws-chunked" in encodings:
        # https://www.alibabacloud.com/help/en/oss/user-guide/0017-00000804
        raise ApiError(
            400,
            "InvalidArgument",
            "aws-chunked encoding is not supported with the specified x-amz-content-sha256 value.",
            ArgumentName="Content-Encoding",
            ArgumentValue="aws-chunked",
            EC="0017-00000804",
        )
    if payload_hash != UNSIGNED_PAYLOAD and not _HEX_SHA256.match(payload_hash):
        # https://www.alibabacloud.com/help/en/oss/user-guide/0002-00000427
        raise ApiError(
            400,
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the body.",
            ArgumentName="x-amz-content-sha256",
            ArgumentValue=payload_hash,
            EC="0002-00000427",
        )


def verify_sigv4(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Any,
    body: bytes,
    lookup: KeyLookup,
    regions: Collection[str],
) -> Principal:
    """Verify an ``AWS4-HMAC-SHA256`` Authorization header; ``regions``: the signing
    regions accepted in the credential scope. Returns who signed.

    Canonical request (AWS's "Create a signed AWS API request"): method, URI-encoded
    path, sorted URI-encoded query, the ``SignedHeaders`` (lowercase, trimmed), the
    signed header list and ``x-amz-content-sha256`` as the payload hash, which is
    ``UNSIGNED-PAYLOAD`` or the body's hex SHA-256 (checked against the body).
    """
    credential, signed_headers, signature = _parse_sigv4_authorization(
        headers.get("Authorization", "").strip()
    )
    access_key_id, date, region, service, terminator = credential
    if terminator != "aws4_request":
        raise _malformed(
            f"The authorization header is malformed; incorrect terminal {terminator!r}. "
            "This endpoint uses 'aws4_request'."
        )
    if service != "s3":
        raise _malformed(
            f"The authorization header is malformed; incorrect service {service!r}. "
            "This endpoint belongs to 's3'."
        )
    found = lookup(access_key_id)
    if found is None:
        raise ApiError(
            403,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
            OSSAccessKeyId=access_key_id,
        )
    secret, principal = found
    if region not in regions:
        raise _malformed(
            f"The authorization header is malformed; the region {region!r} is wrong; "
            f"expecting one of {', '.join(sorted(regions))}."
        )
    if "host" not in signed_headers:
        raise _malformed("The authorization header is malformed; the host header must be signed.")
    if "x-amz-date" not in signed_headers:
        raise _malformed(
            "The authorization header is malformed; the x-amz-date header must be signed."
        )
    unsigned = sorted(
        {
            name.lower()
            for name in headers
            if name.lower().startswith("x-amz-") and name.lower() not in signed_headers
        }
    )
    if unsigned:
        raise ApiError(
            403,
            "AccessDenied",
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )
    amz_date = headers.get("x-amz-date", "")
    _check_amz_date(amz_date)
    if amz_date[:8] != date:
        raise _malformed(
            f"The authorization header is malformed; Invalid credential date {date!r}. "
            "Date is not the same as X-Amz-Date."
        )
    payload_hash = headers.get("x-amz-content-sha256", "")
    _check_payload_hash(payload_hash, headers)
    canonical_request = "\n".join(
        [
            method,
            sigv4_canonical_uri(raw_path),
            sigv4_canonical_query(raw_query),
            sigv4_canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )
    scope = f"{date}/{region}/{service}/{terminator}"
    string_to_sign = "\n".join(
        [
            SIGV4_ALGORITHM,
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        ]
    )
    key = sigv4_signing_key(secret, date, region, service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ApiError(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            AWSAccessKeyId=access_key_id,
            SignatureProvided=signature,
            StringToSign=string_to_sign,
            CanonicalRequest=canonical_request,
        )
    if payload_hash != UNSIGNED_PAYLOAD:
        computed = hashlib.sha256(body).hexdigest()
        if computed != payload_hash:
            raise ApiError(
                400,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ClientComputedContentSHA256=payload_hash,
                S3ComputedContentSHA256=computed,
            )
    return principal


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    return parse_qsl(raw_query, keep_blank_values=True)
