"""Statistical disclosure control for everything the book publishes.

API
---
- :func:`publish` -- **the publication step**: protects an aggregated frame once
  (rule 8 statistics recomputed from the published counts, rules 1-7, then
  :func:`assert_publishable`) and returns a :class:`Published`, which is what
  figures, tables, downloads and sentences take.
- :func:`protect` -- primary suppression of small counts, rounding, suppression
  of values derived from suppressed counts, and secondary suppression so a
  suppressed cell cannot be recovered from a total.
- :func:`published_counts` -- counts rounded as protect() will publish them, for the
  simple statistics (proportions, crude rates) computed from them (rule 8).
- :func:`assert_publishable` -- a guard for frames, CSV files and chart specs.
- :func:`disclosure_notice` -- the sentence every page shows when protection is off.
- :func:`round_to_base`, :func:`is_count_like`, :func:`smallest_shown`,
  :func:`min_group_reason` -- helpers.
- :class:`DisclosureError`; reason constants ``REASON_*``; ``OFF_PREFIX``;
  ``SIZE_COLUMNS`` and ``TOTAL_COLUMN`` (what :func:`publish` reads by default).

The rules (defaults from :class:`healthgap.config.DisclosureSettings`)
----------------------------------------------------------------------
0. **Settings.** ``suppress_below`` and ``rounding`` are whole numbers >= 1, and
   not both 1 while disclosure control is on (that would protect nothing without
   the "disclosure control is off" banner and reason: switch it off instead).
1. **Primary suppression.** A count of 1 to ``suppress_below - 1`` (1-7) is
   replaced by null, the suppressed marker. Zero is published as 0. A count that
   is already null in the input (for example a frame protected before) is
   treated as suppressed.
2. **Rounding.** Every other count is rounded to the nearest multiple of
   ``rounding`` (5). Halves round up (away from zero): with base 10, 15 -> 20;
   with base 5 and whole counts no halves occur (12 -> 10, 13 -> 15, 8 -> 10).
   protect() rounds only counts; simple statistics must therefore be computed
   from the rounded counts (rule 8), or a rate times a published denominator
   gives the exact count back. Rounding may publish a count at the threshold
   below it (under 11/10, 11 to 14 are published as 10): such a value is a
   rounded count, not a small one (:func:`smallest_shown`).
3. **Derived values.** Columns listed in ``derived[count]`` become null wherever
   that count is suppressed.
4. **Secondary suppression.** Cells that add up to a total form a *set*: the rows
   of one ``by`` group (1-D tables), or, when ``across`` names several dimension
   columns, each row and each column of the table within a ``by`` group. A set
   with exactly one suppressed cell would let anyone recover it as
   ``total - sum(other cells)``, because totals are published (in the table or
   elsewhere in the book). In such a set the smallest unsuppressed cell is
   suppressed too, preferring non-zero cells, ties broken by row order. Repeated
   until every set has zero or at least two suppressed cells. In a
   cross-tabulation that rule is not enough (a cell joining two blocks of
   suppressed cells can still be solved from the row and column totals), so
   for two or more ``across`` dimensions protect() also solves the system of
   published totals (per ``by`` group; linear algebra on the small matrix of
   suppressed cells) and, while any primary-suppressed cell is still
   determined, suppresses the smallest published cell sharing a row or column
   with it. Attackers are assumed to know every total exactly.
5. **Totals in the table** are marked by the caller, never guessed from a label
   (a real locality may be called "Total"; treated as a margin it lost its
   secondary suppression). ``totals`` names a boolean column, True on the total
   rows (:func:`publish` uses ``is_total`` when the frame has it). Without
   ``across`` such a row is the total of its ``by`` group. In a cross-tabulation
   it is the total along each ``across`` column it holds null in (as a group-by
   over grouping sets writes margins), and a cell of the sets along the others,
   so margins of 2-D tables are protected too. Without ``totals`` every row is a
   cell.
6. **Several count columns** are protected one by one (each has its own
   secondary suppression). When one count column is the sum of two others on
   every row (people = missing + recorded), a part suppressed in a row takes
   the other part with it (unless the total is suppressed too), because
   ``total - other part`` would give it back. A count that is never larger than
   another in its row (treated <= eligible) is suppressed where that other count
   is a small count: "0 treated" beside "[c] eligible" would say that none of a
   handful of people was treated. Repeated with rule 4 until stable. Better still,
   publish only two of the three.
7. **Comparisons with a reference group.** A rate ratio is the group's rate
   divided by the reference group's, so next to the group's own rate it gives
   the reference rate back (rate / ratio), and with the reference's population
   its suppressed count. Columns named in ``relative`` (e.g. ``rate_ratio``,
   ``rr_lower``, ``rr_upper``) become null in every row of a ``by`` group whose
   ``reference`` row (a boolean column) has a suppressed count; those rows are
   marked suppressed with the reason "compared with a suppressed reference group".
8. **Simple statistics from published counts.** Proportions, crude rates and
   other ratios of counts, with their confidence intervals, are computed from
   the counts as they will be published (:func:`published_counts`: rounded to
   the base, small counts left for suppression), so that they reveal nothing the
   published counts do not: from an exact rate and a rounded denominator the
   exact count can be found, and a suppressed neighbour by subtraction. Complex
   statistics (standardised rates, regression models) use the exact counts, as
   in NHS England's method for Hospital Episode Statistics.

9. **Minimum group size.** In a row whose group (the ``size`` count, e.g.
   ``population``; :func:`publish` picks the first of :data:`SIZE_COLUMNS`
   among the counts) has fewer than ``min_group`` people (50) as published, the
   counts measured within the group (every other count except those never
   smaller than the size, such as the whole population beside each group) are
   withheld with every value derived from them, and only the group's size is
   published: a 0 (or an all) in a group of a few dozen people says something
   certain about each of them. The withheld counts are protected like small ones
   (rules 4 and 6). ``min_group: 1`` switches the rule off.

A ``note`` column (the statistics' "why no value" text, e.g. "total events < 10")
is emptied in every suppressed row: it would say how small the hidden count is.

**One reason.** Every count withheld by rules 1, 4 or 6 gives the same reason,
:data:`REASON_CONFIDENTIAL` ("suppressed to protect confidentiality"), so that
nobody can tell the small count from the cells withheld to protect it; rule 9
gives "fewer than 50 people in the group" (the group's size is published).

``protect(df, *, counts, derived=None, by=None, across=None, totals=None, size=None,
reference=None, relative=None, settings=None)`` returns the frame with ``suppressed`` (bool) and
``suppression_reason`` (str, null when nothing in the row is suppressed; e.g.
"suppressed to protect confidentiality; value, lower_ci: derived from a suppressed count")
columns; with several count columns the reason names the column ("events: suppressed to
protect confidentiality") and per-column ``suppressed_<count>`` / ``suppression_reason_<count>``
columns are added. With ``settings.enabled`` False nothing is changed (no rule applies) and
``suppression_reason`` reads "disclosure control off: <reason>".

References
----------
.. [1] Office for National Statistics. Policy on protecting confidentiality in
   tables of birth and death statistics (2014): suppression and rounding rules.
.. [2] NHS England. Statistical disclosure control for Hospital Episode
   Statistics: counts of 1-7 suppressed, others rounded to the nearest 5.
.. [3] Hundepool A et al. Statistical Disclosure Control. Wiley, 2012, ch. 5
   (secondary cell suppression).
"""

from __future__ import annotations

from healthgap.disclosure._protect import disclosure_notice, protect
from healthgap.disclosure._publish import (
    ERR_NOT_PUBLISHED,
    RELATIVE_COLUMNS,
    SIZE_AUTO,
    Published,
    publish,
)
from healthgap.disclosure._publishable import assert_publishable
from healthgap.disclosure._published import published_counts
from healthgap.disclosure._rules import (
    OFF_PREFIX,
    PERSON_ID_COLUMNS,
    REASON_CONFIDENTIAL,
    REASON_DERIVED,
    REASON_INPUT,
    REASON_MIN_GROUP,
    REASON_REFERENCE,
    SIZE_COLUMNS,
    TOTAL_COLUMN,
    is_count_like,
    min_group_reason,
    primary_reason,
    round_to_base,
    smallest_shown,
)
from healthgap.errors import DisclosureError

__all__ = [
    "publish",
    "Published",
    "RELATIVE_COLUMNS",
    "SIZE_AUTO",
    "SIZE_COLUMNS",
    "TOTAL_COLUMN",
    "ERR_NOT_PUBLISHED",
    "DisclosureError",
    "protect",
    "published_counts",
    "assert_publishable",
    "disclosure_notice",
    "round_to_base",
    "smallest_shown",
    "is_count_like",
    "REASON_CONFIDENTIAL",
    "REASON_MIN_GROUP",
    "REASON_DERIVED",
    "REASON_INPUT",
    "REASON_REFERENCE",
    "OFF_PREFIX",
    "PERSON_ID_COLUMNS",
    "min_group_reason",
    "primary_reason",
]
