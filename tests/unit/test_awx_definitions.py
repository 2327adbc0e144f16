"""awx/configure.yml sets up AWX/AAP with awx.awx modules: every option it passes is
one the module documents (ansible-doc of the awx.awx collection installed here),
every literal value is among the option's choices, and every job template runs a
playbook of this repository. No controller is reachable here, so the playbook is
not run; the credential type's injectors are tested against the modules in
tests/unit/alicloud/test_alicloud_modules.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "awx" / "configure.yml"
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")


@cache
def _options(module: str) -> dict[str, Any]:
    shown = subprocess.run(
        [str(ANSIBLE_DOC), "-j", module], capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    options: dict[str, Any] = json.loads(shown.stdout)[module]["doc"]["options"]
    return options


def _awx_tasks() -> list[tuple[str, dict[str, Any]]]:
    (play,) = yaml.safe_load(PLAYBOOK.read_text())
    return [
        (module, task[module])
        for task in play["tasks"]
        for module in task
        if module.startswith("awx.awx.")
    ]


def test_the_playbook_uses_the_modules_it_should() -> None:
    assert [module for module, _ in _awx_tasks()] == [
        "awx.awx.credential_type",
        "awx.awx.execution_environment",
        "awx.awx.project",
        "awx.awx.inventory",
        "awx.awx.inventory_source",
        "awx.awx.job_template",
    ]


@pytest.mark.parametrize(("module", "args"), _awx_tasks(), ids=lambda value: str(value)[:40])
def test_every_option_is_documented_and_every_literal_a_choice(
    module: str, args: dict[str, Any]
) -> None:
    options = _options(module)
    unknown = set(args) - set(options)
    assert not unknown, f"{module}: {sorted(unknown)} are not options of the module"
    for name, value in args.items():
        choices = options[name].get("choices")
        if choices and isinstance(value, str) and "{{" not in value:
            assert value in choices, f"{module} {name}: {value!r} not in {choices}"


def test_every_job_template_runs_a_playbook_of_the_repository() -> None:
    (play,) = yaml.safe_load(PLAYBOOK.read_text())
    templates = play["vars"]["awx_job_templates"]
    assert templates, "no job template"
    for template in templates:
        assert (REPO / template["playbook"]).is_file(), template
    # The credential type the templates' Alibaba Cloud credential is made from.
    credential_type = yaml.safe_load((REPO / "awx" / "credential_type.yml").read_text())
    assert credential_type["kind"] in _options("awx.awx.credential_type")["kind"]["choices"]
