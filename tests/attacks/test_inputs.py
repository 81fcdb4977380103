"""Attacks 10 and 14: small hostile inputs that hung or aborted `validate`, `render` and `init`,
and wrong messages or tracebacks.

Attacks that hung run the command line in a subprocess with a timeout (a hang fails the test
instead of blocking it); the others run ``healthgap.cli.main`` in-process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from tests.attacks.conftest import run_cli
from tests.conftest import build_people

LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
report:
  title: [*g,*g,*g,*g,*g,*g,*g,*g,*g]
data:
  path: people.parquet
"""


def config_for(book: Path, **data) -> Path:
    """The book's config with ``data`` keys replaced, written next to it as ``attack.yml``."""
    raw = yaml.safe_load((book / "data" / "default.yml").read_text(encoding="utf-8"))
    raw["data"].update(data)
    path = book / "data" / "attack.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


# ---- attack 10: inputs that hang or blow up ----------------------------------------------


def test_billion_laughs_in_the_report_title_is_refused_at_once(book):
    (book / "data" / "laughs.yml").write_text(LAUGHS, encoding="utf-8")
    assert len(LAUGHS) < 1024
    started = time.monotonic()
    result = run_cli(book, "validate", "--config", "data/laughs.yml", timeout=30)
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert "aliases (*name) expand to more than 100,000 values" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_gigabytes_of_nul_bytes_named_csv_is_refused_at_once(book):
    huge = book / "data" / "people.csv"
    with open(huge, "wb") as fh:  # sparse: 2 GB of NUL bytes that take no disk space
        fh.truncate(2 * 1024**3)
    config = config_for(book, path="people.csv", format="csv")
    result = run_cli(book, "validate", "--config", str(config), timeout=20)
    assert result.returncode == 3
    assert "contains NUL bytes (the first at byte 0)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_fifo_as_data_path_is_refused_at_once(book, tmp_path, command):
    os.mkfifo(book / "data" / "people.csv")
    config = config_for(book, path="people.csv", format="csv")
    args = ["--out", str(tmp_path / "site")] if command == "render" else []
    result = run_cli(book, command, "--config", str(config), *args, timeout=30)
    assert result.returncode == 3
    assert "people.csv is a named pipe (FIFO), not a regular file" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "site").exists()


def test_dev_zero_is_named_as_a_device_without_a_listing_of_dev(book, cli_in):
    config = config_for(book, path="/dev/zero", format="csv")
    code, _, err = cli_in(book, "validate", "--config", str(config))
    assert code == 3
    assert "/dev/zero is a character device, not a regular file" in err
    assert "file not found" not in err and "files there" not in err


def test_truth_and_boundaries_must_be_regular_files(book, cli_in):
    os.mkfifo(book / "data" / "truth.json")
    config = config_for(book, truth="truth.json", boundaries="/dev/null")
    code, _, err = cli_in(book, "validate", "--config", str(config))
    assert code == 3
    assert "data.truth:" in err and "named pipe (FIFO)" in err
    assert "data.boundaries: /dev/null is a character device" in err


def test_a_config_too_big_to_be_one_is_refused(book, cli_in):
    big = book / "data" / "big.yml"
    big.write_text("# padding\n" * 200_000, encoding="utf-8")
    code, _, err = cli_in(book, "validate", "--config", str(big))
    assert code == 2 and "is 2,000,000 bytes; a config is a few kilobytes" in err


# ---- attack 14: tracebacks and wrong messages ----------------------------------------------


def test_a_symbolic_link_loop_as_config_or_data_gives_a_message_not_a_traceback(book, cli_in):
    loop = book / "data" / "loop.yml"
    loop.symlink_to(book / "data" / "loop2.yml")
    (book / "data" / "loop2.yml").symlink_to(loop)
    code, _, err = cli_in(book, "validate", "--config", str(loop))
    assert code == 2 and "is a symbolic link that leads back to itself (a link loop)" in err
    data_loop = book / "data" / "people-loop.csv"
    data_loop.symlink_to(data_loop)
    code, _, err = cli_in(book, "validate", "--config", str(config_for(book, path="people-loop.csv")))
    assert code == 3 and "people-loop.csv is a symbolic link that leads back to itself" in err


def test_a_utf16_csv_is_named_with_the_conversion_and_init_writes_nothing(book, cli_in):
    text = build_people(50).write_csv()
    (book / "data" / "people16.csv").write_bytes(text.encode("utf-16"))  # with its byte-order mark
    config = config_for(book, path="people16.csv", format="csv")
    code, _, err = cli_in(book, "validate", "--config", str(config))
    assert code == 3 and "has no rows" not in err
    assert "people16.csv is encoded as UTF-16 (little-endian)" in err and "iconv -f UTF-16 -t UTF-8" in err
    out = book / "data" / "starter.yml"
    code, _, err = cli_in(book, "init", str(book / "data" / "people16.csv"), "--out", str(out))
    assert code == 3 and "UTF-16" in err and not out.exists()


def test_an_age_of_1e308_is_one_problem_among_the_others(book, cli_in):
    people = build_people(60).with_columns(build_people(60)["age"].cast(str))
    text = people.write_csv().replace(
        f"\n{people['person_id'][3]},{people['age'][3]},", f"\n{people['person_id'][3]},1e308,"
    )
    text = text.replace(",female,", ",F,", 1)
    (book / "data" / "people.csv").write_text(text, encoding="utf-8")
    config = config_for(book, path="people.csv", format="csv")
    code, _, err = cli_in(book, "validate", "--config", str(config))
    assert code == 3
    assert "age: 1 value(s) are not whole numbers, e.g. '1e308'" in err
    assert "sex: 1 value(s) are not valid codes: 'F'" in err  # the file's other problem is still shown
    assert "cannot read" not in err


def test_a_duplicated_yaml_key_is_an_error_naming_the_key_and_both_lines(book, cli_in):
    config = book / "data" / "dup.yml"
    config.write_text(
        "report:\n  title: First title\n  organisation: Trust\n  title: Second title\ndata:\n  path: people.parquet\n",
        encoding="utf-8",
    )
    code, _, err = cli_in(book, "validate", "--config", str(config))
    assert code == 2
    assert "the key report.title appears twice in the same mapping (line 2 and line 4)" in err


def test_a_utf32_config_is_named(book, cli_in):
    config = book / "data" / "wide.yml"
    config.write_bytes("data:\n  path: people.parquet\n".encode("utf-32"))
    code, _, err = cli_in(book, "validate", "--config", str(config))
    assert code == 2 and "is encoded as UTF-32 (little-endian)" in err


# ---- the safe input module itself -----------------------------------------------------------


def test_safeio_rules(tmp_path):
    from healthgap.errors import ConfigError
    from healthgap.safeio import data_file_problem, load_yaml, resolve, sniff_problem

    loop = tmp_path / "x"
    loop.symlink_to(loop)
    assert resolve(loop) == loop  # no RuntimeError
    (tmp_path / "a.yml").write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="refers to itself"):
        load_yaml(tmp_path / "a.yml")
    (tmp_path / "deep.yml").write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError, match=r"nested too deeply|not valid YAML"):
        load_yaml(tmp_path / "deep.yml")
    (tmp_path / "merge.yml").write_text("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\nlabels: {a: A, b: B}\n")
    assert load_yaml(tmp_path / "merge.yml")["use"] == {"x": 1, "y": 2}  # merge keys are not duplicates
    (tmp_path / "latin1.yml").write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 10: 0xe9\)"):
        load_yaml(tmp_path / "latin1.yml")
    with pytest.raises(ConfigError, match="Config file not found"):
        load_yaml(tmp_path / "missing.yml")
    (tmp_path / "t.parquet").write_text("person_id,age\n")
    assert "does not start with the Parquet marker PAR1" in data_file_problem(tmp_path / "t.parquet")
    (tmp_path / "line.csv").write_bytes(b"x" * (1 << 21))
    assert "no line break in its first" in sniff_problem(tmp_path / "line.csv", what="data.path", kind="csv")
    (tmp_path / "nobom.csv").write_bytes("person_id,age\n".encode("utf-16-le"))
    assert "UTF-16 (little-endian, without a byte-order mark)" in data_file_problem(tmp_path / "nobom.csv")
    (tmp_path / "ok.csv").write_bytes("\ufeffperson_id,age\np1,3\n".encode())  # a UTF-8 mark is fine
    assert data_file_problem(tmp_path / "ok.csv") is None
    assert data_file_problem(tmp_path / "missing.csv") is None  # callers say "not found"
    assert "is a folder" in data_file_problem(tmp_path)
