"""Request signatures and RAM policy evaluation.

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
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

from .util import ApiError, utcnow, wildcard_match


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


# --------------------------------------------------------------------------- policies


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def policy_statements(document: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError:
        return []
    statements = parsed.get("Statement", []) if isinstance(parsed, dict) else []
    return [s for s in _as_list(statements) if isinstance(s, dict)]


def statement_matches(
    statement: Mapping[str, Any],
    action: str,
    resource: str | None,
    principal_ids: Sequence[str] | None = None,
) -> bool:
    """Whether a statement applies. Statements with a ``Condition`` never apply:
    the emulator cannot evaluate source VPCs or IPs."""
    if statement.get("Condition"):
        return False
    actions = [str(a) for a in _as_list(statement.get("Action"))]
    if not any(wildcard_match(pattern.lower(), action.lower()) for pattern in actions):
        return False
    if resource is not None:
        resources = [str(r) for r in _as_list(statement.get("Resource"))]
        if not any(wildcard_match(pattern, resource) for pattern in resources):
            return False
    if principal_ids is not None:
        principals = [str(p) for p in _as_list(statement.get("Principal"))] or ["*"]
        if not any(p == "*" or p in principal_ids for p in principals):
            return False
    return True


def evaluate(
    documents: Iterable[str],
    action: str,
    resource: str | None,
    resource_policy: str | None = None,
    principal_ids: Sequence[str] = (),
) -> bool:
    """RAM-style evaluation: an explicit Deny wins, otherwise an Allow is needed."""
    allowed = False
    candidates: list[tuple[dict[str, Any], Sequence[str] | None]] = []
    for document in documents:
        candidates += [(s, None) for s in policy_statements(document)]
    if resource_policy:
        candidates += [(s, principal_ids) for s in policy_statements(resource_policy)]
    for statement, principals in candidates:
        if not statement_matches(statement, action, resource, principals):
            continue
        if str(statement.get("Effect", "")).lower() == "deny":
            return False
        if str(statement.get("Effect", "")).lower() == "allow":
            allowed = True
    return allowed


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    return parse_qsl(raw_query, keep_blank_values=True)
