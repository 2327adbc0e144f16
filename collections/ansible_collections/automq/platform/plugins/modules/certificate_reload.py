#!/usr/bin/python
"""Ansible module certificate_reload: a running node serves its renewed certificate."""

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_reload
short_description: Make a running AutoMQ node serve its renewed certificate without a restart
description:
  - Reads the certificate of O(certificate) and connects to each of O(endpoints) with TLS. When
    every one serves it already, nothing happens.
  - Otherwise sends the node one IncrementalAlterConfigs request that deletes the per-node
    config C(listener.name.<listener>.ssl.keystore.location) (never set by the role, so nothing
    is left behind). The controller records it even so, and the node reloads the key store files
    of all its listeners. Then polls the endpoints until every one serves the file's
    certificate, or O(wait_timeout) passed.
  - When it worked, writes O(restart_due_record), a restart due O(restart_margin_days) before the
    previous certificate (O(previous_not_after)) expires, because clients the node built at start,
    such as KRaft's, keep presenting the previous one; then removes O(restart_record).
  - Never fails because the node kept its old certificate (Kafka refuses a key store whose subject
    changed or that drops a name). It returns C(reloaded=false) and the C(reason), and leaves the
    restart record, so the node restarts instead. Fails on bad options only.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  certificate:
    description: PEM file on the host whose first certificate the node must serve.
    type: path
    required: true
  node_id:
    description: The node's C(node.id).
    type: int
    required: true
  admin_endpoint:
    description: C(host:port) of the node's own listener the request goes to (a broker checks
      per-node changes only for itself); a super user's TLS listener.
    type: str
    required: true
  listener:
    description: Listener name of the config key that is deleted.
    type: str
    required: true
  endpoints:
    description: C(host:port) of every TLS listener of the node.
    type: list
    elements: str
    required: true
  previous_not_after:
    description: Expiry of the certificate the node ran with, as C(YYYYMMDDHHMMSSZ).
    type: str
    required: true
  restart_margin_days:
    description: The restart is due this many days before the previous certificate expires.
      When that time has come already, no reload is tried.
    type: int
    default: 7
  restart_record:
    description: The node's restart record, removed after a verified reload.
    type: path
    required: true
  restart_due_record:
    description: The node's restart-due record, written (the earlier time kept) after a verified
      reload.
    type: path
    required: true
  timeout:
    description: Timeout of each connection and request, in seconds.
    type: float
    default: 10.0
  wait_timeout:
    description: Seconds to wait after the request until every endpoint serves the certificate.
    type: float
    default: 30.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.kafka_security
attributes:
  check_mode:
    support: full
    details: Looks at what the endpoints serve and reports whether a reload would be asked.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Load the renewed certificate
  automq.platform.certificate_reload:
    certificate: /etc/automq/tls/node.crt
    node_id: 0
    admin_endpoint: broker-0.example.internal:9094
    listener: internal
    endpoints:
      - broker-0.example.internal:9092
      - broker-0.example.internal:9094
      - broker-0.example.internal:9093
    previous_not_after: "20271105120000Z"
    restart_record: /var/lib/automq/restart-pending
    restart_due_record: /var/lib/automq/restart-due
    security:
      protocol: SSL
      ca_file: /etc/automq/tls/ca.crt
      cert_file: /etc/automq/tls/node-keystore.pem
      key_file: /etc/automq/tls/node-keystore.pem
"""

RETURN = r"""
reloaded:
  description: Every endpoint serves the certificate of O(certificate).
  type: bool
  returned: always
requested:
  description: The reload request was sent.
  type: bool
  returned: always
served:
  description: Per endpoint, the sha256 of the certificate it served last, or the error.
  type: dict
  returned: always
reason:
  description: Why the node must restart instead (when C(reloaded) is false).
  type: str
  returned: when not reloaded
restart_due:
  description: When the node's restart is due (UTC, ISO 8601), after a reload.
  type: str
  returned: when reloaded
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.certificate_reload import (
    Endpoint,
    ReloadOutcome,
    admin_reload,
    certificate_der,
    reload_certificate,
    restart_due,
    served_certificate,
    settle_records,
    survey,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    ProbeError,
    parse_address,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_files import (
    utc_now,
)
from ansible_collections.automq.platform.plugins.module_utils.kafka_security import (
    SECURITY_OPTION,
    security_from_params,
)

WHY = (
    "This AutoMQ node loaded a renewed certificate without restarting; clients it built at\n"
    "start still present the previous one. site.yml restarts it once this time has come.\n"
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "certificate": {"type": "path", "required": True},
            "node_id": {"type": "int", "required": True},
            "admin_endpoint": {"type": "str", "required": True},
            "listener": {"type": "str", "required": True},
            "endpoints": {"type": "list", "elements": "str", "required": True},
            "previous_not_after": {"type": "str", "required": True},
            "restart_margin_days": {"type": "int", "default": 7},
            "restart_record": {"type": "path", "required": True},
            "restart_due_record": {"type": "path", "required": True},
            "timeout": {"type": "float", "default": 10.0},
            "wait_timeout": {"type": "float", "default": 30.0},
            "security": SECURITY_OPTION,
        },
        supports_check_mode=True,
    )
    params = module.params
    security = security_from_params(module, "security")
    try:
        endpoints = [Endpoint(*parse_address(value)) for value in params["endpoints"]]
        admin_endpoint = Endpoint(*parse_address(params["admin_endpoint"]))
        due = restart_due(params["previous_not_after"], params["restart_margin_days"])
        with open(params["certificate"], "rb") as stream:
            wanted = certificate_der(stream.read())
    except (ProbeError, ValueError, OSError) as error:
        module.fail_json(msg=str(error))

    def serve(endpoint: Endpoint) -> bytes:
        return served_certificate(endpoint, security, params["timeout"])

    if due <= utc_now():
        outcome = ReloadOutcome(
            False,
            False,
            {},
            f"the previous certificate expires within {params['restart_margin_days']} days: "
            "the node restarts instead",
        )
    elif module.check_mode:
        already, surveyed = survey(endpoints, wanted, serve)
        module.exit_json(changed=not already, reloaded=already, requested=False, served=surveyed)
    else:
        name = f"listener.name.{params['listener'].lower()}.ssl.keystore.location"
        outcome = reload_certificate(
            wanted,
            endpoints,
            serve,
            admin_reload(admin_endpoint, security, params["timeout"], params["node_id"], [name]),
            params["wait_timeout"],
        )
    result = {
        "changed": outcome.requested,
        "reloaded": outcome.reloaded,
        "requested": outcome.requested,
        "served": outcome.served,
    }
    had_record = os.path.lexists(params["restart_record"])
    if outcome.reloaded and (outcome.requested or had_record):
        kept = settle_records(params["restart_record"], params["restart_due_record"], due, WHY)
        result["restart_due"] = kept.strftime("%Y-%m-%dT%H:%M:%SZ")
        result["changed"] = True
    elif not outcome.reloaded:
        result["reason"] = outcome.reason
    module.exit_json(**result)


if __name__ == "__main__":
    main()
