#!/usr/bin/python
"""Ansible module kafka_scram_users: the cluster's SCRAM users as declared."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kafka_scram_users
short_description: Create, update and remove the SCRAM users of a Kafka or AutoMQ cluster
description:
  - Speaks the Kafka protocol to a broker (DescribeUserScramCredentials,
    AlterUserScramCredentials), from the broker host itself; no JVM tool runs and no
    password appears on a command line.
  - A present user whose declared mechanism already has a credential with the declared
    iterations is checked by logging in with the declared password (SCRAM) on
    O(login_server); only a refused login makes it updated. So a second run changes
    nothing, and the passwords are never read back from the cluster (Kafka cannot).
  - The credential is computed on the host (random salt, PBKDF2 salted password, RFC
    5802); the password, the salt and the salted password are never logged or returned.
  - After a change, waits until each written user can log in with its new password and
    each deleted credential is gone from the broker (SCRAM credentials reach the brokers
    through the metadata log), and fails after O(wait_timeout) seconds otherwise.
  - A present user's credentials of other mechanisms are deleted. Users not listed are
    left alone.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  bootstrap_server:
    description:
      - C(host:port) of the broker listener to send the admin requests to, reached with
        O(security); a principal with the cluster permissions ALTER and DESCRIBE (the
        node's certificate on the INTERNAL listener, a super user).
      - Must be a broker listener; the broker forwards the changes to the controller.
    type: str
    required: true
  login_server:
    description:
      - C(host:port) of the SASL_SSL listener on which the users log in (the CLIENT
        listener), to check the declared passwords and that changes took effect.
    type: str
    required: true
  login_ca_file:
    description:
      - PEM file with the CA certificates that signed the certificate of O(login_server);
        its name (the host of O(login_server)) is checked too.
      - Omitted, the system's trust store is used.
    type: path
  users:
    description: The users to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: User name (the principal is C(User:<name>)).
        type: str
        required: true
      password:
        description:
          - The password; required when O(users[].state=present).
          - Never logged or returned.
        type: str
      state:
        description: Whether the user has SCRAM credentials.
        type: str
        choices: [present, absent]
        default: present
      mechanism:
        description: The SCRAM mechanism of the credential; the listener must enable it.
        type: str
        choices: [SCRAM-SHA-512, SCRAM-SHA-256]
        default: SCRAM-SHA-512
      iterations:
        description: PBKDF2 iterations of the credential; Kafka accepts 4096 to 16384.
        type: int
        default: 8192
  timeout:
    description: Timeout of each request and login, in seconds.
    type: float
    default: 10.0
  wait_timeout:
    description:
      - Seconds to wait, after a change, until the broker uses the new credentials.
    type: float
    default: 30.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.kafka_security
attributes:
  check_mode:
    support: full
    details: Describes the credentials and tries the logins, changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Create, update or remove the SCRAM users
  automq.platform.kafka_scram_users:
    bootstrap_server: "{{ automq_advertised_host }}:9094"  # INTERNAL, mTLS
    security:
      protocol: SSL
      ca_file: /etc/automq/tls/ca.crt
      cert_file: /etc/automq/tls/node-keystore.pem
      key_file: /etc/automq/tls/node-keystore.pem
    login_server: "{{ automq_advertised_host }}:9092"  # CLIENT, SASL_SSL
    login_ca_file: /etc/automq/tls/ca.crt
    users:
      - name: orders-app
        password: "{{ vault_orders_app_password }}"
      - name: old-app
        state: absent
  no_log: true  # the task's arguments hold the passwords
  register: scram
"""

RETURN = r"""
created:
  description: Users that had no credential and got one (names only).
  type: list
  elements: str
  returned: always
  sample: [orders-app]
updated:
  description:
    - Users whose credential was rewritten (the declared password did not log in, or the
      iterations or mechanism differ) or who lost credentials of other mechanisms.
  type: list
  elements: str
  returned: always
removed:
  description: Absent users whose credentials were deleted.
  type: list
  elements: str
  returned: always
  sample: [old-app]
"""

import functools

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_admin import (
    DEFAULT_SCRAM_ITERATIONS,
    DEFAULT_SCRAM_MECHANISM,
    SCRAM_MECHANISM_CODES,
    SCRAM_USER_STATES,
    KafkaAdmin,
    reconcile_scram_users,
    scram_login_works,
    scram_users,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.kafka_probe import (
    ProbeError,
    parse_address,
)
from ansible_collections.automq.platform.plugins.module_utils.kafka_security import (
    SECURITY_OPTION,
    security_from_params,
)

USER_OPTIONS = {
    "name": {"type": "str", "required": True},
    "password": {"type": "str", "no_log": True},
    "state": {"type": "str", "default": "present", "choices": list(SCRAM_USER_STATES)},
    "mechanism": {
        "type": "str",
        "default": DEFAULT_SCRAM_MECHANISM,
        "choices": sorted(SCRAM_MECHANISM_CODES, reverse=True),
    },
    "iterations": {"type": "int", "default": DEFAULT_SCRAM_ITERATIONS},
}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "bootstrap_server": {"type": "str", "required": True},
            "login_server": {"type": "str", "required": True},
            "login_ca_file": {"type": "path"},
            "users": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": USER_OPTIONS,
                "required_if": [("state", "present", ("password",))],
            },
            "timeout": {"type": "float", "default": 10.0},
            "wait_timeout": {"type": "float", "default": 30.0},
            "security": SECURITY_OPTION,
        },
        supports_check_mode=True,
    )
    params = module.params
    security = security_from_params(module, "security")
    try:
        for option in ("bootstrap_server", "login_server"):
            parse_address(params[option])
        users = scram_users(params["users"])
    except ValueError as error:  # names users and addresses, never passwords
        module.fail_json(msg=str(error))
    login_works = functools.partial(
        scram_login_works,
        params["login_server"],
        ca_file=params["login_ca_file"],
        timeout=params["timeout"],
    )
    try:
        with KafkaAdmin.from_address(
            params["bootstrap_server"], params["timeout"], security=security
        ) as admin:
            plan = reconcile_scram_users(
                admin,
                users,
                login_works,
                check_mode=module.check_mode,
                wait_timeout=params["wait_timeout"],
            )
    except (ProbeError, ValueError) as error:  # their messages never hold a secret
        module.fail_json(msg=str(error))
    module.exit_json(
        changed=plan.changed,
        created=list(plan.created),
        updated=list(plan.updated),
        removed=list(plan.removed),
    )


if __name__ == "__main__":
    main()
