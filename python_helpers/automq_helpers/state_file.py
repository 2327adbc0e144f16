"""The cluster's state file on the Ansible machine: its text, reading it, writing it.

One copy for the two action plugins that keep it (cluster_state, retire_nodes); the
nodes' copies hold the same text (:func:`state_file_text`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["StateFileError", "read_state_file", "state_file_text", "write_state_file"]


class StateFileError(Exception):
    """The state file exists but cannot be read as JSON; the message names it."""


def state_file_text(document: object) -> str:
    """The state file's text (sorted keys, stable diffs); the nodes' copies hold the same."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def read_state_file(path: Path) -> object:
    """The parsed document, or None when there is no state file yet."""
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, json.JSONDecodeError) as error:
        raise StateFileError(f"cannot read the state file {path}: {error}") from None


def write_state_file(path: Path, document: object) -> None:
    """Write atomically (a temporary file beside it, then a rename), mode 0644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(state_file_text(document))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
