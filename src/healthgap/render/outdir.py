"""The output folder: which folders a render may replace, where it builds, and what it leaves behind.

A render replaces its output folder as a whole, so it must never be pointed at a folder holding
anything else. :func:`check_out_folder` runs before anything is rendered and refuses:

- ``/``, the home folder, the project folder, the current folder, and any folder containing one
  of them (``--out .`` in a clone would replace the repository);
- a folder containing the config or the data;
- a file, or any non-empty folder that ``healthgap render`` did not write: every site it writes
  carries a marker file, :data:`MARKER`. A site written by an earlier version (no marker, but
  healthgap's chart bundle or generator tag) is replaced only with ``--force``.

Symbolic links are followed first, and the rules apply to the folder the path leads to (the
link itself is kept and the real folder is replaced).

The site is built in a private folder (:func:`new_build_dir`) under the project's ``_build/``
when that is on the same file system as the output folder (the final swap is a rename), else
next to the output folder. Build folders carry the process id in their names, so the next
render removes those of a render that was killed (:func:`remove_stale_builds`); a render that is
terminated (SIGTERM, SIGHUP) removes its own (see :func:`healthgap.render.render_book`).
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from healthgap.errors import RenderError
from healthgap.safeio import resolve

__all__ = [
    "MARKER",
    "MARKER_TEXT",
    "BUILD_AREA",
    "OutFolderError",
    "check_out_folder",
    "mark_site",
    "build_area",
    "new_build_dir",
    "remove_stale_builds",
    "looks_like_earlier_site",
]

#: The file that marks a folder as a site written by ``healthgap render``.
MARKER = ".healthgap-site"
MARKER_TEXT = (
    "This folder was written by `healthgap render`. The next render replaces it entirely:\n"
    "keep nothing else in it.\n"
)
#: Where sites are built, relative to the project (git-ignored with the rest of ``_build/``).
BUILD_AREA = "_build/site-builds"

_VIA = "{given} leads through a symbolic link to {target}. "
ERR_PROTECTED = (
    "Refusing to render into {target}: it is {what}, and a render replaces the whole output folder. "
    "Nothing was changed. Fix: choose a new folder, e.g. --out {suggest}."
)
ERR_CONTAINS = (
    "Refusing to render into {target}: it contains {what} ({inside}), and a render replaces the whole "
    "output folder. Nothing was changed. Fix: choose a new folder outside it, e.g. --out {suggest}."
)
ERR_NOT_FOLDER = (
    "Refusing to render into {target}: it is {kind}, not a folder to replace. Nothing was changed. "
    "Fix: choose a new folder with --out, e.g. --out {suggest}."
)
ERR_NOT_OURS = (
    "Refusing to render into {target}: it is not empty ({entries}) and was not written by "
    "`healthgap render` (it has no {marker} file), and a render replaces the whole output folder. "
    "Nothing was changed. Fix: choose a new or empty folder with --out, e.g. --out {suggest}."
)
ERR_EARLIER_SITE = (
    "Refusing to render into {target} without --force: it looks like a site written by an earlier "
    "version of healthgap (it has no {marker} file), and a render replaces the whole folder "
    "({entries}). Nothing was changed. Fix: pass --force to replace it, or choose another folder with --out."
)
ERR_LINK_LOOP = (
    "Refusing to render into {given}: it is a symbolic link that leads back to itself (a link loop). "
    "Nothing was changed. Fix: remove the link or choose another folder with --out."
)
ERR_NO_PARENT = (
    "Cannot render into {target}: its parent folder cannot be created ({detail}). Nothing was changed. "
    "Fix: choose a folder you can write to with --out."
)
MSG_LEGACY_BUILD = (
    "Note: {path} looks like a partial build left by an interrupted render of an earlier healthgap "
    "version; a web server serving {parent} may publish it. Delete it once you have checked it."
)

#: Build and swap folders: ``.<site name>.build-<pid>-<random>`` and ``.<site name>.old-<pid>-<random>``.
_OURS = re.compile(r"^\.(?P<name>.+)\.(?:build|old)-(?P<pid>[0-9]+)-[a-z0-9_]+$")
#: What tempfile.mkdtemp named them before process ids were added (earlier versions).
_LEGACY = re.compile(r"^\.(?P<name>.+)\.(?:build|old)-[a-z0-9_]{8}$")
#: Files only a healthgap site has: the chart bundle (both engines) and the built-in renderer's tag.
_SITE_SIGNS = ("site_libs/healthgap/healthgap-charts.js", "site_libs/nhs/nhs.css")
_GENERATOR = b'<meta name="generator" content="healthgap'


class OutFolderError(RenderError):
    """The output folder may not be replaced; nothing was changed."""


def _describe(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return f"{len(names)} entr{'y' if len(names) == 1 else 'ies'}: {shown}"


def looks_like_earlier_site(folder: Path) -> bool:
    """Whether ``folder`` is a site an earlier healthgap wrote before sites carried :data:`MARKER`:
    it has an ``index.html`` and healthgap's chart bundle or theme, or the built-in renderer's
    generator tag."""
    index = folder / "index.html"
    if not index.is_file() or index.is_symlink():
        return False
    if any((folder / sign).is_file() for sign in _SITE_SIGNS):
        return True
    try:
        with open(index, "rb") as fh:
            return _GENERATOR in fh.read(4096)
    except OSError:
        return False


def _is_marked(folder: Path) -> bool:
    marker = folder / MARKER
    return marker.is_file() and not marker.is_symlink()


def _suggest(project: Path, target: Path) -> str:
    for name in ("_site", "_site-new"):
        candidate = project / name
        if candidate != target and not target.is_relative_to(candidate):
            return str(candidate)
    return str(project / "_site-healthgap")


def check_out_folder(
    out: Path,
    *,
    project: Path,
    force: bool = False,
    keep: Iterable[tuple[str, Path]] = (),
    home: Path | None = None,
    cwd: Path | None = None,
) -> Path:
    """The folder a render of ``project`` may replace for ``--out out``; raise if there is none.

    Parameters
    ----------
    out : the output folder as given (absolute; symbolic links not yet resolved).
    project : the project folder.
    force : also replace a site written by an earlier version of healthgap (without
        :data:`MARKER`); never anything else.
    keep : (description, path) of files the output folder must not contain, e.g.
        ``("the config", config_path)``.
    home, cwd : the home and current folders (default: the process's).

    Returns
    -------
    Path
        The real folder (symbolic links resolved) to replace; it may not exist yet.

    Raises
    ------
    OutFolderError
        The folder is protected or holds files a render did not write; the message names the
        folder, why, and the fix. Nothing has been changed.
    """
    given = Path(os.path.abspath(out))
    target = resolve(given)
    project = resolve(project)
    try:
        os.stat(target)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutFolderError(ERR_LINK_LOOP.format(given=given)) from None
    via = _VIA.format(given=given, target=target) if target != given else ""
    suggest = _suggest(project, target)
    protected = [
        (Path(target.anchor), "the root of the file system"),
        (resolve(home or Path.home()), "your home folder"),
        (project, "the project folder"),
        (resolve(cwd or Path.cwd()), "the current folder"),
    ]
    for folder, what in protected:
        if target == folder:
            raise OutFolderError(via + ERR_PROTECTED.format(target=target, what=what, suggest=suggest))
    for folder, what in protected[1:]:
        if folder.is_relative_to(target):
            raise OutFolderError(
                via + ERR_CONTAINS.format(target=target, what=what, inside=folder, suggest=suggest)
            )
    for what, path in keep:
        inside = resolve(path)
        if inside.is_relative_to(target):
            raise OutFolderError(
                via + ERR_CONTAINS.format(target=target, what=what, inside=inside, suggest=suggest)
            )
    if not os.path.lexists(target):
        return target
    if not target.is_dir():
        kind = "a file" if target.is_file() else "not a regular folder"
        raise OutFolderError(via + ERR_NOT_FOLDER.format(target=target, kind=kind, suggest=suggest))
    try:
        if not any(target.iterdir()) or _is_marked(target):
            return target
        entries = _describe(target)
    except OSError as exc:
        raise OutFolderError(
            via
            + ERR_NOT_FOLDER.format(
                target=target, kind=f"a folder that cannot be read ({exc.strerror})", suggest=suggest
            )
        ) from None
    if looks_like_earlier_site(target):
        if force:
            return target
        raise OutFolderError(via + ERR_EARLIER_SITE.format(target=target, marker=MARKER, entries=entries))
    raise OutFolderError(
        via + ERR_NOT_OURS.format(target=target, entries=entries, marker=MARKER, suggest=suggest)
    )


def mark_site(folder: Path) -> None:
    """Write :data:`MARKER` into a site (or a build that will become one)."""
    (folder / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def build_area(project: Path, target: Path) -> Path:
    """Where to build the site replacing ``target``: the project's :data:`BUILD_AREA` when it is on
    the same file system as ``target``'s parent (so the swap is a rename), else that parent.

    Raises
    ------
    OutFolderError
        The folder that will hold the site cannot be created.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutFolderError(ERR_NO_PARENT.format(target=target, detail=exc.strerror or exc)) from None
    area = project / BUILD_AREA
    try:
        area.mkdir(parents=True, exist_ok=True)
        if os.stat(area).st_dev == os.stat(target.parent).st_dev:
            return area
    except OSError:
        pass
    return target.parent


def new_build_dir(area: Path, name: str, *, kind: str = "build", mark: bool = True) -> Path:
    """A new private folder ``.<name>.<kind>-<pid>-<random>`` in ``area``, marked as ours
    (``mark``) so that a later render may delete it once this process is gone."""
    folder = Path(tempfile.mkdtemp(prefix=f".{name}.{kind}-{os.getpid()}-", dir=area))
    if mark:
        mark_site(folder)
    return folder


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_builds(
    folders: Iterable[Path], *, name: str, say: Callable[[str], None] = lambda message: None
) -> list[Path]:
    """Delete build and swap folders of renders whose process is gone (killed with SIGKILL, or a
    power cut) from ``folders`` (the build area and the output folder's parent).

    Only folders named as :func:`new_build_dir` names them, whose process no longer runs, and
    that carry :data:`MARKER` (or are empty) are deleted. Folders of the same shape without a
    process id (earlier versions) are reported through ``say``, never deleted.

    Returns
    -------
    list of Path
        The folders deleted.
    """
    removed: list[Path] = []
    seen: set[Path] = set()
    for parent in folders:
        if parent in seen or not parent.is_dir():
            continue
        seen.add(parent)
        try:
            entries = list(parent.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() or not entry.is_dir():
                continue
            ours = _OURS.match(entry.name)
            if ours and not _alive(int(ours["pid"])):
                if _is_marked(entry) or not any(entry.iterdir()):
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry)
            elif not ours and (legacy := _LEGACY.match(entry.name)) and legacy["name"] == name:
                say(MSG_LEGACY_BUILD.format(path=entry, parent=parent))
    return removed
