"""Fault injection (throttling), test hooks, endpoint forms and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import alibabacloud_oss_v2 as oss
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_vpc20160428 import models as vpc_models
from alibabacloud_vpc20160428.client import Client as VpcClient
from darabonba.policy.retry import RetryCondition, RetryOptions
from darabonba.runtime import RuntimeOptions
from test_emulator_vpc import REGION, create_vpc, error_of
from tests.alicloud_emulator import SECRET_ENV, Emulator
from tests.alicloud_emulator.sdk import Clients, oss_client, rpc_config

REPO = Path(__file__).resolve().parents[3]


def test_throttling_switch_fails_the_next_calls(clients: Clients, emulator: Emulator) -> None:
    emulator.fail_next("DescribeVpcs", count=2)
    request = vpc_models.DescribeVpcsRequest(region_id=REGION)
    for _ in range(2):
        error = error_of(lambda: clients.vpc.describe_vpcs(request))
        assert (error.status_code, error.code) == (400, "Throttling.User")
        assert "flow control" in error.message
    assert clients.vpc.describe_vpcs(request).body.total_count == 0
    # Other actions were never affected.
    create_vpc(clients)


def test_fault_can_target_one_product(clients: Clients, emulator: Emulator) -> None:
    emulator.fail_next("DescribeZones", product="pvtz", code="System.Busy", status=503)
    zones = clients.ecs.describe_zones(ecs_models.DescribeZonesRequest(region_id=REGION))
    assert zones.body.zones.zone
    from alibabacloud_pvtz20180101 import models as pvtz_models
    from alibabacloud_tea_openapi.exceptions import ServerException

    with pytest.raises(ServerException) as raised:
        clients.pvtz.describe_zones(pvtz_models.DescribeZonesRequest())
    assert (raised.value.status_code, raised.value.code) == (503, "System.Busy")


def test_sdk_retry_options_recover_from_throttling(emulator: Emulator) -> None:
    """The Tea SDK retries a throttled call when RetryOptions say so."""
    emulator.fail_next("GetCallerIdentity", count=2)
    retry = RetryOptions(
        {
            "retryable": True,
            "retryCondition": [
                RetryCondition({"maxAttempts": 3, "errorCode": ["Throttling.User"]})
            ],
        }
    )
    client = StsClient(rpc_config(emulator, retry_options=retry))
    assert client.get_caller_identity_with_options(RuntimeOptions()).body.account_id
    assert [c.status for c in emulator.calls_of("GetCallerIdentity")] == [400, 400, 200]


def test_oss_faults(emulator: Emulator) -> None:
    client = oss_client(emulator)
    emulator.fail_next("PutBucket", product="oss", code="SlowDown", status=503, message="slow down")
    with pytest.raises(oss.exceptions.OperationError) as raised:
        client.put_bucket(oss.PutBucketRequest(bucket="later"))
    assert raised.value.unwrap().code == "SlowDown"
    client.put_bucket(oss.PutBucketRequest(bucket="later"))


def test_http_hooks(emulator: Emulator, clients: Clients) -> None:
    base = f"http://{emulator.rpc_endpoint}/_emulator"

    def call(path: str, method: str = "GET", body: dict[str, object] | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    assert call("/health")["status"] == "ok"
    call("/faults", "POST", {"action": "CreateVpc", "count": 1})
    assert error_of(lambda: create_vpc(clients)).code == "Throttling.User"
    call("/faults", "POST", {"action": "CreateVpc", "count": 5})
    call("/faults", "DELETE")
    vpc_id = create_vpc(clients)
    state = call("/state")
    assert list(state["vpcs"]) == [vpc_id]
    assert all(k["secret"] == "***" for k in state["access_keys"].values())
    actions = [c["action"] for c in call("/calls")["calls"]]
    assert actions.count("CreateVpc") == 2


@pytest.mark.parametrize("form", ["{host}:{port}", "http://{host}:{port}", "localhost:{port}"])
def test_rpc_endpoint_forms(emulator: Emulator, form: str) -> None:
    endpoint = form.format(host="127.0.0.1", port=emulator.rpc_port)
    client = StsClient(rpc_config(emulator, endpoint=endpoint))
    assert client.get_caller_identity().body.account_id == emulator.account_id


def test_http_proxy_variable_is_honoured_by_the_sdk(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Tea runtime sends through HTTP_PROXY even to 127.0.0.1: modules must clear it."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    client = VpcClient(rpc_config(emulator, read_timeout=2000, connect_timeout=2000))
    with pytest.raises(Exception, match=r"(?i)proxy|connect|refused"):
        client.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id=REGION))


def test_state_file(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with Emulator(containers=False, state_file=str(state_file)) as emulator:
        from tests.alicloud_emulator.sdk import make_clients

        vpc_id = create_vpc(make_clients(emulator))
        assert vpc_id in json.loads(state_file.read_text())["vpcs"]


def test_command_line(tmp_path: Path) -> None:
    # The secret comes from the environment, never the command line (ps shows that
    # to everyone), and may start with "-", as secrets.token_urlsafe sometimes makes it.
    secret = "-cli-secret"
    env = {**os.environ, "PYTHONPATH": str(REPO), SECRET_ENV: secret}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "tests.alicloud_emulator", "--port", "0", "--oss-port", "0",
            "--s3-port", "0", "--s3-http-port", "0", "--state-dir", str(tmp_path / "emulator"),
            "--source-vpc", "127.0.0.0/8=vpc-cli",
            "--no-containers", "--account-id", "5555000011112222", "--access-key-id",
            "LTAI5tCommandLineKey00",
            "--state-file", str(tmp_path / "state.json"),
        ],
        cwd=REPO, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("alicloud-emulator ready"), line
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        rpc = fields["rpc"]
        client = StsClient(_config(rpc, "LTAI5tCommandLineKey00", secret))
        assert client.get_caller_identity().body.account_id == "5555000011112222"
        bad = StsClient(_config(rpc, "LTAI5tCommandLineKey00", "wrong"))
        with pytest.raises(ClientException):
            bad.get_caller_identity()
        assert fields["ca"] == str(tmp_path / "emulator" / "oss-data-ca.pem")
        host, _, port = fields["s3"].rpartition(":")
        assert host == "127.0.0.1"
        assert int(port) > 0
        assert int(fields["s3-http"].rpartition(":")[2]) not in (0, int(port))
        with urllib.request.urlopen(f"http://{rpc}/_emulator/health", timeout=10) as answer:
            health = json.load(answer)
        assert (health["s3_port"], health["oss_data_ca_file"]) == (int(port), fields["ca"])
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


def _config(endpoint: str, key_id: str, secret: str):
    from alibabacloud_tea_openapi import models as open_api_models

    return open_api_models.Config(
        access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http"
    )


def test_required_parameters_are_enforced(clients: Clients) -> None:
    """RegionId is required where the SDK models say so, as the cloud enforces it."""
    error = error_of(lambda: clients.vpc.describe_vpcs(vpc_models.DescribeVpcsRequest()))
    assert (error.status_code, error.code) == (400, "MissingParameter")
    assert '"RegionId"' in error.message
    error = error_of(lambda: clients.ecs.describe_instances(ecs_models.DescribeInstancesRequest()))
    assert error.code == "MissingParameter"
