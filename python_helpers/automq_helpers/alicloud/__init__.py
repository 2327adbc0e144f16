"""Pure logic behind the automq.alicloud Ansible collection.

Everything that can be decided without talking to Alibaba Cloud lives here and is unit
tested: endpoint and credential resolution, retry with backoff, the translation of API
errors into one clear sentence, and the reconcile helpers (tags, security group rules,
instance placement, OSS lifecycle, RAM and bucket policies, DNS records, AccessKeys).

Only :mod:`.clients` imports the Alibaba Cloud SDKs, lazily, so the rest imports without
them; nothing here imports Ansible.
"""
