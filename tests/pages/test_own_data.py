"""The own-data appendix: text only; its page sets up the chapter (banners, downloads folder)."""

from __future__ import annotations

from healthgap.pages.own_data import OwnDataPage
from tests.conftest import build_people


def test_page_is_set_up_for_its_chapter(page_of):
    page = page_of(OwnDataPage, build_people(100))
    assert OwnDataPage.slug == "own-data" and page.book.chapter == "own-data"
