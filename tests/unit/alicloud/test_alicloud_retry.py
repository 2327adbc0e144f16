"""Tests for automq_helpers.alicloud.retry, on a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers.alicloud.errors import ApiError
from automq_helpers.alicloud.retry import (
    BASE_DELAY_ENV,
    MAX_ATTEMPTS_ENV,
    CallFailed,
    RetryPolicy,
    is_retryable,
    policy_from_env,
    retry_call,
)


class ApiException(Exception):
    def __init__(self, code, status=400, retry_after=None):
        super().__init__(code)
        self.code = code
        self.message = code
        self.status_code = status
        if retry_after is not None:
            self.retry_after = retry_after


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(*codes, result="ok"):
    """A call failing with each code in turn, then returning result."""
    remaining = list(codes)
    calls = []

    def call():
        calls.append(1)
        if remaining:
            raise ApiException(remaining.pop(0))
        return result

    return call, calls


def test_success_needs_no_sleep():
    clock = FakeClock()
    call, calls = failing()
    assert retry_call(call, sleep=clock.sleep) == "ok"
    assert (len(calls), clock.sleeps) == (1, [])


def test_throttling_is_retried_with_growing_delays():
    clock = FakeClock()
    call, calls = failing("Throttling.User", "Throttling", "ServiceUnavailable")
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=20.0)
    assert retry_call(call, policy=policy, sleep=clock.sleep, jitter=lambda: 1.0) == "ok"
    assert len(calls) == 4
    assert clock.sleeps == [1.0, 2.0, 4.0]


def test_jitter_stays_in_the_upper_half_of_the_window():
    clock = FakeClock()
    call, _ = failing("Throttling", "Throttling", "Throttling")
    retry_call(call, sleep=clock.sleep, jitter=lambda: 0.0)
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_attempts_are_bounded_and_the_last_error_is_reported():
    clock = FakeClock()
    call, calls = failing(*["Throttling.Api"] * 10)
    with pytest.raises(CallFailed) as info:
        retry_call(call, policy=RetryPolicy(max_attempts=4), sleep=clock.sleep)
    assert len(calls) == 4
    assert len(clock.sleeps) == 3
    assert info.value.attempts == 4
    assert info.value.error.code == "Throttling.Api"
    assert isinstance(info.value.__cause__, ApiException)


def test_other_errors_fail_at_once():
    clock = FakeClock()
    call, calls = failing("InvalidVpcId.NotFound")
    with pytest.raises(CallFailed) as info:
        retry_call(call, sleep=clock.sleep)
    assert (len(calls), clock.sleeps, info.value.attempts) == (1, [], 1)


def test_extra_codes_are_retried_for_this_call_only():
    clock = FakeClock()
    call, calls = failing("IncorrectVSwitchStatus")
    retry_call(call, sleep=clock.sleep, extra_codes=["IncorrectVSwitchStatus"])
    assert len(calls) == 2
    call, calls = failing("IncorrectVSwitchStatus")
    with pytest.raises(CallFailed):
        retry_call(call, sleep=clock.sleep)


def test_server_retry_after_is_honoured_but_capped():
    clock = FakeClock()
    state = {"n": 0}

    def call():
        state["n"] += 1
        if state["n"] == 1:
            raise ApiException("Throttling.User", retry_after=7000)
        if state["n"] == 2:
            raise ApiException("Throttling.User", retry_after=600_000)
        return "ok"

    retry_call(call, sleep=clock.sleep, jitter=lambda: 0.0, policy=RetryPolicy(max_delay=20))
    assert clock.sleeps == [7.0, 20.0]


def test_on_retry_sees_each_wait():
    seen = []
    call, _ = failing("Throttling")
    retry_call(
        call, sleep=lambda s: None, jitter=lambda: 1.0, on_retry=lambda *a: seen.append(a[:2])
    )
    assert seen == [(1, 1.0)]


def test_classification():
    assert is_retryable(ApiError("Throttling.Resource", "x"))
    assert is_retryable(ApiError("SlowDown", "x", status=503))
    assert is_retryable(ApiError("", "x", status=503))
    assert not is_retryable(ApiError("InvalidParameter", "x", status=400))
    assert not is_retryable(ApiError("", "refused", kind="network"))
    assert not is_retryable(ApiError("", "none", kind="credentials"))


def test_policy_validation():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=5, max_delay=1)


@settings(max_examples=200, deadline=None)
@given(
    failures=st.integers(min_value=0, max_value=12),
    max_attempts=st.integers(min_value=1, max_value=8),
    base=st.floats(min_value=0.01, max_value=3),
    cap=st.floats(min_value=3, max_value=30),
    jitters=st.lists(st.floats(min_value=0, max_value=1), min_size=12, max_size=12),
)
def test_total_wait_is_bounded(failures, max_attempts, base, cap, jitters):
    clock = FakeClock()
    call, calls = failing(*["Throttling"] * failures)
    policy = RetryPolicy(max_attempts=max_attempts, base_delay=base, max_delay=cap)
    source = iter(jitters)
    try:
        retry_call(call, policy=policy, sleep=clock.sleep, jitter=lambda: next(source))
        succeeded = True
    except CallFailed:
        succeeded = False
    assert succeeded == (failures < max_attempts)
    assert len(calls) == min(failures + 1, max_attempts)
    assert len(clock.sleeps) == len(calls) - 1
    for retry, wait in enumerate(clock.sleeps, start=1):
        ceiling = policy.ceiling(retry)
        assert ceiling / 2 <= wait <= ceiling <= cap
    assert clock.now <= sum(policy.ceiling(r) for r in range(1, max_attempts))


def test_policy_from_env():
    assert policy_from_env({}) == RetryPolicy()
    tuned = policy_from_env({MAX_ATTEMPTS_ENV: "3", BASE_DELAY_ENV: "0.01"})
    assert (tuned.max_attempts, tuned.base_delay) == (3, 0.01)
    for env, message in [
        ({MAX_ATTEMPTS_ENV: "0"}, "use 1 to 20"),
        ({MAX_ATTEMPTS_ENV: "x"}, "must be an integer"),
        ({BASE_DELAY_ENV: "-1"}, "use 0 to 20"),
    ]:
        with pytest.raises(ValueError, match=message):
            policy_from_env(env)
