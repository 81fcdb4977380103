"""Attack 15: SIGTERM or SIGKILL left a hidden partial build (``.NAME.build-XXXX``) next to the
output folder, where a web server would serve it; Ctrl-C must keep working.

Each test renders a one-chapter book whose chapter sleeps, in a subprocess running the command
line, and signals it while the chapter runs: the real kernels, the real signal. A previous site
is in place first (marked as a site the render wrote) and must survive.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.attacks.conftest import popen_cli, write_book

pytestmark = pytest.mark.slow

MARKER = ".healthgap-site"
SLEEPY = {
    "index.qmd": "# Home\n\n```{python}\nimport time\ntime.sleep(120)\n```\n",
    "chapters/b.qmd": "# B\n\nText.\n",
}


def previous_site(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    (folder / MARKER).write_text("")
    (folder / "index.html").write_text("<p>last good site</p>")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def start_and_wait_for_the_chapter(root: Path, site: Path):
    proc = popen_cli(root, "render", "--out", str(site), "--engine", "builtin", "--jobs", "1")
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "index.qmd: running" in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(4)  # the kernel starts and the cell runs
    assert proc.poll() is None, "".join(seen) + proc.stderr.read()
    return proc


def next_to(site: Path) -> list[str]:
    return sorted(p.name for p in site.parent.iterdir() if p.name != site.name and p.name != "book")


def test_sigterm_removes_the_build_and_keeps_the_previous_site(tmp_path):
    root = write_book(tmp_path / "book", SLEEPY)
    site = tmp_path / "site"
    before = previous_site(site)
    proc = start_and_wait_for_the_chapter(root, site)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "terminated by signal 15; the previous site was left untouched" in err
    assert "Traceback" not in err and "Task exception" not in err
    assert next_to(site) == []  # no hidden partial build next to the site
    builds = root / "_build" / "site-builds"
    assert not builds.exists() or list(builds.iterdir()) == []
    assert {p.name: p.read_bytes() for p in site.iterdir()} == before


def test_sigkill_leaves_nothing_next_to_the_site_and_the_next_render_cleans_up(tmp_path, monkeypatch):
    root = write_book(tmp_path / "book", SLEEPY)
    site = tmp_path / "site"
    before = previous_site(site)
    proc = start_and_wait_for_the_chapter(root, site)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert next_to(site) == []  # the partial build is not where a web server would serve it
    assert {p.name: p.read_bytes() for p in site.iterdir()} == before
    builds = root / "_build" / "site-builds"
    (stale,) = list(builds.iterdir())
    assert str(proc.pid) in stale.name
    # the next render removes it before it starts (a stub renderer: no kernels needed)
    from tests.attacks.conftest import fake_render

    fake_render(monkeypatch)
    import healthgap.config
    from healthgap import cli

    monkeypatch.setattr(healthgap.config, "project_root", lambda start=None: root)
    monkeypatch.chdir(root)
    assert cli.main(["render", "--out", str(site)]) == 0
    assert not stale.exists() and list(builds.iterdir()) == []


def test_ctrl_c_exits_130_and_keeps_the_previous_site(tmp_path):
    root = write_book(tmp_path / "book", SLEEPY)
    site = tmp_path / "site"
    before = previous_site(site)
    proc = start_and_wait_for_the_chapter(root, site)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "Task exception" not in err
    assert next_to(site) == []
    builds = root / "_build" / "site-builds"
    assert not builds.exists() or list(builds.iterdir()) == []
    assert {p.name: p.read_bytes() for p in site.iterdir()} == before
