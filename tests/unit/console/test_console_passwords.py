"""scrypt password hashes and the ``hash``/``verify`` command."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_console.passwords import (
    DEFAULT_N,
    PASSWORD_ALPHABET,
    PasswordHashError,
    hash_password,
    hash_password_bcrypt,
    main,
    parse_hash,
    verify_any,
    verify_password,
    verify_password_bcrypt,
)

FAST = {"n": 2**4, "r": 8, "p": 1}


@settings(max_examples=50, deadline=None)
@given(password=st.text(min_size=1, max_size=64), other=st.text(min_size=1, max_size=64))
def test_round_trip(password: str, other: str) -> None:
    encoded = hash_password(password, **FAST)
    assert verify_password(password, encoded)
    assert verify_password(other, encoded) == (other == password)


def test_salt_is_random() -> None:
    assert hash_password("same", **FAST) != hash_password("same", **FAST)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "pbkdf2$1$2$3$abc$def",
        "scrypt$16$8$1$c2FsdHNhbHQ",
        "scrypt$abc$8$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$15$8$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",  # N not a power of two
        "scrypt$4194304$8$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",  # N too large
        "scrypt$16$99$1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$16$8$1$c2Fs!HNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$16$8$1$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5",  # salt too short
    ],
)
def test_malformed_hashes_are_errors(encoded: str) -> None:
    with pytest.raises(PasswordHashError):
        verify_password("pw", encoded)


def test_empty_and_over_long_passwords() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password("")
    assert not verify_password("x" * 5000, hash_password("x", **FAST))


def run(argv: list[str], stdin: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, io.StringIO(stdin), out, err)
    return code, out.getvalue(), err.getvalue()


def test_cli_hash_reads_stdin_with_the_default_cost() -> None:
    code, out, err = run(["hash"], "s3cret pass\n")
    assert (code, err) == (0, "")
    scheme, n, r, p, _, _ = out.strip().split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", DEFAULT_N, 8, 1)
    assert len(parse_hash(out).key) == 32
    assert "s3cret" not in out
    assert verify_password("s3cret pass", out.strip())  # the trailing newline is not part of it


def test_cli_verify(tmp_path: Path) -> None:
    hash_file = tmp_path / "admin.hash"
    hash_file.write_text(hash_password("s3cret pass", **FAST) + "\n")

    assert run(["verify", "--hash-file", str(hash_file)], "s3cret pass\n")[0] == 0
    assert run(["verify", "--hash-file", str(hash_file)], "s3cret pass\r\n")[0] == 0
    assert run(["verify", "--hash-file", str(hash_file)], "s3cret pass")[0] == 0
    assert run(["verify", "--hash-file", str(hash_file)], "other\n")[0] == 1


def test_explicit_salt_is_encoded_base64url() -> None:
    encoded = hash_password("pw", salt=b"0123456789abcdef", **FAST)
    assert encoded.split("$")[4] == "MDEyMzQ1Njc4OWFiY2RlZg"
    assert verify_password("pw", encoded)


def test_cli_refuses_bad_input(tmp_path: Path) -> None:
    assert run(["hash"], "") == (2, "", "error: empty password on standard input\n")
    assert run(["hash"], "two\nlines\n")[0] == 2
    code, _, err = run(["verify", "--hash-file", str(tmp_path / "missing")], "pw")
    assert code == 2
    assert "cannot read the password hash file" in err


# --------------------------------------------------------------------------- bcrypt (Prometheus)


def test_bcrypt_round_trip() -> None:
    encoded = hash_password_bcrypt("metrics-Password-1", rounds=4)
    assert encoded.startswith("$2b$04$")
    assert len(encoded) == 60
    assert verify_password_bcrypt("metrics-Password-1", encoded)
    assert not verify_password_bcrypt("metrics-Password-2", encoded)
    assert verify_any("metrics-Password-1", encoded)
    assert hash_password_bcrypt("same", rounds=4) != hash_password_bcrypt("same", rounds=4)


def test_bcrypt_limits() -> None:
    with pytest.raises(ValueError, match="empty"):
        hash_password_bcrypt("")
    with pytest.raises(ValueError, match="at most 72 bytes"):
        hash_password_bcrypt("x" * 73)
    assert not verify_password_bcrypt("x" * 73, hash_password_bcrypt("x" * 72, rounds=4))
    for bad in ("$2b$10$short", "$2x$10$" + "a" * 53, "$2b$99$" + "a" * 53):
        with pytest.raises(PasswordHashError):
            verify_password_bcrypt("pw", bad)


def test_cli_bcrypt_hash_and_verify(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["hash", "--scheme", "bcrypt"], io.StringIO("prom-pass\n"), out, err)
    assert code == 0, err.getvalue()
    encoded = out.getvalue().strip()
    assert encoded.startswith("$2b$10$")  # the default cost
    hash_file = tmp_path / "prometheus.bcrypt"
    hash_file.write_text(encoded + "\n")
    verify = ["verify", "--hash-file", str(hash_file)]
    assert main(verify, io.StringIO("prom-pass\n"), io.StringIO(), io.StringIO()) == 0
    assert main(verify, io.StringIO("other\n"), io.StringIO(), io.StringIO()) == 1
    hash_file.write_text("$2b$10$broken\n")
    assert main(verify, io.StringIO("prom-pass\n"), io.StringIO(), err) == 2
    assert "expected a bcrypt hash" in err.getvalue()


def keep_cli(password_file: Path, scheme: str, *extra: str) -> dict[str, bool]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["keep", "--password-file", str(password_file), "--hash-file"]
    argv += [f"{password_file}.{scheme}", "--scheme", scheme, "--length", "24", *extra]
    assert main(argv, io.StringIO(), out, err) == 0, err.getvalue()
    result: dict[str, bool] = json.loads(out.getvalue())
    return result


@pytest.mark.parametrize("scheme", ["scrypt", "bcrypt"])
def test_keep_makes_the_password_once_and_hashes_only_when_it_changes(
    tmp_path: Path, scheme: str
) -> None:
    password_file = tmp_path / "secrets" / "admin.password"
    hash_file = Path(f"{password_file}.{scheme}")
    # Checking first: says everything would be made, makes nothing.
    assert keep_cli(password_file, scheme, "--check")["changed"] is True
    assert not password_file.parent.exists()

    first = keep_cli(password_file, scheme)
    assert first == {
        "changed": True, "created_directory": True, "created_password": True,
        "fixed_mode": False, "rehashed": True,
    }  # fmt: skip
    password = password_file.read_text()
    assert len(password) == 24
    assert set(password) <= set(PASSWORD_ALPHABET)
    assert stat.S_IMODE(password_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(hash_file.stat().st_mode) == 0o600
    assert verify_any(password, hash_file.read_text().strip())
    kept_hash = hash_file.read_text()

    assert keep_cli(password_file, scheme)["changed"] is False
    assert hash_file.read_text() == kept_hash  # a new salt would never be idempotent

    # Loosened mode: fixed. A password the user set: hashed again, the file kept.
    password_file.chmod(0o644)
    password_file.write_text("my-own-password-of-24-ch\n")
    assert keep_cli(password_file, scheme, "--check") == {
        "changed": True, "created_directory": False, "created_password": False,
        "fixed_mode": True, "rehashed": True,
    }  # fmt: skip
    assert hash_file.read_text() == kept_hash
    assert keep_cli(password_file, scheme)["rehashed"] is True
    assert password_file.read_text() == "my-own-password-of-24-ch\n"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert verify_any("my-own-password-of-24-ch", hash_file.read_text().strip())
    # A damaged hash file is made again rather than trusted or fatal.
    hash_file.write_text("scrypt$broken\n")
    assert keep_cli(password_file, scheme)["rehashed"] is True
    assert keep_cli(password_file, scheme)["changed"] is False


def test_keep_never_prints_the_password_and_refuses_an_empty_file(tmp_path: Path) -> None:
    password_file = tmp_path / "admin.password"
    out, err = io.StringIO(), io.StringIO()
    argv = ["keep", "--password-file", str(password_file), "--hash-file", str(tmp_path / "h")]
    argv += ["--scheme", "scrypt", "--length", "24"]
    assert main(argv, io.StringIO(), out, err) == 0
    assert password_file.read_text() not in out.getvalue() + err.getvalue()
    password_file.write_text("")
    assert main(argv, io.StringIO(), io.StringIO(), err) == 2
    assert "must hold one non-empty line" in err.getvalue()
