"""Each entry point's argument spec lists exactly the options that entry point reads.

Issue: once roles ship in a collection, a spec shared by every entry point says nothing
about what one of them needs. Here each entry point's options are checked against its
tasks, the templates they render and the role's defaults and vars those reach
(role_variables.py, read statically); every default of a role is an option of some entry
point.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from role_variables import entry_point_variables

ROLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "roles").iterdir() if p.is_dir())


def specs(role: Path) -> dict[str, dict]:
    document = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())
    return dict(document["argument_specs"])


def declared(role: Path) -> set[str]:
    return {name for spec in specs(role).values() for name in spec.get("options") or {}}


@pytest.mark.parametrize(
    ("role", "entry_point"),
    [(role, entry) for role in ROLES for entry in specs(role)],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_an_entry_point_declares_what_it_reads_and_nothing_else(role: Path, entry_point: str):
    assert (role / "tasks" / f"{entry_point}.yml").is_file(), "an entry point without tasks"
    options = set(specs(role)[entry_point].get("options") or {})
    reads = entry_point_variables(role, entry_point, declared(role)) & declared(role)
    assert sorted(reads - options) == [], "read but not in the entry point's spec"
    assert sorted(options - reads) == [], "in the spec but never read by the entry point"


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_every_default_is_an_option_of_some_entry_point(role: Path):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    public = {name for name in defaults if not name.startswith("__")}
    assert sorted(public - declared(role)) == []


def test_the_analysis_follows_includes_templates_and_vars(tmp_path: Path):
    """A role of its own: an option read only through an include, a template named by an
    internal variable, and a default naming another option."""
    role = tmp_path / "demo"
    for folder in ("tasks/sub", "templates", "defaults", "vars"):
        (role / folder).mkdir(parents=True)
    (role / "tasks" / "main.yml").write_text(
        "- ansible.builtin.include_tasks: sub/inner.yml\n"
        "- ansible.builtin.debug: {msg: '{{ demo_direct }}'}\n"
    )
    (role / "tasks" / "sub" / "inner.yml").write_text(
        "- ansible.builtin.copy:\n"
        "    content: \"{{ lookup('template', __demo_template) }}\"\n"
        "    dest: /x\n"
    )
    (role / "tasks" / "other.yml").write_text(
        "- ansible.builtin.debug: {msg: '{{ demo_unread }}'}\n"
    )
    (role / "templates" / "file.j2").write_text("{{ demo_in_template }}\n")
    (role / "vars" / "main.yml").write_text("__demo_template: file.j2\n")
    (role / "defaults" / "main.yml").write_text(
        "demo_direct: '{{ demo_named_by_default }}'\ndemo_named_by_default: 1\n"
        "demo_in_template: 2\ndemo_unread: 3\n"
    )
    options = {"demo_direct", "demo_named_by_default", "demo_in_template", "demo_unread"}
    assert entry_point_variables(role, "main", options) & options == {
        "demo_direct",
        "demo_named_by_default",
        "demo_in_template",
    }
    assert entry_point_variables(role, "other", options) & options == {"demo_unread"}
