"""Tests for automq_helpers.alicloud.clients with the real SDKs against a local capture server.

The server answers canned JSON, so these check the SDK wiring (endpoint override, protocol,
credentials, signature headers) and that real SDK exceptions go through retry_call and
explain as intended. The modules themselves are tested against the emulator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("alibabacloud_ecs20140526")
pytest.importorskip("alibabacloud_oss_v2")

from automq_helpers.alicloud.clients import (
    missing_sdks,
    openapi_client,
    oss_client,
    sdk_models,
)
from automq_helpers.alicloud.errors import Operation, explain
from automq_helpers.alicloud.retry import CallFailed, RetryPolicy, retry_call
from automq_helpers.alicloud.settings import connection_settings

KEYS = {"access_key_id": "LTAItest", "access_key_secret": "secret"}


class Capture:
    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.answers: list[tuple[int, dict[str, object]]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Capture]]:
    capture = Capture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            capture.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": self.rfile.read(length),
                }
            )
            status, body = capture.answers.pop(0) if capture.answers else (200, {})
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", capture
    finally:
        httpd.shutdown()
        httpd.server_close()


def settings_for(service, endpoint, **extra):
    return connection_settings(
        {"region": "cn-hangzhou", "endpoint": endpoint, "protocol": "http", **KEYS, **extra},
        {},
        service,
    )


def test_all_sdks_are_installed():
    assert missing_sdks(["ecs", "vpc", "ram", "pvtz", "sts", "oss"]) == []


def test_endpoint_override_reaches_the_local_server(server):
    endpoint, capture = server
    capture.answers.append((200, {"RequestId": "R", "Vpcs": {"Vpc": []}, "TotalCount": 0}))
    client = openapi_client("vpc", settings_for("vpc", endpoint))
    models = sdk_models("vpc")
    body = client.describe_vpcs(models.DescribeVpcsRequest(region_id="cn-hangzhou")).body
    assert body.to_map()["TotalCount"] == 0
    request = capture.requests[0]
    headers = request["headers"]
    assert headers["x-acs-action"] == "DescribeVpcs"
    assert headers["x-acs-version"] == "2016-04-28"
    assert headers["authorization"].startswith("ACS3-HMAC-SHA256 Credential=LTAItest,")
    assert "RegionId=cn-hangzhou" in request["path"]


def test_global_services_default_to_central_endpoints_without_region():
    settings = connection_settings(KEYS, {}, "ram")
    client = openapi_client("ram", settings)
    assert client._endpoint == "ram.aliyuncs.com"
    sts = openapi_client("sts", connection_settings(KEYS, {}, "sts"))
    assert sts._endpoint == "sts.aliyuncs.com"
    regional = openapi_client(
        "ecs", connection_settings({**KEYS, "region": "cn-beijing"}, {}, "ecs")
    )
    assert regional._endpoint == "ecs.cn-beijing.aliyuncs.com"


def test_oss_client_uses_the_endpoint_and_v4(server):
    endpoint, _ = server
    client = oss_client(settings_for("oss", endpoint))
    config = client._client._config
    assert config.endpoint == f"http://{endpoint}"
    assert config.region == "cn-hangzhou"
    assert (config.signature_version or "v4") == "v4"


def test_real_sdk_errors_are_retried_and_explained(server):
    endpoint, capture = server
    throttled = {
        "Code": "Throttling.User",
        "Message": "Request was denied due to user flow control.",
        "RequestId": "T1",
    }
    capture.answers += [
        (400, throttled),
        (400, throttled),
        (200, {"RequestId": "ok", "Vpcs": {"Vpc": []}}),
    ]
    client = openapi_client("vpc", settings_for("vpc", endpoint))
    models = sdk_models("vpc")
    sleeps: list[float] = []
    result = retry_call(
        lambda: client.describe_vpcs(models.DescribeVpcsRequest(region_id="cn-hangzhou")),
        sleep=sleeps.append,
    )
    assert result.body.request_id == "ok"
    assert len(sleeps) == 2

    capture.answers.append(
        (
            404,
            {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
                "RequestId": "R2",
            },
        )
    )
    with pytest.raises(CallFailed) as info:
        retry_call(
            lambda: client.describe_vpcs(models.DescribeVpcsRequest(region_id="cn-hangzhou")),
            sleep=sleeps.append,
            policy=RetryPolicy(max_attempts=3),
        )
    text = explain(info.value.error, Operation("vpc", "DescribeVpcs", "look up VPC 'automq'"))
    assert text == (
        "Could not look up VPC 'automq' (DescribeVpcs): the AccessKey ID is not known to "
        "Alibaba Cloud: check ALIBABA_CLOUD_ACCESS_KEY_ID or your profile "
        "[InvalidAccessKeyId.NotFound, request ID R2]."
    )


def test_unreachable_endpoint_is_a_network_error():
    settings = settings_for("ecs", "127.0.0.1:9")
    client = openapi_client("ecs", settings)
    models = sdk_models("ecs")
    with pytest.raises(CallFailed) as info:
        retry_call(
            lambda: client.describe_regions(models.DescribeRegionsRequest()), sleep=lambda s: None
        )
    assert info.value.error.kind == "network"
    text = explain(
        info.value.error,
        Operation("ecs", "DescribeRegions", "list regions"),
        endpoint="http://127.0.0.1:9",
    )
    assert "cannot reach the ECS endpoint http://127.0.0.1:9" in text
