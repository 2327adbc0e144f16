"""automq_heap_opts against the host's memory (the preflight's filter jvm_memory_problem)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.jvm_memory import RESERVE_BYTES, jvm_memory_problem, parse_size

GIB_MB = 1024


def test_the_roles_own_sizing_fits() -> None:
    # 3/8 each of a 16 GiB host, as roles/automq/vars/main.yml sizes it.
    assert jvm_memory_problem("-Xms6g -Xmx6g -XX:MaxDirectMemorySize=6g", 16 * GIB_MB) == ""


def test_too_much_for_the_host_names_every_size() -> None:
    problem = jvm_memory_problem("-Xms12g -Xmx12g -XX:MaxDirectMemorySize=6g", 16 * GIB_MB)
    assert problem == (
        "heap 12.0 GiB (-Xmx) + direct memory 6.0 GiB (-XX:MaxDirectMemorySize) + 1.0 GiB for "
        "the rest of the process and the system = 19.0 GiB, more than the host's 16.0 GiB: "
        "under load the kernel would kill AutoMQ"
    )


def test_without_a_direct_memory_limit_the_jvm_allows_as_much_as_the_heap() -> None:
    problem = jvm_memory_problem("-Xmx8g", 16 * GIB_MB)
    assert "direct memory 8.0 GiB (no -XX:MaxDirectMemorySize: as much as -Xmx)" in problem
    assert jvm_memory_problem("-Xmx7g", 16 * GIB_MB) == ""


def test_the_last_option_wins_as_on_the_java_command_line() -> None:
    assert jvm_memory_problem("-Xmx64g -Xmx2g -XX:MaxDirectMemorySize=2g", 8 * GIB_MB) == ""
    assert jvm_memory_problem("-Xmx2g -Xmx64g", 8 * GIB_MB) != ""


@pytest.mark.parametrize("options", ["", "-Xms4g", "-XX:MaxDirectMemorySize=64g", "-Xmx"])
def test_without_a_heap_maximum_there_is_nothing_to_check(options: str) -> None:
    assert jvm_memory_problem(options, 1 * GIB_MB) == ""


@pytest.mark.parametrize(
    ("number", "unit", "expected"),
    [("512", "", 512), ("4", "k", 4096), ("4", "K", 4096), ("3", "m", 3 * 1024**2),
     ("2", "G", 2 * 1024**3), ("1", "t", 1024**4)],
)  # fmt: skip
def test_hotspot_sizes(number: str, unit: str, expected: int) -> None:
    assert parse_size(number, unit) == expected


@given(
    heap_mb=st.integers(min_value=1, max_value=1 << 20),
    direct_mb=st.integers(min_value=1, max_value=1 << 20),
    host_mb=st.integers(min_value=1, max_value=1 << 22),
)
def test_refused_exactly_when_it_does_not_fit(heap_mb: int, direct_mb: int, host_mb: int) -> None:
    options = f"-Xms{heap_mb}m -Xmx{heap_mb}m -XX:MaxDirectMemorySize={direct_mb}m"
    fits = (heap_mb + direct_mb) * 1024**2 + RESERVE_BYTES <= host_mb * 1024**2
    assert (jvm_memory_problem(options, host_mb) == "") is fits
