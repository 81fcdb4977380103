"""Attacks 13 and 14 about the render itself: a failed render printed nbclient's "Task exception
was never retrieved" with a traceback, and `validate` accepted datasets that `render` could not
render at all (1 or 9 people: "target must be a positive number ... got 0.0" in the funnel plot;
a model target with a single case: "The least populated classes in y have only 1 member").
"""

from __future__ import annotations

import polars as pl
import pytest

from tests.attacks.conftest import run_cli, write_book
from tests.conftest import build_people

pytestmark = pytest.mark.slow


def test_nbclients_orphaned_kernel_poll_prints_no_traceback(capfd, caplog):
    """The traceback a failed render printed: nbclient's ``_async_poll_kernel_alive`` task,
    left running by a chapter the render stopped, fails once that chapter's kernel client is
    gone (``assert self.kc is not None``), and nobody awaits it, so asyncio printed "Task
    exception was never retrieved" when it was collected. Replayed with that very coroutine on
    the loop the renderer runs chapters in (no kernel: its client is already gone)."""
    import asyncio
    import gc

    import nbformat
    from nbclient import NotebookClient

    from healthgap.render.execute import run_async

    client = NotebookClient(nbformat.v4.new_notebook())
    assert client.kc is None

    async def chapter_stopped_by_a_failure_elsewhere() -> None:
        asyncio.ensure_future(client._async_poll_kernel_alive())  # noqa: RUF006 - orphaned, as in nbclient
        await asyncio.sleep(1.5)  # the poll wakes after a second and fails
        gc.collect()

    run_async(chapter_stopped_by_a_failure_elsewhere)
    gc.collect()
    err = capfd.readouterr().err + caplog.text  # asyncio reports through the logging module
    assert "never retrieved" not in err and "Traceback" not in err


def test_a_failed_render_prints_one_message_and_no_traceback(tmp_path):
    pages = {
        "index.qmd": "# Home\n\n```{python}\nimport time\ntime.sleep(30)\n```\n",
        "chapters/b.qmd": "# B\n\n```{python}\n1 / 0\n```\n",
    }
    root = write_book(tmp_path / "book", pages)
    result = run_cli(
        root, "render", "--out", str(tmp_path / "site"), "--jobs", "2", "--engine", "builtin", timeout=120
    )
    assert result.returncode == 4
    assert "chapters/b.qmd failed in cell 1" in result.stderr and "ZeroDivisionError" in result.stderr
    assert "Task exception was never retrieved" not in result.stderr
    assert "Traceback" not in result.stderr and "AssertionError" not in result.stderr
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("people", [1, 9, 50])
def test_validate_stops_a_population_too_small_to_render(tmp_path, people):
    root = write_book(tmp_path / "book", people=people)
    for args in (["validate"], ["render", "--out", str(tmp_path / "site")]):
        result = run_cli(root, *args, timeout=60)
        assert result.returncode == 3, result.stderr
        assert (
            f"The dataset has {people} {'person' if people == 1 else 'people'}; the book needs at least 100"
            in result.stderr
        )
    assert not (tmp_path / "site").exists()


def test_validate_stops_a_model_target_with_too_few_cases(tmp_path, cli_in):
    root = write_book(tmp_path / "book")
    one_case = build_people(400).with_columns(cvd_admissions=(pl.col("person_id") == "p00007").cast(pl.Int64))
    one_case.write_parquet(root / "data" / "people.parquet")
    code, _, err = cli_in(root, "validate")
    assert code == 3
    assert "model.target: 1 person has cvd_admissions and 399 do not" in err
    assert "the risk-model chapters need at least 8 of each" in err
