#!/usr/bin/env python3
"""`make bench`: wall time of a fresh 3-node deploy, of a no-op re-run and of
a rolling upgrade.

Uses its own test-bed hosts (env "bench", 172.30.40.0/24) so it never
touches the demo. The host image and the broker packages are cached by
`make testbed`; the JDK still comes from Debian's mirror, as in production.

Steps: fresh deploy of version A (1.6.0-fixture, Kafka 3.9.0 jars), no-op
re-runs (three by default, `--noop-runs`: the median is compared, every run
printed, for the machine's run-to-run spread), then playbooks/upgrade.yml to
version B (1.7.3-fixture, Kafka 3.9.1)
while a producer (idempotent, acks=all, 200 records/s) writes to a topic with
three replicas and every node's broker listener is probed every 0.2 s
(molecule/shared/tests/upgrade_traffic.py). Per node it reports the time of
its restart batch (gate, stop, switch, start, gate; from Ansible's log) and
its time out of service; afterwards the topic is read back to count lost,
duplicated and reordered records.
First, a hand-written floor (tests/bench/floor.sh: the same combined 3-node
cluster, plaintext, deployed by a shell script over SSH) on fresh hosts, to
which the fresh deploys are compared (`--no-floor` skips it). Then all of it
runs twice on fresh hosts, on the secure cluster (the default: TLS,
SASL/SCRAM, ACLs) and on the plaintext one (automq_security: plaintext), and
the ratios secure / plaintext are printed last; `--security secure` (or
plaintext) runs one mode only. Last, a larger cluster on fresh hosts (the three
combined nodes and six broker-only ones, in the first mode measured): its fresh
deploy and no-op re-run, the no-op compared with the 3-node one (`--no-large`
skips it).
Prints one line per measurement and exits non-zero if a run fails, the
re-run changes anything or a record is lost or duplicated.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = "bench"
SUBNET = "172.30.40.0/24"
NODES = 3
# The larger cluster of the no-op's scaling figure: the three combined nodes and six
# broker-only ones (issue 11: at most 1.6 times the 3-node no-op).
LARGE_BROKERS = 6
INVENTORY_DIR = REPO / ".testbed" / ENV / "inventory"
# The bench cluster's own CA, passwords and admin client configuration (the
# role writes it for a secure cluster, the bench for a plaintext one).
SECRETS_DIR = REPO / ".testbed" / ENV / "secrets"
CLIENT_CONFIG = SECRETS_DIR / "client.properties"
# Each run's output (with profile_tasks' timings), kept for reading afterwards.
RUN_LOGS = REPO / ".testbed" / "bench-logs"
PACKAGES = REPO / ".testbed" / "packages"
# Version A is deployed, then upgraded to version B.
VERSION_A = ("1.6.0-fixture", "3.9.0")
VERSION_B = ("1.7.3-fixture", "3.9.1")
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# Ansible's log: "2026-11-26 14:37:02,156 p=123 u=root n=ansible INFO| PLAY [name] ***".
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?\| (.*)$")
UPGRADE_TARGET_SECONDS_PER_NODE = 60
TRAFFIC_RATE = 200.0
TRAFFIC_PARTITIONS = 6

sys.path.insert(0, str(REPO / "molecule" / "shared" / "tests"))
from kafka_clients import CLIENT_CONFIG_VARIABLE, client_settings  # noqa: E402
from upgrade_traffic import ServiceMonitor, SteadyProducer, read_topic  # noqa: E402


def hosts(*args: str) -> None:
    subprocess.run([sys.executable, str(REPO / "tests/testbed/hosts.py"), *args], check=True)


def package_sha256(version: tuple[str, str]) -> str:
    name = f"automq-{version[0]}_kafka-{version[1]}.tgz.sha256"
    return (PACKAGES / name).read_text().split()[0]


def addresses(count: int = NODES) -> dict[str, str]:
    """The bench hosts as hosts.py names and addresses them (the first ``count``)."""
    return {f"automq-bench-{i}": f"172.30.40.{10 + i}" for i in range(1, count + 1)}


def bootstrap_servers() -> str:
    """Every node's broker listener, as clients list them."""
    return ",".join(f"{address}:9092" for address in addresses().values())


def write_inventory(security: str, brokers_only: int = 0) -> Path:
    """The combined nodes as controllers and brokers, then ``brokers_only`` broker-only
    nodes."""
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    every = addresses(NODES + brokers_only)
    names = list(every)
    controllers = "".join(
        f"        {name}:\n          ansible_host: {address}\n"
        for name, address in list(every.items())[:NODES]
    )
    brokers = "".join(f"        {name}:\n" for name in names[:NODES]) + "".join(
        f"        {name}:\n          ansible_host: {address}\n"
        for name, address in list(every.items())[NODES:]
    )
    # The demo's settings, with this environment's paths and cluster name.
    group_vars_data = yaml.safe_load((REPO / "inventories/local/group_vars/all.yml").read_text())
    testbed = REPO / ".testbed"
    group_vars_data.update(
        ansible_ssh_private_key_file=str(testbed / "ssh/id_ed25519"),
        ansible_ssh_common_args=(
            f"-o UserKnownHostsFile={testbed / ENV / 'known_hosts'} -o StrictHostKeyChecking=yes"
        ),
        automq_version=VERSION_A[0],
        automq_kafka_version=VERSION_A[1],
        automq_package_sha256=package_sha256(VERSION_A),
        automq_cluster_name=ENV,
        automq_security=security,
        automq_pki_ca_dir=str(SECRETS_DIR / "ca"),
        automq_admin_password_file=str(SECRETS_DIR / "admin.password"),
        automq_monitor_password_file=str(SECRETS_DIR / "monitor.password"),
        automq_client_config_file=str(CLIENT_CONFIG),
        automq_console_admin_password_file=str(SECRETS_DIR / "console-admin.password"),
        automq_console_prometheus_password_file=str(SECRETS_DIR / "prometheus.password"),
        automq_console_prometheus_reader_password_file=str(
            SECRETS_DIR / "prometheus-console.password"
        ),
    )
    (INVENTORY_DIR / "hosts.yml").write_text(
        "all:\n  children:\n    automq_controller:\n      hosts:\n"
        + controllers
        + "    automq_broker:\n      hosts:\n"
        + brokers
    )
    group_vars = INVENTORY_DIR / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "all.yml").write_text(yaml.safe_dump(group_vars_data, sort_keys=True))
    return INVENTORY_DIR


def deploy(
    inventory: Path, playbook: str = "site.yml", *args: str, env: dict[str, str] | None = None
) -> tuple[float, dict[str, int], str]:
    started = time.monotonic()
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / playbook), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.monotonic() - started
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-4000:])
        raise SystemExit(f"bench: ansible-playbook failed with {run.returncode}")
    RUN_LOGS.mkdir(parents=True, exist_ok=True)
    number = len(list(RUN_LOGS.glob("*.log"))) + 1
    (RUN_LOGS / f"{number}-{Path(playbook).stem}.log").write_text(run.stdout)
    changed = {match[1]: int(match[3]) for match in RECAP.finditer(run.stdout)}
    return elapsed, changed, run.stdout


def counting_module_runs(into: Path) -> dict[str, str]:
    """The environment of a run whose module runs per host are counted into ``into``
    (tests/bench/callback_plugins/module_runs.py), profile_tasks' timings kept."""
    return {
        **os.environ,
        "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "bench" / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.profile_tasks,module_runs",
        "AUTOMQ_BENCH_MODULE_RUNS": str(into),
    }


def tasks_run(output: str) -> dict[str, int]:
    """Per host, the tasks that ran (ok or changed; skipped ones cost no round trip)."""
    return {match[1]: int(match[2]) for match in RECAP.finditer(output)}


def restart_batches(log: Path) -> dict[str, float]:
    """Per node, the wall time of its batch of the serial restart play, from Ansible's log."""
    play = yaml.safe_load((REPO / "playbooks/restart_pending.yml").read_text())[0]["name"]
    batches: dict[str, float] = {}
    node: str | None = None
    started: datetime | None = None
    for line in log.read_text().splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
        text = match[2]
        if text.startswith(("PLAY [", "PLAY RECAP")):
            if node is not None and started is not None:
                batches[node] = (at - started).total_seconds()
            node, started = None, (at if text.startswith(f"PLAY [{play}]") else None)
        elif started is not None and node is None:
            host = re.match(r"^(?:ok|changed|skipping|fatal): \[([^\]]+)\]", text)
            if host:
                node = host[1].split(" -> ")[0]
    return batches


@dataclass(frozen=True)
class Upgrade:
    seconds: float
    out_of_service: list[float]  # per node, seconds
    failed: bool


def upgrade(inventory: Path) -> Upgrade:
    """Rolling upgrade A -> B under traffic; prints its figures and returns them."""
    nodes = addresses()
    bootstrap = bootstrap_servers()
    topic = "bench-upgrade"
    admin = AdminClient(client_settings(bootstrap))
    admin.create_topics(
        [
            NewTopic(
                topic,
                num_partitions=TRAFFIC_PARTITIONS,
                replication_factor=3,
                config={"min.insync.replicas": "2"},
            )
        ]
    )[topic].result(timeout=60)
    monitor = ServiceMonitor(nodes).start()
    producer = SteadyProducer(bootstrap, topic, rate=TRAFFIC_RATE).start()
    time.sleep(5)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "upgrade.log"
        env = dict(os.environ, ANSIBLE_LOG_PATH=str(log), ANSIBLE_NOCOLOR="1")
        began = time.time()
        try:
            elapsed, changed, _ = deploy(
                inventory,
                "playbooks/upgrade.yml",
                "-e",
                f"automq_version={VERSION_B[0]}",
                "-e",
                f"automq_kafka_version={VERSION_B[1]}",
                "-e",
                f"automq_package_sha256={package_sha256(VERSION_B)}",
                env=env,
            )
        finally:
            ended = time.time()
            time.sleep(5)
            producer.stop()
            monitor.stop()
        batches = restart_batches(log)
    log_read = read_topic(bootstrap, topic, TRAFFIC_PARTITIONS)
    lost = len(producer.acked.keys() - log_read.found.keys())
    misplaced = sum(1 for s, at in producer.acked.items() if log_read.found.get(s, at) != at)

    print(
        f"bench: rolling upgrade {VERSION_A[0]} -> {VERSION_B[0]} of {NODES} nodes: "
        f"{elapsed:.1f} s, {elapsed / NODES:.1f} s per node "
        f"(target <= {UPGRADE_TARGET_SECONDS_PER_NODE} s; changed per host: "
        f"{sorted(changed.values())})"
    )
    if batches:
        print(
            f"bench:   preflight, download and configuration, all nodes at once: "
            f"{elapsed - sum(batches.values()):.1f} s; then one node at a time:"
        )
    out_of_service = []
    for name in nodes:
        out_of_service.append(sum(b - a for a, b in monitor.windows(name, began, ended)))
        print(
            f"bench:   {name}: restart with its gates {batches.get(name, float('nan')):.1f} s, "
            f"out of service {out_of_service[-1]:.1f} s"
        )
    print(
        f"bench: traffic during the upgrade: {producer.produced} records at "
        f"{TRAFFIC_RATE:.0f}/s, {len(producer.errors)} produce errors, highest latency "
        f"{producer.max_latency * 1000:.0f} ms; read back: {lost} lost, "
        f"{len(log_read.duplicates)} duplicated, {len(log_read.out_of_order)} out of order"
    )
    failures = []
    if producer.errors or producer.unflushed:
        failures.append(f"{len(producer.errors) + producer.unflushed} records not acknowledged")
    if lost or misplaced or log_read.duplicates or log_read.out_of_order or log_read.corrupt:
        failures.append("records lost, duplicated, moved or reordered")
    if elapsed / NODES > UPGRADE_TARGET_SECONDS_PER_NODE:
        print(f"bench: the upgrade took more than {UPGRADE_TARGET_SECONDS_PER_NODE} s per node")
    for failure in failures:
        print(f"bench: FAIL: {failure}", file=sys.stderr)
    return Upgrade(elapsed, out_of_service, bool(failures))


@dataclass(frozen=True)
class Figures:
    fresh: float
    noop: float
    upgrade: Upgrade
    failed: bool


def write_plaintext_client_config() -> None:
    """What the role writes for a secure cluster's admin, for a plaintext one."""
    SECRETS_DIR.mkdir(parents=True, exist_ok=True)
    CLIENT_CONFIG.write_text(
        f"bootstrap.servers={bootstrap_servers()}\nsecurity.protocol=PLAINTEXT\n"
    )
    CLIENT_CONFIG.chmod(0o600)


def measure_floor() -> float:
    """Seconds the hand-written floor takes on fresh hosts (tests/bench/floor.sh)."""
    print("bench: --- hand-written floor (tests/bench/floor.sh)")
    hosts("down", "--env", ENV)
    hosts("up", "--env", ENV, "--count", str(NODES), "--subnet", SUBNET)
    testbed = REPO / ".testbed"
    started = time.monotonic()
    try:
        subprocess.run(
            [
                str(REPO / "tests/bench/floor.sh"),
                str(PACKAGES / f"automq-{VERSION_A[0]}_kafka-{VERSION_A[1]}.tgz"),
                str(testbed / "ssh/id_ed25519"),
                str(testbed / ENV / "known_hosts"),
                *addresses().values(),
            ],
            check=True,
        )
        elapsed = time.monotonic() - started
    finally:
        hosts("down", "--env", ENV)
    print(f"bench: hand-written floor, fresh {NODES}-node deploy: {elapsed:.1f} s")
    return elapsed


@contextmanager
def fresh_cluster(security: str, brokers_only: int = 0) -> Iterator[tuple[Path, float]]:
    """Fresh bench hosts (the combined nodes, then ``brokers_only`` broker-only ones) and
    their inventory, with no secrets left from an earlier run; the inventory and the
    seconds the hosts took to start. Everything is removed afterwards."""
    hosts("down", "--env", ENV)
    subprocess.run(["rm", "-rf", str(SECRETS_DIR)], check=True)
    if security == "plaintext":
        write_plaintext_client_config()
    started = time.monotonic()
    hosts("up", "--env", ENV, "--count", str(NODES + brokers_only), "--subnet", SUBNET)
    hosts_up = time.monotonic() - started
    try:
        yield write_inventory(security, brokers_only), hosts_up
    finally:
        hosts("down", "--env", ENV)
        subprocess.run(["rm", "-rf", str(INVENTORY_DIR), str(SECRETS_DIR)], check=True)


def deploy_then_noop(
    inventory: Path, count: int, runs_file: Path, noop_runs: int
) -> tuple[float, float, bool]:
    """A fresh deploy, then ``noop_runs`` no-op re-runs (the machine's run-to-run spread),
    their module runs counted into ``runs_file``; prints them. The fresh deploy's seconds,
    the re-runs' median, and whether a re-run changed something."""
    fresh, fresh_changed, _ = deploy(inventory)
    print(
        f"bench: fresh {count}-node deploy ({VERSION_A[0]}): {fresh:.1f} s "
        f"(changed per host: {sorted(fresh_changed.values())})"
    )
    RUN_LOGS.mkdir(parents=True, exist_ok=True)
    noops: list[float] = []
    changed_any = False
    for _ in range(noop_runs):
        noop, changed, output = deploy(inventory, env=counting_module_runs(runs_file))
        noops.append(noop)
        changed_any = changed_any or any(changed.values())
    module_runs = json.loads(runs_file.read_text())
    print(
        f"bench: no-op re-run of {count} nodes: {statistics.median(noops):.1f} s, median of "
        f"{len(noops)} ({', '.join(f'{seconds:.1f}' for seconds in noops)}; changed per host: "
        f"{sorted(changed.values())}; tasks run per host: {sorted(tasks_run(output).values())}; "
        f"module runs per host: {sorted(module_runs['on_host'].values())}, and delegated to "
        f"this machine: {sorted(module_runs['on_ansible_machine'].values())})"
    )
    if changed_any:
        print(f"bench: FAIL: a {count}-node re-run changed something", file=sys.stderr)
    return fresh, statistics.median(noops), changed_any


def measure(security: str, noop_runs: int) -> Figures:
    """Fresh deploy, no-op re-run and rolling upgrade of one security mode, on fresh hosts."""
    print(f"bench: --- automq_security: {security}")
    with fresh_cluster(security) as (inventory, hosts_up):
        print(f"bench: {NODES} test-bed hosts started in {hosts_up:.1f} s")
        fresh, noop, noop_changed = deploy_then_noop(
            inventory, NODES, RUN_LOGS / f"module-runs-{security}.json", noop_runs
        )
        rolled = upgrade(inventory)
    return Figures(fresh, noop, rolled, rolled.failed or noop_changed)


def measure_large(security: str, noop_runs: int) -> tuple[float, bool]:
    """Fresh deploy and no-op re-run of the larger cluster (combined nodes and broker-only
    ones) on fresh hosts; the no-op's seconds, and whether it changed something."""
    count = NODES + LARGE_BROKERS
    print(f"bench: --- {count} nodes ({NODES} combined, {LARGE_BROKERS} broker-only), {security}")
    with fresh_cluster(security, brokers_only=LARGE_BROKERS) as (inventory, _):
        _, noop, changed = deploy_then_noop(
            inventory, count, RUN_LOGS / f"module-runs-{security}-{count}.json", noop_runs
        )
    return noop, changed


def print_ratios(secure: Figures, plaintext: Figures) -> None:
    """What TLS and SASL cost: each figure of the secure run over the plaintext one's."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else float("nan")

    pairs = {
        "fresh deploy": (secure.fresh, plaintext.fresh),
        "no-op re-run": (secure.noop, plaintext.noop),
        "rolling upgrade": (secure.upgrade.seconds, plaintext.upgrade.seconds),
        "out of service per node (mean)": (
            mean(secure.upgrade.out_of_service),
            mean(plaintext.upgrade.out_of_service),
        ),
    }
    for name, (with_tls, without) in pairs.items():
        print(
            f"bench: secure / plaintext, {name}: {with_tls:.1f} s / {without:.1f} s"
            f" = {with_tls / without:.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the hand-written floor (tests/bench/floor.sh)"
    )
    parser.add_argument(
        "--security",
        nargs="+",
        choices=["secure", "plaintext"],
        default=["secure", "plaintext"],
        help="the security modes to measure, each on fresh hosts (default: both)",
    )
    parser.add_argument(
        "--no-large",
        action="store_true",
        help=f"skip the {NODES + LARGE_BROKERS}-node cluster's fresh deploy and no-op re-run",
    )
    parser.add_argument(
        "--noop-runs",
        type=int,
        default=3,
        help="no-op re-runs per cluster, their median compared (default: 3)",
    )
    arguments = parser.parse_args()
    if arguments.noop_runs < 1:
        parser.error("--noop-runs must be at least 1")
    subprocess.run(["rm", "-rf", str(RUN_LOGS)], check=True)
    os.environ[CLIENT_CONFIG_VARIABLE] = str(CLIENT_CONFIG)
    floor = None if arguments.no_floor else measure_floor()
    figures = {
        security: measure(security, arguments.noop_runs)
        for security in dict.fromkeys(arguments.security)
    }
    # The larger cluster in the first mode measured (the secure one by default).
    large_security = arguments.security[0]
    large = None if arguments.no_large else measure_large(large_security, arguments.noop_runs)
    if {"secure", "plaintext"} <= figures.keys():
        print_ratios(figures["secure"], figures["plaintext"])
    if large is not None:
        print(
            f"bench: no-op re-run, {NODES + LARGE_BROKERS} nodes / {NODES} nodes, "
            f"{large_security}: {large[0]:.1f} s / {figures[large_security].noop:.1f} s = "
            f"{large[0] / figures[large_security].noop:.2f} (target <= 1.6)"
        )
    if floor is not None:
        for security, measured in figures.items():
            print(
                f"bench: fresh deploy / hand-written floor, {security}: {measured.fresh:.1f} s /"
                f" {floor:.1f} s = {measured.fresh / floor:.2f} (target <= 1.3)"
            )
    failed = any(f.failed for f in figures.values()) or (large is not None and large[1])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
