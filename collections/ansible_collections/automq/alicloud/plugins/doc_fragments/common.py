"""Documentation shared by the automq.alicloud modules."""

from __future__ import annotations


class ModuleDocFragment:
    # Connection: region, endpoint override, credentials.
    DOCUMENTATION = r"""
options:
  region:
    description:
      - Alibaba Cloud region, for example C(cn-hangzhou).
      - Defaults to the environment variable E(ALIBABA_CLOUD_REGION_ID).
      - Required by the regional services (ECS, VPC, OSS); RAM, PrivateZone and STS work
        without it.
    type: str
  endpoint:
    description:
      - Endpoint of this module's service, as C(host[:port]) or C(http(s)://host[:port]), for
        example a local emulator C(127.0.0.1:18080).
      - Defaults to the environment variable E(AUTOMQ_ALICLOUD_<SERVICE>_ENDPOINT)
        (C(ECS), C(VPC), C(RAM), C(PVTZ), C(STS), C(OSS)), else the public endpoint of the
        region. Services a module uses besides its own are reached through their variable.
    type: str
  protocol:
    description:
      - Protocol for O(endpoint) when it carries no scheme.
    type: str
    choices: [http, https]
  access_key_id:
    description:
      - AccessKey ID to sign requests with, together with O(access_key_secret).
      - When both are omitted the SDK's default credential chain is used, in order
        E(ALIBABA_CLOUD_ACCESS_KEY_ID)/E(ALIBABA_CLOUD_ACCESS_KEY_SECRET)
        (+ E(ALIBABA_CLOUD_SECURITY_TOKEN)), OIDC role, the C(~/.aliyun/config.json) profile
        (E(ALIBABA_CLOUD_PROFILE)), C(~/.alibabacloud/credentials.ini), the ECS instance RAM role,
        E(ALIBABA_CLOUD_CREDENTIALS_URI).
    type: str
  access_key_secret:
    description:
      - AccessKey secret belonging to O(access_key_id). Keep it in ansible-vault.
    type: str
  security_token:
    description:
      - STS security token, when O(access_key_id) is a temporary STS key.
    type: str
requirements:
  - python >= 3.11
  - alibabacloud-credentials
  - the SDK of the module's service (alibabacloud-ecs20140526, alibabacloud-vpc20160428,
    alibabacloud-ram20150501, alibabacloud-pvtz20180101, alibabacloud-sts20150401 or
    alibabacloud-oss-v2)
notes:
  - Throttling (C(Throttling*)) and C(ServiceUnavailable) answers are retried up to 6 attempts
    with exponential backoff and jitter (E(AUTOMQ_ALICLOUD_MAX_ATTEMPTS),
    E(AUTOMQ_ALICLOUD_RETRY_BASE_DELAY) seconds, default 1); other errors fail at once with
    one sentence naming the resource, the cause and the fix, plus C(error_code) and
    C(request_id).
"""

    # Cluster ownership tags.
    CLUSTER = r"""
options:
  cluster:
    description:
      - Name of the AutoMQ cluster the resource belongs to.
      - The resource is tagged C(automq:cluster=<cluster>) and C(managed-by=automq-ansible),
        and is looked up by its name together with that tag, so clusters in one account never
        see each other's resources.
    type: str
    required: true
  tags:
    description:
      - Further tags to set on the resource. C(automq:cluster) and C(managed-by) are set by the
        module and cannot be given here.
    type: dict
    default: {}
  purge_tags:
    description:
      - Also remove tags of the resource that are not in O(tags) (and not the two standard
        ones). By default foreign tags are left alone.
    type: bool
    default: false
"""
