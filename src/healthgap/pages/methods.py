"""Appendix: the methods (how every number is calculated, and the disclosure rules as configured)."""

from __future__ import annotations

from typing import Any

from healthgap.pages.base import Page
from healthgap.pages.capabilities import Capabilities

__all__ = ["MethodsPage", "localities_text", "nested_text", "AREA_NAMES", "LOCALITIES", "NESTED"]

#: How the disclosure rules name each area column protected within localities.
AREA_NAMES = {"lsoa": "Small areas", "gp_practice": "GP practices"}
LOCALITIES = (
    "Two groups that are not the reference (such as the localities with the highest and lowest rates in "
    "@sec-geography-localities) are compared in the same way, with the rate ratio of one to the other."
)
NESTED = "{areas} are protected within each locality, whose totals are published."


def localities_text(caps: Capabilities) -> str:
    """How two localities are compared (Markdown: it cross-refers), when the dataset has localities."""
    return LOCALITIES if "locality" in caps.dimension_names else ""


def nested_text(caps: Capabilities) -> str:
    """That small areas (or practices) are protected within localities, when the dataset has both."""
    areas = AREA_NAMES.get(caps.area_column or "")
    return NESTED.format(areas=areas) if areas and caps.has("locality") else ""


class MethodsPage(Page):
    """The methods appendix."""

    slug = "methods"

    def localities(self) -> Any:
        """:func:`localities_text` as Markdown, so that its cross-reference resolves."""
        from IPython.display import Markdown

        return Markdown(localities_text(self.caps))

    @property
    def nested(self) -> str:
        """:func:`nested_text` for this dataset."""
        return nested_text(self.caps)

    @property
    def largest_suppressed(self) -> int:
        """The largest count that is suppressed (``suppress_below - 1``)."""
        return self.config.disclosure.suppress_below - 1

    @property
    def rounding(self) -> int:
        """Counts are rounded to the nearest this."""
        return self.config.disclosure.rounding

    @property
    def status(self) -> str:
        """Whether disclosure control is on (and, when off, why and that the report must not be published)."""
        d = self.config.disclosure
        if d.enabled:
            return "Disclosure control is switched on for this report."
        return (
            f"Disclosure control is switched OFF for this report: {d.reason or ''}. It must not be published."
        )
