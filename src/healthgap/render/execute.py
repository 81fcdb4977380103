"""Execute a chapter's Python cells in its own Jupyter kernel (nbclient + ipykernel).

Mirrors Quarto's Jupyter engine: one kernel per document, cells run in order with the
chapter's folder as working directory, and the inline expressions of each run of markdown
are evaluated when the execution reaches it (after the cells above it, before those below),
as Quarto evaluates each markdown cell's ``user_expressions``.

An inline expression whose value is empty (``""`` or only white space) fails the chapter
(:class:`EmptyInline`): Quarto keeps the expression's source when its value is empty
(``src/core/execute-inline.ts``), so the published page would show the code itself.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVarTuple

import nbformat
from nbclient import NotebookClient

from healthgap._filecache import waiting_count
from healthgap.render.qmd import Cell, Document, Markdown

__all__ = [
    "CellFailure",
    "InlineFailure",
    "EmptyInline",
    "ChapterRun",
    "InlineValue",
    "execute_document",
    "cell_options",
    "strip_ansi",
    "run_many",
    "Slots",
    "run_async",
    "render_loop",
]

KERNEL_NAME = "python3"
INLINE_MIME = "application/vnd.healthgap.inline+json"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_INLINE_CODE = """\
def __healthgap_inline(sources):
    from IPython import get_ipython
    from IPython.display import display
    ip = get_ipython()
    results = []
    for src in sources:
        try:
            value = eval(compile(src, "<inline expression>", "eval"), ip.user_ns)
        except BaseException as exc:
            results.append({"error": type(exc).__name__, "message": str(exc)})
            continue
        if isinstance(value, str):
            results.append({"text": value})
            continue
        data, _ = ip.display_formatter.format(value)
        if "text/markdown" in data:
            results.append({"markdown": data["text/markdown"]})
        else:
            results.append({"text": data.get("text/plain", str(value))})
    display({%r: results}, raw=True)
__healthgap_inline(%r)
del __healthgap_inline
"""


KERNEL_START_ATTEMPTS = 3


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes (IPython tracebacks carry them)."""
    return _ANSI.sub("", text)


class CellFailure(Exception):
    """A cell raised an exception; carries what the user needs to find it."""

    def __init__(self, cell: Cell, ename: str, evalue: str, traceback: str) -> None:
        super().__init__(f"{ename}: {evalue}\n{traceback}")
        self.cell, self.ename, self.evalue, self.traceback = cell, ename, evalue, traceback


class InlineFailure(Exception):
    """An inline expression raised an exception."""

    def __init__(self, code: str, ename: str, evalue: str) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.code, self.ename, self.evalue = code, ename, evalue


class EmptyInline(Exception):
    """Inline expressions whose value is empty: Quarto would print their source as code.

    ``empty`` lists ``(expression, value)`` pairs in the order of the page; ``run`` is the
    chapter's complete run (every cell and inline value), for a caller that only warns.
    """

    def __init__(self, empty: list[tuple[str, str]], run: ChapterRun | None = None) -> None:
        super().__init__(", ".join(f"`{{python}} {code}` = {value!r}" for code, value in empty))
        self.empty = empty
        self.run = run


@dataclass(frozen=True)
class InlineValue:
    """The result of an inline expression: plain text (to escape) or markdown (as is)."""

    text: str
    markdown: bool = False


@dataclass
class ChapterRun:
    """Outputs of an executed chapter: nbformat outputs by cell number, inline values in order."""

    outputs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    inlines: list[InlineValue] = field(default_factory=list)
    seconds: float = 0.0


def cell_options(cell: Cell, defaults: dict[str, Any]) -> dict[str, Any]:
    """Effective options of a cell: Quarto defaults < project/page ``execute`` < ``#|`` lines.

    References
    ----------
    .. [1] Quarto, "Execution options", https://quarto.org/docs/computations/execution-options.html
    """
    options: dict[str, Any] = {
        "eval": True,
        "echo": True,
        "output": True,
        "include": True,
        "warning": True,
        "error": False,
    }
    options.update(defaults)
    options.update(cell.options)
    return options


async def execute_document(
    doc: Document,
    *,
    cwd: Path,
    env: dict[str, str],
    defaults: dict[str, Any],
    startup_timeout: float = 120.0,
    kernel_log: Path | None = None,
    kernel_manager: type | None = None,
    slot: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None = None,
) -> ChapterRun:
    """Run every evaluated cell of ``doc`` in a fresh kernel, then its inline expressions.

    Parameters
    ----------
    doc : the parsed chapter.
    cwd : the kernel's working directory (the chapter's folder, as in Quarto).
    env : the kernel's complete environment.
    defaults : execute options of the project and page (``echo``, ``warning``, ...).
    startup_timeout : seconds to wait for the kernel to start.
    kernel_log : file receiving the kernel process's own stderr (start-up noise, crashes);
        default: inherited.
    kernel_manager : the jupyter_client kernel manager class (default ``AsyncKernelManager``;
        the renderer passes :func:`healthgap.render.forkserver.kernel_manager_class`).
    slot : a context manager the chapter holds while its cells run, entered once its kernel
        has started (:meth:`Slots.hold`); ``ChapterRun.seconds`` then counts from entering it.

    The kernel is stopped at once when the last inline expression has been evaluated
    (nbclient's ``shutdown_kernel="immediate"``): everything the chapter produces has arrived by
    then, and a polite shutdown costs 0.2-0.7 s a page of waiting.

    Returns
    -------
    ChapterRun

    Raises
    ------
    CellFailure
        A cell raised (unless it has ``error: true``).
    InlineFailure
        An inline expression raised.
    EmptyInline
        Inline expressions gave an empty value (every one of the page is listed).

    References
    ----------
    .. [1] nbclient, "Executing notebooks", https://nbclient.readthedocs.io/en/latest/client.html
    .. [2] Quarto, "Using Python" (Jupyter engine), https://quarto.org/docs/computations/python.html
    """
    started = time.perf_counter()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    steps: list[tuple[Cell, dict[str, Any]] | list[str]] = []  # a cell to run, or inline expressions
    for block in doc.blocks:
        if isinstance(block, Markdown):
            if block.inlines:
                steps.append([i.code for i in block.inlines])
            continue
        options = cell_options(block, defaults)
        if options.get("eval") is not False:
            nb.cells.append(nbformat.v4.new_code_cell(block.source))
            steps.append((block, options))
    run = ChapterRun()
    turn = slot if slot is not None else contextlib.nullcontext
    if not steps:
        async with turn():  # its turn, passed on
            run.seconds = 0.0 if slot is not None else time.perf_counter() - started
        return run
    log = open(kernel_log, "ab") if kernel_log is not None else None  # noqa: SIM115
    extra = {"stderr": log} if log is not None else {}
    try:
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            extra_client: dict[str, Any] = {}
            if kernel_manager is not None and attempt == 1:  # a retry starts an ordinary kernel
                extra_client["kernel_manager_class"] = kernel_manager
            client = NotebookClient(
                nb,
                kernel_name=KERNEL_NAME,
                shutdown_kernel="immediate",
                timeout=None,
                startup_timeout=int(startup_timeout),
                allow_errors=True,
                record_timing=False,
                resources={"metadata": {"path": str(cwd)}},
                **extra_client,
            )
            ready = False
            try:
                async with client.async_setup_kernel(env=env, cwd=str(cwd), **extra):
                    ready = True
                    _restore_signals()
                    async with turn():
                        if slot is not None:
                            started = time.perf_counter()
                        await _run_steps(client, nb, steps, run)
                break
            except (RuntimeError, TimeoutError) as exc:
                # jupyter_client picks free ports, then the kernel binds them: another process can
                # take one in between ("Kernel died before replying to kernel_info", ZMQError
                # "Address already in use"). Only a kernel that never started is retried.
                if ready or attempt == KERNEL_START_ATTEMPTS:
                    raise
                if log is not None:
                    log.write(
                        f"\n[healthgap] kernel start failed ({exc}); retrying ({attempt + 1}/{KERNEL_START_ATTEMPTS})\n".encode()
                    )
            finally:
                # nbclient registers an atexit clean-up it never removes (it would fail at exit)
                atexit.unregister(client._cleanup_kernel)
    finally:
        if log is not None:
            log.close()
    run.seconds = time.perf_counter() - started
    return run


#: nbclient and jupyter_client start helper tasks (kernel-alive and output polls) that fail once
#: their kernel is shut down; nobody awaits them, so asyncio would print "Task exception was
#: never retrieved" with a traceback after a failed or interrupted render.
_QUIET_TASK_SOURCES = (f"{os.sep}nbclient{os.sep}", f"{os.sep}jupyter_client{os.sep}")
_UNRETRIEVED = "exception was never retrieved"
#: asyncio's report of a chapter task that failed while the loop was being shut down after the
#: render had already failed or been stopped: the chapter's kernel was shut down under it.
_SHUTDOWN = "during asyncio.run() shutdown"


def _quiet_kernel_tasks(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop asyncio's reports of tasks that failed only because the render stopped and shut their
    kernels down (the render's own error or interruption is what the user is told); report
    anything else as asyncio would."""
    message = str(context.get("message", ""))
    future = context.get("future") or context.get("task")
    coro = future.get_coro() if isinstance(future, asyncio.Task) else None
    source = getattr(getattr(coro, "cr_code", None), "co_filename", "")
    if _SHUTDOWN in message:
        return
    if _UNRETRIEVED in message and any(s in source for s in _QUIET_TASK_SOURCES):
        return
    loop.default_exception_handler(context)


_Ts = TypeVarTuple("_Ts")


class _RenderLoop(asyncio.SelectorEventLoop):
    """The event loop the chapters run in.

    nbclient installs SIGINT/SIGTERM handlers on the loop for each kernel and, when the kernel
    stops, resets them to the *default* handlers, so a SIGTERM after the first chapter killed
    the render at once, leaving its partial build behind. This loop refuses loop signal handlers
    (nbclient then goes without, as it does outside the main thread), so the process's own
    handlers stay in force: KeyboardInterrupt for Ctrl-C, and the render's SIGTERM handler.
    """

    def __init__(self) -> None:
        super().__init__()
        self.set_exception_handler(_quiet_kernel_tasks)

    def add_signal_handler(self, sig: int, callback: Callable[[*_Ts], object], *args: *_Ts) -> None:
        raise RuntimeError("healthgap keeps the process's own signal handlers while rendering")


def render_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for executing chapters (use with ``asyncio.Runner(loop_factory=...)``):
    it keeps the process's signal handlers and silences nbclient's orphaned helper tasks."""
    return _RenderLoop()


def _restore_signals() -> None:
    """Undo nbclient's SIGINT/SIGTERM loop handlers so Ctrl-C still interrupts the render
    (the kernels are shut down as the cancelled tasks unwind)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.remove_signal_handler(sig)


async def _run_steps(
    client: NotebookClient,
    nb: Any,
    steps: list[tuple[Cell, dict[str, Any]] | list[str]],
    run: ChapterRun,
) -> None:
    index = 0
    empty: list[tuple[str, str]] = []
    for step in steps:
        if isinstance(step, list):
            for code, value in zip(step, await _evaluate_inline(client, nb, step)):
                if not value.text.strip():
                    empty.append((code, value.text))
                run.inlines.append(value)
            continue
        cell, options = step
        nb_cell = nb.cells[index]
        await client.async_execute_cell(nb_cell, index)
        index += 1
        outputs = [dict(o) for o in nb_cell.get("outputs", [])]
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if errors and not options.get("error"):
            err = errors[0]
            trace = strip_ansi("\n".join(err.get("traceback", [])))
            raise CellFailure(cell, str(err.get("ename", "Error")), str(err.get("evalue", "")), trace)
        run.outputs[cell.number] = outputs
    if empty:
        raise EmptyInline(empty, run)


async def _evaluate_inline(client: NotebookClient, nb: Any, codes: list[str]) -> list[InlineValue]:
    """The values of one markdown run's inline expressions, in the kernel's current state."""
    code = _INLINE_CODE % (INLINE_MIME, codes)
    cell = nbformat.v4.new_code_cell(code)
    nb.cells.append(cell)  # after the chapter's cells, so theirs keep their numbers; removed after
    try:
        await client.async_execute_cell(cell, len(nb.cells) - 1, store_history=False)
    finally:
        nb.cells.pop()
    results = None
    for out in cell.get("outputs", []):
        if out.get("output_type") == "display_data" and INLINE_MIME in out.get("data", {}):
            results = out["data"][INLINE_MIME]
    if results is None:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        detail = f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else "no result"
        raise InlineFailure(codes[0], "KernelError", detail)
    values = []
    for source, result in zip(codes, results):
        if "error" in result:
            raise InlineFailure(source, result["error"], result["message"])
        if "markdown" in result:
            values.append(InlineValue(str(result["markdown"]), markdown=True))
        else:
            values.append(InlineValue(str(result["text"])))
    return values


class Slots:
    """Execution slots for chapters whose kernels are started ahead of their turn.

    A kernel takes 0.3-0.4 s to start and answer, mostly waiting (jupyter_client's readiness
    handshake), so the renderer starts the next kernels while others execute; :meth:`hold` then
    lets at most ``limit`` chapters execute at once, strictly in the order given (``order`` 0, 1,
    2, ...), whichever kernel was ready first: the longest chapters start first.

    With ``waiting`` (a folder where kernels leave a file while they wait for a lock another
    kernel holds, :data:`healthgap._filecache.WAITING_ENV`), a chapter that only waits does not
    count: another chapter executes meanwhile (at most ``2 * limit`` at once), so no core sits
    idle while chapters wait for a result another is computing.
    """

    def __init__(self, limit: int, *, waiting: Path | None = None, poll: float = 0.1) -> None:
        self.limit = max(1, limit)
        self.waiting = waiting
        self.poll = poll
        self.busy = 0
        self._next = 0  # the order whose turn it is
        self._cond = asyncio.Condition()  # bound to the running loop when first used

    def _lent(self) -> int:
        return min(self.limit, waiting_count(self.waiting)) if self.waiting is not None else 0

    @contextlib.asynccontextmanager
    async def hold(self, order: int) -> AsyncIterator[None]:
        """Wait for a slot and for every lower ``order`` (0, 1, 2, ...) to have had one; hold it
        for the block. Every order must ask once, or those after it wait for ever."""
        cond = self._cond
        async with cond:
            while not (order == self._next and self.busy < self.limit + self._lent()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(cond.wait(), self.poll)
            self.busy += 1
            self._next += 1
            cond.notify_all()
        try:
            yield
        finally:
            async with cond:
                self.busy -= 1
                cond.notify_all()


async def run_many(
    jobs: Sequence[Callable[[], Any]],
    *,
    limit: int,
) -> list[Any]:
    """Await coroutine factories with at most ``limit`` running; the first failure cancels the rest."""
    semaphore = asyncio.Semaphore(max(1, limit))

    async def guarded(factory: Callable[[], Any]) -> Any:
        async with semaphore:
            return await factory()

    tasks = [asyncio.ensure_future(guarded(f)) for f in jobs]
    if not tasks:
        return []
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    failed = [t for t in done if t.exception() is not None]
    if failed:
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        # report the failure of the earliest chapter in book order
        error = min(failed, key=tasks.index).exception()
        assert error is not None, "failed tasks have an exception"
        raise error
    return [t.result() for t in tasks]


def run_async(coro_factory: Callable[[], Any]) -> Any:
    """Run ``coro_factory()`` to completion in a :func:`render_loop`; from a thread when an event
    loop is already running here (e.g. in Jupyter)."""

    def run() -> Any:
        with asyncio.Runner(loop_factory=render_loop) as runner:
            return runner.run(coro_factory())

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
