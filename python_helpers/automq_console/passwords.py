"""Password hashes for the console's admin account, with the standard library only.

A hash is ``scrypt$N$r$p$SALT$KEY``: scrypt (RFC 7914) cost parameters, then the
16-byte random salt and the 32-byte derived key, both base64url without padding.
Verification re-derives the key with the parameters stored in the hash and
compares in constant time; parameters are bounded so a hostile hash file can
not make a login exhaust memory.

Prometheus's basic authentication (its ``--web.config.file``) wants bcrypt
hashes instead: ``--scheme bcrypt`` makes them with the ``bcrypt`` package, which
only the Ansible machine needs (the repository's requirements.txt); the console
host never imports it.

CLI (the password is read from standard input, never from the command line, so
it shows up neither in ``ps`` nor in shell history; a terminal gets a prompt)::

    python -m automq_console.passwords hash [--scheme bcrypt]    # prints the hash
    python -m automq_console.passwords verify --hash-file PATH   # exit 0 if it matches

``verify`` (either scheme, told by the hash) lets Ansible keep an existing hash
file when the password is unchanged (a new hash has a new salt, so rehashing on
every run would never be idempotent).

``keep`` does the role's whole bookkeeping on the Ansible machine in one call
(one task instead of seven): the password file generated once (letters and
digits, mode 0600, its directory 0700 when it has to be made), its mode kept,
and the hash file beside it made again only when it no longer matches. It
prints ``{"changed": ...}`` as JSON and never the password::

    python -m automq_console.passwords keep --password-file F --hash-file H \
        --scheme scrypt|bcrypt --length 24 [--check]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

SCHEME = "scrypt"
# 2**15 * 8 * 128 bytes = 32 MiB and ~0.1 s per hash on one core: the
# interactive-login strength recommended by the scrypt paper and OWASP.
DEFAULT_N = 2**15
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32

MAX_N = 2**20
MAX_R = 32
MAX_P = 16
MAX_MEMORY_BYTES = 256 * 1024 * 1024
MAX_PASSWORD_BYTES = 4096


class PasswordHashError(ValueError):
    """A stored hash that is not a valid ``scrypt$N$r$p$salt$key`` string."""


@dataclass(frozen=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def encode(self) -> str:
        return "$".join(
            (SCHEME, str(self.n), str(self.r), str(self.p), _b64(self.salt), _b64(self.key))
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_ALPHABET for c in text):
        raise PasswordHashError("salt and key must be base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PasswordHashError(f"bad base64: {exc}") from exc


_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _check_parameters(n: int, r: int, p: int) -> None:
    if n < 2 or n > MAX_N or n & (n - 1):
        raise PasswordHashError(f"scrypt N must be a power of two in 2..{MAX_N}, not {n}")
    if not 1 <= r <= MAX_R or not 1 <= p <= MAX_P:
        raise PasswordHashError(f"scrypt r must be in 1..{MAX_R} and p in 1..{MAX_P}")
    if 128 * n * r > MAX_MEMORY_BYTES:
        raise PasswordHashError(f"scrypt N*r needs more than {MAX_MEMORY_BYTES} bytes")


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    data = password.encode("utf-8")
    if len(data) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    return hashlib.scrypt(
        data, salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r + (1 << 20), dklen=length
    )


def hash_password(
    password: str,
    *,
    n: int = DEFAULT_N,
    r: int = DEFAULT_R,
    p: int = DEFAULT_P,
    salt: bytes | None = None,
) -> str:
    """A new ``scrypt$...`` hash of ``password`` with a random salt."""
    if not password:
        raise ValueError("the password must not be empty")
    _check_parameters(n, r, p)
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    if len(salt) < 8:
        raise ValueError("the salt must be at least 8 bytes")
    key = _derive(password, salt, n, r, p, KEY_BYTES)
    return ScryptHash(n, r, p, salt, key).encode()


def parse_hash(encoded: str) -> ScryptHash:
    parts = encoded.strip().split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise PasswordHashError("expected scrypt$N$r$p$salt$key")
    if not all(part.isascii() and part.isdigit() for part in parts[1:4]):
        raise PasswordHashError("scrypt N, r and p must be decimal numbers")
    n, r, p = (int(part) for part in parts[1:4])
    _check_parameters(n, r, p)
    salt, key = _unb64(parts[4]), _unb64(parts[5])
    if len(salt) < 8 or len(key) < 16:
        raise PasswordHashError("salt or key too short")
    return ScryptHash(n, r, p, salt, key)


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches; PasswordHashError if ``encoded`` is malformed."""
    stored = parse_hash(encoded)
    try:
        candidate = _derive(password, stored.salt, stored.n, stored.r, stored.p, len(stored.key))
    except ValueError:  # over-long password: cannot match a hash we made
        return False
    return hmac.compare_digest(candidate, stored.key)


def read_hash_file(path: Path) -> str:
    """The hash stored in ``path`` (one line), validated."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordHashError(f"cannot read the password hash file {path}: {exc}") from exc
    try:
        parse_hash(text)
    except PasswordHashError as exc:
        raise PasswordHashError(f"{path}: {exc}") from exc
    return text


# --------------------------------------------------------------------------- bcrypt

# Prometheus checks the hash at every request that is not in its small cache of
# recent logins; the passwords are long random strings, which the cost does not
# need to protect: 2**10 rounds (about 50 ms).
BCRYPT_ROUNDS = 10
BCRYPT_MAX_PASSWORD_BYTES = 72  # bcrypt ignores what follows; refuse rather than truncate
_BCRYPT_RE = re.compile(r"^\$2[aby]\$(0[4-9]|1[0-9]|2[0-9]|3[01])\$[./A-Za-z0-9]{53}$")


def hash_password_bcrypt(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """A new ``$2b$`` bcrypt hash of ``password``, as Prometheus's basic_auth_users takes."""
    import bcrypt  # the Ansible machine's requirement only

    data = password.encode("utf-8")
    if not data:
        raise ValueError("the password must not be empty")
    if len(data) > BCRYPT_MAX_PASSWORD_BYTES:
        raise ValueError(f"bcrypt takes passwords of at most {BCRYPT_MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds)).decode("ascii")


def verify_password_bcrypt(password: str, encoded: str) -> bool:
    """True if ``password`` matches the bcrypt hash; PasswordHashError if it is malformed."""
    encoded = encoded.strip()
    if not _BCRYPT_RE.match(encoded):
        raise PasswordHashError("expected a bcrypt hash $2b$NN$ followed by 53 characters")
    import bcrypt

    data = password.encode("utf-8")
    if len(data) > BCRYPT_MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(data, encoded.encode("ascii"))


def verify_any(password: str, encoded: str) -> bool:
    """Verify against a scrypt or a bcrypt hash, whichever ``encoded`` is."""
    if encoded.startswith("$2"):
        return verify_password_bcrypt(password, encoded)
    return verify_password(password, encoded)


# --------------------------------------------------------------------------- keep

PASSWORD_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Kept:
    """What ``keep`` did (or, checking, would do)."""

    created_directory: bool = False
    created_password: bool = False
    fixed_mode: bool = False
    rehashed: bool = False

    @property
    def changed(self) -> bool:
        return self.created_directory or self.created_password or self.fixed_mode or self.rehashed


def new_password(length: int) -> str:
    if length < 16:
        raise ValueError("a generated password has at least 16 characters")
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _position in range(length))


def _create_private(path: Path, text: str) -> None:
    """A new file, mode 0600 from its creation; an existing one is an error (O_EXCL): a
    password is never overwritten."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _hash_matches(password: str, hash_file: Path) -> bool:
    try:
        return verify_any(password, _read_any_hash(hash_file))
    except ValueError:  # missing, unreadable or damaged: made again
        return False


def keep(password_file: Path, hash_file: Path, scheme: str, length: int, check: bool) -> Kept:
    """The password file (made once) and a hash file that matches it; see the module doc."""
    hasher_of = hash_password_bcrypt if scheme == "bcrypt" else hash_password
    directory = password_file.parent
    created_directory = not directory.is_dir()
    created_password = created_directory or not password_file.exists()
    if check and created_password:
        return Kept(created_directory, True, False, True)
    if created_directory:
        directory.mkdir(mode=0o700, parents=True)
    if created_password:
        _create_private(password_file, new_password(length))
    fixed_mode = (password_file.stat().st_mode & 0o7777) != 0o600
    if fixed_mode and not check:
        password_file.chmod(0o600)
    password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
    if not password or "\n" in password:
        raise ValueError(f"{password_file} must hold one non-empty line")
    rehashed = not _hash_matches(password, hash_file)
    if rehashed and not check:
        # Imported here: the console host has automq_console but not node_files, and only
        # the Ansible machine runs keep.
        from automq_helpers.node_files import write_atomically

        content = (hasher_of(password) + "\n").encode("utf-8")
        write_atomically(str(hash_file), content, os.getuid(), os.getgid(), 0o600)
    return Kept(created_directory, created_password, fixed_mode, rehashed)


# --------------------------------------------------------------------------- CLI


def _read_any_hash(path: Path) -> str:
    """A scrypt hash file (validated) or a bcrypt one (checked when verified)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordHashError(f"cannot read the password hash file {path}: {exc}") from exc
    return text if text.startswith("$2") else read_hash_file(path)


def read_password(stream: TextIO) -> str:
    """The password from ``stream``: a prompt on a terminal, else all of it less one newline."""
    if stream.isatty():
        return getpass.getpass("Password: ")
    text = stream.read()
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Exit 0: done / password matches; 1: no match; 2: usage or input error."""
    in_stream = stdin or sys.stdin
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = argparse.ArgumentParser(
        prog="python -m automq_console.passwords",
        description="Hash the console admin password (read from stdin), or verify it.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    hasher = sub.add_parser("hash", help="print a hash of the password on stdin")
    hasher.add_argument(
        "--scheme",
        choices=("scrypt", "bcrypt"),
        default="scrypt",
        help="scrypt (the console's admin) or bcrypt (Prometheus's basic authentication)",
    )
    verify = sub.add_parser("verify", help="exit 0 if the password on stdin matches the hash")
    verify.add_argument("--hash-file", type=Path, required=True)
    keeper = sub.add_parser(
        "keep", help="make the password file once and keep a matching hash file beside it"
    )
    keeper.add_argument("--password-file", type=Path, required=True)
    keeper.add_argument("--hash-file", type=Path, required=True)
    keeper.add_argument("--scheme", choices=("scrypt", "bcrypt"), required=True)
    keeper.add_argument("--length", type=int, required=True)
    keeper.add_argument(
        "--check", action="store_true", help="say what would change, change nothing"
    )
    args = parser.parse_args(argv)

    if args.command == "keep":
        try:
            kept = keep(args.password_file, args.hash_file, args.scheme, args.length, args.check)
        except (OSError, ValueError) as exc:
            err.write(f"error: {exc}\n")
            return 2
        out.write(json.dumps({"changed": kept.changed, **asdict(kept)}) + "\n")
        return 0

    password = read_password(in_stream)
    if not password:
        err.write("error: empty password on standard input\n")
        return 2
    if "\n" in password or "\r" in password:
        err.write("error: the password must be a single line\n")
        return 2
    try:
        if args.command == "hash":
            hasher_of = hash_password_bcrypt if args.scheme == "bcrypt" else hash_password
            out.write(hasher_of(password) + "\n")
            return 0
        encoded = _read_any_hash(args.hash_file)
        return 0 if verify_any(password, encoded) else 1
    except ValueError as exc:  # PasswordHashError included
        err.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
