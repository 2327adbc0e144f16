"""Alibaba Cloud access policy documents (RAM and OSS bucket policies share the grammar).

``{"Version": "1", "Statement": [{"Effect", "Action", "Resource", "Principal"?,
"Condition"?}]}``. A single string and a one-element list mean the same; the order of
actions, resources and principals does not matter. :func:`canonical_document` gives the
form in which two equivalent documents compare equal.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PolicyError",
    "as_list",
    "canonical_document",
    "canonical_statement",
    "document_size",
    "documents_equal",
    "dump_document",
    "load_document",
]

LIST_FIELDS = ("Action", "NotAction", "Resource", "NotResource")


class PolicyError(ValueError):
    """A policy document is malformed or too large; the message says which and why."""


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _canonical_principal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): sorted({str(v) for v in as_list(v)}) for k, v in sorted(value.items())}
    return sorted({str(v) for v in as_list(value)})


def _canonical_condition(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    return {
        str(operator): (
            {str(k): sorted({str(v) for v in as_list(v)}) for k, v in sorted(keys.items())}
            if isinstance(keys, Mapping)
            else keys
        )
        for operator, keys in sorted(value.items())
    }


def canonical_statement(statement: Mapping[str, Any]) -> dict[str, Any]:
    """Sorted, de-duplicated lists; ``Effect`` capitalized; unknown fields kept as they are."""
    result: dict[str, Any] = {}
    for key, value in statement.items():
        if key in LIST_FIELDS:
            result[key] = sorted({str(v) for v in as_list(value)})
        elif key == "Principal":
            result[key] = _canonical_principal(value)
        elif key == "Condition":
            result[key] = _canonical_condition(value)
        elif key == "Effect" and isinstance(value, str):
            result[key] = value.strip().capitalize()
        else:
            result[key] = value
    return dict(sorted(result.items()))


def load_document(raw: str | Mapping[str, Any] | None, what: str = "policy") -> dict[str, Any]:
    """Parse a document given as JSON text (also URL-encoded, as RAM may return it)."""
    if raw is None or raw == "":
        return {"Version": "1", "Statement": []}
    if isinstance(raw, Mapping):
        document = dict(raw)
    elif not isinstance(raw, str):
        raise PolicyError(f"{what} must be a JSON object or its text, not {type(raw).__name__}")
    else:
        text = raw.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = urllib.parse.unquote(text)
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise PolicyError(f"{what} is not valid JSON: {exc}") from exc
        if not isinstance(parsed, Mapping):
            raise PolicyError(f"{what} must be a JSON object with Version and Statement")
        document = dict(parsed)
    statements = document.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        raise PolicyError(f"{what}: Statement must be a list of objects")
    document["Statement"] = [dict(s) for s in statements]
    document.setdefault("Version", "1")
    return document


def canonical_document(raw: str | Mapping[str, Any] | None) -> dict[str, Any]:
    document = load_document(raw)
    return {
        "Version": str(document.get("Version", "1")),
        "Statement": [canonical_statement(s) for s in document["Statement"]],
    }


def documents_equal(a: str | Mapping[str, Any] | None, b: str | Mapping[str, Any] | None) -> bool:
    """Equal up to list order and single-value/list spelling (statement order matters)."""
    return canonical_document(a) == canonical_document(b)


def dump_document(document: Mapping[str, Any]) -> str:
    """Compact, stable JSON text, as sent to the API."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def document_size(document: Mapping[str, Any]) -> int:
    return len(dump_document(document).encode("utf-8"))
