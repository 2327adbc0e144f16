#!/usr/bin/python
"""Ansible module bucket_identity: which cluster a data bucket belongs to."""

from __future__ import annotations

DOCUMENTATION = r"""
module: bucket_identity
short_description: Refuse another cluster's OSS bucket, and record this cluster's identity in its own
description:
  - Reads the node's C(server.properties) and C(credentials.env) and, for every data and WAL
    bucket (C(s3.data.buckets), C(s3.wal.path)), reads C(automq-installer/cluster-identity.json)
    and lists the bucket's top level, with the AccessKey, endpoint and addressing AutoMQ uses.
  - AutoMQ names its objects after the cluster ID and numbers them from 0 in a new quorum
    (C(ObjectUtils.genKey), s3stream/.../metadata/ObjectUtils.java), so a new quorum on a kept
    bucket overwrites or orphans the objects there.
  - With O(new_quorum) (no controller has its metadata, this run formats a new quorum) it
    fails when a bucket holds an identity (of any cluster, this cluster ID included) or any
    top-level entry but AutoMQ's readiness probes (C(__automq/)) and the identity.
  - Without it, it fails when a bucket's identity names another cluster ID, or when the
    bucket holds AutoMQ objects of another cluster ID (C(<prefix>/_kafka_<ID>/)); when the
    identity is missing it writes it (changed).
  - Failure messages name the bucket, what it holds and the ways out; they never contain the
    AccessKey secret or a signature.
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  cluster_id:
    description: The cluster ID of this run (the one formatted, or to be formatted).
    type: str
    required: true
  cluster_name:
    description: The cluster's name, written into the identity.
    type: str
    default: ""
  new_quorum:
    description: Whether this run formats a new quorum (no controller has its metadata).
    type: bool
    required: true
  recorded_by:
    description: Who records the identity (written into it); defaults to the host's name.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.platform.oss_node
attributes:
  check_mode:
    support: full
    details: In check mode the identity is not written; C(changed) says whether it would be.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Check the data bucket before formatting a new quorum
  automq.platform.bucket_identity:
    cluster_id: "{{ automq_node.cluster_id }}"
    cluster_name: automq
    new_quorum: true

- name: Record the identity once the quorum is formatted
  automq.platform.bucket_identity:
    cluster_id: "{{ automq_node.cluster_id }}"
    cluster_name: automq
    new_quorum: false
"""

RETURN = r"""
buckets:
  description: One entry per data or WAL bucket.
  type: list
  elements: dict
  returned: when the configuration could be read
  contains:
    bucket:
      description: The bucket's name.
      type: str
    roles:
      description: What AutoMQ uses it for, of C(data) and C(wal) (and C(ops) when shared).
      type: list
      elements: str
    identity:
      description: The identity found (C(cluster_id), C(cluster_name), C(recorded_at), C(recorded_by)), or null.
      type: dict
    identity_problem:
      description: Why the identity object is not one the installer wrote, or empty.
      type: str
    data_entries:
      description: Top-level entries (at most 100) that may hold a cluster's data.
      type: list
      elements: str
    more_data_entries:
      description: Whether the listing of the top level was cut at 100 entries.
      type: bool
    cluster_ids:
      description: Cluster IDs of the AutoMQ objects seen under the first few entries.
      type: list
      elements: str
    recorded:
      description: Whether this call wrote (or in check mode would write) the identity.
      type: bool
problems:
  description: One sentence per refused bucket (also joined into C(msg) on failure).
  type: list
  elements: str
  returned: always
"""

import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.bucket_identity import (
    BucketIdentityError,
    identity_targets,
    inspect_bucket,
    judge,
    new_identity,
    record_identity,
)
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.oss_readiness import (
    BucketClient,
    utc_now,
)
from ansible_collections.automq.platform.plugins.module_utils.oss_node import (
    OSS_NODE_OPTIONS,
    open_oss_node,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **OSS_NODE_OPTIONS,
            "cluster_id": {"type": "str", "required": True},
            "cluster_name": {"type": "str", "default": ""},
            "new_quorum": {"type": "bool", "required": True},
            "recorded_by": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not params["cluster_id"]:
        module.fail_json(msg="cluster_id must not be empty", problems=[])
    targets, redactor, transport = open_oss_node(module, problems=[])
    identity = new_identity(
        params["cluster_id"],
        params["cluster_name"],
        params["recorded_by"] or socket.gethostname(),
        utc_now(),
    )
    buckets = []
    problems = []
    changed = False
    for target in identity_targets(targets):
        client = BucketClient(target, transport)
        try:
            contents = inspect_bucket(client, target.roles)
            verdict = judge(contents, params["cluster_id"], params["new_quorum"])
            if verdict.record and not module.check_mode:
                lost = record_identity(client, identity)
                if lost:
                    problems.append(lost)
        except BucketIdentityError as exc:
            problems.append(f"bucket {target.uri.bucket}: {exc}")
            continue
        changed = changed or verdict.record
        buckets.append({**contents.as_dict(), "recorded": verdict.record})
        if verdict.refusal:
            problems.append(verdict.refusal)
    result = redactor.data({"changed": changed, "buckets": buckets, "problems": problems})
    if problems:
        module.fail_json(msg="\n".join(result["problems"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
