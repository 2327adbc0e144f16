"""Build the automq.alicloud and automq.platform collection artifacts.

The checkout keeps one copy of each helper: ``plugins/module_utils/automq_helpers``
in both collections is a symbolic link to ``python_helpers/automq_helpers``, which
``ansible-galaxy collection build`` skips ("a symbolic link to a directory outside
the collection"). This script stages each collection with every link replaced by
what it points to, adds to ``automq.platform`` what its users run (the roles, the
playbooks with ``site.yml`` among them, and ``python_helpers``, which the console
role installs on its host from ``<role>/../../python_helpers``), writes each
collection's ``tests/sanity/ignore.txt`` as the ``ignore-<version>.txt`` of every
ansible-core release from the oldest that ``requires_ansible`` admits to the pinned one
(ansible-test reads only the file named for its own release; the findings are the same),
and builds both with ``ansible-galaxy``:

    python collections/build.py [--output DIR]     # default build/collections

Install the artifacts with ``ansible-galaxy collection install <artifact>``; then
``ansible-playbook -i <inventory> automq.platform.site`` runs the same plays as
``site.yml`` in the checkout.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "collections" / "ansible_collections" / "automq"
COLLECTIONS = ("alicloud", "platform")
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "automq_state")
# requirements.lock pins the ansible-core the project runs on.
PINNED_CORE = re.compile(r"^ansible-core==(\d+)\.(\d+)\.", re.MULTILINE)
OLDEST_CORE = re.compile(r"^requires_ansible:\s*[\"']?>=(\d+)\.(\d+)", re.MULTILINE)


def _copy(source: Path, target: Path) -> None:
    # symlinks=False: a link is copied as the file or directory it points to.
    shutil.copytree(source, target, symlinks=False, ignore=SKIPPED)


def stage_platform_extras(collection: Path) -> None:
    """The roles, the playbooks and python_helpers, inside automq.platform."""
    _copy(REPO / "roles", collection / "roles")
    _copy(REPO / "playbooks", collection / "playbooks")
    _copy(REPO / "python_helpers", collection / "python_helpers")
    # site.yml sits beside playbooks/ in the checkout and inside it in the
    # collection: its imports lose the directory.
    site = (REPO / "site.yml").read_text()
    (collection / "playbooks" / "site.yml").write_text(
        site.replace("import_playbook: playbooks/", "import_playbook: ")
    )


def sanity_releases(collection: Path) -> list[str]:
    """ansible-core releases (``2.16``, ...) from the collection's oldest to the pinned one."""
    oldest = OLDEST_CORE.search((collection / "meta" / "runtime.yml").read_text())
    pinned = PINNED_CORE.search((REPO / "requirements.lock").read_text())
    if not oldest or not pinned or oldest.group(1) != pinned.group(1):
        raise SystemExit(
            f"build: cannot tell the ansible-core releases of {collection.name} from its "
            "meta/runtime.yml (requires_ansible: '>=2.N.0') and the pin "
            "(ansible-core==2.N.M in requirements.lock)"
        )
    major = oldest.group(1)
    return [f"{major}.{minor}" for minor in range(int(oldest.group(2)), int(pinned.group(2)) + 1)]


def stage_sanity_ignores(collection: Path) -> None:
    """tests/sanity/ignore.txt as ignore-<release>.txt for each release ansible-test runs on."""
    source = collection / "tests" / "sanity" / "ignore.txt"
    if not source.exists():
        return
    for release in sanity_releases(collection):
        shutil.copyfile(source, source.with_name(f"ignore-{release}.txt"))
    source.unlink()


def stage(name: str, root: Path) -> Path:
    collection = root / "ansible_collections" / "automq" / name
    _copy(SOURCE / name, collection)
    if name == "platform":
        stage_platform_extras(collection)
    stage_sanity_ignores(collection)
    links = [path for path in collection.rglob("*") if path.is_symlink()]
    if links:  # copytree follows links; one left would be skipped by the build
        raise SystemExit(f"build: links left in the staged {name}: {links}")
    return collection


def build(output: Path) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    galaxy = Path(sys.executable).with_name("ansible-galaxy")
    artifacts = []
    with tempfile.TemporaryDirectory(prefix="automq-collections-") as staging:
        for name in COLLECTIONS:
            collection = stage(name, Path(staging))
            built = subprocess.run(
                [
                    str(galaxy),
                    "collection",
                    "build",
                    str(collection),
                    "--force",
                    "--output-path",
                    str(output),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if built.returncode != 0 or "Skipping" in built.stdout + built.stderr:
                raise SystemExit(
                    f"build: ansible-galaxy failed for automq.{name}:\n{built.stdout}{built.stderr}"
                )
            artifact = built.stdout.strip().rsplit(" at ", 1)[-1]
            artifacts.append(Path(artifact))
    return artifacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "build" / "collections")
    for artifact in build(parser.parse_args().output):
        print(artifact)


if __name__ == "__main__":
    main()
