"""Build SDK clients from :class:`~.settings.ConnectionSettings`.

The package (``automq_helpers.alicloud``, whose ``__init__.py`` stays empty as ansible-test
requires of module_utils) holds the pure logic behind the automq.alicloud collection,
unit tested without the cloud: endpoint and credential resolution, retry with backoff,
API errors as one clear sentence, and the reconcile helpers (tags, security group rules,
instance placement, OSS lifecycle, RAM and bucket policies, DNS records, AccessKeys).
Nothing in it imports Ansible.

This is the only module of the package that imports the Alibaba Cloud SDKs, each lazily
inside the function that needs it, so the pure modules (and their tests) never require them:

* ECS, VPC, RAM, PrivateZone, STS: the V2.0 (Tea) clients ``alibabacloud_<product>``,
  ``Config(endpoint=..., protocol=...)`` for an explicit endpoint, signed ACS3-HMAC-SHA256;
* OSS: ``alibabacloud_oss_v2`` (OSS4-HMAC-SHA256 signatures), its own retryer switched off
  because :func:`~.retry.retry_call` retries every call.

Without static keys both use ``alibabacloud_credentials.client.Client()``, the default chain.
"""

from __future__ import annotations

import importlib
from typing import Any

from .settings import GLOBAL_SERVICES, ConnectionSettings

__all__ = [
    "SDK_PACKAGES",
    "credential_client",
    "missing_sdks",
    "openapi_client",
    "oss_client",
    "sdk_models",
]

SDK_PACKAGES = {
    "ecs": "alibabacloud_ecs20140526",
    "vpc": "alibabacloud_vpc20160428",
    "ram": "alibabacloud_ram20150501",
    "pvtz": "alibabacloud_pvtz20180101",
    "sts": "alibabacloud_sts20150401",
    "oss": "alibabacloud_oss_v2",
}
PIP_NAMES = {
    "ecs": "alibabacloud-ecs20140526",
    "vpc": "alibabacloud-vpc20160428",
    "ram": "alibabacloud-ram20150501",
    "pvtz": "alibabacloud-pvtz20180101",
    "sts": "alibabacloud-sts20150401",
    "oss": "alibabacloud-oss-v2",
}
_CENTRAL_ENDPOINTS = {
    "ram": "ram.aliyuncs.com",
    "pvtz": "pvtz.aliyuncs.com",
    "sts": "sts.aliyuncs.com",
}
READ_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_MS = 10_000


def missing_sdks(services: list[str]) -> list[str]:
    """pip names of the SDKs (and the credentials library) that cannot be imported."""
    missing = []
    for name, pip_name in [
        *((SDK_PACKAGES[s], PIP_NAMES[s]) for s in services),
        ("alibabacloud_credentials", "alibabacloud-credentials"),
    ]:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(pip_name)
    return missing


def sdk_models(service: str) -> Any:
    """The ``models`` module of a Tea SDK (``alibabacloud_ecs20140526.models``)."""
    return importlib.import_module(f"{SDK_PACKAGES[service]}.models")


def credential_client(settings: ConnectionSettings) -> Any:
    """The static keys of the settings, else the SDK's default credential chain."""
    credentials_client = importlib.import_module("alibabacloud_credentials.client")
    credentials_models = importlib.import_module("alibabacloud_credentials.models")
    static = settings.credentials
    if static is None:
        return credentials_client.Client()
    config = credentials_models.Config(
        type="sts" if static.security_token else "access_key",
        access_key_id=static.access_key_id,
        access_key_secret=static.access_key_secret,
        security_token=static.security_token,
    )
    return credentials_client.Client(config)


def openapi_client(service: str, settings: ConnectionSettings, credential: Any = None) -> Any:
    """A Tea client of ECS, VPC, RAM, PrivateZone or STS."""
    if service == "oss":
        raise ValueError("use oss_client() for OSS")
    utils_models = importlib.import_module("alibabacloud_tea_openapi.utils_models")
    client_module = importlib.import_module(f"{SDK_PACKAGES[service]}.client")
    endpoint = settings.endpoint(service)
    host = endpoint.host
    if host is None and service in GLOBAL_SERVICES and settings.region is None:
        host = _CENTRAL_ENDPOINTS[service]
    config = utils_models.Config(
        credential=credential if credential is not None else credential_client(settings),
        region_id=settings.region,
        endpoint=host,
        protocol=endpoint.protocol,
        read_timeout=READ_TIMEOUT_MS,
        connect_timeout=CONNECT_TIMEOUT_MS,
    )
    return client_module.Client(config)


def oss_client(settings: ConnectionSettings, credential: Any = None) -> Any:
    """An oss-v2 client signing with V4; path style for IP endpoints (the SDK's rule)."""
    oss = importlib.import_module("alibabacloud_oss_v2")
    chain = credential if credential is not None else credential_client(settings)

    def fetch() -> Any:
        model = chain.get_credential()
        return oss.Credentials(
            model.access_key_id, model.access_key_secret, model.security_token or None
        )

    config = oss.config.load_default()
    config.region = settings.region
    config.credentials_provider = oss.credentials.CredentialsProviderFunc(fetch)
    config.retryer = oss.retry.NopRetryer()
    config.connect_timeout = CONNECT_TIMEOUT_MS / 1000
    config.readwrite_timeout = READ_TIMEOUT_MS / 1000
    endpoint = settings.endpoint("oss")
    if endpoint.url is not None:
        config.endpoint = endpoint.url
        host = (endpoint.host or "").rsplit(":", 1)[0]
        if host == "localhost":
            config.use_path_style = True
    elif endpoint.protocol == "http":
        config.disable_ssl = True
    return oss.Client(config)
