"""Appendix: the accessibility statement."""

from __future__ import annotations

from healthgap.charts import SHOW_NUMBERS
from healthgap.config import Config
from healthgap.pages.base import Page

__all__ = ["AccessibilityPage", "contact_text", "NO_CONTACT"]

#: What the statement says when the config gives no contact (a gap the publisher must fill).
NO_CONTACT = (
    "contact the team at {organisation} that published this report. (Contact details to be added by the "
    "publisher: the email address, phone number or web form for accessibility requests, set as "
    "report.contact in the config file.)"
)


def contact_text(config: Config) -> str:
    """Who to contact about accessibility: ``report.contact``, or a note that the publisher must add it."""
    contact = (config.report.contact or "").strip()
    return f"contact {contact}." if contact else NO_CONTACT.format(organisation=config.report.organisation)


class AccessibilityPage(Page):
    """The accessibility statement."""

    slug = "accessibility"

    #: The label of the table of numbers under every chart.
    show_numbers = SHOW_NUMBERS

    @property
    def contact(self) -> str:
        """:func:`contact_text` for this config."""
        return contact_text(self.config)
