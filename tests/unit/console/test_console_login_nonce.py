"""The login form keeps its CSRF nonce while a browser loads more (e.g. its favicon).

A browser that opens /login also asks for /favicon.ico; without a session
that request is redirected to /login. If every /login set a new nonce cookie,
the open form's token would no longer match and the first login would fail.
"""

from __future__ import annotations

from console_fakes import PASSWORD, FakeClock, csrf_token
from fastapi.testclient import TestClient


def test_a_second_login_page_keeps_the_form_valid(client: TestClient) -> None:
    form = client.get("/login")
    token = csrf_token(form.text)
    # The favicon request, redirected to the login page, while the form is open.
    assert client.get("/favicon.ico").headers["location"] == "/login"
    again = client.get("/login")
    assert again.headers.get_list("set-cookie") == []
    assert csrf_token(again.text) == token

    response = client.post(
        "/login", data={"csrf_token": token, "username": "admin", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_an_expired_nonce_is_replaced(client: TestClient, clock: FakeClock) -> None:
    client.get("/login")
    clock.advance(2 * 3600)
    response = client.get("/login")
    (cookie,) = response.headers.get_list("set-cookie")
    assert cookie.startswith("automq_console_login=")
