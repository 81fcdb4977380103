"""A second, differently shaped dataset: "another trust's" extract.

The book must not depend on the shape of the synthetic default. This module
turns a synthetic population into what a different organisation might send:
a CSV with its own column names (``PatientID``, ``AgeYears``, ``Gender``),
its own codes (``M``/``F``, NHS ethnic category letters A-Z, ``Y``/``N``
flags), deprivation as quintiles only, a few conditions, no truth columns and
no map boundaries. ``data/examples/other_trust.yml`` maps it onto the contract.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from healthgap.examples._common import copy_config, out_dir_of

__all__ = ["write_other_trust", "other_trust_frame", "OTHER_TRUST_COLUMNS", "LETTERS_BY_GROUP"]

#: Canonical column -> the other trust's column name.
OTHER_TRUST_COLUMNS: dict[str, str] = {
    "person_id": "PatientID",
    "age": "AgeYears",
    "sex": "Gender",
    "ethnicity": "EthnicCategory",
    "imd_quintile": "IMDQuintile",
    "gp_practice": "PracticeCode",
    "hypertension": "HTN_Register",
    "chd": "CHD_Register",
    "af": "AF_Register",
    "diabetes": "DM_Register",
    "smoking": "SmokingStatus",
    "systolic_bp": "LatestSBP",
    "statin": "OnStatin",
    "cvd_admissions": "EmergencyCVDAdmissions",
    "cvd_death": "CVDDeath",
}
#: ONS broad group -> NHS ethnic category letters used for it (first is the most common).
LETTERS_BY_GROUP: dict[str, tuple[str, ...]] = {
    "White": ("A", "C", "B"),
    "Mixed": ("G", "D", "E", "F"),
    "Asian": ("H", "J", "L", "K", "R"),
    "Black": ("N", "M", "P"),
    "Other": ("S",),
    "Not stated": ("Z", "99", ""),  # "" is written as an empty field: unrecorded
}
_SMOKING = {"never": "Never smoked", "ex": "Ex-smoker", "current": "Current smoker"}
_FLAGS = ("hypertension", "chd", "af", "diabetes", "statin", "cvd_death")


def other_trust_frame(people: pl.DataFrame, *, seed: int = 11) -> pl.DataFrame:
    """Reshape a canonical population into the other trust's layout.

    Parameters
    ----------
    people : canonical person table (e.g. from ``healthgap.synth.generate``).
    seed : seed for choosing ethnic category letters within a broad group.

    Returns
    -------
    polars.DataFrame
        Columns named as :data:`OTHER_TRUST_COLUMNS`, coded as the trust codes them.

    References
    ----------
    .. [1] NHS Digital, NHS Data Model and Dictionary: Ethnic Category.
    """
    rng = np.random.default_rng(seed)
    # A uniform draw per person picks the letter within the group (earlier letters more often).
    u = pl.Series("u", rng.random(people.height))
    letter = pl.lit(None, dtype=pl.String)
    for group, letters in LETTERS_BY_GROUP.items():
        weights = np.array([2.0**-i for i in range(len(letters))])
        cuts = np.cumsum(weights / weights.sum())
        choice = pl.lit(letters[-1])
        for cut, code in reversed(list(zip(cuts[:-1], letters[:-1], strict=True))):
            choice = pl.when(pl.col("u") < cut).then(pl.lit(code)).otherwise(choice)
        letter = pl.when(pl.col("ethnicity") == group).then(choice).otherwise(letter)
    frame = people.with_columns(u)
    if "imd_quintile" not in frame.columns:
        frame = frame.with_columns(((pl.col("imd_decile") + 1) // 2).alias("imd_quintile"))
    exprs = {
        "person_id": pl.format("P{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(7)),
        "age": pl.col("age"),
        "sex": pl.col("sex").replace_strict({"female": "F", "male": "M"}, default=None),
        "ethnicity": letter,
        "imd_quintile": pl.col("imd_quintile"),
        "gp_practice": pl.col("gp_practice"),
        "smoking": pl.col("smoking").replace_strict(_SMOKING, default=None),
        "systolic_bp": pl.col("systolic_bp").round(0).cast(pl.Int64),
        "cvd_admissions": pl.col("cvd_admissions"),
    }
    exprs |= {
        c: pl.when(pl.col(c)).then(pl.lit("Y")).when(pl.col(c).not_()).then(pl.lit("N")) for c in _FLAGS
    }
    return frame.select(exprs[c].alias(name) for c, name in OTHER_TRUST_COLUMNS.items())


def write_other_trust(out_dir: str | Path, *, n: int = 20_000, seed: int = 11) -> Path:
    """Write ``other_trust.csv`` (and its config ``other_trust.yml``) into ``out_dir``.

    Parameters
    ----------
    out_dir : folder to write to (created if needed).
    n : number of people.
    seed : seed for the synthetic population and the recoding.

    Returns
    -------
    Path
        The CSV file written.

    References
    ----------
    .. [1] NHS Digital, NHS Data Model and Dictionary: Person Stated Gender Code, Ethnic Category.
    """
    from healthgap import synth

    out = out_dir_of(out_dir)
    people, _truth = synth.generate(n, seed=seed)
    path = out / "other_trust.csv"
    other_trust_frame(people, seed=seed).write_csv(path)
    copy_config("other_trust", out)
    return path
