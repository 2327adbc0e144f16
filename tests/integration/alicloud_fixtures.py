"""Fixtures of the ``alicloud`` scenario: the Alibaba Cloud emulator with test-bed hosts.

* ``alicloud_emulator``: the emulator of ``tests/alicloud_emulator``, in-process, whose
  RunInstances starts test-bed host containers (Docker bridge network = VPC) reached over
  SSH as root with the imported key pair, their security groups enforced; EIPs are
  addresses of its Internet network (the module's ``INTERNET_CIDR``), from which this
  machine is ``emulator.internet_gateway``. It needs the test bed (``make testbed``) and
  fails, never skips, without it. Its containers and networks are removed when the module
  ends, also after a failure.
* :class:`CloudEnv`: the environment a playbook run gets: the emulator's endpoints
  (``AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT``), the account's AccessKey in the SDK's default
  credential chain (``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``), the region, no
  ECS metadata lookups and no proxies.

Import the fixtures into a test module with
``from .alicloud_fixtures import alicloud_emulator  # noqa: F401``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from automq_helpers.properties import parse_properties

from .conftest import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

from tests.alicloud_emulator import Emulator, containers
from tests.alicloud_emulator.sdk import Clients, make_clients

# Proxies would carry the SDKs' calls to 127.0.0.1 away from the emulator.
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)
RPC_SERVICES = ("ECS", "VPC", "RAM", "PVTZ", "STS")


@dataclass(frozen=True)
class CloudEnv:
    """How playbooks and SDK clients reach the emulator."""

    emulator: Emulator

    def envvars(self, **overrides: str) -> dict[str, str]:
        """Environment of a playbook run (ansible-runner ``envvars``)."""
        rpc = f"http://{self.emulator.rpc_endpoint}"
        env = {f"AUTOMQ_ALICLOUD_{service}_ENDPOINT": rpc for service in RPC_SERVICES}
        env.update(
            AUTOMQ_ALICLOUD_OSS_ENDPOINT=self.emulator.oss_endpoint,
            ALIBABA_CLOUD_ACCESS_KEY_ID=self.emulator.access_key_id,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET=self.emulator.access_key_secret,
            ALIBABA_CLOUD_REGION_ID=self.emulator.region_id,
            ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
            ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true",
            AUTOMQ_ALICLOUD_RETRY_BASE_DELAY="0.2",
        )
        env.update(overrides)
        return env

    def clients(self) -> Clients:
        return make_clients(self.emulator)

    def snapshot(self) -> dict[str, Any]:
        return self.emulator.snapshot()

    def successful_writes(self) -> list[str]:
        with self.emulator.lock:
            return [
                call.action
                for call in self.emulator.calls
                if call.status < 400
                and not call.action.startswith(("Describe", "Get", "List", "Head"))
            ]

    def ram_user_secret(self, user_name: str) -> str:
        """The secret of the RAM user's AccessKey, as the emulator (the cloud) knows it."""
        with self.emulator.lock:
            secrets = [
                key.secret
                for key in self.emulator.state.access_keys.values()
                if key.user_name == user_name
            ]
        assert len(secrets) == 1, f"RAM user {user_name} has {len(secrets)} AccessKeys"
        return secrets[0]


def start_emulator(vpc_block: str, internet_cidr: str, **overrides: Any) -> Emulator:
    containers.remove_networks_overlapping(vpc_block)
    containers.remove_networks_overlapping(internet_cidr)
    # The OSS data plane on every address of this machine (a free port): the instances
    # reach it at their VPC gateway, port 443 forwarded to it by their firewall.
    return Emulator(
        containers=True,
        boot_timeout=180,
        internet_cidr=internet_cidr,
        s3_host="0.0.0.0",
        **overrides,
    ).start()


@pytest.fixture(scope="module")
def alicloud_emulator(testbed: None, request: pytest.FixtureRequest) -> Iterator[CloudEnv]:
    """A fresh emulator with containers for the module; the module sets ``VPC_BLOCK`` and
    ``INTERNET_CIDR`` (blocks no other test or demo uses) and may set ``EMULATOR_OPTIONS``
    (further ``EmulatorConfig`` fields)."""
    saved: Mapping[str, str] = {k: os.environ[k] for k in PROXY_VARIABLES if k in os.environ}
    for name in saved:
        del os.environ[name]
    vpc_block = getattr(request.module, "VPC_BLOCK", "10.213.0.0/16")
    internet_cidr = getattr(request.module, "INTERNET_CIDR", "10.213.241.0/24")
    options = getattr(request.module, "EMULATOR_OPTIONS", {})
    emulator = start_emulator(vpc_block, internet_cidr, **options)
    try:
        yield CloudEnv(emulator)
    finally:
        emulator.stop()  # removes the session's containers and networks
        try:
            containers.cleanup(emulator.config.session)
        finally:
            os.environ.update(saved)


def tree_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


# Runs with confluent-kafka (the console host's virtualenv, or this machine's): produce 1000 records
# through one broker, consume them through another, print a JSON summary.
_PRODUCE_AND_CONSUME = """
import json, sys, time, uuid
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

produce_via, consume_via = sys.argv[1], sys.argv[2]
topic = "alicloud-" + uuid.uuid4().hex[:8]
admin = AdminClient({**SETTINGS, "bootstrap.servers": produce_via})
brokers = sorted(b.host for b in admin.list_topics(timeout=30).brokers.values())
admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=3)])[topic].result(60)
sent = ["record-%d-%s" % (i, uuid.uuid4().hex) for i in range(1000)]
errors = []
producer = Producer({**SETTINGS, "bootstrap.servers": produce_via, "acks": "all",
                     "enable.idempotence": True})
for value in sent:
    producer.produce(topic, value=value.encode(),
                     on_delivery=lambda e, _m: errors.append(str(e)) if e else None)
unflushed = producer.flush(60)
consumer = Consumer({**SETTINGS, "bootstrap.servers": consume_via, "group.id": "verify-" + topic,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe([topic])
received = []
deadline = time.monotonic() + 90
while len(received) < len(sent) and time.monotonic() < deadline:
    message = consumer.poll(1.0)
    if message is None:
        continue
    if message.error():
        if message.error().code() != KafkaError._PARTITION_EOF:
            errors.append(str(message.error()))
        continue
    received.append(message.value().decode())
consumer.close()
print(json.dumps({"brokers": brokers, "unflushed": unflushed, "errors": errors,
                  "complete": sorted(received) == sorted(sent), "received": len(received)}))
"""

CONSOLE_VENV_PYTHON = "/opt/automq-console/venv/bin/python"


def produce_and_consume_inside(
    container: str, client_config: Path, produce_via: str, consume_via: str
) -> dict[str, Any]:
    """A Kafka client inside the VPC (the console host), where PrivateZone names resolve.

    It uses the admin's client configuration as the deploy wrote it on this machine, with
    the CA inline; the settings travel in the script on stdin, never on a command line."""
    return _produce_and_consume(
        ["docker", "exec", "-i", container, CONSOLE_VENV_PYTHON], client_config, produce_via,
        consume_via,
    )  # fmt: skip


def produce_and_consume_here(
    client_config: Path, produce_via: str, consume_via: str
) -> dict[str, Any]:
    """The same client on this machine (the test's confluent-kafka): from outside the
    cloud, e.g. through the brokers' EIPs."""
    return _produce_and_consume([sys.executable], client_config, produce_via, consume_via)


def _produce_and_consume(
    python: list[str], client_config: Path, produce_via: str, consume_via: str
) -> dict[str, Any]:
    settings = parse_properties(client_config.read_text())
    settings["ssl.ca.pem"] = Path(settings.pop("ssl.ca.location")).read_text()
    settings.pop("bootstrap.servers", None)
    done = subprocess.run(
        [*python, "-", produce_via, consume_via],
        input=f"SETTINGS = {json.dumps(settings)}\n" + _PRODUCE_AND_CONSUME,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))
