"""The built-in renderer: execute every chapter in its own kernel, convert with pandoc, write the site."""

from __future__ import annotations

import contextlib
import html
import json
import os
import posixpath
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healthgap._filecache import WAITING_ENV, write_atomic
from healthgap.errors import RenderError
from healthgap.render.assemble import FloatCaptionError, assemble_markdown
from healthgap.render.crossref import (
    CrossrefError,
    PageRefs,
    Target,
    extract_title,
    number_page,
    resolve_refs,
)
from healthgap.render.execute import (
    CellFailure,
    ChapterRun,
    EmptyInline,
    InlineFailure,
    Slots,
    execute_document,
    run_async,
    run_many,
)
from healthgap.render.forkserver import book_imports, fork_server, kernel_manager_class
from healthgap.render.pandoc import PandocError, attr, el, stringify, to_ast, to_html, walk
from healthgap.render.project import Book, Page
from healthgap.render.qmd import Cell, Document, QmdError, parse_qmd
from healthgap.render.search import SEARCH_FORM, section_entries, write_search_assets
from healthgap.render.site import PageView, copy_theme, render_page
from healthgap.render.svgserver import svg_service

__all__ = [
    "render_builtin",
    "scrollable_math",
    "MATH_REGION",
    "LONG_INLINE_TEX",
    "ERR_CELL",
    "ERR_INLINE",
    "ERR_EMPTY_INLINE",
    "PAGE_SECONDS",
    "run_order",
    "kernel_threads",
    "kernel_server",
]

#: Each page's longest execution time in the project's renders (git-ignored with ``_build/``):
#: only the order pages start in, never what they show.
PAGE_SECONDS = "_build/cache/page-seconds.json"

ERR_CELL = "Chapter {chapter} failed in {cell}, line {line}: {ename}: {evalue}"
ERR_INLINE = "Chapter {chapter} failed in the inline expression `{{python}} {code}`: {ename}: {evalue}"
ERR_EMPTY_INLINE = (
    "Chapter {chapter}: {count} inline expression(s) gave an empty value: {listing}. Quarto prints "
    "an inline expression whose value is empty as its code, so every inline value must be a "
    "sentence or a non-empty note; an optional paragraph belongs in a cell that displays "
    "Markdown or nothing."
)
ERR_PARSE = "Chapter {chapter} cannot be read: {problem}"
ERR_KERNEL = "Chapter {chapter} failed: the Python kernel could not run it ({kind}: {detail})."
ERR_PANDOC = "Chapter {chapter} could not be converted to HTML: {problem}"
_SPLIT = "<!--hg:split-->"
#: An equation in a named, keyboard-focusable region that scrolls sideways when the equation is
#: wider than the column (a phone); the theme (nhs.css, ``.hg-math``) styles it.
MATH_REGION = (
    '<span class="hg-math{inline}" role="region" tabindex="0" aria-label="Equation {n}">{math}</span>'
)
_MATH = re.compile(r"<math\b[^>]*\bdisplay=\"(block|inline)\"[^>]*>.*?</math>", re.S)
_TEX = re.compile(r'<annotation encoding="application/x-tex">(.*?)</annotation>', re.S)
#: An inline equation whose TeX is longer than this may not fit a phone's line: it gets a region too.
LONG_INLINE_TEX = 60
_APPENDIX_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class _Built:
    page: Page
    doc: Document
    blocks: list[Any]
    title: list[Any] | None
    title_attr: list[Any]
    number: str | None = None
    refs: PageRefs | None = None
    api: list[int] | None = None


def scrollable_math(body: str) -> str:
    """Put every display equation, and every long inline one, of pandoc's HTML (MathML) in a scroll region.

    MathML does not break an equation across lines, so on a phone a long one would run out of the
    column; in its region (:data:`MATH_REGION`, named "Equation 1", "Equation 2", ... in page
    order so that every region's name is unique) it scrolls sideways instead, and a keyboard can
    reach it. An inline equation gets a region only when its TeX is longer than
    :data:`LONG_INLINE_TEX` characters (short ones fit any line, and need no tab stop).
    """
    count = 0

    def region(match: re.Match[str]) -> str:
        nonlocal count
        inline = match.group(1) == "inline"
        tex = _TEX.search(match.group(0))
        if inline and (tex is None or len(html.unescape(tex.group(1)).strip()) <= LONG_INLINE_TEX):
            return match.group(0)
        count += 1
        return MATH_REGION.format(inline=" hg-math-inline" if inline else "", n=count, math=match.group(0))

    return _MATH.sub(region, body)


def _chapter_env(base: dict[str, str], page: Page) -> dict[str, str]:
    env = dict(base)
    env["HEALTHGAP_PAGE_PREFIX"] = page.prefix
    env["HEALTHGAP_CHAPTER"] = page.slug
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def _defaults(book: Book, doc: Document) -> dict[str, Any]:
    defaults = dict(book.execute)
    front = doc.meta.get("execute")
    if isinstance(front, dict):
        defaults.update(front)
    return defaults


async def _execute_all(
    book: Book,
    docs: list[Document],
    env: dict[str, str],
    jobs: int,
    progress,
    kernel_logs: Path,
    empty_inline: str = "error",
    kernel_manager: type | None = None,
    waiting: Path | None = None,
) -> list[ChapterRun]:
    slots = Slots(jobs, waiting=waiting)

    @contextlib.asynccontextmanager
    async def turn(page: Page, rank: int) -> AsyncIterator[None]:
        async with slots.hold(rank):
            progress(f"  {page.source}: running")
            yield

    async def one(page: Page, doc: Document, rank: int) -> ChapterRun:
        try:
            run = await execute_document(
                doc,
                cwd=(book.root / page.source).parent,
                env=_chapter_env(env, page),
                defaults=_defaults(book, doc),
                kernel_log=kernel_logs / f"{page.slug}.log",
                kernel_manager=kernel_manager,
                slot=lambda: turn(page, rank),
            )
        except CellFailure as exc:
            raise RenderError(
                ERR_CELL.format(
                    chapter=page.source,
                    cell=exc.cell.describe(),
                    line=exc.cell.line,
                    ename=exc.ename,
                    evalue=exc.evalue,
                )
            ) from exc
        except InlineFailure as exc:
            raise RenderError(
                ERR_INLINE.format(chapter=page.source, code=exc.code, ename=exc.ename, evalue=exc.evalue)
            ) from exc
        except EmptyInline as exc:
            listing = "; ".join(f"`{{python}} {code}` is {value!r}" for code, value in exc.empty)
            message = ERR_EMPTY_INLINE.format(chapter=page.source, count=len(exc.empty), listing=listing)
            if empty_inline != "warn" or exc.run is None:
                raise RenderError(message) from exc
            progress(f"WARNING: {message}")
            run = exc.run
        except (RuntimeError, TimeoutError, OSError) as exc:
            log = kernel_logs / f"{page.slug}.log"
            tail = (
                log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
                if log.is_file()
                else []
            )
            detail = f"{exc}" + ("\nKernel output:\n" + "\n".join(tail) if tail else "")
            raise RenderError(
                ERR_KERNEL.format(chapter=page.source, kind=type(exc).__name__, detail=detail)
            ) from exc
        progress(f"  {page.source}: done in {run.seconds:.1f} s")
        return run

    order = run_order(book)
    factories = [lambda p=book.pages[i], d=docs[i], k=k: one(p, d, k) for k, i in enumerate(order)]
    # kernels start ahead of their turn: those executing (up to twice --jobs while some wait
    # for a lock) and one more, ready to go (Slots)
    runs = await run_many(factories, limit=2 * jobs + 1)
    _record_seconds(book, [run.seconds for run in runs], order)
    by_page = dict(zip(order, runs))
    return [by_page[i] for i in range(len(docs))]


#: The environment variable that sets how many threads polars runs (read when its pool starts).
POLARS_THREADS_ENV = "POLARS_MAX_THREADS"


def kernel_threads(env: dict[str, str], jobs: int, cores: int | None = None) -> dict[str, str]:
    """``env`` with each kernel's share of the cores as its polars thread count.

    ``jobs`` chapters execute at once and each kernel's polars would otherwise start a thread per
    core, so on a busy machine the threads of different kernels take turns on the same cores,
    waiting for each other at every parallel step. Each kernel gets ``cores // jobs`` threads (at
    least one); results do not depend on it. A count the user set (``POLARS_MAX_THREADS`` in the
    render's environment) is kept. On 2 cores at 1,000,000 people, four renders alternated with
    the kernels at polars' default: the kernels used 3-10% fewer processor-seconds (65-78 against
    71-81) and every render was faster (by 1.4-3.8 s); the sites were identical.

    References
    ----------
    .. [1] polars user guide, "Multiprocessing" and ``POLARS_MAX_THREADS``.
    """
    out = dict(env)
    total = cores if cores is not None else (os.cpu_count() or 1)
    out.setdefault(POLARS_THREADS_ENV, str(max(1, total // max(1, jobs))))
    return out


@contextlib.contextmanager
def _kernel_server(book: Book, docs: list[Document], env: dict[str, str], logs: Path):
    """The kernel manager class whose kernels fork from one server that has imported what the
    book's cells import (:mod:`healthgap.render.forkserver`)."""
    sources = [block.source for doc in docs for block in doc.blocks if isinstance(block, Cell)]
    folders = {(book.root / page.source).parent for page in book.pages}
    server_env = dict(env)
    server_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    with fork_server(book_imports(sources, folders), env=server_env, log=logs / "fork-server.log") as server:
        yield kernel_manager_class(server)


@contextlib.contextmanager
def kernel_server(book: Book, *, env: dict[str, str], jobs: int) -> Iterator[type]:
    """Start the chapters' fork server now, for :func:`render_builtin` (its ``kernels``).

    The server imports every module the book's cells import (3.5 s of one core for the default
    book) before the first chapter can start. :func:`healthgap.render.render_book` starts it
    before it checks and prepares the person table (2.4 s at 1,000,000 people, 35 s at
    10,000,000), so the two overlap instead of following each other. ``env`` is the render's
    environment as far as it is known then: each kernel receives its complete environment when
    it starts, and no module the server imports reads the environment at import time. A page
    that cannot be parsed adds no imports (:func:`render_builtin` reports it).
    """
    docs = []
    for page in book.pages:
        with contextlib.suppress(QmdError, OSError, UnicodeDecodeError):
            docs.append(parse_qmd(book.root / page.source))
    with (
        tempfile.TemporaryDirectory(prefix="healthgap-server-") as logs,
        _kernel_server(book, docs, kernel_threads(env, jobs), Path(logs)) as manager,
    ):
        yield manager


def _recorded_seconds(book: Book) -> dict[str, float]:
    try:
        data = json.loads((book.root / PAGE_SECONDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, int | float)}


def run_order(book: Book) -> list[int]:
    """The order pages start in: longest first, by each page's longest time in the project's renders.

    Pages run a few at a time, so the render ends when its slowest kernel does; starting the
    longest pages first keeps the last kernels short (longest-processing-time-first scheduling).
    A page with no recorded time (a new page, or the first render) starts before every timed one,
    in book order; with no record at all the order is the book's. Results are put back in book
    order, so the order changes only when each page runs, never what it shows.

    References
    ----------
    .. [1] Graham RL. Bounds on multiprocessing timing anomalies. SIAM J Appl Math 1969;17:416-29.
    """
    seconds = _recorded_seconds(book)
    return sorted(
        range(len(book.pages)),
        key=lambda i: (-seconds.get(book.pages[i].source, float("inf")), i),
    )


def _record_seconds(book: Book, seconds: list[float], order: list[int]) -> None:
    """Write each page's longest time for :func:`run_order` (atomically; best effort: a read-only
    project only loses the ordering).

    The longest, not the last: a render whose model cache is warm runs the model pages in
    seconds, and ordering the next cold render (new data) by those times would start the fairness
    page last, on the render's critical path.
    """
    path = book.root / PAGE_SECONDS
    before = _recorded_seconds(book)
    record = {
        book.pages[i].source: round(max(s, before.get(book.pages[i].source, 0.0)), 2)
        for i, s in zip(order, seconds)
    }
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(record, indent=1, sort_keys=True).encode("utf-8"))


def _local_assets(blocks: list[Any], page: Page, book: Book, build: Path) -> list[Any]:
    """Copy images the markdown refers to into the site; point ``.qmd`` links at ``.html``."""

    def local(url: str) -> bool:
        return bool(url) and ":" not in url.split("/")[0] and not url.startswith(("/", "#", "data:"))

    def visit(node: dict[str, Any]) -> Any:
        if node["t"] == "Image" and local(node["c"][2][0]):
            rel = posixpath.normpath(posixpath.join(posixpath.dirname(page.source), node["c"][2][0]))
            source = book.root / rel
            if source.is_file() and not rel.startswith(".."):
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, build / rel)
        if node["t"] == "Link" and local(node["c"][2][0]):
            url = node["c"][2][0]
            path, _, anchor = url.partition("#")
            if path.endswith((".qmd", ".md")):
                new = posixpath.splitext(path)[0] + ".html" + (f"#{anchor}" if anchor else "")
                return el("Link", [node["c"][0], node["c"][1], [new, node["c"][2][1]]])
        return None

    return walk(blocks, visit)


def _number_chapters(book: Book, built: list[_Built]) -> None:
    chapter = appendix = 0
    for b in built:
        classes = b.title_attr[1] if b.title_attr else []
        if b.page.is_part_page or "unnumbered" in classes or not book.number_sections:
            continue
        if b.page.appendix:
            b.number = _APPENDIX_LETTERS[appendix % 26]
            appendix += 1
        else:
            chapter += 1
            b.number = str(chapter)


def _toc_blocks(refs: PageRefs) -> list[Any]:
    if not refs.toc:
        return []
    items = []
    for level, ident, number, inlines in refs.toc:
        text = (
            [el("Span", [attr("", ["toc-section-number"]), [el("Str", number)]]), el("Space")]
            if number
            else []
        ) + inlines
        link = el("Link", [attr("", [f"hg-toc__link hg-toc__link--h{level}"]), text, [f"#{ident}", ""]])
        items.append([el("Plain", [link])])
    return [el("BulletList", items)]


def render_builtin(
    book: Book,
    *,
    build: Path,
    env: dict[str, str],
    jobs: int,
    progress: Callable[[str], None],
    empty_inline: str = "error",
    kernels: type | None = None,
) -> None:
    """Render ``book`` into the empty folder ``build`` (see :func:`healthgap.render.render_book`).

    ``empty_inline="warn"`` reports empty inline values as a ``WARNING:`` progress line
    instead of failing (:data:`ERR_EMPTY_INLINE`). ``kernels`` is the kernel manager class of a
    fork server started earlier (:func:`kernel_server`); without it one is started here.

    References
    ----------
    .. [1] Quarto, "Book structure", https://quarto.org/docs/books/book-structure.html
    .. [2] Quarto, "Using Python", https://quarto.org/docs/computations/python.html
    """
    docs: list[Document] = []
    for page in book.pages:
        try:
            docs.append(parse_qmd(book.root / page.source))
        except (QmdError, OSError, UnicodeDecodeError) as exc:
            raise RenderError(ERR_PARSE.format(chapter=page.source, problem=exc)) from None
    progress(f"Executing {len(docs)} pages with {jobs} kernel(s) at a time")
    env = kernel_threads(env, jobs)
    with (
        tempfile.TemporaryDirectory(prefix="healthgap-kernels-") as logs,
        contextlib.nullcontext(kernels)
        if kernels is not None
        else _kernel_server(book, docs, env, Path(logs)) as manager,
        svg_service(logs) as svg_env,  # one chart converter (V8) for every kernel
    ):
        waiting = Path(logs) / "waiting"
        waiting.mkdir()
        kernel_env = {**env, **svg_env, WAITING_ENV: str(waiting)}
        runs = run_async(
            lambda: _execute_all(
                book, docs, kernel_env, jobs, progress, Path(logs), empty_inline, manager, waiting
            )
        )

    def parse(i: int) -> _Built:
        page, doc = book.pages[i], docs[i]
        folder = posixpath.dirname(page.output)
        try:
            md = assemble_markdown(
                doc,
                runs[i],
                defaults=_defaults(book, doc),
                files_dir=build / folder / f"{page.slug}_files" / "figure-html",
                files_href=f"{page.slug}_files/figure-html",
            )
            ast = to_ast(md, what=page.source)
        except (FloatCaptionError, PandocError) as exc:
            raise RenderError(ERR_PANDOC.format(chapter=page.source, problem=exc)) from None
        blocks, title, title_attr = extract_title(ast["blocks"])
        return _Built(
            page,
            doc,
            _local_assets(blocks, page, book, build),
            title,
            title_attr,
            api=ast["pandoc-api-version"],
        )

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        built = list(pool.map(parse, range(len(docs))))
        _number_chapters(book, built)
        targets: dict[str, Target] = {}
        toc_depth = int(book.html.get("toc-depth", 3))
        for b in built:
            try:
                b.blocks, b.refs = number_page(
                    b.blocks,
                    page=b.page.output,
                    chapter=b.number,
                    number_sections=book.number_sections,
                    toc_depth=toc_depth,
                )
            except CrossrefError as exc:
                raise RenderError(f"Chapter {b.page.source}: {exc}") from None
            ident = b.title_attr[0] if b.title_attr else ""
            if ident:
                word = "Appendix" if b.page.appendix else "Chapter"
                label = f"{word}\u00a0{b.number}" if b.number else stringify(b.title or [])
                b.refs.targets[ident] = Target("sec", label, b.number, b.page.output, ident)
            for label, target in b.refs.targets.items():
                if label in targets and targets[label] is not target:
                    raise RenderError(
                        f"The label {label!r} is defined twice ({targets[label].page} and {target.page}); labels must be unique in the book."
                    )
                targets[label] = target

        def finish(b: _Built) -> PageView:
            blocks = b.blocks = resolve_refs(
                b.blocks, page=b.page.output, targets=targets, warn=lambda m: progress(f"WARNING: {m}")
            )
            title = b.title or [el("Str", b.page.slug)]
            assert b.refs is not None, "every page was numbered above"
            combined: dict[str, Any] = {
                "pandoc-api-version": b.api,
                "meta": {},
                "blocks": [
                    el("Plain", title),
                    el("RawBlock", ["html", _SPLIT]),
                    *blocks,
                    el("RawBlock", ["html", _SPLIT]),
                    *_toc_blocks(b.refs),
                ],
            }
            try:
                title_html, body_html, toc_html = to_html(combined, what=b.page.source).split(_SPLIT)
            except PandocError as exc:
                raise RenderError(ERR_PANDOC.format(chapter=b.page.source, problem=exc)) from None
            return PageView(
                b.page,
                b.number,
                stringify(title),
                title_html.strip(),
                b.title_attr[0] if b.title_attr else "",
                scrollable_math(body_html.strip()),
                toc_html.strip(),
            )

        views = {v.page.output: v for v in pool.map(finish, built)}
    css = copy_theme(book, build)
    footer = _footer_html(book)
    scripts: list[str] = []
    if book.search:
        entries = [
            e
            for b in built
            for e in section_entries(b.blocks, href=b.page.output, title=_nav_title(views[b.page.output]))
        ]
        scripts = write_search_assets(build, entries)
    for output, _view in views.items():
        out_file = build / output
        out_file.parent.mkdir(parents=True, exist_ok=True)
        page_html = render_page(
            book,
            views,
            output,
            css=css,
            footer_html=footer,
            scripts=scripts,
            search_form=SEARCH_FORM if scripts else "",
        )
        out_file.write_text(page_html, encoding="utf-8")
    for pattern in book.resources:
        for source in book.root.glob(str(pattern)):
            if source.is_file():
                rel = source.relative_to(book.root)
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, build / rel)


def _nav_title(view: PageView) -> str:
    return f"{view.number} {view.title_text}" if view.number else view.title_text


def _footer_html(book: Book) -> str:
    if book.footer:
        try:
            return to_html(to_ast(book.footer, what="book.page-footer")).strip()
        except PandocError as exc:
            raise RenderError(f"_quarto.yml book.page-footer cannot be converted: {exc}") from None
    who = html.escape(book.author) if book.author else ""
    made = f"Built with healthgap on {time.strftime('%d %B %Y').lstrip('0')}."
    return f"<p>{who + '. ' if who else ''}{made}</p>"
