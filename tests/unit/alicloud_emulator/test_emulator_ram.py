"""RAM 2015-05-01 and STS 2015-04-01 through the official SDK."""

from __future__ import annotations

import json

import pytest
from alibabacloud_ram20150501 import models as ram_models
from alibabacloud_vpc20160428 import models as vpc_models
from test_emulator_vpc import REGION, error_of
from tests.alicloud_emulator import Emulator
from tests.alicloud_emulator.sdk import Clients, make_clients


def document(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "1", "Statement": list(statements)})


OSS_WRITE = document(
    {
        "Effect": "Allow",
        "Action": ["oss:PutObject", "oss:GetObject", "oss:DeleteObject", "oss:ListObjects"],
        "Resource": ["acs:oss:*:*:automq-data", "acs:oss:*:*:automq-data/*"],
    }
)


def test_users(clients: Clients) -> None:
    created = clients.ram.create_user(
        ram_models.CreateUserRequest(user_name="automq", display_name="AutoMQ", comments="brokers")
    ).body.user
    assert created.user_name == "automq"
    assert len(created.user_id) == 16
    fetched = clients.ram.get_user(ram_models.GetUserRequest(user_name="automq")).body.user
    assert (fetched.user_id, fetched.display_name, fetched.comments) == (
        created.user_id,
        "AutoMQ",
        "brokers",
    )
    error = error_of(
        lambda: clients.ram.create_user(ram_models.CreateUserRequest(user_name="automq"))
    )
    assert (error.status_code, error.code) == (409, "EntityAlreadyExists.User")
    error = error_of(
        lambda: clients.ram.create_user(ram_models.CreateUserRequest(user_name="bad name"))
    )
    assert error.code == "InvalidParameter.UserName.InvalidChars"
    clients.ram.delete_user(ram_models.DeleteUserRequest(user_name="automq"))
    error = error_of(lambda: clients.ram.get_user(ram_models.GetUserRequest(user_name="automq")))
    assert (error.status_code, error.code) == (404, "EntityNotExist.User")


def test_policies_and_versions(clients: Clients) -> None:
    policy = clients.ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name="automq-oss", policy_document=OSS_WRITE, description="AutoMQ buckets"
        )
    ).body.policy
    assert (policy.policy_type, policy.default_version) == ("Custom", "v1")
    get = ram_models.GetPolicyRequest(policy_name="automq-oss", policy_type="Custom")
    fetched = clients.ram.get_policy(get).body
    assert fetched.default_policy_version.policy_document == OSS_WRITE
    assert fetched.default_policy_version.version_id == "v1"
    assert fetched.policy.description == "AutoMQ buckets"
    error = error_of(
        lambda: clients.ram.create_policy(
            ram_models.CreatePolicyRequest(policy_name="automq-oss", policy_document=OSS_WRITE)
        )
    )
    assert (error.status_code, error.code) == (409, "EntityAlreadyExists.Policy")

    newer = document({"Effect": "Allow", "Action": "oss:*", "Resource": "*"})
    for _ in range(4):
        clients.ram.create_policy_version(
            ram_models.CreatePolicyVersionRequest(
                policy_name="automq-oss", policy_document=newer, set_as_default=True
            )
        )
    assert clients.ram.get_policy(get).body.policy.default_version == "v5"
    error = error_of(
        lambda: clients.ram.create_policy_version(
            ram_models.CreatePolicyVersionRequest(policy_name="automq-oss", policy_document=newer)
        )
    )
    assert (error.status_code, error.code) == (409, "LimitExceeded.Policy.Version")
    rotated = clients.ram.create_policy_version(
        ram_models.CreatePolicyVersionRequest(
            policy_name="automq-oss", policy_document=OSS_WRITE, set_as_default=True,
            rotate_strategy="DeleteOldestNonDefaultVersionWhenLimitExceeded",
        )
    ).body.policy_version  # fmt: skip
    assert (rotated.version_id, rotated.is_default_version) == ("v6", True)
    versions = clients.ram.list_policy_versions(
        ram_models.ListPolicyVersionsRequest(policy_name="automq-oss", policy_type="Custom")
    ).body.policy_versions.policy_version
    assert sorted(v.version_id for v in versions) == ["v2", "v3", "v4", "v5", "v6"]
    error = error_of(
        lambda: clients.ram.delete_policy_version(
            ram_models.DeletePolicyVersionRequest(policy_name="automq-oss", version_id="v6")
        )
    )
    assert error.code == "DeleteConflict.PolicyVersion.Default"
    error = error_of(
        lambda: clients.ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="automq-oss"))
    )
    assert error.code == "DeleteConflict.Policy.Version"
    for version in ("v2", "v3", "v4", "v5"):
        clients.ram.delete_policy_version(
            ram_models.DeletePolicyVersionRequest(policy_name="automq-oss", version_id=version)
        )
    clients.ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="automq-oss"))
    error = error_of(lambda: clients.ram.get_policy(get))
    assert (error.status_code, error.code) == (404, "EntityNotExist.Policy")


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        json.dumps(
            {"Version": "2", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
        json.dumps({"Version": "1", "Statement": []}),
        document({"Effect": "Maybe", "Action": "*", "Resource": "*"}),
        document({"Effect": "Allow", "Resource": "*"}),
    ],
)
def test_malformed_policy_documents(clients: Clients, bad: str) -> None:
    error = error_of(
        lambda: clients.ram.create_policy(
            ram_models.CreatePolicyRequest(policy_name="p", policy_document=bad)
        )
    )
    assert (error.status_code, error.code) == (400, "MalformedPolicyDocument")


def test_system_policy_is_readable(clients: Clients) -> None:
    body = clients.ram.get_policy(
        ram_models.GetPolicyRequest(policy_name="AliyunOSSFullAccess", policy_type="System")
    ).body
    assert (
        json.loads(body.default_policy_version.policy_document)["Statement"][0]["Action"] == "oss:*"
    )


def test_attach_list_detach(clients: Clients) -> None:
    clients.ram.create_user(ram_models.CreateUserRequest(user_name="automq"))
    clients.ram.create_policy(
        ram_models.CreatePolicyRequest(policy_name="automq-oss", policy_document=OSS_WRITE)
    )
    attach = ram_models.AttachPolicyToUserRequest(
        policy_type="Custom", policy_name="automq-oss", user_name="automq"
    )
    clients.ram.attach_policy_to_user(attach)
    error = error_of(lambda: clients.ram.attach_policy_to_user(attach))
    assert (error.status_code, error.code) == (409, "EntityAlreadyExists.User.Policy")
    listed = clients.ram.list_policies_for_user(
        ram_models.ListPoliciesForUserRequest(user_name="automq")
    ).body.policies.policy
    assert [(p.policy_name, p.policy_type) for p in listed] == [("automq-oss", "Custom")]
    assert (
        clients.ram.get_policy(
            ram_models.GetPolicyRequest(policy_name="automq-oss", policy_type="Custom")
        ).body.policy.attachment_count
        == 1
    )
    error = error_of(
        lambda: clients.ram.delete_policy(ram_models.DeletePolicyRequest(policy_name="automq-oss"))
    )
    assert error.code == "DeleteConflict.Policy.User"
    error = error_of(
        lambda: clients.ram.delete_user(ram_models.DeleteUserRequest(user_name="automq"))
    )
    assert error.code == "DeleteConflict.User.Policy"
    detach = ram_models.DetachPolicyFromUserRequest(
        policy_type="Custom", policy_name="automq-oss", user_name="automq"
    )
    clients.ram.detach_policy_from_user(detach)
    error = error_of(lambda: clients.ram.detach_policy_from_user(detach))
    assert (error.status_code, error.code) == (404, "EntityNotExist.User.Policy")
    error = error_of(
        lambda: clients.ram.attach_policy_to_user(
            ram_models.AttachPolicyToUserRequest(
                policy_type="Custom", policy_name="absent", user_name="automq"
            )
        )
    )
    assert error.code == "EntityNotExist.Policy"


def test_access_keys(clients: Clients) -> None:
    clients.ram.create_user(ram_models.CreateUserRequest(user_name="automq"))
    keys = [
        clients.ram.create_access_key(
            ram_models.CreateAccessKeyRequest(user_name="automq")
        ).body.access_key
        for _ in range(2)
    ]
    assert all(k.access_key_id.startswith("LTAI") and len(k.access_key_secret) == 30 for k in keys)
    assert all(k.status == "Active" and k.create_date for k in keys)
    error = error_of(
        lambda: clients.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="automq"))
    )
    assert (error.status_code, error.code) == (409, "LimitExceeded.User.AccessKey")
    listed = clients.ram.list_access_keys(
        ram_models.ListAccessKeysRequest(user_name="automq")
    ).body.access_keys.access_key
    assert [k.access_key_id for k in listed] == [k.access_key_id for k in keys]
    assert all("AccessKeySecret" not in k.to_map() for k in listed)
    error = error_of(
        lambda: clients.ram.delete_user(ram_models.DeleteUserRequest(user_name="automq"))
    )
    assert error.code == "DeleteConflict.User.AccessKey"
    for key in keys:
        clients.ram.delete_access_key(
            ram_models.DeleteAccessKeyRequest(
                user_name="automq", user_access_key_id=key.access_key_id
            )
        )
    error = error_of(
        lambda: clients.ram.delete_access_key(
            ram_models.DeleteAccessKeyRequest(
                user_name="automq", user_access_key_id=keys[0].access_key_id
            )
        )
    )
    assert (error.status_code, error.code) == (404, "EntityNotExist.User.AccessKey")
    clients.ram.delete_user(ram_models.DeleteUserRequest(user_name="automq"))


def test_ram_user_permissions_on_rpc(clients: Clients, emulator: Emulator) -> None:
    clients.ram.create_user(ram_models.CreateUserRequest(user_name="ops"))
    key = clients.ram.create_access_key(ram_models.CreateAccessKeyRequest(user_name="ops")).body
    user = make_clients(emulator, key.access_key.access_key_id, key.access_key.access_key_secret)
    describe = vpc_models.DescribeVpcsRequest(region_id=REGION)
    assert error_of(lambda: user.vpc.describe_vpcs(describe)).code == "Forbidden.RAM"
    error = error_of(lambda: user.ram.get_user(ram_models.GetUserRequest(user_name="ops")))
    assert (error.status_code, error.code) == (403, "NoPermission")
    clients.ram.create_policy(
        ram_models.CreatePolicyRequest(
            policy_name="vpc-read",
            policy_document=document(
                {"Effect": "Allow", "Action": "vpc:Describe*", "Resource": "*"},
                {"Effect": "Deny", "Action": "vpc:DescribeVSwitches", "Resource": "*"},
            ),
        )
    )
    clients.ram.attach_policy_to_user(
        ram_models.AttachPolicyToUserRequest(
            policy_type="Custom", policy_name="vpc-read", user_name="ops"
        )
    )
    assert user.vpc.describe_vpcs(describe).body.total_count == 0
    error = error_of(
        lambda: user.vpc.describe_vswitches(vpc_models.DescribeVSwitchesRequest(region_id=REGION))
    )
    assert error.code == "Forbidden.RAM"
    error = error_of(
        lambda: user.vpc.create_vpc(
            vpc_models.CreateVpcRequest(region_id=REGION, cidr_block="10.0.0.0/16")
        )
    )
    assert error.code == "Forbidden.RAM"
