"""``python -m automq_console``: serve the console with uvicorn (one process).

The configuration comes from the JSON file named by ``AUTOMQ_CONSOLE_CONFIG``.
``--check-config`` validates it (and the password hash, session secret, Kafka
password and TLS files it names) and exits: 0 when usable, 2 otherwise, with the
reason on stderr.  With ``tls_cert_file`` the console serves HTTPS only.

One worker only: sessions and the login lock-out are kept in this process.
"""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .config import (
    ConfigError,
    check_kafka_ca_file,
    read_kafka_password,
    read_session_secret,
    settings_from_env,
)
from .passwords import PasswordHashError, read_hash_file
from .tls import server_context


def _context_factory(context: ssl.SSLContext) -> Callable[[Any, Any], ssl.SSLContext]:
    """uvicorn's hook for the server's TLS context: ours (uvicorn's own sets no minimum version)."""

    def factory(config: Any, default: Any) -> ssl.SSLContext:
        return context

    return factory


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m automq_console",
        description="AutoMQ operations console; configuration from $AUTOMQ_CONSOLE_CONFIG.",
    )
    parser.add_argument(
        "--check-config", action="store_true", help="validate the configuration and exit"
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    try:
        settings = settings_from_env()
        read_session_secret(settings.session_secret_file)
        read_hash_file(settings.admin_password_hash_file)
        if settings.kafka_security.password_file is not None:
            read_kafka_password(settings.kafka_security.password_file)
        if settings.kafka_security.ca_file is not None:
            check_kafka_ca_file(settings.kafka_security.ca_file)
        context: ssl.SSLContext | None = None
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            context = server_context(settings.tls_cert_file, settings.tls_key_file)
    except (ConfigError, PasswordHashError) as exc:
        sys.stderr.write(f"automq-console: {exc}\n")
        return 2
    if args.check_config:
        sys.stdout.write("configuration OK\n")
        return 0

    # Imported here so that --check-config needs neither the web stack nor the client.
    import uvicorn

    from .app import create_app
    from .data import KafkaDataSource
    from .prometheus import PrometheusClient

    metrics = None
    if settings.prometheus is not None:
        metrics = PrometheusClient(settings.prometheus, settings.kafka_timeout_seconds)
    app = create_app(settings, KafkaDataSource.from_settings(settings), metrics_source=metrics)
    uvicorn.run(
        app,
        host=settings.listen_host,
        port=settings.listen_port,
        workers=1,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips) or None,
        server_header=False,
        log_level=args.log_level,
        ssl_context_factory=None if context is None else _context_factory(context),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
