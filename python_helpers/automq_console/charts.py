"""The charts page: which metrics it shows, how it asks Prometheus, how it draws them.

Everything here is pure (no network): :func:`build_charts_page` takes a
:class:`RangeQuerier` (the Prometheus client of :mod:`.prometheus`, or a fake in
tests) and a clock, and returns the page model with each chart already drawn as
an SVG string, so the browser runs no script and fetches nothing else (the
console's Content-Security-Policy allows neither).

The queries read both exporters the roles can run, as the alert rules do: the
Prometheus JMX exporter agent (job ``automq-jmx``, Kafka's MBean names as the
role automq's ``jmx-exporter.yml`` exports them) ``or`` AutoMQ's own exporter
(job ``automq``, names from AutoMQ's ``core/src/main/resources/jmx/rules/*.yaml``
and its Grafana dashboard ``docker/telemetry/grafana/.../cluster.json``). A
node's series carry the ``node`` label the scrape configuration gives each target.

A chart with no samples says so ("no data"), never draws a zero line; a gap in
the samples (a node down, Prometheus restarted) stays a gap in the line.
"""

from __future__ import annotations

import concurrent.futures
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Literal, Protocol

# ---------------------------------------------------------------------------- ranges

RANGES: tuple[tuple[str, str, int], ...] = (
    ("15m", "15 minutes", 15 * 60),
    ("1h", "1 hour", 3600),
    ("6h", "6 hours", 6 * 3600),
    ("24h", "24 hours", 24 * 3600),
)
DEFAULT_RANGE = "1h"
# About this many points per line, whatever the range (never finer than the scrapes).
POINTS_PER_CHART = 240

_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_DURATION_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "y": 365 * 86400,
}


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration such as ``30s``, ``1m30s`` or ``500ms``."""
    parts = _DURATION_PART.findall(text)
    if not text or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a Prometheus duration such as 30s, 1m or 1h30m")
    seconds = sum(int(number) * _DURATION_SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def range_key(requested: str | None) -> str:
    """The requested range if it is one of :data:`RANGES`, else the default."""
    keys = {key for key, _label, _seconds in RANGES}
    return requested if requested in keys else DEFAULT_RANGE


@dataclass(frozen=True)
class QueryWindow:
    """One range query: [start, end] every ``step`` seconds, rates over ``rate_window``."""

    start: float
    end: float
    step: int
    rate_window: int


def query_window(range_seconds: int, scrape_seconds: float, now: float) -> QueryWindow:
    """Steps no finer than the scrapes; rates over at least four scrapes (two samples
    even when one scrape fails); the end aligned to the step, so reloads agree."""
    step = max(math.ceil(scrape_seconds), math.ceil(range_seconds / POINTS_PER_CHART), 1)
    rate_window = max(2 * step, math.ceil(4 * scrape_seconds))
    end = math.floor(now / step) * step
    return QueryWindow(start=end - range_seconds, end=end, step=step, rate_window=rate_window)


# ---------------------------------------------------------------------------- charts

Unit = Literal["bytes/s", "records/s", "ms", "partitions", "bytes"]


@dataclass(frozen=True)
class SeriesQuery:
    """One PromQL expression; ``{w}`` stands for the rate window (e.g. ``60s``).

    ``by_node``: the expression keeps the ``node`` label and yields one line per
    node; otherwise it yields one line, named ``label``."""

    expr: str
    label: str
    by_node: bool


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    unit: Unit
    description: str
    queries: tuple[SeriesQuery, ...]


def _either(jmx: str, automq: str) -> str:
    """The JMX agent's series, or AutoMQ's exporter's where the agent has none."""
    return f"({jmx}) or ({automq})"


def _per_node_and_cluster(jmx: str, automq: str, total: str) -> tuple[SeriesQuery, ...]:
    """``jmx``/``automq`` are per-series expressions; summed by node, and in all.

    The total adds up the per-node lines, so each node counts with the exporter
    it has (``sum(A) or sum(B)`` would drop every AutoMQ-exporter node as soon
    as one node ran the JMX agent)."""
    per_node = _either(f"sum by (node) ({jmx})", f"sum by (node) ({automq})")
    return (SeriesQuery(per_node, "", True), SeriesQuery(f"sum({per_node})", total, False))


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "bytes-in",
        "Bytes in",
        "bytes/s",
        "Bytes per second that producers sent to each broker, and to the cluster in all.",
        _per_node_and_cluster(
            'rate(kafka_server_brokertopicmetrics_bytesin_total{topic=""}[{w}])',
            'rate(kafka_broker_network_io_bytes_total{direction="in"}[{w}])',
            "cluster",
        ),
    ),
    ChartSpec(
        "bytes-out",
        "Bytes out",
        "bytes/s",
        "Bytes per second that each broker sent to consumers, and the cluster in all.",
        _per_node_and_cluster(
            'rate(kafka_server_brokertopicmetrics_bytesout_total{topic=""}[{w}])',
            'rate(kafka_broker_network_io_bytes_total{direction="out"}[{w}])',
            "cluster",
        ),
    ),
    ChartSpec(
        "messages-in",
        "Messages in",
        "records/s",
        "Records per second appended by each broker, and by the cluster in all.",
        _per_node_and_cluster(
            'rate(kafka_server_brokertopicmetrics_messagesin_total{topic=""}[{w}])',
            'rate(kafka_message_count_total{direction="in"}[{w}])',
            "cluster",
        ),
    ),
    ChartSpec(
        "produce-latency",
        "Produce latency (p99)",
        "ms",
        "The 99th percentile of the time each broker took to answer a produce request "
        "(from receiving it to sending the answer, acks=all included), as the broker "
        "measures it over its recent requests.",
        (
            SeriesQuery(
                _either(
                    "max by (node) (kafka_network_requestmetrics_totaltimems"
                    '{request="Produce", quantile="0.99"})',
                    'max by (node) (kafka_request_time_99p_milliseconds{type="Produce"})',
                ),
                "",
                True,
            ),
        ),
    ),
    ChartSpec(
        "partitions",
        "Partitions and leaders",
        "partitions",
        "Partitions each broker hosts (replicas) and those it leads. On AutoMQ each "
        "partition has one replica, so a broker leads every partition it hosts.",
        (
            SeriesQuery(
                _either(
                    "sum by (node) (kafka_server_replicamanager_partitioncount)",
                    "sum by (node) (kafka_partition_count)",
                ),
                "partitions",
                True,
            ),
            SeriesQuery(
                _either(
                    "sum by (node) (kafka_server_replicamanager_leadercount)",
                    "sum by (node) (kafka_partition_count)",
                ),
                "leaders",
                True,
            ),
        ),
    ),
    ChartSpec(
        "unavailable-partitions",
        "Offline and under-min-ISR partitions",
        "partitions",
        "Partitions without a leader (the active controller's count), and partitions "
        "with fewer in-sync replicas than min.insync.replicas on each broker (Kafka's "
        "replication; AutoMQ keeps one replica and reports no such count). Anything "
        "above zero means clients get errors.",
        (
            # Per node first, as above: the active controller may run either exporter.
            SeriesQuery(
                "max("
                + _either(
                    "max by (node) (kafka_controller_kafkacontroller_offlinepartitionscount)",
                    "max by (node) (kafka_partition_offline_count)",
                )
                + ")",
                "offline (cluster)",
                False,
            ),
            SeriesQuery(
                "sum by (node) (kafka_server_replicamanager_underminisrpartitioncount)",
                "under min ISR",
                True,
            ),
        ),
    ),
    ChartSpec(
        "heap",
        "JVM heap used",
        "bytes",
        "Heap memory in use in each node's Java process (brokers and controllers).",
        (
            SeriesQuery(
                _either(
                    'sum by (node) (jvm_memory_used_bytes{area="heap"})',
                    'sum by (node) (jvm_memory_used_bytes{jvm_memory_type="heap"})',
                ),
                "",
                True,
            ),
        ),
    ),
)


# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Series:
    """One line: its name, and (timestamp, value) samples in time order."""

    name: str
    points: tuple[tuple[float, float], ...]


class QueryError(Exception):
    """Prometheus could not answer (unreachable, refused the credentials, bad query)."""


class RangeQuerier(Protocol):
    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """Prometheus's matrix: (labels, samples) per series; raises QueryError."""


def parse_matrix(payload: object) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    """The series of a ``/api/v1/query_range`` answer; ValueError for anything else.
    Samples that are not finite numbers (NaN: a quantile without requests) are left out."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        error = payload.get("error") if isinstance(payload, dict) else None
        raise ValueError(f"Prometheus answered with an error: {error or payload!r}"[:300])
    data = payload.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "matrix":
        raise ValueError("Prometheus's answer is not a range (matrix) result")
    result = data.get("result")
    if not isinstance(result, list):
        raise ValueError("Prometheus's answer has no result list")
    matrix = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
            raise ValueError("Prometheus's answer has a series without labels")
        labels = {str(key): str(value) for key, value in item["metric"].items()}
        samples = []
        for pair in item.get("values") or ():
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError("Prometheus's answer has a malformed sample")
            when, text = float(pair[0]), float(pair[1])
            if math.isfinite(text):
                samples.append((when, text))
        matrix.append((labels, samples))
    return matrix


# ---------------------------------------------------------------------------- drawing

# Distinguishable colours, also for red-green colour blindness (Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
CLUSTER_COLOUR = "#444444"
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 26

_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def _compact(number: float) -> str:
    """Three significant digits, without an exponent: 2.5, 12.3, 512, 1023."""
    return f"{number:.0f}" if abs(number) >= 100 else f"{number:.3g}"


def format_value(value: float, unit: Unit) -> str:
    """A value as a person reads it: ``1.5 MiB/s``, ``12.3 ms``, ``1,204 records/s``."""
    if unit in ("bytes", "bytes/s"):
        scaled, index = abs(value), 0
        while scaled >= 1024 and index < len(_BINARY_UNITS) - 1:
            scaled /= 1024
            index += 1
        number = _compact(math.copysign(scaled, value))
        return f"{number} {_BINARY_UNITS[index]}{'/s' if unit == 'bytes/s' else ''}"
    if unit == "ms":
        return f"{_compact(value)} ms" if value < 1000 else f"{_compact(value / 1000)} s"
    if unit == "partitions":
        return f"{value:,.0f}"
    return f"{value:,.1f} records/s" if value < 100 else f"{value:,.0f} records/s"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (> 0)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power


def axis_top(highest: float, unit: Unit) -> float:
    """The top of the y axis: a round number (in KiB, MiB... for bytes) at least ``highest``."""
    if unit not in ("bytes", "bytes/s") or highest < 1024:
        return nice_ceiling(highest)
    scale = 1024.0 ** min(int(math.log(highest, 1024)), len(_BINARY_UNITS) - 1)
    return nice_ceiling(highest / scale) * scale


def axis_label(value: float, unit: Unit) -> str:
    """A tick of the y axis, short (the chart's title names the unit): ``5 KiB``, ``2.5``."""
    if unit in ("bytes", "bytes/s"):
        return format_value(value, "bytes")
    if unit == "ms":
        return format_value(value, "ms")
    return _compact(value)


def segments(points: Sequence[tuple[float, float]], step: int) -> list[list[tuple[float, float]]]:
    """Runs of samples no more than 1.5 steps apart: a longer silence is a gap."""
    runs: list[list[tuple[float, float]]] = []
    for point in points:
        if runs and point[0] - runs[-1][-1][0] <= 1.5 * step:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _time_label(when: float, span: float) -> str:
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("%H:%M" if span <= 24 * 3600 else "%m-%d %H:%M")


@dataclass(frozen=True)
class DrawnSeries:
    name: str
    colour: str
    points: int
    latest: str


def draw_svg(
    title: str, unit: Unit, series: Sequence[tuple[Series, str]], window: QueryWindow
) -> str:
    """The chart as an inline SVG: axes, grid, a polyline per run of each series."""
    span = window.end - window.start
    highest = max((value for line, _colour in series for _time, value in line.points), default=0.0)
    top = axis_top(highest, unit)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(when: float) -> float:
        return LEFT + (when - window.start) / span * plot_w

    def y_of(value: float) -> float:
        return TOP + plot_h - min(max(value, 0.0), top) / top * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}, {escape(unit)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(5):
        value = top * tick / 4
        y = y_of(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#dddddd" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#555555">{escape(axis_label(value, unit))}</text>'
        )
    for tick in range(5):
        when = window.start + span * tick / 4
        anchor = ("start", "middle", "middle", "middle", "end")[tick]
        parts.append(
            f'<text class="axis" x="{x_of(when):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" '
            f'font-size="11" fill="#555555">{_time_label(when, span)}</text>'
        )
    for line, colour in series:
        width = "2.5" if colour == CLUSTER_COLOUR else "1.5"
        highest_here = max(value for _time, value in line.points) if line.points else 0.0
        parts.append(
            f'<g class="series" data-series="{escape(line.name)}" '
            f'data-points="{len(line.points)}" data-highest="{highest_here:g}">'
        )
        for run in segments(line.points, window.step):
            if len(run) == 1:
                (when, value) = run[0]
                parts.append(
                    f'<circle cx="{x_of(when):.1f}" cy="{y_of(value):.1f}" r="2" fill="{colour}"/>'
                )
                continue
            coordinates = " ".join(f"{x_of(when):.1f},{y_of(value):.1f}" for when, value in run)
            parts.append(
                f'<polyline points="{coordinates}" fill="none" stroke="{colour}" '
                f'stroke-width="{width}" stroke-linejoin="round"/>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------------------- page


@dataclass(frozen=True)
class ChartView:
    spec: ChartSpec
    state: Literal["data", "empty", "error"]
    svg: str = ""
    series: tuple[DrawnSeries, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class ChartsPage:
    range_key: str
    ranges: tuple[tuple[str, str, int], ...]
    step: int
    charts: tuple[ChartView, ...]
    fetched_at: datetime
    errors: tuple[str, ...] = field(default=())


def _series_name(query: SeriesQuery, labels: dict[str, str]) -> str:
    if not query.by_node:
        return query.label
    node = labels.get("node", "unlabelled target")
    return f"{node} {query.label}".strip()


def _chart(
    spec: ChartSpec,
    answers: Sequence[list[tuple[dict[str, str], list[tuple[float, float]]]] | QueryError],
    window: QueryWindow,
) -> ChartView:
    failures = [answer for answer in answers if isinstance(answer, QueryError)]
    if failures:
        return ChartView(spec, "error", message=str(failures[0]))
    lines: list[Series] = []
    for query, answer in zip(spec.queries, answers, strict=True):
        assert not isinstance(answer, QueryError)
        named = sorted((_series_name(query, labels), points) for labels, points in answer)
        lines.extend(Series(name, tuple(points)) for name, points in named if points)
    if not lines:
        return ChartView(
            spec,
            "empty",
            message="No data for this range: Prometheus holds no samples of this metric "
            "(no exporter of the nodes reports it, or Prometheus was not running).",
        )
    coloured: list[tuple[Series, str]] = []
    per_node = 0
    for line in lines:
        if line.name == "cluster":
            coloured.append((line, CLUSTER_COLOUR))
        else:
            coloured.append((line, PALETTE[per_node % len(PALETTE)]))
            per_node += 1
    drawn = tuple(
        DrawnSeries(
            name=line.name,
            colour=colour,
            points=len(line.points),
            latest=format_value(line.points[-1][1], spec.unit),
        )
        for line, colour in coloured
    )
    return ChartView(spec, "data", draw_svg(spec.title, spec.unit, coloured, window), drawn)


def build_charts_page(
    querier: RangeQuerier,
    requested_range: str | None,
    scrape_seconds: float,
    clock: Callable[[], float],
    charts: Sequence[ChartSpec] = CHARTS,
) -> ChartsPage:
    """Every chart for the requested range; the queries run at once (a few threads)."""
    key = range_key(requested_range)
    seconds = next(length for name, _label, length in RANGES if name == key)
    now = clock()
    window = query_window(seconds, scrape_seconds, now)
    jobs = [
        (chart_index, query.expr.replace("{w}", f"{window.rate_window}s"))
        for chart_index, chart in enumerate(charts)
        for query in chart.queries
    ]

    def run(expr: str) -> list[tuple[dict[str, str], list[tuple[float, float]]]] | QueryError:
        try:
            return querier.query_range(expr, window.start, window.end, window.step)
        except QueryError as exc:
            return exc

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(run, [expr for _index, expr in jobs]))
    views = []
    for chart_index, chart in enumerate(charts):
        mine = [
            answer
            for (index, _expr), answer in zip(jobs, answers, strict=True)
            if index == chart_index
        ]
        views.append(_chart(chart, mine, window))
    errors = tuple(sorted({view.message for view in views if view.state == "error"}))
    return ChartsPage(
        range_key=key,
        ranges=RANGES,
        step=window.step,
        charts=tuple(views),
        fetched_at=datetime.fromtimestamp(now, UTC),
        errors=errors,
    )
