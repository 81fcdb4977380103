"""Fixtures for the attack tests: a tiny book project with its own data, and a CLI runner.

``book``
    A two-page Quarto book project in a temporary folder (``index.qmd`` and
    ``chapters/b.qmd``, the NHS theme copied in) with ``data/default.yml`` pointing at a
    400-person table (:func:`tests.conftest.build_people`), so that ``healthgap validate``
    and ``healthgap render`` run in it as in a clone of the repository.
``write_book(root, pages)``
    Writes such a project with other pages.
``cli_in(root)``
    Runs ``healthgap.cli.main`` in-process with the project root set to ``root``; returns
    ``(exit code, stdout, stderr)``.
``run_cli(root, *args)``
    Runs the command line in a subprocess (for attacks that would hang or kill the test
    process): ``subprocess.CompletedProcess``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import build_people

REPO = Path(__file__).resolve().parents[2]

QUARTO_YML = """\
project:
  type: book
book:
  title: "Attack book"
  chapters:
    - index.qmd
    - chapters/b.qmd
execute:
  echo: false
"""
PAGES = {
    "index.qmd": "# Home\n\nWelcome.\n",
    "chapters/b.qmd": "# B\n\n```{python}\nx = 6 * 7\n```\n\nThe answer is `{python} x`.\n",
}
#: Runs healthgap's command line with ``project_root`` pointing at the current folder.
CLI = (
    "import sys, pathlib, healthgap.config as c; c.project_root = lambda start=None: pathlib.Path.cwd(); "
    "from healthgap.cli import main; sys.exit(main(sys.argv[1:]))"
)


def write_book(root: Path, pages: dict[str, str] | None = None, *, people: int = 400) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "_quarto.yml").write_text(QUARTO_YML, encoding="utf-8")
    for name, text in (pages or PAGES).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    shutil.copytree(REPO / "_extensions", root / "_extensions", dirs_exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    build_people(people).write_parquet(root / "data" / "people.parquet")
    config = yaml.safe_load((REPO / "data" / "default.yml").read_text(encoding="utf-8"))
    config["data"] = {**config["data"], "path": "people.parquet", "truth": None, "boundaries": None}
    for key in ("conditions", "outcomes"):
        config.pop(key, None)
    config["model"].pop("features", None)
    (root / "data" / "default.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return root


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return write_book(tmp_path / "book")


@pytest.fixture
def cli_in(monkeypatch, capsys):
    import healthgap.config
    from healthgap import cli

    def run(root: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(healthgap.config, "project_root", lambda start=None: root)
        monkeypatch.delenv("HEALTHGAP_CONFIG", raising=False)
        monkeypatch.chdir(root)
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def run_cli(root: Path, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HEALTHGAP_CONFIG"}
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kw,
    )


def popen_cli(root: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "HEALTHGAP_CONFIG"}
    return subprocess.Popen(
        [sys.executable, "-u", "-c", CLI, *args],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fake_render(monkeypatch, *, during=None) -> list[Path]:
    """Replace the built-in renderer with one that writes ``index.html`` into the build folder
    (and calls ``during(build)``); returns the build folders it was called with. Tests of the
    output folder then need no kernels."""
    import healthgap.render.builtin as builtin

    calls: list[Path] = []

    def render_builtin(book, *, build, env, jobs, progress, kernels=None):
        calls.append(build)
        (build / "index.html").write_text("<p>new site</p>", encoding="utf-8")
        if during is not None:
            during(build)

    monkeypatch.setattr(builtin, "render_builtin", render_builtin)
    monkeypatch.setattr("healthgap.render.finish_site", lambda build, **kw: None)  # no chart bundle
    return calls


def no_render(monkeypatch) -> None:
    """Make any attempt to render fail the test: a refusal must come before anything runs."""
    import healthgap.render.builtin as builtin

    def render_builtin(*args, **kwargs):
        raise AssertionError("the render started; it should have been refused before running anything")

    monkeypatch.setattr(builtin, "render_builtin", render_builtin)
