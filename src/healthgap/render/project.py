"""Read a Quarto book project (``_quarto.yml``): pages in order, parts, theme and options."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from healthgap.safeio import load_yaml

__all__ = ["Page", "Part", "Book", "read_book", "ProjectError", "output_path_for", "THEME_EXTENSION"]

#: The theme extension the built-in renderer styles its pages with.
THEME_EXTENSION = "nhs"

ERR_NO_PROJECT = (
    "No _quarto.yml in {folder}: run `healthgap render` from the project folder or pass --project."
)
ERR_NOT_BOOK = "{path}: project.type is {kind!r}; the renderer builds Quarto books (project: type: book)."
ERR_NO_CHAPTERS = "{path}: book.chapters is missing or empty; list the chapter .qmd files in order."
ERR_CHAPTER_ENTRY = "{path}: book.{key}[{index}] must be a file name or a `part:` entry, not {value!r}."
ERR_MISSING_FILE = "{path}: book.{key} lists {file!r}, but {full} does not exist."
ERR_NOT_QMD = "{path}: book.{key} lists {file!r}; the built-in renderer renders .qmd and .md files only."
ERR_DUPLICATE = "{path}: {file!r} is listed twice in the book's chapters."


class ProjectError(ValueError):
    """The project file is missing or invalid; the message names the key and the fix."""


@dataclass(frozen=True)
class Page:
    """A page of the book: source (project-relative POSIX path) and output path."""

    source: str
    output: str
    part: str | None = None  # title of the part it belongs to
    appendix: bool = False
    is_part_page: bool = False

    @property
    def slug(self) -> str:
        return posixpath.splitext(posixpath.basename(self.source))[0]

    @property
    def prefix(self) -> str:
        """Relative prefix from this page back to the site root ("" or "../")."""
        depth = self.output.count("/")
        return "../" * depth


@dataclass(frozen=True)
class Part:
    """A part heading in the navigation and the pages under it."""

    title: str
    page: str | None  # output path when the part has its own .qmd page
    pages: tuple[str, ...]  # output paths of its chapters
    appendix: bool = False


@dataclass(frozen=True)
class Book:
    """The book: metadata and pages in reading order."""

    root: Path
    title: str
    subtitle: str | None
    author: str | None
    date: str | None
    footer: str | None
    pages: tuple[Page, ...]
    nav: tuple[Page | Part, ...]
    execute: dict[str, Any] = field(default_factory=dict)
    html: dict[str, Any] = field(default_factory=dict)  # merged `format: html/<ext>-html` options
    theme_dirs: tuple[Path, ...] = ()  # format extensions in use, e.g. _extensions/nhs
    lang: str = "en-GB"
    resources: tuple[str, ...] = ()
    search: bool = True

    @property
    def number_sections(self) -> bool:
        return bool(self.html.get("number-sections", True))

    def page(self, output: str) -> Page:
        return next(p for p in self.pages if p.output == output)


def output_path_for(source: str) -> str:
    """The site path Quarto gives a page: ``chapters/x.qmd`` -> ``chapters/x.html``."""
    return posixpath.splitext(source)[0] + ".html"


def _load_yaml(path: Path) -> dict[str, Any]:
    """The project file, read by :func:`healthgap.safeio.load_yaml` (bounded, duplicate keys refused)."""
    data = load_yaml(path, what=path.name, error=ProjectError)
    return data if isinstance(data, dict) else {}


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("name", ""))
    return str(value)


def _as_date(value: Any, fmt: Any) -> str | None:
    """Quarto's ``date: today`` (and ``now``, ``last-modified``) as "25 November 2026"."""
    if value is None:
        return None
    if str(value) in ("today", "now", "last-modified"):
        import datetime as _dt

        today = _dt.date.today()
        return f"{today.day} {today.strftime('%B %Y')}"
    return str(value)


def _format_options(root: Path, fmt: Any) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """Merge html options: the extension's own `contributes` first, then the project's."""
    if not isinstance(fmt, dict):
        return {}, ()
    merged: dict[str, Any] = {}
    themes: list[Path] = []
    for name, opts in fmt.items():
        name = str(name)
        if name != "html" and not name.endswith("-html"):
            continue
        if name.endswith("-html"):
            ext = root / "_extensions" / name[: -len("-html")]
            ext_file = ext / "_extension.yml"
            if ext_file.is_file():
                themes.append(ext)
                contributed = _load_yaml(ext_file).get("contributes", {}).get("formats", {}).get("html", {})
                merged.update(
                    {k: v for k, v in (contributed or {}).items() if k not in ("css", "theme", "filters")}
                )
        if isinstance(opts, dict):
            merged.update(opts)
    return merged, tuple(themes)


def _chapter_entries(path: Path, root: Path, key: str, entries: Any, *, appendix: bool, seen: set[str]):
    if not isinstance(entries, list):
        raise ProjectError(ERR_CHAPTER_ENTRY.format(path=path, key=key, index=0, value=entries))
    pages: list[Page] = []
    nav: list[Page | Part] = []

    def make(file: str, sub_key: str, part: str | None, is_part_page: bool = False) -> Page:
        file = posixpath.normpath(str(file).strip())
        if not file.endswith((".qmd", ".md")):
            raise ProjectError(ERR_NOT_QMD.format(path=path, key=sub_key, file=file))
        full = root / file
        if not full.is_file():
            raise ProjectError(ERR_MISSING_FILE.format(path=path, key=sub_key, file=file, full=full))
        if file in seen:
            raise ProjectError(ERR_DUPLICATE.format(path=path, file=file))
        seen.add(file)
        return Page(file, output_path_for(file), part, appendix, is_part_page)

    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            page = make(entry, f"{key}[{i}]", None)
            pages.append(page)
            nav.append(page)
        elif isinstance(entry, dict) and "part" in entry:
            part_value = str(entry["part"])
            part_page = None
            title = part_value
            if part_value.endswith((".qmd", ".md")):
                part_page = make(part_value, f"{key}[{i}].part", part_value, is_part_page=True)
                pages.append(part_page)
            children: list[Page] = []
            for j, child in enumerate(entry.get("chapters") or []):
                if isinstance(child, dict) and "href" in child:
                    child = child["href"]
                if not isinstance(child, str):
                    raise ProjectError(
                        ERR_CHAPTER_ENTRY.format(path=path, key=f"{key}[{i}].chapters", index=j, value=child)
                    )
                children.append(make(child, f"{key}[{i}].chapters[{j}]", title))
            pages.extend(children)
            nav.append(
                Part(
                    title,
                    part_page.output if part_page else None,
                    tuple(c.output for c in children),
                    appendix,
                )
            )
        elif isinstance(entry, dict) and ("href" in entry or "file" in entry):
            page = make(str(entry.get("href") or entry.get("file")), f"{key}[{i}]", None)
            pages.append(page)
            nav.append(page)
        else:
            raise ProjectError(ERR_CHAPTER_ENTRY.format(path=path, key=key, index=i, value=entry))
    return pages, nav


def read_book(root: Path) -> Book:
    """Read ``<root>/_quarto.yml`` as a Quarto book.

    Parameters
    ----------
    root : the project folder.

    Returns
    -------
    Book

    Raises
    ------
    ProjectError
        No project file, not a book, or chapters missing.

    References
    ----------
    .. [1] Quarto, "Book structure", https://quarto.org/docs/books/book-structure.html
    """
    root = Path(root).resolve()
    path = root / "_quarto.yml"
    if not path.is_file():
        raise ProjectError(ERR_NO_PROJECT.format(folder=root))
    data = _load_yaml(path)
    project = data.get("project") or {}
    kind = project.get("type", "book") if isinstance(project, dict) else "book"
    if kind != "book":
        raise ProjectError(ERR_NOT_BOOK.format(path=path, kind=kind))
    book = data.get("book") or {}
    if not isinstance(book, dict) or not book.get("chapters"):
        raise ProjectError(ERR_NO_CHAPTERS.format(path=path))
    seen: set[str] = set()
    pages, nav = _chapter_entries(path, root, "chapters", book["chapters"], appendix=False, seen=seen)
    if book.get("appendices"):
        app_pages, _app_nav = _chapter_entries(
            path, root, "appendices", book["appendices"], appendix=True, seen=seen
        )
        app_pages = [Page(p.source, p.output, "Appendices", True, p.is_part_page) for p in app_pages]
        pages.extend(app_pages)
        nav.append(Part("Appendices", None, tuple(p.output for p in app_pages), True))
    html, themes = _format_options(root, data.get("format"))
    execute = dict(data.get("execute") or {})
    execute.update(html.get("execute") or {})
    footer = book.get("page-footer")
    if isinstance(footer, dict):
        footer = " ".join(str(v) for v in footer.values() if v)
    resources = project.get("resources", []) if isinstance(project, dict) else []
    return Book(
        root=root,
        title=str(book.get("title") or data.get("title") or "Untitled book"),
        subtitle=_as_text(book.get("subtitle")),
        author=_as_text(book.get("author")),
        date=_as_date(book.get("date"), book.get("date-format")),
        footer=_as_text(footer),
        pages=tuple(pages),
        nav=tuple(nav),
        execute=execute,
        html=html,
        theme_dirs=themes,
        lang=str(data.get("lang") or "en-GB"),
        resources=tuple([resources] if isinstance(resources, str) else resources),
        search=book.get("search", True) is not False,
    )
