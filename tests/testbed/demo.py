#!/usr/bin/env python3
"""`make demo` and `make demo-down`: the whole site.yml against the Alibaba Cloud emulator.

``up`` starts the emulator of ``tests/alicloud_emulator`` in the background (once:
a running one is reused, so a second ``make demo`` is a no-op re-run), runs
``ansible-playbook -i inventories/emulator site.yml`` with the emulator's endpoints
and account AccessKey in the environment (as an SRE would export real ones), then
prints the ``bootstrap.servers=`` line and the console's address.

``down`` runs ``playbooks/destroy.yml`` (confirmed, with purge) against the
emulator, stops it (which removes its containers) and forgets the demo's state.

Everything the demo keeps is under ``.testbed/demo/``: the emulator's credentials
(mode 0600), its log, state file and process ID, the vault password.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.alicloud_emulator import SECRET_ENV, containers  # noqa: E402

BIN = Path(sys.executable).parent
INVENTORY = REPO / "inventories" / "emulator"
STATE = REPO / ".testbed" / "demo"
CLUSTER = "demo"
VPC_BLOCK = "10.213.32.0/20"  # inventories/emulator/group_vars/all.yml
# The emulator's Internet (EIPs); this machine is its .1, the demo's admin CIDR
# (inventories/emulator/group_vars/all.yml).
INTERNET_CIDR = "10.213.240.0/24"
RPC_PORT, OSS_PORT = 18480, 18481
RPC_SERVICES = ("ECS", "VPC", "RAM", "PVTZ", "STS")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
START_TIMEOUT = 60


@dataclass(frozen=True)
class Credentials:
    account_id: str
    access_key_id: str
    access_key_secret: str

    @classmethod
    def load_or_create(cls, path: Path) -> Credentials:
        """The emulator account's AccessKey: generated once, kept mode 0600."""
        if path.exists():
            return cls(**json.loads(path.read_text()))
        created = cls(
            account_id=str(10**15 + secrets.randbelow(9 * 10**15)),
            access_key_id="LTAI5t" + secrets.token_hex(9),
            access_key_secret=secrets.token_urlsafe(22),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(created.__dict__, handle)
        return created


def clean_environment() -> dict[str, str]:
    """This process's environment without proxies (they would carry 127.0.0.1 away)."""
    names = {*PROXY_VARIABLES, *(name.lower() for name in PROXY_VARIABLES)}
    return {key: value for key, value in os.environ.items() if key not in names}


def cloud_environment(credentials: Credentials) -> dict[str, str]:
    """What a playbook run needs to reach the emulator instead of the cloud."""
    environment = clean_environment()
    rpc = f"http://127.0.0.1:{RPC_PORT}"
    environment.update({f"AUTOMQ_ALICLOUD_{service}_ENDPOINT": rpc for service in RPC_SERVICES})
    environment.update(
        AUTOMQ_ALICLOUD_OSS_ENDPOINT=f"http://127.0.0.1:{OSS_PORT}",
        ALIBABA_CLOUD_ACCESS_KEY_ID=credentials.access_key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=credentials.access_key_secret,
        ALIBABA_CLOUD_REGION_ID="cn-hangzhou",
        ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
        ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        # The RAM user's AccessKey file is vault-encrypted with this password.
        ANSIBLE_VAULT_PASSWORD_FILE=str(STATE / "vault-password"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return environment


def emulator_answers() -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{RPC_PORT}/_emulator/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def running_pid() -> int | None:
    pid_file = STATE / "emulator.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def forget_cloud_state() -> None:
    """A new emulator is an empty cloud: what the inventory recorded of the last one goes."""
    (INVENTORY / f"alicloud-{CLUSTER}.yml").unlink(missing_ok=True)
    subprocess.run(["rm", "-rf", str(INVENTORY / "automq_state")], check=True)


def start_emulator(credentials: Credentials) -> None:
    if running_pid() is not None and emulator_answers():
        print(f"alicloud emulator: running, http://127.0.0.1:{RPC_PORT}")
        return
    session_file = STATE / "emulator.session"
    if session_file.exists():  # an emulator that did not stop cleanly
        containers.cleanup(session_file.read_text().strip())
    containers.remove_networks_overlapping(VPC_BLOCK)
    containers.remove_networks_overlapping(INTERNET_CIDR)
    forget_cloud_state()
    log = STATE / "emulator.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "tests.alicloud_emulator",
                "--port", str(RPC_PORT), "--oss-port", str(OSS_PORT),
                "--account-id", credentials.account_id,
                "--access-key-id", credentials.access_key_id,
                "--state-file", str(STATE / "emulator-state.json"),
                "--internet-cidr", INTERNET_CIDR,
                # OSS's data plane for the nodes (at their VPC gateway, 443 forwarded).
                "--s3-host", "0.0.0.0", "--s3-port", "0",
                "--state-dir", str(STATE / "emulator"),
            ],
            cwd=REPO,
            env={**clean_environment(), SECRET_ENV: credentials.access_key_secret},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make demo`, until `make demo-down`
        )  # fmt: skip
    (STATE / "emulator.pid").write_text(str(process.pid))
    deadline = time.monotonic() + START_TIMEOUT
    while not emulator_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the alicloud emulator did not start; its log:\n{log.read_text()}")
        time.sleep(0.5)
    for line in log.read_text().splitlines():
        if line.startswith("alicloud-emulator ready"):
            session_file.write_text(line.rsplit("session=", 1)[1].strip())
    print(f"alicloud emulator: started, http://127.0.0.1:{RPC_PORT} (log {log})")


def stop_emulator() -> None:
    pid = running_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)  # it removes its containers and networks
        deadline = time.monotonic() + 180
        while running_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.5)
    session_file = STATE / "emulator.session"
    if session_file.exists():
        containers.cleanup(session_file.read_text().strip())
        session_file.unlink()
    (STATE / "emulator.pid").unlink(missing_ok=True)


def run(command: list[str], environment: dict[str, str]) -> None:
    print("+ " + " ".join(command), flush=True)
    done = subprocess.run(command, cwd=REPO, env=environment, check=False)
    if done.returncode != 0:
        sys.exit(done.returncode)


def vault_password() -> None:
    path = STATE / "vault-password"
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")


def up() -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    credentials = Credentials.load_or_create(STATE / "credentials.json")
    vault_password()
    start_emulator(credentials)
    environment = cloud_environment(credentials)
    python = str(BIN / "python")
    run([str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "site.yml"], environment)
    run([python, "tests/testbed/console_url.py", "-i", str(INVENTORY)], environment)
    # Last, as the README promises: the line a Kafka client needs.
    run([python, "tests/testbed/bootstrap_servers.py", "-i", str(INVENTORY)], environment)


def down() -> None:
    if running_pid() is not None and emulator_answers():
        credentials = Credentials.load_or_create(STATE / "credentials.json")
        run(
            [
                str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "playbooks/destroy.yml",
                "-e", "alicloud_destroy_confirm=demo",
                "-e", "alicloud_destroy_purge_buckets=demo-data,demo-ops",
            ],
            cloud_environment(credentials),
        )  # fmt: skip
    stop_emulator()
    forget_cloud_state()
    print("demo removed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down"))
    if parser.parse_args().action == "up":
        up()
    else:
        down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
