"""A synthetic population with known truth, for running and testing the book.

Everything here is **synthetic**: 549 invented small areas ("E01SYN001"...) in
seven localities modelled on the ESNEFT catchment (Suffolk and north-east
Essex), 100 invented practices ("SYNP001"...) and invented people
("SYN0000001"...). The people carry both their *true* disease status
(``true_<condition>``) and what the GP register *records*, with detection,
treatment, access, experience and outcomes depending on deprivation, ethnicity,
age and locality by amounts stated exactly in the truth dict, so every analysis in
the book can be checked against the answer it should find: ``truth["effects"]``
lists every injected inequality with the population quantity that shows it
(see ``docs/DEVELOPING.md``, "The synthetic population's truth").

Parameters and their public sources are in :mod:`healthgap.synth._params`.
"""

from __future__ import annotations

from healthgap.synth._generate import MAX_N, generate, realised_summary, truth_parameters
from healthgap.synth._geography import areas
from healthgap.synth._people import detection_probability
from healthgap.synth._write import FILES, geojson, write

__all__ = [
    "generate",
    "write",
    "areas",
    "geojson",
    "truth_parameters",
    "realised_summary",
    "detection_probability",
    "FILES",
    "MAX_N",
]
