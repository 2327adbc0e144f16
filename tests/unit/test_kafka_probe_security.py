"""Unit tests for the TLS and SASL/SCRAM parts of automq_helpers.kafka_probe (no Kafka).

SCRAM is checked against the example exchanges published in RFC 5802 (SCRAM-SHA-1,
section 5) and RFC 7677 (SCRAM-SHA-256, section 3), and SCRAM-SHA-512 against a server
side written here from the RFC's definitions (Hi by its U1..Ui recurrence, not with
hashlib.pbkdf2_hmac, and the proof checked the way a server does: recover ClientKey
from the proof, compare H(ClientKey) with StoredKey), independently of the client code.
The real broker is in tests/integration/test_kafka_probe_security.py.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import re
import secrets
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers import kafka_probe as kp
from automq_helpers.kafka_probe import (
    PLAINTEXT,
    KafkaProbe,
    ProbeError,
    Reader,
    SaslAuthenticateResult,
    SaslAuthenticationFailed,
    ScramClient,
    ScramError,
    SecurityConfig,
    Writer,
)
from automq_helpers.node_health import NodeCheck
from automq_helpers.reassignment import API_LIST_PARTITION_REASSIGNMENTS, list_reassignments

PASSWORD = "pw-Tr0ub4dor&3"  # must never show up in a message or repr

# --------------------------------------------------------------------------- SCRAM: RFCs

RFC7677_NONCE = "rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC7677_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

RFC5802_NONCE = "fyko+d2lbbFgONRv9qkxdawL"
RFC5802_SERVER_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
RFC5802_CLIENT_FINAL = (
    b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
)
RFC5802_SERVER_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="


@pytest.mark.parametrize(
    ("hash_name", "nonce", "server_first", "client_final", "server_final"),
    [
        ("sha256", RFC7677_NONCE, RFC7677_SERVER_FIRST, RFC7677_CLIENT_FINAL, RFC7677_SERVER_FINAL),
        ("sha1", RFC5802_NONCE, RFC5802_SERVER_FIRST, RFC5802_CLIENT_FINAL, RFC5802_SERVER_FINAL),
    ],
    ids=["RFC7677-SCRAM-SHA-256", "RFC5802-SCRAM-SHA-1"],
)
def test_scram_matches_the_rfc_example(hash_name, nonce, server_first, client_final, server_final):
    client = ScramClient(hash_name, "user", "pencil", nonce=nonce)
    assert client.first_message() == b"n,,n=user,r=" + nonce.encode()
    assert client.final_message(server_first) == client_final
    client.verify_server_final(server_final)  # does not raise


def test_scram_sha256_mechanism_is_the_rfc7677_hash():
    assert kp.SCRAM_HASHES == {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}


# --------------------------------------------------------------------------- SCRAM: a server


def _saslname_to_username(saslname: str) -> str:
    """The server's side of saslname escaping (RFC 5802 section 5.1)."""
    return saslname.replace("=2C", ",").replace("=3D", "=")


def _hi(hash_name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
    """Hi() as RFC 5802 section 2.2 defines it: U1 := HMAC(str, salt + INT(1)),
    Ui := HMAC(str, Ui-1), Hi := U1 XOR U2 XOR ... XOR Ui."""
    u = hmac.new(password, salt + b"\0\0\0\1", hash_name).digest()
    result = int.from_bytes(u, "big")
    for _ in range(iterations - 1):
        u = hmac.new(password, u, hash_name).digest()
        result ^= int.from_bytes(u, "big")
    return result.to_bytes(len(u), "big")


class ScramServer:
    """A SCRAM server holding the credential a broker stores: salt, iterations,
    StoredKey and ServerKey (never the password)."""

    def __init__(
        self, hash_name: str, username: str, password: str, salt: bytes, iterations: int
    ) -> None:
        self.hash_name = hash_name
        self.username = username
        self.salt = salt
        self.iterations = iterations
        salted = _hi(hash_name, password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hash_name).digest()
        self.stored_key = hashlib.new(hash_name, client_key).digest()
        self.server_key = hmac.new(salted, b"Server Key", hash_name).digest()
        self.client_first_bare = ""
        self.server_first = ""

    def first(self, client_first: bytes) -> bytes:
        text = client_first.decode()
        assert text.startswith("n,,"), text  # no channel binding, no authzid
        self.client_first_bare = text[3:]
        name, nonce = self.client_first_bare.split(",")
        assert name.startswith("n=")
        assert nonce.startswith("r=")
        assert _saslname_to_username(name[2:]) == self.username
        salt = base64.b64encode(self.salt).decode()
        self.server_first = f"{nonce}{secrets.token_hex(8)},s={salt},i={self.iterations}"
        return self.server_first.encode()

    def final(self, client_final: bytes) -> bytes | None:
        """The server-final message, or None when the proof is wrong."""
        without_proof, _, proof = client_final.decode().rpartition(",p=")
        assert without_proof == f"c=biws,{self.server_first.split(',')[0]}"
        auth_message = f"{self.client_first_bare},{self.server_first},{without_proof}".encode()
        signature = hmac.new(self.stored_key, auth_message, self.hash_name).digest()
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), signature, strict=True))
        if hashlib.new(self.hash_name, client_key).digest() != self.stored_key:
            return None
        verifier = hmac.new(self.server_key, auth_message, self.hash_name).digest()
        return b"v=" + base64.b64encode(verifier)


@settings(max_examples=25, deadline=None)
@given(
    username=st.text(min_size=1, max_size=20),
    password=st.text(min_size=1, max_size=30),
    salt=st.binary(min_size=1, max_size=32),
    iterations=st.integers(4096, 4200),
)
def test_scram_sha512_round_trip_with_an_independent_server(username, password, salt, iterations):
    server = ScramServer("sha512", username, password, salt, iterations)
    client = ScramClient("sha512", username, password)
    server_final = server.final(client.final_message(server.first(client.first_message())))
    assert server_final is not None, "the server refused a correct proof"
    client.verify_server_final(server_final)
    # The same server refuses another password: the check above is not vacuous.
    other = ScramClient("sha512", username, password + "x")
    assert server.final(other.final_message(server.first(other.first_message()))) is None


def scram_exchange(server_first: bytes, nonce: str = "clientnonce") -> ScramClient:
    client = ScramClient("sha512", "admin", PASSWORD, nonce=nonce)
    client.final_message(server_first)
    return client


SALT = base64.b64encode(b"0123456789abcdef").decode()


@pytest.mark.parametrize(
    ("server_first", "message"),
    [
        (f"r=othernonceSRV,s={SALT},i=4096", "does not extend the client's nonce"),
        (f"r=clientnonce,s={SALT},i=4096", "does not extend the client's nonce"),
        (f"r=clientnonceSRV,s={SALT},i=4095", "4095 iterations; fewer than 4096 are refused"),
        (f"r=clientnonceSRV,s={SALT},i=1", "1 iterations; fewer than 4096"),
        (f"r=clientnonceSRV,s={SALT},i=16385", "more than 16384 (Kafka's maximum)"),
        (f"r=clientnonceSRV,s={SALT},i=-4096", "malformed iteration count"),
        (f"m=ext,r=clientnonceSRV,s={SALT},i=4096", "requires a SCRAM extension (m=)"),
        ("r=clientnonceSRV,s=not*base64,i=4096", "salt is not valid base64"),
        ("r=clientnonceSRV,s=,i=4096", "empty salt"),
        (f"s={SALT},r=clientnonceSRV,i=4096", "malformed server-first message"),
        ("r=clientnonceSRV", "malformed server-first message"),
        (f"r=clientnonce\x01,s={SALT},i=4096", "characters RFC 5802 does not allow"),
    ],
)
def test_scram_refuses_a_bad_server_first(server_first, message):
    with pytest.raises(ScramError, match=re.escape(message)) as failure:
        scram_exchange(server_first.encode())
    assert PASSWORD not in str(failure.value)


def test_scram_refuses_a_wrong_server_signature():
    server = ScramServer("sha512", "admin", PASSWORD, b"salt", 4096)
    client = ScramClient("sha512", "admin", PASSWORD)
    server_final = server.final(client.final_message(server.first(client.first_message())))
    assert server_final is not None
    signature = bytearray(base64.b64decode(server_final[2:]))
    signature[0] ^= 1
    with pytest.raises(ScramError, match="server's signature is wrong") as failure:
        client.verify_server_final(b"v=" + base64.b64encode(bytes(signature)))
    assert PASSWORD not in str(failure.value)


@pytest.mark.parametrize(
    ("server_final", "message"),
    [
        (b"e=invalid-proof", "the server refused the exchange: invalid-proof"),
        (b"x=abc", "malformed server-final"),
        (b"v=***", "server signature is not valid base64"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_scram_refuses_a_bad_server_final(server_final, message):
    client = scram_exchange(f"r=clientnonceSRV,s={SALT},i=4096".encode())
    with pytest.raises(ScramError, match=re.escape(message)):
        client.verify_server_final(server_final)


def test_scram_steps_in_order_only():
    client = ScramClient("sha512", "admin", PASSWORD, nonce="n1")
    with pytest.raises(ScramError, match="before the client-final"):
        client.verify_server_final(b"v=AAAA")
    client.final_message(f"r=n1S,s={SALT},i=4096".encode())
    with pytest.raises(ScramError, match="already answered"):
        client.final_message(f"r=n1S,s={SALT},i=4096".encode())


def test_scram_client_forgets_the_password_and_hides_it():
    client = ScramClient("sha512", "admin", PASSWORD)
    assert PASSWORD not in repr(client)
    client.final_message(f"r={client.nonce}S,s={SALT},i=4096".encode())
    assert PASSWORD not in repr(vars(client))


def test_scram_nonces_are_fresh_and_printable():
    nonces = {ScramClient("sha512", "u", "p").nonce for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) >= 24 and "," not in n and n.isascii() and n.isprintable() for n in nonces)
    with pytest.raises(ValueError, match="nonce"):
        ScramClient("sha512", "u", "p", nonce="a,b")


@given(st.text())
def test_saslname_escapes_comma_and_equals_reversibly(username):
    escaped = kp.scram_saslname(username)
    assert "," not in escaped
    # Every "=" starts an escape sequence.
    assert escaped.replace("=2C", "").replace("=3D", "").count("=") == 0
    assert _saslname_to_username(escaped) == username


def test_saslname_examples():
    assert kp.scram_saslname("a=b,c") == "a=3Db=2Cc"
    assert kp.scram_saslname("=2C") == "=3D2C"  # not unescaped to "," by the server


# --------------------------------------------------------------------------- SASL frames


def test_encode_sasl_handshake_v1():
    frame = kp.encode_sasl_handshake_request(7, "SCRAM-SHA-512", "automq-probe")
    header = b"\x00\x11\x00\x01\x00\x00\x00\x07\x00\x0cautomq-probe"  # key 17 v1, id 7
    body = b"\x00\x0dSCRAM-SHA-512"
    assert frame == struct.pack(">i", len(header + body)) + header + body
    assert kp.is_flexible(kp.API_SASL_HANDSHAKE, 1) is False


@pytest.mark.parametrize("version", [0, 1])
def test_encode_sasl_authenticate_classic(version):
    frame = kp.encode_sasl_authenticate_request(3, b"n,,n=a,r=x", version, "c")
    header = b"\x00\x24\x00" + bytes([version]) + b"\x00\x00\x00\x03\x00\x01c"  # key 36
    body = b"\x00\x00\x00\x0an,,n=a,r=x"
    assert frame == struct.pack(">i", len(header + body)) + header + body


def test_encode_sasl_authenticate_v2_is_flexible():
    frame = kp.encode_sasl_authenticate_request(3, b"n,,n=a,r=x", 2, "c")
    header = b"\x00\x24\x00\x02\x00\x00\x00\x03\x00\x01c\x00"  # header v2: tagged fields
    body = b"\x0bn,,n=a,r=x\x00"  # compact bytes (length + 1), tagged fields
    assert frame == struct.pack(">i", len(header + body)) + header + body


def test_sasl_authenticate_versions_are_checked():
    with pytest.raises(ValueError, match="v0-v2"):
        kp.sasl_authenticate_request_body(b"", 3)
    with pytest.raises(ValueError, match="v0-v2"):
        kp.decode_sasl_authenticate_response(b"", -1)


def test_decode_sasl_handshake_response():
    body = b"\x00\x21\x00\x00\x00\x02\x00\x0dSCRAM-SHA-512\x00\x05PLAIN"
    result = kp.decode_sasl_handshake_response(body)
    assert result == kp.SaslHandshakeResult(33, ("SCRAM-SHA-512", "PLAIN"))
    assert kp.error_name(result.error_code) == "UNSUPPORTED_SASL_MECHANISM"
    with pytest.raises(kp.DecodeError):
        kp.decode_sasl_handshake_response(body[:-1])


def test_decode_sasl_authenticate_response_fixtures():
    v0 = b"\x00\x3a\x00\x06failed\x00\x00\x00\x00"
    assert kp.decode_sasl_authenticate_response(v0, 0) == SaslAuthenticateResult(
        58, "failed", b"", 0
    )
    v1 = b"\x00\x00\xff\xff\x00\x00\x00\x03v=x" + struct.pack(">q", 3_600_000)
    assert kp.decode_sasl_authenticate_response(v1, 1) == SaslAuthenticateResult(
        0, None, b"v=x", 3_600_000
    )
    v2 = b"\x00\x00\x00\x04v=x" + struct.pack(">q", 0) + b"\x00"
    assert kp.decode_sasl_authenticate_response(v2, 2) == SaslAuthenticateResult(0, None, b"v=x", 0)
    with pytest.raises(kp.DecodeError):
        kp.decode_sasl_authenticate_response(v2 + b"\x00", 2)


def encode_sasl_authenticate_response(result: SaslAuthenticateResult, version: int) -> bytes:
    writer = Writer().int16(result.error_code)
    if version >= 2:
        writer.compact_string(result.error_message).compact_bytes(result.auth_bytes)
    else:
        writer.string(result.error_message).sized_bytes(result.auth_bytes)
    if version >= 1:
        writer.int64(result.session_lifetime_ms)
    if version >= 2:
        writer.tagged_fields()
    return writer.getvalue()


@given(
    st.builds(
        SaslAuthenticateResult,
        st.integers(-(2**15), 2**15 - 1),
        st.one_of(st.none(), st.text(max_size=50)),
        st.binary(max_size=300),
        st.integers(0, 2**63 - 1),
    ),
    st.integers(0, 2),
)
def test_sasl_authenticate_response_roundtrip(result, version):
    if version == 0:
        result = replace(result, session_lifetime_ms=0)
    body = encode_sasl_authenticate_response(result, version)
    assert kp.decode_sasl_authenticate_response(body, version) == result


@given(st.binary(max_size=300))
def test_bytes_fields_roundtrip(data):
    assert Reader(Writer().sized_bytes(data).getvalue()).sized_bytes() == data
    assert Reader(Writer().compact_bytes(data).getvalue()).compact_bytes() == data


def test_plain_token():
    assert kp.sasl_plain_token("admin", "pw") == b"\0admin\0pw"


# --------------------------------------------------------------------------- SecurityConfig


def sasl_ssl(**changes: object) -> SecurityConfig:
    base = SecurityConfig("SASL_SSL", ca_file="/ca.pem", username="admin", password=PASSWORD)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_security_config_hides_the_password():
    config = sasl_ssl()
    check = NodeCheck("h", 1, [1], ["h:9093"], broker_port=9092, security=config)
    for text in (repr(config), str(config), repr(check), repr(KafkaProbe("h", 1, security=config))):
        assert PASSWORD not in text
    assert "username='admin'" in repr(config)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"protocol": "TLS"}, "protocol must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        ({"protocol": "SASL_SSL"}, "SASL_SSL needs a username; protocol SASL_SSL needs a password"),
        ({"protocol": "SASL_SSL", "username": "a", "password": ""}, "needs a password"),
        ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism must be one of"),
        ({"username": "a", "password": PASSWORD}, "username, password set, but protocol PLAINTEXT"),
        (
            {"protocol": "SASL_PLAINTEXT", "ca_file": "/ca", "username": "a", "password": "p"},
            "ca_file set, but protocol SASL_PLAINTEXT does not use TLS",
        ),
        ({"protocol": "SSL", "key_file": "/k"}, "key_file needs cert_file"),
        ({"protocol": "SSL", "passwd": "x"}, "unknown field(s) passwd; known: protocol, ca_file"),
    ],
)
def test_security_config_rejects(options, message):
    with pytest.raises(ValueError, match=r"^security: ") as failure:
        SecurityConfig.from_options(options)
    assert message in str(failure.value)
    assert PASSWORD not in str(failure.value)


def test_security_config_from_options():
    assert SecurityConfig.from_options(None) == PLAINTEXT
    assert SecurityConfig.from_options({"protocol": None, "ca_file": None}) == PLAINTEXT
    options = {
        "protocol": "SASL_SSL",
        "ca_file": "/ca.pem",
        "cert_file": None,
        "key_file": None,
        "check_hostname": True,
        "server_hostname": None,
        "sasl_mechanism": "SCRAM-SHA-512",
        "username": "admin",
        "password": PASSWORD,
    }  # what Ansible passes for a partly filled option
    assert SecurityConfig.from_options(options) == sasl_ssl()
    assert (PLAINTEXT.uses_tls, PLAINTEXT.uses_sasl) == (False, False)
    assert (sasl_ssl().uses_tls, sasl_ssl().uses_sasl) == (True, True)


def test_for_other_hosts_drops_only_the_server_hostname():
    config = sasl_ssl(server_hostname="node-1.internal")
    assert config.for_other_hosts() == sasl_ssl()


# --------------------------------------------------------------------------- TLS context


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _self_signed(key: ec.EllipticCurvePrivateKey, name: str = "test") -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def _pkcs8(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


@dataclass
class Files:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    key = _key()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(_self_signed(_key(), "ca"))
    cert = tmp_path / "client.pem"
    cert.write_bytes(_self_signed(key, "client"))
    key_file = tmp_path / "client.key"
    key_file.write_bytes(_pkcs8(key))
    key_file.chmod(0o600)
    return Files(ca, cert, key_file)


def test_ssl_context_is_tls12_plus_and_verifies(files: Files):
    context = kp.build_ssl_context(
        SecurityConfig("SSL", str(files.ca), str(files.cert), str(files.key))
    )
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "ca"),),)]
    unchecked = kp.build_ssl_context(SecurityConfig("SSL", str(files.ca), check_hostname=False))
    assert (unchecked.check_hostname, unchecked.verify_mode) == (False, ssl.CERT_REQUIRED)


def test_ssl_context_key_inside_the_certificate_file(files: Files, tmp_path: Path):
    both = tmp_path / "both.pem"
    both.write_bytes(files.key.read_bytes() + files.cert.read_bytes())
    kp.build_ssl_context(SecurityConfig("SSL", str(files.ca), str(both)))


def test_ssl_context_names_the_file_that_cannot_be_used(files: Files, tmp_path: Path):
    missing = tmp_path / "missing.pem"
    with pytest.raises(
        ValueError, match=re.escape(f"cannot use the CA file {missing}: No such file")
    ):
        kp.build_ssl_context(SecurityConfig("SSL", str(missing)))
    with pytest.raises(ValueError, match=re.escape(f"cannot use the CA file {files.key}: ")):
        kp.build_ssl_context(SecurityConfig("SSL", str(files.key)))  # no certificate in it
    other_key = tmp_path / "other.key"
    other_key.write_bytes(_pkcs8(_key()))
    with pytest.raises(
        ValueError,
        match=re.escape(f"cannot use the client certificate {files.cert} with the key {other_key}"),
    ):
        kp.build_ssl_context(SecurityConfig("SSL", str(files.ca), str(files.cert), str(other_key)))


def test_ssl_context_refuses_an_encrypted_key_without_prompting(files: Files, tmp_path: Path):
    key = _key()
    cert = tmp_path / "enc.pem"
    cert.write_bytes(_self_signed(key))
    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(_pkcs8(key, b"passphrase"))
    with pytest.raises(ValueError, match=re.escape(f"the client key {encrypted} is encrypted")):
        kp.build_ssl_context(SecurityConfig("SSL", str(files.ca), str(cert), str(encrypted)))


# --------------------------------------------------------------------------- TLS diagnosis


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    error.verify_code = code
    error.verify_message = message
    return error


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] ...")
    error.reason = reason  # type: ignore[misc]
    return error


MTLS = SecurityConfig("SSL", "/etc/automq/ca.pem", "/etc/automq/node.pem", "/etc/automq/node.key")
NO_CERT = SecurityConfig("SSL", "/etc/automq/ca.pem")


@pytest.mark.parametrize(
    ("error", "security", "expected"),
    [
        (_verify_error(62, "Hostname mismatch"), MTLS, "does not name node-1 (Hostname mismatch)"),
        (_verify_error(64, "IP address mismatch"), MTLS, "does not name node-1 (IP address"),
        (
            _verify_error(20, "unable to get local issuer certificate"),
            MTLS,
            "not trusted: the CA file /etc/automq/ca.pem does not hold",
        ),
        (_verify_error(19, "self-signed certificate in certificate chain"), MTLS, "not trusted"),
        (
            _verify_error(18, "self-signed certificate"),
            SecurityConfig("SSL"),
            "the system's trust store (no ca_file set)",
        ),
        (_verify_error(10, "certificate has expired"), MTLS, "outside its validity period"),
        (
            _verify_error(26, "unsupported certificate purpose"),
            MTLS,
            "failed verification (unsupported",
        ),
        (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), MTLS, "share no TLS version"),
        (_ssl_error("UNSUPPORTED_PROTOCOL"), MTLS, "requires TLS 1.2 or newer"),
        (
            _ssl_error("TLSV13_ALERT_CERTIFICATE_REQUIRED"),
            NO_CERT,
            "requires a client certificate (mTLS) and none is configured",
        ),
        (_ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE"), NO_CERT, "requires a client certificate"),
        (
            _ssl_error("SSLV3_ALERT_BAD_CERTIFICATE"),
            MTLS,
            "refused the client certificate /etc/automq/node.pem",
        ),
        (_ssl_error("TLSV1_ALERT_UNKNOWN_CA"), MTLS, "refused the client certificate"),
        (_ssl_error("WRONG_VERSION_NUMBER"), MTLS, "does not speak TLS (WRONG_VERSION_NUMBER)"),
        (ssl.SSLEOFError(8, "EOF"), MTLS, "closed the connection during the TLS handshake"),
        (ssl.SSLZeroReturnError(6, "closed"), MTLS, "closed the connection during the TLS"),
        (ConnectionResetError(104, "reset"), MTLS, "closed the connection during the TLS"),
        (_ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE"), MTLS, "TLS handshake failed: "),
    ],
)
def test_describe_tls_failure(error, security, expected):
    assert expected in kp.describe_tls_failure(error, security, "node-1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"\x15\x03\x03\x00", True),  # alert, TLS 1.2 record version
        (b"\x16\x03\x01\x00", True),  # handshake, TLS 1.0 record version
        (b"\x00\x00\x00\x10", False),  # a Kafka size
        (b"\x15\x02\x03\x00", False),
        (b"\x18\x03\x03\x00", False),  # content type 24 is heartbeat: not sent here
        (b"\x15\x03", False),
    ],
)
def test_looks_like_tls_record(header, expected):
    assert kp.looks_like_tls_record(header) is expected


# --------------------------------------------------------------------------- fake peers


class Peer:
    """A loopback TCP server running ``handle`` for each connection, on a thread."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.handle = handle
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(0.05)
        self.port: int = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self) -> Peer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.server.close()
        assert not self.errors, self.errors  # an assertion inside the fake peer

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError, EOFError):
                conn.settimeout(5)
                try:
                    self.handle(conn)
                except AssertionError as error:
                    self.errors.append(error)


def recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _reply_after_client_hello(answer: bytes) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(answer)

    return handle


def _drop_after_reading(conn: socket.socket) -> None:
    """What Kafka's PLAINTEXT listener does with a TLS ClientHello (too large a size)."""
    conn.recv(4096)


def _never_answer(conn: socket.socket) -> None:
    conn.recv(4096)
    threading.Event().wait(1)


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        # The alerts a TLS server sends, as OpenSSL reads them.
        (
            _reply_after_client_hello(b"\x15\x03\x03\x00\x02\x02\x46"),
            "share no TLS version (TLSV1_ALERT_PROTOCOL_VERSION)",
        ),
        (
            _reply_after_client_hello(b"\x15\x03\x03\x00\x02\x02\x74"),
            "the listener requires a client certificate (mTLS) and none is configured",
        ),
        # A Kafka PLAINTEXT listener answers nothing and drops the connection.
        (_drop_after_reading, "the peer closed the connection during the TLS handshake"),
        (_reply_after_client_hello(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "does not speak TLS"),
        (_never_answer, "TLS handshake timed out after 0.5s"),
    ],
)
def test_tls_handshake_failures_are_explained(files: Files, handle, message):
    security = SecurityConfig("SSL", str(files.ca))
    with Peer(handle) as peer:
        probe = KafkaProbe("127.0.0.1", peer.port, 0.5, security=security)
        with pytest.raises(ProbeError) as failure:
            probe.api_versions()
    assert str(failure.value).startswith(f"127.0.0.1:{peer.port}: ")
    assert message in str(failure.value)


def test_unusable_ca_file_is_reported_with_the_address(tmp_path: Path):
    missing = tmp_path / "ca.pem"
    with Peer(_drop_after_reading) as peer, pytest.raises(ProbeError) as failure:
        KafkaProbe(
            "127.0.0.1", peer.port, 1.0, security=SecurityConfig("SSL", str(missing))
        ).api_versions()
    assert str(failure.value).startswith(f"127.0.0.1:{peer.port}: cannot use the CA file {missing}")


def _tls_alert_after_request(conn: socket.socket) -> None:
    recv_exactly(conn, struct.unpack(">i", recv_exactly(conn, 4))[0])
    conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")  # what a TLS listener sends a plaintext client


@pytest.mark.parametrize(
    ("handle", "message"),
    [
        (
            _tls_alert_after_request,
            "answered the ApiVersions v0 with a TLS record: a TLS listener; use security "
            "protocol SSL or SASL_SSL for it, not PLAINTEXT",
        ),
        (_drop_after_reading, "not a PLAINTEXT listener? TLS and SASL listeners close the"),
    ],
)
def test_plaintext_client_on_a_tls_listener(handle, message):
    with Peer(handle) as peer, pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", peer.port, 1.0).api_versions()
    assert str(failure.value).startswith(f"127.0.0.1:{peer.port}: ")
    assert message in str(failure.value)


# --------------------------------------------------------------------------- a fake SASL broker


def api_versions_body(ranges: dict[int, tuple[int, int]]) -> bytes:
    writer = Writer().int16(0).array_length(len(ranges))
    for key, (low, high) in sorted(ranges.items()):
        writer.int16(key).int16(low).int16(high)
    return writer.getvalue()


DESCRIBE_CLUSTER_BODY = (
    Writer()
    .int32(0)
    .int16(0)
    .compact_string(None)
    .compact_string("MkU3OEVBNTcwNTJENDM2Qg")
    .int32(1)
    .compact_array_length(1)
    .int32(1)
    .compact_string("node-1")
    .int32(9092)
    .compact_string(None)
    .tagged_fields()
    .int32(-2147483648)
    .tagged_fields()
    .getvalue()
)


@dataclass
class SaslBroker:
    """A SASL_PLAINTEXT listener: ApiVersions, SaslHandshake v1, SaslAuthenticate (SCRAM
    via :class:`ScramServer`, or PLAIN), then DescribeCluster once authenticated.

    ``fault``: "mechanism" (handshake refuses), "illegal-state" (a non-SASL listener),
    "bad-signature" (server-final signs with the wrong key), "auth-failed" (error 58).
    """

    mechanism: str = "SCRAM-SHA-512"
    authenticate_versions: tuple[int, int] = (0, 2)
    fault: str = ""
    requests: list[tuple[int, int]] | None = None

    def __post_init__(self) -> None:
        self.requests = []
        self.scram = ScramServer("sha512", "admin", PASSWORD, b"fake-salt", 4096)

    def reply(self, conn: socket.socket, correlation_id: int, flexible: bool, body: bytes) -> None:
        header = struct.pack(">i", correlation_id) + (b"\x00" if flexible else b"")
        conn.sendall(struct.pack(">i", len(header + body)) + header + body)

    def handle(self, conn: socket.socket) -> None:
        authenticated = False
        steps = 0
        while True:
            frame = recv_exactly(conn, struct.unpack(">i", recv_exactly(conn, 4))[0])
            key, version, correlation_id, id_length = struct.unpack(">hhih", frame[:10])
            assert self.requests is not None
            self.requests.append((key, version))
            reader = Reader(frame, 10 + id_length)
            if key == kp.API_API_VERSIONS:
                ranges = {17: (0, 1), 18: (0, 3), 36: self.authenticate_versions, 46: (0, 0)}
                ranges[60] = (0, 1)
                self.reply(conn, correlation_id, False, api_versions_body(ranges))
            elif key == kp.API_SASL_HANDSHAKE:
                assert version == 1
                mechanism = reader.string()
                error = 0 if mechanism == self.mechanism else 33
                error = 34 if self.fault == "illegal-state" else error
                body = Writer().int16(error).array_length(1).string(self.mechanism).getvalue()
                self.reply(conn, correlation_id, False, body)
            elif key == kp.API_SASL_AUTHENTICATE:
                if version >= 2:
                    reader.tagged_fields()
                    token = reader.compact_bytes()
                else:
                    token = reader.sized_bytes()
                result = self.authenticate(token, steps)
                steps += 1
                authenticated = result.error_code == 0 and steps == (
                    1 if self.mechanism == "PLAIN" else 2
                )
                body = encode_sasl_authenticate_response(result, version)
                self.reply(conn, correlation_id, version >= 2, body)
                if result.error_code:
                    return  # Kafka closes the connection after a failed authentication
            elif key == kp.API_DESCRIBE_CLUSTER and authenticated:
                self.reply(conn, correlation_id, True, DESCRIBE_CLUSTER_BODY)
            elif key == API_LIST_PARTITION_REASSIGNMENTS and authenticated:
                self.reply(conn, correlation_id, True, bytes.fromhex("000000000000000100"))
            else:
                return  # what a SASL listener does with other requests before authentication

    def authenticate(self, token: bytes, step: int) -> SaslAuthenticateResult:
        if self.fault == "auth-failed":
            return SaslAuthenticateResult(58, "Authentication failed: Invalid credentials", b"")
        if self.mechanism == "PLAIN":
            assert token == b"\0admin\0" + PASSWORD.encode()
            return SaslAuthenticateResult(0, None, b"", 0)
        if step == 0:
            return SaslAuthenticateResult(0, None, self.scram.first(token), 0)
        server_final = self.scram.final(token)
        assert server_final is not None, "wrong proof"
        if self.fault == "bad-signature":
            server_final = b"v=" + base64.b64encode(hashlib.sha512(b"not the key").digest())
        return SaslAuthenticateResult(0, None, server_final, 3_600_000)


def sasl_plaintext(**changes: object) -> SecurityConfig:
    base = SecurityConfig("SASL_PLAINTEXT", username="admin", password=PASSWORD)
    return replace(base, **changes)  # type: ignore[arg-type]


@contextlib.contextmanager
def sasl_broker(**settings: object) -> Iterator[tuple[SaslBroker, int]]:
    broker = SaslBroker(**settings)  # type: ignore[arg-type]
    with Peer(broker.handle) as peer:
        yield broker, peer.port


@pytest.mark.parametrize(
    ("versions", "chosen"), [((0, 2), 2), ((0, 1), 1), ((0, 0), 0), ((1, 5), 2)]
)
def test_scram_authentication_then_requests(versions, chosen):
    with (
        sasl_broker(authenticate_versions=versions) as (broker, port),
        KafkaProbe("127.0.0.1", port, 2.0, security=sasl_plaintext()) as probe,
    ):
        assert probe.api_versions().version_range(kp.API_SASL_AUTHENTICATE) is not None
        assert probe.describe_cluster().cluster_id == "MkU3OEVBNTcwNTJENDM2Qg"
    # ApiVersions once (before authentication, then reused), the handshake, two SCRAM steps.
    assert broker.requests == [(18, 0), (17, 1), (36, chosen), (36, chosen), (60, 0)]


def test_plain_authentication():
    with sasl_broker(mechanism="PLAIN") as (broker, port):
        security = sasl_plaintext(sasl_mechanism="PLAIN")
        with KafkaProbe("127.0.0.1", port, 2.0, security=security) as probe:
            probe.describe_cluster()
    assert broker.requests == [(18, 0), (17, 1), (36, 2), (60, 0)]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"fault": "bad-signature"},
            "SASL SCRAM-SHA-512 authentication of 'admin': the server's signature is wrong: "
            "it does not hold this user's SCRAM keys (not the real broker?)",
        ),
        (
            {"fault": "auth-failed"},
            "SASL authentication failed for user 'admin' with SCRAM-SHA-512 "
            "(SASL_AUTHENTICATION_FAILED): Authentication failed: Invalid credentials",
        ),
        (
            {"mechanism": "SCRAM-SHA-256"},
            "SASL mechanism SCRAM-SHA-512 is not enabled on this listener; it offers: "
            "SCRAM-SHA-256",
        ),
        (
            {"fault": "illegal-state"},
            "the listener does not use SASL (SaslHandshake answered ILLEGAL_SASL_STATE): "
            "use security protocol PLAINTEXT for it, not SASL_PLAINTEXT",
        ),
        ({"authenticate_versions": (3, 4)}, "does not offer SaslAuthenticate v0-v2"),
    ],
)
def test_sasl_failures_are_explained(settings, message):
    with sasl_broker(**settings) as (_, port):
        probe = KafkaProbe("127.0.0.1", port, 2.0, security=sasl_plaintext())
        with pytest.raises(ProbeError) as failure:
            probe.describe_cluster()
        assert probe.connection._sock is None  # closed
    assert str(failure.value) == f"127.0.0.1:{port}: {message}"
    assert PASSWORD not in str(failure.value)
    # Only a refusal of the credentials is a SaslAuthenticationFailed (a wrong password).
    refused = settings.get("fault") == "auth-failed"
    assert isinstance(failure.value, SaslAuthenticationFailed) is refused


def test_plaintext_client_on_a_sasl_listener():
    with sasl_broker() as (_, port), KafkaProbe("127.0.0.1", port, 2.0) as probe:
        probe.api_versions()  # allowed before authentication
        with pytest.raises(ProbeError, match="TLS and SASL listeners close the connection"):
            probe.describe_cluster()


def test_list_reassignments_after_authentication():
    """list_reassignments writes its own frame on the authenticated connection."""
    with (
        sasl_broker() as (broker, port),
        KafkaProbe("127.0.0.1", port, 2.0, security=sasl_plaintext()) as probe,
    ):
        assert list_reassignments(probe) == ()
    assert broker.requests == [(18, 0), (17, 1), (36, 2), (36, 2), (46, 0)]


# --------------------------------------------------------------------------- CLI


def cli_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    kp.add_security_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_security_reads_the_password_from_the_environment():
    args = cli_args(
        "--security-protocol", "SASL_SSL", "--ca-file", "/ca.pem", "--username", "admin"
    )
    config = kp.security_from_arguments(args, {"AUTOMQ_PROBE_PASSWORD": PASSWORD})
    assert config == sasl_ssl()
    args = cli_args("--security-protocol", "SSL", "--cert-file", "/c", "--no-check-hostname")
    config = kp.security_from_arguments(args, {})
    assert (config.protocol, config.cert_file, config.check_hostname) == ("SSL", "/c", False)
    assert kp.security_from_arguments(cli_args(), {}) == PLAINTEXT


def test_cli_without_the_password_fails_clearly(capsys):
    status = kp.main(
        [
            *("--bootstrap", "127.0.0.1:1", "--security-protocol", "SASL_SSL"),
            *("--username", "admin", "--password-env", "NO_SUCH_VARIABLE_FOR_TEST", "status"),
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert status == 2
    assert out["error"] == (
        "security: protocol SASL_SSL needs a password in the environment variable "
        "NO_SUCH_VARIABLE_FOR_TEST"
    )
