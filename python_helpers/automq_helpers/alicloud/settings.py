"""Where each module connects, and with which credentials: the options-then-environment rules.

Per service (``ecs``, ``vpc``, ``ram``, ``pvtz``, ``sts``, ``oss``) the endpoint is, in
order: the module's ``endpoint`` option (for the module's own service), the environment
variable ``AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT``, else the SDK's public default for the
region. An endpoint is ``host[:port]`` or a URL ``http(s)://host[:port]``; the ``protocol``
option (default ``https``) applies when it carries no scheme. So one ``environment:`` block
can point every module of a play at a local emulator.

The region is the ``region`` option or ``ALIBABA_CLOUD_REGION_ID``. Credentials are the
``access_key_id``/``access_key_secret`` (+ ``security_token``) options when given, else the
SDK's default chain (environment, OIDC, profile, ECS RAM role, credentials URI).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "GLOBAL_SERVICES",
    "REGION_ENV",
    "SERVICES",
    "ConnectionSettings",
    "Endpoint",
    "SettingsError",
    "StaticCredentials",
    "connection_settings",
    "endpoint_env_var",
    "parse_endpoint",
    "resolve_endpoint",
    "resolve_region",
]

SERVICES = ("ecs", "vpc", "ram", "pvtz", "sts", "oss")
GLOBAL_SERVICES = frozenset({"ram", "pvtz", "sts"})
"""Services whose API is not regional: they work without a region."""
REGION_ENV = "ALIBABA_CLOUD_REGION_ID"
PROTOCOLS = ("http", "https")


class SettingsError(ValueError):
    """The connection options contradict each other; the message names the option."""


def endpoint_env_var(service: str) -> str:
    return f"AUTOMQ_ALICLOUD_{service.upper()}_ENDPOINT"


@dataclass(frozen=True)
class Endpoint:
    """``host`` is ``None`` for the SDK's default endpoint of the region."""

    host: str | None
    protocol: str = "https"

    @property
    def url(self) -> str | None:
        return f"{self.protocol}://{self.host}" if self.host else None


@dataclass(frozen=True)
class StaticCredentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConnectionSettings:
    region: str | None
    credentials: StaticCredentials | None
    endpoints: Mapping[str, Endpoint]

    def endpoint(self, service: str) -> Endpoint:
        return self.endpoints.get(service, Endpoint(None))


def _check_protocol(protocol: str, origin: str) -> str:
    lowered = protocol.strip().lower()
    if lowered not in PROTOCOLS:
        raise SettingsError(f"{origin} is {protocol!r}: use http or https")
    return lowered


def parse_endpoint(value: str, protocol: str | None = None, origin: str = "endpoint") -> Endpoint:
    """Parse ``host[:port]`` or ``scheme://host[:port]`` (a trailing ``/`` is ignored)."""
    text = value.strip()
    scheme: str | None = None
    if "://" in text:
        raw_scheme, text = text.split("://", 1)
        scheme = _check_protocol(raw_scheme, f"the scheme of {origin} {value!r}")
    text = text.rstrip("/")
    if not text or "/" in text or any(ch.isspace() for ch in text):
        raise SettingsError(
            f"{origin} is {value!r}: expected host[:port] or http(s)://host[:port], no path"
        )
    chosen = _check_protocol(protocol, "protocol") if protocol else None
    if scheme and chosen and scheme != chosen:
        raise SettingsError(
            f"{origin} {value!r} says {scheme} but protocol is {chosen}: drop one of them"
        )
    return Endpoint(text, scheme or chosen or "https")


def resolve_endpoint(
    service: str,
    endpoint: str | None,
    protocol: str | None,
    environ: Mapping[str, str],
) -> Endpoint:
    """The endpoint option, else ``AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT``, else the default."""
    if service not in SERVICES:
        raise SettingsError(f"unknown service {service!r}: expected one of {', '.join(SERVICES)}")
    if endpoint:
        return parse_endpoint(endpoint, protocol, "endpoint")
    variable = endpoint_env_var(service)
    from_env = environ.get(variable, "").strip()
    if from_env:
        return parse_endpoint(from_env, protocol, variable)
    return Endpoint(None, _check_protocol(protocol, "protocol") if protocol else "https")


def resolve_region(region: str | None, environ: Mapping[str, str]) -> str | None:
    value = (region or environ.get(REGION_ENV, "")).strip()
    return value or None


def connection_settings(
    params: Mapping[str, object],
    environ: Mapping[str, str],
    service: str,
    other_services: Iterable[str] = (),
) -> ConnectionSettings:
    """Build the settings of a module whose own service is ``service``.

    ``params`` holds the common options (``region``, ``endpoint``, ``protocol``,
    ``access_key_id``, ``access_key_secret``, ``security_token``); ``other_services`` are
    reached through their environment variable or default endpoint only.
    """

    def text(name: str) -> str | None:
        value = params.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise SettingsError(f"{name} must be a string, got {type(value).__name__}")
        return value.strip() or None

    region = resolve_region(text("region"), environ)
    if region is None and service not in GLOBAL_SERVICES:
        raise SettingsError(
            f"no region: set the region option or {REGION_ENV} (for example cn-hangzhou)"
        )
    key_id, secret, token = text("access_key_id"), text("access_key_secret"), text("security_token")
    if bool(key_id) != bool(secret):
        raise SettingsError(
            "access_key_id and access_key_secret go together: pass both, or neither to use "
            "the default credential chain"
        )
    if token and not key_id:
        raise SettingsError("security_token needs access_key_id and access_key_secret as well")
    credentials = StaticCredentials(key_id, secret, token) if key_id and secret else None
    protocol = text("protocol")
    endpoints = {service: resolve_endpoint(service, text("endpoint"), protocol, environ)}
    for other in other_services:
        if other != service:
            endpoints[other] = resolve_endpoint(other, None, None, environ)
    return ConnectionSettings(region=region, credentials=credentials, endpoints=endpoints)
