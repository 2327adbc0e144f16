"""Bring a node's managed directories, files and links to their wanted state in one step.

A no-op run of the roles used to cost one SSH round trip per file (``file``,
``template``, ``copy``); this compares all of them in one module call and changes only what
differs. :func:`plan` is pure: it compares the wanted entries with a snapshot of what is on
disk (:func:`observe`) and says what to change; :func:`apply` does it, atomically per file
(a temporary file in the same directory, then a rename), and writes the restart record
*before* the first change that needs a restart, so an interrupted run can never leave a
running node on a changed configuration without its record.

Runs on the hosts: standard library only, Python 3.8 grammar.
"""

from __future__ import annotations

import datetime
import grp
import hashlib
import os
import pwd
import shlex
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .private_key import public_key_sha256

__all__ = [
    "Change",
    "Described",
    "Directory",
    "File",
    "Link",
    "NodeFilesError",
    "Observed",
    "Plan",
    "apply",
    "assemble",
    "describe",
    "differing_paths",
    "observe",
    "parse_mode",
    "parse_restart_due",
    "plan",
    "restart_due_text",
    "utc_now",
    "write_atomically",
]


class NodeFilesError(Exception):
    """A wanted state that cannot be reached without destroying something; message says why."""


@dataclass(frozen=True)
class Directory:
    path: str
    owner: str
    group: str
    mode: int


@dataclass(frozen=True)
class File:
    path: str
    content: bytes
    owner: str
    group: str
    mode: int
    # A change to this file takes effect only when the service restarts.
    restart: bool = False
    # Content never leaves the module (no diff, no before/after).
    secret: bool = False
    # A command checking new content before it replaces the file; "%s" is the temporary
    # file holding it (the way the template module's validate works).
    validate: str | None = None


@dataclass(frozen=True)
class Link:
    path: str
    target: str
    restart: bool = False
    # Report a differing target (and record the restart) but leave the link alone: a
    # running JVM still loads classes from the files behind it.
    hold: bool = False


@dataclass(frozen=True)
class Observed:
    """What is at a path: ``kind`` is "absent", "directory", "file", "link" or "other"."""

    kind: str
    uid: int = -1
    gid: int = -1
    mode: int = 0
    content: bytes | None = None
    target: str | None = None


@dataclass(frozen=True)
class Change:
    path: str
    # What differs, in the order it is fixed: "create", "content", "target", "owner",
    # "group", "mode".
    what: tuple[str, ...]
    entry: Directory | File | Link
    # True for a held link: reported, never applied.
    held: bool = False


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def changed_paths(self) -> list[str]:
        return [change.path for change in self.changes]

    @property
    def restart_needed(self) -> bool:
        return any(_needs_restart(change) for change in self.changes)


# What a running service would read only at its next start. An owner, group or mode put
# back changes nothing the service has loaded: it is fixed without a restart.
_RESTART_CHANGES = frozenset({"create", "content", "target"})


def _needs_restart(change: Change) -> bool:
    entry = change.entry
    return (
        isinstance(entry, (File, Link))
        and entry.restart
        and not _RESTART_CHANGES.isdisjoint(change.what)
    )


def parse_mode(value: str | int, name: str) -> int:
    """An octal mode given as a string ("0640"); an int is refused (YAML reads 0640 as 416)."""
    if isinstance(value, int) or not isinstance(value, str):
        raise NodeFilesError(
            f'The mode of {name} must be a quoted octal string such as "0640", not {value!r}.'
        )
    text = value.strip()
    if not text or any(ch not in "01234567" for ch in text) or len(text) > 4:
        raise NodeFilesError(
            f'The mode of {name} is {value!r}: give 3 or 4 octal digits, e.g. "0640".'
        )
    return int(text, 8)


def plan(
    directories: Sequence[Directory],
    files: Sequence[File],
    links: Sequence[Link],
    observed: Mapping[str, Observed],
    ids: Callable[[str, str], tuple[int, int]],
) -> Plan:
    """What to change so every entry is as wanted. ``ids`` maps (owner, group) to (uid, gid).

    Refuses (NodeFilesError) to replace anything of another kind: a directory where a file
    should be, a file where a link should be. Those are never removed silently.
    """
    _refuse_duplicates([*directories, *files, *links])
    changes: list[Change] = []
    for directory in sorted(directories, key=lambda entry: entry.path.count("/")):
        seen = observed.get(directory.path, Observed("absent"))
        if seen.kind == "absent":
            changes.append(Change(directory.path, ("create",), directory))
            continue
        _require_kind(directory.path, seen, "directory")
        what = _attributes(seen, ids(directory.owner, directory.group), directory.mode)
        if what:
            changes.append(Change(directory.path, what, directory))
    for wanted in files:
        seen = observed.get(wanted.path, Observed("absent"))
        if seen.kind == "absent":
            changes.append(Change(wanted.path, ("create",), wanted))
            continue
        _require_kind(wanted.path, seen, "file")
        what = (("content",) if seen.content != wanted.content else ()) + _attributes(
            seen, ids(wanted.owner, wanted.group), wanted.mode
        )
        if what:
            changes.append(Change(wanted.path, what, wanted))
    for link in links:
        seen = observed.get(link.path, Observed("absent"))
        if seen.kind == "absent":
            changes.append(Change(link.path, ("create",), link, held=link.hold))
            continue
        _require_kind(link.path, seen, "link")
        if seen.target != link.target:
            changes.append(Change(link.path, ("target",), link, held=link.hold))
    return Plan(tuple(changes))


def _refuse_duplicates(entries: Iterable[Directory | File | Link]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.path in seen:
            raise NodeFilesError(f"{entry.path} is listed twice: give each path once.")
        if not os.path.isabs(entry.path):
            raise NodeFilesError(f"{entry.path} is not an absolute path.")
        seen.add(entry.path)


def _require_kind(path: str, seen: Observed, kind: str) -> None:
    if seen.kind != kind:
        raise NodeFilesError(
            f"{path} should be a {kind} but is a {seen.kind} on this host. Nothing was changed: "
            f"move it away yourself if it is not needed (it is never removed automatically)."
        )


def _attributes(seen: Observed, wanted_ids: tuple[int, int], mode: int) -> tuple[str, ...]:
    uid, gid = wanted_ids
    what: list[str] = []
    if seen.uid != uid:
        what.append("owner")
    if seen.gid != gid:
        what.append("group")
    if stat.S_IMODE(seen.mode) != mode:
        what.append("mode")
    return tuple(what)


def observe(paths: Iterable[str], read_files: Iterable[str]) -> dict[str, Observed]:
    """A snapshot of ``paths``; the content of the regular files among ``read_files``."""
    readable = set(read_files)
    snapshot: dict[str, Observed] = {}
    for path in paths:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            snapshot[path] = Observed("absent")
            continue
        if stat.S_ISLNK(info.st_mode):
            snapshot[path] = Observed(
                "link", info.st_uid, info.st_gid, info.st_mode, target=os.readlink(path)
            )
        elif stat.S_ISDIR(info.st_mode):
            snapshot[path] = Observed("directory", info.st_uid, info.st_gid, info.st_mode)
        elif stat.S_ISREG(info.st_mode):
            content = None
            if path in readable:
                with open(path, "rb") as handle:
                    content = handle.read()
            snapshot[path] = Observed(
                "file", info.st_uid, info.st_gid, info.st_mode, content=content
            )
        else:
            snapshot[path] = Observed("other", info.st_uid, info.st_gid, info.st_mode)
    return snapshot


def assemble(parts: Sequence[str], wanted: Sequence[File], read: Callable[[str], bytes]) -> bytes:
    """The concatenation of ``parts``: a part written in the same step contributes its
    wanted content, any other is read from the host (a missing one is an error naming it)."""
    planned = {entry.path: entry.content for entry in wanted}
    chunks: list[bytes] = []
    for part in parts:
        if part in planned:
            chunks.append(planned[part])
            continue
        try:
            chunks.append(read(part))
        except FileNotFoundError:
            raise NodeFilesError(
                f"{part}, a part of an assembled file, does not exist on this host."
            ) from None
    return b"".join(chunks)


@dataclass(frozen=True)
class Described:
    """A path to describe (:func:`describe`): ``parts`` for a file assembled from others,
    ``private_key`` for a key, whose content is never described, only its public key."""

    path: str
    parts: tuple[str, ...] = ()
    private_key: bool = False


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a number without a name on this host
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def describe(entries: Sequence[Described]) -> dict[str, dict[str, object]]:
    """What a node_files call would compare at each path, for a decision on the Ansible
    machine (:func:`differing_paths`) whether that call is needed: the kind, owner, group
    and mode; a regular file's sha256, or for an assembled file whether it holds its parts
    (it may hold a key), or for a private key its public key's fingerprint. Never content."""
    observed = observe([entry.path for entry in entries], [entry.path for entry in entries])
    described: dict[str, dict[str, object]] = {}
    for entry in entries:
        seen = observed[entry.path]
        about: dict[str, object] = {"kind": seen.kind}
        if seen.kind != "absent":
            about.update(
                owner=_user_name(seen.uid),
                group=_group_name(seen.gid),
                mode=f"{stat.S_IMODE(seen.mode):04o}",
            )
        if seen.kind == "file":
            content = seen.content or b""
            if entry.private_key:
                about["public_key_sha256"] = public_key_sha256(content.decode("latin-1"))
            elif entry.parts:
                try:
                    holds = content == assemble(entry.parts, [], read_file)
                except NodeFilesError:
                    holds = False
                about.update(parts=list(entry.parts), assembled=holds)
            else:
                about["sha256"] = hashlib.sha256(content).hexdigest()
        described[entry.path] = about
    return described


def differing_paths(
    seen: Mapping[str, Mapping[str, object]],
    directories: Sequence[Mapping[str, object]] = (),
    files: Sequence[Mapping[str, object]] = (),
    assembled: Sequence[Mapping[str, object]] = (),
) -> list[str]:
    """The paths of a node_files call's entries (its ``directories``, ``files`` and
    ``assembled`` arguments) that ``seen`` (:func:`describe`'s answer) does not show as
    wanted, or does not show at all: the call is needed when any is listed."""

    def differs(entry: Mapping[str, object], kind: str) -> bool:
        about = seen.get(str(entry["path"]))
        if about is None or about.get("kind") != kind:
            return True
        mode = f"{parse_mode(entry['mode'], str(entry['path'])):04o}"  # type: ignore[arg-type]
        wanted = (entry.get("owner") or "root", entry.get("group") or "root", mode)
        return (about.get("owner"), about.get("group"), about.get("mode")) != wanted

    paths = [str(entry["path"]) for entry in directories if differs(entry, "directory")]
    for entry in files:
        content = str(entry["content"]).encode("utf-8")
        if (
            differs(entry, "file")
            or seen[str(entry["path"])].get("sha256") != hashlib.sha256(content).hexdigest()
        ):
            paths.append(str(entry["path"]))
    for entry in assembled:
        about = seen.get(str(entry["path"]), {})
        if (
            differs(entry, "file")
            or about.get("parts") != list(entry["parts"])  # type: ignore[call-overload]
            or about.get("assembled") is not True
        ):
            paths.append(str(entry["path"]))
    return paths


def read_file(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def host_ids(owner: str, group: str) -> tuple[int, int]:
    """uid and gid of names on this host; a missing one is an error naming it."""
    try:
        uid = pwd.getpwnam(owner).pw_uid
    except KeyError:
        raise NodeFilesError(f"There is no user {owner!r} on this host: create it first.") from None
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise NodeFilesError(
            f"There is no group {group!r} on this host: create it first."
        ) from None
    return uid, gid


def apply(
    changes: Sequence[Change],
    ids: Callable[[str, str], tuple[int, int]],
    restart_record: tuple[str, bytes] | None,
) -> bool:
    """Make the planned changes. With ``restart_record`` (path, content), the record is
    written and synced before the first change that needs a restart; says whether it was."""
    recorded = restart_record is not None and any(_needs_restart(change) for change in changes)
    if restart_record is not None and recorded:
        path, content = restart_record
        write_atomically(path, content, 0, 0, 0o644)
    # Directories first (new files go into them), then the files without a check (what
    # the checked ones may name: a CA, a password file), then the checked files in their
    # order, each checked then written (so it may name the checked files before it); a
    # refused check leaves it and the checked files after it as they were.
    checked = [
        (change, change.entry)
        for change in changes
        if isinstance(change.entry, File) and change.entry.validate and _rewrites(change)
    ]
    checked_paths = {change.path for change, _entry in checked}
    for change in changes:
        if isinstance(change.entry, Directory):
            _apply_directory(change.entry, change.what, ids)
    for change in changes:
        if not (change.held or isinstance(change.entry, Directory) or change.path in checked_paths):
            _apply_entry(change, ids)
    for change, entry in checked:
        _check_content(entry, ids(entry.owner, entry.group))
        _apply_entry(change, ids)
    return recorded


def _apply_entry(change: Change, ids: Callable[[str, str], tuple[int, int]]) -> None:
    entry = change.entry
    if isinstance(entry, File):
        uid, gid = ids(entry.owner, entry.group)
        if _rewrites(change):
            write_atomically(entry.path, entry.content, uid, gid, entry.mode)
        else:
            os.chown(entry.path, uid, gid)
            os.chmod(entry.path, entry.mode)
    elif isinstance(entry, Link):
        _replace_link(entry)


def _rewrites(change: Change) -> bool:
    return "create" in change.what or "content" in change.what


def _check_content(entry: File, ids: tuple[int, int]) -> None:
    """Run ``entry.validate`` on the new content in a temporary file beside the target
    (owner, group and mode as wanted); a refusal is an error quoting the check's output
    (not for a secret file, whose checker might echo it)."""
    command = entry.validate or ""
    if "%s" not in command:
        raise NodeFilesError(
            f"The check of {entry.path} ({command!r}) has no %s for the file to check."
        )
    directory = os.path.dirname(entry.path)
    handle, temporary = tempfile.mkstemp(prefix=".automq-check-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(entry.content)
            os.fchown(stream.fileno(), *ids)
            os.fchmod(stream.fileno(), entry.mode)
        argv = shlex.split(command.replace("%s", shlex.quote(temporary)))
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    finally:
        os.unlink(temporary)
    if done.returncode != 0:
        said = "" if entry.secret else done.stdout.decode("utf-8", "replace").strip()[-2000:]
        output = f": {said}" if said else ""
        raise NodeFilesError(
            f"The new content of {entry.path} fails its check `{command}` "
            f"(exit {done.returncode}){output}. It was not changed, nor were the checked "
            "files listed after it."
        )


def _apply_directory(
    entry: Directory, what: tuple[str, ...], ids: Callable[[str, str], tuple[int, int]]
) -> None:
    uid, gid = ids(entry.owner, entry.group)
    if "create" in what:
        os.makedirs(entry.path, mode=0o755, exist_ok=True)
    os.chown(entry.path, uid, gid)
    os.chmod(entry.path, entry.mode)


def write_atomically(path: str, content: bytes, uid: int, gid: int, mode: int) -> None:
    """Replace ``path`` with ``content`` (owner, group and mode set before the rename,
    synced): readers see the old file or the new one, never a part."""
    directory = os.path.dirname(path)
    # mkstemp creates the file 0600: the content is never readable by others in between.
    handle, temporary = tempfile.mkstemp(prefix=".automq-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fchown(stream.fileno(), uid, gid)
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _replace_link(link: Link) -> None:
    directory = os.path.dirname(link.path)
    temporary = os.path.join(directory, f".automq-link-{os.getpid()}-{os.path.basename(link.path)}")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(link.target, temporary)
    os.replace(temporary, link.path)
    _sync_directory(directory)


def _sync_directory(directory: str) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def diff(changes: Sequence[Change], observed: Mapping[str, Observed]) -> list[dict[str, str]]:
    """Ansible's diff for the changed non-secret files (content) and for the rest (state)."""
    result: list[dict[str, str]] = []
    for change in changes:
        entry = change.entry
        seen = observed.get(change.path, Observed("absent"))
        if (
            isinstance(entry, File)
            and not entry.secret
            and ("content" in change.what or "create" in change.what)
        ):
            result.append(
                {
                    "before_header": change.path,
                    "after_header": change.path,
                    "before": _text(seen.content) if seen.content is not None else "",
                    "after": _text(entry.content),
                }
            )
        else:
            result.append(
                {
                    "before_header": change.path,
                    "after_header": change.path,
                    "before": _describe(seen) + "\n",
                    "after": _describe_wanted(entry)
                    + ("  (held: applied at the restart)" if change.held else "")
                    + "\n",
                }
            )
    return result


def _text(content: bytes) -> str:
    return content.decode("utf-8", errors="replace")


def _describe(seen: Observed) -> str:
    if seen.kind == "absent":
        return "absent"
    if seen.kind == "link":
        return f"link -> {seen.target}"
    return f"{seen.kind} uid={seen.uid} gid={seen.gid} mode={stat.S_IMODE(seen.mode):04o}"


def _describe_wanted(entry: Directory | File | Link) -> str:
    if isinstance(entry, Link):
        return f"link -> {entry.target}"
    kind = "directory" if isinstance(entry, Directory) else "file"
    return f"{kind} owner={entry.owner} group={entry.group} mode={entry.mode:04o}"


# --------------------------------------------------------------------------- restarts due later
#
# A restart that may wait, but not forever: a node that loaded a renewed certificate
# without restarting still presents its previous one from the clients it built at start
# (KRaft's own), so it must restart before that one expires.  The record holds the
# time, as its first line, by which the restart is due.

_DUE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# datetime.UTC is Python 3.11+; the hosts may have 3.8.
UTC_ZONE = datetime.timezone.utc  # noqa: UP017


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(UTC_ZONE)


def restart_due_text(due: datetime.datetime, why: str) -> bytes:
    """The content of a restart-due record: the UTC time, then the reason."""
    stamp = due.astimezone(UTC_ZONE).strftime(_DUE_FORMAT)
    return f"{stamp}\n{why.rstrip()}\n".encode()


def parse_restart_due(content: bytes) -> datetime.datetime | None:
    """The time a restart-due record names; None when its first line is not one (a
    damaged record counts as due now for the callers)."""
    first = content.decode("utf-8", "replace").split("\n", 1)[0].strip()
    try:
        parsed = datetime.datetime.strptime(first, _DUE_FORMAT)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC_ZONE)


def read_restart_due(path: str) -> tuple[bool, datetime.datetime | None]:
    """(whether the record exists, the time it names)."""
    try:
        with open(path, "rb") as stream:
            return True, parse_restart_due(stream.read(4096))
    except FileNotFoundError:
        return False, None
