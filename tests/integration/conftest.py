"""Fixtures and helpers shared by the integration tests.

They run the real playbooks against test-bed hosts (systemd containers
reached over SSH, started by tests/testbed/hosts.py) and look at the hosts
with ``docker exec``:

* ``testbed``: checks once that the test bed is ready and fails, never skips,
  when it is not (``make testbed`` prepares it);
* ``testbed_envs``: starts environments of hosts on demand (fresh containers)
  and removes them when the session ends;
* :func:`write_inventory`, :func:`valid_group_vars`: an inventory that
  points at an environment's hosts, with valid group variables;
* :func:`automq_footprint`, :func:`system_fingerprint`: what an AutoMQ
  install left on a host, to prove that a run changed nothing;
* ``secure_node``: a secured Kafka node from the fixture package, without Docker
  (secure_kafka.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TESTBED_DIR = REPO / ".testbed"
SSH_KEY = TESTBED_DIR / "ssh" / "id_ed25519"
PACKAGES_DIR = TESTBED_DIR / "packages"
HOSTS_PY = REPO / "tests" / "testbed" / "hosts.py"
HOST_IMAGE = "automq-testbed-host:current"
PACKAGE_SERVER = "http://127.0.0.1:8480"
ANSIBLE_CONFIG = REPO / "ansible.cfg"
VENV_BIN = REPO / ".venv" / "bin"

FIXTURE_VERSION = "1.7.3-fixture"
FIXTURE_KAFKA_VERSION = "3.9.1"
# Every (version, Kafka version) fixture package that `make testbed` builds and serves.
FIXTURE_PACKAGES = (("1.6.0-fixture", "3.9.0"), (FIXTURE_VERSION, FIXTURE_KAFKA_VERSION))

# Placeholders: the test bed has no OSS. The secret must never be printed.
FAKE_ACCESS_KEY_ID = "LTAI5tTestAccessKeyId0"
FAKE_ACCESS_KEY_SECRET = "it-secret-never-printed-7f3a9c2e5b"

PREPARE_HINT = "Run `make testbed` (idempotent) to prepare it, then run the tests again."


def fixture_package_name(
    version: str = FIXTURE_VERSION, kafka_version: str = FIXTURE_KAFKA_VERSION
) -> str:
    return f"automq-{version}_kafka-{kafka_version}.tgz"


def fixture_package_sha256(
    version: str = FIXTURE_VERSION, kafka_version: str = FIXTURE_KAFKA_VERSION
) -> str:
    """The sha256 that prepare.sh recorded beside the fixture package."""
    sha_file = PACKAGES_DIR / f"{fixture_package_name(version, kafka_version)}.sha256"
    return sha_file.read_text().split()[0]


# --- The test bed ---------------------------------------------------------------


def _testbed_problems() -> list[str]:
    problems: list[str] = []
    if shutil.which("docker") is None:
        return ["the docker command is not installed"]
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return [f"the Docker engine does not answer (docker info: {info.stderr.strip()[:200]})"]
    image = subprocess.run(
        ["docker", "image", "inspect", HOST_IMAGE], capture_output=True, text=True, check=False
    )
    if image.returncode != 0:
        problems.append(f"the host image {HOST_IMAGE} is not built")
    for version, kafka_version in FIXTURE_PACKAGES:
        package = PACKAGES_DIR / fixture_package_name(version, kafka_version)
        sha_file = package.with_name(package.name + ".sha256")
        if not package.is_file() or not sha_file.is_file():
            problems.append(f"the fixture package {package} or its .sha256 is missing")
            continue
        url = f"{PACKAGE_SERVER}/{package.name}"
        try:
            request = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status != 200:
                    problems.append(f"the package server answers {response.status} for {url}")
        except (urllib.error.URLError, OSError) as error:
            problems.append(f"the package server does not serve {url} ({error})")
    if not os.access(VENV_BIN / "ansible-playbook", os.X_OK):
        problems.append(f"{VENV_BIN / 'ansible-playbook'} is missing (the project venv)")
    return problems


@pytest.fixture(scope="session")
def testbed() -> None:
    """Fail (never skip) every test that needs the test bed when it is not ready."""
    problems = _testbed_problems()
    if problems:
        pytest.fail(
            "The integration test bed is not ready: " + "; ".join(problems) + ". " + PREPARE_HINT,
            pytrace=False,
        )


@dataclass(frozen=True)
class TestbedHost:
    """One test-bed container."""

    __test__ = False  # not a test class, despite its name

    container: str
    address: str

    def sh(self, script: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a shell script as root in the container (docker exec, not through Ansible)."""
        result = subprocess.run(
            ["docker", "exec", self.container, "sh", "-euc", script],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.container}: script failed with rc={result.returncode}\n{script}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def write_file(self, path: str, content: str, mode: str = "0644") -> None:
        """Create ``path`` (and its parent directories) with ``content``, as root."""
        subprocess.run(
            [
                "docker", "exec", "-i", self.container, "sh", "-euc",
                f'mkdir -p "$(dirname {path})"; cat > {path}; chmod {mode} {path}',
            ],
            input=content,
            text=True,
            capture_output=True,
            check=True,
        )  # fmt: skip


@dataclass(frozen=True)
class TestbedEnv:
    """An environment of test-bed hosts, as hosts.py started it."""

    __test__ = False

    name: str
    subnet: str
    hosts: tuple[TestbedHost, ...]

    @property
    def known_hosts(self) -> Path:
        return TESTBED_DIR / self.name / "known_hosts"


def _hosts_py(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(HOSTS_PY), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"tests/testbed/hosts.py {' '.join(args)} failed (rc={result.returncode}): "
            f"{result.stdout}{result.stderr}. {PREPARE_HINT}",
            pytrace=False,
        )
    return result.stdout


@pytest.fixture(scope="session")
def testbed_envs(testbed: None) -> Iterator[Callable[[str, int, str], TestbedEnv]]:
    """Start test-bed environments: ``testbed_envs(name, count, subnet)``.

    Each environment starts from fresh containers (leftovers of an earlier,
    interrupted session are removed first) and is removed when the session
    ends. Asking twice for the same environment returns the running one.
    """
    started: dict[str, TestbedEnv] = {}

    def start(name: str, count: int, subnet: str) -> TestbedEnv:
        if name in started:
            env = started[name]
            assert (len(env.hosts), env.subnet) == (count, subnet), f"env {name} differs"
            return env
        _hosts_py("down", "--env", name)
        started[name] = TestbedEnv(name=name, subnet=subnet, hosts=())
        output = _hosts_py("up", "--env", name, "--count", str(count), "--subnet", subnet)
        hosts = tuple(TestbedHost(*line.split()) for line in output.splitlines() if line.strip())
        assert len(hosts) == count, f"hosts.py up printed {output!r}"
        started[name] = TestbedEnv(name=name, subnet=subnet, hosts=hosts)
        return started[name]

    yield start
    for name in started:
        _hosts_py("down", "--env", name)


# --- What a run leaves on a host -----------------------------------------------------

# Everything the roles create on a host, besides the JDK package.
AUTOMQ_PATHS = (
    "/opt/automq",
    "/etc/automq",
    "/var/lib/automq",
    "/var/log/automq",
    "/etc/sysctl.d/60-automq.conf",
    "/etc/security/limits.d/60-automq.conf",
    "/etc/systemd/system/automq.service",
)
JDK_PACKAGE = "openjdk-17-jre-headless"

_FOOTPRINT_SCRIPT = f"""
for root in {" ".join(AUTOMQ_PATHS)}; do
  if [ -e "$root" ]; then find "$root" | sed 's/^/path /'; fi
done
if getent passwd automq >/dev/null; then echo "user automq"; fi
if getent group automq >/dev/null; then echo "group automq"; fi
systemctl list-unit-files --no-legend --no-pager 'automq*' | sed 's/^/unit /'
if dpkg -s {JDK_PACKAGE} >/dev/null 2>&1; then echo "package {JDK_PACKAGE}"; fi
"""


def automq_footprint(host: TestbedHost) -> set[str]:
    """What AutoMQ left on the host: ``path ...`` (every file below the role's
    paths), ``user automq``, ``group automq``, ``unit ...``, ``package ...``.
    Empty on an untouched host."""
    output = host.sh(_FOOTPRINT_SCRIPT).stdout
    return {line.strip() for line in output.splitlines() if line.strip()}


_FINGERPRINT_SCRIPT = """
sha256sum /etc/passwd /etc/group /etc/shadow /etc/gshadow /var/lib/dpkg/status
for dir in /etc/systemd/system /etc/sysctl.d /etc/security/limits.d /opt /usr/lib/jvm; do
  if [ -d "$dir" ]; then find "$dir" | sort; fi
done
"""


def system_fingerprint(host: TestbedHost) -> str:
    """Accounts, installed packages and the directories an install writes to;
    equal before and after a run that changed nothing."""
    return host.sh(_FINGERPRINT_SCRIPT).stdout


# --- Inventories -----------------------------------------------------------------


def connection_vars(env: TestbedEnv) -> dict[str, Any]:
    """Connect as the test bed's deploy user, checking host keys strictly."""
    return {
        "ansible_user": "deploy",
        "ansible_ssh_private_key_file": str(SSH_KEY),
        "ansible_ssh_common_args": (
            f"-o UserKnownHostsFile={env.known_hosts} -o StrictHostKeyChecking=yes"
        ),
    }


def valid_group_vars(env: TestbedEnv, cluster_name: str) -> dict[str, Any]:
    """Valid group variables for a test-bed cluster (cf. inventories/local)."""
    return {
        **connection_vars(env),
        "automq_version": FIXTURE_VERSION,
        "automq_kafka_version": FIXTURE_KAFKA_VERSION,
        "automq_package_url": f"{PACKAGE_SERVER}/{fixture_package_name()}",
        "automq_package_sha256": fixture_package_sha256(),
        "automq_cluster_name": cluster_name,
        "automq_oss_region": "cn-hangzhou",
        "automq_oss_data_bucket": f"automq-{cluster_name}-data",
        "automq_oss_ops_bucket": f"automq-{cluster_name}-ops",
        "automq_oss_access_key_id": FAKE_ACCESS_KEY_ID,
        "automq_oss_access_key_secret": FAKE_ACCESS_KEY_SECRET,
        # No OSS behind these placeholders (the alicloud scenario checks the real path).
        "automq_oss_readiness_check": False,
        "automq_oss_bucket_identity": False,
        "automq_heap_opts": "-Xms512m -Xmx512m -XX:MaxDirectMemorySize=256m",
        "automq_host_sysctl_apply": False,
    }


def write_inventory(
    directory: Path,
    hosts: Mapping[str, TestbedHost],
    groups: Mapping[str, Sequence[str]],
    group_vars: Mapping[str, Any],
    host_vars: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write ``directory/hosts.yml``, ``group_vars/all.yml`` and ``host_vars/*.yml``.

    ``hosts`` maps inventory host names to containers (several names may point
    at the same container); ``groups`` lists the names in each group. Returns
    the inventory directory; the state file lands in its ``automq_state/``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    children: dict[str, Any] = {}
    for group, members in groups.items():
        unknown = set(members) - set(hosts)
        assert not unknown, f"group {group} names unknown hosts {unknown}"
        children[group] = {"hosts": {name: {} for name in members}}
    document = {
        "all": {
            "hosts": {name: {"ansible_host": host.address} for name, host in hosts.items()},
            "children": children,
        }
    }
    (directory / "hosts.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    (directory / "group_vars").mkdir(exist_ok=True)
    (directory / "group_vars" / "all.yml").write_text(
        yaml.safe_dump(dict(group_vars), sort_keys=False)
    )
    if host_vars:
        (directory / "host_vars").mkdir(exist_ok=True)
        for name, variables in host_vars.items():
            (directory / "host_vars" / f"{name}.yml").write_text(
                yaml.safe_dump(dict(variables), sort_keys=False)
            )
    return directory


# --- A secured node without Docker ----------------------------------------------------

# Imported last: secure_kafka reads this module's constants.
from .secure_kafka import secure_node  # noqa: E402, F401
