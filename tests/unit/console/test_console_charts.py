"""The charts page: its pure parts (ranges, Prometheus's answers, drawing) and the
page through FastAPI's TestClient with a fake Prometheus at the query boundary.

The PromQL itself runs against Debian's Prometheus in
tests/integration/test_prometheus_web.py (both exporters' metric names)."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from console_fakes import START, FakeClock, login
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from automq_console import charts
from automq_console.app import create_app
from automq_console.charts import (
    CHARTS,
    QueryError,
    QueryWindow,
    Series,
    build_charts_page,
    draw_svg,
    format_value,
    nice_ceiling,
    parse_duration,
    parse_matrix,
    query_window,
    segments,
)
from automq_console.config import ConfigError, Settings
from automq_console.data import KafkaDataSource

Matrix = list[tuple[dict[str, str], list[tuple[float, float]]]]


class FakePrometheus:
    """Answers range queries from a function of the expression; records every call."""

    def __init__(self, answer: Callable[[str, float, float, int], Matrix]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, float, float, int]] = []

    def query_range(self, expr: str, start: float, end: float, step: int) -> Matrix:
        self.calls.append((expr, start, end, step))
        return self.answer(expr, start, end, step)


def steady(value: float, nodes: tuple[str, ...] = ("node-1", "node-2")) -> FakePrometheus:
    """Every query: one series per node, or one without labels for an aggregate over
    the whole cluster (``sum(...)``, ``max(...)``), a point every step."""

    def answer(expr: str, start: float, end: float, step: int) -> Matrix:
        samples = [(start + i * step, value) for i in range(int((end - start) / step) + 1)]
        if expr.startswith(("sum(", "max(")):
            return [({}, list(samples))]
        return [({"node": node}, list(samples)) for node in nodes]

    return FakePrometheus(answer)


# --------------------------------------------------------------------------- durations, windows


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("1m", 60), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200)]
)
def test_prometheus_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "s", "1.5m", "30 s", "-1s", "0s", "1x"])
def test_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@given(
    range_seconds=st.sampled_from([length for _, _, length in charts.RANGES]),
    scrape=st.floats(min_value=0.5, max_value=300),
    now=st.floats(min_value=1e9, max_value=2e9),
)
def test_query_window(range_seconds: int, scrape: float, now: float) -> None:
    window = query_window(range_seconds, scrape, now)
    assert window.end <= now < window.end + window.step
    assert window.end - window.start == range_seconds
    assert window.step >= scrape
    assert window.end % window.step == 0
    assert range_seconds / window.step <= charts.POINTS_PER_CHART
    # A rate needs two samples in its window, even with one failed scrape.
    assert window.rate_window >= max(2 * window.step, 4 * scrape)


def test_unknown_ranges_fall_back_to_one_hour() -> None:
    assert charts.range_key("6h") == "6h"
    for requested in (None, "", "2h", "1h<script>"):
        assert charts.range_key(requested) == "1h"


# --------------------------------------------------------------------------- Prometheus's answers


def test_a_matrix_answer() -> None:
    answer = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": {"node": "n1"}, "values": [[10, "1.5"], [20, "NaN"], [30, "2"]]},
                {"metric": {}, "values": []},
            ],
        },
    }
    assert parse_matrix(answer) == [({"node": "n1"}, [(10.0, 1.5), (30.0, 2.0)]), ({}, [])]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"status": "error", "error": "parse error at char 3"}, "parse error at char 3"),
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, "matrix"),
        ({"status": "success", "data": {"resultType": "matrix"}}, "result list"),
        ({"status": "success", "data": {"resultType": "matrix", "result": [{}]}}, "labels"),
        (
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]},
            },
            "malformed",
        ),
        ([], "error"),
    ],
)
def test_answers_that_are_not_a_matrix(answer: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matrix(answer)


# --------------------------------------------------------------------------- drawing


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0, "bytes/s", "0 B/s"),
        (512, "bytes/s", "512 B/s"),
        (1023, "bytes", "1023 B"),
        (2.5, "bytes/s", "2.5 B/s"),
        (999, "ms", "999 ms"),
        (1536, "bytes/s", "1.5 KiB/s"),
        (3 * 1024**3, "bytes", "3 GiB"),
        (12.34, "ms", "12.3 ms"),
        (2500, "ms", "2.5 s"),
        (1204, "partitions", "1,204"),
        (99.5, "records/s", "99.5 records/s"),
        (12040, "records/s", "12,040 records/s"),
    ],
)
def test_values_read_as_people_write_them(value: float, unit: charts.Unit, text: str) -> None:
    assert format_value(value, unit) == text


@given(st.floats(min_value=1e-6, max_value=1e15))
def test_the_axis_top_is_a_round_number_just_above_the_highest(value: float) -> None:
    top = nice_ceiling(value)
    assert value <= top * (1 + 1e-9)
    assert top <= 4 * value
    mantissa = top / 10 ** math.floor(math.log10(top))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5, 10))


@given(
    st.lists(st.integers(min_value=0, max_value=1000), unique=True).map(sorted),
    st.integers(min_value=1, max_value=50),
)
def test_segments_keep_every_point_and_split_only_at_gaps(times: list[int], step: int) -> None:
    points = [(float(t), 1.0) for t in times]
    runs = segments(points, step)
    assert [point for run in runs for point in run] == points
    for run in runs:
        assert all(b[0] - a[0] <= 1.5 * step for a, b in itertools.pairwise(run))
    for left, right in itertools.pairwise(runs):
        assert right[0][0] - left[-1][0] > 1.5 * step


def test_the_svg_draws_each_run_and_escapes_names() -> None:
    window = QueryWindow(start=START - 600, end=START, step=60, rate_window=120)
    samples = ((START - 600, 1.0), (START - 540, 2.0), (START - 120, 4.0), (START - 60, 3.0))
    line = Series('<b>"node"&', samples)
    lonely = Series("node-2", ((START - 300, 8.0),))
    svg = draw_svg("Bytes in", "bytes/s", [(line, "#0072b2"), (lonely, "#e69f00")], window)
    root = ET.fromstring(svg)  # well-formed XML, names escaped
    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = root.findall("svg:g", ns)
    assert [(g.get("data-series"), g.get("data-points")) for g in groups] == [
        ('<b>"node"&', "4"),
        ("node-2", "1"),
    ]
    # A gap of 7 steps splits the first line in two; a lone sample is a dot.
    assert len(groups[0].findall("svg:polyline", ns)) == 2
    assert len(groups[1].findall("svg:circle", ns)) == 1
    # The y axis runs to 10 B (the highest value is 8), labelled at quarters.
    labels = [t.text for t in root.findall("svg:text", ns)]
    assert labels[:5] == ["0 B", "2.5 B", "5 B", "7.5 B", "10 B"]
    assert "<script" not in svg
    assert "style=" not in svg


# --------------------------------------------------------------------------- the page model


def test_every_chart_asks_prometheus_and_draws_its_lines() -> None:
    prometheus = steady(5.0)
    page = build_charts_page(prometheus, "15m", 5.0, lambda: START)
    assert [view.spec.key for view in page.charts] == [spec.key for spec in CHARTS]
    assert len(prometheus.calls) == sum(len(spec.queries) for spec in CHARTS)
    window = query_window(900, 5.0, START)
    for expr, start, end, step in prometheus.calls:
        assert (start, end, step) == (window.start, window.end, window.step)
        assert "{w}" not in expr
        if "rate(" in expr:
            assert f"[{window.rate_window}s]" in expr
    bytes_in = page.charts[0]
    assert bytes_in.state == "data"
    assert [line.name for line in bytes_in.series] == ["node-1", "node-2", "cluster"]
    assert bytes_in.series[-1].colour == charts.CLUSTER_COLOUR
    assert {line.latest for line in bytes_in.series} == {"5 B/s"}
    partitions = next(view for view in page.charts if view.spec.key == "partitions")
    assert [line.name for line in partitions.series] == [
        "node-1 partitions",
        "node-2 partitions",
        "node-1 leaders",
        "node-2 leaders",
    ]
    assert page.errors == ()


def test_no_samples_is_no_data_never_zero() -> None:
    silent = FakePrometheus(lambda *_: [({"node": "n"}, [])])
    page = build_charts_page(silent, "1h", 30, lambda: START)
    for view in page.charts:
        assert view.state == "empty"
        assert view.svg == ""
        assert "No data" in view.message


def test_a_failed_query_is_shown_on_its_chart_and_above() -> None:
    def answer(expr: str, start: float, end: float, step: int) -> Matrix:
        if "jvm_memory" in expr:
            raise QueryError("Prometheus at https://10.0.0.5:9090 is unreachable: refused")
        return steady(1.0).answer(expr, start, end, step)

    page = build_charts_page(FakePrometheus(answer), None, 30, lambda: START)
    heap = next(view for view in page.charts if view.spec.key == "heap")
    assert heap.state == "error"
    assert "unreachable" in heap.message
    assert page.errors == ("Prometheus at https://10.0.0.5:9090 is unreachable: refused",)
    assert all(view.state == "data" for view in page.charts if view is not heap)
    assert page.range_key == "1h"


# --------------------------------------------------------------------------- the page


@pytest.fixture
def charts_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    return make_settings(
        prometheus={
            "url": "https://127.0.0.1:9090",
            "username": "automq-console",
            "password_file": str(tmp_path / "prometheus.password"),
            "cert_file": str(tmp_path / "prometheus.crt"),
            "scrape_interval": "5s",
        }
    )


def charts_client(
    settings: Settings, source: KafkaDataSource, clock: FakeClock, prometheus: FakePrometheus
) -> TestClient:
    app = create_app(settings, source, clock, metrics_source=prometheus)
    client = TestClient(app, follow_redirects=False)
    assert login(client).status_code == 303
    return client


def test_the_charts_page(
    charts_settings: Settings, source: KafkaDataSource, clock: FakeClock
) -> None:
    prometheus = steady(2048.0)
    client = charts_client(charts_settings, source, clock, prometheus)
    response = client.get("/charts?range=6h")
    assert response.status_code == 200
    html = response.text
    assert re.search(r'<a href="/charts\?range=6h" aria-current="true">6 hours</a>', html)
    figures = re.findall(r'<figure class="chart data" id="chart-([a-z-]+)"', html)
    assert figures == [spec.key for spec in CHARTS]
    assert html.count('<svg class="chart"') == len(CHARTS)
    assert "2 KiB/s" in html
    assert "(bytes/s)" in html
    # Steps of 6 h / 240 = 90 s (never finer than the 5 s scrapes).
    assert {call[3] for call in prometheus.calls} == {90}
    assert "<script" not in html


def test_the_charts_page_needs_a_session(
    charts_settings: Settings, source: KafkaDataSource, clock: FakeClock
) -> None:
    prometheus = steady(1.0)
    client = TestClient(
        create_app(charts_settings, source, clock, metrics_source=prometheus),
        follow_redirects=False,
    )
    response = client.get("/charts")
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert prometheus.calls == []


def test_without_prometheus_the_page_says_so(client: TestClient) -> None:
    assert login(client).status_code == 303
    html = client.get("/charts").text
    assert "Charts are not set up" in html
    assert '<svg class="chart"' not in html


def test_prometheus_settings_are_checked(make_settings: Callable[..., Settings]) -> None:
    good = {
        "url": "https://10.0.0.5:9090",
        "username": "automq-console",
        "password_file": "/etc/automq-console/prometheus.password",
        "cert_file": "/etc/automq-console/prometheus.crt",
    }
    assert make_settings(prometheus=good).prometheus.scrape_seconds == 30  # type: ignore[union-attr]
    for change, message in (
        ({"url": "http://10.0.0.5:9090"}, "https URL"),
        ({"url": "https://user:pw@10.0.0.5:9090"}, "user info"),
        ({"password_file": "prometheus.password"}, "absolute"),
        ({"scrape_interval": "often"}, "duration"),
        ({"password": "x"}, "secret"),
    ):
        with pytest.raises(ConfigError, match=message):
            make_settings(prometheus={**good, **change})


@pytest.mark.parametrize(
    ("highest", "unit", "top", "ticks"),
    [
        (8.0, "bytes/s", 10.0, ["0 B", "2.5 B", "5 B", "7.5 B", "10 B"]),
        (19_000.0, "bytes/s", 20 * 1024.0, ["0 B", "5 KiB", "10 KiB", "15 KiB", "20 KiB"]),
        (
            300 * 1024**2,
            "bytes",
            500 * 1024.0**2,
            ["0 B", "125 MiB", "250 MiB", "375 MiB", "500 MiB"],
        ),
        (180.0, "records/s", 200.0, ["0", "50", "100", "150", "200"]),
        (1500.0, "ms", 2000.0, ["0 ms", "500 ms", "1 s", "1.5 s", "2 s"]),
        (0.0, "partitions", 1.0, ["0", "0.25", "0.5", "0.75", "1"]),
    ],
)
def test_the_y_axis_is_round_in_the_charts_unit(
    highest: float, unit: charts.Unit, top: float, ticks: list[str]
) -> None:
    assert charts.axis_top(highest, unit) == top
    assert [charts.axis_label(top * i / 4, unit) for i in range(5)] == ticks
