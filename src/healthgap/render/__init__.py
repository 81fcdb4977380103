"""Render the book: with Quarto when it is installed, otherwise with the built-in renderer.

Before anything runs, the output folder is checked (:func:`healthgap.render.outdir.check_out_folder`):
a render replaces it whole, so it must be new, empty or a site a render wrote. Both engines
build into a private folder (under the project's ``_build/`` when it is on the same file
system) and swap it in only when everything succeeded, so a failed, interrupted (Ctrl-C) or
terminated (SIGTERM, SIGHUP) render leaves the previous site untouched and no partial build
behind; builds of a killed render are removed by the next one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from healthgap.config import ENV_VAR, ORIGIN_ARGUMENT, ORIGIN_DEFAULT, Config, load_config, select_config
from healthgap.engine import DATA_CACHE_ENV
from healthgap.errors import ConfigError, DataError, RenderError, Terminated
from healthgap.render.outdir import build_area, check_out_folder, mark_site, remove_stale_builds
from healthgap.render.post import finish_site
from healthgap.render.project import ProjectError, read_book
from healthgap.render.report import (
    PROFILE_MARKER,
    QUARTO_PROFILE,
    apply_report,
    quarto_profile_yaml,
    report_overrides,
)
from healthgap.render.site import ThemeError, build_dir, swap_into
from healthgap.safeio import resolve

__all__ = [
    "render_book",
    "quarto_command",
    "Engine",
    "ERR_NO_QUARTO",
    "ERR_QUARTO_FAILED",
    "ERR_CONFIG_MISSING",
]

Engine = Literal["auto", "quarto", "builtin"]

ERR_NO_QUARTO = "engine='quarto' was requested but the `quarto` command is not on the PATH. Install Quarto or use --engine builtin."
ERR_QUARTO_FAILED = (
    "quarto render failed (exit code {code}); the previous site was left untouched. Last output:\n{tail}"
)
ERR_QUARTO_EMPTY = (
    "quarto render finished but wrote no index.html into {folder}; the previous site was left untouched."
)
ERR_CONFIG_MISSING = "The config file {path} does not exist. Pass an existing file with --config."
ERR_ENGINE = "engine must be 'auto', 'quarto' or 'builtin', not {engine!r}."
ERR_JOBS = "jobs must be a positive whole number, not {jobs!r}."
ERR_EMPTY_INLINE_MODE = "empty_inline must be 'error' or 'warn', not {mode!r}."
ERR_PROFILE_TAKEN = (
    "{path} exists and was not written by healthgap. The Quarto engine passes the config's report "
    "title, subtitle and organisation to Quarto in a file of that name; rename your file and render again."
)


def _config_path(config: Path | None, project: Path) -> Path | None:
    """The config file chosen by :func:`healthgap.config.select_config`; None when the project
    has no default config and none was named."""
    path, origin = select_config(config, project=project)
    if path.is_file():
        return path
    if origin == ORIGIN_DEFAULT:
        return None
    raise ConfigError(
        ERR_CONFIG_MISSING.format(path=path) + ("" if origin == ORIGIN_ARGUMENT else f" (from {origin})")
    )


def _check_config(path: Path | None) -> Config | None:
    """Load the config once up front so a bad config fails fast, not once per chapter; return it."""
    return None if path is None else load_config(path)


def quarto_command(
    quarto: str, project: Path, build: Path, *, overrides: dict[str, str], profiles: str = ""
) -> list[str]:
    """The ``quarto render`` command line.

    Parameters
    ----------
    quarto : the ``quarto`` executable.
    project : the project folder.
    build : the output folder.
    overrides : book metadata from the config (:func:`healthgap.render.report.report_overrides`);
        when there is any, the ``healthgap-report`` profile that carries it is activated.
    profiles : profiles already active (``$QUARTO_PROFILE``), kept after ours.

    References
    ----------
    .. [1] Quarto, "quarto render", https://quarto.org/docs/cli/render.html
    .. [2] Quarto, "Project profiles", https://quarto.org/docs/projects/profiles.html
    """
    cmd = [quarto, "render", str(project), "--output-dir", str(build)]
    if overrides:
        active = [
            QUARTO_PROFILE,
            *(p.strip() for p in profiles.split(",") if p.strip() and p.strip() != QUARTO_PROFILE),
        ]
        cmd += ["--profile", ",".join(active)]
    return cmd


def _write_profile(project: Path, overrides: dict[str, str]) -> Path | None:
    if not overrides:
        return None
    path = project / f"_quarto-{QUARTO_PROFILE}.yml"
    if path.exists():
        first = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0]
        if first != PROFILE_MARKER:
            raise RenderError(ERR_PROFILE_TAKEN.format(path=path))
    path.write_text(quarto_profile_yaml(overrides), encoding="utf-8")
    return path


@contextlib.contextmanager
def _chart_bundle_job() -> Iterator[Callable[[], str | None]]:
    """vl-convert's chart bundle, made in another process while the chapters execute.

    Yields a function that waits for it and returns it, or ``None`` when it could not be made
    (:func:`~healthgap.render.post.finish_site` then makes it itself). ``javascript_bundle``
    holds the GIL for about a second, so it cannot run in a thread of the renderer.
    """
    try:
        from healthgap.charts.html import bundle_command
    except ImportError:
        yield lambda: None
        return
    with tempfile.TemporaryFile() as out:
        try:
            job = subprocess.Popen(
                bundle_command(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL
            )
        except OSError:
            yield lambda: None
            return

        def result() -> str | None:
            if job.wait() != 0:
                return None
            out.seek(0)
            try:
                return out.read().decode("utf-8")
            except UnicodeDecodeError:
                return None

        try:
            yield result
        finally:
            if job.poll() is None:
                job.kill()
            job.wait()


def _render_quarto(
    project: Path,
    build: Path,
    env: dict[str, str],
    progress: Callable[[str], None],
    overrides: dict[str, str],
) -> None:
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError(ERR_NO_QUARTO)
    env = dict(env)
    env.setdefault("QUARTO_PYTHON", sys.executable)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = quarto_command(quarto, project, build, overrides=overrides, profiles=env.get("QUARTO_PROFILE", ""))
    progress("Running " + " ".join(cmd))
    tail: deque[str] = deque(maxlen=40)
    profile = _write_profile(project, overrides)
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            if line.strip():
                progress("  " + line)
        code = proc.wait()
    finally:
        if profile is not None:
            profile.unlink(missing_ok=True)
    if code != 0:
        raise RenderError(ERR_QUARTO_FAILED.format(code=code, tail="\n".join(tail)))
    if not (build / "index.html").is_file():
        raise RenderError(ERR_QUARTO_EMPTY.format(folder=build))


def _data_files(config: Config | None, config_path: Path | None) -> list[tuple[str, Path]]:
    """The files an output folder must not contain: the config and its data."""
    files: list[tuple[str, Path]] = [("the config", config_path)] if config_path is not None else []
    if config is not None:
        files.append(("the data (data.path)", config.data.path))
        files += [
            (f"data.{key}", path) for key in ("truth", "boundaries") if (path := getattr(config.data, key))
        ]
    return files


def _prepare(config: Config | None, say: Callable[[str], None]) -> Path | None:
    """Prepare the person table once, before any page runs (:func:`healthgap.engine.prepare`):
    every page then scans the same Parquet file in the build cache."""
    if config is None:
        return None
    from healthgap.engine import prepare

    started = time.perf_counter()
    try:
        path = prepare(config)
    except DataError:
        return None  # each page that reads the data reports it (`healthgap render` checks first)
    say(f"Person table prepared ({config.data.engine}) in {time.perf_counter() - started:.1f} s: {path}")
    return path


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """While rendering, SIGTERM and SIGHUP raise :class:`healthgap.errors.Terminated` in the main
    thread, so the build folder is removed and the kernels are shut down as for Ctrl-C; a second
    signal kills at once. Elsewhere (a worker thread) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def terminate(signum: int, frame: object) -> None:
        for sig in signals:
            signal.signal(sig, signal.SIG_DFL)
        raise Terminated(signum)

    for sig in signals:
        signal.signal(sig, terminate)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def render_book(
    *,
    config: Path | None = None,
    out: Path = Path("_site"),
    project: Path = Path("."),
    engine: Engine = "auto",
    jobs: int | None = None,
    progress: Callable[[str], None] | None = print,
    force: bool = False,
    empty_inline: Literal["error", "warn"] = "error",
) -> Path:
    """Render the book into a static website.

    Parameters
    ----------
    config : config file; default ``$HEALTHGAP_CONFIG``, else ``<project>/data/default.yml``.
        Chapters receive it as the absolute path in ``HEALTHGAP_CONFIG``. Its ``report.title``,
        ``report.organisation`` and ``report.subtitle`` replace ``_quarto.yml``'s ``book.title``,
        ``book.author`` and ``book.subtitle`` (header, byline, footer) in both engines.
    out : the site folder; a relative path is relative to ``project``. Replaced atomically
        only when the whole render succeeds.
    project : the folder with ``_quarto.yml``.
    engine : ``"quarto"`` runs ``quarto render``; ``"builtin"`` executes the chapters with
        Jupyter kernels and converts them with pandoc; ``"auto"`` uses Quarto when the
        ``quarto`` command is on the PATH.
    jobs : chapters executed at the same time (built-in engine); default
        ``min(CPU count, number of pages)``.
    progress : receives one line per event (chapter started, finished with seconds); None for silence.
    force : also replace a site written by an earlier version of healthgap (one without the
        :data:`healthgap.render.outdir.MARKER` file). Never allows any other folder.
    empty_inline : ``"error"`` (default): an inline expression whose value is empty fails the
        render (Quarto would print its code, :data:`healthgap.render.builtin.ERR_EMPTY_INLINE`);
        ``"warn"``: a ``WARNING:`` progress line instead, for checking other aspects of a book
        whose pages are still being fixed (built-in engine). Never publish such a site.

    Returns
    -------
    Path
        The absolute path of the site folder.

    Raises
    ------
    RenderError
        A chapter failed (the message names the chapter and the cell), the project is invalid,
        or Quarto failed.
    healthgap.render.outdir.OutFolderError
        ``out`` may not be replaced (see :func:`healthgap.render.outdir.check_out_folder`);
        raised before anything is rendered.
    healthgap.errors.Terminated
        SIGTERM or SIGHUP arrived; the build was removed and the previous site kept.
    ConfigError
        The config file is missing or invalid.

    References
    ----------
    .. [1] Quarto, "Book basics", https://quarto.org/docs/books/
    .. [2] Quarto, "Project scripts" (post-render), https://quarto.org/docs/projects/scripts.html
    """
    say = progress or (lambda message: None)
    if engine not in ("auto", "quarto", "builtin"):
        raise RenderError(ERR_ENGINE.format(engine=engine))
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise RenderError(ERR_JOBS.format(jobs=jobs))
    if empty_inline not in ("error", "warn"):
        raise RenderError(ERR_EMPTY_INLINE_MODE.format(mode=empty_inline))
    root = resolve(project)
    given = Path(out).expanduser()
    given = Path(os.path.abspath(given if given.is_absolute() else root / given))
    try:
        book = read_book(root)
    except ProjectError as exc:
        raise RenderError(str(exc)) from None
    config_path = _config_path(config, root)
    loaded = _check_config(config_path)
    overrides = report_overrides(loaded)
    keep = _data_files(loaded, config_path)
    out_path = check_out_folder(given, project=root, force=force, keep=keep)  # before anything runs
    area = build_area(root, out_path)
    remove_stale_builds([area, out_path.parent], name=out_path.name, say=say)
    chosen = engine if engine != "auto" else ("quarto" if shutil.which("quarto") else "builtin")
    started = time.perf_counter()
    n_jobs = jobs or max(1, min(os.cpu_count() or 1, len(book.pages)))
    env = dict(os.environ)
    if config_path is not None:
        env[ENV_VAR] = str(config_path)
    early = contextlib.ExitStack()
    try:
        kernels = None
        if chosen == "builtin":
            # the chapters' fork server imports their modules while the data is checked and prepared
            from healthgap.render.builtin import kernel_server

            kernels = early.enter_context(kernel_server(book, env=dict(env), jobs=n_jobs))
        prepared = _prepare(loaded, say)
    except BaseException:
        early.close()
        raise
    downloads_tmp: Path | None = None
    with early, _terminate_cleanly():
        build = build_dir(out_path, area=area)
        try:
            if prepared is not None:
                env[DATA_CACHE_ENV] = str(prepared.parent)
            if chosen == "quarto":
                downloads_tmp = build_dir(out_path.with_name(f"{out_path.name}-downloads"), area=area)
                env["HEALTHGAP_DOWNLOADS"] = str(downloads_tmp)
                say(f"Rendering {len(book.pages)} pages with Quarto")
                _render_quarto(root, build, env, say, overrides)
                finish_site(build, downloads=downloads_tmp, progress=say)
            else:
                from healthgap.render.builtin import render_builtin

                downloads = build / "downloads"
                downloads.mkdir(parents=True, exist_ok=True)
                env["HEALTHGAP_DOWNLOADS"] = str(downloads)
                say(f"Rendering {len(book.pages)} pages with the built-in renderer")
                with _chart_bundle_job() as chart_bundle:
                    render_builtin(
                        apply_report(book, overrides),
                        build=build,
                        env=env,
                        jobs=n_jobs,
                        progress=say,
                        kernels=kernels,
                        # only when asked for: the default keeps render_builtin's older signature
                        # (tests/attacks replace it with a stand-in that has no such argument)
                        **({"empty_inline": empty_inline} if empty_inline != "error" else {}),
                    )
                    finish_site(build, downloads=None, progress=say, chart_bundle=chart_bundle())
            # the folder may have changed during the render: check it again just before the swap
            out_path = check_out_folder(given, project=root, force=force, keep=keep)
            mark_site(build)  # again: an engine may have emptied its output folder first
            swap_into(build, out_path, area=area)
        except ThemeError as exc:
            raise RenderError(str(exc)) from None
        except ValueError as exc:  # e.g. a corrupt download manifest fragment
            raise RenderError(
                f"Finishing the site failed: {exc} The previous site was left untouched."
            ) from exc
        except OSError as exc:
            raise RenderError(
                f"Writing the site failed: {exc}. The previous site was left untouched."
            ) from exc
        finally:
            if build.exists():
                shutil.rmtree(build, ignore_errors=True)
            if downloads_tmp is not None:
                shutil.rmtree(downloads_tmp, ignore_errors=True)
    say(f"Rendered {len(book.pages)} pages into {out_path} in {time.perf_counter() - started:.1f} s")
    return out_path
