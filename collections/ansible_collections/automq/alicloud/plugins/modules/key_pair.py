#!/usr/bin/python
"""Ansible module key_pair: import an SSH public key as an ECS key pair."""

from __future__ import annotations

DOCUMENTATION = r"""
module: key_pair
short_description: Import an SSH public key as an ECS key pair, or delete it
description:
  - Key pair names are unique in a region, so the key pair is found by O(name). A missing key
    pair is imported from O(public_key) and tagged with the cluster.
  - ECS cannot change a key pair. When the existing key pair holds another key, the module
    fails, unless O(force=true), which deletes and re-imports it (instances keep the key
    they were created with).
version_added: 0.1.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - automq.alicloud.common
  - automq.alicloud.common.cluster
options:
  name:
    description: Name of the key pair.
    type: str
    required: true
  public_key:
    description: OpenSSH public key line, for example the content of C(~/.ssh/id_ed25519.pub). Required when O(state=present).
    type: str
  force:
    description: Replace a key pair of the same name holding another key.
    type: bool
    default: false
  state:
    description: Whether the key pair should exist.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Key pair for the cluster nodes
  automq.alicloud.key_pair:
    cluster: automq-prod
    name: automq-prod
    public_key: "{{ lookup('ansible.builtin.file', '~/.ssh/automq-prod.pub') }}"
"""

RETURN = r"""
key_pair_name:
  description: Name of the key pair; null when absent.
  type: str
  returned: always
fingerprint:
  description: MD5 fingerprint of the key (hex), as computed from O(public_key) or reported by ECS.
  type: str
  returned: when the key pair exists
"""

import json
from typing import Any

from ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module import (
    AlicloudModule,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.key_pair import (
    KeyPairError,
    matches_api,
    parse_public_key,
)
from ansible_collections.automq.alicloud.plugins.module_utils.automq_helpers.alicloud.tags import (
    parse_tags,
)


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item.get("KeyPairName") or "",
        "fingerprint": str(item.get("KeyPairFingerPrint") or ""),
        "tags": parse_tags(item.get("Tags")),
    }


def main() -> None:
    cloud = AlicloudModule(
        {
            "name": {"type": "str", "required": True},
            "public_key": {"type": "str", "no_log": False},
            "force": {"type": "bool", "default": False},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        "ecs",
        cluster_tags=True,
        required_if=[("state", "present", ["public_key"])],
    )
    params = cloud.params
    name = params["name"]
    what = f"ECS key pair {name!r}"
    models = cloud.models("ecs")
    items = cloud.paged(
        "ecs",
        "DescribeKeyPairs",
        f"look up {what}",
        lambda page, size: models.DescribeKeyPairsRequest(
            region_id=cloud.region,
            key_pair_name=name,
            include_public_key=True,
            page_number=page,
            page_size=size,
        ),
        ("KeyPairs", "KeyPair"),
    )
    current = next((k for k in items if k.get("KeyPairName") == name), None)
    before = view(current) if current else {}

    def delete() -> None:
        cloud.rpc(
            "ecs",
            "DeleteKeyPairs",
            f"delete {what}",
            models.DeleteKeyPairsRequest(region_id=cloud.region, key_pair_names=json.dumps([name])),
        )

    if params["state"] == "absent":
        if current is None:
            cloud.exit(False, before, {}, key_pair_name=None)
        if not cloud.check_mode:
            delete()
        cloud.exit(True, before, {}, key_pair_name=None)

    try:
        key = parse_public_key(params["public_key"])
    except KeyPairError as exc:
        cloud.fail(str(exc))
    after = {"name": name, "fingerprint": key.md5, "tags": cloud.tags}

    if current is not None and matches_api(key, current):
        tags_changed, tags = cloud.update_tags("ecs", "keypair", name, before["tags"], what)
        after = {**before, "tags": tags}
        cloud.exit(
            tags_changed,
            before,
            after,
            key_pair_name=name,
            fingerprint=before["fingerprint"] or key.md5,
        )
    if current is not None and not params["force"]:
        cloud.fail(
            f"{what} exists but holds another public key (fingerprint "
            f"{before['fingerprint'] or 'unknown'}, yours {key.md5}): ECS cannot change a key "
            "pair; use another name, or force: true to delete and re-import it"
        )
    if cloud.check_mode:
        cloud.exit(True, before, after, key_pair_name=name, fingerprint=key.md5)
    if current is not None:
        delete()
    body = cloud.rpc(
        "ecs",
        "ImportKeyPair",
        f"import {what}",
        models.ImportKeyPairRequest(
            region_id=cloud.region,
            key_pair_name=name,
            public_key_body=key.text,
            tag=cloud.tag_models(models.ImportKeyPairRequestTag, cloud.tags),
        ),
    )
    fingerprint = str((body or {}).get("KeyPairFingerPrint") or key.md5)
    cloud.exit(
        True,
        before,
        {**after, "fingerprint": fingerprint},
        key_pair_name=name,
        fingerprint=fingerprint,
    )


if __name__ == "__main__":
    main()
