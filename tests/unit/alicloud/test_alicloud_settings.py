"""Tests for automq_helpers.alicloud.settings: endpoint, region and credential resolution."""

from __future__ import annotations

import pytest

from automq_helpers.alicloud.settings import (
    Endpoint,
    SettingsError,
    StaticCredentials,
    connection_settings,
    parse_endpoint,
    resolve_endpoint,
)


@pytest.mark.parametrize(
    ("value", "protocol", "expected"),
    [
        ("127.0.0.1:18080", "http", Endpoint("127.0.0.1:18080", "http")),
        ("http://127.0.0.1:18080", None, Endpoint("127.0.0.1:18080", "http")),
        ("http://127.0.0.1:18080/", "http", Endpoint("127.0.0.1:18080", "http")),
        ("ecs.cn-hangzhou.aliyuncs.com", None, Endpoint("ecs.cn-hangzhou.aliyuncs.com")),
        ("HTTPS://vpc.aliyuncs.com", None, Endpoint("vpc.aliyuncs.com", "https")),
    ],
)
def test_parse_endpoint(value, protocol, expected):
    assert parse_endpoint(value, protocol) == expected


@pytest.mark.parametrize(
    ("value", "protocol", "message"),
    [
        ("ftp://host", None, "use http or https"),
        ("http://host/path", None, "no path"),
        ("", None, "expected host"),
        ("http://host", "https", "drop one of them"),
        ("host", "tcp", "protocol is 'tcp'"),
    ],
)
def test_parse_endpoint_refuses(value, protocol, message):
    with pytest.raises(SettingsError, match=message):
        parse_endpoint(value, protocol)


def test_option_beats_environment_beats_default():
    env = {"AUTOMQ_ALICLOUD_ECS_ENDPOINT": "http://127.0.0.1:1"}
    assert resolve_endpoint("ecs", "127.0.0.1:2", "http", env) == Endpoint("127.0.0.1:2", "http")
    assert resolve_endpoint("ecs", None, None, env) == Endpoint("127.0.0.1:1", "http")
    assert resolve_endpoint("vpc", None, None, env) == Endpoint(None, "https")
    assert resolve_endpoint("vpc", None, "http", {}) == Endpoint(None, "http")
    assert Endpoint(None).url is None
    assert Endpoint("h:1", "http").url == "http://h:1"


def test_unknown_service():
    with pytest.raises(SettingsError, match="unknown service"):
        resolve_endpoint("rds", None, None, {})


def test_connection_settings_from_options_and_environment():
    env = {
        "ALIBABA_CLOUD_REGION_ID": "cn-hangzhou",
        "AUTOMQ_ALICLOUD_STS_ENDPOINT": "http://127.0.0.1:9",
    }
    params = {"endpoint": "127.0.0.1:18080", "protocol": "http", "region": None}
    settings = connection_settings(params, env, "oss", ["sts", "ecs"])
    assert settings.region == "cn-hangzhou"
    assert settings.credentials is None
    assert settings.endpoint("oss") == Endpoint("127.0.0.1:18080", "http")
    assert settings.endpoint("sts") == Endpoint("127.0.0.1:9", "http")
    assert settings.endpoint("ecs") == Endpoint(None, "https")
    assert settings.endpoint("ram") == Endpoint(None, "https")


def test_static_credentials_and_their_repr_hides_the_secret():
    params = {
        "region": "cn-beijing",
        "access_key_id": "LTAIexample",
        "access_key_secret": "s3cr3t",
        "security_token": "tok",
    }
    settings = connection_settings(params, {}, "ecs")
    assert settings.credentials == StaticCredentials("LTAIexample", "s3cr3t", "tok")
    assert "s3cr3t" not in repr(settings)
    assert "tok" not in repr(settings.credentials)


@pytest.mark.parametrize(
    ("params", "service", "message"),
    [
        ({}, "ecs", "no region"),
        ({"region": "r", "access_key_id": "id"}, "ecs", "go together"),
        ({"region": "r", "access_key_secret": "s"}, "ecs", "go together"),
        ({"region": "r", "security_token": "t"}, "ecs", "needs access_key_id"),
        ({"region": 5}, "ecs", "region must be a string"),
    ],
)
def test_connection_settings_refuses(params, service, message):
    with pytest.raises(SettingsError, match=message):
        connection_settings(params, {}, service)


def test_global_services_need_no_region():
    assert connection_settings({}, {}, "ram").region is None
    assert connection_settings({}, {}, "sts").region is None
    assert connection_settings({}, {}, "pvtz").region is None
