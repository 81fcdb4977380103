"""Kernels forked from a server that has already imported the chapters' modules.

A forked kernel must be indistinguishable, to the chapter, from ``python -m ipykernel_launcher``:
same working folder, environment, ``sys.argv`` and ``sys.path`` head, its own process and
random state. Each test here fails on a copy of :mod:`healthgap.render.forkserver` with one of
those steps removed.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from healthgap.render.execute import execute_document
from healthgap.render.forkserver import (
    ForkServer,
    _launcher_args,
    book_imports,
    fork_server,
    kernel_manager_class,
)
from healthgap.render.qmd import parse_qmd

SRC = Path(__file__).resolve().parents[1] / "src" / "healthgap"

PROBE = """\
import json, os, sys
import numpy as np
probe = json.dumps({
    "cwd": os.getcwd(),
    "chapter": os.environ.get("HEALTHGAP_CHAPTER"),
    "argv": sys.argv[1:],
    "path": sys.path,
    "pid": os.getpid(),
    "ppid": os.getppid(),
    "pgid": os.getpgid(0),
    "sid": os.getsid(0),
    "preloaded": "healthgap.render.forkserver" in sys.modules,
    "kernel_imports": sorted(
        m for m in list(sys.modules)
        if m.split(".")[0] in ("ipykernel", "debugpy", "IPython", "zmq", "jupyter_client")
        and m not in getattr(sys.modules.get("healthgap.render.forkserver"), "preloaded", ())
    ),
    "random": float(np.random.rand()),
    "interrupt": str(__import__("signal").getsignal(__import__("signal").SIGINT)),
})
"""


def _doc(tmp_path: Path) -> Path:
    page = tmp_path / "chapter" / "page.qmd"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"# Probe\n\n```{{python}}\n{PROBE}```\n\nProbe: `{{python}} probe`\n", encoding="utf-8")
    return page


def _probe(page: Path, env: dict[str, str], manager: type | None) -> dict:
    run = asyncio.run(
        execute_document(
            parse_qmd(page),
            cwd=page.parent,
            env=env,
            defaults={},
            kernel_log=page.parent / "kernel.log",
            kernel_manager=manager,
        )
    )
    return json.loads(run.inlines[0].text)


def _ready(server: ForkServer) -> ForkServer:
    deadline = time.monotonic() + 60
    while not server.ready():
        assert server.process.poll() is None, "the fork server stopped"
        assert time.monotonic() < deadline, "the fork server did not start"
        time.sleep(0.05)
    return server


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """An ordinary kernel's probe and two forked kernels' probes of the same page."""
    tmp = tmp_path_factory.mktemp("fork")
    page = _doc(tmp)
    env = dict(os.environ, HEALTHGAP_CHAPTER="probe-chapter")
    out = {"plain": _probe(page, env, None)}
    with fork_server(
        ["healthgap.render.forkserver", "numpy"], env=dict(os.environ), log=tmp / "server.log"
    ) as server:
        assert server is not None
        _ready(server)
        manager = kernel_manager_class(server)
        out["fork1"] = _probe(page, env, manager)
        out["fork2"] = _probe(page, env, manager)
        out["server_pid"] = {"pid": server.process.pid}
        out["folder"] = {"path": str(server.address.parent)}
    return out


def test_a_forked_kernel_is_the_servers_child_with_the_imports_done(probes: dict[str, dict]) -> None:
    fork = probes["fork1"]
    assert fork["ppid"] == probes["server_pid"]["pid"]
    assert fork["preloaded"] is True
    assert probes["plain"]["preloaded"] is False


def test_a_forked_kernel_starts_without_importing_any_kernel_module(probes: dict[str, dict]) -> None:
    # the server imported everything a kernel's start imports (KERNEL_MODULES); an ordinary
    # kernel, whose process has no server, imports it all itself
    assert probes["fork1"]["kernel_imports"] == [] == probes["fork2"]["kernel_imports"]
    assert "ipykernel.debugger" in probes["plain"]["kernel_imports"]


def test_a_forked_kernel_sees_what_an_ordinary_kernel_sees(probes: dict[str, dict]) -> None:
    plain, fork = probes["plain"], probes["fork1"]
    for key in ("cwd", "chapter", "path", "interrupt"):
        assert fork[key] == plain[key], key
    assert fork["chapter"] == "probe-chapter"
    assert fork["cwd"].endswith("chapter")
    # the connection file differs per kernel; the arguments' shape does not
    assert [a for a in fork["argv"] if a.startswith("-")] == [a for a in plain["argv"] if a.startswith("-")]


def test_each_forked_kernel_leads_its_own_session(probes: dict[str, dict]) -> None:
    for name in ("plain", "fork1", "fork2"):
        p = probes[name]
        assert p["pid"] == p["pgid"] == p["sid"], name


def test_forked_kernels_are_separate_processes_with_their_own_random_state(probes: dict[str, dict]) -> None:
    assert probes["fork1"]["pid"] != probes["fork2"]["pid"]
    assert probes["fork1"]["random"] != probes["fork2"]["random"]


def test_the_server_folder_is_removed_and_the_server_stopped(probes: dict[str, dict]) -> None:
    assert not Path(probes["folder"]["path"]).exists()
    with pytest.raises(ProcessLookupError):
        os.kill(probes["server_pid"]["pid"], 0)


def test_without_a_server_kernels_are_ordinary(tmp_path: Path) -> None:
    from jupyter_client import AsyncKernelManager

    assert kernel_manager_class(None) is AsyncKernelManager


def test_a_stopped_server_falls_back_to_an_ordinary_kernel(tmp_path: Path) -> None:
    page = _doc(tmp_path)
    with fork_server([], env=dict(os.environ), log=tmp_path / "server.log") as server:
        assert server is not None
        server.process.kill()
        server.process.wait()
        probe = _probe(page, dict(os.environ), kernel_manager_class(server))
    assert probe["preloaded"] is False
    assert probe["ppid"] == os.getpid()


def test_only_this_pythons_ipykernel_launcher_is_forked() -> None:
    assert _launcher_args([sys.executable, "-m", "ipykernel_launcher", "-f", "c.json"]) == ["-f", "c.json"]
    assert _launcher_args(["python", "-m", "ipykernel_launcher", "-f", "c.json"]) == ["-f", "c.json"]
    assert _launcher_args(["/opt/other/python3.9", "-m", "ipykernel_launcher", "-f", "c.json"]) is None
    assert _launcher_args([sys.executable, "-m", "other_kernel", "-f", "c.json"]) is None
    assert _launcher_args(["R", "--slave"]) is None


def test_a_forked_kernel_can_be_killed_and_its_exit_is_reported(tmp_path: Path) -> None:
    with fork_server([], env=dict(os.environ), log=tmp_path / "server.log") as server:
        assert server is not None
        _ready(server)
        null = os.open(os.devnull, os.O_RDWR)
        try:
            conn = tmp_path / "kernel.json"  # never written: the kernel fails to start or is killed
            kernel = server.spawn(
                ["-f", str(conn)], cwd=str(tmp_path), env=dict(os.environ), fds=[null, null, null]
            )
        finally:
            os.close(null)
        assert kernel.poll() is None
        kernel.kill()
        assert kernel.wait(timeout=30) == -signal.SIGKILL
        assert kernel.poll() == -signal.SIGKILL


def test_the_server_stops_when_the_renderer_closes_its_input(tmp_path: Path) -> None:
    with fork_server([], env=dict(os.environ), log=tmp_path / "server.log") as server:
        assert server is not None
        _ready(server)
        assert server.process.stdin is not None
        server.process.stdin.close()
        assert server.process.wait(timeout=30) == 0


def test_book_imports_lists_top_level_absolute_imports_in_order(tmp_path: Path) -> None:
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "helpers.py").write_text("x = 1\n")
    sources = [
        "from healthgap.pages.population import PopulationPage\nimport numpy as np, polars\n",
        "import helpers\nfrom . import sibling\nimport numpy\n",
        "def f():\n    import inside_a_function\n",
        "this is not python (\n",
        "import os.path\n",
    ]
    assert book_imports(sources, [chapters]) == ["healthgap.pages.population", "numpy", "polars", "os.path"]


def test_no_healthgap_module_reads_the_environment_or_working_folder_at_import() -> None:
    """A forked kernel keeps what modules computed when the server imported them: healthgap reads
    the environment (the chapter's variables), the working folder and the clock only in functions."""
    watched = {"os.environ", "os.getenv", "environ", "getenv", "os.getcwd", "Path.cwd", "sys.argv"}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node: ast.AST, in_function: bool, path: Path = path) -> None:
            for child in ast.iter_child_nodes(node):
                inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                if (
                    not inside
                    and isinstance(child, ast.Attribute | ast.Name)
                    and ast.unparse(child) in watched
                ):
                    found.append(f"{path.relative_to(SRC)}:{child.lineno} {ast.unparse(child)}")
                visit(child, inside)

        visit(tree, False)
    allowed = {"render/forkserver.py"}  # the server itself, in its main loop and __main__
    assert [f for f in found if f.split(":")[0] not in allowed] == []


@pytest.mark.parametrize(
    "module",
    [
        "import polars as pl\npl.DataFrame({'a': range(10_000)}).group_by('a').len()\n",  # polars' pool
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n",
    ],
    ids=["polars-query-at-import", "python-thread-at-import"],
)
def test_a_server_whose_imports_start_threads_stops_and_kernels_are_ordinary(
    tmp_path: Path, module: str
) -> None:
    """A fork copies a thread pool without its threads: a chapter using it would hang."""
    (tmp_path / "hg_threads_at_import.py").write_text(module, encoding="utf-8")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    )
    log = tmp_path / "server.log"
    page = _doc(tmp_path)
    with fork_server(["hg_threads_at_import"], env=env, log=log) as server:
        assert server is not None
        assert server.process.wait(timeout=30) == 0  # it stopped instead of serving
        assert not asyncio.run(server.wait_ready(timeout=1))
        probe = _probe(page, dict(os.environ), kernel_manager_class(server))
    assert probe["ppid"] == os.getpid()  # an ordinary kernel
    assert "started threads" in log.read_text(encoding="utf-8")


def test_the_books_own_imports_leave_the_server_safe_to_fork() -> None:
    import subprocess

    code = (
        "import healthgap.pages.fairness, healthgap.pages.population, ipykernel.kernelapp\n"
        "from healthgap.render.forkserver import _unsafe_threads\n"
        "print(_unsafe_threads())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
