"""Read Java .properties files such as Kafka's meta.properties, and check the
server.properties overrides a user gives."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

OVERRIDES = "automq_server_properties_overrides"

# Keys the installer derives from the inventory: an override would split the node from
# what the roles (and the other nodes) believe, so the variable that sets each is named.
INSTALLER_KEYS: dict[str, str] = {
    "node.id": "automq_node_id (the host's pinned node ID) or the state file",
    "process.roles": "the inventory groups automq_controller and automq_broker",
    "controller.quorum.voters": "the automq_controller group and automq_controller_port",
    "controller.quorum.bootstrap.servers": (
        "the automq_controller group and automq_controller_port"
    ),
    "controller.listener.names": "automq_security",
    "listeners": (
        "automq_listen_address, automq_broker_port, automq_internal_port, automq_external_port "
        "and automq_controller_port"
    ),
    "advertised.listeners": (
        "automq_advertised_host, automq_external_advertised_host and the port variables"
    ),
    "listener.security.protocol.map": "automq_security and automq_external_advertised_host",
    "inter.broker.listener.name": "automq_security",
    "log.dirs": "automq_data_dir",
    "metadata.log.dir": "automq_data_dir",
    "s3.data.buckets": "automq_oss_data_bucket, automq_oss_region and automq_oss_endpoint",
    "s3.ops.buckets": "automq_oss_ops_bucket, automq_oss_region and automq_oss_endpoint",
    "s3.wal.path": "automq_oss_data_bucket, automq_oss_region and automq_oss_endpoint",
}


def parse_properties(text: str) -> dict[str, str]:
    """Parse the simple key=value form Kafka writes (meta.properties, server.properties).

    Blank lines and comments (# or !) are skipped; the first '=' or ':' splits
    key from value; surrounding whitespace is dropped. Line continuations and
    escapes are not used by the files this reads, and are rejected rather
    than misread.
    """
    result: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            raise ValueError(f"line {number}: continuation lines are not supported: {raw!r}")
        separators = [i for i in (line.find("="), line.find(":")) if i >= 0]
        if not separators:
            raise ValueError(f"line {number}: expected key=value, got {raw!r}")
        split_at = min(separators)
        key, value = line[:split_at].strip(), line[split_at + 1 :].strip()
        if not key:
            raise ValueError(f"line {number}: empty key in {raw!r}")
        result[key] = value
    return result


def _breaks_a_line(text: str) -> bool:
    """A line break ends the property early (any that a reader may take for one); a
    trailing backslash joins the next line."""
    return "".join(text.splitlines()) != text or "\x00" in text or text.endswith("\\")


def override_problems(overrides: Any) -> list[str]:
    """What is wrong with ``automq_server_properties_overrides``, one sentence per key,
    each naming the key and the fix (empty: nothing)."""
    if not isinstance(overrides, Mapping):
        return [f"{OVERRIDES} must be a mapping of property names to values, not "
                f"{type(overrides).__name__}"]  # fmt: skip
    problems: list[str] = []
    for key, value in overrides.items():
        where = f"{OVERRIDES}[{key!r}]"
        if not isinstance(key, str) or not key.strip():
            problems.append(f"{where}: a property name must be non-empty text")
            continue
        if (
            _breaks_a_line(key)
            or any(c.isspace() or c in "=:" for c in key)
            or key.startswith(("#", "!"))
        ):
            problems.append(
                f"{where}: a property name has no spaces, '=', ':', line breaks or trailing "
                "backslash, and does not start with '#' or '!' (a comment)"
            )
            continue
        if key in INSTALLER_KEYS:
            problems.append(
                f"{where}: the installer writes {key} from {INSTALLER_KEYS[key]}; set that "
                "instead of overriding it"
            )
            continue
        if isinstance(value, (Mapping, list, tuple, set)) or value is None:
            problems.append(
                f"{where}: the value must be text, a number or a boolean, not "
                f"{'nothing' if value is None else type(value).__name__}"
            )
        elif isinstance(value, str) and _breaks_a_line(value):
            problems.append(
                f"{where}: the value has a line break or a trailing backslash, which would "
                "change other properties of server.properties; give it on one line"
            )
    return problems


# An appender's class line in a log4j 1.x file: log4j.appender.<name>=<class>.
_APPENDER_CLASS = re.compile(
    r"^\s*log4j\.appender\.([A-Za-z0-9_]+)\s*[=:]\s*([A-Za-z_][\w.$]*)\s*$"
)


def uploading_appenders(log4j_text: str) -> dict[str, str]:
    """The appenders an AutoMQ release's own log4j.properties writes through its
    S3RollingFileAppender (a RollingFileAppender that also uploads to the ops
    bucket), with the class it names: ``com.automq.shell.log.S3RollingFileAppender``
    in 1.6.0 and before, ``com.automq.log.S3RollingFileAppender`` since.

    Only ``log4j.appender.<name>=<class>`` lines count; anything else in the file
    (continuation lines, layouts, loggers) is ignored, so a release's file never
    makes the deploy fail. Kafka's own file (the test package) has none.
    """
    found: dict[str, str] = {}
    for line in log4j_text.splitlines():
        matched = _APPENDER_CLASS.match(line)
        if matched and matched.group(2).endswith(".S3RollingFileAppender"):
            found[matched.group(1)] = matched.group(2)
    return found
