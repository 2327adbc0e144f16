#!/usr/bin/env python3
"""Start and remove test-bed hosts: systemd containers reached over real SSH.

Each environment gets its own Docker network with a fixed subnet, so hosts
have predictable addresses that an inventory can name. Hosts run systemd as
PID 1 without --privileged (which fails on these machines): SYS_ADMIN, tmpfs
on /run and /run/lock, and the cgroup tree mounted read-only. The deploy
user's authorized_keys is the test bed's generated public key, mounted read
only; the hosts' SSH host keys are recorded in a per-environment known_hosts
file, so Ansible connects with strict host key checking as in production.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".testbed"
SSH_DIR = STATE / "ssh"
IMAGE = "automq-testbed-host:current"
FIRST_HOST_OFFSET = 11


def run(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, text=True, capture_output=capture)


def ensure_ssh_key() -> Path:
    """Create the test bed's SSH key pair once; return the public key path."""
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    private = SSH_DIR / "id_ed25519"
    if not private.exists():
        run(
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "automq-testbed",
            "-f",
            str(private),
        )
    public = SSH_DIR / "authorized_keys"
    if public.is_dir():
        # Docker creates a missing bind-mount source as an empty directory: a
        # scenario started before the key existed leaves one behind.
        try:
            public.rmdir()
        except OSError as error:
            raise SystemExit(
                f"hosts.py: {public} is a directory that is not empty ({error}); remove it"
            ) from error
    public.write_text((SSH_DIR / "id_ed25519.pub").read_text())
    public.chmod(0o644)
    return public


def host_addresses(subnet: str, count: int) -> list[str]:
    network = ipaddress.ip_network(subnet)
    return [str(network.network_address + FIRST_HOST_OFFSET + i) for i in range(count)]


def network_name(env: str) -> str:
    return f"automq-{env}"


def container_name(env: str, index: int) -> str:
    return f"automq-{env}-{index}"


def ensure_network(env: str, subnet: str) -> None:
    name = network_name(env)
    if run("docker", "network", "inspect", name, check=False, capture=True).returncode == 0:
        return
    run("docker", "network", "create", "--subnet", subnet, name, capture=True)


def start_host(env: str, index: int, address: str, authorized_keys: Path) -> None:
    name = container_name(env, index)
    if run("docker", "container", "inspect", name, check=False, capture=True).returncode == 0:
        run("docker", "start", name, capture=True)
        return
    run(
        "docker", "run", "--detach", "--name", name, "--hostname", name,
        "--network", network_name(env), "--ip", address,
        "--cap-add", "SYS_ADMIN", "--tmpfs", "/run", "--tmpfs", "/run/lock",
        "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "--volume", f"{authorized_keys}:/home/deploy/.ssh/authorized_keys:ro",
        "--stop-signal", "SIGRTMIN+3",
        "--label", f"automq-testbed={env}",
        IMAGE, "/sbin/init",
        capture=True,
    )  # fmt: skip


def wait_for_ssh(address: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, 22), timeout=2) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"hosts.py: {address}:22 did not answer within {timeout:.0f} s")
        time.sleep(0.5)


def record_host_keys(env: str, addresses: list[str]) -> Path:
    known_hosts = STATE / env / "known_hosts"
    known_hosts.parent.mkdir(parents=True, exist_ok=True)
    scanned = run("ssh-keyscan", "-T", "5", "-t", "ed25519", *addresses, capture=True)
    lines = sorted(
        line for line in scanned.stdout.splitlines() if line and not line.startswith("#")
    )
    if len(lines) != len(addresses):
        raise SystemExit(f"hosts.py: got {len(lines)} host keys for {len(addresses)} hosts")
    known_hosts.write_text("\n".join(lines) + "\n")
    return known_hosts


def up(env: str, count: int, subnet: str) -> None:
    authorized_keys = ensure_ssh_key()
    ensure_network(env, subnet)
    addresses = host_addresses(subnet, count)
    for index, address in enumerate(addresses, start=1):
        start_host(env, index, address, authorized_keys)
    for address in addresses:
        wait_for_ssh(address)
    record_host_keys(env, addresses)
    for index, address in enumerate(addresses, start=1):
        print(f"{container_name(env, index)} {address}")


def down(env: str) -> None:
    listed = run("docker", "ps", "-aq", "--filter", f"label=automq-testbed={env}", capture=True)
    ids = listed.stdout.split()
    if ids:
        run("docker", "rm", "--force", "--volumes", *ids, capture=True)
    run("docker", "network", "rm", network_name(env), check=False, capture=True)
    (STATE / env / "known_hosts").unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up_parser = sub.add_parser("up", help="start hosts (idempotent)")
    up_parser.add_argument("--env", required=True)
    up_parser.add_argument("--count", type=int, required=True)
    up_parser.add_argument("--subnet", required=True)
    down_parser = sub.add_parser("down", help="remove an environment's hosts and network")
    down_parser.add_argument("--env", required=True)
    sub.add_parser("ssh-key", help="create the test bed's SSH key and authorized_keys (idempotent)")
    args = parser.parse_args(argv)
    if args.command == "up":
        up(args.env, args.count, args.subnet)
    elif args.command == "ssh-key":
        print(f"ssh key: {ensure_ssh_key()}")
    else:
        down(args.env)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
