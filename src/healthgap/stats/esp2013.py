"""The 2013 European Standard Population (ESP2013) in 19 five-year age bands.

References
----------
.. [1] Eurostat. Revision of the European Standard Population: report of Eurostat's
   task force. Luxembourg: Publications Office of the European Union; 2013.
"""

from __future__ import annotations

import polars as pl

__all__ = ["ESP2013", "AGE_BAND_LABELS", "AGE_BAND", "ESP2013_WEIGHTS"]

#: ESP2013 band labels in age order: "0-4", "5-9", ..., "85-89", "90+".
AGE_BAND_LABELS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 90, 5)), "90+")

#: The standard population of each band (sums to 100,000).
ESP2013_WEIGHTS: tuple[int, ...] = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip

#: Ordered polars dtype of age-band labels.
AGE_BAND = pl.Enum(list(AGE_BAND_LABELS))

#: ESP2013 as a DataFrame with ``age_band`` (Enum, in age order) and ``standard_population``.
ESP2013 = pl.DataFrame(
    {"age_band": list(AGE_BAND_LABELS), "standard_population": list(ESP2013_WEIGHTS)},
    schema={"age_band": AGE_BAND, "standard_population": pl.Int64},
)
