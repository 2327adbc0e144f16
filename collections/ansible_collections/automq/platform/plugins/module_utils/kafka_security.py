"""The ``security`` options of the modules that speak the Kafka protocol (one copy).

Each option is a dict with the fields of ``kafka_probe.SecurityConfig``; its
documentation is the ``automq.platform.kafka_security`` doc fragment.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    SASL_MECHANISMS,
    SECURITY_PROTOCOLS,
    SecurityConfig,
    build_ssl_context,
)

SECURITY_OPTION: dict[str, Any] = {
    "type": "dict",
    "options": {
        "protocol": {"type": "str", "default": "PLAINTEXT", "choices": list(SECURITY_PROTOCOLS)},
        "ca_file": {"type": "path"},
        "cert_file": {"type": "path"},
        # A path, not a secret (Ansible would otherwise warn because of the name).
        "key_file": {"type": "path", "no_log": False},
        "check_hostname": {"type": "bool", "default": True},
        "server_hostname": {"type": "str"},
        "sasl_mechanism": {
            "type": "str",
            "default": "SCRAM-SHA-512",
            "choices": list(SASL_MECHANISMS),
        },
        "username": {"type": "str"},
        "password": {"type": "str", "no_log": True},
    },
}


def security_from_params(module: AnsibleModule, name: str) -> SecurityConfig:
    """The option ``name`` as a SecurityConfig; fails the task at once on a bad one,
    including CA, certificate and key files that cannot be used."""
    try:
        security = SecurityConfig.from_options(module.params[name])
        if security.uses_tls:
            build_ssl_context(security)
    except ValueError as error:  # its message never holds the password
        message = str(error)
        if message.startswith("security: "):
            message = message[len("security: ") :]
        module.fail_json(msg=f"{name}: {message}")
    return security
