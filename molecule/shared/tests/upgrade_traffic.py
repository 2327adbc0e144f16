"""Client traffic and per-node availability, measured across a rolling operation.

Used by the upgrade scenario's verifier (upgrade_test_rolling.py) and by
`make bench` (tests/bench/bench.py); it needs only confluent_kafka and the
project's stdlib Kafka probe (python_helpers/automq_helpers/kafka_probe.py).

- SteadyProducer: an idempotent producer (acks=all, librdkafka's default
  retries, one request in flight per connection) at a steady rate. Every
  record's key is its sequence number and its value the sequence number plus
  a digest of it. Per record it keeps the partition and offset of the
  acknowledgement, or the error; per run the highest latency from produce()
  to acknowledgement, and librdkafka's producer epoch bumps (its idempotence
  log), the one client-side way to a duplicate.
- CheckingConsumer: a consumer group member reading the topic from the start
  while the operation runs; it records where each sequence number was found,
  duplicates (one sequence number at two offsets) and order (sequence numbers
  rise within a partition). A record delivered again at an offset it already
  passed (a group rebalance rewinds to the last commit) is a redelivery, not
  a duplicate in the log.
- read_topic: the whole topic read back afterwards, partition by partition,
  from offset 0 to the high watermark: the authoritative check of the log.
- ServiceMonitor: every node's broker listener probed every 0.2 s over one
  connection per node, opened again after a failure (a TLS and SCRAM handshake
  fifteen times a second cost the busy test machine more than the traffic); a
  node is in service while it answers and lists itself among the live
  (registered, unfenced) brokers. Two failed probes in a row (not one slow
  answer on a busy machine) open an out-of-service window, which runs from
  the last good probe to the next good one, so it errs on the long side.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from kafka_clients import client_settings, probe_security

from automq_helpers.kafka_probe import KafkaProbe, ProbeError

# The rolling scenarios' producers let records wait up to 50 ms to share a produce
# request: the same records, a tenth of the requests (at librdkafka's 5 ms and 200
# records/s the brokers spent 0.5 of a core on this traffic, at 50 ms 0.3; measured on
# the test bed, 2026-12-07). `make bench` keeps librdkafka's 5 ms.
SCENARIO_LINGER_MS = 50


def payload(sequence: int) -> bytes:
    return sequence.to_bytes(8, "big") + hashlib.sha256(sequence.to_bytes(8, "big")).digest()


def parse_record(key: bytes | None, value: bytes | None) -> int:
    """The sequence number of a record; ValueError if key and value disagree."""
    if key is None or value is None:
        raise ValueError("record without key or value")
    sequence = int(key)
    if value != payload(sequence):
        raise ValueError(f"record {sequence}: value does not match its sequence number")
    return sequence


class _ClientLog(logging.Handler):
    """librdkafka's log, as it prints it without a logger, plus the epoch bumps kept aside.

    The idempotence debug lines (level 7) are read, not printed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.epoch_bumps: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if "bump" in line.lower():
            self.epoch_bumps.append(line)
        if record.levelno >= logging.INFO:
            print(f"%{record.levelname}|{line}", file=sys.stderr)


class SteadyProducer:
    """Produces `rate` records per second from a thread until stopped."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        rate: float = 200.0,
        *,
        settings: Mapping[str, object] | None = None,
        first_sequence: int = 0,
        linger_ms: int = 5,
    ) -> None:
        """``settings``: the client settings to start from instead of the admin's (e.g. a
        plaintext client's); ``first_sequence``: where a producer that takes over from
        another one goes on numbering; ``linger_ms``: how long a batch waits for more
        records (librdkafka's default, 5 ms, sends about one request per record at 200
        records per second)."""
        self.topic = topic
        self.rate = rate
        self._log = _ClientLog()
        # A logger of its own, outside logging's registry: no root handlers, and a
        # second producer on the same topic does not add a handler to this one.
        logger = logging.Logger(f"steady-producer-{topic}", logging.DEBUG)
        logger.addHandler(self._log)
        self.config = client_settings(bootstrap, base=settings) | {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            # With up to five requests in flight, librdkafka answers an
            # OUT_OF_ORDER_SEQUENCE_NUMBER on a request behind a failed one by
            # bumping the producer epoch, which resets the sequence numbers and
            # can write a record twice across a leader change (librdkafka issue
            # 4953; the Java client retries instead). One request in flight per
            # connection keeps idempotence exact, so a duplicate in the log is
            # the cluster's, not the client's.
            "max.in.flight.requests.per.connection": 1,
            "debug": "eos",
            "logger": logger,
        }
        self.acked: dict[int, tuple[int, int]] = {}
        self.errors: list[tuple[int, str]] = []
        self.first_sequence = first_sequence
        self.produced = 0
        self.unflushed = 0
        self.max_latency = 0.0
        self.max_latency_at = 0.0
        self.failure: BaseException | None = None
        self._sent_at: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"produce-{topic}", daemon=True)

    @property
    def epoch_bumps(self) -> list[str]:
        """librdkafka's log lines about producer epoch bumps, in order."""
        return self._log.epoch_bumps

    def start(self) -> SteadyProducer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 180.0) -> None:
        """Stop producing and wait (flush) until every record is acknowledged or failed."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the producer did not finish within {timeout} s")
        if self.failure is not None:
            raise AssertionError(f"the producer thread failed: {self.failure!r}")

    def _on_delivery(self, sequence: int, error: KafkaError | None, message: object) -> None:
        now = time.monotonic()
        latency = now - self._sent_at.pop(sequence)
        if latency > self.max_latency:
            self.max_latency = latency
            self.max_latency_at = time.time()
        if error is not None:
            self.errors.append((sequence, str(error)))
        else:
            self.acked[sequence] = (message.partition(), message.offset())  # type: ignore[attr-defined]

    def _run(self) -> None:
        try:
            producer = Producer(self.config)
            interval = 1.0 / self.rate
            next_at = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if now < next_at:
                    producer.poll(next_at - now)
                    continue
                sequence = self.first_sequence + self.produced
                self._sent_at[sequence] = time.monotonic()
                try:
                    producer.produce(
                        self.topic,
                        key=str(sequence).encode(),
                        value=payload(sequence),
                        on_delivery=lambda error, message, s=sequence: self._on_delivery(
                            s, error, message
                        ),
                    )
                except BufferError:
                    # The local queue is full: wait for acknowledgements, then retry.
                    del self._sent_at[sequence]
                    producer.poll(0.1)
                    continue
                self.produced += 1
                producer.poll(0)
                next_at += interval
                # After a stall (a busy machine) carry on at the rate, without a burst.
                next_at = max(next_at, now - 1.0)
            self.unflushed = producer.flush(150)
        except BaseException as error:
            self.failure = error


@dataclass
class ConsumedLog:
    """What a reader found: sequence number -> (partition, offset), and the anomalies."""

    found: dict[int, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    redelivered: int = 0
    _last_offset: dict[int, int] = field(default_factory=dict)
    _last_sequence: dict[int, int] = field(default_factory=dict)

    def add(self, partition: int, offset: int, key: bytes | None, value: bytes | None) -> None:
        if offset <= self._last_offset.get(partition, -1):
            self.redelivered += 1
            return
        self._last_offset[partition] = offset
        try:
            sequence = parse_record(key, value)
        except ValueError as error:
            self.corrupt.append(f"partition {partition} offset {offset}: {error}")
            return
        if sequence in self.found:
            self.duplicates.append(
                f"record {sequence} at partition {partition} offset {offset} and at "
                f"partition {self.found[sequence][0]} offset {self.found[sequence][1]}"
            )
        else:
            self.found[sequence] = (partition, offset)
        previous = self._last_sequence.get(partition, -1)
        if sequence <= previous:
            self.out_of_order.append(
                f"partition {partition} offset {offset}: record {sequence} after {previous}"
            )
        self._last_sequence[partition] = max(sequence, previous)


class CheckingConsumer:
    """A consumer group member reading the topic from the start, from a thread."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        *,
        settings: Mapping[str, object] | None = None,
        log: ConsumedLog | None = None,
    ) -> None:
        """``settings`` as SteadyProducer's; ``log``: the log of a member this one takes
        over from, so what the group reads again after the handover counts as redelivered."""
        self.topic = topic
        self.config = client_settings(bootstrap, base=settings) | {
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
        }
        self.log = log if log is not None else ConsumedLog()
        self.client_errors: list[str] = []
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"consume-{topic}", daemon=True)

    def start(self) -> CheckingConsumer:
        self._thread.start()
        return self

    def wait_for(self, sequences: Iterable[int], timeout: float) -> set[int]:
        """Wait until every given sequence number was consumed; return those still missing."""
        missing = set(sequences)
        deadline = time.monotonic() + timeout
        while True:
            missing -= self.log.found.keys()
            if not missing or time.monotonic() > deadline or not self._thread.is_alive():
                return missing
            time.sleep(0.5)

    def stop(self, timeout: float = 60.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self.failure is not None:
            raise AssertionError(f"the consumer thread failed: {self.failure!r}")

    def _run(self) -> None:
        try:
            consumer = Consumer(self.config)
            consumer.subscribe([self.topic])
            try:
                while not self._stop.is_set():
                    message = consumer.poll(0.5)
                    if message is None:
                        continue
                    if message.error():
                        self.client_errors.append(str(message.error()))
                        continue
                    self.log.add(
                        message.partition(), message.offset(), message.key(), message.value()
                    )
            finally:
                consumer.close()
        except BaseException as error:
            self.failure = error


def read_topic(bootstrap: str, topic: str, partitions: int, timeout: float = 120.0) -> ConsumedLog:
    """Read every partition from offset 0 to its high watermark (no consumer group)."""
    log = ConsumedLog()
    consumer = Consumer(
        client_settings(
            bootstrap,
            {
                "group.id": f"read-back-{topic}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
            },
        )
    )
    try:
        ends = {
            partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), 30)[1]
            for partition in range(partitions)
        }
        consumer.assign([TopicPartition(topic, partition, 0) for partition in range(partitions)])
        deadline = time.monotonic() + timeout
        while any(log._last_offset.get(p, -1) + 1 < end for p, end in ends.items()):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"reading {topic} back did not reach the high watermarks {ends} "
                    f"within {timeout} s (at {log._last_offset})"
                )
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            if message.offset() != log._last_offset.get(message.partition(), -1) + 1:
                log.corrupt.append(
                    f"partition {message.partition()}: offset {message.offset()} after "
                    f"{log._last_offset.get(message.partition(), -1)} (a gap in the log)"
                )
            log.add(message.partition(), message.offset(), message.key(), message.value())
    finally:
        consumer.close()
    return log


class ServiceMonitor:
    """Probes every node's broker listener every `interval` seconds, one thread per node."""

    def __init__(
        self,
        addresses: Mapping[str, str],
        port: int = 9092,
        interval: float = 0.2,
        probe_timeout: float = 2.0,
    ) -> None:
        self.addresses = dict(addresses)
        self.port = port
        self.security = probe_security()
        self.interval = interval
        self.probe_timeout = probe_timeout
        # Per node: [start, end] wall-clock times; end is None while still out.
        self.outages: dict[str, list[list[float | None]]] = {name: [] for name in addresses}
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(name,), name=f"watch-{name}", daemon=True)
            for name in addresses
        ]

    def start(self) -> ServiceMonitor:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _probe(self, name: str, probe: KafkaProbe | None) -> tuple[bool, KafkaProbe | None]:
        """Whether the node is in service, asked over ``probe`` (a new connection when None),
        and the connection to ask over next time (None after a failure)."""
        host = self.addresses[name]
        try:
            if probe is None:
                probe = KafkaProbe(host, self.port, self.probe_timeout, security=self.security)
                probe.api_versions()
            cluster = probe.describe_cluster()
        except (ProbeError, OSError):
            if probe is not None:
                probe.close()
            return False, None
        good = cluster.error_code == 0 and any(broker.host == host for broker in cluster.brokers)
        return good, probe

    def _watch(self, name: str) -> None:
        last_good = time.time()
        failures = 0
        outage: list[float | None] | None = None
        probe: KafkaProbe | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            good, probe = self._probe(name, probe)
            now = time.time()
            if good:
                if outage is not None:
                    outage[1] = now
                    outage = None
                last_good = now
                failures = 0
            else:
                failures += 1
                if failures == 2:
                    outage = [last_good, None]
                    self.outages[name].append(outage)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))
        if probe is not None:
            probe.close()

    def windows(
        self, name: str, since: float = 0.0, until: float | None = None
    ) -> list[tuple[float, float]]:
        """The node's out-of-service windows that overlap [since, until], clipped to it."""
        end_of_view = time.time() if until is None else until
        clipped = []
        for start, end in self.outages[name]:
            assert start is not None
            stop = end_of_view if end is None else min(end, end_of_view)
            begin = max(start, since)
            if stop > begin:
                clipped.append((begin, stop))
        return clipped

    def out_of_service(self, name: str, since: float = 0.0, until: float | None = None) -> float:
        return sum(stop - start for start, stop in self.windows(name, since, until))

    def is_out(self, name: str) -> bool:
        return bool(self.outages[name]) and self.outages[name][-1][1] is None
