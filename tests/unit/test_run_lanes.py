"""tests/run_lanes.sh: a failed lane's digest at the end of the CI log.

CI keeps only the log's tail, so the digest is what says why a run failed. Molecule
frames its commands' output (colours, a leading "│", lines wrapped at the terminal's
width): a scenario verifier's ``FAILED`` line must still reach the digest, and Molecule's
own retry notices ("FAILED - RETRYING") must not drown it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FRAME = "\x1b[2m\x1b[31m\u2502\x1b[0m "

FAILED_LANE_OUTPUT = [
    f"  {FRAME}FAILED - RETRYING: [localhost]: Wait for instance(s) creation to complete",
    f"  {FRAME}\x1b[31mFAILED ../shared/tests/test_cluster.py::test_a - assert 1 == 2\x1b[0m",
    f"  {FRAME}\x1b[31mE       assert 1 == 2\x1b[0m",
    f"  {FRAME}==== 1 failed, 86 passed in 466.46s (0:07:46) ====",
    "an ordinary line",
]


def run_lanes(tmp_path: Path, *lanes: str) -> subprocess.CompletedProcess[str]:
    """run_lanes.sh with a Makefile of two targets: ``framed`` prints Molecule-like output
    and fails, ``fine`` passes."""
    output = tmp_path / "framed.txt"
    output.write_text("\n".join(FAILED_LANE_OUTPUT) + "\n", encoding="utf-8")
    makefile = tmp_path / "Makefile"
    makefile.write_text(f"framed:\n\tcat {output}; exit 1\nfine:\n\ttrue\n")
    environment = {
        **os.environ,
        "LC_ALL": "C",  # CI's locale: the frame is matched as bytes
        "MAKE": f"make -f {makefile}",
        "RUN_LANES_LOG_DIR": str(tmp_path / "lanes"),
    }
    return subprocess.run(
        [str(REPO / "tests/run_lanes.sh"), *lanes],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_the_digest_shows_a_framed_verifier_failure(tmp_path: Path) -> None:
    result = run_lanes(tmp_path, "framed", "fine")

    assert result.returncode == 1, result.stderr
    digest = result.stderr.split("its failures", 1)[1].splitlines()
    assert "  FAILED ../shared/tests/test_cluster.py::test_a - assert 1 == 2" in digest
    assert "  E       assert 1 == 2" in digest
    assert "  ==== 1 failed, 86 passed in 466.46s (0:07:46) ====" in digest
    assert not [line for line in digest if "RETRYING" in line or "ordinary" in line], digest
    assert "run_lanes: failed lane: framed" in result.stderr
    assert "failed lane: fine" not in result.stderr


def test_lanes_that_pass_print_no_digest(tmp_path: Path) -> None:
    result = run_lanes(tmp_path, "fine")

    assert result.returncode == 0, result.stderr
    assert "its failures" not in result.stderr
