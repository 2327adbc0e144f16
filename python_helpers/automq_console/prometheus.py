"""The console's client of Prometheus's HTTP API (range queries only).

Prometheus runs on the console host behind HTTPS and basic authentication
(role automq_console, ``--web.config.file``). The console logs in as its own
user, whose password is in a file only the console reads; it trusts exactly the
certificate Prometheus serves, read from Prometheus's certificate file on the
same host at every request (a renewed certificate needs no console restart), so
no CA or host name has to match the local address it connects to.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .charts import QueryError, parse_matrix
from .config import ConfigError, PrometheusSettings, read_secret_line

MAX_ANSWER_BYTES = 8 * 1024 * 1024


def pinned_context(cert_file: Path) -> ssl.SSLContext:
    """TLS 1.2+ trusting only the certificate(s) in ``cert_file`` (no public CAs).

    Partial chains are accepted, so the server's own (leaf) certificate is a trust
    anchor; the name is not checked because the anchor is that very certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        context.load_verify_locations(cafile=str(cert_file))
    except (OSError, ssl.SSLError) as exc:
        raise QueryError(f"cannot read Prometheus's certificate {cert_file}: {exc}") from exc
    return context


class PrometheusClient:
    """``query_range`` against one Prometheus, as :class:`.charts.RangeQuerier` wants."""

    def __init__(self, settings: PrometheusSettings, timeout_seconds: float) -> None:
        self.settings = settings
        self.timeout_seconds = timeout_seconds

    def _authorization(self) -> str:
        try:
            password = read_secret_line(self.settings.password_file, "Prometheus password file")
        except ConfigError as exc:
            raise QueryError(str(exc)) from exc
        token = f"{self.settings.username}:{password}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        query = urllib.parse.urlencode(
            {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
        )
        request = urllib.request.Request(
            f"{self.settings.url.rstrip('/')}/api/v1/query_range?{query}",
            headers={"Authorization": self._authorization(), "Accept": "application/json"},
        )
        # Straight to Prometheus on this host: no proxy from the environment.
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=pinned_context(self.settings.cert_file)),
        )
        try:
            with opener.open(request, timeout=self.timeout_seconds) as answer:
                body = answer.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise QueryError(
                    "Prometheus refused the console's credentials (HTTP 401): re-run site.yml "
                    "to install its password again"
                ) from exc
            detail = exc.read(2000).decode("utf-8", "replace")
            raise QueryError(f"Prometheus answered HTTP {exc.code}: {detail}"[:300]) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise QueryError(f"Prometheus at {self.settings.url} is unreachable: {reason}") from exc
        if len(body) > MAX_ANSWER_BYTES:
            raise QueryError("Prometheus's answer is larger than the console accepts")
        try:
            return parse_matrix(json.loads(body))
        except ValueError as exc:
            raise QueryError(str(exc)) from exc
