"""Official-SDK clients wired to an emulator, for tests (needs the SDK packages).

``rpc_config``/``make_clients`` build what a module builds (static keys,
``Config(endpoint='127.0.0.1:PORT', protocol='http')``); ``check_answers_parse``
proves every answer the emulator gave round-trips through the SDK's response
models (``from_map`` then ``to_map`` gives the same document back).
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from typing import Any

import alibabacloud_oss_v2 as oss
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_pvtz20180101.client import Client as PvtzClient
from alibabacloud_ram20150501.client import Client as RamClient
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_vpc20160428.client import Client as VpcClient

from .server import Emulator

SDK_MODELS = {
    "ecs": "alibabacloud_ecs20140526.models",
    "vpc": "alibabacloud_vpc20160428.models",
    "ram": "alibabacloud_ram20150501.models",
    "pvtz": "alibabacloud_pvtz20180101.models",
    "sts": "alibabacloud_sts20150401.models",
}
ERROR_FIELDS = {"RequestId", "HostId", "Code", "Message"}


def rpc_config(
    emulator: Emulator,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    **options: Any,
) -> open_api_models.Config:
    """What a module builds: static keys, the emulator's endpoint, plain HTTP."""
    return open_api_models.Config(
        access_key_id=access_key_id or emulator.access_key_id,
        access_key_secret=access_key_secret or emulator.access_key_secret,
        endpoint=options.pop("endpoint", emulator.rpc_endpoint),
        protocol="http",
        region_id=emulator.region_id,
        **options,
    )


def oss_client(
    emulator: Emulator,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    **options: Any,
) -> oss.Client:
    config = oss.config.load_default()
    config.credentials_provider = oss.credentials.StaticCredentialsProvider(
        access_key_id or emulator.access_key_id, access_key_secret or emulator.access_key_secret
    )
    config.region = options.pop("region", emulator.region_id)
    config.endpoint = options.pop("endpoint", emulator.oss_endpoint)
    config.retry_max_attempts = 1
    for name, value in options.items():
        setattr(config, name, value)
    return oss.Client(config)


@dataclass
class Clients:
    ecs: EcsClient
    vpc: VpcClient
    ram: RamClient
    pvtz: PvtzClient
    sts: StsClient
    oss: oss.Client


def make_clients(
    emulator: Emulator, access_key_id: str | None = None, access_key_secret: str | None = None
) -> Clients:
    config = rpc_config(emulator, access_key_id, access_key_secret)
    return Clients(
        ecs=EcsClient(copy.copy(config)),
        vpc=VpcClient(copy.copy(config)),
        ram=RamClient(copy.copy(config)),
        pvtz=PvtzClient(copy.copy(config)),
        sts=StsClient(copy.copy(config)),
        oss=oss_client(emulator, access_key_id, access_key_secret),
    )


def check_answers_parse(emulator: Emulator) -> None:
    """Every RPC answer round-trips through the SDK's response body model."""
    problems = []
    for record in list(emulator.calls):
        if record.product not in SDK_MODELS:
            continue
        if record.status >= 400:
            if not set(record.response) <= ERROR_FIELDS:
                problems.append(f"{record.action} error has {sorted(record.response)}")
            continue
        models = importlib.import_module(SDK_MODELS[record.product])
        model = getattr(models, f"{record.action}ResponseBody")
        parsed = model().from_map(copy.deepcopy(record.response)).to_map()
        if parsed != record.response:
            problems.append(f"{record.product} {record.action}: {_diff(record.response, parsed)}")
    assert not problems, "answers the SDK models do not round-trip:\n" + "\n".join(problems)


def _diff(sent: Any, parsed: Any, path: str = "") -> str:
    if isinstance(sent, dict) and isinstance(parsed, dict):
        for key in sorted(set(sent) | set(parsed)):
            if sent.get(key) != parsed.get(key):
                return _diff(sent.get(key), parsed.get(key), f"{path}.{key}")
    if isinstance(sent, list) and isinstance(parsed, list) and len(sent) == len(parsed):
        for index, (a, b) in enumerate(zip(sent, parsed, strict=True)):
            if a != b:
                return _diff(a, b, f"{path}[{index}]")
    return f"{path or '.'}: sent {sent!r}, SDK kept {parsed!r}"
