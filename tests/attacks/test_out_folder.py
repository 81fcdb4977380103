"""Attack 9: `render --out` deleted whatever was there.

Replayed through the command line (``healthgap render --out ...``): a folder with other files,
``--out .`` in a clone, a symbolic link to a folder with files, ``--out /``. Each must be
refused before anything runs, with a message naming the folder and the fix, a non-zero exit,
and every file left in place. The built-in renderer is replaced by a stub (no kernels): a
refusal must come before it is called, and the folder logic is what is under test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.attacks.conftest import fake_render, no_render

MARKER = ".healthgap-site"  # healthgap.render.outdir.MARKER (spelled out: the old code has no such module)


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def test_a_folder_with_other_files_is_refused_and_kept(book, tmp_path, cli_in, monkeypatch):
    no_render(monkeypatch)
    mine = tmp_path / "my-documents"
    (mine / "letters").mkdir(parents=True)
    (mine / "thesis.docx").write_bytes(b"years of work")
    (mine / "letters" / "mum.txt").write_text("hello")
    before = files_under(mine)
    code, _, err = cli_in(book, "render", "--out", str(mine))
    assert code == 4
    assert f"Refusing to render into {mine}" in err and "not empty" in err and MARKER in err
    assert "Nothing was changed" in err and "Fix: choose a new or empty folder with --out" in err
    assert files_under(mine) == before


def test_out_dot_in_a_clone_is_refused(book, cli_in, monkeypatch):
    no_render(monkeypatch)
    (book / ".git").mkdir()
    (book / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    before = files_under(book)
    code, _, err = cli_in(book, "render", "--out", ".")
    assert code == 4
    assert f"Refusing to render into {book}: it is the project folder" in err and "--out" in err
    assert files_under(book) == before
    code, _, err = cli_in(book, "render", "--out", str(book / ".."))  # an ancestor of the project
    assert code == 4 and "it contains the project folder" in err
    assert files_under(book) == before


def test_a_symbolic_link_to_a_folder_with_files_is_refused(book, tmp_path, cli_in, monkeypatch):
    no_render(monkeypatch)
    target = tmp_path / "precious"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "data.csv").write_text("a,b\n1,2\n")
    link = tmp_path / "site-link"
    link.symlink_to(target)
    before = files_under(target)
    code, _, err = cli_in(book, "render", "--out", str(link))
    assert code == 4
    assert f"{link} leads through a symbolic link to {target}" in err and "not empty" in err
    code, _, err = cli_in(book, "render", "--out", str(link / "sub"))  # a path through the link
    assert code == 4 and f"Refusing to render into {target / 'sub'}" in err
    assert files_under(target) == before and link.is_symlink()


def test_root_home_and_config_folders_are_refused_before_anything_runs(book, tmp_path, cli_in, monkeypatch):
    no_render(monkeypatch)
    code, _, err = cli_in(book, "render", "--out", "/")
    assert code == 4 and "Refusing to render into /: it is the root of the file system" in err
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    code, _, err = cli_in(book, "render", "--out", str(home))
    assert code == 4 and "it is your home folder" in err
    code, _, err = cli_in(book, "render", "--out", str(book / "data"))
    assert code == 4 and "contains the config" in err
    assert (book / "data" / "people.parquet").is_file()


def test_a_file_is_refused(book, tmp_path, cli_in, monkeypatch):
    no_render(monkeypatch)
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = cli_in(book, "render", "--out", str(tmp_path / "notes.txt"))
    assert code == 4 and "it is a file, not a folder to replace" in err
    code, _, err = cli_in(book, "render", "--out", str(tmp_path / "notes.txt" / "site"))
    assert code == 4 and "its parent folder cannot be created" in err and "Traceback" not in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_site_the_render_wrote_is_replaced_and_marked(book, tmp_path, cli_in, monkeypatch):
    calls = fake_render(monkeypatch)
    site = tmp_path / "site"
    assert cli_in(book, "render", "--out", str(site))[0] == 0
    assert (site / MARKER).is_file() and (site / "index.html").is_file()
    (site / "stale.html").write_text("from the last render")
    assert cli_in(book, "render", "--out", str(site))[0] == 0  # re-rendering needs no --force
    assert not (site / "stale.html").exists() and (site / MARKER).is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_in(book, "render", "--out", str(empty))[0] == 0  # an empty folder loses nothing
    # the build happens under the project's _build/, never next to the site
    assert all(b.parent == book / "_build" / "site-builds" for b in calls)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book", "empty", "site"]


def test_force_replaces_only_an_earlier_healthgap_site(book, tmp_path, cli_in, monkeypatch):
    fake_render(monkeypatch)
    old = tmp_path / "old-site"
    (old / "site_libs" / "healthgap").mkdir(parents=True)
    (old / "site_libs" / "healthgap" / "healthgap-charts.js").write_text("//")
    (old / "index.html").write_text("<p>old</p>")
    code, _, err = cli_in(book, "render", "--out", str(old))
    assert code == 4 and "earlier version of healthgap" in err and "pass --force" in err
    assert (old / "index.html").read_text() == "<p>old</p>"
    assert cli_in(book, "render", "--out", str(old), "--force")[0] == 0
    assert (old / "index.html").read_text() == "<p>new site</p>" and (old / MARKER).is_file()
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_text("my own home page")
    code, _, err = cli_in(book, "render", "--out", str(other), "--force")
    assert code == 4 and "was not written by `healthgap render`" in err
    assert (other / "index.html").read_text() == "my own home page"


def test_a_folder_filled_during_the_render_is_not_replaced(book, tmp_path, cli_in, monkeypatch):
    site = tmp_path / "site"

    def meanwhile(build: Path) -> None:
        site.mkdir()
        (site / "report.pdf").write_bytes(b"saved there while the book rendered")

    fake_render(monkeypatch, during=meanwhile)
    code, _, err = cli_in(book, "render", "--out", str(site))
    assert code == 4 and "not empty" in err
    assert (site / "report.pdf").read_bytes() == b"saved there while the book rendered"
    assert not any((book / "_build" / "site-builds").iterdir())


def test_check_out_folder_rules(tmp_path):
    from healthgap.render.outdir import OutFolderError, check_out_folder

    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(OutFolderError, match="current folder"):
        check_out_folder(tmp_path / "here", project=project, cwd=tmp_path / "here" / "deeper")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(OutFolderError, match="link loop"):
        check_out_folder(loop, project=project)
    assert check_out_folder(tmp_path / "new" / "site", project=project) == tmp_path / "new" / "site"


def test_builds_of_killed_renders_are_removed_and_old_ones_reported(tmp_path):
    from healthgap.render.outdir import remove_stale_builds

    dead = 2**22 + 12345  # above the default pid_max of 4194304: no such process
    stale = tmp_path / f".site.build-{dead}-abc123"
    stale.mkdir()
    (stale / MARKER).write_text("")
    (stale / "index.html").write_text("partial")
    running = tmp_path / f".site.build-{os.getpid()}-def456"
    running.mkdir()
    (running / MARKER).write_text("")
    unmarked = tmp_path / f".site.build-{dead}-ghi789"
    unmarked.mkdir()
    (unmarked / "keep.txt").write_text("not ours")
    legacy = tmp_path / ".site.build-k2j4h5g6"
    legacy.mkdir()
    notes: list[str] = []
    assert remove_stale_builds([tmp_path], name="site", say=notes.append) == [stale]
    assert running.is_dir() and unmarked.is_dir() and legacy.is_dir()
    assert len(notes) == 1 and str(legacy) in notes[0] and "may publish it" in notes[0]
