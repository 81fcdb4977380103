"""Appendix: re-running the report on your own data (instructions; nothing computed)."""

from __future__ import annotations

from healthgap.pages.base import Page

__all__ = ["OwnDataPage"]


class OwnDataPage(Page):
    """The own-data appendix: its setup shows the banners; the rest of the page is text."""

    slug = "own-data"
