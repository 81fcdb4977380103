"""The banners every page shows: synthetic data, and disclosure control switched off."""

from __future__ import annotations

import html

from healthgap.config import Config

__all__ = ["synthetic_banner", "disclosure_banner"]


def synthetic_banner(*, known_answer: bool = True) -> str:
    """HTML of the prominent banner shown on every page built from synthetic data.

    ``known_answer``: whether the dataset comes with its true parameters (``data.truth``),
    so that the book's results can be checked against them.
    """
    check = (
        " The inequalities in it were built in on purpose so that the methods can be checked "
        "against a known answer."
        if known_answer
        else ""
    )
    return (
        '<div class="hg-banner hg-banner-synthetic callout callout-warning" role="note" '
        'aria-label="Synthetic data">'
        "<p><strong>Synthetic data.</strong> Every number on this page comes from a "
        f"computer-generated population, not from real patients.{check} "
        "Do not use these figures to make decisions about services.</p></div>"
    )


def disclosure_banner(config: Config) -> str:
    """HTML of the notice shown on every page when disclosure control is switched off."""
    try:
        from healthgap.disclosure import disclosure_notice

        text = disclosure_notice(config.disclosure)
    except ImportError:  # pragma: no cover - disclosure module always present in a release
        text = None
    if not text:
        reason = config.disclosure.reason or "no reason was given"
        text = (
            "Disclosure control is switched off: small numbers are not suppressed or rounded. "
            f"Reason given: {reason}. Do not publish this report outside the organisation."
        )
    return (
        '<div class="hg-banner hg-banner-disclosure callout callout-important" role="note" '
        f'aria-label="Disclosure control off"><p><strong>Not for publication.</strong> '
        f"{html.escape(text)}</p></div>"
    )
