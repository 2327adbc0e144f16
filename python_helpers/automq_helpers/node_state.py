"""What a node's disk and systemd say about it, read in one module call.

The preflight used to read meta.properties, server.properties, the metadata log's
quorum-state and the unit's state in up to four round trips per node; this reads them in
one. Only what the roles need leaves the host: the parsed meta.properties (node and cluster
ID, no secret), the ``listener.security.protocol.map`` of server.properties and the
security mode its listeners give (never the rest of that file, whose overrides may hold a
secret), whether KRaft's quorum-state exists, whether a restart is recorded, the record a
finalize that raised the feature levels left (JSON), and ``systemctl is-active``'s answer.
When asked, it also reads what the deploy would read again a few seconds later, so that a
no-op run reads it once: whether the release's start script is there and executable, the
release's own log4j.properties, and the node's certificate (public; never its key), and
describes the node's TLS files as node_files.describe does (never their content).

Runs on the hosts: standard library only, Python 3.8 grammar.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .node_files import Described, describe
from .properties import parse_properties

__all__ = [
    "RUNNING_STATES",
    "NodeState",
    "NodeStateError",
    "listener_ports_of",
    "read_node_state",
    "security_mode_of",
]

PROTOCOL_MAP_KEY = "listener.security.protocol.map"
LISTENERS_KEY = "listeners"
CONTROLLER_LISTENERS_KEY = "controller.listener.names"
# The controller listener (SSL) the migration to secure adds beside the plaintext one; it
# comes first in controller.listener.names from the migration's "internal" phase on.
MIGRATION_CONTROLLER_LISTENER = "CONTROLLER_TLS"
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
CLEAR_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT")
# systemctl is-active exits 0 (active), 3 (inactive, failed, activating...) or 4 (no
# such unit); anything else is an error of systemctl itself.
IS_ACTIVE_EXIT_CODES = (0, 3, 4)
# A crash-looping unit ("activating" between automatic restarts) counts as running: a
# change reaches it through a restart, like any running node.
RUNNING_STATES = ("active", "activating", "reloading", "deactivating")


class NodeStateError(Exception):
    """A file that exists but cannot be read, or a systemctl that does not answer."""


@dataclass(frozen=True)
class NodeState:
    meta: dict[str, str] | None
    protocol_map: str | None
    quorum_has_run: bool
    service_state: str
    finalized_features: dict[str, object] | None = None
    security_mode: str | None = None
    restart_pending: bool = False
    listener_ports: dict[str, int] = field(default_factory=dict)
    # The node's copy of the cluster's state document (node IDs, retired IDs).
    state_copy: dict[str, object] | None = None
    # Only when asked for (None otherwise); each names the path it read.
    release_start_script: dict[str, object] | None = None
    release_log4j: dict[str, object] | None = None
    certificate: dict[str, object] | None = None
    # node_files.describe's answer for the paths asked about (empty when none).
    described: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.service_state in RUNNING_STATES

    def as_result(self) -> dict[str, object]:
        return {
            "formatted": self.meta is not None,
            "meta": self.meta,
            "listener_security_protocol_map": self.protocol_map,
            "security_mode": self.security_mode,
            "restart_pending": self.restart_pending,
            "listener_ports": self.listener_ports,
            "quorum_has_run": self.quorum_has_run,
            "service_state": self.service_state,
            "running": self.running,
            "finalized_features": self.finalized_features,
            "state_copy": self.state_copy,
            "release_start_script": self.release_start_script,
            "release_log4j": self.release_log4j,
            "certificate": self.certificate,
            "described": self.described,
        }


def _read_text(path: str) -> str | None:
    """The file's text, or None when there is none; any other failure names the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise NodeStateError(f"Cannot read {path}: {error}") from None


def _read_record(path: str | None) -> dict[str, object] | None:
    """The JSON object at ``path``, None without a path or a file; anything else names it."""
    text = None if path is None else _read_text(path)
    if path is None or text is None:
        return None
    try:
        record = json.loads(text)
    except ValueError as error:
        raise NodeStateError(f"{path} is not JSON ({error}): restore or remove it") from None
    if not isinstance(record, dict):
        raise NodeStateError(f"{path} holds no JSON object: restore or remove it")
    return record


def _start_script(path: str | None) -> dict[str, object] | None:
    if path is None:
        return None
    return {
        "path": path,
        "exists": os.path.exists(path),
        "executable": os.path.isfile(path) and os.access(path, os.X_OK),
    }


def _text_file(path: str | None) -> dict[str, object] | None:
    """``{"path", "content"}`` (content None when there is no file), None without a path."""
    return None if path is None else {"path": path, "content": _read_text(path)}


def listener_ports_of(properties: dict[str, str]) -> dict[str, int]:
    """The port of each listener of ``listeners`` (NAME://host:port), by upper-case name;
    an entry without a readable port is left out."""
    ports: dict[str, int] = {}
    for entry in properties.get(LISTENERS_KEY, "").split(","):
        name, _separator, address = entry.strip().partition("://")
        port = address.rpartition(":")[2]
        if name and port.isdigit():
            ports[name.upper()] = int(port)
    return ports


def security_mode_of(properties: dict[str, str]) -> str | None:
    """What a server.properties' listeners run: plaintext, secure, or a phase of the
    migration between them (both kinds of listener; the TLS controller listener first
    from the "internal" phase on). None without a protocol map (no file yet)."""
    protocol_map = properties.get(PROTOCOL_MAP_KEY)
    if not protocol_map:
        return None
    protocols = {entry.partition(":")[2].strip().upper() for entry in protocol_map.split(",")}
    if not protocols & set(TLS_PROTOCOLS):
        return "plaintext"
    if not protocols & set(CLEAR_PROTOCOLS):
        return "secure"
    first_controller = properties.get(CONTROLLER_LISTENERS_KEY, "").split(",")[0].strip()
    if first_controller.upper() == MIGRATION_CONTROLLER_LISTENER:
        return "migrating-internal"
    return "migrating-listeners"


def memtotal_mb(meminfo: str) -> int | None:
    """The host's memory in MiB from /proc/meminfo's MemTotal (kB), as Ansible's
    ``memtotal_mb`` fact computes it; None without that line."""
    for line in meminfo.splitlines():
        key, separator, value = line.partition(":")
        if key == "MemTotal" and separator:
            fields = value.split()
            if fields and fields[0].isdigit():
                return int(fields[0]) // 1024
    return None


def read_node_state(
    meta_properties: str,
    server_properties: str,
    quorum_state: str | None,
    service: str,
    is_active: Callable[[str], tuple[int, str]],
    finalized_features: str | None = None,
    restart_record: str | None = None,
    state_copy: str | None = None,
    release_start_script: str | None = None,
    release_log4j: str | None = None,
    certificate: str | None = None,
    described: Sequence[Described] = (),
) -> NodeState:
    """Read the node. ``quorum_state`` is None on a node that is no controller;
    ``is_active(unit)`` runs ``systemctl is-active`` and gives (exit code, output);
    ``finalized_features`` is the path of the finalize record, if any is wanted;
    ``restart_record`` the path of the role's pending-restart record; ``state_copy`` the
    path of the node's copy of the cluster's state document; ``release_start_script``,
    ``release_log4j`` and ``certificate`` the paths of the release's start script, its
    log4j.properties and the node's certificate, each read only when given; ``described``
    the paths to describe as node_files.describe does (the node's TLS files)."""
    meta_text = _read_text(meta_properties)
    server_text = _read_text(server_properties)
    rc, output = is_active(f"{service}.service")
    if rc not in IS_ACTIVE_EXIT_CODES:
        raise NodeStateError(
            f"systemctl is-active {service}.service exited {rc}: {output.strip()[-500:]}"
        )
    server = {} if server_text is None else parse_properties(server_text)
    return NodeState(
        meta=None if meta_text is None else parse_properties(meta_text),
        protocol_map=server.get(PROTOCOL_MAP_KEY),
        security_mode=security_mode_of(server),
        listener_ports=listener_ports_of(server),
        restart_pending=restart_record is not None and os.path.exists(restart_record),
        quorum_has_run=quorum_state is not None and os.path.exists(quorum_state),
        service_state=output.strip(),
        finalized_features=_read_record(finalized_features),
        state_copy=_read_record(state_copy),
        release_start_script=_start_script(release_start_script),
        release_log4j=_text_file(release_log4j),
        certificate=_text_file(certificate),
        described=describe(described),
    )
