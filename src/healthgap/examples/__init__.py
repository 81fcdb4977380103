"""Example datasets of other shapes, made from the synthetic population, with their configs.

The book must not depend on the shape of the synthetic default. Each example turns a synthetic
population into what another source might send, written as CSV with that source's column
names and codes; a config in ``data/examples/`` maps it onto the contract:

``other_trust``
    Another trust's extract: ``PatientID``, ``M``/``F``, NHS ethnic category letters,
    ``Y``/``N`` flags, deprivation quintiles only, four conditions, no truth, no map
    (:mod:`._other_trust`).
``cohort``
    A heart-study cohort shaped like the Framingham teaching file: ``male`` 0/1, ages 32-70,
    ``education`` 1-4 as the only social dimension, mg/dL, ``NA`` and ``9`` for missing, a
    ten-year outcome and a declared non-cardiovascular condition; no ethnicity, no deprivation,
    no geography (:mod:`._cohort`).
``no_deprivation``
    A GP practice extract: sex 1/2/9, ONS broad ethnic group names, QOF register abbreviations
    coded 1/0, practice codes; no deprivation, no localities (:mod:`._no_deprivation`).

``healthgap example`` (:func:`write_examples`) writes them all into ``data/examples/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from healthgap.errors import HealthgapError
from healthgap.examples._cohort import (
    COHORT_AGES,
    COHORT_COLUMNS,
    COHORT_MISSING,
    COHORT_RATES,
    EDUCATION_ODDS_RATIOS,
    EDUCATION_SHARES,
    MG_PER_MMOL_CHOLESTEROL,
    cohort_frame,
    write_cohort,
)
from healthgap.examples._no_deprivation import (
    ETHNIC_SHARES,
    NO_DEPRIVATION_COLUMNS,
    ONS_GROUP_NAMES,
    no_deprivation_frame,
    write_no_deprivation,
)
from healthgap.examples._other_trust import (
    LETTERS_BY_GROUP,
    OTHER_TRUST_COLUMNS,
    other_trust_frame,
    write_other_trust,
)

__all__ = [
    "KINDS",
    "DEFAULTS",
    "write_example",
    "write_examples",
    "write_other_trust",
    "other_trust_frame",
    "OTHER_TRUST_COLUMNS",
    "LETTERS_BY_GROUP",
    "write_cohort",
    "cohort_frame",
    "COHORT_COLUMNS",
    "COHORT_AGES",
    "COHORT_MISSING",
    "COHORT_RATES",
    "EDUCATION_SHARES",
    "EDUCATION_ODDS_RATIOS",
    "MG_PER_MMOL_CHOLESTEROL",
    "write_no_deprivation",
    "no_deprivation_frame",
    "NO_DEPRIVATION_COLUMNS",
    "ETHNIC_SHARES",
    "ONS_GROUP_NAMES",
]

#: The examples, in the order ``healthgap example`` writes them.
KINDS: tuple[str, ...] = ("other_trust", "cohort", "no_deprivation")
#: Each example's default (people, seed).
DEFAULTS: dict[str, tuple[int, int]] = {
    "other_trust": (20_000, 11),
    "cohort": (5_000, 1948),
    "no_deprivation": (20_000, 21),
}
_WRITERS: dict[str, Callable[..., Path]] = {
    "other_trust": write_other_trust,
    "cohort": write_cohort,
    "no_deprivation": write_no_deprivation,
}
ERR_KIND = "example: unknown kind {kind!r}. Fix: use one of {kinds}, or all."


def write_example(kind: str, out_dir: str | Path, *, n: int | None = None, seed: int | None = None) -> Path:
    """Write one example's CSV (and copy its config) into ``out_dir``.

    Parameters
    ----------
    kind : one of :data:`KINDS`.
    out_dir : folder to write to (created if needed).
    n, seed : people and seed; None takes the example's default (:data:`DEFAULTS`).

    Returns
    -------
    Path
        The CSV file written.

    Raises
    ------
    HealthgapError
        If ``kind`` is not an example.
    """
    if kind not in _WRITERS:
        raise HealthgapError(ERR_KIND.format(kind=kind, kinds=", ".join(KINDS)))
    default_n, default_seed = DEFAULTS[kind]
    return _WRITERS[kind](
        out_dir, n=default_n if n is None else n, seed=default_seed if seed is None else seed
    )


def write_examples(
    out_dir: str | Path, *, kinds: tuple[str, ...] = KINDS, n: int | None = None, seed: int | None = None
) -> list[Path]:
    """Write several examples (all by default) into ``out_dir``; see :func:`write_example`."""
    return [write_example(kind, out_dir, n=n, seed=seed) for kind in kinds]
