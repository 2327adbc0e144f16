"""kafka_scram_users and kafka_acls through real ansible-playbook against a fake broker
that answers with canned frames: the modules' glue, check and diff mode, argument
checks, and no password in any result.  The real broker is in
tests/integration/test_kafka_admin_modules.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_ansible_plugins import run_playbook
from test_decommission_plugins import FakeBroker, _api_versions
from test_kafka_admin import DESCRIBE_ACLS_RESPONSE, cs, frame, i16, i32

SECRET = "never-shown-pw-8c2f1e"
OTHER_SECRET = "never-shown-either-77a0"
VERSIONS = _api_versions({3: (0, 12), 18: (0, 4), 29: (0, 3), 30: (0, 3), 31: (0, 3), 50: (0, 0)})
TAGS = b"\x00"


def users_task(port: int, users: list[dict[str, Any]], **options: Any) -> dict[str, Any]:
    return {
        "name": "users",
        "automq.platform.kafka_scram_users": {
            "bootstrap_server": f"127.0.0.1:{port}",
            "login_server": "127.0.0.1:9",
            "users": users,
            "timeout": 2,
            **options,
        },
        "ignore_errors": True,
    }


def acls_task(port: int, acls: list[dict[str, Any]], principals: list[str]) -> dict[str, Any]:
    return {
        "name": "acls",
        "automq.platform.kafka_acls": {
            "bootstrap_server": f"127.0.0.1:{port}",
            "acls": acls,
            "principals": principals,
            "timeout": 2,
        },
    }


def test_scram_users_check_mode_plans_without_logging_in(tmp_path: Path) -> None:
    describe = (
        i32(0) + i16(0) + b"\x00" + b"\x03"
        + cs("bob") + i16(91) + cs("Attempt to describe a user credential that does not exist: bob")
        + b"\x01" + TAGS
        + cs("old") + i16(0) + b"\x00" + b"\x02" + b"\x02" + i32(8192) + TAGS + TAGS
        + TAGS
    )  # fmt: skip
    users = [
        {"name": "bob", "password": SECRET},
        {"name": "old", "state": "absent", "password": OTHER_SECRET},
    ]
    with FakeBroker({18: VERSIONS, 50: frame(describe)}) as broker:
        # The login server (port 9) is never tried: bob has no credential to check.
        rc, results = run_playbook(tmp_path, [users_task(broker.port, users)], "--check")
    assert rc == 0, results
    result = results["users"]
    assert result.get("failed") is not True, result
    assert (result["changed"], result["created"], result["updated"], result["removed"]) == (
        True,
        ["bob"],
        [],
        ["old"],
    )
    args = result["invocation"]["module_args"]
    assert [user["password"] for user in args["users"]] == [
        "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    ] * 2
    assert args["users"][0]["mechanism"] == "SCRAM-SHA-512"
    assert args["users"][0]["iterations"] == 8192
    assert SECRET not in str(results)
    assert OTHER_SECRET not in str(results)


def test_scram_users_argument_problems_name_the_user_only(tmp_path: Path) -> None:
    tasks = [
        users_task(9, [{"name": "nopw"}]),
        {**users_task(9, [{"name": "few", "password": SECRET, "iterations": 10}]), "name": "few"},
        {**users_task(9, [{"name": "x", "password": SECRET}]), "name": "refused"},
        {
            **users_task(9, [{"name": "y", "password": SECRET}], bootstrap_server="nowhere"),
            "name": "address",
        },
    ]
    rc, results = run_playbook(tmp_path, tasks)
    assert rc == 0, results  # ignore_errors
    assert results["users"]["failed"] is True
    assert (
        "state is present but all of the following are missing: password"
        in (results["users"]["msg"])
    )
    assert results["few"]["msg"] == (
        "users[0] (few): iterations must be 4096-16384 (Kafka's limits), not 10"
    )
    assert results["refused"]["msg"].startswith("127.0.0.1:9: connect failed: ")
    assert results["address"]["msg"] == "bad address 'nowhere': expected host:port"
    assert SECRET not in str(results)


def test_acls_check_and_diff_mode(tmp_path: Path) -> None:
    # The broker holds User:alice READ and DESCRIBE (DENY, from 10.0.0.1) on topic orders,
    # and User:monitor DESCRIBE_CONFIGS on the cluster (see test_kafka_admin).
    declared = [
        {
            "principal": "User:alice",
            "resource_type": "topic",
            "resource_name": "orders",
            "operations": ["read", "write"],
        }
    ]
    with FakeBroker({18: VERSIONS, 29: frame(DESCRIBE_ACLS_RESPONSE)}) as broker:
        # No CreateAcls or DeleteAcls frame: the fake would hang up on one.
        rc, results = run_playbook(
            tmp_path, [acls_task(broker.port, declared, ["User:alice"])], "--check", "--diff"
        )
    assert rc == 0, results
    result = results["acls"]
    assert result["changed"] is True
    assert result["created"] == ["allow User:alice write on topic literal:orders from *"]
    assert result["deleted"] == ["deny User:alice describe on topic literal:orders from 10.0.0.1"]
    assert result["diff"] == {
        "before": (
            "allow User:alice read on topic literal:orders from *\n"
            "allow User:monitor describe_configs on cluster literal:kafka-cluster from *\n"
            "deny User:alice describe on topic literal:orders from 10.0.0.1\n"
        ),
        "after": (
            "allow User:alice read on topic literal:orders from *\n"
            "allow User:alice write on topic literal:orders from *\n"
            "allow User:monitor describe_configs on cluster literal:kafka-cluster from *\n"
        ),
    }
    args = result["invocation"]["module_args"]["acls"][0]
    assert (args["pattern_type"], args["permission"], args["host"], args["state"]) == (
        "literal",
        "allow",
        "*",
        "present",
    )


def test_acls_without_an_authorizer(tmp_path: Path) -> None:
    refused = i32(0) + i16(54) + cs("No Authorizer is configured on the broker") + b"\x01" + TAGS
    with FakeBroker({18: VERSIONS, 29: frame(refused)}) as broker:
        task = {**acls_task(broker.port, [], []), "ignore_errors": True}
        rc, results = run_playbook(tmp_path, [task])
    assert rc == 0, results
    assert results["acls"]["failed"] is True
    assert results["acls"]["msg"] == (
        f"127.0.0.1:{broker.port}: DescribeAcls v3 failed: SECURITY_DISABLED: No Authorizer is "
        "configured on the broker (the broker has no authorizer (authorizer.class.name))"
    )
