"""Read Java .properties files such as Kafka's meta.properties."""

from __future__ import annotations


def parse_properties(text: str) -> dict[str, str]:
    """Parse the simple key=value form Kafka writes (meta.properties, server.properties).

    Blank lines and comments (# or !) are skipped; the first '=' or ':' splits
    key from value; surrounding whitespace is dropped. Line continuations and
    escapes are not used by the files this reads, and are rejected rather
    than misread.
    """
    result: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            raise ValueError(f"line {number}: continuation lines are not supported: {raw!r}")
        separators = [i for i in (line.find("="), line.find(":")) if i >= 0]
        if not separators:
            raise ValueError(f"line {number}: expected key=value, got {raw!r}")
        split_at = min(separators)
        key, value = line[:split_at].strip(), line[split_at + 1 :].strip()
        if not key:
            raise ValueError(f"line {number}: empty key in {raw!r}")
        result[key] = value
    return result
