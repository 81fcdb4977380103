"""Appendix: does the book find what was built in? Each injected inequality of a synthetic
population, estimated with the package's methods, against the value built in."""

from __future__ import annotations

import json
import math
from functools import cached_property
from typing import Any

import polars as pl

from healthgap import text
from healthgap.descriptive.outcomes import PER
from healthgap.descriptive.truth_check import COUNTS, effect_estimates, recompute_effects
from healthgap.disclosure import Published
from healthgap.pages.base import Page

__all__ = [
    "TruthCheckPage",
    "NO_TRUTH",
    "VERDICT_TEXT",
    "COLUMNS",
    "estimate_text",
    "joint_text",
    "summary_sentence",
    "in_book_unit",
]

#: The one note on data without a list of built-in inequalities.
NO_TRUTH = (
    "This dataset does not come with a list of the inequalities built into it, so there is nothing "
    "to check the book's findings against here."
)
#: How each verdict reads in the table.
VERDICT_TEXT = {
    "found": "found",
    "no difference": "found: no difference, as built in",
    "not shown": "not shown to be without a difference at this size",
    "chance": "not distinguishable from chance at this size",
    "missed": "missed (the interval for all the inequalities together excludes the value built in)",
    "wrong direction": "wrong direction",
    "too few": "too few events for an estimate at this size",
}
#: Headings of the table.
COLUMNS = {
    "description": "What was built in",
    "comparison": "Groups compared",
    "estimate_text": "Estimate (95% CI)",
    "joint_text": "Interval for all together",
    "expected_text": "Built-in value",
    "people_text": "People compared",
    "verdict_text": "Verdict",
}


def _number(x: float | None, *, per: float, ratio: bool) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return text.NOT_AVAILABLE
    return text.ratio(x) if ratio else text.num(x, 1)


def estimate_text(row: dict[str, Any]) -> str | None:
    """ "1.36 (1.32 to 1.40), ratio" or "-13.0 (-14.8 to -11.2), difference in percentage points"; None without a value."""
    if row.get("value") is None:
        return None
    ratio = row["scale"] == "ratio"
    f = lambda v: _number(v, per=row["per"], ratio=ratio)  # noqa: E731
    unit = (
        "ratio"
        if ratio
        else (
            "difference"
            if row["per"] == 1
            else "difference in percentage points"
            if row["per"] == 100
            else f"difference per {text.count(row['per'])}"
        )
    )
    return f"{f(row['value'])} ({f(row['lower_ci'])} to {f(row['upper_ci'])}), {unit}"


def joint_text(row: dict[str, Any]) -> str | None:
    """ "1.30 to 1.43": the simultaneous interval; None without one."""
    if row.get("joint_lower_ci") is None or row.get("joint_upper_ci") is None:
        return None
    ratio = row["scale"] == "ratio"
    lo, hi = (_number(row[c], per=row["per"], ratio=ratio) for c in ("joint_lower_ci", "joint_upper_ci"))
    return f"{lo} to {hi}"


def in_book_unit(effect: dict[str, Any]) -> str:
    """An effect's description in the book's unit for rates of events (per :data:`PER`, as the
    Outcomes chapter gives them): a ratio of rates is the same in any unit, so "per 100,000"
    becomes "per 1,000"; a difference keeps its own unit (its value is in it)."""
    description = str(effect.get("description", ""))
    per = effect.get("per")
    if effect.get("scale") != "ratio" or not isinstance(per, int | float) or per in (1, 100, PER):
        return description
    return description.replace(f"per {text.count(per)} ", f"per {text.count(PER)} ")


def summary_sentence(verdicts: dict[str, int], *, total: int, people: str) -> str:
    """How many of the built-in inequalities the book's methods find, and what became of the rest.

    An effect built in as no difference and found as none counts as found, and the sentence
    says how many of the found are of that kind.
    """
    none = verdicts.get("no difference", 0)
    found = verdicts.get("found", 0) + none
    rest = [
        f"{text.count(verdicts[v])} {'is' if verdicts[v] == 1 else 'are'} {VERDICT_TEXT[v]}"
        for v in ("chance", "not shown", "too few", "missed", "wrong direction")
        if verdicts.get(v)
    ]
    unknown = total - sum(verdicts.values())
    if unknown:
        rest.append(
            f"{text.count(unknown)} cannot be judged at this size (no published estimate, or no built-in "
            "value in a population this small)"
        )
    head = (
        f"The book's methods find {text.count(found)} of the {text.count(total)} inequalities built into "
        f"this synthetic population at its size ({people} people)"
    )
    if none:
        head += (
            f", {text.count(none)} of them built in as no difference and found as none"
            if none > 1
            else ", one of them built in as no difference and found as none"
        )
    return head + (f"; {text.join(rest)}." if rest else ".")


class TruthCheckPage(Page):
    """The appendix "Does the book find what was built in?"."""

    slug = "truth-check"

    @cached_property
    def effects(self) -> list[dict[str, Any]]:
        """The ``effects`` of the data's ``truth.json`` ([] without one)."""
        path = self.config.data.truth
        if path is None or not path.is_file():
            return []
        effects = json.loads(path.read_text(encoding="utf-8")).get("effects") or []
        return [e for e in effects if isinstance(e, dict)]

    @property
    def has_effects(self) -> bool:
        return bool(self.effects)

    @cached_property
    def exact(self) -> pl.DataFrame:
        """Each effect estimated on this data (exact counts)."""
        counts = [m.name for m in self.config.measures if m.type == "count"]
        out = effect_estimates(self.people, self.effects, count_columns=counts)
        words = pl.DataFrame(
            {
                "id": [e["id"] for e in self.effects],
                "description": [in_book_unit(e) for e in self.effects],
            }
        )
        return out.join(words, on="id", how="left", maintain_order="left")

    def _publish(self, frame: pl.DataFrame, counts: list[str], *, recompute: bool) -> Published:
        settings = self.config.disclosure
        if settings.enabled and settings.min_group > 1 and "reference_denominator" in frame.columns:
            # a row compares two groups: the group's size is checked by publish (size=denominator),
            # the reference group's here: below the minimum group size nothing of it is published
            small = pl.col("reference_denominator") < settings.min_group
            blank = [
                c
                for c in (
                    "reference_numerator",
                    "reference_denominator",
                    "value",
                    "lower_ci",
                    "upper_ci",
                    "joint_lower_ci",
                    "joint_upper_ci",
                    "reference_dispersion",
                    "excludes_null",
                    "contains_expected",
                    "verdict",
                )
                if c in frame.columns
            ]
            frame = frame.with_columns(pl.when(small).then(None).otherwise(pl.col(c)).alias(c) for c in blank)
        derived = [
            c
            for c in (
                "value",
                "lower_ci",
                "upper_ci",
                "joint_lower_ci",
                "joint_upper_ci",
                "true_value",
                "expected_value",
                "dispersion",
                "reference_dispersion",
            )
            if c in frame.columns
        ] + ["excludes_null", "contains_expected", "verdict"]
        return self.book.publish(
            frame,
            counts=counts,
            derived=derived,
            by=["id"],
            recompute=recompute_effects if recompute else None,
        )

    @cached_property
    def estimates(self) -> Published:
        """Every effect's estimate, published: proportions and event rates recomputed from the
        rounded counts; means publish only the numbers of people (their numerators are not counts)."""
        counted = self.exact.filter(pl.col("method") != "mean")
        means = self.exact.filter(pl.col("method") == "mean").drop("numerator", "reference_numerator")
        first = self._publish(counted, list(COUNTS), recompute=True)
        if means.is_empty():
            return first
        # a mean is not a statistic of counts: its exact estimate and verdict stand
        second = self._publish(means, ["denominator", "reference_denominator"], recompute=False).frame
        order = self.exact.select("id").with_row_index("__order")
        return first.pipe(
            lambda f: (
                pl.concat([f, second], how="diagonal_relaxed")
                .join(order, on="id")
                .sort("__order")
                .drop("__order")
            )
        )

    @cached_property
    def verdicts(self) -> dict[str, int]:
        """How many effects got each verdict (published estimates)."""
        counts = self.estimates.frame.drop_nulls("verdict").group_by("verdict").len()
        return dict(counts.iter_rows())

    @property
    def people_text(self) -> str:
        """The population's size, rounded like every published count."""
        n = self.people.select(pl.len()).collect().item()
        base = self.config.disclosure.rounding if self.config.disclosure.enabled else 1
        return text.count(math.floor(n / base + 0.5) * base)

    def summary(self) -> str:
        """The summary sentence, or the note that there is nothing to check."""
        if not self.has_effects:
            return NO_TRUTH
        return summary_sentence(self.verdicts, total=len(self.effects), people=self.people_text)

    def _labelled(self, frame: pl.DataFrame) -> pl.DataFrame:
        rows = frame.to_dicts()

        def people(r: dict[str, Any]) -> str | None:
            if r.get("denominator") is None or r.get("reference_denominator") is None:
                return None
            return f"{text.count(r['denominator'])} and {text.count(r['reference_denominator'])}"

        return frame.with_columns(
            pl.Series("estimate_text", [estimate_text(r) for r in rows], dtype=pl.String),
            pl.Series("joint_text", [joint_text(r) for r in rows], dtype=pl.String),
            pl.Series(
                "expected_text",
                [
                    None
                    if r.get("expected_value") is None
                    else _number(r["expected_value"], per=r["per"] or 1.0, ratio=r["scale"] == "ratio")
                    for r in rows
                ],
                dtype=pl.String,
            ),
            pl.Series("people_text", [people(r) for r in rows], dtype=pl.String),
            pl.Series(
                "verdict_text",
                [None if r.get("verdict") is None else VERDICT_TEXT[r["verdict"]] for r in rows],
                dtype=pl.String,
            ),
        )

    @property
    def note(self) -> str:
        """The table's note: what each column and verdict means (the margins of no difference
        are those of this truth's entries)."""
        margins = sorted({float(m) for m in self.exact["equivalence_margin"].drop_nulls()})
        none = (
            "Found, no difference: built in as none, the 95% interval lies within the margin of no "
            f"difference (a ratio from {text.join([f'{text.ratio(1 / m)} to {text.ratio(m)}' for m in margins], conjunction='or')}). "
            if margins
            else ""
        )
        return (
            "People compared: in the group and in the reference group. Found: the whole 95% interval lies on "
            "the same side of no difference as the value built in, and the interval for all together contains the "
            "value built in. Interval for all together: the 95% interval widened (Bonferroni, for the "
            f"{text.count(self.family)} inequalities judged) so that all of them contain their built-in values "
            f"together at least 95% of the time. {none}Not distinguishable from chance: the interval contains no "
            "difference (1 for a ratio, 0 for a difference). Shares and rates of events are computed from the "
            "counts as published (rounded), like every share in the book; an interval of a rate of events allows "
            "for people with several events (each count's variance scaled by the variance-to-mean ratio of events "
            "per person); age-standardised rates, observed-to-expected ratios and means come from the exact data."
        )

    @property
    def family(self) -> int:
        """How many inequalities the simultaneous intervals are judged together over."""
        return int(self.exact.select(pl.col("family").max().fill_null(0)).item())

    def table(self) -> Any:
        """Every effect: what was built in, the estimate, the value built in and the verdict."""
        if not self.has_effects:
            return None  # the summary says once that there is nothing to check
        return self.book.table(
            self.estimates.pipe(self._labelled),
            id="truth-check",
            title="Each built-in inequality: the book's estimate and the value built in",
            columns=COLUMNS,
            note=self.note,
        )
