"""The execution environment for AWX/AAP: ``ansible-builder create`` makes its build
context from execution-environment.yml, and the context holds what the roles and
plugins need. The image itself is not built here (no base image registry).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _locked(package: str) -> str:
    lock = (REPO / "requirements.lock").read_text()
    found = re.search(rf"^{re.escape(package)}==(\S+)$", lock, re.MULTILINE)
    assert found, f"{package} is not in requirements.lock"
    return found.group(1)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The artifacts the definition copies in: `make collections` (build/collections).
    built = subprocess.run(
        [sys.executable, str(REPO / "collections" / "build.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    made = tmp_path_factory.mktemp("ee") / "context"
    created = subprocess.run(
        [
            str(BIN / "ansible-builder"),
            "create",
            "-f",
            "execution-environment.yml",
            "-c",
            str(made),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    return made


def test_ansible_core_and_runner_are_the_versions_tested_here(context: Path) -> None:
    containerfile = (context / "Dockerfile").read_text()
    refs = f"ansible-core=={_locked('ansible-core')} ansible-runner=={_locked('ansible-runner')}"
    assert f'ARG ANSIBLE_INSTALL_REFS="{refs}"' in containerfile


def test_the_controller_packages_and_the_ssh_client(context: Path) -> None:
    wanted = (context / "_build" / "requirements.txt").read_text()
    assert wanted == (REPO / "requirements-controller.txt").read_text()
    pins = dict(
        line.split("==") for line in wanted.splitlines() if line and not line.startswith("#")
    )
    # The Alibaba Cloud SDKs behind automq.alicloud, at the versions tested here.
    for sdk in ("alibabacloud-ecs20140526", "alibabacloud-oss-v2", "alibabacloud-credentials"):
        assert pins[sdk] == _locked(sdk)
    bindep = (context / "_build" / "bindep.txt").read_text()
    assert "openssh-client [platform:dpkg]" in bindep
    assert "openssh-clients [platform:rpm]" in bindep


def test_the_collections_come_from_the_artifacts(context: Path) -> None:
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = [entry["name"] for entry in requirements["collections"]]
    assert "community.crypto" in names
    copied = sorted(p.name for p in (context / "_build" / "automq-collections").iterdir())
    versions = {
        name: yaml.safe_load(
            (REPO / "collections/ansible_collections/automq" / name / "galaxy.yml").read_text()
        )["version"]
        for name in ("alicloud", "platform")
    }
    expected = [f"automq-{name}-{version}.tar.gz" for name, version in versions.items()]
    assert copied == expected
    assert [n for n in names if n.startswith("/")] == [
        f"/tmp/automq-collections/{artifact}" for artifact in expected
    ]
    containerfile = (context / "Dockerfile").read_text()
    galaxy_stage = containerfile.split("FROM base AS galaxy", 1)[1].split("FROM base AS builder")[0]
    # Copied in before the galaxy stage installs requirements.yml.
    copy = galaxy_stage.index("COPY _build/automq-collections /tmp/automq-collections")
    assert copy < galaxy_stage.index("ansible-galaxy collection install")
