"""The console's HTTPS: its TLS context, and the real server (uvicorn) on loopback.

The end-to-end tests start uvicorn with the console's own context hook
(``automq_console.__main__``) on 127.0.0.1 and talk to it as a browser would:
TLS with the test CA trusted and the name checked, a login, and the cookies and
headers it answers with.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from console_fakes import (
    PASSWORD,
    FakeAdmin,
    FakeClock,
    FakeQuorum,
    PkiFiles,
    config_dict,
    csrf_token,
    make_pki,
    write_encrypted_key,
    write_secret_files,
)

from automq_console import __main__ as console_main
from automq_console.app import create_app
from automq_console.config import CONFIG_ENV_VAR, ConfigError, parse_settings
from automq_console.data import KafkaDataSource
from automq_console.tls import HSTS_VALUE, server_context


@pytest.fixture
def pki(tmp_path: Path) -> PkiFiles:
    return make_pki(tmp_path / "pki")


def client_context(pki: PkiFiles, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca_file))
    if maximum is not None:
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = maximum
        context.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer what the server must refuse
    return context


def serve_once(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """One handshake over a socket pair; the negotiated version, or the error's text."""
    left, right = socket.socketpair()
    outcome: dict[str, str] = {}

    def accept() -> None:
        try:
            with server.wrap_socket(left, server_side=True) as tls:
                outcome["server"] = str(tls.version())
        except (ssl.SSLError, OSError) as exc:
            outcome["server"] = f"refused: {exc}"

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        with client.wrap_socket(right, server_hostname="localhost") as tls:
            version = str(tls.version())
    except (ssl.SSLError, OSError) as exc:
        version = f"refused: {exc}"
    thread.join(10)
    return version


# --------------------------------------------------------------------------- the context


def test_tls_12_and_13_are_accepted(pki: PkiFiles) -> None:
    server = server_context(pki.cert_file, pki.key_file)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    assert serve_once(server, client_context(pki)) == "TLSv1.3"
    assert serve_once(server, client_context(pki, ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_older_tls_versions_are_refused(pki: PkiFiles, version: ssl.TLSVersion) -> None:
    outcome = serve_once(server_context(pki.cert_file, pki.key_file), client_context(pki, version))
    assert outcome.startswith("refused")


def test_tls12_offers_only_forward_secret_aead_suites(pki: PkiFiles) -> None:
    server = server_context(pki.cert_file, pki.key_file)
    tls12 = [c for c in server.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert tls12
    assert all(c["kea"] == "kx-ecdhe" and c["aead"] for c in tls12), tls12
    client = client_context(pki, ssl.TLSVersion.TLSv1_2)
    client.set_ciphers("ECDHE-ECDSA-AES128-SHA:AES128-SHA256:@SECLEVEL=0")  # CBC suites only
    assert serve_once(server, client).startswith("refused")


def test_unusable_key_files_are_refused_with_their_name(pki: PkiFiles, tmp_path: Path) -> None:
    pki.key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        server_context(pki.cert_file, pki.key_file)
    pki.key_file.chmod(0o640)

    encrypted = tmp_path / "encrypted.key"
    write_encrypted_key(encrypted)
    with pytest.raises(ConfigError, match=f"{encrypted} is encrypted"):
        server_context(pki.cert_file, encrypted)

    other = make_pki(tmp_path / "other")
    with pytest.raises(ConfigError, match=f"cannot use the TLS certificate {pki.cert_file}"):
        server_context(pki.cert_file, other.key_file)  # not this certificate's key


def test_check_config_builds_the_tls_context(
    pki: PkiFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_secret_files(tmp_path)
    path = tmp_path / "console.json"
    raw = config_dict(tmp_path, tls_cert_file=str(pki.cert_file), tls_key_file=str(pki.key_file))
    path.write_text(json.dumps(raw))
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    assert console_main.main(["--check-config"]) == 0

    pki.key_file.chmod(0o644)
    assert console_main.main(["--check-config"]) == 2


def test_main_serves_https_with_its_own_context(
    pki: PkiFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_secret_files(tmp_path)
    path = tmp_path / "console.json"
    raw = config_dict(tmp_path, tls_cert_file=str(pki.cert_file), tls_key_file=str(pki.key_file))
    path.write_text(json.dumps(raw))
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(
        KafkaDataSource, "from_settings", classmethod(lambda cls, settings: FakeAdmin())
    )

    assert console_main.main([]) == 0
    (kwargs,) = calls
    factory = kwargs["ssl_context_factory"]
    assert callable(factory)
    context = factory(None, None)
    assert isinstance(context, ssl.SSLContext)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert serve_once(context, client_context(pki)) == "TLSv1.3"


# --------------------------------------------------------------------------- the real server


@pytest.fixture
def https_console(pki: PkiFiles, tmp_path: Path) -> Iterator[tuple[int, PkiFiles]]:
    """uvicorn serving the console over HTTPS on 127.0.0.1, as ``python -m automq_console``
    configures it (the context hook of __main__), with secure cookies and a Prometheus link."""
    write_secret_files(tmp_path)
    raw = config_dict(
        tmp_path,
        cookie_secure=True,
        tls_cert_file=str(pki.cert_file),
        tls_key_file=str(pki.key_file),
        prometheus_port=9090,
    )
    settings = parse_settings(json.dumps(raw))
    app = create_app(settings, KafkaDataSource(settings, FakeAdmin(), FakeQuorum(), FakeClock()))
    context = server_context(pki.cert_file, pki.key_file)
    config = uvicorn.Config(
        app,
        log_level="warning",
        server_header=False,
        ssl_context_factory=console_main._context_factory(context),
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield listener.getsockname()[1], pki
    finally:
        server.should_exit = True
        thread.join(20)
        listener.close()


def request(
    port: int,
    pki: PkiFiles,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    connection = http.client.HTTPSConnection(
        "localhost", port, context=client_context(pki), timeout=10
    )
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def _cookie_pair(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0]


def test_https_login_sets_secure_httponly_samesite_cookies(
    https_console: tuple[int, PkiFiles],
) -> None:
    port, pki = https_console
    connection = http.client.HTTPSConnection(
        "localhost", port, context=client_context(pki), timeout=10
    )
    connection.request("GET", "/login")
    form = connection.getresponse()
    html = form.read().decode()
    assert form.status == 200
    assert form.getheader("Strict-Transport-Security") == HSTS_VALUE
    (login_cookie,) = form.headers.get_all("Set-Cookie")
    body = urllib.parse.urlencode(
        {"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(html)}
    )
    connection.request(
        "POST",
        "/login",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": _cookie_pair(login_cookie),
        },
    )
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 303
    assert answer.getheader("Strict-Transport-Security") == HSTS_VALUE
    cookies = answer.headers.get_all("Set-Cookie")
    session = next(c for c in cookies if c.startswith("__Host-automq_console_session="))
    for cookie in (login_cookie, session):
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite", "path"} <= attributes, cookie
        assert "samesite=strict" in cookie.lower()
        assert "domain=" not in cookie.lower()  # __Host- cookies are bound to this host

    connection.request("GET", "/", headers={"Cookie": _cookie_pair(session)})
    overview = connection.getresponse()
    page = overview.read().decode()
    connection.close()
    assert overview.status == 200
    assert overview.getheader("Strict-Transport-Security") == HSTS_VALUE
    assert 'href="https://localhost:9090/"' in page  # Prometheus, over HTTPS, same host


def test_https_console_checks_its_name_and_speaks_no_plain_http(
    https_console: tuple[int, PkiFiles],
) -> None:
    port, pki = https_console
    health = request(port, pki, "GET", "/healthz")
    assert health.status == 200
    assert health.getheader("Strict-Transport-Security") == HSTS_VALUE

    # Plain HTTP gets no answer: the server reads it as a broken TLS handshake.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as plain:
        plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert not plain.recv(4096).startswith(b"HTTP/")

    strict = ssl.create_default_context(cafile=str(pki.ca_file))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"),
    ):
        strict.wrap_socket(raw, server_hostname="console.example")
