"""Imports from sibling modules that are still settling."""

from __future__ import annotations

try:
    from healthgap.stats import age_bands
except ImportError:  # pragma: no cover - stats package without its __init__ yet
    from healthgap.stats.ageband import age_bands

__all__ = ["age_bands"]
