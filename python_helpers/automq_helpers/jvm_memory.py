"""Does the JVM memory asked for in ``automq_heap_opts`` fit the host?

AutoMQ's broker keeps its caches off-heap (direct memory) and its heap for the rest, so
the process can grow to the heap's maximum plus the direct memory's maximum, and more
(metaspace, thread stacks, code cache). A host with less memory than that sends the
process to the kernel's OOM killer under load, long after the deploy looked fine.

The sizes follow HotSpot's syntax: a number of bytes with an optional ``k``, ``m``,
``g`` or ``t`` (either case). Without ``-XX:MaxDirectMemorySize`` the JVM allows as
much direct memory as the heap's maximum (``-Xmx``), so that is counted too.

Runs on the Ansible machine (a filter plugin); pure.
"""

from __future__ import annotations

import re

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = r"([0-9]+)([kmgtKMGT]?)"
_HEAP = re.compile(r"(?:^|\s)-Xmx" + _SIZE + r"(?=\s|$)")
_DIRECT = re.compile(r"(?:^|\s)-XX:MaxDirectMemorySize=" + _SIZE + r"(?=\s|$)")
# What the rest of the process and the host need beyond heap and direct memory.
RESERVE_BYTES = 1024**3


def parse_size(number: str, unit: str) -> int:
    return int(number) * _UNITS[unit.lower()]


def _last(pattern: re.Pattern[str], options: str) -> int | None:
    """The last occurrence wins, as on the java command line."""
    found = pattern.findall(options)
    return parse_size(*found[-1]) if found else None


def _gib(value: int) -> str:
    return f"{value / 1024**3:.1f} GiB"


def jvm_memory_problem(options: str, host_memory_mb: int) -> str:
    """Empty when heap + direct memory + :data:`RESERVE_BYTES` fit in the host's memory,
    else one sentence naming the sizes and the fix ("" also when there is no -Xmx: the
    role sizes the heap itself then)."""
    heap = _last(_HEAP, options)
    if heap is None:
        return ""
    direct = _last(_DIRECT, options)
    direct_bytes = heap if direct is None else direct
    host = int(host_memory_mb) * 1024**2
    needed = heap + direct_bytes + RESERVE_BYTES
    if needed <= host:
        return ""
    direct_text = (
        f"direct memory {_gib(direct_bytes)} (-XX:MaxDirectMemorySize)"
        if direct is not None
        else f"direct memory {_gib(direct_bytes)} (no -XX:MaxDirectMemorySize: as much as -Xmx)"
    )
    return (
        f"heap {_gib(heap)} (-Xmx) + {direct_text} + {_gib(RESERVE_BYTES)} for the rest of the "
        f"process and the system = {_gib(needed)}, more than the host's {_gib(host)}: under load "
        "the kernel would kill AutoMQ"
    )
