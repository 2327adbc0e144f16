"""The AccessKey contract of the ``ram_access_key`` module, as a pure decision.

Alibaba Cloud shows an AccessKey secret exactly once, in the CreateAccessKey answer. So:

* a user without a key gets one; the secret is returned by that run only (and written to
  ``secret_file`` when given);
* a user with a key the caller names (``user_access_key_id``, e.g. from the vault, or read from
  ``secret_file``) is left alone: no change, no secret;
* a user with a key the caller does not name is an error, never a silent second key: the
  message lists the keys and says how to proceed (name the key you hold, or delete it);
* ``state: absent`` deletes the named key only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "AccessKeyError",
    "KeyDecision",
    "KeyInfo",
    "decide_access_key",
    "key_file_content",
    "keys_from_api",
    "parse_key_file",
]

Action = Literal["create", "keep", "delete", "none"]


class AccessKeyError(ValueError):
    """The request is unsafe or impossible; the message says what to do instead."""


@dataclass(frozen=True)
class KeyInfo:
    access_key_id: str
    status: str = "Active"
    create_date: str = ""


@dataclass(frozen=True)
class KeyDecision:
    action: Action
    access_key_id: str | None
    warning: str | None = None


def keys_from_api(body: Mapping[str, Any]) -> list[KeyInfo]:
    """Read ListAccessKeys: ``{"AccessKeys": {"AccessKey": [...]}}``."""
    wrapper = body.get("AccessKeys") or {}
    items = wrapper.get("AccessKey") if isinstance(wrapper, Mapping) else wrapper
    keys = []
    for item in items or []:
        key_id = item.get("AccessKeyId")
        if key_id:
            keys.append(
                KeyInfo(
                    str(key_id), str(item.get("Status") or ""), str(item.get("CreateDate") or "")
                )
            )
    return sorted(keys, key=lambda k: (k.create_date, k.access_key_id))


def _listing(keys: Sequence[KeyInfo]) -> str:
    if not keys:
        return "none"
    return ", ".join(f"{k.access_key_id} ({k.status or 'unknown status'})" for k in keys)


def decide_access_key(
    *,
    user_name: str,
    state: str,
    existing: Sequence[KeyInfo],
    held_key_id: str | None,
) -> KeyDecision:
    by_id = {key.access_key_id: key for key in existing}
    if state == "absent":
        if not held_key_id:
            raise AccessKeyError(
                f"state: absent needs user_access_key_id, the key to delete (RAM user {user_name} "
                f"has: {_listing(existing)})"
            )
        if held_key_id in by_id:
            return KeyDecision("delete", held_key_id)
        return KeyDecision("none", held_key_id)
    if state != "present":
        raise AccessKeyError(f"state must be present or absent, not {state!r}")
    if held_key_id:
        key = by_id.get(held_key_id)
        if key is None:
            raise AccessKeyError(
                f"AccessKey {held_key_id} is not a key of RAM user {user_name} (its keys: "
                f"{_listing(existing)}). If it was deleted, remove it from your vault and run "
                "without user_access_key_id to create a new key"
            )
        warning = None
        if key.status and key.status != "Active":
            warning = (
                f"AccessKey {held_key_id} of RAM user {user_name} is {key.status}: AutoMQ "
                "cannot use it until it is activated"
            )
        return KeyDecision("keep", held_key_id, warning)
    if existing:
        raise AccessKeyError(
            f"RAM user {user_name} already has AccessKey {_listing(existing)}. A secret is "
            "shown only once, when its key is created, so no second key is created silently: "
            "pass user_access_key_id with the key stored in your vault (or secret_file), or "
            "delete the key (state: absent, user_access_key_id: ...) and run again to get a new one"
        )
    return KeyDecision("create", None)


def key_file_content(access_key_id: str, access_key_secret: str) -> str:
    return (
        json.dumps({"access_key_id": access_key_id, "access_key_secret": access_key_secret}) + "\n"
    )


def parse_key_file(text: str, path: str) -> str:
    """The ``access_key_id`` stored in ``secret_file`` (its secret is never read back)."""
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise AccessKeyError(
            f"{path} is encrypted with ansible-vault, which a module cannot read: pass "
            "user_access_key_id from the vault instead of secret_file"
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AccessKeyError(f"{path} is not the JSON file this module writes: {exc}") from exc
    key_id = data.get("access_key_id") if isinstance(data, Mapping) else None
    if not isinstance(key_id, str) or not key_id:
        raise AccessKeyError(f"{path} has no access_key_id")
    return key_id
