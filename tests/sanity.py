"""``ansible-test sanity`` on the built automq.platform and automq.alicloud artifacts.

The sanity tests run on what users install: ``collections/build.py`` builds both
artifacts (module_utils materialised; roles, playbooks and python_helpers inside
automq.platform), ``ansible-galaxy collection install`` puts them into an
``ansible_collections/`` tree in a temporary directory, and ``ansible-test sanity --venv``
runs in each installed collection (ansible-test refuses the checkout's symbolic links
to ``python_helpers/``). The tree is outside the checkout: inside it, ansible-test would
take its files from git, which ignores build/, and find none. Each collection's
``tests/sanity/ignore.txt`` says which findings do not apply, and why; the build writes
it as ``ignore-<release>.txt`` for every ansible-core release the collections support up
to the pinned one (run this script with another release's Python, e.g.
``.venv-oldest/bin/python``, to check that one).

Python versions: every test on the Python running this script (the controller's); then,
for automq.platform, whose modules run on the cluster hosts, ``compile`` and ``import``
again on the hosts' oldest Python (3.8), when an interpreter for it is found (on PATH or
in pyenv; otherwise skipped, and said so). automq.alicloud's modules need Python 3.11+
(its tests/config.yml).

Offline but for PyPI: ansible-test creates its virtual environments without pip and
bootstraps pip with a script it downloads from ci-files.testing.ansible.com. That host
is not reachable here, so the script puts in its cache a stand-in that installs the
same pip release from its wheel, fetched from PyPI once. ansible-test's HOME is
``build/sanity/home``: its virtual environments and that cache stay there between runs,
and the user's own ``~/.ansible`` is left alone.

    python tests/sanity.py [--collection platform|alicloud] [--test NAME ...]

Exit status 0 only if every run passed; the summary names each failed run and its tests.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "build" / "sanity"
HOME = WORK / "home"
BIN = Path(sys.executable).parent
COLLECTIONS = ("platform", "alicloud")
# The hosts' oldest Python: compile and import of automq.platform's modules and module_utils.
HOST_PYTHON = "3.8"
HOST_TESTS = ("compile", "import")

GET_PIP_STAND_IN = '''"""Stand-in for get-pip.py, written by tests/sanity.py: ansible-test
cannot download get-pip.py offline. Installs pip from the wheel beside this file, as
get-pip.py would."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WHEEL = os.path.join(HERE, {wheel!r})
sys.path.insert(0, WHEEL)
from pip._internal.cli.main import main  # noqa: E402

# get-pip.py's own options; the packages ansible-test asks for (pip; with 2.16 also
# setuptools and wheel) are all beside this file.
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--no-index", "--find-links", HERE, *ARGS]))
'''


def log(message: str) -> None:
    print(f"sanity: {message}", flush=True)


def _clean_env(**extra: str) -> dict[str, str]:
    """No ANSIBLE_* settings of the checkout (make exports ANSIBLE_CONFIG, whose
    collections path holds the source collections), and ansible-test's HOME."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(HOME=str(HOME), ANSIBLE_NOCOLOR="1", **extra)
    return env


def _run(
    command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def build_and_install(root: Path) -> Path:
    """The artifacts, installed under root; returns the directory of the automq namespace."""
    dist, tree = root / "dist", root / "tree"
    built = _run([sys.executable, str(REPO / "collections" / "build.py"), "--output", str(dist)])
    if built.returncode != 0:
        sys.exit(f"sanity: the build failed:\n{built.stdout}{built.stderr}")
    artifacts = built.stdout.split()
    installed = _run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            "--force",
            "-p",
            str(tree),
            *artifacts,
        ],
        cwd=root,
        env=_clean_env(),
    )
    if installed.returncode != 0:
        sys.exit(f"sanity: ansible-galaxy install failed:\n{installed.stdout}{installed.stderr}")
    log(f"installed {', '.join(Path(a).name for a in artifacts)} into {tree}")
    return tree / "ansible_collections" / "automq"


def pip_bootstrap() -> None:
    """ansible-test's cached get-pip script: the stand-in and the wheels it installs (pip
    alone for ansible-test 2.17+; pip, setuptools and wheel for 2.16)."""
    from ansible_test._internal.python_requirements import get_venv_packages

    packages = get_venv_packages(SimpleNamespace(version=HOST_PYTHON))  # type: ignore[arg-type]
    cache = HOME / ".ansible" / "test" / "cache"
    script = cache / f"get_pip_{packages['pip'].replace('.', '_')}.py"
    cache.mkdir(parents=True, exist_ok=True)
    # requirement -> the wheel that satisfies it in the cache
    wanted = {f"{name}=={version}": f"{name}-{version}-*.whl" for name, version in packages.items()}
    missing = [requirement for requirement, wheel in wanted.items() if not any(cache.glob(wheel))]
    if missing:
        fetched = _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                str(cache),
                *missing,
            ]
        )
        if fetched.returncode != 0:
            failure = fetched.stdout + fetched.stderr
            sys.exit(f"sanity: cannot fetch {', '.join(missing)}:\n{failure}")
    pip_wheel = sorted(cache.glob(f"pip-{packages['pip']}-*.whl"))[0]
    stand_in = GET_PIP_STAND_IN.format(wheel=pip_wheel.name)
    if not script.exists() or script.read_text() != stand_in:
        script.write_text(stand_in)
        log(f"pip bootstrap for ansible-test ({', '.join(wanted)}): {script}")


def find_python(version: str) -> str | None:
    """An interpreter of this version that runs (pyenv's shims exist but may refuse)."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        shutil.which(f"python{version}"),
        *sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"), reverse=True),
    ]
    for candidate in filter(None, candidates):
        checked = _run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        if checked.returncode == 0 and checked.stdout.strip() == version:
            return candidate
    return None


def interpreters_path(pythons: dict[str, str]) -> str:
    """PATH with a directory of links first, so ansible-test finds pythonX.Y that run."""
    links = WORK / "pythons"
    shutil.rmtree(links, ignore_errors=True)
    links.mkdir(parents=True)
    for version, interpreter in pythons.items():
        (links / f"python{version}").symlink_to(interpreter)
    return f"{links}{os.pathsep}{os.environ.get('PATH', '')}"


def failed_tests(output: str) -> list[str]:
    """The tests ansible-test lists after 'The N sanity test(s) listed below ... failed'."""
    match = re.search(r"listed below \(out of \d+\) failed.*?\n((?:\S.*\n)+?)(?:FATAL|\Z)", output)
    if not match:
        return []
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def sanity(collection: Path, python: str, tests: list[str], path: str) -> tuple[bool, list[str]]:
    command = [
        str(BIN / "ansible-test"),
        "sanity",
        "--venv",
        "--python",
        python,
        "--color",
        "no",
        *(option for test in tests for option in ("--test", test)),
    ]
    # Streams the output as it comes and keeps it for the summary.
    with subprocess.Popen(
        command,
        cwd=collection,
        env=_clean_env(PATH=path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()
    output = "".join(lines)
    if process.returncode == 0:
        return True, []
    if failed := failed_tests(output):
        return False, failed
    # ansible-test stopped before its list (a test that crashed, a missing interpreter).
    fatal = next((line for line in lines if line.startswith("FATAL:")), "see the output above")
    return False, [fatal.strip()[:300]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", action="append", choices=COLLECTIONS)
    parser.add_argument("--test", action="append", default=[], help="only this sanity test")
    parser.add_argument("--keep", action="store_true", help="keep the installed tree")
    args = parser.parse_args()
    started = time.monotonic()

    controller = "{}.{}".format(*sys.version_info[:2])
    pythons = {controller: sys.executable}
    host = find_python(HOST_PYTHON)
    if host:
        pythons[HOST_PYTHON] = host
    path = interpreters_path(pythons)
    root = Path(tempfile.mkdtemp(prefix="automq-sanity-"))
    try:
        return run_all(args, controller, pythons, path, build_and_install(root), started)
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run_all(
    args: argparse.Namespace,
    controller: str,
    pythons: dict[str, str],
    path: str,
    namespace: Path,
    started: float,
) -> int:
    pip_bootstrap()

    runs: list[tuple[str, str, list[str]]] = []
    for name in args.collection or COLLECTIONS:
        runs.append((name, controller, args.test))
        host_tests = [t for t in HOST_TESTS if not args.test or t in args.test]
        if name == "platform" and host_tests:
            runs.append((name, HOST_PYTHON, host_tests))

    results = []
    for name, python, tests in runs:
        label = f"automq.{name} on Python {python}" + (f" ({', '.join(tests)})" if tests else "")
        if python not in pythons:
            results.append((label, None, [f"no python{python} found (PATH, pyenv)"], 0.0))
            log(f"SKIPPED {label}: no python{python} found (PATH, pyenv)")
            continue
        log(f"{label}: ansible-test sanity")
        run_started = time.monotonic()
        passed, failures = sanity(namespace / name, python, tests, path)
        results.append((label, passed, failures, time.monotonic() - run_started))

    log("summary:")
    for label, passed, failures, seconds in results:
        state = "skipped" if passed is None else "passed" if passed else "FAILED"
        detail = f": {', '.join(failures)}" if failures else ""
        log(f"  {state:7} {label} ({seconds:.0f} s){detail}")
    log(f"total {time.monotonic() - started:.0f} s")
    return 0 if all(passed is not False for _label, passed, _f, _s in results) else 1


if __name__ == "__main__":
    sys.exit(main())
