"""Kernels forked from one process that has already imported what the chapters import.

Every chapter runs in a fresh Jupyter kernel, as in Quarto. A fresh kernel spends most of a
short chapter's time starting Python, IPython and ipykernel and importing polars, numpy,
scikit-learn, altair and healthgap (0.5-1.8 CPU-s a page, about 20 CPU-s a render of the book).
The built-in renderer starts one *fork server* for the render instead: a Python process that
imports ipykernel and the modules the book's cells import, then waits. Each chapter's kernel is a
``fork()`` of it, so the imports are already done, and is then started exactly as
``python -m ipykernel_launcher -f CONNECTION_FILE`` would start it: in its own session, with the
chapter's working directory, environment, ``sys.argv`` and standard streams. Nothing else changes:
each chapter still has its own process, namespace and kernel, so pages cannot see each other's
state.

What a fork does not give a chapter, and why that is safe here:

* modules already imported: their import-time work ran once with the render's environment,
  which is the chapters' environment but for the per-chapter variables (``HEALTHGAP_CHAPTER``,
  ``HEALTHGAP_PAGE_PREFIX``, ``JPY_PARENT_PID``); healthgap reads the environment and the working
  directory only inside functions (``tests/test_forkserver.py`` checks every module);
* threads: the server runs no Python threads and no thread pool before forking (polars builds
  its pool on first use, in the chapter; OpenBLAS and jemalloc restart theirs after a fork). If
  the chapters' imports start one (a Python thread, a polars query at import), the server stops
  and the chapters get ordinary kernels;
* random state: ``random`` and numpy's global generator reseed themselves after a fork
  (``os.register_at_fork``), as a new process would be seeded.

The renderer falls back to ordinary kernels whenever the server is not ready or a fork fails,
and for kernels whose command is not this Python's ``-m ipykernel_launcher``: the server makes a
render faster, never different. Under Quarto nothing here runs.

References
----------
.. [1] jupyter_client, "Kernel provisioning" and ``KernelManager._launch_kernel`` ("override in
   a subclass to launch kernel subprocesses differently"),
   https://jupyter-client.readthedocs.io/en/latest/provisioning.html
.. [2] Python, ``os.fork`` and ``os.register_at_fork``,
   https://docs.python.org/3/library/os.html#os.fork
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from jupyter_client import AsyncKernelManager

from healthgap._svgwire import recv_message, send_message

__all__ = ["ForkServer", "fork_server", "book_imports", "kernel_manager_class", "serve"]

#: The kernel command the server can stand in for (the ``python3`` kernel of this Python).
LAUNCHER = "ipykernel_launcher"
#: Seconds a kernel start waits for the server's reply before starting an ordinary kernel.
REPLY_TIMEOUT = 10.0
#: Seconds a kernel start waits for the server to finish its imports.
READY_TIMEOUT = 30.0
#: The largest message either side accepts (a kernel's environment is a few kB).
_MAX_MESSAGE = 16 * 1024 * 1024
#: The byte that carries a request's standard streams (SCM_RIGHTS), before the request itself.
_FDS_MARKER = b"F"


def _send_json(sock: socket.socket, message: dict[str, Any]) -> None:
    send_message(sock, json.dumps(message).encode())


def _recv_json(sock: socket.socket) -> dict[str, Any]:
    """One message of :func:`_send_json` (``OSError`` when cut short, ``ValueError`` when not JSON)."""
    message = json.loads(recv_message(sock, limit=_MAX_MESSAGE))
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    return message


# --------------------------------------------------------------------------- the server process


#: What a kernel's start imports (``IPKernelApp.initialize``: the kernel, its shell, its debugger,
#: its history, the shell's completer, logger and extensions), imported by the server before the
#: chapters' modules, so a forked kernel imports none of it (``tests/test_forkserver.py``). The
#: debugger (debugpy) alone took about 0.1 s of each kernel's start when it was not here.
KERNEL_MODULES: tuple[str, ...] = (
    LAUNCHER,
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "sqlite3",
)
#: The modules the server had imported when it began to fork kernels (empty in other processes).
preloaded: frozenset[str] = frozenset()


def _record_preloaded() -> None:
    """Set :data:`preloaded` to the modules imported so far."""
    global preloaded
    preloaded = frozenset(sys.modules)


def _preload(modules: list[str]) -> None:
    """Import ``modules`` (those that fail are left for the chapters to import and report)."""
    for name in modules:
        with contextlib.suppress(BaseException):  # the chapter's own import will report it
            importlib.import_module(name)


#: Threads of the server's imports that a fork would leave behind, copying their pools without
#: them: polars' worker pool and its async runtime (started by a first query).
_UNSAFE_THREAD = re.compile(r"^(polars-[0-9]+|tokio-runtime-w|tokio-rt-worker)$")
ERR_THREADS = (
    "healthgap fork server: the chapters' imports started threads ({threads}); "
    "each chapter starts its own kernel instead"
)


def _unsafe_threads() -> list[str]:
    """Threads running in this process that a forked kernel would miss (empty when safe).

    The allocator's and OpenBLAS's threads are restarted after a fork, and polars' spill-file
    cleaner is not needed; Python threads and polars' query pool are not restarted.
    """
    found = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    try:
        tasks = os.listdir("/proc/self/task")
        names = [Path(f"/proc/self/task/{task}/comm").read_text().strip() for task in tasks]
    except OSError:
        names = []
    return found + [name for name in names if _UNSAFE_THREAD.match(name)]


def _start_kernel(request: dict[str, Any], fds: list[int], closing: list[int], ready: int) -> None:
    """In the forked child: become ``python -m ipykernel_launcher ARGS`` and never return.

    ``ready`` is written to (then closed) once the child leads its own session, so the server
    replies with a process id whose group can be signalled.
    """
    code = 1
    try:
        for fd in closing:
            with contextlib.suppress(OSError):
                os.close(fd)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()  # as jupyter_client's launcher (start_new_session): interrupts reach its group
        os.write(ready, b"1")
        os.close(ready)
        for target, fd in enumerate(fds[:3]):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [str(Path(importlib.import_module(LAUNCHER).__file__ or LAUNCHER)), *request["args"]]
        from ipykernel import kernelapp

        try:
            kernelapp.launch_new_instance()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        import atexit

        atexit._run_exitfuncs()
    except BaseException:  # reported on the kernel's stderr; the kernel exits
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(address: str, modules: list[str]) -> None:
    """The fork server's main loop (``python -m healthgap.render.forkserver ADDRESS MODULE...``).

    Imports ``modules``, then listens on the Unix socket ``address``. A request carries a kernel's
    arguments, working directory and environment, with its stdin, stdout and stderr as file
    descriptors; the reply is the new kernel's process id, then its exit status when it exits.
    The server exits when its standard input closes (the renderer ended or died).
    """
    # as ipykernel_launcher: the working folder is not on sys.path while the kernel loads
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    # ipykernel's parent poller takes its parent from JPY_PARENT_PID when ipykernel is imported:
    # the kernels' parent is this server, so a kernel exits if the server dies
    os.environ["JPY_PARENT_PID"] = str(os.getpid())
    _preload([*KERNEL_MODULES, *modules])
    # on the module a kernel imports (run with -m, this one is __main__)
    importlib.import_module("healthgap.render.forkserver")._record_preloaded()
    unsafe = _unsafe_threads()
    if unsafe:
        # a fork would copy a thread pool without its threads (a chapter would hang): the renderer
        # starts ordinary kernels when the server has stopped
        print(ERR_THREADS.format(threads=", ".join(unsafe)), file=sys.stderr, flush=True)
        return
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address + ".tmp")
    os.replace(address + ".tmp", address)  # ready only once every import is done
    listener.listen(64)
    stdin = sys.stdin.fileno()
    waiting: dict[int, socket.socket] = {}
    while True:
        ready, _, _ = select.select([listener, wake_r, stdin], [], [])
        if stdin in ready and not os.read(stdin, 4096):
            break
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
            _reap(waiting)
        if listener in ready:
            conn, _ = listener.accept()
            fds: list[int] = []
            try:
                marker, fds, _, _ = socket.recv_fds(conn, 1, 3)
                if marker != _FDS_MARKER or len(fds) != 3:
                    raise ValueError("no standard streams")
                request = _recv_json(conn)
            except (OSError, ValueError):
                for fd in fds:
                    os.close(fd)
                conn.close()
                continue
            ready_r, ready_w = os.pipe()
            closing = [
                listener.fileno(),
                wake_r,
                wake_w,
                stdin,
                ready_r,
                *(c.fileno() for c in waiting.values()),
            ]
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                conn.close()
                _start_kernel(request, fds, closing, ready_w)
            os.close(ready_w)
            for fd in fds:
                os.close(fd)
            os.read(ready_r, 1)  # empty if the child failed before setsid: it exits, and is reaped
            os.close(ready_r)
            try:
                _send_json(conn, {"pid": pid})
            except OSError:
                conn.close()
                continue
            waiting[pid] = conn
    for conn in waiting.values():
        conn.close()


def _reap(waiting: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = waiting.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                _send_json(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


# --------------------------------------------------------------------------- the renderer's side


class ForkServer:
    """A running fork server: its socket address and process (see :func:`fork_server`)."""

    def __init__(self, address: Path, process: subprocess.Popen[bytes]) -> None:
        self.address = address
        self.process = process

    def ready(self) -> bool:
        """Whether the server is running and has finished its imports."""
        return self.process.poll() is None and self.address.exists()

    async def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait (up to ``timeout`` s) while the server imports: a kernel started meanwhile would
        import the same modules itself. False when the server has stopped or is still not ready."""
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    def spawn(self, args: list[str], *, cwd: str, env: dict[str, str], fds: list[int]) -> ForkedKernel:
        """Fork a kernel; raises ``OSError`` or ``ValueError`` when the server cannot."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(REPLY_TIMEOUT)
            sock.connect(str(self.address))
            socket.send_fds(sock, [_FDS_MARKER], fds)
            _send_json(sock, {"args": args, "cwd": cwd, "env": env})
            reply = _recv_json(sock)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        return ForkedKernel(int(reply["pid"]), sock)


class ForkedKernel:
    """What jupyter_client's local provisioner needs of a ``Popen``, for a forked kernel.

    The kernel is the server's child, not the renderer's: the server reports its exit status on
    the connection that asked for it, and signals go to it (and its process group) directly.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, sock: socket.socket) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._sock = sock

    def _collect(self, timeout: float | None) -> int | None:
        if self.returncode is not None:
            return self.returncode
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return None
        try:
            code = int(_recv_json(self._sock).get("exit", -signal.SIGKILL))
        except (OSError, ValueError):
            # the server is gone: the kernel exits with it (its parent poller)
            if _alive(self.pid):
                return None
            code = -signal.SIGKILL
        self.returncode = code
        self._sock.close()
        return code

    def poll(self) -> int | None:
        return self._collect(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._collect(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(LAUNCHER, timeout or 0)
        return code

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        pass
    return True


class _ForkKernelManager(AsyncKernelManager):
    server: ForkServer | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        server = self.server
        args = _launcher_args(kernel_cmd)
        if server is None or args is None or self.provisioner is None or not await server.wait_ready():
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        env = dict(kw.get("env") or os.environ)
        env.setdefault("JPY_PARENT_PID", str(os.getpid()))
        cwd = str(kw.get("cwd") or os.getcwd())
        opened: list[int] = []
        try:
            fds = []
            for name, default in (("stdin", None), ("stdout", 1), ("stderr", 2)):
                value = kw.get(name)
                if value is None or value == subprocess.PIPE:
                    if default is None:
                        fd = os.open(os.devnull, os.O_RDONLY)
                        opened.append(fd)
                        fds.append(fd)
                    else:
                        fds.append(default)
                elif isinstance(value, int):
                    fds.append(value)
                else:
                    fds.append(value.fileno())
            kernel = server.spawn(args, cwd=cwd, env=env, fds=fds)
        except (OSError, ValueError, KeyError):
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            for fd in opened:
                os.close(fd)
        provisioner: Any = self.provisioner
        provisioner.process = kernel
        provisioner.pid = kernel.pid
        provisioner.pgid = kernel.pid  # the kernel called setsid(): it leads its own group
        provisioner.cwd = cwd
        self._reconcile_connection_info(provisioner.connection_info)


def _launcher_args(kernel_cmd: list[str]) -> list[str] | None:
    """The arguments after ``python -m ipykernel_launcher`` when the command is this Python's."""
    if len(kernel_cmd) < 3 or kernel_cmd[1:3] != ["-m", LAUNCHER]:
        return None
    python = kernel_cmd[0]
    if python not in ("python", "python3") and Path(python).resolve() != Path(sys.executable).resolve():
        return None
    return list(kernel_cmd[3:])


def kernel_manager_class(server: ForkServer | None) -> type[AsyncKernelManager]:
    """A kernel manager class that forks its kernels from ``server`` (ordinary ones without)."""
    if server is None:
        return AsyncKernelManager
    return type("ForkKernelManager", (_ForkKernelManager,), {"server": server})


def book_imports(sources: Iterable[str], folders: Iterable[Path]) -> list[str]:
    """The absolute modules the cells ``sources`` import at top level, in order of appearance.

    A module whose top-level name is also a file or folder in one of ``folders`` (the chapters'
    working folders) is left out: a chapter would import that local one.
    """
    import ast

    local = {p.stem for folder in folders if folder.is_dir() for p in folder.iterdir()}
    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            found: list[str] = []
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module]
            for name in found:
                if name.split(".")[0] not in local and name not in names:
                    names.append(name)
    return names


@contextlib.contextmanager
def fork_server(modules: list[str], *, env: dict[str, str], log: Path) -> Iterator[ForkServer | None]:
    """Run a fork server that has imported ``modules`` for the length of the ``with`` block.

    Yields ``None`` (ordinary kernels) when the server cannot start. The server is stopped (its
    standard input closed, then killed if it lingers) and its socket folder removed on exit.
    """
    if not hasattr(os, "fork") or not hasattr(socket, "AF_UNIX") or not hasattr(socket, "send_fds"):
        yield None  # not POSIX: ordinary kernels
        return
    folder = Path(tempfile.mkdtemp(prefix="healthgap-fork-"))
    folder.chmod(0o700)
    address = folder / "server"
    process = None
    try:
        with open(log, "ab") as err:
            try:
                process = subprocess.Popen(
                    [sys.executable, "-m", "healthgap.render.forkserver", str(address), *modules],
                    stdin=subprocess.PIPE,
                    stdout=err,
                    stderr=err,
                    env=env,
                    start_new_session=True,
                )
            except OSError:
                process = None
        yield ForkServer(address, process) if process is not None else None
    finally:
        if process is not None:
            if not address.exists() and process.poll() is None:
                process.kill()  # still importing (the render stopped early): nothing to finish
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2:])
