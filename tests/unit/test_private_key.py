"""private_key: the public key's fingerprint of a PEM private key with the standard library,
in the format community.crypto gives it (checked against Python's cryptography)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.private_key import public_key_sha256, subject_public_key_info

PKCS8 = serialization.PrivateFormat.PKCS8
PEM = serialization.Encoding.PEM


def community_crypto_fingerprint(key: ec.EllipticCurvePrivateKey) -> str:
    """What community.crypto's get_fingerprint_of_privatekey gives for sha256."""
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(spki).hexdigest()
    return ":".join(digest[index : index + 2] for index in range(0, len(digest), 2))


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()])
def test_an_ec_key_gives_the_fingerprint_community_crypto_gives(
    curve: ec.EllipticCurve,
) -> None:
    key = ec.generate_private_key(curve)
    pem = key.private_bytes(PEM, PKCS8, serialization.NoEncryption()).decode()
    assert public_key_sha256(pem) == community_crypto_fingerprint(key)
    # Text around the block (a key store: the key, then the certificate) does not matter.
    assert public_key_sha256("junk\n" + pem + "-----BEGIN CERTIFICATE-----\n") == (
        community_crypto_fingerprint(key)
    )


def test_two_keys_give_two_fingerprints() -> None:
    first, second = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    assert public_key_sha256(
        first.private_bytes(PEM, PKCS8, serialization.NoEncryption()).decode()
    ) != public_key_sha256(second.private_bytes(PEM, PKCS8, serialization.NoEncryption()).decode())


def test_other_keys_give_none_so_the_caller_asks_community_crypto() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    others = [
        rsa_key.private_bytes(PEM, PKCS8, serialization.NoEncryption()).decode(),
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(PEM, PKCS8, serialization.NoEncryption())
        .decode(),
        ec_key.private_bytes(
            PEM, PKCS8, serialization.BestAvailableEncryption(b"passphrase")
        ).decode(),
        ec_key.private_bytes(
            PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ).decode(),
        "",
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    ]
    assert [public_key_sha256(text) for text in others] == [None] * len(others)


@given(st.binary(max_size=300))
def test_any_bytes_give_spki_or_none_never_an_error(der: bytes) -> None:
    assert subject_public_key_info(der) is None or subject_public_key_info(der)[:1] == b"\x30"


@given(st.integers(min_value=0, max_value=200))
def test_a_truncated_key_gives_none(cut: int) -> None:
    der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, PKCS8, serialization.NoEncryption()
    )
    assert subject_public_key_info(der[: min(cut, len(der) - 1)]) is None
