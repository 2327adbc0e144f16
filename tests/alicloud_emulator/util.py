"""Helpers shared by every product: errors, identifiers, timestamps, request parameters."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import secrets
import string
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

_ALNUM_LOWER = string.ascii_lowercase + string.digits
_ALNUM = string.ascii_letters + string.digits


class ApiError(Exception):
    """An error answered to the caller in the product's own format.

    RPC products answer ``{"RequestId", "HostId", "Code", "Message"}`` as JSON,
    OSS answers ``<Error>...</Error>`` XML; ``extra`` adds fields to either.
    """

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def missing(name: str) -> ApiError:
    return ApiError(
        400,
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request '
        "is not supplied.",
    )


def invalid(name: str, detail: str = "", code: str = "InvalidParameter") -> ApiError:
    message = f'The specified parameter "{name}" is not valid.'
    if detail:
        message = f"{message} {detail}"
    return ApiError(400, code, message)


def request_id() -> str:
    return str(uuid.uuid4()).upper()


def short_id(prefix: str, length: int = 17) -> str:
    """An ID in the cloud's style, marked as an emulator ID: ``vpc-emu4k2...``."""
    return prefix + "emu" + "".join(secrets.choice(_ALNUM_LOWER) for _ in range(length))


def random_string(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_digits(length: int) -> str:
    return str(secrets.randbelow(9) + 1) + "".join(
        secrets.choice(string.digits) for _ in range(length - 1)
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_seconds(when: dt.datetime) -> str:
    """``2026-01-01T10:00:00Z`` (VPC, RAM)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_minutes(when: dt.datetime) -> str:
    """``2026-01-01T10:00Z`` (ECS, PrivateZone)."""
    return when.strftime("%Y-%m-%dT%H:%MZ")


def iso_millis(when: dt.datetime) -> str:
    """``2026-01-01T10:00:00.000Z`` (OSS)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def epoch_millis(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def wildcard_match(pattern: str, value: str) -> bool:
    """Match ``*`` and ``?`` wildcards, as the cloud's policies and name filters do."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


@dataclass
class Params:
    """The flattened parameters of an RPC call (``Tag.1.Key=...``)."""

    data: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        return default if value is None or value == "" else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing(name)
        return value

    def int(
        self,
        name: str,
        default: int,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(name, f"{raw!r} is not an integer.") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise invalid(name, f"It must be between {minimum} and {maximum}.")
        return value

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is not None and raw.lower() not in ("true", "false"):
            raise invalid(name, f"{raw!r} is not a boolean.")
        return parse_bool(raw, default)

    def indexed(self, prefix: str) -> list[str]:
        """Values of ``Prefix.1``, ``Prefix.2``... in index order."""
        found: dict[int, str] = {}
        pattern = re.compile(re.escape(prefix) + r"\.(\d+)$")
        for key, value in self.data.items():
            match = pattern.match(key)
            if match and value != "":
                found[int(match.group(1))] = value
        return [found[index] for index in sorted(found)]

    def indexed_objects(self, prefix: str) -> list[dict[str, str]]:
        """Objects of ``Prefix.1.Field=...`` in index order."""
        found: dict[int, dict[str, str]] = {}
        pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)$")
        for key, value in self.data.items():
            match = pattern.match(key)
            if match:
                found.setdefault(int(match.group(1)), {})[match.group(2)] = value
        return [found[index] for index in sorted(found)]

    def tags(self, prefix: str = "Tag") -> list[tuple[str, str | None]]:
        tags = []
        for entry in self.indexed_objects(prefix):
            key = entry.get("Key", "")
            if key == "":
                raise invalid(f"{prefix}.N.Key", "A tag key must not be empty.")
            value = entry.get("Value")
            tags.append((key, value))
        return tags

    def id_list(self, name: str) -> list[str] | None:
        """A list given as a JSON array string, as ``Name.N`` or comma-separated."""
        raw = self.get(name)
        if raw is not None:
            if raw.lstrip().startswith("["):
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError:
                    raise invalid(name, "It must be a JSON array of strings.") from None
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise invalid(name, "It must be a JSON array of strings.")
                return value
            return [part.strip() for part in raw.split(",") if part.strip()]
        indexed = self.indexed(name)
        return indexed or None


def tags_match(resource_tags: dict[str, str], wanted: Sequence[tuple[str, str | None]]) -> bool:
    for key, value in wanted:
        if key not in resource_tags:
            return False
        if value is not None and resource_tags[key] != value:
            return False
    return True


def apply_tags(tags: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in tags:
        result[key] = value or ""
    if len(result) > 20:
        raise invalid("Tag", "At most 20 tags are allowed.")
    return result


def paginate(
    items: Sequence[Any], params: Params, default_size: int, max_size: int
) -> tuple[list[Any], int, int]:
    page_number = params.int("PageNumber", 1, minimum=1)
    page_size = params.int("PageSize", default_size, minimum=1, maximum=max_size)
    start = (page_number - 1) * page_size
    return list(items[start : start + page_size]), page_number, page_size


def token_paginate(
    items: Sequence[Any], params: Params, default_size: int, max_size: int
) -> tuple[list[Any], str]:
    """``NextToken``/``MaxResults`` pagination; the token is the next offset."""
    size = params.int("MaxResults", default_size, minimum=1, maximum=max_size)
    token = params.get("NextToken")
    start = 0
    if token is not None:
        if not token.startswith("emu-") or not token[4:].isdigit():
            raise invalid("NextToken", code="InvalidNextToken.Malformed")
        start = int(token[4:])
    page = list(items[start : start + size])
    following = start + size
    return page, (f"emu-{following}" if following < len(items) else "")


def parse_cidr(name: str, value: str, code: str = "InvalidCidrBlock.Malformed") -> Any:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ApiError(
            400, code, f"Specified {name} {value!r} is not a valid CIDR block."
        ) from None
    if network.version != 4:
        raise ApiError(400, code, f"Specified {name} {value!r} is not an IPv4 CIDR block.")
    return network
