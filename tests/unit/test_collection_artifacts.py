"""The collections work from their artifacts, not only from the checkout.

``collections/build.py`` builds automq.alicloud and automq.platform with
``ansible-galaxy collection build``; the artifacts are installed into an empty
collections path and used from a directory outside the checkout (no ansible.cfg,
no roles path, no in-repo collections): an action plugin and a filter whose code
lives in ``module_utils/automq_helpers`` (a link in the checkout, which the build
must replace by its files), a role from the artifact, an Alibaba Cloud module
that reaches its own error handling, and ``automq.platform.site`` as a playbook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    out: "%(out)s"
  tasks:
    - name: Assign node IDs with the artifact's action plugin (module_utils code)
      automq.platform.cluster_state:
        state_file: "{{ out }}/state.json"
        nodes:
          - {host: n1, controller: true, broker: true,
             advertised_host: 10.0.0.1, controller_port: 9093}
          - {host: n2, controller: true, broker: true,
             advertised_host: 10.0.0.2, controller_port: 9093}
          - {host: n3, controller: true, broker: true,
             advertised_host: 10.0.0.3, controller_port: 9093}
      register: ids

    - name: Use a filter of the artifact
      ansible.builtin.set_fact:
        override_problems: "{{ {'node.id': '7'} | automq.platform.override_problems }}"

    - name: Run a role of the artifact (the cluster CA)
      ansible.builtin.include_role:
        name: automq.platform.automq_pki
        tasks_from: ca
      vars:
        automq_pki_cluster_name: artifact
        automq_pki_ca_dir: "{{ out }}/ca"

    - name: Ask an endpoint that does not answer, with the alicloud artifact's module
      automq.alicloud.caller_identity:
        region: cn-hangzhou
        endpoint: 127.0.0.1:9
        protocol: http
        access_key_id: LTAI-artifact-test
        access_key_secret: not-a-secret
      register: identity
      ignore_errors: true

    - name: Report
      ansible.builtin.copy:
        dest: "{{ out }}/report.json"
        mode: "0600"
        content: >-
          {{ {'ids': ids, 'override_problems': override_problems, 'identity': identity}
             | to_json }}
"""


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _outside_the_checkout(home: Path) -> dict[str, str]:
    """The environment of a user without this checkout: none of the repository's
    Ansible settings, no cloud credentials, an empty home."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "ALIBABA_CLOUD_"))
    }
    return env | {"ANSIBLE_NOCOLOR": "1", "HOME": str(home)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    built = _run(
        sys.executable,
        str(REPO / "collections" / "build.py"),
        "--output",
        str(root / "dist"),
        cwd=REPO,
        env=dict(os.environ),
    )
    assert built.returncode == 0, built.stdout + built.stderr
    artifacts = built.stdout.split()
    assert [Path(a).name for a in artifacts] == [
        "automq-alicloud-0.1.0.tar.gz",
        "automq-platform-0.1.0.tar.gz",
    ]
    installed = root / "installed"
    # Without the repository's ansible.cfg (make exports ANSIBLE_CONFIG), whose
    # collections_path holds the checkout's automq.* collections: ansible-galaxy
    # would find them "already installed" and install nothing.
    done = _run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--offline",
        "--force",
        "-p",
        str(installed),
        *artifacts,
        cwd=root,
        env=_outside_the_checkout(root),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return installed / "ansible_collections" / "automq"


def test_the_artifacts_hold_the_helpers_the_roles_and_the_playbooks(installed: Path) -> None:
    for name in ("alicloud", "platform"):
        helpers = installed / name / "plugins" / "module_utils" / "automq_helpers"
        assert (helpers / "node_ids.py").is_file(), f"automq.{name} has no module_utils code"
        assert not helpers.is_symlink()
    platform = installed / "platform"
    assert (platform / "roles" / "automq" / "meta" / "argument_specs.yml").is_file()
    assert (platform / "playbooks" / "upgrade.yml").is_file()
    assert "import_playbook: deploy.yml" in (platform / "playbooks" / "site.yml").read_text()
    # The console role installs python_helpers from <role>/../../python_helpers.
    assert (platform / "python_helpers" / "automq_console").is_dir()


def test_sanity_ignores_come_for_each_ansible_core_release(installed: Path) -> None:
    """ansible-test reads tests/sanity/ignore-<its release>.txt only: one per release from
    requires_ansible's oldest (2.16) to the pinned one (2.19), each the checkout's one
    ignore.txt."""
    for name in ("alicloud", "platform"):
        source = REPO / "collections/ansible_collections/automq" / name / "tests/sanity/ignore.txt"
        sanity = installed / name / "tests" / "sanity"
        assert sorted(path.name for path in sanity.iterdir()) == [
            f"ignore-2.{minor}.txt" for minor in range(16, 20)
        ]
        assert {path.read_text() for path in sanity.iterdir()} == {source.read_text()}


def test_a_plugin_a_filter_a_role_and_a_module_run_from_the_artifacts(
    installed: Path, tmp_path: Path
) -> None:
    work = tmp_path / "work"  # outside the checkout: no ansible.cfg, no roles/
    work.mkdir()
    (work / "play.yml").write_text(PLAY % {"out": tmp_path})
    env = _outside_the_checkout(tmp_path) | {
        "ANSIBLE_COLLECTIONS_PATH": str(installed.parent.parent),
        "ANSIBLE_ROLES_PATH": str(work / "no-roles"),
    }
    played = _run(str(BIN / "ansible-playbook"), "-i", "localhost,", "play.yml", cwd=work, env=env)
    assert played.returncode == 0, played.stdout[-4000:] + played.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert sorted(report["ids"]["node_ids"].values()) == [0, 1, 2]
    assert any("node.id" in problem for problem in report["override_problems"])
    assert (tmp_path / "ca" / "ca.crt").is_file()
    identity = report["identity"]
    assert identity["failed"]
    assert "127.0.0.1:9" in identity["msg"], identity["msg"]
    assert "module support code" not in identity["msg"]
    # The task paths Ansible shows are the installed collection's.
    assert str(installed / "platform" / "roles" / "automq_pki") in played.stdout or (
        "automq.platform.automq_pki" in played.stdout
    )

    checked = _run(
        str(BIN / "ansible-playbook"),
        "-i",
        "localhost,",
        "automq.platform.site",
        "--syntax-check",
        cwd=work,
        env=env,
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-2000:]
    assert str(installed / "platform" / "playbooks" / "site.yml") in checked.stdout
