"""Retry throttled and temporarily failing API calls with exponential backoff and jitter.

The Tea SDKs do not retry unless told to, and oss-v2's own retryer is switched off by
:mod:`.clients`, so this is the one retry loop of every module: bounded attempts, a delay
that doubles from ``base_delay`` up to ``max_delay`` with "equal jitter" (a random point in
the upper half of the window, so retries of parallel tasks spread out but never hammer),
and the server's ``x-acs-retry-after`` honoured when it asks for longer. The clock and the
random source are parameters, so the tests run in no time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .errors import ApiError, api_error_from

__all__ = [
    "BUSY_CODES",
    "RETRYABLE_CODES",
    "CallFailed",
    "RetryPolicy",
    "is_retryable",
    "policy_from_env",
    "retry_call",
]

T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "ServiceUnavailable",
        "ServiceUnavailableTemporary",
        "SlowDown",
        "RequestLimitExceeded",
        "QpsLimitExceeded",
    }
)
"""Codes retried on every call, besides every code starting with ``Throttling``."""

BUSY_CODES = frozenset(
    {
        "OperationConflict",
        "LastTokenProcessing",
        "TaskConflict",
        "IncorrectVpcStatus",
        "IncorrectVSwitchStatus",
        "IncorrectStatus.Vpc",
        "IncorrectStatus.VSwitch",
        "OperationFailed.LastTokenProcessing",
        "Zone.Locked",
    }
)
"""Another operation on the same resource is still running; safe to retry for writes that
did not happen (the API refused them)."""


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` calls at most; the n-th retry waits up to ``base * 2**(n-1)``."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("need 0 <= base_delay <= max_delay")

    def ceiling(self, retry: int) -> float:
        """Longest wait before retry number ``retry`` (1-based)."""
        growth: float = 2.0 ** max(retry - 1, 0)
        return min(self.max_delay, self.base_delay * growth)

    def delay(self, retry: int, jitter: float, retry_after: float | None = None) -> float:
        """Wait before retry ``retry``: in ``[ceiling/2, ceiling]``, or what the server asks."""
        ceiling = self.ceiling(retry)
        wait = ceiling / 2 + ceiling / 2 * min(max(jitter, 0.0), 1.0)
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, self.max_delay)
        return wait


MAX_ATTEMPTS_ENV = "AUTOMQ_ALICLOUD_MAX_ATTEMPTS"
BASE_DELAY_ENV = "AUTOMQ_ALICLOUD_RETRY_BASE_DELAY"


def policy_from_env(environ: Mapping[str, str]) -> RetryPolicy:
    """The default policy, tuned by ``AUTOMQ_ALICLOUD_MAX_ATTEMPTS`` (1-20) and
    ``AUTOMQ_ALICLOUD_RETRY_BASE_DELAY`` (seconds, 0-20)."""
    default = RetryPolicy()
    attempts_text = environ.get(MAX_ATTEMPTS_ENV, "").strip()
    delay_text = environ.get(BASE_DELAY_ENV, "").strip()
    try:
        attempts = int(attempts_text) if attempts_text else default.max_attempts
        delay = float(delay_text) if delay_text else default.base_delay
    except ValueError as exc:
        raise ValueError(
            f"{MAX_ATTEMPTS_ENV} must be an integer and {BASE_DELAY_ENV} a number of seconds"
        ) from exc
    if not 1 <= attempts <= 20:
        raise ValueError(f"{MAX_ATTEMPTS_ENV} is {attempts}: use 1 to 20")
    if not 0 <= delay <= default.max_delay:
        raise ValueError(f"{BASE_DELAY_ENV} is {delay}: use 0 to {default.max_delay:g} seconds")
    return RetryPolicy(max_attempts=attempts, base_delay=delay, max_delay=default.max_delay)


class CallFailed(Exception):
    """The call failed for good: ``error`` is what the last attempt said."""

    def __init__(self, error: ApiError, attempts: int) -> None:
        super().__init__(f"{error.code or error.kind}: {error.message}")
        self.error = error
        self.attempts = attempts


def is_retryable(error: ApiError, extra_codes: Iterable[str] = ()) -> bool:
    """Throttling, temporary unavailability, and the caller's extra codes are retried."""
    if error.kind != "service":
        return False
    code = error.code
    if code.startswith("Throttling") or code in RETRYABLE_CODES or code in extra_codes:
        return True
    return error.status in (429, 503) and not code.startswith(("Invalid", "Forbidden"))


def retry_call(
    call: Callable[[], T],
    *,
    policy: RetryPolicy | None = None,
    extra_codes: Iterable[str] = (),
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
    on_retry: Callable[[int, float, ApiError], None] | None = None,
) -> T:
    """Run ``call`` until it succeeds, a non-retryable error occurs or attempts run out.

    Raises :class:`CallFailed` (chained to the SDK exception) with the last error.
    """
    policy = policy or RetryPolicy()
    extra = frozenset(extra_codes)
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:
            error = api_error_from(exc)
            if attempt >= policy.max_attempts or not is_retryable(error, extra):
                raise CallFailed(error, attempt) from exc
            wait = policy.delay(attempt, jitter(), error.retry_after)
            if on_retry is not None:
                on_retry(attempt, wait, error)
            sleep(wait)
