"""The options of the modules that reach OSS as a node's AutoMQ does (one copy).

Their documentation is the ``automq.platform.oss_node`` doc fragment.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.oss_readiness import (
    HttpClientTransport,
    ReadinessError,
    Redactor,
    Target,
    load_node_targets,
)

OSS_NODE_OPTIONS: dict[str, Any] = {
    "server_properties": {"type": "path", "default": "/etc/automq/server.properties"},
    "credentials_env": {"type": "path", "default": "/etc/automq/credentials.env"},
    "ca_file": {"type": "path"},
    "timeout": {"type": "float", "default": 10.0},
}


def open_oss_node(
    module: AnsibleModule, **failure: Any
) -> tuple[list[Target], Redactor, HttpClientTransport]:
    """The node's buckets, a redactor of every secret in its files, and the transport;
    fails the task at once (with ``failure`` in the result) when any cannot be had."""
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive", **failure)
    try:
        targets, redactor = load_node_targets(
            params["server_properties"], params["credentials_env"]
        )
    except ReadinessError as exc:
        module.fail_json(msg=str(exc), **failure)
    try:
        transport = HttpClientTransport(timeout=params["timeout"], ca_file=params["ca_file"])
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot load ca_file {params['ca_file']}: {exc}", **failure)
    return targets, redactor, transport
