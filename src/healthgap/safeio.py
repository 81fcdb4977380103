"""Safe input: only regular files, sniffed before they are parsed, and a bounded YAML loader.

Every file a user names (the config, the person table, ``data.truth``, ``data.boundaries``,
the project's ``_quarto.yml``) passes through here before anything parses it, so that a
hostile or mistaken input gives a one-line message instead of a hang, a memory blow-up or
a traceback:

- :func:`file_problem` -- the path must be a regular file: a FIFO (which would block the
  reader for ever), a device such as ``/dev/zero`` (endless), a folder, a socket, a symbolic
  link loop or an unreadable file is named as such.
- :func:`sniff_problem` -- the first bytes are checked: a UTF-16 or UTF-32 byte-order mark or
  NUL bytes in a text file, a Parquet file without its ``PAR1`` magic number, a "CSV" whose
  first line is longer than :data:`MAX_CSV_LINE` bytes.
- :func:`data_file_problem` -- both, for a data file.
- :func:`load_yaml` -- a YAML file of at most :data:`MAX_YAML_BYTES` bytes whose aliases expand
  to at most :data:`MAX_YAML_NODES` values ("billion laughs"), with duplicate keys an error
  naming the key and both lines.
- :func:`resolve` -- an absolute path with symbolic links resolved that never raises (a
  link loop is reported when the file is opened, not as a traceback while resolving).

This module sits at the bottom of the layers (it imports only :mod:`healthgap.errors`).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from healthgap.errors import ConfigError

__all__ = [
    "resolve",
    "file_problem",
    "sniff_problem",
    "data_file_problem",
    "load_yaml",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "MAX_CSV_LINE",
    "SNIFF_BYTES",
]

#: A config is a few kilobytes; anything larger than this is not one.
MAX_YAML_BYTES = 1_000_000
#: Values a YAML file may hold once its aliases are expanded (the default config has ~400).
MAX_YAML_NODES = 100_000
#: Bytes read from the start of a file to recognise its encoding.
SNIFF_BYTES = 1 << 16
#: A CSV header line longer than this is not a table (e.g. a huge file without line breaks).
MAX_CSV_LINE = 1 << 20

NOT_REGULAR = "{what}: {path} is {kind}, not a regular file. Fix: {fix}"
LINK_LOOP = (
    "{what}: {path} is a symbolic link that leads back to itself (a link loop). "
    "Fix: give the path of the real file, or repair the link."
)
NO_PERMISSION = "{what}: {path} cannot be read (permission denied). Fix: {fix}"
UNREADABLE = "{what}: {path} cannot be read ({detail}). Fix: {fix}"
FIX_DEFAULT = "give the path of an ordinary file."
FIX_DATA = "give the path of a .csv or .parquet file."
ENCODED = (
    "{what}: {path} is encoded as {encoding}; healthgap reads UTF-8 text. Fix: convert it to UTF-8, "
    "e.g. `iconv -f {iconv} -t UTF-8 {name} > {stem}-utf8{suffix}`, or in Excel use "
    "Save As > 'CSV UTF-8 (Comma delimited)'."
)
NUL_BYTES = (
    "{what}: {path} contains NUL bytes (the first at byte {offset}), so it is not {kind} text: it is a "
    "binary file, or text in a 16-bit encoding without a byte-order mark. Fix: {fix}"
)
NOT_PARQUET = (
    "{what}: cannot read {path} as parquet: it does not start with the Parquet marker PAR1. "
    "Fix: if it is a CSV file, set data.format: csv; otherwise export the table again as Parquet."
)
LONG_LINE = (
    "{what}: {path} has no line break in its first {limit:,} bytes, so it is not a CSV table "
    "(one header line, then one line per person). Fix: check data.path names the person table."
)
YAML_TOO_BIG = (
    "{what} {path} is {size:,} bytes; a config is a few kilobytes (the limit is {limit:,}). "
    "Fix: check that the path names the config file, not the data."
)
YAML_NOT_UTF8 = (
    "{what} {path} is not UTF-8 text (byte {offset}: {byte}). Fix: save it as UTF-8 "
    "(most editors: Save As, encoding UTF-8)."
)
NOT_YAML = "{what} {path} is not valid YAML: {detail}"
YAML_TOO_MANY = (
    "{what} {path} is not valid YAML for healthgap: its aliases (*name) expand to more than {limit:,} "
    "values (a 'billion laughs' file). Fix: write the values out instead of nesting aliases."
)
YAML_ALIAS_LOOP = "{what} {path} is not valid YAML for healthgap: the alias at line {line} refers to itself. Fix: remove the loop."
YAML_TOO_DEEP = "{what} {path} is nested too deeply to be a config. Fix: check the file."
YAML_DUPLICATE = (
    "{what} {path}: the key {key} appears twice in the same mapping (line {first} and line {second}); "
    "YAML would silently keep only the last. Fix: keep one of them."
)

_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)", "UTF-32"),
    (b"\xff\xfe", "UTF-16 (little-endian)", "UTF-16"),
    (b"\xfe\xff", "UTF-16 (big-endian)", "UTF-16"),
)
_COMPRESSED = (b"\x1f\x8b", b"(\xb5/\xfd", b"BZh")  # gzip, zstd, bzip2: the reader decompresses
_PARQUET_MAGIC = (b"PAR1", b"PARE")  # plain and encrypted footers


def resolve(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with ``~`` expanded and symbolic links resolved, never raising.

    A link loop (which makes :meth:`pathlib.Path.resolve` raise on Python 3.11 and 3.12) gives
    the absolute path unresolved; :func:`file_problem` then reports the loop.
    """
    p = Path(path).expanduser()
    try:
        return p.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(p))


def file_problem(path: str | os.PathLike[str], *, what: str, fix: str = FIX_DEFAULT) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None (also None when it does not exist).

    Parameters
    ----------
    path : the file.
    what : how messages name it, e.g. ``"data.path"``.
    fix : the advice ending a "not a regular file" or "permission denied" message.

    Returns
    -------
    str or None
        The one-line problem; None for a readable regular file, and for a path that does not
        exist (callers say "not found" with their own hint).
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return LINK_LOOP.format(what=what, path=path)
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if exc.errno == errno.EACCES:
            return NO_PERMISSION.format(what=what, path=path, fix=fix)
        return UNREADABLE.format(what=what, path=path, detail=exc.strerror or exc, fix=fix)
    for test, kind in _KINDS:
        if test(info.st_mode):
            return NOT_REGULAR.format(what=what, path=path, kind=kind, fix=fix)
    if not os.access(path, os.R_OK):
        return NO_PERMISSION.format(what=what, path=path, fix=fix)
    return None


def _head(path: str | os.PathLike[str], size: int = SNIFF_BYTES) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def _encoding_problem(head: bytes, *, what: str, path: Path, kind: str, fix: str) -> str | None:
    for bom, encoding, iconv in _BOMS:
        if head.startswith(bom):
            return ENCODED.format(
                what=what,
                path=path,
                encoding=encoding,
                iconv=iconv,
                name=path.name,
                stem=path.stem,
                suffix=path.suffix,
            )
    offset = head.find(b"\x00")
    if offset < 0:
        return None
    even, odd = head[0:200:2], head[1:200:2]
    zeros_even = even.count(0) / max(1, len(even))
    zeros_odd = odd.count(0) / max(1, len(odd))
    if zeros_odd > 0.8 and zeros_even < 0.2:  # "a\0b\0...": UTF-16 LE without a mark
        encoding = "UTF-16 (little-endian, without a byte-order mark)"
    elif zeros_even > 0.8 and zeros_odd < 0.2:
        encoding = "UTF-16 (big-endian, without a byte-order mark)"
    else:
        return NUL_BYTES.format(what=what, path=path, offset=offset, kind=kind, fix=fix)
    return ENCODED.format(
        what=what,
        path=path,
        encoding=encoding,
        iconv="UTF-16",
        name=path.name,
        stem=path.stem,
        suffix=path.suffix,
    )


def sniff_problem(path: str | os.PathLike[str], *, what: str, kind: str) -> str | None:
    """What the first bytes of ``path`` say is wrong with it as a ``kind`` file, or None.

    Parameters
    ----------
    path : a regular file (check :func:`file_problem` first).
    what : how messages name it, e.g. ``"data.path"``.
    kind : ``"csv"``, ``"parquet"``, ``"json"`` or ``"yaml"``.

    Returns
    -------
    str or None
        A byte-order mark of UTF-16/UTF-32 or NUL bytes in a text file (with the command that
        converts it), a Parquet file without ``PAR1``, a CSV without a line break in its first
        :data:`MAX_CSV_LINE` bytes; None when the start looks right (or the file is empty or
        compressed: the reader then reports what it finds).

    References
    ----------
    .. [1] The Unicode Standard, section 23.8 "Byte order mark".
    .. [2] Apache Parquet, "File format" (the ``PAR1`` magic number),
       https://parquet.apache.org/docs/file-format/
    """
    p = Path(path)
    try:
        head = _head(p)
    except OSError as exc:
        return UNREADABLE.format(what=what, path=p, detail=exc.strerror or exc, fix=FIX_DEFAULT)
    if not head:
        return None
    if kind == "parquet":
        return None if head[:4] in _PARQUET_MAGIC else NOT_PARQUET.format(what=what, path=p)
    if head.startswith(_COMPRESSED):
        return None
    fix = FIX_DATA if kind == "csv" else "save it as UTF-8 text."
    problem = _encoding_problem(head, what=what, path=p, kind=kind.upper(), fix=fix)
    if problem or kind != "csv":
        return problem
    if b"\n" not in head and b"\r" not in head:
        with open(p, "rb") as fh:
            while chunk := fh.read(SNIFF_BYTES):
                if b"\n" in chunk or b"\r" in chunk:
                    return None
                if fh.tell() >= MAX_CSV_LINE:
                    return LONG_LINE.format(what=what, path=p, limit=MAX_CSV_LINE)
    return None


def data_file_problem(
    path: str | os.PathLike[str], *, what: str = "data.path", fmt: str | None = None
) -> str | None:
    """:func:`file_problem` then :func:`sniff_problem` for a person table, or None.

    Parameters
    ----------
    path : the data file.
    what : how messages name it.
    fmt : ``"csv"`` or ``"parquet"``; None guesses from the name (``.parquet``/``.pq`` are
        Parquet, anything else is read as CSV text).
    """
    problem = file_problem(path, what=what, fix=FIX_DATA)
    if problem or not os.path.exists(path):
        return problem
    kind = fmt or ("parquet" if str(path).lower().endswith((".parquet", ".pq")) else "csv")
    return sniff_problem(path, what=what, kind=kind)


# ---- YAML ------------------------------------------------------------------------------

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Walk:
    """One pass over a composed YAML node graph: the expanded size (aliases counted every time
    they are used, so a 'billion laughs' file is caught before it is built) and duplicate keys."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()
        self.loop: Node | None = None
        self.duplicate: tuple[str, int, int] | None = None

    def size(self, node: Node, where: str) -> int:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.active:
            self.loop = node
            return self.limit + 1
        self.active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                total += self.size(child, f"{where}[{i}]")
                if total > self.limit:
                    break
        elif isinstance(node, MappingNode):
            self._duplicates(node, where)
            for key_node, value in node.value:
                name = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
                total += self.size(key_node, where) + self.size(value, f"{where}.{name}" if where else name)
                if total > self.limit:
                    break
        self.active.discard(key)
        self.sizes[key] = total
        return total

    def _duplicates(self, node: MappingNode, where: str) -> None:
        if self.duplicate is not None:
            return
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            ident = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if ident in seen:
                name = f"{where}.{key_node.value}" if where else str(key_node.value)
                self.duplicate = (name, seen[ident], line)
                return
            seen[ident] = line


def load_yaml(
    path: str | os.PathLike[str],
    *,
    what: str = "Config file",
    missing: str | None = None,
    error: type[Exception] = ConfigError,
    max_bytes: int = MAX_YAML_BYTES,
    max_nodes: int = MAX_YAML_NODES,
) -> Any:
    """Read a YAML file safely: a regular UTF-8 file, bounded in size and alias expansion,
    with duplicate keys refused.

    Parameters
    ----------
    path : the file.
    what : how messages name it ("Config file", "_quarto.yml").
    missing : the message when the file does not exist (default: "{what} not found: {path}").
    error : the exception raised (:class:`healthgap.errors.ConfigError` by default).
    max_bytes : the largest file accepted.
    max_nodes : the most values the document may hold with its aliases expanded.

    Returns
    -------
    Any
        The document, as :func:`yaml.safe_load` would give it (None for an empty file).

    Raises
    ------
    ConfigError (or ``error``)
        Not a regular file, too big, not UTF-8, not YAML, aliases expanding beyond
        ``max_nodes`` or referring to themselves, or a key repeated in one mapping (the
        message names the key path and both lines).

    References
    ----------
    .. [1] PyYAML, "Loading YAML" (SafeLoader), https://pyyaml.org/wiki/PyYAMLDocumentation
    .. [2] CWE-776, "Improper Restriction of Recursive Entity References" (billion laughs).
    .. [3] YAML 1.2.2, section 3.2.1.1: mapping keys are unique.
    """
    p = Path(path)
    problem = file_problem(p, what=what, fix="give the path of a YAML file.")
    if problem:
        raise error(problem)
    if not p.exists():
        raise error(missing or f"{what} not found: {p}")
    size = p.stat().st_size
    if size > max_bytes:
        raise error(YAML_TOO_BIG.format(what=what, path=p, size=size, limit=max_bytes))
    with open(p, "rb") as fh:
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise error(YAML_TOO_BIG.format(what=what, path=p, size=len(raw), limit=max_bytes))
    problem = _encoding_problem(
        raw[:SNIFF_BYTES], what=what, path=p, kind="YAML", fix="save it as UTF-8 text."
    )
    if problem:
        raise error(problem)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            YAML_NOT_UTF8.format(what=what, path=p, offset=exc.start, byte=f"0x{raw[exc.start]:02x}")
        ) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        walk = _Walk(max_nodes)
        total = walk.size(node, "")
        if walk.loop is not None:
            raise error(YAML_ALIAS_LOOP.format(what=what, path=p, line=walk.loop.start_mark.line + 1))
        if total > max_nodes:
            raise error(YAML_TOO_MANY.format(what=what, path=p, limit=max_nodes))
        if walk.duplicate is not None:
            key, first, second = walk.duplicate
            raise error(YAML_DUPLICATE.format(what=what, path=p, key=key, first=first, second=second))
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise error(NOT_YAML.format(what=what, path=p, detail=detail)) from None
    except RecursionError:
        raise error(YAML_TOO_DEEP.format(what=what, path=p)) from None
    finally:
        loader.dispose()
