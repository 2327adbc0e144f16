"""With AUTOMQ_EXPECT_ANSIBLE_CORE set (`make unit-oldest` sets 2.16), the tests stop at
once unless that ansible-core line runs them: the oldest supported version is proven, never
silently replaced by the pinned one."""

from __future__ import annotations

import os

import pytest
from ansible.release import __version__ as ansible_core


def pytest_sessionstart(session: pytest.Session) -> None:
    expected = os.environ.get("AUTOMQ_EXPECT_ANSIBLE_CORE", "")
    if expected and not ansible_core.startswith(expected + "."):
        raise pytest.UsageError(f"ansible-core {ansible_core} runs these tests, not {expected}")
