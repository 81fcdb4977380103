"""Round-4 audit, leak 2: the over-dispersion factor of the geography admissions funnel.

The funnel's intervals and control limits of events that repeat for one person are those of the
events divided by D = Σk²/Σk (a ratio of two whole numbers). The auditor (``/tmp/audit4/disp.py``)
solved D to full precision from one practice's published interval (1.42203258339798 =
1833/1289), which gave the exact total of admissions (2,578) and Σk² (3,666). D is now rounded to
2 decimals before it widens any interval or limit: solved back it is a 2-decimal number, which
many totals fit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy.optimize import brentq
from scipy.stats import chi2, norm

from healthgap.descriptive.geography import published_dispersion
from healthgap.pages.geography import GeographyPage
from tests.attacks.disclosure_helpers import synthetic_page


def poisson_upper(o: float, confidence: float = 0.95) -> float:
    """The upper limit of a Poisson count, by hand: exact (chi-squared) below 10, Byar's from 10."""
    if o < 10:
        return chi2.ppf(0.5 + confidence / 2, 2 * o + 2) / 2
    z = norm.ppf(0.5 + confidence / 2)
    return (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3


def _gap(d: float, o: float, e: float, hi: float) -> float:
    """The published upper limit less the one D would give."""
    return poisson_upper(o / d) * d / e - hi


def solved_dispersions(frame: pl.DataFrame) -> list[float]:
    """D solved from the upper limit of the practices with most expected events (the auditor's attack)."""
    rows = frame.filter(pl.col("upper_ci").is_not_null() & pl.col("events").is_not_null())
    out = []
    for r in rows.sort("expected", descending=True).head(5).iter_rows(named=True):
        o, e, hi = float(r["events"]), float(r["expected"]), float(r["upper_ci"])
        out.append(brentq(_gap, 1.0, 5.0, args=(o, e, hi), xtol=1e-14, rtol=1e-15))
    return out


def whole_totals(d: float, around: int, width: int = 100) -> list[int]:
    """The totals of events T near ``around`` for which D x T is a whole number (Σk²)."""
    return [t for t in range(max(1, around - width), around + width + 1) if abs(d * t - round(d * t)) < 1e-6]


@pytest.fixture(scope="module")
def funnel(tmp_path_factory):
    page = synthetic_page(GeographyPage, Path(tmp_path_factory.mktemp("disp")), n=8000)
    f = page.isr_funnel("outcome")
    assert f is not None and f.is_count
    people = page.book.frame.filter(
        pl.col(f.unit).is_not_null() & pl.col(f.measure).is_not_null() & (pl.col("age") >= 0)
    )
    k = people.get_column(f.measure).cast(pl.Int64).to_numpy()
    return f, int(k.sum()), int((k**2).sum())


def test_the_auditor_cannot_solve_the_exact_total_from_an_interval(funnel):
    f, total, squares = funnel
    exact = squares / total
    assert exact > 1.05  # admissions repeat
    solved = solved_dispersions(f.points.frame)
    assert len(solved) >= 3
    for d in solved:
        assert d == pytest.approx(round(exact, 2), abs=1e-9)  # the published D: 2 decimals
        assert abs(d - exact) > 1e-7 or round(exact, 2) == exact  # not Σk²/Σk
    fits = whole_totals(float(np.median(solved)), total)
    assert total not in fits or len(fits) > 1, fits  # the exact total is not singled out
    assert len(fits) >= 2, fits


def test_limits_use_the_rounded_dispersion(funnel):
    f, total, squares = funnel
    assert f.dispersion == round(squares / total, 2)
    limits = f.limits.row(0, named=True)
    assert limits["expected"] > 0


@pytest.mark.parametrize(
    ("exact", "published"),
    [(1.0, 1.0), (1.42203258339798, 1.42), (1.004, 1.01), (2.345, 2.35 if round(2.345, 2) == 2.35 else 2.34)],
)
def test_published_dispersion(exact, published):
    assert published_dispersion(exact) == published
