"""The book's title, subtitle and organisation from the config's ``report`` settings.

``_quarto.yml`` holds the book's default title, subtitle and author. The config
being rendered says which organisation the report is for (``report.organisation``),
and its body text uses that name, so the site header, the welcome page's byline
and the footer must use it too. Both engines take the same values:

* the built-in renderer replaces :class:`~healthgap.render.project.Book`'s
  ``title``, ``subtitle`` and ``author`` (:func:`apply_report`);
* Quarto gets them as a project profile, a ``_quarto-<name>.yml`` file merged over
  ``_quarto.yml`` (:func:`quarto_profile_yaml`). A ``--metadata``/``-M`` value
  does not work for a book: Quarto sets each page's ``title``, ``subtitle`` and
  ``author`` from ``book:`` (index page) or the chapter heading, overwriting
  ``-M`` values, the sidebar title comes from ``book.title``, and ``-M`` cannot
  set a nested key such as ``book.title``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import yaml

from healthgap.render.project import Book

if TYPE_CHECKING:  # pragma: no cover - typing only
    from healthgap.config import Config

__all__ = ["report_overrides", "apply_report", "quarto_profile_yaml", "QUARTO_PROFILE", "PROFILE_MARKER"]

#: The Quarto profile the Quarto engine writes (``_quarto-healthgap-report.yml``) and activates.
QUARTO_PROFILE = "healthgap-report"
#: First line of the profile file, so a file of the user's own with that name is never overwritten.
PROFILE_MARKER = "# Written by `healthgap render` for this render only; it deletes this file afterwards."


def report_overrides(config: Config | None) -> dict[str, str]:
    """The book metadata the config sets: ``title``, ``author`` (the organisation), ``subtitle``.

    Parameters
    ----------
    config : the loaded config, or None (no config: nothing is overridden).

    Returns
    -------
    dict[str, str]
        Keys of ``_quarto.yml``'s ``book:`` section; a key the config leaves empty
        (``report.subtitle: null``) is absent, so ``_quarto.yml``'s value stays.
    """
    if config is None:
        return {}
    report = config.report
    values = {"title": report.title, "author": report.organisation, "subtitle": report.subtitle}
    return {
        key: str(value).strip() for key, value in values.items() if value is not None and str(value).strip()
    }


def apply_report(book: Book, overrides: dict[str, str]) -> Book:
    """``book`` with its title, subtitle and author replaced by ``overrides`` (see :func:`report_overrides`)."""
    if not {"title", "subtitle", "author"} & set(overrides):
        return book
    return dataclasses.replace(
        book,
        title=overrides.get("title", book.title),
        subtitle=overrides.get("subtitle", book.subtitle),
        author=overrides.get("author", book.author),
    )


def quarto_profile_yaml(overrides: dict[str, str]) -> str:
    """The text of the Quarto profile file that sets ``book.title``/``subtitle``/``author``.

    References
    ----------
    .. [1] Quarto, "Project profiles", https://quarto.org/docs/projects/profiles.html
    """
    book = {key: overrides[key] for key in ("title", "subtitle", "author") if key in overrides}
    body = yaml.safe_dump({"book": book}, allow_unicode=True, sort_keys=False, width=1000)
    return f"{PROFILE_MARKER}\n{body}"
