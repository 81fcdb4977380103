"""The command line: exit codes, one-screen messages, no tracebacks for user errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from healthgap import cli

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "HEALTHGAP_CONFIG"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "healthgap.cli", *args],
        check=False,
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_case(tmp_path: Path, frame: pl.DataFrame, **top) -> Path:
    frame.write_parquet(tmp_path / "people.parquet")
    doc = {
        "data": {"path": "people.parquet"},
        "equity": {"dimensions": ["imd_quintile", "ethnicity", "sex"]},
        **top,
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["synth", "validate", "init", "example", "render"])
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    assert f"usage: healthgap {command}" in capsys.readouterr().out


def test_validate_ok_exits_0(tmp_path, make_people, capsys):
    config = write_case(tmp_path, make_people())
    assert cli.main(["validate", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "Rows: 400" in out and "Result: OK" in out


def test_validate_reads_the_environment_variable(tmp_path, make_people, monkeypatch, capsys):
    config = write_case(tmp_path, make_people())
    monkeypatch.setenv("HEALTHGAP_CONFIG", str(config))
    assert cli.main(["validate"]) == 0
    assert str(config) in capsys.readouterr().out


def test_bad_data_exits_3_with_one_screen_and_no_traceback(tmp_path, make_people):
    people = make_people().with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(150).otherwise(pl.col("age")).alias("age"),
        pl.col("sex").replace({"male": "M"}),
        pl.when(pl.int_range(pl.len()) < 2)
        .then(pl.lit("same"))
        .otherwise(pl.col("person_id"))
        .alias("person_id"),
    )
    result = run("validate", "--config", str(write_case(tmp_path, people)))
    assert result.returncode == 3
    assert "Traceback" not in result.stderr + result.stdout
    assert "Problems (3):" in result.stderr and "'M'" in result.stderr and "outside 0-120" in result.stderr
    assert len(result.stderr.splitlines()) <= 45


def test_missing_data_file_exits_3(tmp_path):
    (tmp_path / "c.yml").write_text("data:\n  path: nowhere.parquet\n")
    result = run("validate", "--config", str(tmp_path / "c.yml"))
    assert result.returncode == 3 and "data.path: file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_exits_2_naming_the_key(tmp_path):
    (tmp_path / "c.yml").write_text("data:\n  path: x.parquet\ndisclosure:\n  suppress_belw: 5\n")
    result = run("validate", "--config", str(tmp_path / "c.yml"))
    assert result.returncode == 2
    assert "disclosure.suppress_belw: unknown key; did you mean 'suppress_below'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_from_environment_exits_2(tmp_path):
    result = run("validate", env={"HEALTHGAP_CONFIG": str(tmp_path / "missing.yml")})
    assert result.returncode == 2 and "chosen by $HEALTHGAP_CONFIG" in result.stderr


def test_init_refuses_to_overwrite_and_reports_missing_dataset(tmp_path, capsys):
    (tmp_path / "config.yml").write_text("x")
    assert cli.main(["init", str(tmp_path / "d.csv"), "--out", str(tmp_path / "config.yml")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["init", str(tmp_path / "d.csv"), "--out", str(tmp_path / "new.yml")]) == 3
    assert "Dataset not found" in capsys.readouterr().err


def test_render_reports_a_missing_renderer(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "healthgap.render", None)  # import now raises ImportError
    assert cli.main(["render"]) == 4
    assert "renderer (healthgap.render) is not available" in capsys.readouterr().err


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_validate", interrupted)
    assert cli.main(["validate"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_sigint_in_a_real_process_exits_130(tmp_path):
    script = "import time, healthgap.cli as c\nc._cmd_validate = lambda a: time.sleep(30)\nraise SystemExit(c.main(['validate']))\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err


def test_synth_writes_the_three_files(tmp_path, capsys):
    pytest.importorskip("healthgap.synth")
    assert cli.main(["synth", "--n", "2000", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} >= {"population.parquet", "truth.json", "areas.geojson"}
    assert "Done in" in capsys.readouterr().out
