"""SQL expressions in the config: derived columns and indicators.

Expressions are read with polars' SQL expression support (:func:`polars.sql_expr`) so the
same text can later run on a SQL engine. Decimal literals (``38.67``) are read as
floating-point numbers, as a SQL engine's DOUBLE, not as polars' fixed-point decimals. :func:`compile_sql` turns a text into a polars
expression (or a plain problem), :func:`sql_columns` lists the columns it uses and
:func:`replace_columns` swaps named columns for a literal (``FALSE`` for absent optional
columns of an indicator).
"""

from __future__ import annotations

import re

import polars as pl

__all__ = ["compile_sql", "sql_columns", "replace_columns", "SqlError", "BAD_SQL", "EMPTY_SQL"]

BAD_SQL = "cannot read the SQL expression {text!r}: {detail}. Fix: correct the expression (SQL, e.g. \"totChol / 38.67\" or \"CASE WHEN x = 1 THEN 'a' ELSE 'b' END\")."
EMPTY_SQL = 'the SQL expression is empty. Fix: write an expression, e.g. "age >= 40".'

#: One token of SQL text: a quoted string, a quoted identifier, a word, a number, or anything else.
_TOKEN = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[A-Za-z_][A-Za-z0-9_]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|.",
    re.DOTALL,
)


class SqlError(ValueError):
    """An SQL expression that cannot be read (the message says why and how to fix it)."""


def compile_sql(text: str) -> pl.Expr:
    """The polars expression of an SQL expression.

    Parameters
    ----------
    text : one SQL expression (no ``SELECT``), e.g. ``"chd OR (diabetes AND age >= 40)"``.

    Raises
    ------
    SqlError
        The text is empty or not an SQL expression polars can read.

    References
    ----------
    .. [1] polars, ``polars.sql_expr``, https://docs.pola.rs/api/python/stable/reference/sql/
    """
    if not str(text).strip():
        raise SqlError(EMPTY_SQL)
    try:
        return pl.sql_expr(_float_literals(str(text)))
    except Exception as exc:  # polars raises SQLInterfaceError, SQLSyntaxError, ...
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SqlError(BAD_SQL.format(text=str(text), detail=detail.rstrip("."))) from None


def _float_literals(text: str) -> str:
    """``text`` with every decimal literal written as a floating-point one (``38.67`` -> ``38.67e0``).

    polars' SQL reads ``38.67`` as a fixed-point decimal, so ``totChol / 38.67`` would keep six
    decimal places; healthgap's numbers are floating point.
    """
    out = []
    for token in _TOKEN.findall(text):
        is_decimal = token[:1].isdigit() or (token[:1] == "." and token[1:2].isdigit())
        out.append(f"{token}e0" if is_decimal and "." in token and "e" not in token.lower() else token)
    return "".join(out)


def sql_columns(text: str) -> tuple[str, ...]:
    """The columns an SQL expression uses, in order of first use (each once).

    Raises
    ------
    SqlError
        As :func:`compile_sql`.
    """
    return tuple(dict.fromkeys(compile_sql(text).meta.root_names()))


def replace_columns(text: str, names: set[str] | frozenset[str], literal: str = "FALSE") -> str:
    """``text`` with every reference to a column in ``names`` replaced by ``literal``.

    Quoted strings are left alone; bare and double-quoted identifiers are compared exactly.
    """
    out = []
    for token in _TOKEN.findall(text):
        name = token[1:-1].replace('""', '"') if token.startswith('"') else token
        out.append(literal if name in names and not token.startswith("'") else token)
    return "".join(out)
