"""Console settings: the JSON file Ansible writes, and the secret files it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from console_fakes import KAFKA_PASSWORD, config_dict, secure_kafka, write_secret_files
from hypothesis import given
from hypothesis import strategies as st

from automq_console import __main__ as console_main
from automq_console.config import (
    CONFIG_ENV_VAR,
    ConfigError,
    find_secret_keys,
    load_settings,
    parse_settings,
    read_kafka_password,
    read_session_secret,
    settings_from_env,
)


def parse(raw: dict[str, Any]) -> Any:
    return parse_settings(json.dumps(raw), "console.json")


def test_a_full_configuration(tmp_path: Path) -> None:
    settings = parse(config_dict(tmp_path))

    assert settings.cluster_name == "prod-hz"
    assert settings.bootstrap_servers == ("10.0.0.11:9092", "10.0.0.12:9092", "10.0.0.13:9092")
    assert settings.voter_ids == (0, 1, 2)
    assert settings.nodes[1].host == "automq-2"
    assert settings.nodes[1].installed_version == "1.7.3"
    assert settings.nodes[1].is_broker
    assert settings.nodes[1].is_controller
    assert settings.oss.data_bucket == "automq-prod-data"
    assert settings.admin_password_hash_file == tmp_path / "admin.hash"
    assert settings.cookie_secure is False


def test_defaults(tmp_path: Path) -> None:
    raw = config_dict(tmp_path)
    for key in ("cookie_secure", "expected_voters"):
        del raw[key]

    settings = parse(raw)

    assert settings.cookie_secure is True  # secure unless the file says otherwise
    assert settings.voter_ids == (0, 1, 2)  # the controller nodes
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 8080)
    assert settings.session_idle_seconds == 8 * 3600
    assert settings.kafka_timeout_seconds == 5.0
    assert settings.forwarded_allow_ips == ()


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"secret": "x"}, "secret"),
        ({"access_key_secret": "x"}, "access_key_secret"),
        ({"oss_access_key_id": "LTAI"}, "oss_access_key_id"),
        ({"admin_password": "hunter2"}, "admin_password"),
        ({"sasl_jaas_config": "x"}, "sasl_jaas_config"),
        ({"api-token": "x"}, "api-token"),
        ({"oss": {"AccessKeySecret": "x"}}, "oss.AccessKeySecret"),
        ({"nodes": [{"credentials": {"a": 1}}]}, "nodes[0].credentials"),
    ],
)
def test_secret_looking_keys_are_refused(
    tmp_path: Path, change: dict[str, Any], where: str
) -> None:
    raw = config_dict(tmp_path)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value

    with pytest.raises(ConfigError) as caught:
        parse(raw)

    message = str(caught.value)
    assert "refusing keys that look like secrets" in message
    assert where in message
    assert "x" not in message.split(":", 1)[0]  # the value is never echoed


def test_path_keys_are_only_allowed_where_they_belong(tmp_path: Path) -> None:
    assert find_secret_keys(config_dict(tmp_path)) == []
    assert find_secret_keys(config_dict(tmp_path, **secure_kafka(tmp_path))) == []
    assert find_secret_keys({"oss": {"session_secret_file": "/x"}}) == ["oss.session_secret_file"]
    assert find_secret_keys({"password_file": "/x"}) == ["password_file"]
    assert find_secret_keys({"kafka_security": {"password": "x"}}) == ["kafka_security.password"]


def test_a_secure_cluster_configuration(tmp_path: Path) -> None:
    settings = parse(config_dict(tmp_path, **secure_kafka(tmp_path)))
    security = settings.kafka_security
    assert security.is_secure
    assert (security.protocol, security.mechanism, security.username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "automq-console",
    )
    assert security.password_file == tmp_path / "kafka.password"
    assert settings.controller_quorum_bootstrap_servers == ()
    assert read_kafka_password(tmp_path / "kafka.password") == KAFKA_PASSWORD


def test_plaintext_is_the_default(tmp_path: Path) -> None:
    settings = parse(config_dict(tmp_path))
    assert settings.kafka_security.protocol == "PLAINTEXT"
    assert not settings.kafka_security.is_secure
    assert not settings.serves_https
    assert settings.prometheus_port is None


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        (
            {"protocol": "SASL_SSL", "username": "u"},
            "protocol SASL_SSL needs ca_file, password_file",
        ),
        ({"protocol": "PLAINTEXT", "username": "u"}, "protocol PLAINTEXT takes no username"),
        ({"protocol": "SSL"}, "kafka_security.protocol: Input should be 'PLAINTEXT' or 'SASL_SSL'"),
        ({"mechanism": "PLAIN"}, "kafka_security.mechanism: Input should be"),
        (
            {"protocol": "SASL_SSL", "ca_file": "ca.crt", "username": "u", "password_file": "/p"},
            "kafka_security.ca_file: Value error, must be an absolute path",
        ),
        ({"password": "x"}, "refusing keys that look like secrets: kafka_security.password"),
    ],
)
def test_invalid_kafka_security(tmp_path: Path, security: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(config_dict(tmp_path, kafka_security=security))
    assert expected in str(caught.value)
    assert "x" not in str(caught.value).split(":", 1)[0]  # never the value


def test_secure_clusters_read_the_quorum_through_the_brokers(tmp_path: Path) -> None:
    raw = config_dict(tmp_path, **secure_kafka(tmp_path))
    raw["controller_quorum_bootstrap_servers"] = ["10.0.0.11:9093"]
    with pytest.raises(ConfigError, match="controller_quorum_bootstrap_servers must be empty"):
        parse(raw)


def test_tls_files_go_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tls_cert_file and tls_key_file go together"):
        parse(config_dict(tmp_path, tls_cert_file="/etc/automq-console/tls/console.crt"))
    settings = parse(config_dict(tmp_path, tls_cert_file="/c.pem", tls_key_file="/k.pem"))
    assert settings.serves_https


def test_kafka_password_file(tmp_path: Path) -> None:
    path = tmp_path / "kafka.password"
    path.write_text("one-line\n")
    path.chmod(0o640)
    assert read_kafka_password(path) == "one-line"
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_kafka_password(path)
    path.chmod(0o600)
    for bad in ("", "\n", "two\nlines\n", "x" * 1025):
        path.write_text(bad)
        with pytest.raises(ConfigError, match="Kafka password file") as caught:
            read_kafka_password(path)
        assert "two" not in str(caught.value)  # the content is never echoed
    with pytest.raises(ConfigError, match="cannot read"):
        read_kafka_password(tmp_path / "missing")


def test_check_config_reads_the_kafka_password_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_secret_files(tmp_path)
    path = tmp_path / "console.json"
    path.write_text(json.dumps(config_dict(tmp_path, **secure_kafka(tmp_path))))
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    assert console_main.main(["--check-config"]) == 0
    capsys.readouterr()

    (tmp_path / "kafka-ca.crt").write_text("no certificate\n")
    assert console_main.main(["--check-config"]) == 2
    assert "kafka_security.ca_file: cannot use the CA file" in capsys.readouterr().err

    (tmp_path / "kafka.password").unlink()
    assert console_main.main(["--check-config"]) == 2
    assert "cannot read the Kafka password file" in capsys.readouterr().err


@given(
    prefix=st.text("abc_", max_size=5),
    marker=st.sampled_from(["secret", "Password", "TOKEN", "accessKey", "private_key"]),
    suffix=st.text("xyz_", max_size=5),
    depth=st.integers(0, 3),
)
def test_secret_keys_are_found_at_any_depth(prefix: str, marker: str, suffix: str, depth: int):
    key = f"{prefix}{marker}{suffix}"
    raw: Any = {key: "value"}
    for _ in range(depth):
        raw = {"outer": [raw]}
    assert len(find_secret_keys(raw)) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"listen_port": "8080"}, "listen_port: Input should be a valid integer"),
        ({"cookie_secure": "false"}, "cookie_secure: Input should be a valid boolean"),
        ({"bootstrap_servers": ["10.0.0.11"]}, "bad address '10.0.0.11'"),
        ({"bootstrap_servers": []}, "bootstrap_servers: Tuple should have at least 1 item"),
        ({"expected_voters": [0, 1]}, "differ from the node IDs"),
        ({"admin_user": "ad min"}, "admin_user: String should match pattern"),
        ({"session_secret_file": "relative/key"}, "must be an absolute path"),
    ],
)
def test_invalid_settings(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError, match="invalid settings") as caught:
        parse({**config_dict(tmp_path), **change})
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    "endpoint",
    [
        "oss-cn-hangzhou.aliyuncs.com",
        "ftp://oss.example.com",
        "https://ak:sk@oss.example.com",
        "https://oss.example.com/?AccessKeyId=x",
        "https://oss.example.com/#frag",
    ],
)
def test_endpoint_must_be_a_plain_url(tmp_path: Path, endpoint: str) -> None:
    raw = config_dict(tmp_path)
    raw["oss"]["endpoint"] = endpoint
    with pytest.raises(ConfigError, match=r"oss\.endpoint"):
        parse(raw)


@pytest.mark.parametrize("bucket", ["A-Bucket", "ab", "bucket_", "-bucket"])
def test_bucket_names_follow_oss_rules(tmp_path: Path, bucket: str) -> None:
    raw = config_dict(tmp_path)
    raw["oss"]["data_bucket"] = bucket
    with pytest.raises(ConfigError, match=r"oss\.data_bucket"):
        parse(raw)


def test_node_list_checks(tmp_path: Path) -> None:
    raw = config_dict(tmp_path)
    raw["nodes"][2]["node_id"] = 1
    with pytest.raises(ConfigError, match=r"node_id repeated: \[1\]"):
        parse(raw)

    raw = config_dict(tmp_path)
    raw["nodes"][0]["roles"] = ["broker", "broker"]
    with pytest.raises(ConfigError, match="roles must not repeat"):
        parse(raw)

    raw = config_dict(tmp_path, expected_voters=[])
    for node in raw["nodes"]:
        node["roles"] = ["broker"]
    with pytest.raises(ConfigError, match="no node has the controller role"):
        parse(raw)


def test_not_json_or_not_an_object() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_settings("{", "f.json")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        parse_settings("[]", "f.json")


def test_loading_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "console.json"
    path.write_text(json.dumps(config_dict(tmp_path)))

    assert settings_from_env({CONFIG_ENV_VAR: str(path)}).cluster_name == "prod-hz"
    with pytest.raises(ConfigError, match=f"{CONFIG_ENV_VAR} is not set"):
        settings_from_env({})
    with pytest.raises(ConfigError, match="cannot read the console configuration"):
        load_settings(tmp_path / "missing.json")


def test_session_secret_file(tmp_path: Path) -> None:
    write_secret_files(tmp_path)
    key = tmp_path / "session.key"
    assert read_session_secret(key) == b"ab" * 32

    key.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        read_session_secret(key)
    key.chmod(0o602)
    with pytest.raises(ConfigError, match="world-writable"):
        read_session_secret(key)
    key.chmod(0o600)
    key.write_text("short")
    with pytest.raises(ConfigError, match="at least 32 random bytes"):
        read_session_secret(key)
    with pytest.raises(ConfigError, match="cannot read"):
        read_session_secret(tmp_path / "missing.key")


def test_check_config_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_secret_files(tmp_path)
    path = tmp_path / "console.json"
    path.write_text(json.dumps(config_dict(tmp_path)))
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))

    assert console_main.main(["--check-config"]) == 0
    assert capsys.readouterr().out == "configuration OK\n"

    (tmp_path / "admin.hash").write_text("md5$abc\n")
    assert console_main.main(["--check-config"]) == 2
    assert "expected scrypt$N$r$p$salt$key" in capsys.readouterr().err


def test_main_serves_with_uvicorn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_secret_files(tmp_path)
    path = tmp_path / "console.json"
    raw = config_dict(tmp_path, listen_host="0.0.0.0", listen_port=8080)
    raw["forwarded_allow_ips"] = ["10.0.0.5"]
    path.write_text(json.dumps(raw))
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    calls: list[dict[str, Any]] = []
    import uvicorn

    from automq_console import data as console_data

    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    # No real client: it would start connecting to the configured addresses.
    sources: list[Any] = []
    monkeypatch.setattr(
        console_data.KafkaDataSource,
        "from_settings",
        classmethod(lambda cls, settings: sources.append(settings) or object()),
    )

    assert console_main.main([]) == 0
    assert [settings.bootstrap_servers for settings in sources] == [
        ("10.0.0.11:9092", "10.0.0.12:9092", "10.0.0.13:9092")
    ]

    (kwargs,) = calls
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 8080, 1)
    assert kwargs["proxy_headers"] is True
    assert kwargs["forwarded_allow_ips"] == ["10.0.0.5"]
    assert kwargs["ssl_context_factory"] is None  # no TLS files: plain HTTP
