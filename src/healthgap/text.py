"""Numbers and wording: how the book writes a number or names a thing in a sentence.

One module for every piece of text the pages, charts and tables build, so a
number reads the same in a sentence, a table cell and a chart tooltip, and a
rule such as "lower-case the first letter unless it starts an acronym" exists
once.

API
---
Numbers (missing values read :data:`NOT_AVAILABLE`, never "None" or "nan"):

- :func:`format_expr` -- a polars expression formatting numbers ("1,234", "12.3", "12.3%").
- :func:`format_number` -- the same for one number.
- :func:`pct` -- a proportion (0-1) as a percentage: ``pct(0.1234)`` -> ``"12.3%"``.
- :func:`pp` -- a difference of proportions in percentage points: ``pp(0.052)`` -> ``"5.2 percentage points"``.
- :func:`num` -- a number with thousands separators: ``num(1234.5, 1)`` -> ``"1,234.5"``.
- :func:`count` -- a whole number: ``count(12345)`` -> ``"12,345"``.
- :func:`ratio` -- a ratio to 2 decimal places: ``ratio(1.234)`` -> ``"1.23"``.
- :func:`interval` -- ``"95% CI 0.71 to 0.75"``.
- :func:`limits_dp` -- the decimals an interval needs so its printed limits stay apart from 0
  and from the point: ``limits_dp(0.18, 0.04, 0.33, dp=1)`` -> ``2`` ("0.04 to 0.33", not
  "0.0 to 0.3" beside "larger than chance").

Words:

- :func:`lower_first` -- for mid-sentence use: "Hypertension" -> "hypertension", "CVD deaths" stays.
- :func:`capitalise` -- first letter upper-case, the rest unchanged.
- :func:`join` -- "a, b and c" (or "or").
- :func:`flat` -- a label without brackets, for use inside brackets: "1 (most deprived)" -> "1, most deprived".
- :func:`plural` -- "1 group" / "2 groups".
- :func:`group_noun` -- how a sentence names one group of a dimension, from its label.

References
----------
.. [1] Government Analysis Function. Presenting numbers; Using symbols and shorthand in tables (2021).
.. [2] GOV.UK style guide: numbers, percentages, "and" in lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

import polars as pl

__all__ = [
    "format_expr",
    "format_number",
    "pct",
    "pp",
    "num",
    "count",
    "ratio",
    "interval",
    "limits_dp",
    "lower_first",
    "capitalise",
    "join",
    "flat",
    "plural",
    "group_noun",
    "Style",
    "STYLES",
    "NOT_AVAILABLE",
    "ERR_STYLE",
    "ERR_DP",
]

#: How a missing number reads in a sentence.
NOT_AVAILABLE = "not available"

Style = Literal["number", "integer", "rate", "percent", "proportion", "ratio", "text"]
#: Default decimal places of each style. ``percent`` takes values on a 0-100
#: scale, ``proportion`` takes 0-1 and shows it as a percentage.
STYLES: dict[str, int] = {
    "number": 1,
    "integer": 0,
    "rate": 1,
    "percent": 1,
    "proportion": 1,
    "ratio": 2,
    "text": 0,
}

ERR_STYLE = "Unknown number style {style!r} for {where}; use one of {allowed}, or (style, decimal places)."
ERR_DP = "Decimal places for {where} must be a whole number from 0 to 10; got {dp!r}."


def _check_style(style: str, dp: int | None, where: str) -> int:
    if style not in STYLES:
        raise ValueError(ERR_STYLE.format(style=style, where=where, allowed=", ".join(STYLES)))
    dp = STYLES[style] if dp is None else dp
    if isinstance(dp, bool) or not isinstance(dp, int) or not 0 <= dp <= 10:
        raise ValueError(ERR_DP.format(where=where, dp=dp))
    return dp


def format_expr(x: str | pl.Expr, *, style: Style = "number", dp: int | None = None) -> pl.Expr:
    """Format numbers as text with thousands separators and a fixed number of decimals.

    Parameters
    ----------
    x : column name or expression.
    style : ``"integer"`` (1,234), ``"number"``/``"rate"`` (1,234.5), ``"ratio"`` (1.23),
        ``"percent"`` (12.3%, input 0-100), ``"proportion"`` (12.3%, input 0-1), ``"text"``.
    dp : decimal places; defaults to the style's (:data:`STYLES`).

    Returns
    -------
    polars.Expr
        String expression; null, NaN and infinite values give null. Halves are
        rounded to even on the scaled value (as Python's ``format`` does for
        exactly representable halves).

    References
    ----------
    .. [1] Government Analysis Function. Presenting numbers: use commas for thousands.
    """
    expr = pl.col(x) if isinstance(x, str) else x
    dp = _check_style(style, dp, where="format_expr")
    if style == "text":
        return expr.cast(pl.String)
    v = expr.cast(pl.Float64)
    if style == "proportion":
        v = v * 100
    v = pl.when(v.is_finite()).then(v)
    scaled = (v.abs() * 10**dp).round(0).cast(pl.Int64)
    whole = (scaled // 10**dp).cast(pl.String).str.reverse().str.replace_all(r"(\d{3})", "$1,")
    whole = whole.str.strip_suffix(",").str.reverse()
    sign = pl.when((v < 0) & (scaled > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    parts = [sign, whole]
    if dp:
        parts += [pl.lit("."), (scaled % 10**dp).cast(pl.String).str.zfill(dp)]
    if style in ("percent", "proportion"):
        parts.append(pl.lit("%"))
    out = pl.concat_str(parts)
    try:
        return out.alias(expr.meta.output_name())
    except pl.exceptions.ComputeError:  # e.g. a literal: no name to keep
        return out


def format_number(
    x: float | int | None, *, dp: int | None = None, style: Style = "number", missing: str = NOT_AVAILABLE
) -> str:
    """Format one number for a sentence, e.g. ``format_number(1234)`` -> ``"1,234.0"``.

    Gives what :func:`format_expr` gives, so numbers in sentences match the tables exactly: the
    same steps in Python (one polars query per number cost 1-3 ms, thousands of times a book;
    ``tests/test_tables.py`` checks the two agree), and :func:`format_expr` itself where Python's
    integers would not overflow as polars' do (a scaled value of 2**53 or more).
    ``format_number(0.123, style="proportion")`` -> ``"12.3%"``;
    ``format_number(1234, style="integer")`` -> ``"1,234"``. Null/NaN give ``missing``.
    A value that rounds to zero never carries a sign (``-0.0`` and ``-0.04`` give ``"0.0"``).

    References
    ----------
    .. [1] Government Analysis Function. Presenting numbers.
    """
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return missing
    places = _check_style(style, dp, where="format_expr")
    v = float(x)
    if style != "text" and math.isfinite(v):
        if style == "proportion":
            v = v * 100
        scaled_float = abs(v) * 10**places
        if math.isfinite(scaled_float) and scaled_float < 2**53:
            scaled = round(scaled_float)  # halves to even, as polars' round
            whole, fraction = divmod(scaled, 10**places)
            text = ("-" if v < 0 and scaled > 0 else "") + f"{whole:,}"
            if places:
                text += "." + str(fraction).zfill(places)
            return text + ("%" if style in ("percent", "proportion") else "")
    out = pl.select(format_expr(pl.lit(float(x), dtype=pl.Float64), style=style, dp=dp)).item()
    return missing if out is None else out


def pct(x: float | None, dp: int = 1) -> str:
    """A proportion on the 0-1 scale as a percentage: ``pct(0.1234)`` -> ``"12.3%"``."""
    return format_number(x, style="proportion", dp=dp)


def pp(x: float | None, dp: int = 1, *, unit: bool = True) -> str:
    """A difference of two proportions (0-1 scale) in percentage points.

    ``pp(0.052)`` -> ``"5.2 percentage points"``; ``unit=False`` gives the bare ``"5.2"``
    (for the first limit of an interval).
    """
    if x is None:
        return NOT_AVAILABLE
    return format_number(100 * x, dp=dp) + (" percentage points" if unit else "")


def num(x: float | None, dp: int = 2) -> str:
    """A number with ``dp`` decimals and thousands separators: ``num(1234.5, 1)`` -> ``"1,234.5"``."""
    return format_number(x, dp=dp)


def count(x: float | None) -> str:
    """A whole number with thousands separators: ``count(12345)`` -> ``"12,345"``."""
    return format_number(x, style="integer")


def ratio(x: float | None) -> str:
    """A ratio (rate ratio, odds ratio, RII) to 2 decimal places: ``ratio(1.234)`` -> ``"1.23"``."""
    return format_number(x, style="ratio", dp=2)


def interval(
    lo: float | None, hi: float | None, *, dp: int = 2, percent: bool = False, level: str = "95%"
) -> str:
    """``"95% CI 0.71 to 0.75"``; ``percent=True`` formats proportions as percentages."""
    f = (lambda v: pct(v, dp)) if percent else (lambda v: num(v, dp))
    return f"{level} CI {f(lo)} to {f(hi)}"


def limits_dp(point: float, *limits: float, dp: int, most: int | None = None) -> int:
    """The decimals to print an interval's limits with: ``dp``, or more (up to ``most``, by
    default ``dp + 2``) while a limit that is not 0 would print as 0, or a limit that is not the
    point would print as the point.

    A limit printed as "0.0" beside a verdict that the interval excludes 0 reads false, and a
    limit printed equal to its point hides the interval's side; one or two more decimals
    show what the verdict rests on.

    Parameters
    ----------
    point : the estimate the interval is around.
    limits : the limits to print.
    dp : the decimals the sentence uses.
    most : the most decimals to use.

    Returns
    -------
    int
        The decimals, at least ``dp``.
    """
    top = dp + 2 if most is None else max(most, dp)
    finite = [v for v in (point, *limits) if v is not None and math.isfinite(v)]
    if len(finite) != len(limits) + 1:
        return dp
    for d in range(dp, top + 1):
        zero, at = format_number(0.0, dp=d), format_number(point, dp=d)
        if not any(
            (v != 0 and format_number(v, dp=d) == zero) or (v != point and format_number(v, dp=d) == at)
            for v in limits
        ):
            return d
    return top


def _starts_with_acronym(text: str) -> bool:
    """True when the first word is an acronym or a name with inner capitals ("CVD", "IMD", "eGFR", "HbA1c")."""
    word = text.split(" ", 1)[0].strip("()[],.;:")
    if len(word) > 1 and word.isupper():
        return True
    return any(ch.isupper() for ch in word[1:])


def lower_first(text: str) -> str:
    """``text`` for use mid-sentence: the first letter lower-cased, unless the first word is an acronym.

    "Hypertension" -> "hypertension", "Ethnic group" -> "ethnic group", "CVD deaths" ->
    "CVD deaths", "IMD quintile" -> "IMD quintile", "eGFR below 60" stays.
    """
    if not text or _starts_with_acronym(text):
        return text
    return text[:1].lower() + text[1:]


def capitalise(text: str) -> str:
    """The first letter upper-cased and the rest unchanged ("rate ratio of CVD" -> "Rate ratio of CVD")."""
    return text[:1].upper() + text[1:]


def join(items: Iterable[str], *, conjunction: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (no Oxford comma, as the GOV.UK style guide asks)."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def flat(label: str) -> str:
    """A label for use inside brackets: ``"1 (most deprived)"`` -> ``"1, most deprived"``."""
    return label.replace(" (", ", ").replace(")", "")


def plural(n: int | float, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, "group")`` -> ``"1 group"``; ``plural(3, "group")`` -> ``"3 groups"`` (thousands separated)."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{count(n)} {word}"


def group_noun(label: str) -> str:
    """How a sentence names one group of an equity dimension, from the dimension's label.

    The label is used mid-sentence (:func:`lower_first`) and is the noun itself when
    it names a group ("Ethnic group" -> "ethnic group", "Sex" -> "sex", "Age band" ->
    "age band", "Locality" -> "locality"); "group" is added only when the label ends
    with a qualifier in brackets, which is not a noun of its own ("Deprivation (IMD
    quintile)" -> "deprivation (IMD quintile) group"). Never "ethnic group group".

    Parameters
    ----------
    label : the dimension's display label, as in the config.

    Returns
    -------
    str
        Use as ``f"for each {group_noun(label)}"``.
    """
    words = lower_first(" ".join(str(label).split()))
    if words.endswith(")"):
        return f"{words} group"
    return words
