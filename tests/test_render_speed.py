"""The built-in renderer's shortcuts give what the long way gives.

The chart bundle made in another process while the chapters run, the skip-note check that
does not parse a float's HTML when it cannot hold a skip note, and kernels stopped at once
after their last inline value.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import pytest
import vl_convert as vlc

from healthgap.charts import html as chart_html
from healthgap.render import _chart_bundle_job
from healthgap.render.crossref import is_skip_note
from healthgap.render.pandoc import el


def test_the_bundle_made_in_another_process_is_vl_converts_bundle(tmp_path: Path) -> None:
    with _chart_bundle_job() as bundle:
        made = bundle()
    assert made == vlc.javascript_bundle(chart_html.SNIPPET, vl_version=chart_html._vl_version())
    a = chart_html.write_chart_assets(tmp_path / "a", bundle=made)
    b = chart_html.write_chart_assets(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()


def test_a_failed_bundle_job_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart_html, "bundle_command", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    with _chart_bundle_job() as bundle:
        assert bundle() is None
    monkeypatch.setattr(chart_html, "bundle_command", lambda: ["/nonexistent/healthgap-no-such-python"])
    with _chart_bundle_job() as bundle:
        assert bundle() is None


def test_the_bundle_job_is_stopped_when_the_render_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "finished"
    code = f"import time, pathlib; time.sleep(1.5); pathlib.Path({str(marker)!r}).write_text('x')"
    monkeypatch.setattr(chart_html, "bundle_command", lambda: [sys.executable, "-c", code])
    with pytest.raises(RuntimeError, match="chapter failed"), _chart_bundle_job():
        raise RuntimeError("chapter failed")
    time.sleep(2.5)
    assert not marker.exists()


def _raw(text: str) -> dict:
    return el("RawBlock", ["html", text])


@pytest.mark.parametrize(
    ("blocks", "skipped"),
    [
        ([_raw('<div class="hg-chart"><svg>' + "<g></g>" * 5000 + "</svg></div>")], False),
        ([_raw("<!-- only a comment -->"), _raw('<div class="hg-skip"><p>Skipped.</p></div>')], True),
        ([_raw('<div class="hg-chart"></div>'), _raw('<div class="hg-skip"><p>Skipped.</p></div>')], False),
        ([_raw("<!-- only a comment -->")], False),
        ([_raw("   ")], False),
    ],
)
def test_skip_note_check_with_and_without_a_skip_note(blocks: list, skipped: bool) -> None:
    assert is_skip_note(blocks) is skipped


def test_kernels_are_stopped_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """nbclient's polite shutdown waits 0.2-0.7 s a kernel; the renderer asks for an immediate stop."""
    import asyncio
    import os

    import nbclient

    from healthgap.render import execute
    from healthgap.render.qmd import parse_qmd

    seen: list[str] = []
    real = nbclient.NotebookClient.__init__

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real(self, *args, **kwargs)
        seen.append(self.shutdown_kernel)

    monkeypatch.setattr(execute.NotebookClient, "__init__", spy)
    page = tmp_path / "p.qmd"
    page.write_text("# P\n\n```{python}\nx = 2\n```\n\n`{python} x`\n", encoding="utf-8")
    run = asyncio.run(
        execute.execute_document(parse_qmd(page), cwd=tmp_path, env=dict(os.environ), defaults={})
    )
    assert run.inlines[0].text == "2"
    assert seen == ["immediate"]


def test_a_kernel_waiting_for_a_lock_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from healthgap._filecache import WAITING_ENV, exclusive, waiting_count

    folder = tmp_path / "waiting"
    folder.mkdir()
    monkeypatch.setenv(WAITING_ENV, str(folder))
    target = tmp_path / "cache" / "entry.pkl"
    inside = threading.Event()
    with exclusive(target):
        assert waiting_count(folder) == 0  # the holder got the lock at once: no marker
        thread = threading.Thread(target=lambda: exclusive(target).__enter__() or inside.set())
        thread.start()
        deadline = time.monotonic() + 10
        while waiting_count(folder) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting_count(folder) == 1
        assert not inside.is_set()
    thread.join(10)
    assert inside.is_set()
    assert waiting_count(folder) == 0


def _waiter(slots, folder: Path, event: asyncio.Event, log: list[str], name: str, rank: int):  # type: ignore[no-untyped-def]
    async def job() -> str:
        async with slots.hold(rank):
            marker = folder / f"{name}.wait"
            marker.write_text("")
            log.append(f"{name} waits")
            await event.wait()
            marker.unlink()
        return name

    return job


def _releaser(slots, event: asyncio.Event, log: list[str], rank: int):  # type: ignore[no-untyped-def]
    async def job() -> str:
        async with slots.hold(rank):
            log.append("release")
            event.set()
        return "release"

    return job


def _lend(folder: Path | None, waiters: str, log: list[str], *, limit: int, seconds: float) -> list:
    """Chapters ``waiters`` (one letter each) take their turns and wait for the chapter after
    them, which releases them, all under ``Slots(limit)``; ``folder`` is where waiting chapters
    say so (None: nowhere). Raises ``TimeoutError`` when the releaser never gets a turn."""
    from healthgap.render.execute import Slots, run_many

    where = folder if folder is not None else Path(tempfile.mkdtemp())

    async def main() -> list:
        slots, event = Slots(limit, waiting=folder, poll=0.01), asyncio.Event()
        jobs = [_waiter(slots, where, event, log, name, rank) for rank, name in enumerate(waiters)]
        jobs.append(_releaser(slots, event, log, len(waiters)))
        return await asyncio.wait_for(run_many(jobs, limit=len(jobs)), seconds)

    return asyncio.run(main())


def test_a_chapter_waiting_for_a_lock_lends_its_slot(tmp_path: Path) -> None:
    log: list[str] = []
    assert _lend(tmp_path, "a", log, limit=1, seconds=10) == ["a", "release"]
    assert log == ["a waits", "release"]


def test_at_most_twice_the_limit_while_chapters_wait(tmp_path: Path) -> None:
    log: list[str] = []
    with pytest.raises(TimeoutError):
        _lend(tmp_path, "ab", log, limit=1, seconds=1.0)
    assert log == ["a waits", "b waits"]  # two waiting: the third never executed


def test_without_a_waiting_folder_a_waiting_chapter_keeps_its_slot(tmp_path: Path) -> None:
    log: list[str] = []
    with pytest.raises(TimeoutError):
        _lend(None, "a", log, limit=1, seconds=1.0)
    assert log == ["a waits"]


def test_slots_go_in_rank_order_whichever_asked_first() -> None:
    from healthgap.render.execute import Slots

    order: list[int] = []

    async def main() -> None:
        slots = Slots(1, poll=10)  # woken by releases only: no poll decides the order
        gate = asyncio.Event()

        async def first() -> None:
            async with slots.hold(0):
                await gate.wait()
                order.append(0)

        async def later(rank: int, delay: float) -> None:
            await asyncio.sleep(delay)
            async with slots.hold(rank):
                order.append(rank)

        tasks = [
            asyncio.ensure_future(first()),
            asyncio.ensure_future(later(2, 0.01)),
            asyncio.ensure_future(later(1, 0.05)),
        ]
        await asyncio.sleep(0.2)
        gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    asyncio.run(main())
    assert order == [0, 1, 2]


def test_a_later_chapter_ready_first_waits_for_its_turn() -> None:
    from healthgap.render.execute import Slots

    order: list[int] = []

    async def main() -> None:
        slots = Slots(2, poll=0.01)

        async def chapter(rank: int, delay: float) -> None:
            await asyncio.sleep(delay)  # its kernel's start-up
            async with slots.hold(rank):
                order.append(rank)

        await asyncio.wait_for(asyncio.gather(chapter(0, 0.2), chapter(1, 0.0), chapter(2, 0.1)), 5)

    asyncio.run(main())
    assert order == [0, 1, 2]


def test_two_waiting_chapters_lend_two_slots(tmp_path: Path) -> None:
    """With --jobs 2 and two chapters waiting for a third's result, two more execute."""
    log: list[str] = []
    assert _lend(tmp_path, "abc", log, limit=2, seconds=10) == ["a", "b", "c", "release"]
