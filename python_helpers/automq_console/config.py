"""Typed console settings, loaded from the JSON file that Ansible writes.

The file (path in ``AUTOMQ_CONSOLE_CONFIG``, mode 0640) holds no secret: the
admin password is stored only as a hash in its own file, the session signing key
in another, the password of the console's Kafka user in a third, and the console
needs no OSS credentials at all.  A configuration with a key that looks like a
secret (``secret``, ``password``, ``token``, ``access_key``...) is refused with
an error naming the key, so a credential can not slip in through a template
change; only the keys of :data:`PATH_KEYS_ALLOWED`, which name files, are
exempt.  Unknown keys are refused too (a typo is an error, not a silent default).

Example (every key; the ones after ``session_secret_file`` are optional)::

    {
      "cluster_name": "automq-prod",
      "bootstrap_servers": ["10.0.0.11:9092", "10.0.0.12:9092"],
      "controller_quorum_bootstrap_servers": [],
      "kafka_security": {"protocol": "SASL_SSL", "mechanism": "SCRAM-SHA-512",
                         "ca_file": "/etc/automq-console/kafka-ca.crt",
                         "username": "automq-console",
                         "password_file": "/etc/automq-console/kafka.password"},
      "expected_voters": [0, 1, 2],
      "nodes": [
        {"host": "automq-1", "node_id": 0, "roles": ["broker", "controller"],
         "installed_version": "1.7.3", "advertised_host": "10.0.0.11"}
      ],
      "oss": {"region": "cn-hangzhou",
              "endpoint": "https://oss-cn-hangzhou-internal.aliyuncs.com",
              "data_bucket": "automq-data", "ops_bucket": "automq-ops"},
      "admin_user": "admin",
      "admin_password_hash_file": "/etc/automq-console/admin.hash",
      "session_secret_file": "/etc/automq-console/session.key",
      "cookie_secure": true,
      "listen_host": "10.0.0.5",
      "listen_port": 8080,
      "tls_cert_file": "/etc/automq-console/tls/console.d/2-certificate.pem",
      "tls_key_file": "/etc/automq-console/tls/console.d/1-private-key.pem",
      "prometheus_port": 9090,
      "prometheus": {"url": "https://10.0.0.5:9090", "username": "automq-console",
                     "password_file": "/etc/automq-console/prometheus.password",
                     "cert_file": "/etc/prometheus/tls/prometheus.crt",
                     "scrape_interval": "30s"},
      "forwarded_allow_ips": [],
      "kafka_timeout_seconds": 5.0,
      "session_idle_minutes": 480,
      "session_lifetime_hours": 24,
      "max_voter_lag": 1000
    }

``kafka_security``: ``PLAINTEXT`` (the default, for clusters deployed with
``automq_security: plaintext``) takes no other key; ``SASL_SSL`` needs the CA
file that signed the brokers' certificates, the SCRAM user and the file holding
its password (mode 0640 or stricter).  Secure clusters accept clients only on the
brokers' CLIENT listener (the controllers' listener wants the nodes' own
certificates), so the quorum is read through the brokers, which forward
DescribeQuorum to the active controller: ``controller_quorum_bootstrap_servers``
must then be empty.

``tls_cert_file`` and ``tls_key_file`` (both or neither): the console serves
HTTPS itself, TLS 1.2 or newer.  ``cookie_secure`` defaults to true: browsers then
send the session cookie over HTTPS only.  ``prometheus_port``: the pages link to
Prometheus at ``https://<the host the browser asked for>:<port>/``.
``prometheus`` (optional): where the charts page reads its data
(:class:`PrometheusSettings`); without it the page says charts are not set up.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from automq_helpers.kafka_probe import SecurityConfig, build_ssl_context, parse_address

from .charts import parse_duration

CONFIG_ENV_VAR = "AUTOMQ_CONSOLE_CONFIG"

# Fragments of key names (lower case, without separators) that mean "a secret".
SECRET_KEY_MARKERS = (
    "secret",
    "password",
    "passwd",
    "token",
    "credential",
    "accesskey",
    "privatekey",
    "apikey",
    "sasl",
)
# Keys (dotted paths) that contain a marker but hold a file *path*, never the secret.
PATH_KEYS_ALLOWED = frozenset(
    {
        "admin_password_hash_file",
        "session_secret_file",
        "kafka_security.password_file",
        "prometheus.password_file",
    }
)

_BUCKET_RE = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"  # OSS bucket naming rules
_REGION_RE = r"^[a-z0-9][a-z0-9-]{0,62}$"
_USER_RE = r"^[A-Za-z0-9._@-]{1,64}$"


class ConfigError(Exception):
    """The console configuration is missing, unreadable or invalid."""


def _normalise_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def find_secret_keys(raw: Any, path: str = "") -> list[str]:
    """Dotted paths of every key in ``raw`` (nested dicts and lists) that looks like a secret."""
    found: list[str] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            key_text = str(key)
            where = f"{path}.{key_text}" if path else key_text
            allowed = where in PATH_KEYS_ALLOWED
            normalised = _normalise_key(key_text)
            if not allowed and any(marker in normalised for marker in SECRET_KEY_MARKERS):
                found.append(where)
            found.extend(find_secret_keys(value, where))
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            found.extend(find_secret_keys(item, f"{path}[{index}]"))
    return found


def _check_addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        parse_address(value)  # ValueError names the bad entry
    return values


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NodeSettings(_Model):
    """One cluster node as Ansible deployed it."""

    host: Annotated[str, Field(min_length=1, max_length=253)]
    node_id: Annotated[int, Field(ge=0)]
    roles: Annotated[tuple[Literal["broker", "controller"], ...], Field(min_length=1)]
    installed_version: Annotated[str, Field(min_length=1, max_length=64)]
    advertised_host: Annotated[str, Field(min_length=1, max_length=253)]

    @field_validator("roles")
    @classmethod
    def _unique_roles(cls, roles: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(roles)) != len(roles):
            raise ValueError("roles must not repeat")
        return roles

    @property
    def is_broker(self) -> bool:
        return "broker" in self.roles

    @property
    def is_controller(self) -> bool:
        return "controller" in self.roles


class OssSettings(_Model):
    """Where the cluster keeps its data: names only, never credentials."""

    region: Annotated[str, Field(pattern=_REGION_RE)]
    endpoint: Annotated[str, Field(min_length=1, max_length=255)]
    data_bucket: Annotated[str, Field(pattern=_BUCKET_RE)]
    ops_bucket: Annotated[str, Field(pattern=_BUCKET_RE)]

    @field_validator("endpoint")
    @classmethod
    def _plain_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "endpoint must be an http(s) URL such as https://oss-REGION.aliyuncs.com"
            )
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("endpoint must not carry user info, a query or a fragment")
        return value


def _absolute_path(value: Path) -> Path:
    if not value.is_absolute():
        raise ValueError("must be an absolute path")
    return value


def _require_absolute(value: Path | None) -> Path | None:
    return None if value is None else _absolute_path(value)


class KafkaSecuritySettings(_Model):
    """How the console reaches the brokers: PLAINTEXT, or SASL_SSL as a SCRAM user.

    Only the password's *file* is named here; :func:`read_kafka_password` reads it.
    """

    protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    ca_file: Path | None = None
    username: Annotated[str, Field(pattern=_USER_RE)] | None = None
    password_file: Path | None = None

    @field_validator("ca_file", "password_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return _require_absolute(value)

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecuritySettings:
        names = ("ca_file", "username", "password_file")
        given = [name for name in names if getattr(self, name) is not None]
        if self.protocol == "SASL_SSL" and len(given) < len(names):
            missing = [name for name in names if name not in given]
            raise ValueError(f"protocol SASL_SSL needs {', '.join(missing)}")
        if self.protocol == "PLAINTEXT" and given:
            raise ValueError(f"protocol PLAINTEXT takes no {', '.join(given)}")
        return self

    @property
    def is_secure(self) -> bool:
        return self.protocol == "SASL_SSL"


class PrometheusSettings(_Model):
    """Where the charts come from: Prometheus over HTTPS, as the console's own user.

    ``cert_file`` is the certificate Prometheus serves (on the same host), the one
    certificate the console trusts for it; ``scrape_interval`` its scrape interval
    (a Prometheus duration), which sets the charts' step and rate windows."""

    url: Annotated[str, Field(min_length=1, max_length=255)]
    username: Annotated[str, Field(pattern=_USER_RE)]
    password_file: Path
    cert_file: Path
    scrape_interval: Annotated[str, Field(min_length=1, max_length=20)] = "30s"

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("url must be an https URL such as https://10.0.0.5:9090")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("url must not carry user info, a query or a fragment")
        return value

    @field_validator("password_file", "cert_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return _absolute_path(value)

    @field_validator("scrape_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)  # ValueError says what a duration looks like
        return value

    @property
    def scrape_seconds(self) -> float:
        return parse_duration(self.scrape_interval)


class Settings(_Model):
    cluster_name: Annotated[str, Field(min_length=1, max_length=100)]
    bootstrap_servers: Annotated[tuple[str, ...], Field(min_length=1)]
    # Plaintext clusters only: the controllers' listeners, asked first for the quorum.
    controller_quorum_bootstrap_servers: tuple[str, ...] = ()
    kafka_security: KafkaSecuritySettings = KafkaSecuritySettings()
    # Empty in the file: the node IDs of the nodes with the controller role.
    expected_voters: tuple[Annotated[int, Field(ge=0)], ...] = ()
    nodes: Annotated[tuple[NodeSettings, ...], Field(min_length=1)]
    oss: OssSettings
    admin_user: Annotated[str, Field(pattern=_USER_RE)]
    admin_password_hash_file: Path
    session_secret_file: Path
    cookie_secure: bool = True
    listen_host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    listen_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    prometheus_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    prometheus: PrometheusSettings | None = None
    forwarded_allow_ips: tuple[str, ...] = ()
    kafka_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    session_idle_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 480
    session_lifetime_hours: Annotated[int, Field(ge=1, le=7 * 24)] = 24
    max_voter_lag: Annotated[int, Field(ge=0)] = 1000

    @field_validator("bootstrap_servers", "controller_quorum_bootstrap_servers")
    @classmethod
    def _addresses(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _check_addresses(values)

    @field_validator("admin_password_hash_file", "session_secret_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return _absolute_path(value)

    @field_validator("tls_cert_file", "tls_key_file")
    @classmethod
    def _absolute_or_none(cls, value: Path | None) -> Path | None:
        return _require_absolute(value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.kafka_security.is_secure and self.controller_quorum_bootstrap_servers:
            raise ValueError(
                "controller_quorum_bootstrap_servers must be empty with kafka_security SASL_SSL: "
                "the controllers' listener accepts only the nodes' certificates, so the console "
                "reads the quorum through the brokers (bootstrap_servers)"
            )
        ids = [node.node_id for node in self.nodes]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"nodes: node_id repeated: {duplicates}")
        controllers = sorted(node.node_id for node in self.nodes if node.is_controller)
        if not controllers:
            raise ValueError("nodes: no node has the controller role")
        if self.expected_voters and sorted(set(self.expected_voters)) != controllers:
            raise ValueError(
                f"expected_voters {sorted(self.expected_voters)} differ from the node IDs "
                f"of the nodes with the controller role {controllers}"
            )
        return self

    @property
    def voter_ids(self) -> tuple[int, ...]:
        """The expected quorum voters: ``expected_voters``, else the controller nodes."""
        if self.expected_voters:
            return tuple(sorted(set(self.expected_voters)))
        return tuple(sorted(node.node_id for node in self.nodes if node.is_controller))

    @property
    def serves_https(self) -> bool:
        return self.tls_cert_file is not None

    @property
    def session_idle_seconds(self) -> float:
        return self.session_idle_minutes * 60.0

    @property
    def session_lifetime_seconds(self) -> float:
        return self.session_lifetime_hours * 3600.0


def _describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"]
        ).lstrip(".")
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (not a console setting)"
        lines.append(f"  {where or '(top level)'}: {message}")
    return "\n".join(lines)


def parse_settings(text: str, source: str = "configuration") -> Settings:
    """Validate the JSON text of a configuration file; ConfigError says what is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object at the top level")
    secret_keys = find_secret_keys(raw)
    if secret_keys:
        raise ConfigError(
            f"{source}: refusing keys that look like secrets: {', '.join(secret_keys)}. "
            "The console needs no credentials in its configuration: the admin password "
            "is stored only as a hash (admin_password_hash_file), the Kafka user's password "
            "in its own file (kafka_security.password_file) and OSS access keys stay on the "
            "cluster nodes."
        )
    try:
        return Settings.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigError(
            f"{source}: invalid settings:\n{_describe_validation_error(exc)}"
        ) from exc


def load_settings(path: str | os.PathLike[str]) -> Settings:
    location = Path(path)
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the console configuration {location}: {exc}") from exc
    return parse_settings(text, str(location))


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    path = env.get(CONFIG_ENV_VAR, "")
    if not path:
        raise ConfigError(
            f"{CONFIG_ENV_VAR} is not set: point it at the console's JSON configuration "
            "(written by Ansible, e.g. /etc/automq-console/console.json)"
        )
    return load_settings(path)


def check_private_file(path: Path, what: str, allow_group_read: bool = True) -> None:
    """Refuse a world-writable (or, for secrets, world-readable) file."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}") from exc
    if mode & 0o002:
        raise ConfigError(f"the {what} {path} is world-writable; make it 0600 or 0640")
    forbidden = 0o004 if allow_group_read else 0o044
    if mode & forbidden:
        raise ConfigError(
            f"the {what} {path} is readable by "
            f"{'others' if allow_group_read else 'group or others'}; make it "
            f"{'0640' if allow_group_read else '0600'}"
        )


MIN_SESSION_SECRET_BYTES = 32


def read_session_secret(path: Path) -> bytes:
    """The session signing key: at least 32 bytes, readable by the console only."""
    check_private_file(path, "session secret file", allow_group_read=True)
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the session secret file {path}: {exc}") from exc
    if len(secret) < MIN_SESSION_SECRET_BYTES:
        raise ConfigError(
            f"the session secret file {path} holds {len(secret)} bytes; it needs at least "
            f"{MIN_SESSION_SECRET_BYTES} random bytes (e.g. 64 hex characters)"
        )
    return secret


MAX_PASSWORD_BYTES = 1024


def read_secret_line(path: Path, what: str) -> str:
    """A password: one line, in a file the console reads and others do not."""
    check_private_file(path, what, allow_group_read=True)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc}") from exc
    password = text.removesuffix("\n")
    if not password or len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ConfigError(
            f"the {what} {path} must hold one non-empty line of at most {MAX_PASSWORD_BYTES} bytes"
        )
    if "\n" in password or "\r" in password:
        raise ConfigError(f"the {what} {path} must hold a single line")
    return password


def read_kafka_password(path: Path) -> str:
    """The Kafka user's password (:func:`read_secret_line`)."""
    return read_secret_line(path, "Kafka password file")


def check_kafka_ca_file(path: Path) -> None:
    """Refuse a CA file that holds no usable PEM certificate (the client would not start)."""
    try:
        build_ssl_context(SecurityConfig(protocol="SSL", ca_file=str(path)))
    except ValueError as exc:
        raise ConfigError(f"kafka_security.ca_file: {exc}") from exc
