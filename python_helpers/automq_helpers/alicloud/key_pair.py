"""SSH public keys for ECS key pairs: parse, fingerprint, compare with what ECS reports.

ECS keeps only the public key (and its MD5 fingerprint, hex, with or without colons); a
key pair cannot be changed in place, so a different key under the same name is an error
unless the module is told to replace it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KeyPairError", "PublicKey", "matches_api", "parse_public_key"]

KEY_TYPES = (
    "ssh-rsa",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)


class KeyPairError(ValueError):
    """The public key is not an OpenSSH public key ECS accepts."""


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str = ""

    @property
    def text(self) -> str:
        """``<type> <base64>``, without the comment."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode()}"

    @property
    def md5(self) -> str:
        """MD5 fingerprint, lowercase hex without colons."""
        return hashlib.md5(self.blob, usedforsecurity=False).hexdigest()


def parse_public_key(text: str) -> PublicKey:
    """Parse one OpenSSH public key line (``ssh-ed25519 AAAA... comment``)."""
    parts = text.strip().split(None, 2)
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise KeyPairError(
            "public_key must be an OpenSSH public key line such as 'ssh-ed25519 AAAA... "
            f"comment' (types: {', '.join(KEY_TYPES)}), not a private key or a file name"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyPairError("public_key: the key data is not valid base64") from exc
    declared_length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if blob[4 : 4 + declared_length].decode("ascii", "replace") != parts[0]:
        raise KeyPairError(f"public_key: the key data does not hold a {parts[0]} key")
    return PublicKey(parts[0], blob, parts[2] if len(parts) > 2 else "")


def _normalized_fingerprint(value: Any) -> str:
    return str(value or "").replace(":", "").strip().lower()


def matches_api(key: PublicKey, item: Mapping[str, Any]) -> bool:
    """Whether the ``KeyPairs.KeyPair`` entry holds this key (public key text, else MD5)."""
    reported = str(item.get("PublicKey") or "").strip()
    if reported:
        try:
            return parse_public_key(reported).blob == key.blob
        except KeyPairError:
            return False
    fingerprint = _normalized_fingerprint(item.get("KeyPairFingerPrint"))
    return not fingerprint or fingerprint == key.md5
