"""Load a renewed certificate into a running node without restarting it.

Kafka rebuilds a listener's TLS engine when its key store file changed and the node
applies a per-node config record (DynamicConfigPublisher calls
``reloadUpdatedFilesWithoutConfigChange``; DefaultSslEngineFactory compares the file's
modification time).  The controller writes such a record for any change of a node's
config, even a DELETE of a key that was never set (ConfigurationControlManager,
KAFKA-14136), so one IncrementalAlterConfigs request that deletes
``listener.name.<listener>.ssl.keystore.location`` reloads every listener and leaves no
dynamic config behind.  Kafka refuses a key store whose subject differs or that
drops a name (SslFactory's ``ensureCompatible``); the node keeps serving the old one and logs it.

Whether it worked is read from the wire: each TLS listener of the node must serve the
certificate of the file.  Only then is the restart record (written before the files
changed) replaced by a restart-due record: the clients a node builds at start without
registering for reloads (KRaft's network client, RaftManager.scala; AutoMQ's own
senders) keep presenting the previous certificate, so the node must restart, one at a
time as always, before that one expires.

Runs on the hosts: standard library only, Python 3.8 grammar.
"""

# The hosts may only have Python 3.8: keep typing.List & co. (UP006/UP035/UP045).
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import datetime
import hashlib
import os
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .kafka_admin import KafkaAdmin
from .kafka_probe import ProbeError, SecurityConfig, build_ssl_context, format_address
from .node_files import UTC_ZONE, read_restart_due, restart_due_text, utc_now, write_atomically

NOT_AFTER_FORMAT = "%Y%m%d%H%M%SZ"  # community.crypto's x509_certificate_info


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)


@dataclass(frozen=True)
class ReloadOutcome:
    """``reloaded``: every endpoint serves the file's certificate (now or already);
    ``requested``: the reload request was sent; ``served``: the sha256 of what each
    endpoint served last (or the error); ``reason``: why the node must restart instead."""

    reloaded: bool
    requested: bool
    served: Dict[str, str]
    reason: Optional[str] = None


def certificate_der(pem: bytes) -> bytes:
    """The first certificate of a PEM file (a key store holds the key too)."""
    text = pem.decode("ascii", "replace")
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        raise ValueError("no PEM certificate in the file")
    return ssl.PEM_cert_to_DER_cert(text[begin : end + len("-----END CERTIFICATE-----")])


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def served_certificate(endpoint: Endpoint, security: SecurityConfig, timeout: float) -> bytes:
    """The certificate the endpoint presents in a verified TLS handshake (DER)."""
    context = build_ssl_context(security)
    name = security.server_hostname or endpoint.host
    try:
        # One with per context: the hosts' Python 3.8 has no parenthesised form.
        with socket.create_connection((endpoint.host, endpoint.port), timeout) as raw:  # noqa: SIM117
            with context.wrap_socket(raw, server_hostname=name) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as error:  # ssl.SSLError included
        raise ProbeError(f"{endpoint.address}: TLS handshake failed: {error}") from error
    if not der:
        raise ProbeError(f"{endpoint.address}: presented no certificate")
    return der


def restart_due(previous_not_after: str, margin_days: int) -> datetime.datetime:
    """When the node must have restarted: ``margin_days`` before its previous
    certificate (``YYYYMMDDHHMMSSZ``) expires."""
    expires = datetime.datetime.strptime(previous_not_after, NOT_AFTER_FORMAT)
    expires = expires.replace(tzinfo=UTC_ZONE)
    return expires - datetime.timedelta(days=margin_days)


def survey(
    endpoints: Sequence[Endpoint],
    wanted: bytes,
    serve: Callable[[Endpoint], bytes],
) -> Tuple[bool, Dict[str, str]]:
    """Whether every endpoint serves ``wanted``; per endpoint its sha256 or the error."""
    served: Dict[str, str] = {}
    for endpoint in endpoints:
        try:
            served[endpoint.address] = fingerprint(serve(endpoint))
        except ProbeError as error:
            served[endpoint.address] = str(error)
    return all(value == fingerprint(wanted) for value in served.values()), served


def reload_certificate(
    wanted: bytes,
    endpoints: Sequence[Endpoint],
    serve: Callable[[Endpoint], bytes],
    request_reload: Callable[[], None],
    wait_timeout: float,
    poll_interval: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReloadOutcome:
    """Ask the node to reload unless every endpoint serves ``wanted`` (DER) already, then
    poll until every endpoint does or ``wait_timeout`` seconds have passed."""
    if not endpoints:
        raise ValueError("no endpoint to check the served certificate on")
    done, served = survey(endpoints, wanted, serve)
    if done:
        return ReloadOutcome(True, False, served)
    try:
        request_reload()
    except ProbeError as error:  # AdminError included
        return ReloadOutcome(False, False, served, f"the reload request failed: {error}")
    deadline = clock() + wait_timeout
    while True:
        done, served = survey(endpoints, wanted, serve)
        if done:
            return ReloadOutcome(True, True, served)
        if clock() >= deadline:
            stale = sorted(
                address for address, value in served.items() if value != fingerprint(wanted)
            )
            return ReloadOutcome(
                False,
                True,
                served,
                f"after {wait_timeout:.0f} s {', '.join(stale)} still serve(s) another "
                "certificate (Kafka refuses a key store whose subject changed or that drops a "
                "name; see the node's log)",
            )
        sleep(poll_interval)


def settle_records(
    restart_record: str, due_record: str, due: datetime.datetime, why: str
) -> datetime.datetime:
    """After a verified reload: the restart-due record first (the earlier of the one there
    and ``due``), then the restart record goes. Interrupted in between, both stay and the
    node restarts: the safe side. Returns the due time kept."""
    exists, earlier = read_restart_due(due_record)
    if exists:  # a record without a readable time counts as due now
        due = min(due, earlier or utc_now())
    write_atomically(due_record, restart_due_text(due, why), 0, 0, 0o644)
    if os.path.lexists(restart_record):
        os.unlink(restart_record)
    return due


def admin_reload(
    endpoint: Endpoint, security: SecurityConfig, timeout: float, node_id: int, names: List[str]
) -> Callable[[], None]:
    """The reload request, sent to the node itself."""

    def send() -> None:
        admin = KafkaAdmin(endpoint.host, endpoint.port, timeout, security=security)
        try:
            admin.reload_node_files(node_id, names)
        finally:
            admin.close()

    return send
