"""node_files: one step that brings a node's directories, files and links to their wanted state.

The pure planner is checked against generated states (hypothesis): applying its plan leaves
nothing to do. The I/O runs in tmp_path with this process's own user, and the module runs
through real ansible-playbook (check mode, diff, no_log of secret files, the restart record
written before the change).
"""

from __future__ import annotations

import datetime
import grp
import hashlib
import os
import pwd
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ansible_plugins import run_playbook_output

from automq_helpers.node_files import (
    Described,
    Directory,
    File,
    Link,
    NodeFilesError,
    Observed,
    apply,
    describe,
    differing_paths,
    observe,
    parse_mode,
    parse_restart_due,
    plan,
    restart_due_text,
)

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def ids(owner: str, group: str) -> tuple[int, int]:
    return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid


def wanted_state(
    root: Path, content: bytes, mode: int
) -> tuple[list[Directory], list[File], list[Link]]:
    return (
        [
            Directory(str(root / "conf"), USER, GROUP, 0o750),
            Directory(str(root / "conf/tls"), USER, GROUP, 0o700),
        ],
        [
            File(str(root / "conf/server.properties"), content, USER, GROUP, mode, restart=True),
            File(
                str(root / "conf/tls/secret.env"),
                b"KEY=value\n",
                USER,
                GROUP,
                0o600,
                restart=True,
                secret=True,
            ),
            File(str(root / "journald.conf"), b"[Journal]\n", USER, GROUP, 0o644),
        ],
        [Link(str(root / "current"), str(root / "release-1"), restart=True)],
    )


def everything(
    directories: list[Directory], files: list[File], links: list[Link]
) -> dict[str, Observed]:
    return observe(
        [entry.path for entry in [*directories, *files, *links]],
        [entry.path for entry in files],
    )


def as_arguments(directories: list[Directory], files: list[File]) -> dict[str, list[dict]]:
    """The entries as a task gives them to the module (modes as quoted octal strings)."""
    return {
        "directories": [
            {"path": d.path, "owner": d.owner, "group": d.group, "mode": f"{d.mode:04o}"}
            for d in directories
        ],
        "files": [
            {
                "path": f.path,
                "content": f.content.decode(),
                "owner": f.owner,
                "group": f.group,
                "mode": f"{f.mode:04o}",
            }
            for f in files
        ],
    }


@settings(
    max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    first=st.text(max_size=50),
    second=st.text(max_size=50),
    first_mode=st.sampled_from([0o600, 0o640, 0o644]),
    second_mode=st.sampled_from([0o600, 0o640, 0o644]),
)
def test_a_description_says_what_the_plan_would_change(
    tmp_path_factory: pytest.TempPathFactory,
    first: str,
    second: str,
    first_mode: int,
    second_mode: int,
) -> None:
    """differing_paths on the Ansible machine, from describe's answer, names the same paths
    as the module's own plan on the host: a skipped call would have changed nothing."""
    root = tmp_path_factory.mktemp("node")
    directories, files, _links = wanted_state(root, first.encode(), first_mode)
    files = files[:1] + files[2:]  # the secret's content is bytes of its own
    paths = [Described(entry.path) for entry in [*directories, *files]]
    assert differing_paths(describe(paths), **as_arguments(directories, files)) == [
        entry.path for entry in [*directories, *files]
    ]
    apply(plan(directories, files, [], everything(directories, files, []), ids).changes, ids, None)
    assert differing_paths(describe(paths), **as_arguments(directories, files)) == []
    directories, files, _links = wanted_state(root, second.encode(), second_mode)
    files = files[:1] + files[2:]
    wanted = plan(directories, files, [], everything(directories, files, []), ids)
    assert differing_paths(describe(paths), **as_arguments(directories, files)) == (
        wanted.changed_paths
    )


def test_a_description_of_a_key_store_and_its_key_never_holds_them(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from automq_helpers.private_key import public_key_sha256

    key_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    key, certificate, keystore = (tmp_path / name for name in ("key.pem", "cert.pem", "ks.pem"))
    key.write_text(key_pem)
    certificate.write_text("CERTIFICATE\n")
    keystore.write_text(key_pem + "CERTIFICATE\n")
    for path in (key, keystore):
        path.chmod(0o640)
    entries = [
        Described(str(key), private_key=True),
        Described(str(keystore), parts=(str(key), str(certificate))),
        Described(str(tmp_path / "restart-due")),
    ]
    seen = describe(entries)
    assert seen[str(key)] == {
        "kind": "file",
        "owner": USER,
        "group": GROUP,
        "mode": "0640",
        "public_key_sha256": public_key_sha256(key_pem),
    }
    assert seen[str(keystore)]["assembled"] is True
    assert seen[str(tmp_path / "restart-due")] == {"kind": "absent"}
    assert "PRIVATE KEY" not in repr(seen)
    assert "sha256" not in seen[str(keystore)]
    assembled = [
        {
            "path": str(keystore),
            "parts": [str(key), str(certificate)],
            "owner": USER,
            "group": GROUP,
            "mode": "0640",
        }
    ]
    assert differing_paths(seen, assembled=assembled) == []
    # Another certificate, or a part missing: the key store no longer holds its parts.
    certificate.write_text("CERTIFICATE 2\n")
    assert differing_paths(describe(entries), assembled=assembled) == [str(keystore)]
    certificate.unlink()
    assert describe(entries)[str(keystore)]["assembled"] is False
    # A path the description does not cover counts as differing.
    assert differing_paths({}, assembled=assembled) == [str(keystore)]


@settings(
    max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    content=st.binary(max_size=200),
    mode=st.sampled_from([0o600, 0o640, 0o644, 0o444]),
    second_content=st.binary(max_size=200),
)
def test_applying_the_plan_leaves_nothing_to_do(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, mode: int, second_content: bytes
) -> None:
    root = tmp_path_factory.mktemp("node")
    directories, files, links = wanted_state(root, content, mode)
    first = plan(directories, files, links, everything(directories, files, links), ids)
    assert {change.what for change in first.changes} == {("create",)}
    apply(first.changes, ids, None)
    assert plan(directories, files, links, everything(directories, files, links), ids).changes == ()
    assert (root / "conf/server.properties").read_bytes() == content
    assert stat.S_IMODE((root / "conf/server.properties").stat().st_mode) == mode
    assert os.readlink(root / "current") == str(root / "release-1")
    # A second wanted state differs only where it should.
    directories, files, links = wanted_state(root, second_content, mode)
    second = plan(directories, files, links, everything(directories, files, links), ids)
    expected = [] if second_content == content else [str(root / "conf/server.properties")]
    assert second.changed_paths == expected
    assert second.restart_needed == (second_content != content)


def test_attributes_are_fixed_in_place_and_reported(tmp_path: Path) -> None:
    directories, files, links = wanted_state(tmp_path, b"a=1\n", 0o640)
    apply(
        plan(directories, files, links, everything(directories, files, links), ids).changes,
        ids,
        None,
    )
    (tmp_path / "conf/server.properties").chmod(0o666)
    (tmp_path / "conf").chmod(0o755)
    wanted = plan(directories, files, links, everything(directories, files, links), ids)
    assert [(change.path, change.what) for change in wanted.changes] == [
        (str(tmp_path / "conf"), ("mode",)),
        (str(tmp_path / "conf/server.properties"), ("mode",)),
    ]
    # A mode put back changes nothing the running service loaded: no restart.
    assert not wanted.restart_needed
    record = tmp_path / "restart-pending"
    assert apply(wanted.changes, ids, (str(record), b"pending\n")) is False
    assert not record.exists()
    assert stat.S_IMODE((tmp_path / "conf/server.properties").stat().st_mode) == 0o640


def test_the_restart_record_is_written_before_the_change_and_only_for_restart_entries(
    tmp_path: Path,
) -> None:
    directories, files, links = wanted_state(tmp_path, b"a=1\n", 0o640)
    apply(
        plan(directories, files, links, everything(directories, files, links), ids).changes,
        ids,
        None,
    )
    record = tmp_path / "restart-pending"
    # The journald drop-in needs no restart of the service.
    (tmp_path / "journald.conf").write_bytes(b"changed by hand\n")
    changes = plan(directories, files, links, everything(directories, files, links), ids).changes
    assert apply(changes, ids, (str(record), b"pending\n")) is False
    assert not record.exists()
    # server.properties does: the record is in place before the first write, so a write
    # that fails (here: its directory is gone) still leaves the record behind.
    (tmp_path / "conf/server.properties").write_bytes(b"a=0\n")
    changes = plan(directories, files, links, everything(directories, files, links), ids).changes
    moved = tmp_path / "conf-moved"
    (tmp_path / "conf").rename(moved)
    with pytest.raises(FileNotFoundError):
        apply(
            [change for change in changes if change.path.endswith("server.properties")],
            ids,
            (str(record), b"pending\n"),
        )
    assert record.read_bytes() == b"pending\n"


def test_a_held_link_is_reported_but_left_alone(tmp_path: Path) -> None:
    directories, files, links = wanted_state(tmp_path, b"a=1\n", 0o640)
    apply(
        plan(directories, files, links, everything(directories, files, links), ids).changes,
        ids,
        None,
    )
    held = [Link(str(tmp_path / "current"), str(tmp_path / "release-2"), restart=True, hold=True)]
    changes = plan(directories, files, held, everything(directories, files, held), ids)
    assert changes.changed_paths == [str(tmp_path / "current")]
    assert changes.restart_needed
    record = tmp_path / "restart-pending"
    assert apply(changes.changes, ids, (str(record), b"pending\n")) is True
    assert record.exists()
    assert os.readlink(tmp_path / "current") == str(tmp_path / "release-1")


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_nothing_of_another_kind_is_ever_replaced(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "data"
    if kind == "directory":
        target.mkdir()
        (target / "meta.properties").write_text("cluster.id=keep\n")
        wanted_file = [File(str(target), b"x", USER, GROUP, 0o644)]
        with pytest.raises(NodeFilesError, match="should be a file but is a directory"):
            plan([], wanted_file, [], everything([], wanted_file, []), ids)
    else:
        target.write_text("keep\n")
        link = [Link(str(target), "/elsewhere")]
        with pytest.raises(NodeFilesError, match="should be a link but is a file"):
            plan([], [], link, everything([], [], link), ids)
    assert target.exists()


def test_a_path_given_twice_or_relative_is_refused() -> None:
    twice = [Directory("/a", USER, GROUP, 0o755), Directory("/a", USER, GROUP, 0o700)]
    with pytest.raises(NodeFilesError, match="listed twice"):
        plan(twice, [], [], {}, ids)
    with pytest.raises(NodeFilesError, match="not an absolute path"):
        plan([Directory("a", USER, GROUP, 0o755)], [], [], {}, ids)


@pytest.mark.parametrize("value", [416, "640x", "", "06400", "9"])
def test_modes_must_be_quoted_octal(value: object) -> None:
    with pytest.raises(NodeFilesError, match="mode of /f"):
        parse_mode(value, "/f")  # type: ignore[arg-type]


def module_task(root: Path, properties: str, secret: str, **extra: object) -> dict[str, object]:
    return {
        "name": "files",
        "automq.platform.node_files": {
            "directories": [
                {"path": str(root / "conf"), "owner": USER, "group": GROUP, "mode": "0750"}
            ],
            "files": [
                {
                    "path": str(root / "conf/server.properties"),
                    "content": properties,
                    "owner": USER,
                    "group": GROUP,
                    "mode": "0640",
                    "restart": True,
                }
            ],
            "secret_files": [
                {
                    "path": str(root / "conf/credentials.env"),
                    "content": secret,
                    "owner": USER,
                    "group": GROUP,
                    "mode": "0600",
                    "restart": True,
                }
            ],
            "links": [
                {"path": str(root / "current"), "target": str(root / "release-1"), "restart": True}
            ],
            **extra,
        },
    }


# A checker that refuses any content containing "bad" (grep -q exits 0 on a match).
REFUSE_BAD = "/bin/sh -c '! grep -q bad \"$1\"' check %s"


def test_checked_files_are_written_in_order_after_the_unchecked_ones(tmp_path: Path) -> None:
    """Files without a check (what checked ones may name) are written first; each checked
    file is checked, then written, in its order, so it may name the checked files before
    it; a refused check leaves it and the checked files after it as they were. The checker
    sees the new content beside the target, with the wanted mode, and leaves nothing."""
    conf = tmp_path / "conf"
    named = File(str(conf / "ca.crt"), b"CA\n", USER, GROUP, 0o644)
    # Passes only once ca.crt is in place.
    needs_ca = f"/bin/sh -c 'test -f {conf}/ca.crt && ! grep -q bad \"$1\"' check %s"
    rules = File(str(conf / "a.yml"), b"good\n", USER, GROUP, 0o640, validate=needs_ca)
    # Passes only once a.yml, checked before it, is in place.
    needs_rules = f"/bin/sh -c 'test -f {conf}/a.yml && ! grep -q bad \"$1\"' check %s"
    bad = File(str(conf / "b.yml"), b"bad\n", USER, GROUP, 0o640, validate=needs_rules)
    last = File(str(conf / "c.yml"), b"last\n", USER, GROUP, 0o640, validate=REFUSE_BAD)
    directory = Directory(str(conf), USER, GROUP, 0o750)
    wanted = [rules, bad, last, named]
    paths = [directory.path, *(entry.path for entry in wanted)]
    changes = plan([directory], wanted, [], observe(paths, paths[1:]), ids).changes
    with pytest.raises(NodeFilesError, match=r"b\.yml fails its check .*\(exit 1\)\. It was not"):
        apply(changes, ids, None)
    assert sorted(path.name for path in conf.iterdir()) == ["a.yml", "ca.crt"]
    wanted[1] = File(bad.path, b"fine\n", USER, GROUP, 0o640, validate=needs_rules)
    changes = plan([directory], wanted, [], observe(paths, paths[1:]), ids).changes
    apply(changes, ids, None)
    assert (conf / "b.yml").read_text() == "fine\n"
    assert sorted(path.name for path in conf.iterdir()) == ["a.yml", "b.yml", "c.yml", "ca.crt"]


def test_a_refused_secret_is_not_quoted_and_a_check_needs_its_placeholder(
    tmp_path: Path,
) -> None:
    echo_and_fail = "/bin/sh -c 'cat \"$1\"; exit 3' check %s"
    secret = File(
        str(tmp_path / "s.env"), b"TOKEN=hidden\n", USER, GROUP, 0o600, secret=True,
        validate=echo_and_fail,
    )  # fmt: skip
    changes = plan([], [secret], [], observe([secret.path], [secret.path]), ids).changes
    with pytest.raises(NodeFilesError) as refused:
        apply(changes, ids, None)
    assert "(exit 3)" in str(refused.value)
    assert "hidden" not in str(refused.value)
    unchecked = File(str(tmp_path / "u.yml"), b"x\n", USER, GROUP, 0o644, validate="true")
    changes = plan([], [unchecked], [], observe([unchecked.path], []), ids).changes
    with pytest.raises(NodeFilesError, match="has no %s"):
        apply(changes, ids, None)
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_the_module_reports_a_refused_check_and_keeps_the_refused_file(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    task = module_task(root, "node.id=1\n", "S=1\n")
    task["automq.platform.node_files"]["files"][0]["validate"] = REFUSE_BAD
    run_playbook_output(tmp_path, [task])
    task = module_task(root, "node.id=bad\n", "S=2\n")
    task["automq.platform.node_files"]["files"][0]["validate"] = REFUSE_BAD
    _, results = run_playbook_output(tmp_path, [task])
    assert results["files"].get("failed") is True
    assert "server.properties fails its check" in results["files"]["msg"]
    assert (root / "conf/server.properties").read_text() == "node.id=1\n"
    # Written first: it has no check of its own.
    assert (root / "conf/credentials.env").read_text() == "S=2\n"


def test_the_module_changes_once_then_nothing_and_never_shows_a_secret(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    secret = "AWS_SECRET_ACCESS_KEY=do-not-show-0123456789\n"
    task = module_task(root, "node.id=1\n", secret)
    completed, results = run_playbook_output(tmp_path, [task], "--diff", "-vvv")
    assert completed.returncode == 0, completed.describe()
    first = results["files"]
    assert first["changed"] is True
    assert sorted(first["changed_paths"]) == sorted(
        str(root / name)
        for name in ("conf", "conf/server.properties", "conf/credentials.env", "current")
    )
    assert "do-not-show" not in completed.transcript
    assert "node.id=1" in completed.stdout  # the diff of a non-secret file
    assert (root / "conf/credentials.env").read_text() == secret
    assert stat.S_IMODE((root / "conf/credentials.env").stat().st_mode) == 0o600

    completed, results = run_playbook_output(tmp_path, [task], "--diff")
    assert results["files"]["changed"] is False
    assert results["files"]["changed_paths"] == []


def test_the_module_in_check_mode_reports_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    record = root / "restart-pending"
    completed, results = run_playbook_output(
        tmp_path,
        [module_task(root, "node.id=1\n", "S=1\n", restart_record=str(record))],
        "--check",
        "--diff",
    )
    assert completed.returncode == 0, completed.describe()
    assert results["files"]["changed"] is True
    assert results["files"]["restart_needed"] is True
    assert sorted(path.name for path in root.iterdir()) == []


def test_the_module_records_the_restart_and_refuses_to_replace_a_directory(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    record = root / "restart-pending"
    task = module_task(root, "node.id=1\n", "S=1\n")
    run_playbook_output(tmp_path, [task], "--diff")
    assert not record.exists()
    _, results = run_playbook_output(
        tmp_path, [module_task(root, "node.id=2\n", "S=1\n", restart_record=str(record))], "--diff"
    )
    assert results["files"]["changed_paths"] == [str(root / "conf/server.properties")]
    assert results["files"]["restart_needed"] is True
    assert record.exists()

    (root / "conf/credentials.env").unlink()
    (root / "conf/credentials.env").mkdir()
    _, results = run_playbook_output(tmp_path, [module_task(root, "node.id=3\n", "S=1\n")])
    assert results["files"].get("failed") is True
    assert "should be a file but is a directory" in results["files"]["msg"]
    # Nothing changed: the refusal comes before the first write.
    assert (root / "conf/server.properties").read_text() == "node.id=2\n"


def test_checked_files_are_reported_when_stale_and_their_attributes_fixed(tmp_path: Path) -> None:
    agent = tmp_path / "agent.jar"
    good = b"the agent's bytes\x00\x01"
    task = {
        "name": "files",
        "automq.platform.node_files": {
            "checked_files": [
                {
                    "path": str(agent),
                    "sha256": hashlib.sha256(good).hexdigest().upper(),
                    "owner": USER,
                    "group": GROUP,
                    "mode": "0644",
                }
            ]
        },
    }
    _, results = run_playbook_output(tmp_path, [task])
    assert results["files"]["stale_paths"] == [str(agent)]
    assert results["files"]["changed"] is False
    assert not agent.exists()

    agent.write_bytes(good)
    agent.chmod(0o600)
    _, results = run_playbook_output(tmp_path, [task])
    assert results["files"]["stale_paths"] == []
    assert results["files"]["changed_paths"] == [str(agent)]
    assert stat.S_IMODE(agent.stat().st_mode) == 0o644

    agent.write_bytes(b"another version")
    _, results = run_playbook_output(tmp_path, [task])
    assert results["files"]["stale_paths"] == [str(agent)]
    assert agent.read_bytes() == b"another version"


def test_an_assembled_file_joins_its_parts_and_never_shows_them(tmp_path: Path) -> None:
    root = tmp_path / "tls"
    root.mkdir()
    key = root / "1-private-key.pem"
    key.write_text(
        "-----BEGIN PRIVATE KEY-----\nkey-material-never-shown\n-----END PRIVATE KEY-----\n"
    )
    keystore = root / "node-keystore.pem"
    task = {
        "name": "files",
        "automq.platform.node_files": {
            "files": [
                {
                    "path": str(root / "2-certificate.pem"),
                    "content": "CERTIFICATE 1\n",
                    "owner": USER,
                    "group": GROUP,
                    "mode": "0644",
                }
            ],
            "assembled": [
                {
                    "path": str(keystore),
                    "parts": [str(key), str(root / "2-certificate.pem")],
                    "owner": USER,
                    "group": GROUP,
                    "mode": "0640",
                }
            ],
        },
    }
    completed, results = run_playbook_output(tmp_path, [task], "--diff")
    assert completed.returncode == 0, completed.describe()
    # The certificate written by the same call contributes its new content.
    assert keystore.read_text() == key.read_text() + "CERTIFICATE 1\n"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o640
    assert "key-material-never-shown" not in completed.transcript
    assert sorted(results["files"]["changed_paths"]) == sorted(
        [str(root / "2-certificate.pem"), str(keystore)]
    )
    _, results = run_playbook_output(tmp_path, [task])
    assert results["files"]["changed"] is False

    key.unlink()
    _, results = run_playbook_output(tmp_path, [task])
    assert results["files"].get("failed") is True
    assert "does not exist on this host" in results["files"]["msg"]


def test_a_restart_due_later_is_recorded_once_its_time_has_come(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    record, due = root / "restart-pending", root / "restart-due"
    task = module_task(root, "node.id=1\n", "S=1\n")
    run_playbook_output(tmp_path, [task], "--diff")
    with_due = module_task(
        root, "node.id=1\n", "S=1\n", restart_record=str(record), restart_due_record=str(due)
    )

    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    due.write_bytes(restart_due_text(later, "a reloaded certificate"))
    _, results = run_playbook_output(tmp_path, [with_due])
    assert results["files"]["changed"] is False
    assert results["files"]["restart_pending"] is False
    assert results["files"]["restart_due"] == later.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert not record.exists()

    # Due now (check mode says so and writes nothing), then recorded once.
    due.write_bytes(restart_due_text(later - datetime.timedelta(days=4), "a reloaded certificate"))
    _, results = run_playbook_output(tmp_path, [with_due], "--check")
    assert (results["files"]["changed"], results["files"]["restart_pending"]) == (True, True)
    assert not record.exists()
    _, results = run_playbook_output(tmp_path, [with_due])
    assert results["files"]["changed"] is True
    assert results["files"]["restart_record_created"] is True
    assert record.exists()
    assert due.exists()
    _, results = run_playbook_output(tmp_path, [with_due])
    assert (results["files"]["changed"], results["files"]["restart_pending"]) == (False, True)
    assert results["files"]["restart_record_created"] is False

    # A record without a readable time counts as due now.
    record.unlink()
    due.write_text("soon\n")
    _, results = run_playbook_output(tmp_path, [with_due])
    assert results["files"]["restart_due"] == "unreadable"
    assert record.exists()


@given(
    st.datetimes(
        min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2200, 1, 1)
    ).map(lambda moment: moment.replace(microsecond=0, tzinfo=datetime.UTC)),
    st.text(max_size=40),
)
def test_restart_due_records_read_back_what_was_written(
    moment: datetime.datetime, why: str
) -> None:
    assert parse_restart_due(restart_due_text(moment, why)) == moment


@pytest.mark.parametrize("content", [b"", b"tomorrow\n", b"2026-13-01T00:00:00Z\n", b"\xff\xfe"])
def test_restart_due_records_without_a_time_are_none(content: bytes) -> None:
    assert parse_restart_due(content) is None
