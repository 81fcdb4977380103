"""Every number in the sentences of the welcome page, the Outcomes and the Where-to-act chapters
is a number of the published frame it comes from, on the default data (the tests' synthetic
population of 20,000 people, ``default_config``).

Each sentence is parsed for its numbers (labels, group names, "95%" and figure references taken
out first); every number must be one of the published values of the rows the sentence is about
(or a documented transform of one: its size, 100(1 - ratio) for "x% lower", the Bonferroni
interval computed here by hand from the published ratio interval), shown to the precision the
sentence gives it (a number of people "about" rounded as :func:`where_to_act.about` says).
A number typed by hand, or taken from another row, fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from scipy.stats import norm

from healthgap.pages.outcomes import OutcomesPage
from healthgap.pages.sentences import level_name
from healthgap.pages.welcome import WelcomePage
from healthgap.pages.where_to_act import WhereToActPage, about, rate_text
from tests.pages.conftest import html_of

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def pages(default_config, tmp_path_factory) -> dict[str, Any]:
    from healthgap.data import load

    frame = load(default_config).collect()
    folder: Path = tmp_path_factory.mktemp("numbers")
    return {
        cls.slug: cls.for_frame(default_config, frame, downloads=folder / cls.slug)
        for cls in (WelcomePage, OutcomesPage, WhereToActPage)
    }


def _words(config) -> list[str]:
    """Text that holds numbers which are names, not values: labels and group names, longest first."""
    names = [m.label for m in config.measures] + [i.label for i in config.indicators]
    for d in config.dimensions:
        for level in d.order:
            names += [d.label_of(level), level_name(d, level)]
    names += [
        "95% CI",
        "95%",
        "per 1,000 people",
        "per 1,000",
        "2013 European Standard Population",
        "under 75",
    ]
    # a bare number ("2", a deprivation fifth's label) is a value wherever it stands alone
    named = {n for n in names if any(ch.isdigit() for ch in n) and not _NUMBER.fullmatch(n)}
    return sorted(named, key=len, reverse=True)


def numbers_in(sentence: str, config) -> list[str]:
    text = re.sub(r"\(@?[a-z]+-[\w-]+\)|@[a-z]+-[\w-]+|Figure \d+\.\d+", "", sentence)
    for w in _words(config):
        # labels stand lower-first inside sentences ("treated within 18 weeks of referral")
        text = re.sub(r"(?<![\w.])" + re.escape(w) + r"(?![\w])", " ", text, flags=re.IGNORECASE)
    return _NUMBER.findall(text)


def _variants(values: Iterable[Any]) -> list[float]:
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or v is None or not math.isfinite(v):
            continue
        out += [v, -v, abs(v), 100 * (1 - v), 100 * (v - 1)]
    return out


def _matches(token: str, candidates: list[float], base: int = 5) -> bool:
    value = float(token.replace(",", ""))
    if "." in token:
        dp = len(token.split(".")[1])
        return any(abs(round(c, dp) - value) < 0.5 * 10**-dp + 1e-9 for c in candidates)
    return any(
        round(c) == value or about(c, base=base) == token.lstrip("-") or math.floor(c + 0.5) == value
        for c in candidates
    )


def _check(sentence: str, candidates: list[float], config) -> None:
    tokens = numbers_in(sentence, config)
    unmatched = [t for t in tokens if not _matches(t, candidates)]
    assert not unmatched, f"numbers {unmatched} of {sentence!r} are not in the published frame"


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z*])", text) if s.strip()]


def test_where_to_act_sentences_state_published_numbers(pages) -> None:
    page = pages["where-to-act"]
    rows = page.top_rows
    assert rows, "the default data has gaps that stand out"
    lines = html_of(page.top()).split("\n")
    gaps = [line for line in lines if line.startswith("- ")]
    assert len(gaps) == len(rows)
    for line, row in zip(gaps, rows, strict=True):
        # a condition gap's line also gives its true gap (round 4): that row's published numbers
        true = page._true_row(row) or {}
        _check(line, _variants([*row.values(), *true.values()]), page.config)
    published = page.gaps.frame
    assert (published.get_column("expected").drop_nulls() % 5 == 0).all()
    counts = [page.comparisons, page.exact.get_column("measure").n_unique()]
    _check(page.intro(), _variants(counts), page.config)
    # the one number of the method is the rule's floor (round 4), the constant, not typed
    from healthgap.descriptive.priorities import MIN_EXPECTED

    _check(page.method(), _variants([MIN_EXPECTED]), page.config)
    left = page.left_out() or ""
    for sentence in _sentences(left):
        _check(sentence, _variants([MIN_EXPECTED, page.too_few_expected]), page.config)


def _bonferroni(rows: pl.DataFrame) -> list[float]:
    """Each ratio's simultaneous interval, by hand: log-scale half-width read from the 95%
    interval, widened to z(1 - 0.05/2m)."""
    ok = rows.filter(pl.col("rr_lower").is_not_null() & (pl.col("rr_lower") > 0))
    m = ok.height
    if m < 2:
        return [m]
    zm = norm.ppf(1 - 0.05 / (2 * m))
    out: list[float] = [m]
    for r in ok.iter_rows(named=True):
        s = math.log(r["rr_upper"] / r["rr_lower"]) / (2 * norm.ppf(0.975))
        out += [r["rate_ratio"] * math.exp(-zm * s), r["rate_ratio"] * math.exp(zm * s)]
    return out


def test_outcomes_sentences_state_published_numbers(pages) -> None:
    page = pages["outcomes"]
    rates = page.rates.frame
    excess = page.excess.frame
    checked = 0
    for outcome in page.outcomes:
        for dim in page.dimensions:
            text = page.sentences(outcome)
            rows = rates.filter(
                (pl.col("measure") == outcome.name)
                & (pl.col("dimension") == dim.name)
                & ~pl.col("is_reference")
                & (pl.col("level") != "Not stated")
            )
            gaps = excess.filter((pl.col("measure") == outcome.name) & (pl.col("dimension") == dim.name))
            candidates = _variants(
                [
                    *rows.select("rate_ratio", "rr_lower", "rr_upper").to_numpy().ravel().tolist(),
                    *_bonferroni(rows),
                    *gaps.select("excess", "excess_lower", "excess_upper").to_numpy().ravel().tolist(),
                ]
            )
            simultaneous = _bonferroni(rows)
            for sentence in _sentences(text):
                if level_name(dim, dim.reference) in sentence or dim.label_of(dim.reference) in sentence:
                    _check(sentence, candidates, page.config)
                    checked += 1
                    # the interval "for the m together" is the Bonferroni one, not the 95% one
                    for lo, hi, m in re.findall(
                        r"95% CI ([\d.]+) to ([\d.]+) for the (\d+) together", sentence
                    ):
                        assert int(m) == simultaneous[0]
                        assert _matches(lo, simultaneous[1:]) and _matches(hi, simultaneous[1:]), sentence
                        assert not (_matches(lo, rows["rr_lower"].drop_nulls().to_list())), sentence
    assert checked >= 8
    facts = [page.rates.frame.height]  # the intro has no number of its own but the standard's year
    _check(page.intro, _variants(facts), page.config)


def test_welcome_sentences_state_published_numbers(pages) -> None:
    page = pages["index"]
    shown = page.headlines.shown
    assert len(shown) == 5
    for h in shown:
        candidates = _variants(v for v in h.values.values() if not isinstance(v, dict))
        for sentence in _sentences(h.text):
            _check(sentence, candidates, page.config)
    d = page.config.disclosure
    _check(page.protection, _variants([1, d.suppress_below - 1, d.rounding]), page.config)
    facts = page.facts
    _check(page.coverage, _variants(v for v in facts.values() if isinstance(v, int | float)), page.config)
    for text in (page.asks, page.access, page.experience, page.outcomes, page.where_to_act, page.units):
        assert numbers_in(text, page.config) == [], text


def test_a_typed_number_is_caught(pages) -> None:
    """The check fails on a sentence whose number is not the published one (the broken copy)."""
    page = pages["where-to-act"]
    row = page.top_rows[0]
    # round 6: the list's intro comes first, then one line per gap
    line = next(x for x in html_of(page.top()).split("\n") if x.startswith("- "))
    shown = rate_text(row["rate"], row["multiplier"])
    assert shown in line
    wrong = line.replace(shown, rate_text(row["rate"] + 0.3, row["multiplier"]), 1)
    with pytest.raises(AssertionError):
        _check(wrong, _variants(row.values()), page.config)
