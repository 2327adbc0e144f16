"""Fixtures for the emulator tests: an emulator per test and official SDK clients.

Every successful RPC answer the emulator gives during a test is checked
against the SDK's own response model (``check_answers_parse``), so a field the
SDK does not know (a typo, a wrong nesting) fails the test.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")

from tests.alicloud_emulator import Emulator  # noqa: E402
from tests.alicloud_emulator.sdk import Clients, check_answers_parse, make_clients  # noqa: E402


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(containers=False, instant_boot_seconds=0.2) as emu:
        yield emu
        check_answers_parse(emu)


@pytest.fixture
def clients(emulator: Emulator) -> Clients:
    return make_clients(emulator)


@pytest.fixture
def clients_for(emulator: Emulator) -> Callable[..., Clients]:
    """Clients signing with another key: ``clients_for(key_id, secret)``."""
    return lambda key_id, secret: make_clients(emulator, key_id, secret)
