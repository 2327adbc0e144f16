"""The public key's fingerprint of a host's PEM private key, without Python's cryptography.

A no-op run used to call community.crypto's ``openssl_privatekey`` on every host only to
learn the fingerprint of the key's public key (compared with the certificate's). The
roles' keys are unencrypted PKCS#8 EC keys, whose inner ``ECPrivateKey`` carries the public
point: the ``SubjectPublicKeyInfo`` is that point under the key's own algorithm identifier,
so its fingerprint is a SHA-256 of bytes already in the file. The format is
community.crypto's (``public_key_fingerprints.sha256`` of ``x509_certificate_info``,
``fingerprint.sha256`` of ``openssl_privatekey``): lower-case hex pairs joined by colons.

Anything else (RSA, an encrypted key, a key without its public point, not PEM) gives None:
the caller then asks community.crypto as before. Never returns or logs the key.

Runs on the hosts: standard library only, Python 3.8 grammar.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

__all__ = ["public_key_sha256", "subject_public_key_info"]

PEM_BEGIN = "-----BEGIN PRIVATE KEY-----"
PEM_END = "-----END PRIVATE KEY-----"
# id-ecPublicKey, 1.2.840.10045.2.1, as the contents of a DER OBJECT IDENTIFIER.
EC_PUBLIC_KEY_OID = bytes.fromhex("2a8648ce3d0201")
SEQUENCE, INTEGER, BIT_STRING, OCTET_STRING, OBJECT_IDENTIFIER = 0x30, 0x02, 0x03, 0x04, 0x06
# ECPrivateKey's "publicKey [1] BIT STRING" (context-specific, constructed).
EC_PUBLIC_KEY_FIELD = 0xA1


class _Malformed(Exception):
    pass


def _element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of the contents, end of the element) of the DER element at ``offset``."""
    if offset + 2 > len(data):
        raise _Malformed
    tag, length, start = data[offset], data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or start + count > len(data):
            raise _Malformed
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise _Malformed
    return tag, start, start + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """Each element inside ``data[start:end]`` as (tag, element start, contents start, end)."""
    children = []
    offset = start
    while offset < end:
        tag, contents, element_end = _element(data, offset)
        if element_end > end:
            raise _Malformed
        children.append((tag, offset, contents, element_end))
        offset = element_end
    return children


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    encoded = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def subject_public_key_info(der: bytes) -> bytes | None:
    """The DER SubjectPublicKeyInfo of an unencrypted PKCS#8 EC private key, None for
    anything else."""
    try:
        tag, start, end = _element(der, 0)
        if tag != SEQUENCE or end != len(der):
            return None
        fields = _children(der, start, end)
        if len(fields) < 3 or [field[0] for field in fields[:3]] != [
            INTEGER,
            SEQUENCE,
            OCTET_STRING,
        ]:
            return None
        _tag, algorithm_start, algorithm_contents, algorithm_end = fields[1]
        algorithm = _children(der, algorithm_contents, algorithm_end)
        if (
            not algorithm
            or algorithm[0][0] != OBJECT_IDENTIFIER
            or der[algorithm[0][2] : algorithm[0][3]] != EC_PUBLIC_KEY_OID
        ):
            return None
        inner = der[fields[2][2] : fields[2][3]]
        tag, start, end = _element(inner, 0)
        if tag != SEQUENCE:
            return None
        for tag, _offset, contents, element_end in _children(inner, start, end):
            if tag != EC_PUBLIC_KEY_FIELD:
                continue
            point = _children(inner, contents, element_end)
            if len(point) != 1 or point[0][0] != BIT_STRING:
                return None
            body = der[algorithm_start:algorithm_end] + inner[point[0][1] : point[0][3]]
            return bytes([SEQUENCE]) + _length(len(body)) + body
        return None
    except _Malformed:
        return None


def public_key_sha256(pem: str) -> str | None:
    """community.crypto's SHA-256 fingerprint of the public key of a PEM PKCS#8 EC private
    key, or None when the text is no such key."""
    begin, end = pem.find(PEM_BEGIN), pem.find(PEM_END)
    if begin < 0 or end < begin:
        return None
    try:
        der = base64.b64decode("".join(pem[begin + len(PEM_BEGIN) : end].split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    spki = subject_public_key_info(der)
    if spki is None:
        return None
    digest = hashlib.sha256(spki).hexdigest()
    return ":".join(digest[index : index + 2] for index in range(0, len(digest), 2))
