"""Which of a role's variables each entry point reads: the tasks it runs (its own task
files, followed through include_tasks/import_tasks and include_role/import_role of the
same role), the templates they name, and the role's vars/defaults those reach.

Read statically, as text: a variable named anywhere in that closure counts as read (an
over-approximation that never misses one). Used by test_argument_specs.py to hold each
entry point's argument spec to what it needs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

TEMPLATE_NAME = re.compile(r"[\w./-]+\.j2\b")
INCLUDE_TASKS = ("include_tasks", "import_tasks")
INCLUDE_ROLE = ("include_role", "import_role")


def _short(action: str) -> str:
    return action.rsplit(".", 1)[-1]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _task_files(role: Path, name: str, seen: set[Path]) -> list[str]:
    """The text of the task file and of everything it includes within the role."""
    path = role / "tasks" / name
    if path in seen or not path.exists():
        return []
    seen.add(path)
    tasks = yaml.safe_load(path.read_text()) or []
    texts = [path.read_text()]
    for task in _walk(tasks):
        for action, argument in task.items():
            if _short(str(action)) in INCLUDE_TASKS:
                target = argument.get("file") if isinstance(argument, dict) else argument
                if isinstance(target, str) and "{{" not in target:
                    # As Ansible searches: the role's tasks/ first, then beside the includer.
                    beside = path.parent.relative_to(role / "tasks") / target
                    found = target if (role / "tasks" / target).exists() else str(beside)
                    texts += _task_files(role, found, seen)
            elif (
                _short(str(action)) in INCLUDE_ROLE
                and isinstance(argument, dict)
                and argument.get("name") == role.name
            ):
                entry = str(argument.get("tasks_from", "main"))
                name = entry if entry.endswith(".yml") else f"{entry}.yml"
                texts += _task_files(role, name, seen)
    return texts


def _walk(tasks: Any) -> list[dict[str, Any]]:
    found = []
    for task in tasks if isinstance(tasks, list) else []:
        if not isinstance(task, dict):
            continue
        found.append(task)
        for key in ("block", "rescue", "always"):
            found += _walk(task.get(key))
    return found


IDENTIFIER = re.compile(r"\b_*[a-z][a-z0-9_]*\b")


def entry_point_variables(role: Path, entry_point: str, options: set[str]) -> set[str]:
    """Which of ``options`` and of the role's own defaults and vars the entry point reads."""
    token = IDENTIFIER
    texts = _task_files(role, f"{entry_point}.yml", set())
    # Templates named by the tasks (template module, lookup('template'), node files).
    names = {m for text in texts for m in TEMPLATE_NAME.findall(text)}
    texts += [
        (role / "templates" / Path(n).name).read_text()
        for n in sorted(names)
        if (role / "templates" / Path(n).name).exists()
    ]
    definitions: dict[str, str] = {}
    for source in ("defaults/main.yml", "vars/main.yml"):
        path = role / source
        if path.exists():
            for key, value in (yaml.safe_load(path.read_text()) or {}).items():
                definitions[str(key)] = " ".join(_strings(value))
    known = options | set(definitions)
    used: set[str] = set()
    pending = {m for text in texts for m in token.findall(text)} & known
    while pending:
        name = pending.pop()
        if name in used:
            continue
        used.add(name)
        text = definitions.get(name, "")
        pending |= (set(token.findall(text)) & known) - used
        # A template named by an internal variable's value.
        for template in TEMPLATE_NAME.findall(text):
            path = role / "templates" / Path(template).name
            if path.exists():
                pending |= (set(token.findall(path.read_text())) & known) - used
    return used
