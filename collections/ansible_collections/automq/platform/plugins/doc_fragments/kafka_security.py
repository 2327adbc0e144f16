"""Documentation of the ``security`` options (module_utils/kafka_security.py).

Both fragments describe the same fields (module_utils/kafka_security.py's
``SECURITY_OPTION``); each is one string literal, as ansible-test's sanity tests read
documentation without running the file, so the fields are written out in both.
"""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  security:
    description:
      - How to reach the broker listener; fields as in Kafka's
        client settings. Omitted, the listener is PLAINTEXT.
    type: dict
    suboptions:
      protocol:
        description:
          - Kafka's C(security.protocol) of the listener.
          - C(SSL) and C(SASL_SSL) use TLS 1.2 or newer and verify the broker's certificate.
          - C(SASL_PLAINTEXT) with C(PLAIN) sends the password in the clear.
        type: str
        choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
        default: PLAINTEXT
      ca_file:
        description:
          - PEM file with the CA certificates that signed the broker's certificate.
          - Omitted, the system's trust store is used.
        type: path
      cert_file:
        description: PEM client certificate, for listeners with C(ssl.client.auth=required) (mTLS).
        type: path
      key_file:
        description:
          - Unencrypted PEM (PKCS#8) key of the client certificate; omitted, it is read
            from C(cert_file).
          - Only the user the module runs as should be able to read it.
        type: path
      check_hostname:
        description:
          - Require the broker's certificate to name the host connected to (or
            C(server_hostname)). The certificate chain is verified either way.
        type: bool
        default: true
      server_hostname:
        description:
          - Name to check in the broker's certificate, and send as SNI, instead of the host
            connected to; for example the node's advertised host name when it is probed on
            127.0.0.1.
          - Applies to the node's own listeners only; other hosts are checked by their own names.
        type: str
      sasl_mechanism:
        description: SASL mechanism, for C(SASL_PLAINTEXT) and C(SASL_SSL).
        type: str
        choices: [SCRAM-SHA-512, SCRAM-SHA-256, PLAIN]
        default: SCRAM-SHA-512
      username:
        description: SASL user name; required with C(SASL_PLAINTEXT) and C(SASL_SSL).
        type: str
      password:
        description:
          - SASL password; required with C(SASL_PLAINTEXT) and C(SASL_SSL).
          - Never logged or returned. SCRAM verifies that the broker knows it too.
        type: str
"""

    CONTROLLER = r"""
options:
  controller_security:
    description:
      - How to reach the controller listener (O(controller_port)) and the controllers of
        O(quorum_bootstrap_servers); same fields as O(security). Omitted, PLAINTEXT.
    type: dict
    suboptions:
      protocol:
        description:
          - Kafka's C(security.protocol) of the listener.
          - C(SSL) and C(SASL_SSL) use TLS 1.2 or newer and verify the broker's certificate.
          - C(SASL_PLAINTEXT) with C(PLAIN) sends the password in the clear.
        type: str
        choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
        default: PLAINTEXT
      ca_file:
        description:
          - PEM file with the CA certificates that signed the broker's certificate.
          - Omitted, the system's trust store is used.
        type: path
      cert_file:
        description: PEM client certificate, for listeners with C(ssl.client.auth=required) (mTLS).
        type: path
      key_file:
        description:
          - Unencrypted PEM (PKCS#8) key of the client certificate; omitted, it is read
            from C(cert_file).
          - Only the user the module runs as should be able to read it.
        type: path
      check_hostname:
        description:
          - Require the broker's certificate to name the host connected to (or
            C(server_hostname)). The certificate chain is verified either way.
        type: bool
        default: true
      server_hostname:
        description:
          - Name to check in the broker's certificate, and send as SNI, instead of the host
            connected to; for example the node's advertised host name when it is probed on
            127.0.0.1.
          - Applies to the node's own listeners only; other hosts are checked by their own names.
        type: str
      sasl_mechanism:
        description: SASL mechanism, for C(SASL_PLAINTEXT) and C(SASL_SSL).
        type: str
        choices: [SCRAM-SHA-512, SCRAM-SHA-256, PLAIN]
        default: SCRAM-SHA-512
      username:
        description: SASL user name; required with C(SASL_PLAINTEXT) and C(SASL_SSL).
        type: str
      password:
        description:
          - SASL password; required with C(SASL_PLAINTEXT) and C(SASL_SSL).
          - Never logged or returned. SCRAM verifies that the broker knows it too.
        type: str
"""
