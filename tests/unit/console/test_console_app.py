"""The web application through FastAPI's TestClient.

Only the Kafka client is fake (see console_fakes); the data layer, the
application, sessions, CSRF, lock-out and templates are the real ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka.admin import ConfigEntry
from console_fakes import (
    PASSWORD,
    START,
    FakeAdmin,
    FakeClock,
    FakeQuorum,
    csrf_token,
    kafka_error,
    login,
    quorum_info,
    unreachable_quorum,
)
from fastapi.testclient import TestClient

from automq_console.app import create_app, prometheus_link
from automq_console.config import ConfigError, Settings
from automq_console.data import KafkaDataSource

PAGES = ("/", "/topics", "/groups", "/storage", "/charts")


def set_cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def logged_in(client: TestClient) -> TestClient:
    response = login(client)
    assert response.status_code == 303, response.text
    return client


def text_of(html: str) -> str:
    """The visible text, whitespace collapsed, for content assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


# --------------------------------------------------------------------------- health, redirects


def test_healthz_needs_no_login_and_reads_no_cluster(
    client: TestClient, admin: FakeAdmin, quorum: FakeQuorum
) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok")
    assert admin.calls == []
    assert quorum.addresses == []


@pytest.mark.parametrize("path", [*PAGES, "/nope", "/docs", "/openapi.json"])
def test_everything_else_needs_a_session(client: TestClient, admin: FakeAdmin, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert admin.calls == []


def test_stylesheet_is_served_without_login(client: TestClient) -> None:
    response = client.get("/static/console.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == "public, max-age=3600"


# --------------------------------------------------------------------------- login


def test_login_form_and_its_csrf_cookie(client: TestClient) -> None:
    response = client.get("/login")

    assert response.status_code == 200
    assert 'name="csrf_token"' in response.text
    (cookie,) = set_cookies(response)
    assert cookie.startswith("automq_console_login=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # this test bed's settings say plain HTTP


def test_login_success_sets_a_session_cookie(client: TestClient) -> None:
    response = login(client)

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    session_cookie = next(c for c in set_cookies(response) if "automq_console_session=" in c)
    assert "HttpOnly" in session_cookie
    assert "SameSite=strict" in session_cookie
    assert "Max-Age" not in session_cookie  # a browser-session cookie; expiry is server-side
    assert client.get("/").status_code == 200
    assert client.get("/login").headers["location"] == "/"


def test_secure_cookies_when_configured(
    make_settings: Callable[..., Settings], source: KafkaDataSource, clock: FakeClock
) -> None:
    app = create_app(make_settings(cookie_secure=True), source, clock)
    client = TestClient(app, base_url="https://console.example", follow_redirects=False)

    form_cookie = set_cookies(client.get("/login"))[0]
    assert form_cookie.startswith("__Host-automq_console_login=")
    assert "Secure" in form_cookie
    response = login(client)
    assert response.status_code == 303
    session_cookie = next(c for c in set_cookies(response) if "session=" in c)
    assert session_cookie.startswith("__Host-automq_console_session=")
    assert "Secure" in session_cookie
    assert "Path=/" in session_cookie


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong"), ("root", PASSWORD), ("", ""), ("ADMIN", PASSWORD)],
)
def test_wrong_credentials_are_refused(client: TestClient, username: str, password: str) -> None:
    response = login(client, username, password)

    assert response.status_code == 401
    assert "Wrong user name or password." in response.text
    assert not any("session=" in c for c in set_cookies(response))
    assert client.get("/").status_code == 303


def test_login_without_or_with_a_wrong_csrf_token_is_forbidden(client: TestClient) -> None:
    client.get("/login")
    form = {"username": "admin", "password": PASSWORD}

    assert client.post("/login", data=form).status_code == 403
    assert client.post("/login", data={**form, "csrf_token": "forged"}).status_code == 403
    # A valid token of another browser's form does not fit this browser's nonce cookie.
    other = TestClient(client.app)
    token = csrf_token(other.get("/login").text)
    assert client.post("/login", data={**form, "csrf_token": token}).status_code == 403
    # No cookie at all.
    fresh = TestClient(client.app, follow_redirects=False)
    assert fresh.post("/login", data={**form, "csrf_token": token}).status_code == 403
    # None of that counted as a failed password: the real login still works.
    assert login(client).status_code == 303


def test_lockout_after_five_failures_and_its_expiry(client: TestClient, clock: FakeClock) -> None:
    for _ in range(4):
        assert login(client, password="wrong").status_code == 401
    fifth = login(client, password="wrong")
    assert fifth.status_code == 429
    assert fifth.headers["retry-after"] == "900"
    assert "Too many failed logins" in fifth.text
    assert "locked for 15 more minutes" in fifth.text

    # Even the right password is refused while locked, without a session.
    locked = login(client)
    assert locked.status_code == 429
    assert client.get("/").status_code == 303

    clock.advance(14 * 60)
    assert login(client).status_code == 429
    clock.advance(60)
    assert login(client).status_code == 303
    assert client.get("/").status_code == 200


def test_lockout_per_user_across_addresses(client: TestClient) -> None:
    for i in range(5):
        other = TestClient(client.app, client=(f"192.0.2.{i}", 40000), follow_redirects=False)
        login(other, password="wrong")
    fresh = TestClient(client.app, client=("198.51.100.7", 40000), follow_redirects=False)
    assert login(fresh).status_code == 429
    # A different user name from a fresh address is not locked (and just fails).
    assert login(fresh, username="operator").status_code == 401


def test_lockout_per_address_across_user_names(client: TestClient) -> None:
    for i in range(5):
        login(client, username=f"user{i}", password="wrong")
    assert login(client).status_code == 429


def test_each_login_gets_its_own_session(client: TestClient) -> None:
    other = logged_in(TestClient(client.app, follow_redirects=False))
    logged_in(client)
    assert client.cookies.get("automq_console_session") != other.cookies.get(
        "automq_console_session"
    )
    token = csrf_token(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303
    assert other.get("/").status_code == 200


# --------------------------------------------------------------------------- sessions


def test_session_expires_after_eight_idle_hours(client: TestClient, clock: FakeClock) -> None:
    logged_in(client)
    clock.advance(7 * 3600)
    assert client.get("/").status_code == 200
    clock.advance(7 * 3600)
    assert client.get("/topics").status_code == 200  # used: still alive
    clock.advance(8 * 3600 + 1)
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_session_lifetime_ends_even_when_active(client: TestClient, clock: FakeClock) -> None:
    logged_in(client)
    for _ in range(3):
        clock.advance(7 * 3600)
        assert client.get("/").status_code == 200
    clock.advance(3 * 3600 + 1)  # 24 h after login
    assert client.get("/").status_code == 303


def test_forged_session_cookie(client: TestClient) -> None:
    client.cookies.set("automq_console_session", "abc.def")
    assert client.get("/").status_code == 303


def test_logout_needs_the_session_csrf_token(client: TestClient) -> None:
    logged_in(client)
    token = csrf_token(client.get("/").text)

    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    assert client.get("/").status_code == 200  # still logged in

    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert client.get("/").status_code == 303
    # Logging out without a session just goes to the login page.
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303


def test_logout_is_refused_by_get(client: TestClient) -> None:
    logged_in(client)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


# --------------------------------------------------------------------------- forms


def test_forms_must_be_small_and_url_encoded(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", files={"username": ("u", b"admin")})
    assert response.status_code == 415
    response = client.post("/login", json={"username": "admin"})
    assert response.status_code == 415
    response = client.post(
        "/login",
        content=b"username=" + b"a" * 5000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    response = client.post(
        "/login",
        content=b"username=a&username=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400


# --------------------------------------------------------------------------- pages


def test_overview_page(client: TestClient, quorum: FakeQuorum) -> None:
    quorum.answer = quorum_info(high_watermark=5000, log_end_offsets={1: 4990})
    logged_in(client)

    response = client.get("/")

    assert response.status_code == 200
    text = text_of(response.text)
    fetched = datetime.fromtimestamp(START, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"Data fetched {fetched}" in text
    assert "Cluster ID 2pLDXREPN-_3XaFc9gSSNw" in text
    assert "Quorum leader node 0" in text
    for node_id, host in ((0, "automq-1"), (1, "automq-2"), (2, "automq-3")):
        row = (
            f"{node_id} {host} 10.0.0.{11 + node_id} broker, controller 1.7.3 registered, unfenced"
        )
        assert row in text
    assert "quorum leader up" in text
    assert "follower, lag 10 up" in text
    assert "Installed version" in text
    assert "the AutoMQ release Ansible installed on the node" in text
    assert "1 follower (voter) 4,990 10 250 ms ago" in text
    assert "All 3 nodes are up" in text
    assert 'aria-current="page">Overview' in response.text


def test_overview_shows_a_down_broker_in_red(
    client: TestClient, admin: FakeAdmin, quorum: FakeQuorum
) -> None:
    admin.live_brokers = (0, 1)
    quorum.answer = quorum_info(voters=(0, 1))
    logged_in(client)

    response = client.get("/")

    assert response.status_code == 200
    assert '<tr class="problem">' in response.text
    assert '<span class="badge problem">down or unhealthy</span>' in response.text
    text = text_of(response.text)
    assert "not registered or fenced" in text
    assert "Node 2 (automq-3): not registered or fenced; not a quorum voter" in text
    assert "All 3 nodes are up" not in text


def test_overview_when_nothing_answers(
    client: TestClient, admin: FakeAdmin, quorum: FakeQuorum
) -> None:
    admin.live_brokers = kafka_error()
    quorum.answer = unreachable_quorum()
    logged_in(client)

    response = client.get("/")

    assert response.status_code == 200
    text = text_of(response.text)
    assert "The cluster could not be read completely" in text
    assert "Brokers (DescribeCluster): Connection refused (_TRANSPORT)" in text
    assert "Controller quorum (DescribeQuorum): no node answered" in text
    assert "The controller quorum could not be read." in text
    assert "Quorum leader none known" in text


def test_topics_page(client: TestClient) -> None:
    logged_in(client)
    text = text_of(client.get("/topics").text)
    assert "3 topics, 65 partitions." in text
    assert "orders 12 1 0 0" in text
    assert "payments 3 1 0 0" in text
    assert "__consumer_offsets 50 1 0 0 internal" in text


def test_topics_page_error(client: TestClient, admin: FakeAdmin) -> None:
    admin.topics = kafka_error()
    logged_in(client)
    response = client.get("/topics")
    assert response.status_code == 200
    assert "Topics (Metadata): Connection refused (_TRANSPORT)" in text_of(response.text)


def test_groups_page(client: TestClient) -> None:
    logged_in(client)
    text = text_of(client.get("/groups").text)
    assert "billing stable 33" in text
    assert "orders : lag 30 over 2 partitions" in text
    assert "payments : lag 3 over 1 partition" in text
    assert "audit empty 90" in text


def test_storage_page(client: TestClient, admin: FakeAdmin) -> None:
    admin.configs = {
        0: {
            "s3.data.buckets": ConfigEntry(
                "s3.data.buckets", "0@s3://automq-prod-data?region=oss-cn-hangzhou"
            )
        }
    }
    logged_in(client)
    text = text_of(client.get("/storage").text)
    assert "Region cn-hangzhou" in text
    assert "Endpoint https://oss-cn-hangzhou-internal.aliyuncs.com" in text
    assert "Data bucket automq-prod-data" in text
    assert "Ops bucket automq-prod-ops" in text
    assert "Broker 0 answered DescribeConfigs with:" in text
    assert "s3.data.buckets 0@s3://automq-prod-data?region=oss-cn-hangzhou" in text


def test_no_page_ever_shows_a_secret(
    client: TestClient, admin: FakeAdmin, tmp_path: Path, quorum: FakeQuorum
) -> None:
    leaks = ["LEAK-SK-1", "LEAK-AK-2", "LEAK-SENSITIVE-3", "LEAK-USERINFO-4"]
    admin.configs = {
        0: {
            "s3.data.buckets": ConfigEntry(
                "s3.data.buckets",
                "0@s3://automq-prod-data?region=r&accessKey=LEAK-AK-2&secretKey=LEAK-SK-1",
            ),
            "s3.ops.buckets": ConfigEntry(
                "s3.ops.buckets", "1@s3://LEAK-USERINFO-4:pw@automq-prod-ops"
            ),
            "s3.endpoint": ConfigEntry("s3.endpoint", "https://LEAK-AK-2:LEAK-SK-1@oss.example"),
            "s3.region": ConfigEntry("s3.region", "LEAK-SENSITIVE-3", is_sensitive=True),
            "s3.secret.key": ConfigEntry("s3.secret.key", "LEAK-SK-1"),
            "s3.access.key": ConfigEntry("s3.access.key", "LEAK-AK-2"),
        }
    }
    # What the console host itself holds must not show either.
    leaks.append((tmp_path / "admin.hash").read_text().strip())
    leaks.append((tmp_path / "session.key").read_text().strip())
    leaks.append(PASSWORD)
    logged_in(client)

    pages = {path: client.get(path).text for path in (*PAGES, "/login", "/missing")}
    pages["logout"] = client.post("/logout", data={"csrf_token": "x"}).text

    for path, html in pages.items():
        found = [leak for leak in leaks if leak in html]
        assert not found, f"{path} shows {found}"
    assert "(2 other parameters not shown)" in pages["/storage"]


def test_every_page_has_security_headers(client: TestClient) -> None:
    responses = [client.get("/login"), client.get("/healthz")]
    logged_in(client)
    responses += [client.get(path) for path in PAGES]
    for response in responses:
        headers = response.headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert headers["strict-transport-security"] == "max-age=31536000"
        assert "server" not in headers or "uvicorn" not in headers["server"]


def test_pages_reference_no_external_asset_or_script(client: TestClient) -> None:
    logged_in(client)
    for path in (*PAGES, "/login"):
        html = client.get(path).text
        assert "<script" not in html
        assert "style=" not in html  # the CSP allows no inline style
        assert not re.search(r"(src|href)=\"(https?:)?//", html)


def test_unknown_page_with_a_session_is_404(client: TestClient) -> None:
    logged_in(client)
    response = client.get("/admin")
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_internal_errors_show_no_details(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def overview(self):
            raise RuntimeError("LEAK-DETAIL")

        topics = groups = storage = overview

    client = TestClient(
        create_app(settings, Broken(), clock), follow_redirects=False, raise_server_exceptions=False
    )
    logged_in(client)
    response = client.get("/")
    assert response.status_code == 500
    assert "Internal error" in response.text
    assert "LEAK-DETAIL" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert "LEAK-DETAIL" in caplog.text  # in the log, for the operator


# --------------------------------------------------------------------------- secret files


def test_the_app_refuses_to_start_without_usable_secret_files(
    settings: Settings, source: KafkaDataSource, tmp_path: Path
) -> None:
    (tmp_path / "admin.hash").write_text("plain text password\n")
    with pytest.raises(ConfigError, match="expected scrypt"):
        create_app(settings, source)
    (tmp_path / "admin.hash").unlink()
    with pytest.raises(ConfigError, match="cannot read the password hash file"):
        create_app(settings, source)


def test_unreadable_hash_file_after_start(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "admin.hash").unlink()
    response = login(client)
    assert response.status_code == 503
    assert "cannot check passwords" in response.text


# --------------------------------------------------------------------------- Prometheus link


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("console.example", "https://console.example:9090/"),
        ("Console.Example", "https://console.example:9090/"),
        ("10.0.0.5", "https://10.0.0.5:9090/"),
        ("::1", "https://[::1]:9090/"),
        ("", None),
        (None, None),
        ('x"><script>', None),
        ("under_score.example", None),
        ("-bad.example", None),
    ],
)
def test_prometheus_link(host: str | None, expected: str | None) -> None:
    assert prometheus_link(host, 9090) == expected
    assert prometheus_link(host, None) is None


def test_pages_link_to_prometheus_on_the_same_host(
    make_settings: Callable[..., Settings], source: KafkaDataSource, clock: FakeClock
) -> None:
    app = create_app(make_settings(prometheus_port=9091), source, clock)
    client = TestClient(app, base_url="http://10.0.0.5:8080", follow_redirects=False)
    assert "Metrics (Prometheus)" not in client.get("/login").text  # not before a login
    logged_in(client)
    for path in PAGES:
        assert 'href="https://10.0.0.5:9091/"' in client.get(path).text, path


def test_no_prometheus_link_without_its_port(client: TestClient) -> None:
    logged_in(client)
    assert "Metrics (Prometheus)" not in client.get("/").text
