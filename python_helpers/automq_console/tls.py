"""The console's HTTPS: the server's TLS context and the HSTS header.

TLS 1.2 or newer only, and for TLS 1.2 only forward-secret AEAD cipher suites
(ECDHE with AES-GCM or ChaCha20-Poly1305; TLS 1.3 has nothing weaker).  The key
file must not be readable by others than the console's group; an encrypted key
is refused (the service has no one to type its passphrase).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from .config import ConfigError, check_private_file

TLS_MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
# One year; browsers then refuse plain HTTP to this host (for names, not IP addresses).
HSTS_VALUE = "max-age=31536000"


class _EncryptedKey(Exception):
    pass


def _refuse_passphrase() -> str:
    raise _EncryptedKey()


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """The server context for ``cert_file`` (PEM, the chain after the certificate) and its key.

    Raises ConfigError naming the file that cannot be used.
    """
    check_private_file(key_file, "TLS key file", allow_group_read=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_MINIMUM_VERSION
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(cert_file, key_file, _refuse_passphrase)
    except _EncryptedKey:
        raise ConfigError(
            f"the TLS key file {key_file} is encrypted; the console needs an unencrypted "
            "PEM key (readable by its group only)"
        ) from None
    except OSError as exc:  # ssl.SSLError included: not PEM, or the key does not match
        reason = exc.strerror or str(exc)
        raise ConfigError(
            f"cannot use the TLS certificate {cert_file} with the key {key_file}: {reason}"
        ) from exc
    return context
