"""The dataset vocabulary: how real datasets spell the contract's columns and codes.

Known synonyms of column names, the spellings of true/false, NHS ethnic category
letters, and guessers that map a source column name or code onto the contract
(:func:`guess_columns`, :func:`guess_codes`). Used by loading (:mod:`healthgap.data`:
true/false tokens, examples in error messages), by the config parser (a canonical name
suggested for a source-style one) and by ``healthgap init`` (:mod:`healthgap.scaffold`).
A leaf: it imports nothing from healthgap but the contract.
"""

from __future__ import annotations

import difflib
import re

from healthgap.contract import CONDITION_LABELS, CONTRACT

__all__ = [
    "BOOLEAN_TOKENS",
    "MISSING_TOKENS",
    "SYNONYMS",
    "NHS_ETHNIC_CATEGORY",
    "NHS_ETHNIC_NAMES",
    "guess_columns",
    "guess_codes",
    "level_indicator",
    "outcome_within",
    "is_death",
    "is_education",
    "is_race",
    "is_glucose",
    "MG_PER_DL",
]

#: Spellings understood as true/false in any true/false column (case-insensitive).
BOOLEAN_TOKENS: dict[str, bool] = {
    **dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0", "0.0"), False),
}

#: Spellings of a missing value in numeric and true/false columns (case-insensitive): R's NA,
#: SAS's ".", and the usual words. Text and category columns keep them as written.
MISSING_TOKENS: frozenset[str] = frozenset(("na", "n/a", "nan", "null", "none", "."))

#: Other names a canonical column often goes by (compared lower-case, without punctuation).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "person_id": (
        "patientid",
        "personid",
        "pseudoid",
        "pseudonhsnumber",
        "nhsnumber",
        "id",
        "patient",
        "pid",
        "participant",
        "participantid",
        "subject",
        "subjectid",
        "seqn",
        "respondentid",
    ),
    "age": ("ageyears", "ageinyears", "ageatstart", "patientage", "ageyrs"),
    "sex": ("gender", "sexcode", "gendercode", "personstatedgendercode"),
    "ethnicity": ("ethniccategory", "ethnicgroup", "ethnic", "ethnicitycode", "ethniccategorycode"),
    "imd_decile": ("imddecile", "deprivationdecile", "imd2019decile", "imddec"),
    "imd_quintile": ("imdquintile", "deprivationquintile", "imd2019quintile", "imdquin"),
    "lsoa": ("lsoacode", "lsoa11", "lsoa21", "lsoa2011", "lsoa2021", "lsoa11cd", "lsoa21cd"),
    "locality": ("place", "area", "localityname", "neighbourhood"),
    "gp_practice": ("practicecode", "practice", "gpcode", "gppracticecode", "registeredpractice", "odscode"),
    "hypertension": ("htn", "hyp", "hypertensive", "hbp", "highbloodpressure"),
    "chd": ("coronaryheartdisease", "ihd", "ischaemicheartdisease"),
    "af": ("atrialfibrillation", "afib"),
    "heart_failure": ("hf", "heartfailure", "chf"),
    "stroke_tia": ("stroke", "stroketia", "cva"),
    "pad": ("peripheralarterialdisease", "peripheralvasculardisease", "pvd"),
    "diabetes": ("dm", "diabetesmellitus", "diabetic"),
    "ckd": ("chronickidneydisease", "ckd35"),
    "smoking": ("smokingstatus", "smoker", "smokes"),
    "bmi": ("bodymassindex",),
    "systolic_bp": ("sbp", "systolic", "systolicbloodpressure", "bpsystolic", "sysbp"),
    "cholesterol": ("chol", "totalcholesterol", "tc", "totchol", "serumcholesterol"),
    "statin": ("onstatin", "statins", "statinprescribed"),
    "antihypertensive": ("onantihypertensive", "antihypertensives", "bpmeds", "bpmed", "hbpmed"),
    "anticoagulant": ("onanticoagulant", "anticoagulants", "doac", "oac"),
    "cardiology_referral": ("cardiologyreferral", "referredcardiology", "referral"),
    "days_to_first_outpatient": ("daystofirstoutpatient", "waitdays", "daystoopa", "waitingdays"),
    "missed_appointments": ("dna", "dnas", "missedappointments", "didnotattend"),
    "cvd_admissions": ("emergencycvdadmissions", "cvdadmissions", "admissions", "cvdemergencyadmissions"),
    "cvd_death": ("cvddeath", "cvddied", "diedcvd", "cvdmortality"),
}

#: NHS Data Dictionary ethnic category codes (2001 census basis) -> ONS 2021 broad group.
#: Chinese (R) belongs to the Asian group in the 2021 classification.
NHS_ETHNIC_CATEGORY: dict[str, str] = {
    "A": "White",
    "B": "White",
    "C": "White",
    "D": "Mixed",
    "E": "Mixed",
    "F": "Mixed",
    "G": "Mixed",
    "H": "Asian",
    "J": "Asian",
    "K": "Asian",
    "L": "Asian",
    "R": "Asian",
    "M": "Black",
    "N": "Black",
    "P": "Black",
    "S": "Other",
    "Z": "Not stated",
    "99": "Not stated",
}
_ETHNIC_WORDS = (  # checked in order; the first match wins
    (("not stated", "not known", "unknown", "refused", "declined", "not recorded"), "Not stated"),
    (("mixed", "white and", "multiple"), "Mixed"),
    (("asian", "indian", "pakistani", "bangladeshi", "chinese"), "Asian"),
    (("black", "caribbean", "african"), "Black"),
    (("white", "british", "irish", "gypsy", "traveller", "roma"), "White"),
    (("other", "arab", "any other"), "Other"),
)
_SEX_CODES = {
    "m": "male",
    "male": "male",
    "man": "male",
    "1": "male",
    "f": "female",
    "female": "female",
    "woman": "female",
    "2": "female",
    "u": None,
    "unknown": None,
    "i": None,
    "x": None,
    "9": None,
    "0": None,
    "not known": None,
}
_SMOKING_WORDS = (
    (("never", "non", "no"), "never"),
    (("ex", "former", "stopped", "quit"), "ex"),
    (("current", "smoker", "yes", "y"), "current"),
)


#: Words around a name that say nothing about which column it is (``HTN_Register``, ``LatestSBP``).
_AFFIXES = (
    "prevalent",
    "register",
    "reg",
    "flag",
    "indicator",
    "ind",
    "yn",
    "qof",
    "latest",
    "last",
    "recent",
    "recorded",
    "current",
    "value",
    "code",
    "status",
    "on",
    "has",
    "is",
)
#: NHS Data Dictionary ethnic category codes -> their names (for comments in a starter config).
NHS_ETHNIC_NAMES: dict[str, str] = {
    "A": "British",
    "B": "Irish",
    "C": "Any other White background",
    "D": "White and Black Caribbean",
    "E": "White and Black African",
    "F": "White and Asian",
    "G": "Any other mixed background",
    "H": "Indian",
    "J": "Pakistani",
    "K": "Bangladeshi",
    "L": "Any other Asian background",
    "M": "Caribbean",
    "N": "African",
    "P": "Any other Black background",
    "R": "Chinese",
    "S": "Any other ethnic group",
    "Z": "Not stated",
    "99": "Not known",
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _variants(name: str) -> list[str]:
    """The normalised name, then the same with uninformative prefixes/suffixes removed."""
    n = _norm(name)
    out = [n]
    for affix in _AFFIXES:
        for cut in (n.removeprefix(affix), n.removesuffix(affix)):
            if cut != n and len(cut) >= 2:
                out.append(cut)
    return out


def guess_columns(names: list[str], *, fuzzy: bool = True) -> dict[str, str]:
    """Map canonical names to the source columns they most likely are.

    Exact (normalised) names and known synonyms win; otherwise (unless ``fuzzy`` is
    false) a close fuzzy match (difflib ratio >= 0.85) is taken. Each column is used once.

    References
    ----------
    .. [1] Ratcliff, J. W. and Metzener, D. E. (1988), Pattern matching: the Gestalt approach,
       Dr. Dobb's Journal (the algorithm behind :mod:`difflib`).
    """
    wanted = {c: {_norm(c), *SYNONYMS.get(c, ())} for c in CONTRACT}
    found: dict[str, str] = {}
    used: set[str] = set()
    for exact in (True, False) if fuzzy else (True,):
        for canon, keys in wanted.items():
            if canon in found:
                continue
            for name in names:
                if name in used:
                    continue
                forms = _variants(name) if exact else [_norm(name)]
                if (exact and any(f in keys for f in forms)) or (
                    not exact and difflib.get_close_matches(forms[0], keys, n=1, cutoff=0.85)
                ):
                    found[canon] = name
                    used.add(name)
                    break
    return found


def _word_match(value: str, table: tuple) -> str | None:
    v = value.lower().strip()
    for words, target in table:
        if any(v == w or v.startswith((w + " ", w + "-")) or (len(w) > 3 and w in v) for w in words):
            return target
    return None


def guess_codes(canon: str, values: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Guess ``{source code: canonical code}`` for one column; also return codes left unguessed.

    Values already canonical (any letter case) need no entry and are skipped.

    References
    ----------
    .. [1] NHS Digital, NHS Data Model and Dictionary: Ethnic Category (codes A-Z).
    .. [2] Office for National Statistics (2021), Ethnic group classifications.
    """
    col = CONTRACT[canon]
    mapping: dict[str, str | None] = {}
    unknown: list[str] = []
    if col.kind == "boolean":
        return {}, [v for v in values if v.lower().strip() not in BOOLEAN_TOKENS]
    lower = {c.lower(): c for c in col.codes}
    for value in values:
        key = value.strip()
        if key.lower() in lower:
            continue
        if canon == "sex":
            guess = _SEX_CODES.get(key.lower(), "?")
        elif canon == "ethnicity":
            guess = NHS_ETHNIC_CATEGORY.get(key.upper()) or _word_match(key, _ETHNIC_WORDS) or "?"
        elif canon == "smoking":
            guess = _word_match(key, _SMOKING_WORDS) or "?"
        else:
            guess = "?"
        if guess == "?":
            unknown.append(value)
        else:
            mapping[value] = guess
    return mapping, unknown


#: 0/1 columns named for one level: name -> (canonical column, code of 1, code of 0).
_LEVEL_COLUMNS: dict[str, tuple[str, str, str]] = {
    **dict.fromkeys(("male", "ismale", "sexmale", "gendermale"), ("sex", "male", "female")),
    **dict.fromkeys(("female", "isfemale", "sexfemale", "genderfemale"), ("sex", "female", "male")),
}
_NUMBERS = {"one": 1, "two": 2, "three": 3, "five": 5, "ten": 10}
_WORDS = {v: k for k, v in _NUMBERS.items()}
_YEARS = r"(?P<n>one|two|three|five|ten|1|2|3|5|10)(?:year|yr|y)s?"
_WITHIN = (
    re.compile(rf"^{_YEARS}(?P<stem>[a-z][a-z0-9]*)$"),
    re.compile(rf"^(?P<stem>[a-z][a-z0-9]*?){_YEARS}$"),
)
_DEATH = {
    "death",
    "died",
    "dead",
    "deceased",
    "mortality",
    "dth",
    "allcausedeath",
    "allcausemortality",
    "anydeath",
}
_RACE = {"race", "racegroup", "raceethnicity"}
_GLUCOSE = {"glucose", "glu", "bloodglucose", "fastingglucose", "fpg", "glucoselevel"}
#: Measures often recorded in mg/dL: name -> (mg/dL per mmol/L, median above which the
#: values are surely mg/dL: no living person's median is that high in mmol/L).
MG_PER_DL: dict[str, tuple[float, float]] = {"cholesterol": (38.67, 20.0), "glucose": (18.016, 30.0)}


def level_indicator(name: str) -> tuple[str, str, str] | None:
    """A 0/1 column named for one level: ``male`` -> ``("sex", "male", "female")`` (the canonical
    column, the code 1 means, the code 0 means), or None."""
    return _LEVEL_COLUMNS.get(_norm(name))


def outcome_within(name: str) -> tuple[str, str, str] | None:
    """An outcome over a follow-up named like ``TenYearCHD`` or ``CHD10yr``.

    Returns
    -------
    tuple or None
        (measure name, label, period): ``("chd_10y", "Coronary heart disease within ten years",
        "within ten years")``; the label is the stem itself when it names no known condition.
    """
    n = _norm(name)
    match = next((m for m in (p.match(n) for p in _WITHIN) if m), None)
    if match is None:
        return None
    years = _NUMBERS.get(match["n"]) or int(match["n"])
    stem = match["stem"]
    canon = next((c for c in guess_columns([stem]) if c in CONDITION_LABELS), None)
    word = _WORDS.get(years, str(years))
    period = f"within {word} year{'s' if years != 1 else ''}"
    label = f"{CONDITION_LABELS[canon] if canon else stem.upper()} {period}"
    return f"{canon or stem}_{years}y", label, period


def is_death(name: str) -> bool:
    """Whether a column name says death from any cause (``death``, ``died``, ``mortality``)."""
    return _norm(name) in _DEATH


def is_education(name: str) -> bool:
    """Whether a column name says education (``educ``, ``education``, ``school``)."""
    n = _norm(name)
    return n.startswith("educ") or n in ("school", "schooling", "edlevel", "edu")


def is_race(name: str) -> bool:
    """Whether a column name says race (an ethnicity-like grouping)."""
    return _norm(name) in _RACE


def is_glucose(name: str) -> bool:
    """Whether a column name says blood glucose."""
    return _norm(name) in _GLUCOSE
