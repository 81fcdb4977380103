"""Markdown blocks a page cell displays: optional paragraphs, notes, and numbered figures and
tables whose captions follow the data.

A chapter's static ``fig-cap`` cannot say "by education level" for one dataset and "by
deprivation fifth" for another, and a chapter cannot loop over a config's outcomes. These
helpers let a page build the Markdown itself:

- :func:`paragraph` - a paragraph, or None (the cell then shows nothing);
- :func:`note` - a note about what the dataset lacks, in the style of a skip note
  (:meth:`healthgap.book.Book.skip`), for a section that is shown in part;
- :func:`numbered` - a figure or table (markup from :meth:`healthgap.book.Book.figure` /
  :meth:`~healthgap.book.Book.table`) as a cross-referenceable float ``#fig-...`` /
  ``#tbl-...`` with its caption, which both renderers number like a cell's ``fig-cap``;
- :func:`blocks` - several of these (and headings) as one Markdown output.

Kept here until :mod:`healthgap.book` offers them (a ``Book.note`` and captions from the page).

The access and experience chapters also share how they show one measure of the config
(:class:`ShownMeasure`, :class:`MeasureSections`): a flag as the share of people, a count as
events per 1,000 people (:data:`EVENTS_PER`), days as the median wait with its interval and,
for a measure with a waiting standard (``standard_days``), the share waiting longer; each by
every dimension present, with 95% intervals, and sentences that allow for the number of groups
when they name the highest or lowest (:func:`healthgap.pages._groups.compare`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import polars as pl

from healthgap import charts
from healthgap.config import Dimension, Measure
from healthgap.descriptive.access import (
    count_rates,
    days_summary,
    flag_shares,
    only_among,
    recompute_ratios,
    recompute_shares,
)
from healthgap.disclosure import Published, min_group_reason, publish
from healthgap.pages._contrast import compare
from healthgap.pages._groups import noun_of
from healthgap.pages.base import ci_columns
from healthgap.text import capitalise, format_number, join, lower_first

if TYPE_CHECKING:
    from healthgap.book import Book
    from healthgap.config import Config, DisclosureSettings
    from healthgap.pages.capabilities import Capabilities

__all__ = [
    "paragraph",
    "note",
    "numbered",
    "blocks",
    "heading",
    "escape",
    "markup_of",
    "NOTE_CLASS",
    "EVENTS_PER",
    "UNIT_TEXT",
    "ShownMeasure",
    "MeasureSections",
]

#: The classes of a note about what the dataset lacks (those of :meth:`healthgap.book.Book.skip`).
NOTE_CLASS = "hg-skip callout callout-note"

_SPECIAL = re.compile(r"([\\`*_\[\]<>#@~^$|!{}])")


def escape(text: str) -> str:
    """``text`` for a Markdown paragraph, shown literally (Markdown punctuation escaped)."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def markup_of(obj: Any) -> str:
    """The HTML of an IPython display object (or a string)."""
    return str(getattr(obj, "data", obj))


def paragraph(text: str | None) -> Any:
    """A Markdown paragraph to display (cross-references such as ``@fig-x`` work), or None."""
    from IPython.display import Markdown

    if not text or not text.strip():
        return None
    return Markdown(text.strip())


def note(text: str) -> Any:
    """A note that part of a section is not shown for this dataset, styled as a skip note."""
    from IPython.display import HTML

    body = html.escape(" ".join(text.split()))
    return HTML(f'<div class="{NOTE_CLASS}" role="note"><p>{body}</p></div>')


def _raw(markup: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", markup)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{=html}}\n{markup.rstrip()}\n{fence}"


def numbered(obj: Any, *, label: str, caption: str) -> str:
    """A figure or table as a numbered float: ``label`` is ``fig-...`` or ``tbl-...``.

    ``obj`` is what :meth:`~healthgap.book.Book.figure` or :meth:`~healthgap.book.Book.table`
    returned; the caption replaces its own, after the number ("Figure 3.2: ...").
    """
    return f"::: {{#{label}}}\n\n{_raw(markup_of(obj))}\n\n{escape(caption)}\n\n:::"


def heading(text: str, *, id: str, level: int = 2) -> str:
    """A section heading with an id (``sec-...``) for cross-references."""
    return f"{'#' * level} {escape(text)} {{#{id}}}"


def blocks(*parts: Any) -> Any:
    """Markdown blocks (strings: Markdown; display objects: their HTML, raw) as one output, or None."""
    from IPython.display import Markdown

    texts = []
    for part in parts:
        if part is None or part == "":
            continue
        if isinstance(part, str):
            texts.append(part)
        elif getattr(part, "_repr_markdown_", None) is not None and not hasattr(part, "_repr_html_"):
            texts.append(markup_of(part))
        else:
            texts.append(_raw(markup_of(part)))
    return Markdown("\n\n".join(texts)) if texts else None


# -- one measure of the config, by every dimension ------------------------------------------------

#: Events of a count measure are per this many people, across the book.
EVENTS_PER = 1000
#: The unit, stated once per chapter.
UNIT_TEXT = (
    f"Counts of events are given per {EVENTS_PER:,} people (per {EVENTS_PER:,} of the people they can "
    "happen to, such as those referred); shares are percentages of the people with a value."
)
#: A days measure's published counts and what derives from each. The wait statistics follow the
#: over-standard count too: a median's interval limit above the standard leaves at least n - s + 1
#: people over it, which would pin a suppressed count of people waiting longer.
DAYS_DERIVED = {
    "recorded": ["median_days", "median_lower", "median_upper", "mean_days", "value", "lower_ci", "upper_ci"],
    "over_standard": [
        "median_days",
        "median_lower",
        "median_upper",
        "mean_days",
        "value",
        "lower_ci",
        "upper_ci",
    ],
}
#: A days measure's group size (the minimum group size applies to it: a median, its interval limits
#: and the mean of a few dozen waits are single people's waits, and mean x size their total).
DAYS_SIZE = "recorded"
FLAG_DATA = ("level", "label", "numerator", "denominator", "value", "lower_ci", "upper_ci")
COUNT_DATA = ("level", "label", "events", "population", "value", "lower_ci", "upper_ci")
DAYS_DATA = ("level", "label", "recorded", "median_days", "median_lower", "median_upper", "mean_days")
SHARE_DATA = ("over_standard", "value", "lower_ci", "upper_ci")
#: The column a measure's figure draws, by measure type.
_VALUE = {"flag": "value", "count": "value", "days": "median_days"}


@dataclass(frozen=True)
class ShownMeasure:
    """One access or experience measure a page shows.

    Attributes
    ----------
    measure : the declared measure (a flag, a count or days).
    among : for a count, the flag measure whose people every event happens to (events are
        then per 1,000 of them), or None (per 1,000 people with a value).
    """

    measure: Measure
    among: Measure | None = None

    @property
    def slug(self) -> str:
        """The measure's name as an id ("days-to-first-outpatient")."""
        return self.measure.name.replace("_", "-").lower()

    @property
    def name(self) -> str:
        """The label mid-sentence ("missed appointments")."""
        return lower_first(self.measure.label)

    @property
    def who(self) -> str:
        """Whom a count's events are counted among: "people with cardiology referral"."""
        return f"people with {lower_first(self.among.label)}" if self.among is not None else "people"

    @property
    def per(self) -> str:
        """'per 1,000 people with cardiology referral'."""
        return f"per {EVENTS_PER:,} {self.who}"

    @property
    def standard(self) -> float | None:
        """A days measure's waiting standard in days (None: no standard applies)."""
        return self.measure.standard_days if self.measure.type == "days" else None

    @property
    def standard_text(self) -> str:
        """The standard in words: "18 weeks (126 days)", "42 days"."""
        days = self.standard
        if days is None:
            return ""
        whole = format_number(days, style="integer")
        if days % 7 == 0:
            return f"{format_number(days / 7, style='integer')} weeks ({whole} days)"
        return f"{whole} days"


def _figure_what(e: ShownMeasure) -> str:
    """What a measure's figure shows, mid-sentence: "the median days from referral to treatment"."""
    if e.measure.type == "flag":
        return f"the percentage of people with {e.name}"
    if e.measure.type == "count":
        return f"{e.name} {e.per}"
    return f"the median {e.name}"


def _small_waits_withheld(frame: pl.DataFrame, *, settings: DisclosureSettings) -> pl.DataFrame:
    """``frame`` (a published days table) without the wait statistics of groups smaller than the
    minimum group size (as published), with the reason: a measure without a standard has no count
    within the group for the minimum group size to withhold, so its statistics are withheld here."""
    stats = [c for c in DAYS_DERIVED[DAYS_SIZE] if c in frame.columns]
    if not settings.enabled or settings.min_group <= 1 or not stats:
        return frame
    small = pl.col(DAYS_SIZE).is_not_null() & (pl.col(DAYS_SIZE) < settings.min_group)
    shown = small & pl.any_horizontal([pl.col(c).is_not_null() for c in stats])
    reason = f"{', '.join(stats)}: {min_group_reason(settings)}"
    return frame.with_columns(
        *[pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in stats],
        suppressed=pl.col("suppressed").fill_null(False) | shown,
        suppression_reason=pl.when(shown)
        .then(
            pl.concat_str([pl.col("suppression_reason"), pl.lit(reason)], separator="; ", ignore_nulls=True)
        )
        .otherwise(pl.col("suppression_reason")),
    )


def shown_measures(
    people: pl.LazyFrame | pl.DataFrame, config: Config, caps: Capabilities, *, kinds: Sequence[str]
) -> list[ShownMeasure]:
    """The flag, count and days measures of ``kinds`` the dataset has, in the config's order; a
    count whose events all happen to the people of an access or experience flag is counted
    among them."""
    present = [
        m
        for k in kinds
        for m in config.measures_of(k)
        if m.name in caps.columns and m.type in ("flag", "count", "days")
    ]
    flags = [
        m
        for m in (*config.measures_of("access"), *config.measures_of("experience"))
        if m.type == "flag" and m.name in caps.columns
    ]
    out = []
    for m in present:
        among = None
        if m.type == "count":
            among = next((f for f in flags if only_among(people, measure=m.name, flag=f.name)), None)
        out.append(ShownMeasure(m, among))
    return out


class MeasureSections:
    """What a page shows of each of its measures, by every dimension present (a mixin of a
    :class:`~healthgap.pages.base.Page` that sets :attr:`measures`, :attr:`dimensions` and
    :attr:`compared`)."""

    book: Book
    config: Config
    people: pl.LazyFrame
    #: The id prefix of the figures and tables ("experience", "access").
    prefix: str = "measure"

    @property
    def measures(self) -> list[ShownMeasure]:  # pragma: no cover - every page sets it
        """The measures the page shows."""
        raise NotImplementedError

    @property
    def dimensions(self) -> list[Dimension]:  # pragma: no cover - every page sets it
        """Every dimension present."""
        raise NotImplementedError

    @property
    def compared(self) -> Dimension | None:  # pragma: no cover - every page sets it
        """The dimension the figures compare."""
        raise NotImplementedError

    def age_rows(self, e: ShownMeasure) -> pl.DataFrame | None:
        """Rows that stand for the age dimension of ``e``'s table instead of its five-year bands
        (exact, in the table's columns; e.g. broad age groups), or None: the bands."""
        return None

    @cached_property
    def tables(self) -> dict[str, Published]:
        """Each measure by every dimension present, published (by measure name); the age rows of
        :meth:`age_rows` when it gives any, in the same table (one secondary suppression)."""
        all_names = [d.name for d in self.dimensions]
        out: dict[str, Published] = {}
        if not all_names:
            return out
        for e in self.measures:
            ages = self.age_rows(e)
            names = [n for n in all_names if ages is None or n != "age_band"]
            m = e.measure
            if m.type == "flag":
                table = flag_shares(self.people, self.config, measure=m.name, dimensions=names)
                counts, derived = ["numerator", "denominator"], None
                recompute: Any = partial(recompute_shares, numerator="numerator", denominator="denominator")
            elif m.type == "days":
                table = days_summary(
                    self.people, self.config, measure=m.name, standard=e.standard, dimensions=names
                )
                if e.standard is None:
                    counts, recompute = ["recorded"], None
                    derived = {"recorded": DAYS_DERIVED["recorded"][:4]}
                else:
                    counts, derived = ["recorded", "over_standard"], DAYS_DERIVED
                    recompute = partial(recompute_shares, numerator="over_standard", denominator="recorded")
            else:
                among = e.among.name if e.among is not None else None
                table = count_rates(
                    self.people,
                    self.config,
                    measure=m.name,
                    among=among,
                    dimensions=names,
                    multiplier=EVENTS_PER,
                )
                counts, derived = ["events", "population"], None
                recompute = partial(
                    recompute_ratios, events="events", population="population", multiplier=EVENTS_PER
                )
            if ages is not None and not ages.is_empty():
                table = pl.concat([table, ages.select(table.columns)], how="vertical_relaxed")
            if table.is_empty():
                continue
            if m.type == "days":  # Book.publish has no size=: the minimum group size applies to "recorded"
                settings = self.config.disclosure
                days = publish(
                    table,
                    counts=counts,
                    derived=derived,
                    recompute=recompute,
                    size=DAYS_SIZE,
                    settings=settings,
                )
                out[m.name] = days.pipe(_small_waits_withheld, settings=settings)
            else:
                out[m.name] = self.book.publish(table, counts=counts, derived=derived, recompute=recompute)
        return out

    # -- sentences -------------------------------------------------------------------------
    def measure_sentences(self, e: ShownMeasure, dim: Dimension) -> str:
        """The sentences comparing one measure across the groups of ``dim``, with intervals."""
        table = self.tables.get(e.measure.name)
        if table is None:
            return ""
        m = e.measure
        if m.type == "flag":
            return compare(table, dim, subject=f"the share of people with {e.name}")
        if m.type == "count":
            return compare(
                table,
                dim,
                subject=f"the number of {e.name} {e.per}",
                suffix="",
                unit=f" {e.per}",
                scale="ratio",
            )
        median = compare(
            table,
            dim,
            subject=f"the median {e.name}",
            column="median_days",
            lower="median_lower",
            upper="median_upper",
            dp=0,
            suffix=" days",
        )
        if e.standard is None:
            return median
        share = compare(table, dim, subject=f"the share of people whose {e.name} exceeded {e.standard_text}")
        return f"{median} {share}"

    def measure_text(self, e: ShownMeasure) -> str:
        """The sentences comparing one measure, one dimension after another."""
        return " ".join(t for t in (self.measure_sentences(e, d) for d in self.dimensions) if t)

    def measure_lead(self, e: ShownMeasure) -> str:
        """What the figure and table of one measure show."""
        label = f"@fig-{self.prefix}-{e.slug}"
        if e.measure.type == "flag":
            return f"{label} shows the share of people with {e.name} in each group."
        if e.measure.type == "count":
            return f"{label} shows {e.name} {e.per}."
        what = f"{label} shows the median {e.name} among the people with a value, with its 95% confidence interval"
        if e.standard is None:
            return f"{what}; no waiting-time standard applies to this measure, so no share is judged against one."
        return (
            f"{what}; the table also gives the share who waited longer than the {e.standard_text} standard."
        )

    # -- figures and tables ----------------------------------------------------------------
    def _columns(
        self, e: ShownMeasure, *, group: str, **first: str
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        label = e.measure.label
        if e.measure.type == "flag":
            heads = {**first, "label": group, "numerator": label, "denominator": "People with a value"}
            return FLAG_DATA, {**heads, **ci_columns(f"{label} (%)")}
        if e.measure.type == "count":
            heads = {**first, "label": group, "events": label, "population": capitalise(e.who)}
            return COUNT_DATA, {**heads, **ci_columns(capitalise(e.per))}
        columns = {
            **first,
            "label": group,
            "recorded": "People with a value",
            "median_days": "Median (days)",
            "median_lower": "Median: lower 95% CI",
            "median_upper": "Median: upper 95% CI",
            "mean_days": "Mean (days)",
        }
        if e.standard is None:
            return DAYS_DATA, columns
        over = f"Over {e.standard_text}"
        columns.update({"over_standard": over, **ci_columns(f"{over} (%)")})
        return (*DAYS_DATA, *SHARE_DATA), columns

    def _compared_rows(self, e: ShownMeasure) -> Published | None:
        """The published rows of the groups the figure compares, or None (no table or no rows)."""
        table, dim = self.tables.get(e.measure.name), self.compared
        if table is None or dim is None:
            return None
        rows = table.where(pl.col("dimension") == dim.name)
        return None if rows.frame.is_empty() else rows

    def withheld_everywhere(self, e: ShownMeasure) -> bool:
        """Whether the groups the figure compares have rows but no published value (every value
        withheld: small groups' waits, suppressed counts), so that nothing can be drawn."""
        rows = self._compared_rows(e)
        return rows is not None and rows.frame.get_column(_VALUE[e.measure.type]).is_null().all()

    def withheld_note(self, e: ShownMeasure) -> str:
        """Why a measure has no figure when :meth:`withheld_everywhere`; "" otherwise."""
        if self.compared is None or not self.withheld_everywhere(e):
            return ""
        noun = noun_of(self.compared)
        return (
            f"There is no figure of {_figure_what(e)} by {noun}: it is withheld for every {noun} to protect "
            "confidentiality."
        )

    def measure_figure(self, e: ShownMeasure) -> Any:
        """One measure by the groups compared (the figure's markup), or None (no rows, or no value
        to draw: :meth:`withheld_everywhere`)."""
        rows, dim = self._compared_rows(e), self.compared
        if rows is None or dim is None or self.withheld_everywhere(e):
            return None
        noun = noun_of(dim)
        data, columns = self._columns(e, group=capitalise(noun))
        value, lower, upper = "value", "lower_ci", "upper_ci"
        what = _figure_what(e)
        if e.measure.type == "flag":
            title, value_title = f"People with {e.name} (%)", "People (%)"
        elif e.measure.type == "count":
            title = value_title = f"{e.measure.label} {e.per}"
        else:
            title, value_title = f"Median {e.name}", "Median (days)"
            value, lower, upper = "median_days", "median_lower", "median_upper"
            data = DAYS_DATA
            columns = {k: v for k, v in columns.items() if k in ("label", *DAYS_DATA)}
        order = [dim.label_of(x) for x in dim.order]
        return self.book.figure(
            lambda d: charts.ci_chart(
                d,
                group="label",
                title=title,
                value=value,
                lower=lower,
                upper=upper,
                mark="bar",
                order=order,
                value_title=value_title,
                group_title=capitalise(noun),
            ),
            id=f"{self.prefix}-{e.slug}",
            title=f"{title} by {noun}",
            description=(
                f"Bar chart with 95% confidence intervals of {what}, by {noun}. "
                + self.measure_sentences(e, dim)
            ),
            data=rows.select(*data),
            columns=columns,
        )

    def _sorted(self, table: Published) -> Published:
        """``table`` in the config's order of dimensions, then of levels."""
        names = {d.name: k for k, d in enumerate(self.dimensions)}
        key = pl.col("dimension").replace_strict(names, default=len(names), return_dtype=pl.Int64)
        return table.sort(key, "order", maintain_order=True)

    def measure_table(self, e: ShownMeasure) -> Any:
        """One measure by every dimension present (the table's markup), or None."""
        table = self.tables.get(e.measure.name)
        if table is None:
            return None
        data, columns = self._columns(e, group="Group", dimension_label="Compared by")
        return self.book.table(
            self._sorted(table).select("dimension_label", *data[1:]),
            id=f"{self.prefix}-{e.slug}-groups",
            title=f"{e.measure.label} by {join([noun_of(d) for d in self.dimensions])}",
            columns=columns,
        )

    def measure_blocks(self, e: ShownMeasure, *, context: str = "") -> list[Any]:
        """One measure's section after its heading: lead, sentences, figure and table."""
        table, dim = self.tables.get(e.measure.name), self.compared
        if table is None or dim is None:
            return []
        parts: list[Any] = []
        if table.frame.get_column("value" if e.measure.type != "days" else "median_days").is_null().all():
            return [f"{capitalise(e.name)} is not published for any group: every group is too small."]
        figure = self.measure_figure(e)
        lead = self.measure_lead(e) if figure is not None else ""
        parts.append(" ".join(t for t in (context, lead, self.measure_text(e)) if t))
        if figure is not None:
            parts.append(
                numbered(
                    figure,
                    label=f"fig-{self.prefix}-{e.slug}",
                    caption=f"{e.measure.label}, by {noun_of(dim)}",
                )
            )
        elif withheld := self.withheld_note(e):
            parts.append(note(withheld))
        shown = self.measure_table(e)
        if shown is not None:
            parts.append(
                numbered(
                    shown,
                    label=f"tbl-{self.prefix}-{e.slug}",
                    caption=f"{e.measure.label}, by every group compared",
                )
            )
        return parts
