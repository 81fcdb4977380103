"""Appendix: the data dictionary (every column of the person table, and which this dataset has)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import polars as pl

from healthgap.contract import CONTRACT, TRUTH_PREFIX, Column, data_dictionary
from healthgap.pages.base import Page

__all__ = ["DataDictionaryPage", "COLUMNS", "TRUTH_USED", "TRUTH_ABSENT"]

#: Headings of the dictionary table.
COLUMNS = {
    "column": "Column",
    "label": "Label",
    "group": "Group",
    "type": "Type",
    "required": "Required",
    "valid values": "Valid values",
    "in this dataset": "In this dataset",
    "description": "Description",
}
TRUTH_USED = (
    "They are used only to measure under-diagnosis (@sec-access-detection) and to check the risk model for "
    "label bias (@sec-fairness-label-bias), never as inputs to the risk models."
)
TRUTH_ABSENT = (
    "They would be used only to measure under-diagnosis and to check the risk model for label bias, never "
    "as inputs to the risk models. This dataset has none, so those two sections are not available for it."
)


class DataDictionaryPage(Page):
    """The data dictionary appendix."""

    slug = "data-dictionary"

    @property
    def entries(self) -> list[Column]:
        """Every column the report understands: the config's (core, its dimensions and measures, as its
        profile and config declare them, and the true status of conditions), then the rest of the
        contract (profile measures it left out)."""
        own = self.config.contract
        conditions = {m.name for m in self.config.measures if m.kind == "condition"} | set(
            self.caps.conditions
        )

        def listed(name: str) -> bool:  # true status: of conditions only, or when the data have it
            true_of = name.removeprefix(TRUTH_PREFIX)
            return name == true_of or true_of in conditions or name in self.caps.columns

        return [
            *(c for name, c in own.items() if listed(name)),
            *(c for name, c in CONTRACT.items() if name not in own),
        ]

    @cached_property
    def dictionary(self) -> pl.DataFrame:
        """The columns, with whether this dataset has each ("yes"/"no")."""
        return data_dictionary(self.entries).with_columns(
            pl.col("column")
            .is_in(sorted(self.caps.columns))
            .replace_strict({True: "yes", False: "no"})
            .alias("in this dataset")
        )

    @property
    def present(self) -> int:
        """How many of the contract's columns this dataset has."""
        return self.dictionary.filter(pl.col("in this dataset") == "yes").height

    @property
    def total(self) -> int:
        """How many columns the contract defines."""
        return self.dictionary.height

    def truth_text(self) -> Any:
        """What the ``true_`` columns are used for, or that this dataset has none (Markdown: it cross-refers)."""
        from IPython.display import Markdown

        return Markdown(TRUTH_USED if self.caps.has_truth else TRUTH_ABSENT)

    def table(self) -> Any:
        """The dictionary table (no counts of people) with its download."""
        published = self.book.publish(self.dictionary, counts=[])
        return self.book.table(
            published, id="dictionary", title="The columns of the person table", columns=COLUMNS
        )
