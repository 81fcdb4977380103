"""The static site: page template, navigation, theme assets and the atomic swap of the output folder."""

from __future__ import annotations

import html
import os
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path

from healthgap.render.outdir import new_build_dir
from healthgap.render.project import THEME_EXTENSION, Book, Page, Part

__all__ = [
    "PageView",
    "render_page",
    "copy_theme",
    "theme_css_files",
    "build_dir",
    "swap_into",
    "THEME_CSS_HREF",
    "ThemeError",
]

#: Where the built-in renderer puts the theme's stylesheet in the site.
THEME_CSS_HREF = "site_libs/nhs/nhs.css"
ERR_NO_THEME = (
    "The NHS theme extension was not found: expected {expected}. "
    "Restore `_extensions/nhs/` in the project folder (it ships with healthgap)."
)


class ThemeError(FileNotFoundError):
    """The theme extension is missing."""


@dataclass(frozen=True)
class PageView:
    """A rendered page's parts, ready for the template."""

    page: Page
    number: str | None  # "3", "A" or None
    title_text: str
    title_html: str
    title_id: str
    body_html: str
    toc_html: str


def _rel(from_page: str, to: str) -> str:
    return posixpath.relpath(to, posixpath.dirname(from_page) or ".")


def _nav_link(current: str, view: PageView) -> str:
    href = html.escape(_rel(current, view.page.output))
    aria = ' aria-current="page"' if view.page.output == current else ""
    number = f'<span class="hg-nav__number">{html.escape(view.number)}</span> ' if view.number else ""
    return f'<a class="hg-nav__link" href="{href}"{aria}>{number}{html.escape(view.title_text)}</a>'


def _sidebar(book: Book, views: dict[str, PageView], current: str) -> str:
    items: list[str] = []
    for entry in book.nav:
        if isinstance(entry, Part):
            head = (
                _nav_link(current, views[entry.page])
                if entry.page
                else f'<span class="hg-nav__part-title">{html.escape(entry.title)}</span>'
            )
            children = "".join(
                f'<li class="hg-nav__item">{_nav_link(current, views[p])}</li>' for p in entry.pages
            )
            items.append(f'<li class="hg-nav__part">{head}<ul class="hg-nav__list">{children}</ul></li>')
        else:
            items.append(f'<li class="hg-nav__item">{_nav_link(current, views[entry.output])}</li>')
    return (
        '<nav class="hg-sidebar" id="hg-contents" aria-label="Book contents">'
        f'<ul class="hg-nav__list hg-nav__list--top">{"".join(items)}</ul></nav>'
    )


def _pager(current: str, prev: PageView | None, nxt: PageView | None) -> str:
    def link(view: PageView | None, rel: str, label: str) -> str:
        if view is None:
            return ""
        number = f"{view.number} " if view.number else ""
        return (
            f'<a class="hg-pager__link hg-pager__link--{rel}" rel="{rel}" href="{html.escape(_rel(current, view.page.output))}">'
            f'<span class="hg-pager__label">{label}</span> '
            f'<span class="hg-pager__title">{html.escape(number + view.title_text)}</span></a>'
        )

    if prev is None and nxt is None:
        return ""
    return f'<nav class="hg-pager" aria-label="Previous and next pages">{link(prev, "prev", "Previous")}{link(nxt, "next", "Next")}</nav>'


def render_page(
    book: Book,
    views: dict[str, PageView],
    current: str,
    *,
    css: list[str],
    footer_html: str,
    scripts: list[str] | None = None,
    search_form: str = "",
) -> str:
    """The complete HTML document of one page.

    References
    ----------
    .. [1] NHS digital service manual, "Skip link" and "Header",
       https://service-manual.nhs.uk/design-system/components
    .. [2] W3C, "WCAG 2.2", https://www.w3.org/TR/WCAG22/
    """
    order = [p.output for p in book.pages]
    index = order.index(current)
    view = views[current]
    prefix = view.page.prefix
    prev = views[order[index - 1]] if index > 0 else None
    nxt = views[order[index + 1]] if index + 1 < len(order) else None
    links = "\n".join(f'<link rel="stylesheet" href="{html.escape(prefix + href)}">' for href in css)
    links += "".join(f'\n<script src="{html.escape(prefix + src)}" defer></script>' for src in scripts or [])
    page_title = view.title_text if view.title_text == book.title else f"{view.title_text} – {book.title}"
    number = f'<span class="chapter-number">{html.escape(view.number)}</span> ' if view.number else ""
    if view.number and view.page.appendix:  # Quarto: "Appendix A — Title"
        number = f'<span class="chapter-number">Appendix {html.escape(view.number)}</span> — '

    title_id = f' id="{html.escape(view.title_id)}"' if view.title_id else ""
    subtitle = f'<p class="hg-header__subtitle">{html.escape(book.subtitle)}</p>' if book.subtitle else ""
    toc = (
        f'<nav class="hg-toc" aria-label="On this page"><h2 class="hg-toc__title">On this page</h2>{view.toc_html}</nav>'
        if view.toc_html.strip()
        else ""
    )
    byline = ""
    if current == "index.html" and (book.author or book.date):
        bits = " · ".join(html.escape(b) for b in (book.author, book.date) if b)
        byline = f'<p class="hg-byline">{bits}</p>'
    return f"""<!DOCTYPE html>
<html lang="{html.escape(book.lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="healthgap built-in renderer">
<title>{html.escape(page_title)}</title>
{links}
</head>
<body class="hg-book">
<a class="hg-skip-link" href="#main">Skip to main content</a>
<header class="hg-header">
<div class="hg-header__inner">
<a class="hg-header__title" href="{html.escape(prefix + "index.html")}">{html.escape(book.title)}</a>
{subtitle}
<a class="hg-header__contents" href="#hg-contents">Contents</a>
{search_form}
</div>
</header>
<div class="hg-layout">
{_sidebar(book, views, current)}
<main id="main" class="hg-main" tabindex="-1">
<header class="hg-title-block">
<h1{title_id} class="title">{number}<span class="chapter-title">{view.title_html}</span></h1>
{byline}
</header>
{view.body_html}
{_pager(current, prev, nxt)}
</main>
{toc}
</div>
<footer class="hg-footer">
<div class="hg-footer__inner">{footer_html}</div>
</footer>
</body>
</html>
"""


def theme_css_files(book: Book) -> list[Path]:
    """The theme stylesheet: ``_extensions/nhs/nhs.css`` of the project, else of the healthgap checkout."""
    candidates = [d / "nhs.css" for d in book.theme_dirs if d.name == THEME_EXTENSION]
    candidates += [book.root / "_extensions" / THEME_EXTENSION / "nhs.css"]
    candidates += [Path(__file__).resolve().parents[3] / "_extensions" / THEME_EXTENSION / "nhs.css"]
    for path in candidates:
        if path.is_file():
            return [path]
    raise ThemeError(ERR_NO_THEME.format(expected=candidates[1]))


def copy_theme(book: Book, site: Path) -> list[str]:
    """Copy the theme and the project's own ``css:`` files into the site; return their hrefs."""
    hrefs: list[str] = []
    themes = [p.resolve() for p in theme_css_files(book)]
    for path in themes:
        dest = site / THEME_CSS_HREF
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        hrefs.append(THEME_CSS_HREF)
    extra = book.html.get("css") or []
    for rel in [extra] if isinstance(extra, str) else extra:
        source = (book.root / str(rel)).resolve()
        if source.is_file() and book.root in source.parents and source not in themes:
            target = source.relative_to(book.root).as_posix()
            (site / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, site / target)
            hrefs.append(target)
    return hrefs


def build_dir(out: Path, *, area: Path | None = None) -> Path:
    """A fresh private folder to build the site replacing ``out`` in, on the same file system
    (so the swap is a rename): in ``area`` (see :func:`healthgap.render.outdir.build_area`),
    else next to ``out``. Its name carries the process id, so a later render can tell it is stale."""
    folder = out.parent if area is None else area
    folder.mkdir(parents=True, exist_ok=True)
    return new_build_dir(folder, out.name)


def swap_into(build: Path, out: Path, *, area: Path | None = None) -> None:
    """Replace ``out`` with ``build``: rename the old site away (into ``area``, default next to
    ``out``), rename the new one in, delete the old.

    References
    ----------
    .. [1] POSIX ``rename(2)``: atomic within one file system.
    """
    old: Path | None = None
    if out.exists() or out.is_symlink():
        old = new_build_dir(out.parent if area is None else area, out.name, kind="old", mark=False)
        old.rmdir()
        os.replace(out, old)
    try:
        os.replace(build, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
