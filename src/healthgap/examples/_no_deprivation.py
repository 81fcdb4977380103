"""A fourth example: a GP practice extract with ethnicity but no area deprivation.

Many GP system extracts carry the patient's practice, age, sex (NHS Person Stated Gender
Code: 1 male, 2 female, 9 not specified), ethnic group and the QOF registers, but no
postcode-derived deprivation. This module makes such a file from the synthetic population
(:mod:`healthgap.synth`): ethnic groups written as the ONS 2021 broad group names, QOF register
abbreviations as column names (``HYP``, ``CHD``, ``AF``, ``HF``, ``DM``, ``CKD``) coded 1/0,
three treatments, smoking status in words and emergency CVD admissions; no deprivation, no
small areas, no localities, no true status, no map.

The practices serve a more ethnically diverse population than the synthetic catchment: people
are drawn from a larger synthetic population group by group to the shares of
:data:`ETHNIC_SHARES`. Drawing within each group keeps what the synthetic population builds
in by ethnic group (more diabetes in Asian and Black people, more hypertension in Black
people, less recording of what people truly have in some groups), so those inequalities
show in the book. ``data/examples/no_deprivation.yml`` maps the file onto the contract.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl

from healthgap.errors import HealthgapError
from healthgap.examples._common import ERR_TOO_FEW, copy_config, out_dir_of

__all__ = [
    "no_deprivation_frame",
    "write_no_deprivation",
    "NO_DEPRIVATION_COLUMNS",
    "ETHNIC_SHARES",
    "ONS_GROUP_NAMES",
    "SEX_CODES",
    "SEX_NOT_SPECIFIED",
]

#: Canonical column -> the extract's column name.
NO_DEPRIVATION_COLUMNS: dict[str, str] = {
    "person_id": "PatientRef",
    "age": "Age",
    "sex": "SexCode",
    "ethnicity": "EthnicGroup",
    "gp_practice": "Practice",
    "hypertension": "HYP",
    "chd": "CHD",
    "af": "AF",
    "heart_failure": "HF",
    "diabetes": "DM",
    "ckd": "CKD",
    "smoking": "Smoking",
    "systolic_bp": "SBP",
    "statin": "Statin",
    "antihypertensive": "AntiHypertensive",
    "anticoagulant": "Anticoagulant",
    "cvd_admissions": "EmergencyCVDAdmissions",
}
#: Share of each ethnic group among the practices' patients.
ETHNIC_SHARES: dict[str, float] = {
    "White": 0.62,
    "Asian": 0.17,
    "Black": 0.09,
    "Mixed": 0.05,
    "Other": 0.03,
    "Not stated": 0.04,
}
#: Broad group -> how the extract writes it (ONS 2021 census broad group names).
ONS_GROUP_NAMES: dict[str, str] = {
    "White": "White",
    "Asian": "Asian, Asian British or Asian Welsh",
    "Black": "Black, Black British, Black Welsh, Caribbean or African",
    "Mixed": "Mixed or Multiple ethnic groups",
    "Other": "Other ethnic group",
    "Not stated": "Not stated",
}
#: NHS Person Stated Gender Code.
SEX_CODES: dict[str, int] = {"male": 1, "female": 2}
SEX_NOT_SPECIFIED = 9
#: Share of people whose sex is written as 9 (not specified).
_SEX_UNSPECIFIED_RATE = 0.003
_SMOKING = {"never": "Never", "ex": "Ex-smoker", "current": "Current"}
_FLAGS = (
    "hypertension",
    "chd",
    "af",
    "heart_failure",
    "diabetes",
    "ckd",
    "statin",
    "antihypertensive",
    "anticoagulant",
)
#: Base population per person wanted: the synthetic catchment is ~2% Asian, the extract 17%.
_BASE_FACTOR = 11


def no_deprivation_frame(people: pl.DataFrame, *, n: int, seed: int = 21) -> pl.DataFrame:
    """Draw ``n`` people from ``people`` to the shares of :data:`ETHNIC_SHARES` and write them
    in the extract's layout.

    Parameters
    ----------
    people : canonical person table from :func:`healthgap.synth.generate`.
    n : number of people in the extract.
    seed : seed for the sex codes left unspecified.

    Returns
    -------
    polars.DataFrame
        Columns named as :data:`NO_DEPRIVATION_COLUMNS`: sex 1/2/9, ethnic groups in words,
        flags 1/0; each group's first people in ``people``, in their order.

    Raises
    ------
    HealthgapError
        If ``people`` has too few people of an ethnic group for its share of ``n``.

    References
    ----------
    .. [1] NHS Digital, NHS Data Model and Dictionary: Person Stated Gender Code.
    .. [2] Office for National Statistics, Ethnic group classifications: Census 2021.
    """
    wanted = _group_sizes(n)
    sizes = people.group_by("ethnicity").len()
    found = dict(zip(sizes["ethnicity"].to_list(), sizes["len"].to_list(), strict=True))
    for group, k in wanted.items():
        if found.get(group, 0) < k:
            raise HealthgapError(
                ERR_TOO_FEW.format(
                    name="no_deprivation",
                    base=people.height,
                    found=found.get(group, 0),
                    who=f"in the {group} group",
                    wanted=k,
                )
            )
    quota = pl.col("ethnicity").replace_strict(wanted, default=0, return_dtype=pl.Int64)
    drawn = people.filter(pl.int_range(pl.len()).over("ethnicity") < quota)
    rng = np.random.default_rng(seed)
    unspecified = pl.Series("unspecified", rng.random(drawn.height) < _SEX_UNSPECIFIED_RATE)
    exprs = {
        "person_id": pl.format("GP{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)),
        "age": pl.col("age"),
        "sex": pl.when(pl.col("unspecified"))
        .then(pl.lit(SEX_NOT_SPECIFIED))
        .otherwise(pl.col("sex").replace_strict(SEX_CODES, return_dtype=pl.Int64)),
        "ethnicity": pl.col("ethnicity").replace_strict(ONS_GROUP_NAMES),
        "gp_practice": pl.col("gp_practice"),
        "smoking": pl.col("smoking").replace_strict(_SMOKING, default=None),
        "systolic_bp": pl.col("systolic_bp").round(0).cast(pl.Int64),
        "cvd_admissions": pl.col("cvd_admissions"),
    }
    exprs |= {c: pl.col(c).cast(pl.Int64) for c in _FLAGS}
    return drawn.with_columns(unspecified).select(
        exprs[c].alias(name) for c, name in NO_DEPRIVATION_COLUMNS.items()
    )


def _group_sizes(n: int) -> dict[str, int]:
    """People per ethnic group: the shares of ``n``, rounded, the remainder to the largest group."""
    sizes = {g: math.floor(n * s) for g, s in ETHNIC_SHARES.items()}
    sizes["White"] += n - sum(sizes.values())
    return sizes


def write_no_deprivation(out_dir: str | Path, *, n: int = 20_000, seed: int = 21) -> Path:
    """Write ``no_deprivation.csv`` (and its config ``no_deprivation.yml``) into ``out_dir``.

    Parameters
    ----------
    out_dir : folder to write to (created if needed).
    n : number of people.
    seed : seed for the synthetic population and the recoding.

    Returns
    -------
    Path
        The CSV file written.
    """
    from healthgap import synth

    out = out_dir_of(out_dir)
    people, _truth = synth.generate(min(n * _BASE_FACTOR, synth.MAX_N), seed=seed)
    # The synthetic table is in area order: shuffle it, so each group's first people are a random sample.
    people = people.sample(fraction=1.0, shuffle=True, seed=seed)
    path = out / "no_deprivation.csv"
    no_deprivation_frame(people, n=n, seed=seed).write_csv(path)
    copy_config("no_deprivation", out)
    return path
