#!/usr/bin/python
"""Ansible module oss_readiness: prove from a node that AutoMQ can use its OSS buckets."""

from __future__ import annotations

DOCUMENTATION = r"""
module: oss_readiness
short_description: Check from an AutoMQ node that its OSS buckets work, before AutoMQ starts
description:
  - Reads the node's C(server.properties) and C(credentials.env) and runs, for every bucket
    of C(s3.data.buckets), C(s3.ops.buckets) and C(s3.wal.path) (a bucket in several roles
    once), the checks AutoMQ's own readiness check makes when it starts (AutoMQ 1.7.3
    C(AwsObjectStorage.java) C(ReadinessCheck)), with the same AccessKey, endpoint,
    signing region and addressing style.
  - "Steps: HEAD of a probe key (404 expected), PUT with Content-MD5, GET and compare,
    ListObjectsV2 of the probe prefix, multipart create/upload part/complete, ranged GET and
    compare, DeleteObjects of everything written, ListObjectsV2 again (nothing may remain)."
  - Probe keys are under C(__automq/readiness_check/installer/<probe_name>/<time_ns>/), so
    nodes checking concurrently never collide and none of AutoMQ's objects is touched.
  - Never changes anything persistent, so C(changed) is always false. It deletes what it
    wrote, also after a failure (best effort; keys it could not delete are returned).
  - Fails with one message per failing bucket naming the bucket, the step, the HTTP status,
    the OSS/S3 error code and the likely fix (AccessKey ID or secret, RAM or bucket policy,
    bucket name or region, path-style addressing, DNS, security group, trust store, clock).
  - The AccessKey secret, signatures and Authorization headers never appear in the result.
  - Requests go directly to the endpoint (proxy variables are not used), over TLS verified
    against the system trust store unless O(ca_file) is set.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  probe_name:
    description:
      - This node's directory under C(__automq/readiness_check/installer/), e.g. the node ID
        or the inventory hostname. Characters other than letters, digits, C(.), C(_) and
        C(-) become C(_).
      - Defaults to the host's name.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.oss_node
attributes:
  check_mode:
    support: full
    details: In check mode only the HEAD step runs (nothing is written); C(mode) is C(head-only).
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Prove OSS access before AutoMQ's first start
  automq.platform.oss_readiness:
    probe_name: "{{ automq_node_id }}"
  become: true

- name: Against the test bed's emulator, whose certificates come from its own CA
  automq.platform.oss_readiness:
    server_properties: /etc/automq/server.properties
    credentials_env: /etc/automq/credentials.env
    ca_file: /usr/local/share/ca-certificates/emulator-ca.crt
  register: oss
"""

RETURN = r"""
ready:
  description: Whether every bucket passed every step that ran.
  type: bool
  returned: always
mode:
  description: C(full), or C(head-only) in check mode.
  type: str
  returned: when the configuration could be read
buckets:
  description: One entry per distinct bucket checked.
  type: list
  elements: dict
  returned: when the configuration could be read
  contains:
    roles:
      description: What AutoMQ uses the bucket for, of C(data), C(ops), C(wal).
      type: list
      elements: str
    bucket:
      description: The bucket's name.
      type: str
    region:
      description: The signing region of the bucket URI, e.g. C(oss-cn-hangzhou).
      type: str
    endpoint:
      description: The endpoint of the bucket URI.
      type: str
    url:
      description: The bucket's URL as requested (virtual-hosted unless the URI sets pathStyle=true).
      type: str
    access_key_id:
      description: The AccessKey ID used (never the secret).
      type: str
    credentials_source:
      description: Where the AccessKey came from.
      type: str
    mode:
      description: C(full) or C(head-only).
      type: str
    ok:
      description: Whether every step passed.
      type: bool
    probe_prefix:
      description: The prefix under which this check wrote its objects.
      type: str
    steps:
      description: The steps that ran, in order, with C(step), C(ok), C(http_status) and C(elapsed_ms).
      type: list
      elements: dict
    failure:
      description:
        - The failing step, or null. Keys C(step), C(http_status) (null without an HTTP
          answer), C(code) (OSS/S3 error code, or C(DNSFailure), C(ConnectionRefused),
          C(Timeout), C(NetworkUnreachable), C(CertificateError), C(TLSError),
          C(ConnectionError), C(ContentMismatch), ...), C(message), C(fix), C(request_id)
          and C(ec) (OSS's detailed error code).
      type: dict
    leftover_keys:
      description: Probe objects that could not be deleted; remove them by hand.
      type: list
      elements: str
    cleanup:
      description: What was cleaned up after a failure.
      type: str
    summary:
      description: One sentence on this bucket.
      type: str
problems:
  description: One sentence per failing bucket (also joined into C(msg) on failure).
  type: list
  elements: str
  returned: always
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.oss_readiness import (
    check_buckets,
)
from ansible_collections.automq.platform.plugins.module_utils.oss_node import (
    OSS_NODE_OPTIONS,
    open_oss_node,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={**OSS_NODE_OPTIONS, "probe_name": {"type": "str"}},
        supports_check_mode=True,
    )
    params = module.params
    targets, redactor, transport = open_oss_node(module, ready=False, problems=[])
    reports = check_buckets(
        targets,
        transport,
        name=params["probe_name"] or socket.gethostname(),
        check_mode=module.check_mode,
    )
    problems = [report.summary() for report in reports if not report.ok]
    result = redactor.data(
        {
            "changed": False,
            "ready": not problems,
            "mode": "head-only" if module.check_mode else "full",
            "buckets": [report.as_dict() for report in reports],
            "problems": problems,
        }
    )
    if problems:
        module.fail_json(msg="\n".join(result["problems"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
