"""Documentation of the node's OSS options (module_utils/oss_node.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  server_properties:
    description: The node's AutoMQ C(server.properties).
    type: path
    default: /etc/automq/server.properties
  credentials_env:
    description:
      - The systemd C(EnvironmentFile) with the AccessKey AutoMQ uses
        (C(AWS_ACCESS_KEY_ID), C(AWS_SECRET_ACCESS_KEY); C(KAFKA_S3_ACCESS_KEY) and
        C(KAFKA_S3_SECRET_KEY), or C(accessKey)/C(secretKey) in the bucket URI, take
        precedence, as in AutoMQ).
    type: path
    default: /etc/automq/credentials.env
  ca_file:
    description:
      - PEM file of the only CA to trust for the endpoint's certificate, instead of the
        system trust store. For test beds with a private CA; leave unset in production.
    type: path
  timeout:
    description: Timeout of each connection attempt and of each response, in seconds.
    type: float
    default: 10.0
"""
