"""Sessions, CSRF tokens and the login lock-out.

All three keep their state **in memory, in the one console process**: run a
single uvicorn worker (``python -m automq_console`` does).  A restart logs every
user out and forgets failed logins; that is the price of having no database.

* Sessions are server-side records keyed by a random 256-bit ID.  The cookie
  carries ``ID.SIGNATURE`` (HMAC-SHA256 with the session secret), so a forged or
  guessed cookie is refused before any lookup.  A session ends after
  ``idle_seconds`` without a request, after ``lifetime_seconds`` in any case,
  and at logout.
* CSRF: each session has its own random token, put in a hidden field of every
  form and checked on every POST.  The login form, before any session exists,
  uses a token bound to a short-lived random nonce cookie (an HMAC of it).
* Lock-out: 5 failed logins within 15 minutes from one client address, or for
  one user name, lock that address or user name out for 15 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _mac(secret: bytes, purpose: str, value: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest())


# --------------------------------------------------------------------------- sessions


@dataclass
class Session:
    session_id: str
    user: str
    csrf_token: str
    created: float
    last_seen: float


class SessionStore:
    def __init__(
        self,
        secret: bytes,
        clock: Clock,
        idle_seconds: float = 8 * 3600,
        lifetime_seconds: float = 24 * 3600,
        max_sessions: int = 1000,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self.idle_seconds = idle_seconds
        self.lifetime_seconds = lifetime_seconds
        self._max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def _cookie_for(self, session_id: str) -> str:
        return f"{session_id}.{_mac(self._secret, 'session', session_id)}"

    def _session_id(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 200:
            return None
        session_id, _separator, signature = cookie.partition(".")
        expected = _mac(self._secret, "session", session_id)
        if not session_id or not hmac.compare_digest(signature.encode(), expected.encode()):
            return None
        return session_id

    def _expired(self, session: Session, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_seconds
            or now - session.created > self.lifetime_seconds
        )

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]
        while len(self._sessions) >= self._max_sessions:
            self._sessions.popitem(last=False)  # least recently used

    def create(self, user: str) -> tuple[str, Session]:
        """A new session (never a reused ID: no fixation); returns (cookie value, session)."""
        now = self._clock()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            user=user,
            csrf_token=secrets.token_urlsafe(32),
            created=now,
            last_seen=now,
        )
        with self._lock:
            self._prune(now)
            self._sessions[session.session_id] = session
        return self._cookie_for(session.session_id), session

    def get(self, cookie: str | None) -> Session | None:
        """The live session for a cookie value (and mark it used), or None."""
        session_id = self._session_id(cookie)
        if session_id is None:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[session_id]
                return None
            session.last_seen = now
            self._sessions.move_to_end(session_id)
            return session

    def delete(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.session_id, None)


# --------------------------------------------------------------------------- login CSRF


class LoginCsrf:
    """CSRF tokens for the login form, bound to a nonce cookie (before any session)."""

    def __init__(self, secret: bytes, clock: Clock, max_age_seconds: float = 3600) -> None:
        self._secret = secret
        self._clock = clock
        self.max_age_seconds = max_age_seconds

    def new_nonce(self) -> str:
        return f"{int(self._clock())}.{secrets.token_urlsafe(24)}"

    def token_for(self, nonce: str) -> str:
        return _mac(self._secret, "login-csrf", nonce)

    def check(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token or len(nonce) > 100:
            return False
        issued, _separator, _rest = nonce.partition(".")
        if not issued.isascii() or not issued.isdigit():
            return False
        age = self._clock() - int(issued)
        if age < -60 or age > self.max_age_seconds:
            return False
        return hmac.compare_digest(token.encode(), self.token_for(nonce).encode())


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a session's CSRF token with the submitted one."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


# --------------------------------------------------------------------------- lock-out


class LoginThrottle:
    """Failed-login counting per client address and per user name, in memory."""

    def __init__(
        self,
        clock: Clock,
        max_failures: int = 5,
        window_seconds: float = 15 * 60,
        lockout_seconds: float = 15 * 60,
        max_keys: int = 10_000,
    ) -> None:
        self._clock = clock
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.lockout_seconds = lockout_seconds
        self._max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._locked_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(address: str, user: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("address", address), ("user", user.casefold())

    def locked_for(self, address: str, user: str) -> float:
        """Seconds until a login for ``user`` from ``address`` is allowed again (0: now)."""
        now = self._clock()
        remaining = 0.0
        with self._lock:
            for key in self._keys(address, user):
                until = self._locked_until.get(key)
                if until is None:
                    continue
                if until <= now:
                    del self._locked_until[key]
                else:
                    remaining = max(remaining, until - now)
        return remaining

    def record_failure(self, address: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            self._prune(now)
            for key in self._keys(address, user):
                recent = [t for t in self._failures.pop(key, []) if now - t < self.window_seconds]
                recent.append(now)
                if len(recent) >= self.max_failures:
                    self._locked_until[key] = now + self.lockout_seconds
                else:
                    self._failures[key] = recent

    def record_success(self, address: str, user: str) -> None:
        with self._lock:
            for key in self._keys(address, user):
                self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        """Bound memory: drop stale counters and expired locks, then the oldest counters."""
        stale = [k for k, times in self._failures.items() if now - times[-1] >= self.window_seconds]
        for key in stale:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until <= now]:
            del self._locked_until[key]
        while self._failures and len(self._failures) > self._max_keys - 2:  # 2 keys per failure
            self._failures.popitem(last=False)
