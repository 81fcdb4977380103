"""The accessibility statement: the contact sentence and the name of the numbers table."""

from __future__ import annotations

from healthgap.charts import SHOW_NUMBERS
from healthgap.pages.accessibility import AccessibilityPage, contact_text
from tests.conftest import build_people
from tests.pages.conftest import html_of


def test_contact_from_the_config(page_of):
    page = page_of(
        AccessibilityPage, build_people(100), report={"contact": "  accessibility@example.nhs.uk "}
    )
    assert page.contact == "contact accessibility@example.nhs.uk."
    assert page.show_numbers == SHOW_NUMBERS


def test_missing_contact_asks_the_publisher_to_add_one(page_of):
    config = page_of(AccessibilityPage, build_people(100), report={"contact": None}).config
    text = contact_text(config)
    assert text.startswith(f"contact the team at {config.report.organisation} that published this report.")
    assert "set as report.contact in the config file.)" in text


def test_the_map_limitation_only_when_the_book_draws_one(page_of):
    from dataclasses import replace

    from healthgap.pages.accessibility import LIMITATIONS, MAPS, limitations_text

    caps = page_of(AccessibilityPage, build_people(100)).caps  # small areas without boundaries: tiles
    assert limitations_text(caps).startswith("- Tile charts show each small area as an equal hexagon")
    assert limitations_text(replace(caps, area_view="map")).startswith(f"- {MAPS}")
    nowhere = limitations_text(replace(caps, area_column=None, area_view=None))
    assert nowhere == "\n".join(f"- {item}" for item in LIMITATIONS)
    assert "map" not in nowhere.lower().replace("mathml", "") and "area" not in nowhere


def test_inline_values_are_never_empty(page_of):
    """Every value the chapter shows inline is a phrase or sentence, whatever the data lack
    (Quarto prints an empty inline value as code)."""
    full = build_people(400)
    for people, dims in (
        (full.select("person_id", "age"), ["age_band"]),
        (full.head(30), None),
    ):
        equity = {"dimensions": dims} if dims else {}
        page = page_of(AccessibilityPage, people, target=False, equity=equity)
        for name, value in {
            "contact": page.contact,
            "show_numbers": page.show_numbers,
        }.items():
            assert str(html_of(value)).strip(), name
