"""The builtin console, driven in headless Chromium (scenario cluster only).

Playwright drives Debian's /usr/bin/chromium (no browser download). The test
makes a topic with records and a consumer group with a known lag, then logs
in as a person would, over HTTPS, and reads every page. The overview's
screenshot is kept as an artifact: $MOLECULE_EPHEMERAL_DIRECTORY/console-overview.png
and .testbed/artifacts/console-overview.png; the charts page's as console-charts.png.

Chromium takes no CA file, so Python first verifies the console's certificate
against the cluster CA (and that it names the console's address), and
Chromium then accepts exactly that certificate's key
(--ignore-certificate-errors-spki-list); any other certificate is an error.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from console_hosts import (
    ARTIFACTS,
    CONSOLE_ADDRESS,
    CONSOLE_PORT,
    CONSOLE_URL,
    NODE_ADDRESSES,
    admin_password,
    console_host,
    tls_to_the_console,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from kafka_clients import client_settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Flags for a machine without a GPU or outside network, running as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PARTITIONS = 3
RECORDS_PER_PARTITION = 100
COMMITTED_PER_PARTITION = 40
EXPECTED_LAG = PARTITIONS * (RECORDS_PER_PARTITION - COMMITTED_PER_PARTITION)
LOCK_OUT_AFTER = 5
PAGES = ("/", "/topics", "/groups", "/storage", "/charts")
# The charts page's charts (python_helpers/automq_console/charts.py), and those
# that draw a line for every node.
CHARTS = (
    "bytes-in",
    "bytes-out",
    "messages-in",
    "produce-latency",
    "partitions",
    "unavailable-partitions",
    "heap",
)
PER_NODE_CHARTS = ("bytes-in", "bytes-out", "messages-in", "produce-latency", "heap")
HSTS = "max-age=31536000"
SESSION_COOKIE = "__Host-automq_console_session"
LOGIN_COOKIE = "__Host-automq_console_login"


def verified_console_key() -> str:
    """The base64 SHA-256 of the console certificate's public key (SPKI), once Python has
    verified the certificate against the cluster CA and its name against the address."""
    with (
        socket.create_connection((CONSOLE_ADDRESS, CONSOLE_PORT), timeout=10) as raw,
        tls_to_the_console().wrap_socket(raw, server_hostname=CONSOLE_ADDRESS) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der, "the console sent no certificate"
    key = x509.load_der_x509_certificate(der).public_key()
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def workload() -> dict[str, str]:
    """A topic with records on every partition and a group that read only part of them."""
    bootstrap = ",".join(f"{address}:9092" for address in NODE_ADDRESSES.values())
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"console-topic-{suffix}", f"console-group-{suffix}"
    admin = AdminClient(client_settings(bootstrap))
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[
        topic
    ].result(timeout=60)
    producer = Producer(client_settings(bootstrap, {"acks": "all"}))
    for partition in range(PARTITIONS):
        for sequence in range(RECORDS_PER_PARTITION):
            producer.produce(topic, value=f"{partition}-{sequence}".encode(), partition=partition)
    assert producer.flush(60) == 0
    consumer = Consumer(
        client_settings(bootstrap, {"group.id": group, "enable.auto.commit": False})
    )
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        consumer.commit(
            offsets=[TopicPartition(topic, p, COMMITTED_PER_PARTITION) for p in range(PARTITIONS)],
            asynchronous=False,
        )
    finally:
        consumer.close()
    return {"topic": topic, "group": group}


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: tests/testbed/ensure_browser.sh"
    trusted = f"--ignore-certificate-errors-spki-list={verified_console_key()}"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, trusted]
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console_restarted_afterwards():
    """The lock-out test locks this machine out for 15 minutes: restart the console after."""
    yield
    host = console_host()
    with host.sudo():
        host.check_output("systemctl restart automq-console")


def _new_page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    return context.new_page()


def _log_in(page: Page, password: str, user: str = "admin"):
    page.goto(f"{CONSOLE_URL}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    with page.expect_response(re.compile(r"/login$")) as answer:
        page.click("button[type=submit]")
    return answer.value


def _keep_screenshot(page: Page, name: str) -> None:
    """The whole page, in the scenario's directory and the test bed's artifacts."""
    shot = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / name
    page.screenshot(path=str(shot), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    assert shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def page(browser: Browser, workload) -> Page:
    return _new_page(browser)


@pytest.fixture(scope="module")
def seen_html() -> dict[str, str]:
    """The HTML of every page the tests looked at, by path."""
    return {}


def test_pages_need_a_login(page: Page):
    for path in PAGES:
        page.goto(f"{CONSOLE_URL}{path}")
        assert page.url == f"{CONSOLE_URL}/login"
    expect(page.locator("h1")).to_have_text("Log in")


def test_wrong_password_is_rejected(page: Page, seen_html):
    answer = _log_in(page, admin_password() + "-wrong")
    assert answer.status == 401
    expect(page.locator("p.alert.problem")).to_have_text("Wrong user name or password.")
    assert page.url == f"{CONSOLE_URL}/login"
    seen_html["/login"] = page.content()
    page.goto(f"{CONSOLE_URL}/")
    assert page.url == f"{CONSOLE_URL}/login", "a failed login must not open a session"


def test_login_shows_every_node_healthy_with_its_version(page: Page, seen_html):
    answer = _log_in(page, admin_password())
    assert answer.status == 303
    assert answer.headers["strict-transport-security"] == HSTS
    assert page.url == f"{CONSOLE_URL}/"
    expect(page.locator("p.alert.ok")).to_have_text(
        f"All {len(NODE_ADDRESSES)} nodes are up and the controller quorum is healthy."
    )
    rows = page.locator("table.nodes tbody tr")
    expect(rows).to_have_count(len(NODE_ADDRESSES))
    for index in range(len(NODE_ADDRESSES)):
        cells = rows.nth(index).locator("td")
        assert cells.nth(2).inner_text() in NODE_ADDRESSES.values()
        assert cells.nth(4).inner_text() == "1.7.3-fixture"
        assert cells.nth(5).inner_text() == "registered, unfenced"
        assert cells.nth(7).inner_text() == "up"
    seen_html["/"] = page.content()
    _keep_screenshot(page, "console-overview.png")


def test_cookies_after_an_https_login_are_secure_httponly_samesite(page: Page):
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies(CONSOLE_URL)}
    assert SESSION_COOKIE in cookies, sorted(cookies)
    for name in (SESSION_COOKIE, LOGIN_COOKIE):
        if name not in cookies:  # the login cookie is cleared by a successful login
            continue
        cookie = cookies[name]
        assert cookie["secure"] is True, cookie
        assert cookie["httpOnly"] is True, cookie
        assert cookie["sameSite"] == "Strict", cookie
        # __Host-: set by this host only (no Domain attribute), for every path.
        assert (cookie["domain"], cookie["path"]) == (CONSOLE_ADDRESS, "/"), cookie
    assert LOGIN_COOKIE not in cookies


def test_every_page_is_https_with_hsts_and_links_prometheus_over_https(page: Page):
    for path in PAGES:
        answer = page.goto(f"{CONSOLE_URL}{path}")
        assert answer is not None
        assert answer.status == 200, path
        assert answer.headers["strict-transport-security"] == HSTS, path
        assert page.url.startswith("https://")
    link = page.locator("nav a", has_text="Metrics (Prometheus)")
    expect(link).to_have_attribute("href", f"https://{CONSOLE_ADDRESS}:9090/")


def test_topics_page_shows_the_topic(page: Page, workload, seen_html):
    page.click("nav >> text=Topics")
    assert page.url == f"{CONSOLE_URL}/topics"
    row = page.locator("table.topics tbody tr", has_text=workload["topic"])
    expect(row).to_have_count(1)
    assert row.locator("td").nth(1).inner_text() == str(PARTITIONS)
    assert row.locator("td").nth(3).inner_text() == "0"  # offline partitions
    seen_html["/topics"] = page.content()


def test_groups_page_shows_the_lag(page: Page, workload, seen_html):
    page.click("nav >> text=Consumer groups")
    assert page.url == f"{CONSOLE_URL}/groups"
    row = page.locator("table.groups tbody tr", has_text=workload["group"])
    expect(row).to_have_count(1)
    assert row.locator("td").nth(2).inner_text() == f"{EXPECTED_LAG:,}"
    expect(row.locator("li")).to_have_text(
        f"{workload['topic']}: lag {EXPECTED_LAG:,} over {PARTITIONS} partitions"
    )
    seen_html["/groups"] = page.content()


def test_storage_page_shows_buckets_region_and_endpoint(page: Page, seen_html):
    page.click("nav >> text=Object storage")
    assert page.url == f"{CONSOLE_URL}/storage"
    summary = page.locator("dl.summary").first.inner_text()
    for value in (
        "cn-hangzhou",
        "https://oss-cn-hangzhou-internal.aliyuncs.com",
        "automq-molecule-data",
        "automq-molecule-ops",
    ):
        assert value in summary
    seen_html["/storage"] = page.content()


def test_charts_show_the_cluster_traffic_from_prometheus(page: Page, seen_html):
    """Every chart has data points from this cluster's nodes, and the traffic of the
    scenario's earlier tests (the migration's producer, the 10,000 records) shows
    as bytes and records in."""
    page.click("nav >> text=Charts")
    page.click("nav.ranges >> text=1 hour")
    assert page.url == f"{CONSOLE_URL}/charts?range=1h"
    expect(page.locator("figure.chart")).to_have_count(len(CHARTS))
    problems = []
    for key in CHARTS:
        figure = page.locator(f"figure#chart-{key}")
        state = figure.get_attribute("data-state")
        if state != "data":
            problems.append(f"{key}: {state}: {figure.inner_text()}")
            continue
        series = {
            str(group.get_attribute("data-series")): (
                int(str(group.get_attribute("data-points"))),
                float(str(group.get_attribute("data-highest"))),
            )
            for group in figure.locator("g.series").all()
        }
        if any(points < 1 for points, _ in series.values()):
            problems.append(f"{key}: a line without points: {series}")
        if key in PER_NODE_CHARTS and not set(NODE_ADDRESSES) <= series.keys():
            problems.append(
                f"{key}: lines {sorted(series)}, not one per node {list(NODE_ADDRESSES)}"
            )
        if key in ("bytes-in", "messages-in", "bytes-out") and series["cluster"][1] <= 0:
            problems.append(f"{key}: the cluster's line never rises above zero: {series}")
        if key == "heap" and min(highest for _, highest in series.values()) < 1024**2:
            problems.append(f"{key}: less than 1 MiB of heap used: {series}")
    assert not problems, "\n".join(problems)
    seen_html["/charts"] = page.content()
    _keep_screenshot(page, "console-charts.png")


def test_no_page_contains_the_oss_secret(seen_html, oss_secret):
    assert set(seen_html) == {"/login", *PAGES}
    for path, html in seen_html.items():
        assert oss_secret not in html, f"the OSS AccessKey secret is in {path}"
        assert "AccessKeySecret" not in html


def test_logins_lock_after_repeated_failures(browser: Browser, console_restarted_afterwards):
    page = _new_page(browser)
    # The successful login before cleared the earlier failure: five in a row now.
    statuses = [_log_in(page, f"wrong-{attempt}").status for attempt in range(LOCK_OUT_AFTER)]
    assert statuses == [401] * (LOCK_OUT_AFTER - 1) + [429]
    # Locked: even the right password is refused now.
    answer = _log_in(page, admin_password())
    assert answer.status == 429
    assert int(answer.headers["retry-after"]) > 0
    expect(page.locator("p.alert.problem")).to_contain_text("Too many failed logins")
    assert page.url == f"{CONSOLE_URL}/login"
