"""RAM 2015-05-01 (users, custom policies, AccessKeys) and STS 2015-04-01."""

from __future__ import annotations

import json
import re
from typing import Any

from .call import Call, Handler
from .state import AccessKey, PolicyVersion, RamPolicy, RamUser
from .util import ApiError, invalid, iso_seconds, random_digits, random_string, utcnow

USER_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9-]+$")
MAX_VERSIONS = 5
MAX_ACCESS_KEYS = 2

SYSTEM_POLICIES = {
    "AdministratorAccess": ("Full access to all resources", "*"),
    "AliyunOSSFullAccess": ("Full access to OSS", "oss:*"),
    "AliyunOSSReadOnlyAccess": ("Read-only access to OSS", ["oss:Get*", "oss:List*"]),
    "AliyunECSFullAccess": ("Full access to ECS", "ecs:*"),
    "AliyunVPCFullAccess": ("Full access to VPC", "vpc:*"),
    "AliyunRAMFullAccess": ("Full access to RAM", "ram:*"),
    "AliyunPvtzFullAccess": ("Full access to PrivateZone", "pvtz:*"),
}


def system_policies() -> dict[tuple[str, str], RamPolicy]:
    policies = {}
    for name, (description, action) in SYSTEM_POLICIES.items():
        document = json.dumps(
            {"Version": "1", "Statement": [{"Action": action, "Resource": "*", "Effect": "Allow"}]}
        )
        policies[("System", name)] = RamPolicy(
            name=name,
            policy_type="System",
            description=description,
            default_version="v1",
            versions={"v1": PolicyVersion("v1", document)},
        )
    return policies


def validate_policy_document(document: str) -> None:
    if len(document) > 6144:
        raise ApiError(
            400,
            "InvalidParameter.PolicyDocument.Length",
            "The maximum length of the policy document is exceeded. It must not exceed 6144 "
            "characters.",
        )
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError as error:
        raise ApiError(
            400, "MalformedPolicyDocument", f"The policy document is not JSON: {error}."
        ) from None
    problems = []
    if not isinstance(parsed, dict):
        problems.append("the document must be a JSON object")
    else:
        if parsed.get("Version") != "1":
            problems.append('"Version" must be "1"')
        statements = parsed.get("Statement")
        if not isinstance(statements, list) or not statements:
            problems.append('"Statement" must be a non-empty list')
        else:
            for index, statement in enumerate(statements):
                if not isinstance(statement, dict):
                    problems.append(f"statement {index} must be an object")
                    continue
                if statement.get("Effect") not in ("Allow", "Deny"):
                    problems.append(f'statement {index}: "Effect" must be Allow or Deny')
                for element in ("Action", "Resource"):
                    if not statement.get(element) and not statement.get("Not" + element):
                        problems.append(f'statement {index}: "{element}" is required')
    if problems:
        raise ApiError(
            400,
            "MalformedPolicyDocument",
            "The policy document is malformed: " + "; ".join(problems) + ".",
        )


# --------------------------------------------------------------------------- users


def get_user_record(call: Call, name: str) -> RamUser:
    user = call.emulator.state.users.get(name)
    if user is None:
        raise ApiError(404, "EntityNotExist.User", "The user does not exist.")
    return user


def _user_view(user: RamUser, created: bool = False) -> dict[str, Any]:
    view = {
        "UserId": user.id,
        "UserName": user.name,
        "DisplayName": user.display_name,
        "Comments": user.comments,
        "Email": user.email,
        "MobilePhone": user.mobile_phone,
        "CreateDate": iso_seconds(user.created),
    }
    if not created:
        view["UpdateDate"] = iso_seconds(user.updated)
        view["LastLoginDate"] = ""
    return view


def get_user(call: Call) -> dict[str, Any]:
    name = call.params.get("UserName") or call.principal.user_name
    if name is None:
        raise ApiError(400, "MissingParameter", 'The input parameter "UserName" is not supplied.')
    return {"User": _user_view(get_user_record(call, name))}


def create_user(call: Call) -> dict[str, Any]:
    params = call.params
    name = params.require("UserName")
    if not USER_NAME_RE.match(name):
        raise ApiError(
            400,
            "InvalidParameter.UserName.InvalidChars",
            "The parameter UserName contains invalid characters.",
        )
    users = call.emulator.state.users
    if name in users:
        raise ApiError(409, "EntityAlreadyExists.User", "The user already exists.")
    user = RamUser(
        id=random_digits(16),
        name=name,
        display_name=params.get("DisplayName", name) or name,
        comments=params.get("Comments", "") or "",
        email=params.get("Email", "") or "",
        mobile_phone=params.get("MobilePhone", "") or "",
    )
    users[name] = user
    return {"User": _user_view(user, created=True)}


def delete_user(call: Call) -> dict[str, Any]:
    user = get_user_record(call, call.params.require("UserName"))
    state = call.emulator.state
    if any(k.user_name == user.name for k in state.access_keys.values()):
        raise ApiError(409, "DeleteConflict.User.AccessKey", "The user has access keys.")
    if user.policies:
        raise ApiError(409, "DeleteConflict.User.Policy", "The user has attached policies.")
    del state.users[user.name]
    return {}


# --------------------------------------------------------------------------- policies


def _policy_type(call: Call, required: bool = True) -> str:
    value = (
        call.params.require("PolicyType") if required else call.params.get("PolicyType", "Custom")
    )
    if value not in ("Custom", "System"):
        raise ApiError(
            400,
            "InvalidParameter.PolicyType.InvalidValue",
            "The parameter PolicyType must be Custom or System.",
        )
    return value or "Custom"


def get_policy_record(call: Call, policy_type: str, name: str) -> RamPolicy:
    policy = call.emulator.state.policies.get((policy_type, name))
    if policy is None:
        raise ApiError(404, "EntityNotExist.Policy", "The policy does not exist.")
    return policy


def _attachments(call: Call, policy: RamPolicy) -> int:
    key = (policy.policy_type, policy.name)
    return sum(1 for user in call.emulator.state.users.values() if key in user.policies)


def _version_view(policy: RamPolicy, version: PolicyVersion) -> dict[str, Any]:
    return {
        "VersionId": version.id,
        "IsDefaultVersion": version.id == policy.default_version,
        "PolicyDocument": version.document,
        "CreateDate": iso_seconds(version.created),
    }


def create_policy(call: Call) -> dict[str, Any]:
    params = call.params
    name = params.require("PolicyName")
    if not 1 <= len(name) <= 128:
        raise ApiError(
            400,
            "InvalidParameter.PolicyName.Length",
            "The length of the policy name is invalid. It must be 1 to 128 characters in length.",
        )
    if not POLICY_NAME_RE.match(name):
        raise ApiError(
            400,
            "InvalidParameter.PolicyName.InvalidChars",
            "The policy name contains invalid characters. It must only contain upper or lower "
            "case letters, numbers, and dash (-).",
        )
    document = params.require("PolicyDocument")
    validate_policy_document(document)
    description = params.get("Description", "") or ""
    if len(description) > 1024:
        raise ApiError(400, "InvalidParameter.Description.Length", "The description is too long.")
    policies = call.emulator.state.policies
    if ("Custom", name) in policies:
        raise ApiError(409, "EntityAlreadyExists.Policy", "The policy already exists.")
    policy = RamPolicy(
        name=name,
        policy_type="Custom",
        description=description,
        default_version="v1",
        versions={"v1": PolicyVersion("v1", document)},
    )
    policies[("Custom", name)] = policy
    return {
        "Policy": {
            "PolicyName": name,
            "PolicyType": "Custom",
            "Description": description,
            "DefaultVersion": "v1",
            "CreateDate": iso_seconds(policy.created),
        }
    }


def get_policy(call: Call) -> dict[str, Any]:
    policy = get_policy_record(call, _policy_type(call), call.params.require("PolicyName"))
    return {
        "Policy": {
            "PolicyName": policy.name,
            "PolicyType": policy.policy_type,
            "Description": policy.description,
            "DefaultVersion": policy.default_version,
            "PolicyDocument": policy.document,
            "CreateDate": iso_seconds(policy.created),
            "UpdateDate": iso_seconds(policy.updated),
            "AttachmentCount": _attachments(call, policy),
        },
        "DefaultPolicyVersion": _version_view(policy, policy.versions[policy.default_version]),
    }


def create_policy_version(call: Call) -> dict[str, Any]:
    params = call.params
    policy = get_policy_record(call, "Custom", params.require("PolicyName"))
    document = params.require("PolicyDocument")
    validate_policy_document(document)
    rotate = params.get("RotateStrategy", "None")
    if rotate not in ("None", "DeleteOldestNonDefaultVersionWhenLimitExceeded"):
        raise invalid("RotateStrategy")
    if len(policy.versions) >= MAX_VERSIONS:
        if rotate == "None":
            raise ApiError(
                409,
                "LimitExceeded.Policy.Version",
                f"Exceeded the maximum number of versions ({MAX_VERSIONS}) of the policy.",
            )
        oldest = next(v for v in policy.versions if v != policy.default_version)
        del policy.versions[oldest]
    version = PolicyVersion(f"v{policy.next_version}", document)
    policy.next_version += 1
    policy.versions[version.id] = version
    if params.bool("SetAsDefault"):
        policy.default_version = version.id
    policy.updated = utcnow()
    return {"PolicyVersion": _version_view(policy, version)}


def list_policy_versions(call: Call) -> dict[str, Any]:
    policy = get_policy_record(call, _policy_type(call), call.params.require("PolicyName"))
    return {
        "PolicyVersions": {
            "PolicyVersion": [_version_view(policy, v) for v in reversed(policy.versions.values())]
        }
    }


def delete_policy_version(call: Call) -> dict[str, Any]:
    policy = get_policy_record(call, "Custom", call.params.require("PolicyName"))
    version_id = call.params.require("VersionId")
    if version_id not in policy.versions:
        raise ApiError(404, "EntityNotExist.Policy.Version", "The policy version does not exist.")
    if version_id == policy.default_version:
        raise ApiError(
            409,
            "DeleteConflict.PolicyVersion.Default",
            "The default version of a policy cannot be deleted.",
        )
    del policy.versions[version_id]
    return {}


def delete_policy(call: Call) -> dict[str, Any]:
    policy = get_policy_record(call, "Custom", call.params.require("PolicyName"))
    cascade = call.params.bool("CascadingDelete")
    users = [u for u in call.emulator.state.users.values() if ("Custom", policy.name) in u.policies]
    if users and not cascade:
        raise ApiError(
            409, "DeleteConflict.Policy.User", "The policy has been attached to user(s)."
        )
    if len(policy.versions) > 1 and not cascade:
        raise ApiError(
            409,
            "DeleteConflict.Policy.Version",
            "The policy has non-default versions; delete them first.",
        )
    for user in users:
        user.policies.pop(("Custom", policy.name), None)
    del call.emulator.state.policies[("Custom", policy.name)]
    return {}


def attach_policy_to_user(call: Call) -> dict[str, Any]:
    params = call.params
    policy_type = _policy_type(call)
    policy = get_policy_record(call, policy_type, params.require("PolicyName"))
    user = get_user_record(call, params.require("UserName"))
    key = (policy_type, policy.name)
    if key in user.policies:
        raise ApiError(
            409, "EntityAlreadyExists.User.Policy", "The policy has been attached to the user."
        )
    user.policies[key] = utcnow()
    return {}


def detach_policy_from_user(call: Call) -> dict[str, Any]:
    params = call.params
    policy_type = _policy_type(call)
    policy = get_policy_record(call, policy_type, params.require("PolicyName"))
    user = get_user_record(call, params.require("UserName"))
    if user.policies.pop((policy_type, policy.name), None) is None:
        raise ApiError(404, "EntityNotExist.User.Policy", "The policy is not attached to the user.")
    return {}


def list_policies_for_user(call: Call) -> dict[str, Any]:
    user = get_user_record(call, call.params.require("UserName"))
    entries = []
    for (policy_type, name), attached in user.policies.items():
        policy = call.emulator.state.policies.get((policy_type, name))
        if policy is None:
            continue
        entries.append(
            {
                "PolicyName": name,
                "PolicyType": policy_type,
                "Description": policy.description,
                "DefaultVersion": policy.default_version,
                "AttachDate": iso_seconds(attached),
            }
        )
    return {"Policies": {"Policy": entries}}


# --------------------------------------------------------------------------- access keys


def create_access_key(call: Call) -> dict[str, Any]:
    name = call.params.get("UserName") or call.principal.user_name
    state = call.emulator.state
    if name is not None:
        get_user_record(call, name)
    if sum(1 for k in state.access_keys.values() if k.user_name == name) >= MAX_ACCESS_KEYS:
        raise ApiError(
            409,
            "LimitExceeded.User.AccessKey",
            "The number of access keys of the user exceeds the limit.",
        )
    key = AccessKey(id="LTAI5t" + random_string(18), secret=random_string(30), user_name=name)
    state.access_keys[key.id] = key
    return {
        "AccessKey": {
            "AccessKeyId": key.id,
            "AccessKeySecret": key.secret,
            "Status": key.status,
            "CreateDate": iso_seconds(key.created),
        }
    }


def list_access_keys(call: Call) -> dict[str, Any]:
    name = call.params.get("UserName") or call.principal.user_name
    if name is not None:
        get_user_record(call, name)
    keys = [k for k in call.emulator.state.access_keys.values() if k.user_name == name]
    return {
        "AccessKeys": {
            "AccessKey": [
                {"AccessKeyId": k.id, "Status": k.status, "CreateDate": iso_seconds(k.created)}
                for k in keys
            ]
        }
    }


def delete_access_key(call: Call) -> dict[str, Any]:
    name = call.params.get("UserName") or call.principal.user_name
    if name is not None:
        get_user_record(call, name)
    key_id = call.params.require("UserAccessKeyId")
    key = call.emulator.state.access_keys.get(key_id)
    if key is None or key.user_name != name or key_id == call.emulator.config.access_key_id:
        raise ApiError(404, "EntityNotExist.User.AccessKey", "The access key does not exist.")
    del call.emulator.state.access_keys[key_id]
    return {}


def update_access_key(call: Call) -> dict[str, Any]:
    """Status Active or Inactive; an inactive key signs nothing (InvalidAccessKeyId)."""
    name = call.params.get("UserName") or call.principal.user_name
    if name is not None:
        get_user_record(call, name)
    key_id = call.params.require("UserAccessKeyId")
    status = call.params.require("Status")
    if status not in ("Active", "Inactive"):
        raise invalid("Status", "It must be Active or Inactive.")
    key = call.emulator.state.access_keys.get(key_id)
    if key is None or key.user_name != name or key_id == call.emulator.config.access_key_id:
        raise ApiError(404, "EntityNotExist.User.AccessKey", "The access key does not exist.")
    key.status = status
    return {}


# --------------------------------------------------------------------------- STS


def get_caller_identity(call: Call) -> dict[str, Any]:
    principal = call.principal
    account = principal.account_id
    if principal.is_account:
        return {
            "AccountId": account,
            "Arn": f"acs:ram::{account}:root",
            "UserId": account,
            "PrincipalId": account,
            "IdentityType": "Account",
        }
    return {
        "AccountId": account,
        "Arn": f"acs:ram::{account}:user/{principal.user_name}",
        "UserId": principal.user_id,
        "PrincipalId": principal.user_id,
        "IdentityType": "RAMUser",
    }


RAM_ACTIONS: dict[str, Handler] = {
    "GetUser": get_user,
    "CreateUser": create_user,
    "DeleteUser": delete_user,
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "CreatePolicyVersion": create_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "DeletePolicy": delete_policy,
    "AttachPolicyToUser": attach_policy_to_user,
    "DetachPolicyFromUser": detach_policy_from_user,
    "ListPoliciesForUser": list_policies_for_user,
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "DeleteAccessKey": delete_access_key,
    "UpdateAccessKey": update_access_key,
}

STS_ACTIONS: dict[str, Handler] = {"GetCallerIdentity": get_caller_identity}
