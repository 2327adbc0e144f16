"""``make demo`` as a new user runs it: from a clean state, exactly as the README writes it.

The demo provisions the emulated Alibaba Cloud environment and deploys onto hosts that
the provisioning play adds in memory, which is what a first run does and a second run
(reading the inventory file the first one wrote) does not. So the steps, in order:

1. clean state: whatever an earlier demo left (running emulator, written inventory,
   state files) is removed with ``make demo-down``, and the test checks that nothing is left;
2. ``make demo``: succeeds the first time; its ``bootstrap.servers=`` line works for a
   real produce and consume from this machine, and its console URL serves the login page;
3. ``make demo-down`` leaves no container, network, inventory file or state behind.

A second run, from the inventory file the first one wrote, changing nothing on any host
and writing nothing to the cloud, is ``test_alicloud.py``'s ``site.yml`` run twice (same
playbook, emulator and written-inventory path); repeating it here cost 2.7 minutes of
the suite's budget.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from automq_helpers.properties import parse_properties

from .alicloud_fixtures import containers, produce_and_consume_inside
from .conftest import REPO

pytestmark = pytest.mark.testbed

INVENTORY = REPO / "inventories" / "emulator"
DEMO_STATE = REPO / ".testbed" / "demo"
RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=\d+\s+failed=\d+",
    re.M,
)


@dataclass(frozen=True)
class MakeRun:
    target: str
    returncode: int
    output: str

    def line(self, prefix: str) -> str:
        found = [line for line in self.output.splitlines() if line.startswith(prefix)]
        assert found, f"`make {self.target}` printed no line starting with {prefix!r}"
        return found[-1][len(prefix) :]

    def recap(self) -> dict[str, int]:
        """changed= of every host in the last PLAY RECAP."""
        last = self.output.rsplit("PLAY RECAP", 1)[-1]
        return {match["host"]: int(match["changed"]) for match in RECAP_LINE.finditer(last)}


def make(target: str) -> MakeRun:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    done = subprocess.run(
        ["make", target],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    output = done.stdout + done.stderr
    (REPO / ".testbed" / f"test-demo-{target}.log").write_text(output)
    return MakeRun(target, done.returncode, output)


def leftovers() -> list[str]:
    found = [
        str(path.relative_to(REPO))
        for path in (
            INVENTORY / "alicloud-demo.yml",
            INVENTORY / "automq_state",
            DEMO_STATE / "emulator.pid",
            DEMO_STATE / "emulator.session",
        )
        if path.exists()
    ]
    containers = subprocess.run(
        ["docker", "ps", "-a", "--format", "{{.Names}}", "--filter", "name=demo-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return found + [f"container {name}" for name in containers]


@pytest.fixture(scope="module")
def first_demo(testbed: None) -> MakeRun:
    if leftovers():
        down = make("demo-down")
        assert down.returncode == 0, down.output[-3000:]
    assert leftovers() == [], "a clean state is needed before the first `make demo`"
    return make("demo")


def test_the_first_make_demo_works(first_demo: MakeRun):
    assert first_demo.returncode == 0, first_demo.output[-5000:]
    recap = first_demo.recap()
    assert recap, "no PLAY RECAP in the demo's output"
    assert all(changed > 0 for host, changed in recap.items() if host != "localhost"), recap


def demo_console_container() -> str:
    """The container of the demo's console host, as the running emulator records it."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://127.0.0.1:18480/_emulator/state", timeout=10) as answer:
        state = json.loads(answer.read())
    (container,) = [
        instance["container"]
        for instance in state["instances"].values()
        if instance["name"] == "demo-console-1" and instance.get("container")
    ]
    return str(container)


def test_its_client_config_and_bootstrap_servers_serve_produce_and_consume(first_demo: MakeRun):
    """The printed configuration (SASL_SSL, the admin, the CA, mode 0600) and servers work
    for a client inside the VPC (the console host), where the PrivateZone names resolve."""
    config = Path(first_demo.line("client.config="))
    assert config.stat().st_mode & 0o077 == 0, f"{config} is readable by others"
    assert parse_properties(config.read_text())["security.protocol"] == "SASL_SSL"
    servers = first_demo.line("bootstrap.servers=").split(",")
    result = produce_and_consume_inside(demo_console_container(), config, servers[0], servers[-1])
    assert (result["unflushed"], result["errors"]) == (0, [])
    assert result["complete"], result


def test_its_console_url_serves_the_login_page(first_demo: MakeRun):
    console = first_demo.line("console=").split()[0]
    assert console.startswith("https://")
    # Trusting the cluster CA the demo names, as a browser that imported it would.
    ca_file = first_demo.line("cluster CA (trust it in your browser): ").strip()
    trusted = ssl.create_default_context(cafile=ca_file)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=trusted)
    )
    with opener.open(f"{console}/login", timeout=10) as answer:
        assert answer.status == 200
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert b"password" in answer.read().lower()


def test_make_demo_down_leaves_nothing(first_demo: MakeRun):
    session = (DEMO_STATE / "emulator.session").read_text().strip()
    down = make("demo-down")
    assert down.returncode == 0, down.output[-5000:]
    assert leftovers() == []
    for kind in ("ps", "network"):
        listed = subprocess.run(
            ["docker", *(["ps", "-a"] if kind == "ps" else ["network", "ls"]), "--quiet",
             "--filter", f"label={containers.SESSION_LABEL}={session}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()  # fmt: skip
        assert listed == [], f"the demo's emulator left {kind} {listed}"


def test_no_state_is_left_in_the_repository(first_demo: MakeRun):
    """The demo's files live in .testbed (ignored by git); nothing untracked is left."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "inventories"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == "", status
