"""The code that runs on the cluster hosts stays valid for Python 3.8.

The tests run on 3.11, so this checks the host-side files statically: they parse
with Python 3.8's grammar (``ast.parse(feature_version=(3, 8))`` rejects match
statements, parenthesized context managers, ``except*``), they postpone annotations
(``from __future__ import annotations``, so ``list[int]`` and ``X | None`` in
annotations are never evaluated), and they use none of the 3.9+ standard-library
names listed below outside annotations.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COLLECTION = REPO / "collections/ansible_collections/automq/platform/plugins"

# Ansible modules and their module_utils run on the hosts; so does the probe's CLI.
HOST_FILES = sorted(
    [
        REPO / "python_helpers/automq_helpers/kafka_probe.py",
        REPO / "python_helpers/automq_helpers/kafka_admin.py",
        REPO / "python_helpers/automq_helpers/access.py",
        REPO / "python_helpers/automq_helpers/node_health.py",
        REPO / "python_helpers/automq_helpers/reassignment.py",
        REPO / "python_helpers/automq_helpers/node_files.py",
        REPO / "python_helpers/automq_helpers/certificate_reload.py",
        REPO / "python_helpers/automq_helpers/operation_lock.py",
        REPO / "python_helpers/automq_helpers/node_state.py",
        REPO / "python_helpers/automq_helpers/properties.py",
        COLLECTION / "module_utils/kafka_security.py",
        COLLECTION / "modules/node_health.py",
        COLLECTION / "modules/decommission_status.py",
        COLLECTION / "modules/kafka_scram_users.py",
        COLLECTION / "modules/kafka_acls.py",
        COLLECTION / "modules/node_files.py",
        COLLECTION / "modules/certificate_reload.py",
        COLLECTION / "modules/cluster_lock.py",
        COLLECTION / "modules/node_state.py",
    ]
)

# Methods and functions added after 3.8 (by name: a false alarm is cheap to rename).
NEWER_ATTRIBUTES = {
    "removeprefix": "3.9",
    "removesuffix": "3.9",
    "is_relative_to": "3.9",
    "with_stem": "3.9",
    "randbytes": "3.9",
    "bit_count": "3.10",
    "pairwise": "3.10",
    "aiter": "3.10",
    "UTC": "3.11",  # datetime.UTC
}
NEWER_MODULES = {"zoneinfo": "3.9", "graphlib": "3.9", "tomllib": "3.11"}
NEWER_TYPING = {
    "Annotated": "3.9",
    "ParamSpec": "3.10",
    "TypeAlias": "3.10",
    "TypeGuard": "3.10",
    "Concatenate": "3.10",
    "Self": "3.11",
    "Never": "3.11",
    "LiteralString": "3.11",
    "assert_never": "3.11",
}
NEWER_KEYWORDS = {"strict": "3.10 (zip)", "slots": "3.10 (dataclass)", "kw_only": "3.10"}
BUILTIN_GENERICS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside an annotation (never evaluated with the future import)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def python38_problems(source: str) -> list[str]:
    tree = ast.parse(source, feature_version=(3, 8))
    problems = []
    if not any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    ):
        problems.append("no `from __future__ import annotations`")
    in_annotation = _annotation_nodes(tree)
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr in NEWER_ATTRIBUTES:
            problems.append(f"{where}: .{node.attr} needs Python {NEWER_ATTRIBUTES[node.attr]}")
        elif isinstance(node, ast.Import):
            problems += [
                f"{where}: module {alias.name} needs Python {NEWER_MODULES[alias.name]}"
                for alias in node.names
                if alias.name in NEWER_MODULES
            ]
        elif isinstance(node, ast.ImportFrom):
            if node.module in NEWER_MODULES:
                problems.append(f"{where}: module {node.module} needs Python 3.9+")
            if node.module == "typing":
                problems += [
                    f"{where}: typing.{alias.name} needs Python {NEWER_TYPING[alias.name]}"
                    for alias in node.names
                    if alias.name in NEWER_TYPING
                ]
        elif isinstance(node, ast.keyword) and node.arg in NEWER_KEYWORDS:
            problems.append(f"{where}: {node.arg}= needs Python {NEWER_KEYWORDS[node.arg]}")
        elif id(node) in in_annotation:
            continue
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in BUILTIN_GENERICS
        ):
            problems.append(f"{where}: {node.value.id}[...] evaluated at runtime needs Python 3.9")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = (node.left, node.right)
            if any(isinstance(side, ast.Constant) and side.value is None for side in sides):
                problems.append(f"{where}: X | None evaluated at runtime needs Python 3.10")
    return problems


@pytest.mark.parametrize("path", HOST_FILES, ids=lambda path: path.name)
def test_host_code_is_python38(path: Path) -> None:
    assert python38_problems(path.read_text()) == []


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("match x:\n    case 1:\n        pass\n", None),  # SyntaxError
        ("with (open('a') as a, open('b') as b):\n    pass\n", None),
        ("from __future__ import annotations\n'x'.removeprefix('y')\n", ".removeprefix"),
        ("from __future__ import annotations\nimport zoneinfo\n", "module zoneinfo"),
        ("from __future__ import annotations\nfrom typing import Annotated\n", "Annotated"),
        ("from __future__ import annotations\nzip(a, b, strict=True)\n", "strict="),
        ("from __future__ import annotations\nX = list[int]\n", "list[...] evaluated"),
        ("from __future__ import annotations\nX = int | None\n", "X | None evaluated"),
        ("def f(x: list[int]) -> None: ...\n", "no `from __future__"),
    ],
)
def test_the_check_catches_newer_python(source: str, problem: str | None) -> None:
    if problem is None:
        with pytest.raises(SyntaxError):
            python38_problems(source)
    else:
        assert any(problem in found for found in python38_problems(source))


def test_annotations_are_not_flagged() -> None:
    source = (
        "from __future__ import annotations\n"
        "def f(x: list[int] | None) -> dict[str, int]:\n"
        "    y: tuple[int, ...] = ()\n"
        "    return {}\n"
    )
    assert python38_problems(source) == []
