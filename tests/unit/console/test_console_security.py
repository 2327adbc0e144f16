"""Sessions, login CSRF tokens and the lock-out, with a fake clock."""

from __future__ import annotations

from console_fakes import FakeClock

from automq_console.security import LoginCsrf, LoginThrottle, SessionStore, tokens_match

SECRET = b"k" * 32


def test_sessions_are_signed_and_expire_when_idle() -> None:
    clock = FakeClock()
    store = SessionStore(SECRET, clock, idle_seconds=60, lifetime_seconds=3600)
    cookie, session = store.create("admin")

    assert store.get(cookie) is session
    session_id, _, signature = cookie.partition(".")
    assert store.get(session_id) is None
    tampered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    assert store.get(f"{session_id}.{tampered}") is None
    assert store.get(SessionStore(b"o" * 32, clock).create("admin")[0]) is None
    assert store.get(None) is None

    clock.advance(59)
    assert store.get(cookie) is session  # and that use restarts the idle timer
    clock.advance(59)
    assert store.get(cookie) is session
    clock.advance(61)
    assert store.get(cookie) is None
    assert len(store) == 0


def test_sessions_have_a_lifetime() -> None:
    clock = FakeClock()
    store = SessionStore(SECRET, clock, idle_seconds=60, lifetime_seconds=300)
    cookie, _ = store.create("admin")
    for _ in range(5):
        clock.advance(50)
        assert store.get(cookie) is not None
    clock.advance(51)
    assert store.get(cookie) is None


def test_sessions_are_bounded_and_deleted() -> None:
    store = SessionStore(SECRET, FakeClock(), max_sessions=3)
    cookies = [store.create("admin")[0] for _ in range(5)]
    assert len(store) == 3
    assert store.get(cookies[0]) is None
    session = store.get(cookies[-1])
    assert session is not None
    store.delete(session)
    assert store.get(cookies[-1]) is None


def test_login_csrf_is_bound_to_its_nonce_and_expires() -> None:
    clock = FakeClock()
    csrf = LoginCsrf(SECRET, clock, max_age_seconds=3600)
    nonce = csrf.new_nonce()
    token = csrf.token_for(nonce)

    assert csrf.check(nonce, token)
    assert not csrf.check(csrf.new_nonce(), token)
    assert not csrf.check(nonce, None)
    assert not csrf.check(None, token)
    assert not csrf.check("x" + nonce, csrf.token_for("x" + nonce))  # not a timestamp
    assert not LoginCsrf(b"o" * 32, clock).check(nonce, token)
    clock.advance(3601)
    assert not csrf.check(nonce, token)


def test_tokens_match() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match("abc", None)


def test_lockout_after_five_failures_for_fifteen_minutes() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        throttle.record_failure("10.1.1.1", "admin")
        assert throttle.locked_for("10.1.1.1", "admin") == 0
    throttle.record_failure("10.1.1.1", "admin")
    assert throttle.locked_for("10.1.1.1", "admin") == 900
    # The user is locked from everywhere; the address for every user name.
    assert throttle.locked_for("10.9.9.9", "ADMIN") == 900
    assert throttle.locked_for("10.1.1.1", "someone") == 900
    assert throttle.locked_for("10.9.9.9", "someone") == 0

    clock.advance(899)
    assert throttle.locked_for("10.1.1.1", "admin") == 1
    clock.advance(1)
    assert throttle.locked_for("10.1.1.1", "admin") == 0


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for _ in range(4):
        throttle.record_failure("10.1.1.1", "admin")
        clock.advance(300)  # 4 failures over 20 minutes
    throttle.record_failure("10.1.1.1", "admin")
    assert throttle.locked_for("10.1.1.1", "admin") == 0


def test_success_resets_the_count() -> None:
    throttle = LoginThrottle(FakeClock())
    for _ in range(4):
        throttle.record_failure("10.1.1.1", "admin")
    throttle.record_success("10.1.1.1", "admin")
    throttle.record_failure("10.1.1.1", "admin")
    assert throttle.locked_for("10.1.1.1", "admin") == 0


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock, max_keys=100)
    for i in range(1000):
        throttle.record_failure(f"10.0.{i // 250}.{i % 250}", f"user{i}")
    assert len(throttle._failures) <= 100
    clock.advance(901)
    throttle.record_failure("10.1.1.1", "admin")
    assert len(throttle._failures) == 2
