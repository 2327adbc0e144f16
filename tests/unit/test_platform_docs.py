"""The automq.platform modules' DOCUMENTATION matches their argument specs, suboptions
included (tests/unit/alicloud/test_alicloud_docs.py does the same for automq.alicloud,
whose modules build AnsibleModule through their own glue).

Each module's ``main()`` runs with ``AnsibleModule`` replaced by a stand-in that captures
the argument spec; ``ansible-doc --json`` gives the documentation as Ansible reads it,
doc fragments merged.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MODULES_DIR = REPO / "collections/ansible_collections/automq/platform/plugins/modules"
# Modules proper; cluster_state and retire_nodes are action plugins whose module file only
# documents them.
MODULES = sorted(
    path.stem for path in MODULES_DIR.glob("*.py") if "AnsibleModule(" in path.read_text()
)
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")

# A missing tool fails the tests below; it never skips them.
assert ANSIBLE_DOC.exists(), f"{ANSIBLE_DOC} is not installed: run make venv"


class Captured(Exception):
    def __init__(self, spec: dict[str, Any], kwargs: dict[str, Any]) -> None:
        super().__init__("captured")
        self.spec, self.kwargs = spec, kwargs


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    completed = subprocess.run(
        [str(ANSIBLE_DOC), "--json", *(f"automq.platform.{m}" for m in MODULES)],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    documents: dict[str, Any] = json.loads(completed.stdout)
    return documents


@pytest.fixture(scope="module")
def specs() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[str(REPO / "collections")])._install()

    def capture(argument_spec: dict[str, Any], **kwargs: Any) -> None:
        raise Captured(argument_spec, kwargs)

    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for name in MODULES:
        module = importlib.import_module(
            f"ansible_collections.automq.platform.plugins.modules.{name}"
        )
        original = module.AnsibleModule
        module.AnsibleModule = capture
        try:
            with pytest.raises(Captured) as info:
                module.main()
        finally:
            module.AnsibleModule = original
        found[name] = (info.value.spec, info.value.kwargs)
    return found


def test_the_modules_are_found() -> None:
    assert MODULES == [
        "balancer_exclusion",
        "bucket_identity",
        "certificate_reload",
        "cluster_lock",
        "decommission_status",
        "host_state",
        "kafka_acls",
        "kafka_scram_users",
        "node_files",
        "node_health",
        "node_state",
        "oss_readiness",
    ]


def _unordered(values: list[Any] | None) -> list[str] | None:
    return None if values is None else sorted(str(value) for value in values)


def option_problems(where: str, documented: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    """Differences between documented options and an argument spec, recursively."""
    if sorted(documented) != sorted(spec):
        return [f"{where}: documented {sorted(documented)}, spec {sorted(spec)}"]
    problems = []
    for option, rules in spec.items():
        entry = documented[option]
        here = f"{where}.{option}"
        compared = {
            "type": (entry.get("type", "str"), rules.get("type", "str")),
            "required": (bool(entry.get("required")), bool(rules.get("required"))),
            "default": (entry.get("default"), rules.get("default")),
            # In any order, as ansible-test's validate-modules compares them.
            "choices": (_unordered(entry.get("choices")), _unordered(rules.get("choices"))),
            "elements": (entry.get("elements"), rules.get("elements")),
        }
        problems += [
            f"{here}: {key} documented {doc!r}, spec {code!r}"
            for key, (doc, code) in compared.items()
            if doc != code
        ]
        if not entry.get("description"):
            problems.append(f"{here}: no description")
        if "options" in rules or "suboptions" in entry:
            problems += option_problems(here, entry.get("suboptions", {}), rules.get("options", {}))
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_the_argument_spec(
    name: str, docs: dict[str, Any], specs: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    document = docs[f"automq.platform.{name}"]
    doc = document["doc"]
    spec, kwargs = specs[name]
    assert option_problems(name, doc.get("options", {}), spec) == []
    assert kwargs.get("supports_check_mode") is True
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] in ("full", "none")
    assert document["examples"].strip()
    assert document["return"]


def test_the_comparison_sees_a_difference_in_a_suboption() -> None:
    documented = {"users": {"description": "x", "suboptions": {"name": {"description": "y"}}}}
    spec = {"users": {"options": {"name": {"type": "int"}}}}
    assert option_problems("m", documented, spec) == [
        "m.users.name: type documented 'str', spec 'int'"
    ]


ALL_MODULE_FILES = sorted(
    REPO.glob("collections/ansible_collections/automq/*/plugins/modules/*.py")
)


@pytest.mark.parametrize(
    "path", ALL_MODULE_FILES, ids=lambda path: f"{path.parent.parent.parent.name}.{path.stem}"
)
def test_every_module_documentation_is_valid_yaml(path: Path) -> None:
    """Action plugins document themselves in a module file only: ansible-doc must read it."""
    tree = ast.parse(path.read_text())
    documents = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN")
    }
    assert set(documents) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, path
    for name, text in documents.items():
        assert yaml.safe_load(text) is not None, f"{path.name} {name}"


def test_the_two_security_fragments_document_the_same_fields() -> None:
    """kafka_security's fragments are plain literals (ansible-test reads them without
    running the file), so the fields are written twice: they must stay the same."""
    path = MODULES_DIR.parent / "doc_fragments" / "kafka_security.py"
    fragments = {
        target.id: node.value.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    broker = yaml.safe_load(fragments["DOCUMENTATION"])["options"]["security"]
    controller = yaml.safe_load(fragments["CONTROLLER"])["options"]["controller_security"]
    assert broker["suboptions"] == controller["suboptions"]
    assert set(broker["suboptions"]) >= {"protocol", "password"}
