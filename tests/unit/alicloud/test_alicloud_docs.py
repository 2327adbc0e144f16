"""The automq.alicloud modules' DOCUMENTATION matches their argument specs.

ansible-test's validate-modules needs network access to build its environment; this is the
part of it that matters most: every option documented with the same type, default,
choices, elements and required flag as the module's argument spec, and nothing undocumented.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
COLLECTION = REPO / "collections" / "ansible_collections" / "automq" / "alicloud"
MODULES = sorted(p.stem for p in (COLLECTION / "plugins" / "modules").glob("*.py"))
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
        [str(ANSIBLE_DOC), "--json", *(f"automq.alicloud.{m}" for m in MODULES)],
        cwd=REPO,
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def specs() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    pytest.importorskip("ansible")
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[str(REPO / "collections")])._install()
    import importlib

    glue = importlib.import_module(
        "ansible_collections.automq.alicloud.plugins.module_utils.alicloud_module"
    )

    def capture(argument_spec: dict[str, Any], **kwargs: Any) -> None:
        raise Captured(argument_spec, kwargs)

    original = glue.AnsibleModule
    glue.AnsibleModule = capture
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    try:
        for name in MODULES:
            module = importlib.import_module(
                f"ansible_collections.automq.alicloud.plugins.modules.{name}"
            )
            with pytest.raises(Captured) as info:
                module.main()
            found[name] = (info.value.spec, info.value.kwargs)
    finally:
        glue.AnsibleModule = original
    return found


def test_all_fifteen_modules_are_there():
    assert (
        sorted(
            [
                "caller_identity",
                "eip",
                "instance",
                "key_pair",
                "oss_bucket",
                "oss_bucket_policy",
                "pvtz_record",
                "pvtz_zone",
                "ram_access_key",
                "ram_policy",
                "ram_user",
                "ram_user_policy",
                "security_group",
                "vpc",
                "vswitch",
            ]
        )
        == MODULES
    )


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_the_argument_spec(name, docs, specs):
    doc = docs[f"automq.alicloud.{name}"]["doc"]
    spec, kwargs = specs[name]
    assert kwargs.get("supports_check_mode") is True
    documented = doc.get("options", {})
    assert sorted(documented) == sorted(spec), "documented options differ from the spec"
    for option, rules in spec.items():
        entry = documented[option]
        where = f"{name}: option {option}"
        assert entry.get("type", "str") == rules.get("type", "str"), where
        assert bool(entry.get("required", False)) == bool(rules.get("required", False)), where
        assert entry.get("default") == rules.get("default"), where
        assert entry.get("choices") == rules.get("choices"), where
        assert entry.get("elements") == rules.get("elements"), where
        assert entry.get("description"), where
    assert doc["attributes"]["check_mode"]["support"] == "full"
    assert doc["attributes"]["diff_mode"]["support"] in ("full", "none")
    assert docs[f"automq.alicloud.{name}"]["examples"].strip()
    assert docs[f"automq.alicloud.{name}"]["return"] or name == "ram_user_policy"
