"""The automq.platform.oss_readiness module, run by real ansible-playbook on localhost.

The node's files are written to tmp_path; the buckets are a FakeOss behind HTTPS on
loopback with a private CA (the module's ca_file).  ``localhost`` has no subdomains that
resolve everywhere, so these URIs use pathStyle=true (the fake allows it); virtual-hosted
requests over TLS are covered in test_oss_readiness.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from oss_fake import ACCESS_KEY_ID, SECRET, FakeOss, make_pki, serve_tls
from test_ansible_plugins import REPO, run_playbook_output

REGION = "oss-cn-hangzhou"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory):
    return make_pki(tmp_path_factory.mktemp("pki"), ["localhost", "127.0.0.1"])


def node_files(
    directory: Path, port: int, secret: str = SECRET, ops_bucket: str = "automq-ops"
) -> tuple[Path, Path]:
    """server.properties and credentials.env as the automq role writes them."""
    query = f"region={REGION}&endpoint=https://localhost:{port}&pathStyle=true"
    properties = directory / "server.properties"
    properties.write_text(
        "# Managed by Ansible (role automq); local changes are overwritten.\n"
        "node.id=0\n"
        f"s3.data.buckets=0@s3://automq-data?{query}\n"
        f"s3.ops.buckets=1@s3://{ops_bucket}?{query}\n"
        f"s3.wal.path=0@s3://automq-data?{query}\n"
    )
    credentials = directory / "credentials.env"
    credentials.write_text(
        "# Managed by Ansible (role automq). OSS AccessKey of the RAM user AutoMQ uses.\n"
        f"AWS_ACCESS_KEY_ID={ACCESS_KEY_ID}\n"
        f"AWS_SECRET_ACCESS_KEY={secret}\n"
    )
    credentials.chmod(0o600)
    return properties, credentials


def readiness_task(properties: Path, credentials: Path, **options: Any) -> dict[str, Any]:
    return {
        "name": "oss",
        "automq.platform.oss_readiness": {
            "server_properties": str(properties),
            "credentials_env": str(credentials),
            "probe_name": "node-0",
            **options,
        },
    }


def fake_oss() -> FakeOss:
    return FakeOss(endpoint_host="localhost", allow_path_style=True)


def assert_no_secret(completed, result: dict[str, Any], *secrets: str) -> None:
    text = completed.transcript + json.dumps(result)
    for secret in secrets:
        assert secret not in text
    assert "Signature=" not in text
    assert "AWS4-HMAC-SHA256" not in text


def test_both_buckets_ready(tmp_path: Path, pki) -> None:
    fake = fake_oss()
    with serve_tls(fake, pki) as server:
        properties, credentials = node_files(tmp_path, server.port)
        completed, results = run_playbook_output(
            tmp_path, [readiness_task(properties, credentials, ca_file=str(pki.ca_file))], "-vvv"
        )

    result = results["oss"]
    assert completed.returncode == 0, result
    assert result["changed"] is False
    assert result["ready"] is True
    assert result["mode"] == "full"
    assert result["problems"] == []
    buckets = result["buckets"]
    assert [(item["roles"], item["bucket"]) for item in buckets] == [
        (["data", "wal"], "automq-data"),
        (["ops"], "automq-ops"),
    ]
    for item in buckets:
        assert item["ok"] is True
        assert item["url"] == f"https://localhost:{server.port}/{item['bucket']}/"
        assert item["access_key_id"] == ACCESS_KEY_ID
        assert item["credentials_source"] == str(credentials)
        assert item["probe_prefix"].startswith("__automq/readiness_check/installer/node-0/")
        assert [step["step"] for step in item["steps"]][-2:] == ["delete", "verify_deleted"]
        assert item["failure"] is None
        assert item["leftover_keys"] == []
    assert fake.operations.count("PutObject") == 2
    assert fake.objects == {}
    assert_no_secret(completed, result, SECRET)


def test_check_mode_writes_nothing(tmp_path: Path, pki) -> None:
    fake = fake_oss()
    with serve_tls(fake, pki) as server:
        properties, credentials = node_files(tmp_path, server.port)
        completed, results = run_playbook_output(
            tmp_path, [readiness_task(properties, credentials, ca_file=str(pki.ca_file))], "--check"
        )

    result = results["oss"]
    assert completed.returncode == 0, result
    assert result["mode"] == "head-only"
    assert [item["mode"] for item in result["buckets"]] == ["head-only", "head-only"]
    assert fake.operations == ["HeadObject", "HeadObject"]


def test_a_wrong_secret_fails_with_one_message_per_bucket(tmp_path: Path, pki) -> None:
    wrong = "Wrong/Secret+Value=0123456789abcdef"
    fake = fake_oss()
    with serve_tls(fake, pki) as server:
        properties, credentials = node_files(tmp_path, server.port, secret=wrong)
        completed, results = run_playbook_output(
            tmp_path, [readiness_task(properties, credentials, ca_file=str(pki.ca_file))], "-vvv"
        )

    result = results["oss"]
    assert completed.returncode == 2
    assert result["failed"] is True
    assert result["ready"] is False
    lines = result["msg"].split("\n")
    assert lines == result["problems"]
    assert len(lines) == 2
    for line, bucket in zip(
        lines, ("data/wal bucket automq-data", "ops bucket automq-ops"), strict=True
    ):
        assert line.startswith(bucket)
        assert "step head failed with HTTP 403 SignatureDoesNotMatch" in line
        assert "check automq_oss_access_key_secret" in line
    assert fake.operations == ["HeadObject", "HeadObject"]
    assert_no_secret(completed, result, wrong)


def test_failures_are_per_bucket(tmp_path: Path, pki) -> None:
    fake = fake_oss()
    with serve_tls(fake, pki) as server:
        properties, credentials = node_files(tmp_path, server.port, ops_bucket="automq-opz")
        completed, results = run_playbook_output(
            tmp_path, [readiness_task(properties, credentials, ca_file=str(pki.ca_file))]
        )

    result = results["oss"]
    assert completed.returncode == 2
    assert [item["ok"] for item in result["buckets"]] == [True, False]
    assert result["buckets"][1]["failure"]["code"] == "NoSuchBucket"
    assert result["problems"] == [result["msg"]]
    assert "ops bucket automq-opz" in result["msg"]
    assert fake.objects == {}


def test_no_server_is_connection_refused_and_redacted(tmp_path: Path, pki) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    properties, credentials = node_files(tmp_path, port)
    properties.write_text(properties.read_text().replace("https://localhost", "https://127.0.0.1"))

    completed, results = run_playbook_output(
        tmp_path, [readiness_task(properties, credentials, ca_file=str(pki.ca_file))], "-vvv"
    )

    result = results["oss"]
    assert completed.returncode == 2
    assert [item["failure"]["code"] for item in result["buckets"]] == ["ConnectionRefused"] * 2
    assert "security group allows egress" in result["msg"]
    assert_no_secret(completed, result, SECRET)


def test_untrusted_endpoint_without_ca_file(tmp_path: Path, pki) -> None:
    fake = fake_oss()
    with serve_tls(fake, pki) as server:
        properties, credentials = node_files(tmp_path, server.port)
        completed, results = run_playbook_output(
            tmp_path, [readiness_task(properties, credentials)]
        )

    result = results["oss"]
    assert completed.returncode == 2
    assert {item["failure"]["code"] for item in result["buckets"]} == {"CertificateError"}
    assert fake.operations == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"server_properties": "/nonexistent/server.properties"}, "cannot read server.properties "),
        ({"credentials_env": "/nonexistent/credentials.env"}, "cannot read credentials file "),
        ({"timeout": 0}, "timeout must be positive"),
        ({"ca_file": "/nonexistent/ca.pem"}, "cannot load ca_file /nonexistent/ca.pem"),
        ({"unknown_option": 1}, "Unsupported parameters"),
    ],
)
def test_argument_and_file_errors(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    properties, credentials = node_files(tmp_path, 443)
    task = readiness_task(properties, credentials)
    task["automq.platform.oss_readiness"].update(change)

    completed, results = run_playbook_output(tmp_path, [task], "-vvv")

    result = results["oss"]
    assert completed.returncode == 2
    assert message in result["msg"]
    assert "Traceback" not in json.dumps(result)
    assert_no_secret(completed, result, SECRET)


def test_missing_secret_in_credentials_file(tmp_path: Path) -> None:
    properties, credentials = node_files(tmp_path, 443)
    credentials.write_text(f"AWS_ACCESS_KEY_ID={ACCESS_KEY_ID}\n")

    completed, results = run_playbook_output(tmp_path, [readiness_task(properties, credentials)])

    assert completed.returncode == 2
    assert results["oss"]["msg"] == (
        f"no AccessKey for bucket automq-data: {credentials} sets neither AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY nor KAFKA_S3_ACCESS_KEY and KAFKA_S3_SECRET_KEY (set "
        "automq_oss_access_key_id and automq_oss_access_key_secret)"
    )


def test_a_malformed_credentials_file_is_not_echoed(tmp_path: Path) -> None:
    properties, credentials = node_files(tmp_path, 443)
    credentials.write_text(f"AWS_SECRET_ACCESS_KEY {SECRET}\n")

    completed, results = run_playbook_output(
        tmp_path, [readiness_task(properties, credentials)], "-vvv"
    )

    assert completed.returncode == 2
    assert results["oss"]["msg"] == f"{credentials}: line 1: expected NAME=value"
    assert_no_secret(completed, results["oss"], SECRET)


def test_documentation_matches_the_argument_spec(tmp_path: Path) -> None:
    ansible_doc = Path(sys.executable).with_name("ansible-doc")
    doc = subprocess.run(
        [str(ansible_doc), "-j", "automq.platform.oss_readiness"],
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    documented = json.loads(doc.stdout)["automq.platform.oss_readiness"]
    properties, credentials = node_files(tmp_path, 443)
    _, results = run_playbook_output(tmp_path, [readiness_task(properties, credentials)], "--check")

    options = documented["doc"]["options"]
    assert set(options) == set(results["oss"]["invocation"]["module_args"])
    for name, value in results["oss"]["invocation"]["module_args"].items():
        if name not in ("server_properties", "credentials_env", "probe_name"):
            assert options[name].get("default") == value, name
    assert {"ready", "mode", "buckets", "problems"} <= set(documented["return"])
