"""Turn Alibaba Cloud SDK exceptions into one clear sentence: what failed, why, what to do.

The SDKs raise several unrelated exception types: Tea/Darabonba ``ClientException``,
``ServerException`` and ``ThrottlingException`` (``code``, ``message``, ``data``,
``statusCode``/``status_code``, ``request_id``, ``accessDeniedDetail``), their
``UnretryableException`` wrapping a network error, oss-v2's ``OperationError`` wrapping a
``ServiceError`` (``status_code``, ``code``, ``message``, ``request_id``, ``ec``) or a
``RequestError``, and ``CredentialException`` from the credential chain. They are read here
by duck typing, so this module imports no SDK and is tested with plain stand-ins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "SERVICE_NAMES",
    "AlicloudError",
    "ApiError",
    "Operation",
    "api_error_from",
    "explain",
]

Kind = Literal["service", "credentials", "network", "client"]

SERVICE_NAMES: Mapping[str, str] = {
    "ecs": "ECS",
    "vpc": "VPC",
    "ram": "RAM",
    "pvtz": "PrivateZone",
    "sts": "STS",
    "oss": "OSS",
}

_TEA_MESSAGE = re.compile(r"^code: \d+, (?P<message>.*?)(?: request id: \S*)?$", re.DOTALL)
_ERRNO = re.compile(r"\[Errno -?\d+\] [^\"')\]]+|timed out|Read timed out")
_NETWORK_CLASS_HINTS = ("ConnectionError", "Timeout", "MaxRetryError", "NewConnectionError")


@dataclass(frozen=True)
class ApiError:
    """What an SDK exception says, whatever its type.

    ``kind`` is ``service`` for an answer of the API, ``credentials`` when no usable
    credentials were found, ``network`` when the endpoint could not be reached and
    ``client`` for anything else raised before a request was sent.
    """

    code: str
    message: str
    kind: Kind = "service"
    status: int | None = None
    request_id: str | None = None
    auth_action: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Operation:
    """One API call, as the error message names it.

    ``service`` is the SDK's service key (``ecs``, ``vpc``, ``ram``, ``pvtz``, ``sts``,
    ``oss``), ``api`` the action (``RunInstances``), ``what`` a phrase completing
    "Could not ..." (``create ECS instance 'automq-1'``).
    """

    service: str
    api: str
    what: str

    @property
    def permission(self) -> str:
        return f"{self.service}:{self.api}"

    @property
    def service_name(self) -> str:
        return SERVICE_NAMES.get(self.service, self.service.upper())


class AlicloudError(Exception):
    """An API call failed; ``str()`` is the sentence to show the user."""

    def __init__(self, message: str, error: ApiError | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error = error


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if text and text != "None" else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def _first(*values: Any) -> Any:
    for value in values:
        if _text(value) is not None:
            return value
    return None


def _is_network(exc: BaseException) -> bool:
    if isinstance(exc, OSError | TimeoutError):
        return True
    # Darabonba turns the IOError of requests into RetryError(str(error)).
    if type(exc).__name__ == "RetryError" or isinstance(exc.__context__, OSError):
        return True
    return any(hint in cls.__name__ for cls in type(exc).__mro__ for hint in _NETWORK_CLASS_HINTS)


def _unwrap(exc: BaseException) -> BaseException:
    """Follow the wrappers the SDKs put around the interesting exception."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "inner_exception", None)
        if inner is None and callable(getattr(exc, "unwrap", None)):
            try:
                inner = exc.unwrap()  # type: ignore[attr-defined]
            except Exception:
                inner = None
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def _service_error(exc: BaseException) -> ApiError:
    data = getattr(exc, "data", None)
    data = data if isinstance(data, Mapping) else {}
    code = _text(_first(getattr(exc, "code", None), data.get("Code"), data.get("code"))) or ""
    raw_message = _text(
        _first(data.get("Message"), data.get("message"), getattr(exc, "message", None))
    )
    message = raw_message or ""
    match = _TEA_MESSAGE.match(message)
    if match:
        message = match.group("message").strip()
    status = _int(
        _first(
            getattr(exc, "status_code", None),
            getattr(exc, "statusCode", None),
            data.get("statusCode"),
        )
    )
    request_id = _text(
        _first(getattr(exc, "request_id", None), data.get("RequestId"), data.get("requestId"))
    )
    detail = _first(
        getattr(exc, "access_denied_detail", None),
        getattr(exc, "accessDeniedDetail", None),
        data.get("AccessDeniedDetail"),
    )
    auth_action = _text(detail.get("AuthAction")) if isinstance(detail, Mapping) else None
    retry_after_raw = getattr(exc, "retry_after", None)
    retry_after = (
        float(retry_after_raw) / 1000.0
        if isinstance(retry_after_raw, int | float) and not isinstance(retry_after_raw, bool)
        else None
    )
    kind: Kind = "service"
    if code == "InvalidCredentials":
        kind = "credentials"
    return ApiError(
        code=code,
        message=message,
        kind=kind,
        status=status,
        request_id=request_id,
        auth_action=auth_action,
        retry_after=retry_after,
    )


def api_error_from(exc: BaseException) -> ApiError:
    """Read code, message, status and request ID from any SDK exception."""
    inner = _unwrap(exc)
    name = type(inner).__name__
    if name == "CredentialException" or name.startswith("Credentials"):
        message = _text(getattr(inner, "message", None)) or str(inner)
        return ApiError(code="", message=message, kind="credentials")
    if _text(getattr(inner, "code", None)) is not None or hasattr(inner, "status_code"):
        return _service_error(inner)
    if _is_network(inner):
        text = _text(getattr(inner, "message", None)) or str(inner) or name
        reason = _ERRNO.search(text)
        return ApiError(code="", message=reason.group(0) if reason else text, kind="network")
    # A Tea UnretryableException built from a non-Tea error keeps only repr() as message.
    message = _text(getattr(inner, "message", None)) or str(inner) or name
    return ApiError(code="", message=message, kind="client")


# --- explanations -------------------------------------------------------------------------

_CREDENTIAL_SOURCES = (
    "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, configure a profile "
    "in ~/.aliyun/config.json (ALIBABA_CLOUD_PROFILE), run on an ECS instance with a RAM role, "
    "or pass access_key_id and access_key_secret"
)


def _endpoint_hint(operation: Operation) -> str:
    env = f"AUTOMQ_ALICLOUD_{operation.service.upper()}_ENDPOINT"
    return f"the endpoint option or {env}"


def _reason(error: ApiError, operation: Operation, region: str | None, endpoint: str | None) -> str:
    code = error.code
    message = error.message.rstrip(".")
    service = operation.service_name
    if error.kind == "credentials":
        return f"no usable Alibaba Cloud credentials were found ({message}): {_CREDENTIAL_SOURCES}"
    if error.kind == "network":
        where = f" {endpoint}" if endpoint else ""
        return (
            f"cannot reach the {service} endpoint{where} ({message}): check "
            f"{_endpoint_hint(operation)}, the network and any proxy settings"
        )
    if error.kind == "client":
        return f"the request was not sent ({message})"

    if code in ("InvalidAccessKeyId.NotFound", "InvalidAccessKeyId"):
        return (
            "the AccessKey ID is not known to Alibaba Cloud: check "
            "ALIBABA_CLOUD_ACCESS_KEY_ID or your profile"
        )
    if code == "InvalidAccessKeyId.Inactive":
        return "the AccessKey is disabled: enable it in the RAM console or use another one"
    if code in ("SignatureDoesNotMatch", "IncompleteSignature", "InvalidSignature"):
        return (
            "the AccessKey secret does not match the AccessKey ID: check "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET or your profile"
        )
    if code.startswith("InvalidSecurityToken") or code in ("SecurityTokenExpired",):
        return (
            "the STS security token is expired or invalid: obtain fresh credentials "
            "(ALIBABA_CLOUD_SECURITY_TOKEN, profile or ECS RAM role) and re-run"
        )
    if code in ("InvalidTimeStamp.Expired", "RequestTimeTooSkewed", "InvalidTimeStamp.Format"):
        return "the clock of this machine is off by more than 15 minutes: synchronize it (NTP)"
    if (
        code in ("Forbidden.RAM", "Forbidden", "NoPermission", "AccessDenied", "NotAuthorized")
        or code.startswith(("Forbidden.", "NoPermission.", "AccessDenied."))
        or code == "Unauthorized"
    ):
        permission = error.auth_action or operation.permission
        return (
            f"this identity lacks the RAM permission {permission}: grant it to the calling "
            f"RAM user or role (a custom policy allowing {permission}) and re-run"
        )
    if code.startswith("InvalidRegionId") or code in ("UnsupportedRegion", "InvalidRegion"):
        where = f"region {region}" if region else "the region"
        return (
            f"{where} is not known to {service}: check the region option or ALIBABA_CLOUD_REGION_ID"
        )
    if code.startswith("Throttling"):
        return (
            f"{service} kept throttling the requests although they were retried with backoff: "
            "wait a minute and re-run, or run fewer tasks in parallel (forks)"
        )
    if code in ("ServiceUnavailable", "ServiceUnavailableTemporary") or error.status == 503:
        return f"{service} is temporarily unavailable: re-run later"
    if code in ("InternalError", "InternalError.Unknown", "UnknownError"):
        return (
            f"{service} reported an internal error: re-run; if it persists, open a ticket "
            "with the request ID"
        )
    if code.startswith("InvalidAction") or code in ("InvalidApi.NotFound", "UnsupportedAction"):
        return (
            f"the {service} endpoint does not offer this API ({message}): check "
            f"{_endpoint_hint(operation)} and that the endpoint is {service}'s"
        )
    if code == "LimitExceeded.User.AccessKey":
        return "a RAM user can hold at most 2 AccessKeys: delete an unused one first"
    if code == "LimitExceeded.Policy.Version":
        return "a RAM policy keeps at most 5 versions: delete an old non-default version first"
    if "QuotaExceed" in code or code.startswith("LimitExceeded") or "LimitExceeded" in code:
        return (
            f"an account quota is exhausted ({message}): delete unused resources or raise "
            "the quota in the Quota Center"
        )
    if code in ("Account.Arrearage", "InvalidAccountStatus.NotEnoughBalance") or (
        "Arrearage" in code or "NotEnoughBalance" in code
    ):
        return "the account has an overdue payment or too little balance: top it up"
    if code in (
        "OperationDenied.NoStock",
        "Zone.NotOnSale",
        "InvalidResourceType.NotSupported",
        "InvalidInstanceType.NotSupported",
        "InvalidInstanceType.ValueNotSupported",
        "InvalidInstanceType.ValueUnauthorized",
        "ResourceNotAvailable",
    ) or code.startswith("OperationDenied.NoStock"):
        return (
            f"the instance type is not available there right now ({message}): choose "
            "another zone (vSwitch) or another supported instance type"
        )
    if code == "BucketNotEmpty":
        return (
            "the bucket still holds objects or unfinished uploads: empty it first, or set "
            "purge: true to delete its contents"
        )
    if code == "BucketAlreadyExists":
        return (
            "the bucket name is taken, possibly by another account (OSS bucket names are "
            "global): choose another name"
        )
    if code.startswith(("DependencyViolation", "DeleteConflict")) or ".DependencyViolation" in (
        code
    ):
        return f"it is still in use ({message}): remove what depends on it first"
    if (
        code.startswith(("IncorrectStatus", "IncorrectInstanceStatus", "IncorrectVpcStatus"))
        or code in ("OperationConflict", "LastTokenProcessing", "TaskConflict")
        or "IncorrectStatus" in code
    ):
        return f"the resource is busy with another operation ({message}): wait and re-run"
    if "AlreadyExist" in code or code.endswith(".Duplicate") or "Duplicate" in code:
        return f"it already exists ({message}): pick another name or let the module adopt it"
    if (
        code.endswith(".NotFound")
        or "NotFound" in code
        or code.startswith(("EntityNotExist", "NoSuch"))
        or "NotExist" in code
    ):
        return (
            f"a resource it refers to does not exist ({message}): check the IDs and names "
            "passed to the module; it may have been deleted outside Ansible"
        )
    if (
        code.startswith(("Invalid", "Missing", "Malformed"))
        or code in ("UnsupportedOperation", "InvalidArgument", "InvalidParameter")
        or error.status == 400
    ):
        return f"{service} rejected the request ({message}): fix the module arguments"
    return message or f"{service} answered HTTP {error.status}"


def explain(
    error: ApiError,
    operation: Operation,
    *,
    region: str | None = None,
    endpoint: str | None = None,
) -> str:
    """One sentence: what could not be done, why, and what to do about it."""
    reason = _reason(error, operation, region, endpoint)
    reference = [part for part in (error.code,) if part]
    if error.request_id:
        reference.append(f"request ID {error.request_id}")
    suffix = f" [{', '.join(reference)}]" if reference else ""
    return f"Could not {operation.what} ({operation.api}): {reason}{suffix}."
