"""Fixtures of the console tests; the fakes themselves are in console_fakes.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from console_fakes import FakeAdmin, FakeClock, FakeQuorum, config_dict, write_secret_files
from fastapi.testclient import TestClient

from automq_console.app import create_app
from automq_console.config import Settings, parse_settings
from automq_console.data import KafkaDataSource


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def admin() -> FakeAdmin:
    return FakeAdmin()


@pytest.fixture
def quorum() -> FakeQuorum:
    return FakeQuorum()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    write_secret_files(tmp_path)

    def make(**overrides: Any) -> Settings:
        return parse_settings(json.dumps(config_dict(tmp_path, **overrides)))

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def source(
    settings: Settings, admin: FakeAdmin, quorum: FakeQuorum, clock: FakeClock
) -> KafkaDataSource:
    return KafkaDataSource(settings, admin, quorum, clock)


@pytest.fixture
def client(settings: Settings, source: KafkaDataSource, clock: FakeClock) -> TestClient:
    return TestClient(create_app(settings, source, clock), follow_redirects=False)
