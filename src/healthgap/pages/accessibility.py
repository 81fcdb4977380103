"""Appendix: the accessibility statement."""

from __future__ import annotations

from typing import Any

from healthgap.charts import SHOW_NUMBERS
from healthgap.config import Config
from healthgap.pages.base import Page
from healthgap.pages.capabilities import Capabilities

__all__ = [
    "AccessibilityPage",
    "contact_text",
    "limitations_text",
    "NO_CONTACT",
    "MAPS",
    "TILES",
    "LIMITATIONS",
]

#: What the statement says when the config gives no contact (a gap the publisher must fill).
NO_CONTACT = (
    "contact the team at {organisation} that published this report. (Contact details to be added by the "
    "publisher: the email address, phone number or web form for accessibility requests, set as "
    "report.contact in the config file.)"
)


#: The known limitation of a map (a dataset with boundaries).
MAPS = (
    "Maps show geography by shading areas. The same rates are in the table under each map, in order of area "
    "code; the text above the map gives the lowest and highest rates."
)
#: The same for a chart of equal tiles (areas without boundaries).
TILES = (
    "Tile charts show each {unit} as an equal hexagon shaded by its rate. The same rates are in the table "
    "under the chart, in order of code; the text above the chart gives the lowest and highest rates."
)
#: The limitations every book has.
LIMITATIONS = (
    "Hovering over a chart shows tooltips that are not available to keyboard users; the same values are in "
    "the data table under the chart.",
    "Mathematical formulas in the methods appendix are written in MathML, which most current screen readers "
    "can read; each formula is also described in words.",
)
_UNITS = {"lsoa": "small area", "gp_practice": "GP practice", "locality": "locality"}


def limitations_text(caps: Capabilities) -> str:
    """The known limitations as a Markdown list: the map's (or tile chart's) only when the book draws one."""
    items = []
    if caps.mapped:
        items.append(MAPS)
    elif caps.area_column is not None:
        items.append(TILES.format(unit=_UNITS.get(caps.area_column, "unit")))
    items += LIMITATIONS
    return "\n".join(f"- {item}" for item in items)


def contact_text(config: Config) -> str:
    """Who to contact about accessibility: ``report.contact``, or a note that the publisher must add it."""
    contact = (config.report.contact or "").strip()
    return f"contact {contact}." if contact else NO_CONTACT.format(organisation=config.report.organisation)


class AccessibilityPage(Page):
    """The accessibility statement."""

    slug = "accessibility"

    #: The label of the table of numbers under every chart.
    show_numbers = SHOW_NUMBERS

    def limitations(self) -> Any:
        """:func:`limitations_text` for this dataset (Markdown)."""
        from IPython.display import Markdown

        return Markdown(limitations_text(self.caps))

    @property
    def contact(self) -> str:
        """:func:`contact_text` for this config."""
        return contact_text(self.config)
