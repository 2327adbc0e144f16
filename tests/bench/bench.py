#!/usr/bin/env python3
"""`make bench`: wall time of a fresh 3-node deploy and of a no-op re-run.

Uses its own test-bed hosts (env "bench", 172.30.40.0/24) so it never
touches the demo. The host image and the broker packages are cached by
`make testbed`; the JDK still comes from Debian's mirror, as in production.
Prints one line per measurement and exits non-zero if a run fails or the
re-run changes anything.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = "bench"
SUBNET = "172.30.40.0/24"
NODES = 3
INVENTORY_DIR = REPO / ".testbed" / ENV / "inventory"
PACKAGE_SHA256_FILE = "automq-1.7.3-fixture_kafka-3.9.1.tgz.sha256"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def hosts(*args: str) -> None:
    subprocess.run([sys.executable, str(REPO / "tests/testbed/hosts.py"), *args], check=True)


def write_inventory() -> Path:
    INVENTORY_DIR.mkdir(parents=True, exist_ok=True)
    names = [f"automq-bench-{i}" for i in range(1, NODES + 1)]
    addresses = [f"172.30.40.{10 + i}" for i in range(1, NODES + 1)]
    host_lines = "".join(
        f"        {name}:\n          ansible_host: {address}\n"
        for name, address in zip(names, addresses, strict=True)
    )
    group_lines = "".join(f"        {name}:\n" for name in names)
    # The demo's settings, with this environment's paths and cluster name.
    group_vars_data = yaml.safe_load((REPO / "inventories/local/group_vars/all.yml").read_text())
    testbed = REPO / ".testbed"
    group_vars_data.update(
        ansible_ssh_private_key_file=str(testbed / "ssh/id_ed25519"),
        ansible_ssh_common_args=(
            f"-o UserKnownHostsFile={testbed / ENV / 'known_hosts'} -o StrictHostKeyChecking=yes"
        ),
        automq_package_sha256=(testbed / "packages" / PACKAGE_SHA256_FILE).read_text().split()[0],
        automq_cluster_name=ENV,
    )
    (INVENTORY_DIR / "hosts.yml").write_text(
        "all:\n  children:\n    automq_controller:\n      hosts:\n"
        + host_lines
        + "    automq_broker:\n      hosts:\n"
        + group_lines
    )
    group_vars = INVENTORY_DIR / "group_vars"
    group_vars.mkdir(exist_ok=True)
    (group_vars / "all.yml").write_text(yaml.safe_dump(group_vars_data, sort_keys=True))
    return INVENTORY_DIR


def deploy(inventory: Path) -> tuple[float, dict[str, int], str]:
    started = time.monotonic()
    run = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "site.yml")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    if run.returncode != 0:
        sys.stdout.write(run.stdout[-4000:])
        raise SystemExit(f"bench: ansible-playbook failed with {run.returncode}")
    changed = {match[1]: int(match[3]) for match in RECAP.finditer(run.stdout)}
    return elapsed, changed, run.stdout


def main() -> int:
    hosts("down", "--env", ENV)
    started = time.monotonic()
    hosts("up", "--env", ENV, "--count", str(NODES), "--subnet", SUBNET)
    hosts_up = time.monotonic() - started
    inventory = write_inventory()
    try:
        fresh, fresh_changed, _ = deploy(inventory)
        noop, noop_changed, _ = deploy(inventory)
    finally:
        hosts("down", "--env", ENV)
        subprocess.run(["rm", "-rf", str(INVENTORY_DIR)], check=True)
    print(f"bench: {NODES} test-bed hosts started in {hosts_up:.1f} s")
    print(
        f"bench: fresh {NODES}-node deploy: {fresh:.1f} s "
        f"(changed per host: {sorted(fresh_changed.values())})"
    )
    print(f"bench: no-op re-run: {noop:.1f} s (changed per host: {sorted(noop_changed.values())})")
    if any(noop_changed.values()):
        print("bench: FAIL: the re-run changed something", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
