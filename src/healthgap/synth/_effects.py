"""Every injected inequality as one machine-readable list: ``truth["effects"]``.

Each entry says what was built in (the generator's parameters), between which groups, and the
population quantity a book on the data should estimate, defined precisely enough to recompute:
who is counted (``denominator``, SQL over the person table), what is counted (``numerator``),
how a group's value is formed (``statistic``: a crude share or mean, an ESP2013 directly
age-standardised rate, or observed over expected), and how two groups compare (``scale``).

Two numbers per entry:

- ``true_value``: the quantity computed from the realised population (the columns as generated).
  A book analysing this population with the same definition finds it as its point estimate,
  apart from disclosure rounding.
- ``expected_value``: the same quantity with the entry's last random step replaced by its
  probability or mean (the rest of the population as realised): the inequality as built, free
  of this population's chance variation. A book's confidence interval should contain it.

The schema is documented in ``docs/DEVELOPING.md`` ("The synthetic population's truth").
Everything is computed in one pass over the people (a group-by on age band, deprivation
quintile, ethnic group and locality), then per entry on those cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, partial

import numpy as np
import polars as pl
from scipy.special import gammainc

from healthgap.contract import CONDITIONS, CONTRACT, ETHNICITY_CODES
from healthgap.synth import _params as P
from healthgap.synth._care import (
    added_log_rate,
    eligibility,
    first_outpatient_mean,
    log_rate,
    missed_mean,
    referral_log_odds,
    treatment_probability,
)
from healthgap.synth._experience import (
    cancellation_mean,
    good_experience_probability,
    response_probability,
    treatment_gap_mean,
)
from healthgap.synth._people import (
    condition_probability,
    detection_probability,
    logistic,
    smoking_probabilities,
)

__all__ = [
    "Effect",
    "effect_specs",
    "KINDS",
    "STATISTICS",
    "SCALES",
    "AGE_BAND_LABELS",
    "effects",
    "expectations",
    "referral_expected_sql",
    "NO_GRADIENT_MARGIN",
    "rtt_within_probability",
]

#: What an effect acts on (the ``kind`` of an entry).
KINDS: tuple[str, ...] = (
    "prevalence",
    "detection",
    "treatment",
    "referral",
    "wait",
    "experience",
    "outcome",
    "risk factor",
)
#: How a group's value is formed from its people (the ``statistic`` of an entry).
STATISTICS: tuple[str, ...] = ("crude", "dsr", "observed/expected")
#: How the group compares with the reference (the ``scale`` of an entry).
SCALES: tuple[str, ...] = ("ratio", "difference")
#: ESP2013 five-year age bands, as the book labels them.
AGE_BAND_LABELS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 90, 5)), "90+")

_Q = "imd_quintile"
_ETH_DIM = "ethnicity"
_LOC = "locality"
_AGE = "age"
_AGE_GROUPS = ("under 40", "40 and over")
_EVERYONE = "age >= 0"
_LOCALITIES: tuple[str, ...] = tuple(loc["name"] for loc in P.LOCALITIES)
_LEVELS: dict[str, tuple[str, ...]] = {
    _Q: ("1", "2", "3", "4", "5"),
    _ETH_DIM: ETHNICITY_CODES,
    _LOC: _LOCALITIES,
    _AGE: _AGE_GROUPS,
}
#: The cells of the one pass: age band x quintile x recorded ethnic group x locality.
_SHAPE = (len(AGE_BAND_LABELS), 5, len(ETHNICITY_CODES), len(_LOCALITIES))
_DIGITS = 6
#: The margin of "no gradient": a ratio from 1/1.1 to 1.1 (recorded hypertension, whose lower
#: detection in deprived areas cancels the true gradient: the register shows none).
NO_GRADIENT_MARGIN = 1.1
#: What the register does to each condition's true deprivation gradient.
_REGISTER_GRADIENT = {"hypertension": "cancels", "af": "reverses", "ckd": "damps"}
_ERR_KIND = "Effect {id!r}: unknown {what} {value!r}; expected one of {valid}."


@dataclass(frozen=True)
class Effect:
    """One injected inequality and the population quantity that shows it.

    Attributes
    ----------
    id : unique name ("unrecorded_hypertension_black").
    measure : the column the effect shows in (the numerator's measure).
    kind : one of :data:`KINDS`.
    description : the quantity in words.
    injected : what the generator does, in words.
    parameters : truth path ("detection.hypertension.ethnicity_multiplier.Black") -> value.
    dimension : ``imd_quintile``, ``ethnicity``, ``locality`` or ``age`` (under 40 vs 40 and over).
    group, reference : the levels compared (as the book's dimension levels).
    statistic : one of :data:`STATISTICS`.
    numerator, denominator : SQL over the person table (see the module docstring).
    expected : the expectation column of the numerator (internal; see :func:`expectations`).
    scale : one of :data:`SCALES`: group over reference, or group minus reference.
    per : the multiplier of each group's value (100 for per cent).
    max_age : for ``dsr``: standardise over the ESP2013 bands below this age (``None``: all 19).
    expected_count : for ``observed/expected``: SQL of each person's expected count.
    equivalence_margin : for an effect built in as *no difference* (a ratio near 1): the margin
        ``M`` within which a ratio counts as no difference (``1/M`` to ``M``).
    """

    id: str
    measure: str
    kind: str
    description: str
    injected: str
    parameters: Mapping[str, object]
    dimension: str
    group: str
    reference: str
    statistic: str
    numerator: str
    denominator: str
    expected: str
    scale: str
    per: float = 100.0
    max_age: int | None = None
    expected_count: str | None = field(default=None, repr=False)
    equivalence_margin: float | None = None

    def __post_init__(self) -> None:
        for what, value, valid in (
            ("kind", self.kind, KINDS),
            ("statistic", self.statistic, STATISTICS),
            ("scale", self.scale, SCALES),
            ("dimension", self.dimension, (_Q, _ETH_DIM, _LOC, _AGE)),
        ):
            if value not in valid:
                raise ValueError(_ERR_KIND.format(id=self.id, what=what, value=value, valid=", ".join(valid)))


def _named(condition: str) -> str:
    """A condition as a reader names it mid-sentence ("atrial fibrillation", "chronic kidney
    disease (stages 3-5)"), from the contract's label."""
    column = CONTRACT.get(condition)
    label = column.label if column is not None else condition
    return label[:1].lower() + label[1:]


def _level_sql(dimension: str, level: str) -> str:
    if dimension == _Q:
        return f"imd_quintile = {int(level)}"
    if dimension == _AGE:
        return "age < 40" if level == _AGE_GROUPS[0] else "age >= 40"
    return f"{dimension} = '{level}'"


def _comparison(e: Effect) -> str:
    names = {"1": "most deprived fifth (IMD quintile 1)", "5": "least deprived fifth (IMD quintile 5)"}
    if e.dimension == _Q:
        return f"{names.get(e.group, 'IMD quintile ' + e.group)} vs {names.get(e.reference, 'IMD quintile ' + e.reference)}"
    return f"{e.group} vs {e.reference}"


def referral_expected_sql() -> str:
    """SQL of each person's referral probability for their need in the least deprived quintile.

    The referral model of ``truth["access"]["referral"]`` without its deprivation term: the
    expected referrals of an observed/expected ratio "for the same need".
    """
    r = P.ACCESS["referral"]
    terms = [
        repr(float(r["intercept"])),
        f"LN({r['or_per_10_years_over_40']!r}) * GREATEST(age - 40, 0) / 10",
        *(f"LN({ratio!r}) * CAST({name} AS DOUBLE)" for name, ratio in r["odds_ratios"].items()),
    ]
    return f"1 / (1 + EXP(-({' + '.join(terms)})))"


def _q4(ratio: float) -> float:
    """Quintile 1 against quintile 5 of a per-step ratio (four steps)."""
    return round(ratio**4, _DIGITS)


def effect_specs() -> tuple[Effect, ...]:
    """The injected effects, in the order of ``truth["effects"]`` (built from the current parameters)."""
    cm, det, tr, acc, out = P.CONDITION_MODELS, P.DETECTION, P.TREATMENT, P.ACCESS, P.OUTCOMES
    exp, rtt = P.EXPERIENCE, P.ACCESS["days_to_treatment"]
    specs: list[Effect] = []

    def prevalence(c: str, dimension: str, group: str, reference: str) -> Effect:
        ors = cm[c]["odds_ratios"]
        if dimension == _Q:
            params: dict[str, object] = {
                f"conditions.{c}.odds_ratios.imd_quintile_step": ors["imd_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(ors["imd_quintile_step"]),
            }
            words = f"odds of true {c} x {ors['imd_quintile_step']} per quintile step towards deprivation"
        else:
            ratio = ors.get("ethnicity", {}).get(group, 1.0)
            params = {f"conditions.{c}.odds_ratios.ethnicity.{group}": ratio}
            words = f"odds of true {c} x {ratio} for {group} people (true ethnic group)"
        return Effect(
            id=f"true_{c}_prevalence_{'imd' if dimension == _Q else group.lower()}",
            measure=f"true_{c}",
            kind="prevalence",
            description=f"True prevalence of {_named(c)} (recorded or not), % of everyone, age-standardised "
            "(ESP2013, all ages).",
            injected=words + ", for the same age, sex and other risk factors",
            parameters=params,
            dimension=dimension,
            group=group,
            reference=reference,
            statistic="dsr",
            numerator=f"true_{c}",
            denominator=_EVERYONE,
            expected=f"true_{c}",
            scale="ratio",
        )

    specs += [
        prevalence("hypertension", _Q, "1", "5"),
        prevalence("hypertension", _ETH_DIM, "Black", "White"),
        prevalence("af", _Q, "1", "5"),
        prevalence("ckd", _Q, "1", "5"),
        prevalence("diabetes", _ETH_DIM, "Asian", "White"),
    ]
    for c in ("hypertension", "af", "ckd"):
        by_q = det[c]["by_imd_quintile"]
        specs.append(
            Effect(
                id=f"recorded_{c}_prevalence_imd",
                measure=c,
                kind="detection",
                description=f"Recorded prevalence of {_named(c)} (on the GP register), % of everyone, "
                "age-standardised (ESP2013, all ages): the gradient the register shows.",
                injected=f"P(recorded | true {c}) is {by_q[0]} in quintile 1 and {by_q[4]} in quintile 5, "
                f"so the register {_REGISTER_GRADIENT[c]} the true gradient",
                parameters={
                    f"detection.{c}.by_imd_quintile": list(by_q),
                    f"conditions.{c}.odds_ratios.imd_quintile_step": cm[c]["odds_ratios"][
                        "imd_quintile_step"
                    ],
                },
                dimension=_Q,
                group="1",
                reference="5",
                statistic="dsr",
                numerator=c,
                denominator=_EVERYONE,
                expected=f"recorded_{c}",
                scale="ratio",
                equivalence_margin=NO_GRADIENT_MARGIN if c == "hypertension" else None,
            )
        )
    htn = det["hypertension"]
    for dimension, group, reference, params, words in (
        (
            _ETH_DIM,
            "Black",
            "White",
            {"detection.hypertension.ethnicity_multiplier.Black": htn["ethnicity_multiplier"]["Black"]},
            "P(recorded | true hypertension) x 0.85 for people recorded as Black",
        ),
        (
            _ETH_DIM,
            "Not stated",
            "White",
            {
                "detection.hypertension.ethnicity_multiplier.Not stated": htn["ethnicity_multiplier"][
                    "Not stated"
                ]
            },
            "P(recorded | true hypertension) x 0.8 for people whose ethnic group is not stated",
        ),
        (
            _Q,
            "1",
            "5",
            {"detection.hypertension.by_imd_quintile": list(htn["by_imd_quintile"])},
            "P(recorded | true hypertension) rises from 0.56 in quintile 1 to 0.76 in quintile 5",
        ),
    ):
        tag = {"Black": "black", "Not stated": "not_stated", "1": "imd"}[group]
        specs.append(
            Effect(
                id=f"unrecorded_hypertension_{tag}",
                measure="hypertension",
                kind="detection",
                description="Share of people with true hypertension who are not on the register (%, crude).",
                injected=words,
                parameters=params,
                dimension=dimension,
                group=group,
                reference=reference,
                statistic="crude",
                numerator="NOT hypertension",
                denominator="true_hypertension",
                expected="unrecorded_hypertension",
                scale="difference",
            )
        )
    indicators = {
        "statin": "chd OR stroke_tia OR pad OR ((diabetes OR ckd) AND age >= 40)",
        "antihypertensive": "hypertension OR heart_failure",
        "anticoagulant": "af AND (CAST(heart_failure AS INTEGER) + CAST(hypertension AS INTEGER) "
        "+ 2 * CAST(age >= 75 AS INTEGER) + CAST(age >= 65 AND age < 75 AS INTEGER) "
        "+ CAST(diabetes AS INTEGER) + 2 * CAST(stroke_tia AS INTEGER) + CAST(chd OR pad AS INTEGER)) >= 2",
    }
    for t, den in indicators.items():
        by_q = tr[t]["by_imd_quintile"]
        specs.append(
            Effect(
                id=f"{t}_treatment_imd",
                measure=t,
                kind="treatment",
                description=f"Share of people eligible for {'an' if t[0] == 'a' else 'a'} {t} "
                f"(from recorded conditions: {tr[t]['eligible']}) who are prescribed one (%, crude).",
                injected=f"P(treated | eligible) is {by_q[0]} in quintile 1 and {by_q[4]} in quintile 5",
                parameters={f"treatment.{t}.by_imd_quintile": list(by_q)},
                dimension=_Q,
                group="1",
                reference="5",
                statistic="crude",
                numerator=t,
                denominator=den,
                expected=f"treated_{t}",
                scale="difference",
            )
        )
    specs.append(
        Effect(
            id="hypertension_treated_among_true_imd",
            measure="antihypertensive",
            kind="treatment",
            description="Share of everyone with true hypertension (recorded or not) who is prescribed an "
            "antihypertensive (%, crude): under-diagnosis and the treatment gap together.",
            injected="detection of hypertension (0.56 vs 0.76) times treatment of the recorded "
            "(0.76 vs 0.87), quintile 1 vs 5",
            parameters={
                "detection.hypertension.by_imd_quintile": list(htn["by_imd_quintile"]),
                "treatment.antihypertensive.by_imd_quintile": list(tr["antihypertensive"]["by_imd_quintile"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="antihypertensive",
            denominator="true_hypertension",
            expected="treated_true_hypertension",
            scale="difference",
        )
    )
    ref = acc["referral"]
    specs.append(
        Effect(
            id="referral_same_need_imd",
            measure="cardiology_referral",
            kind="referral",
            description="Cardiology referrals observed over expected for the same need (the referral "
            "model's probability for each person's recorded conditions and age in quintile 5, "
            "`expected_count`): referral relative to need.",
            injected=f"odds of referral x {ref['or_per_quintile_step']} per quintile step towards "
            "deprivation for the same need (recorded conditions and age)",
            parameters={
                "access.referral.or_per_quintile_step": ref["or_per_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(ref["or_per_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="observed/expected",
            numerator="CAST(cardiology_referral AS INTEGER)",
            denominator=_EVERYONE,
            expected="referral",
            scale="ratio",
            per=1.0,
            expected_count=referral_expected_sql(),
        )
    )
    first = acc["days_to_first_outpatient"]
    specs.append(
        Effect(
            id="days_to_first_outpatient_imd",
            measure="days_to_first_outpatient",
            kind="wait",
            description="Mean days from referral to first outpatient appointment, among people seen (crude).",
            injected=f"mean wait x {first['rr_per_quintile_step']} per quintile step towards deprivation",
            parameters={
                "access.days_to_first_outpatient.rr_per_quintile_step": first["rr_per_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(first["rr_per_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="days_to_first_outpatient",
            denominator="days_to_first_outpatient IS NOT NULL",
            expected="days_to_first_outpatient",
            scale="ratio",
            per=1.0,
        )
    )
    rtt_params = {
        "access.days_to_treatment.gap_rr_per_quintile_step": rtt["gap_rr_per_quintile_step"],
        "access.days_to_first_outpatient.rr_per_quintile_step": first["rr_per_quintile_step"],
    }
    rtt_words = (
        f"the wait from first appointment to treatment x {rtt['gap_rr_per_quintile_step']} and the wait "
        f"for the first appointment x {first['rr_per_quintile_step']} per quintile step towards deprivation"
    )
    specs += [
        Effect(
            id="rtt_within_18_weeks_imd",
            measure="days_to_treatment",
            kind="wait",
            description=f"Share of people referred and treated whose treatment started within 18 weeks "
            f"({P.EIGHTEEN_WEEKS_DAYS} days) of referral (%, crude).",
            injected=rtt_words,
            parameters=rtt_params,
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator=f"days_to_treatment <= {P.EIGHTEEN_WEEKS_DAYS}",
            denominator="days_to_treatment IS NOT NULL",
            expected="rtt_within_18_weeks",
            scale="difference",
        ),
        Effect(
            id="days_to_treatment_imd",
            measure="days_to_treatment",
            kind="wait",
            description="Mean days from referral to treatment, among people referred and treated (crude).",
            injected=rtt_words,
            parameters=rtt_params,
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="days_to_treatment",
            denominator="days_to_treatment IS NOT NULL",
            expected="days_to_treatment",
            scale="ratio",
            per=1.0,
        ),
    ]
    missed = acc["missed_appointments"]
    specs += [
        Effect(
            id="missed_appointments_under_40",
            measure="missed_appointments",
            kind="wait",
            description="Missed appointments per referred person (crude mean), under 40 vs 40 and over.",
            injected=f"missed-appointment rate x {missed['rr_under_40']} for people under 40",
            parameters={"access.missed_appointments.rr_under_40": missed["rr_under_40"]},
            dimension=_AGE,
            group=_AGE_GROUPS[0],
            reference=_AGE_GROUPS[1],
            statistic="crude",
            numerator="missed_appointments",
            denominator="cardiology_referral",
            expected="missed_appointments",
            scale="ratio",
            per=1.0,
        ),
        Effect(
            id="missed_appointments_imd",
            measure="missed_appointments",
            kind="wait",
            description="Missed appointments per referred person (crude mean).",
            injected=f"missed-appointment rate x {missed['rr_per_quintile_step']} per quintile step towards deprivation",
            parameters={
                "access.missed_appointments.rr_per_quintile_step": missed["rr_per_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(missed["rr_per_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="missed_appointments",
            denominator="cardiology_referral",
            expected="missed_appointments",
            scale="ratio",
            per=1.0,
        ),
    ]
    canc = exp["provider_cancellations"]["rr_by_locality"]
    for loc in canc:
        specs.append(
            Effect(
                id=f"provider_cancellations_{loc.lower().replace(' ', '_')}",
                measure="provider_cancellations",
                kind="experience",
                description="Appointments cancelled by the hospital per referred person (crude mean).",
                injected=f"cancellation rate x {canc[loc]} in {loc} (1 in the other localities)",
                parameters={f"experience.provider_cancellations.rr_by_locality.{loc}": canc[loc]},
                dimension=_LOC,
                group=loc,
                reference="Colchester",
                statistic="crude",
                numerator="provider_cancellations",
                denominator="cardiology_referral",
                expected="provider_cancellations",
                scale="ratio",
                per=1.0,
            )
        )
    gp = exp["gp_experience"]
    good_or = {g: gp["good"]["ethnicity_odds_ratios"].get(g, 1.0) for g in ETHNICITY_CODES}
    specs += [
        Effect(
            id="gp_experience_response_imd",
            measure="gp_experience_good",
            kind="experience",
            description="Share of people aged 16 and over who answered the survey question (%, crude): "
            "who the answers speak for.",
            injected=f"odds of answering x {gp['response']['or_per_quintile_step']} per quintile step towards deprivation",
            parameters={
                "experience.gp_experience.response.or_per_quintile_step": gp["response"][
                    "or_per_quintile_step"
                ],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(gp["response"]["or_per_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="gp_experience_good IS NOT NULL",
            denominator=f"age >= {gp['min_age']}",
            expected="gp_experience_answered",
            scale="difference",
        ),
        *(
            Effect(
                id=f"gp_experience_good_{group.lower()}",
                measure="gp_experience_good",
                kind="experience",
                description="Share of respondents describing their overall experience of the GP practice as good (%, crude).",
                injected=f"odds of a good answer x {good_or[group]} for {group} respondents (recorded ethnic group)",
                parameters={f"experience.gp_experience.good.ethnicity_odds_ratios.{group}": good_or[group]},
                dimension=_ETH_DIM,
                group=group,
                reference="White",
                statistic="crude",
                numerator="gp_experience_good",
                denominator="gp_experience_good IS NOT NULL",
                expected="gp_experience_good",
                scale="difference",
            )
            for group in ("Asian", "Black")
        ),
        Effect(
            id="gp_experience_good_imd",
            measure="gp_experience_good",
            kind="experience",
            description="Share of respondents describing their overall experience of the GP practice as good (%, crude).",
            injected=f"odds of a good answer x {gp['good']['or_per_quintile_step']} per quintile step towards deprivation",
            parameters={
                "experience.gp_experience.good.or_per_quintile_step": gp["good"]["or_per_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(gp["good"]["or_per_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="gp_experience_good",
            denominator="gp_experience_good IS NOT NULL",
            expected="gp_experience_good",
            scale="difference",
        ),
    ]
    adm, death = out["cvd_admissions"]["rate_ratios"], out["cvd_death"]["rate_ratios"]
    eth_adm = out["cvd_admissions"]["ethnicity_rate_ratios"]
    premature_step = out["cvd_death"]["premature_rr_per_quintile_step"]
    for group in ("Asian", "Black"):
        specs.append(
            Effect(
                id=f"cvd_admissions_{group.lower()}",
                measure="cvd_admissions",
                kind="outcome",
                description="Emergency CVD admissions per 1,000 people, age-standardised (ESP2013, all ages).",
                injected=f"admission rate x {eth_adm.get(group, 1.0)} for {group} people (recorded ethnic group) for "
                f"the same true disease and treatment, on top of {group} people's higher odds of true diabetes, "
                "hypertension, CHD and stroke (conditions.*.odds_ratios.ethnicity)",
                parameters={
                    f"outcomes.cvd_admissions.ethnicity_rate_ratios.{group}": eth_adm.get(group, 1.0),
                    **{
                        f"conditions.{c}.odds_ratios.ethnicity.{group}": cm[c]["odds_ratios"][
                            "ethnicity"
                        ].get(group, 1.0)
                        for c in ("diabetes", "hypertension", "chd", "stroke_tia")
                    },
                },
                dimension=_ETH_DIM,
                group=group,
                reference="White",
                statistic="dsr",
                numerator="cvd_admissions",
                denominator=_EVERYONE,
                expected="cvd_admissions",
                scale="ratio",
                per=1000.0,
            )
        )
    specs += [
        Effect(
            id="cvd_admissions_imd",
            measure="cvd_admissions",
            kind="outcome",
            description="Emergency CVD admissions per 1,000 people, age-standardised (ESP2013, all ages).",
            injected=f"admission rate x {adm['imd_quintile_step']} per quintile step towards deprivation for "
            "the same true disease and treatment, plus more disease and less treatment in deprived areas",
            parameters={
                "outcomes.cvd_admissions.rate_ratios.imd_quintile_step": adm["imd_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(adm["imd_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="dsr",
            numerator="cvd_admissions",
            denominator=_EVERYONE,
            expected="cvd_admissions",
            scale="ratio",
            per=1000.0,
        ),
        Effect(
            id="cvd_death_imd",
            measure="cvd_death",
            kind="outcome",
            description="CVD deaths per 1,000 people, age-standardised (ESP2013, all ages).",
            injected=f"death rate x {death['imd_quintile_step']} per quintile step towards deprivation for "
            f"the same true disease and treatment (a further x {premature_step} per step under "
            f"{P.PREMATURE_AGE}), plus more disease and less treatment in deprived areas",
            parameters={
                "outcomes.cvd_death.rate_ratios.imd_quintile_step": death["imd_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(death["imd_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="dsr",
            numerator="cvd_death",
            denominator=_EVERYONE,
            expected="cvd_death",
            scale="ratio",
            per=1000.0,
        ),
        Effect(
            id="premature_cvd_death_imd",
            measure="premature_cvd_death",
            kind="outcome",
            description=f"CVD deaths of people under {P.PREMATURE_AGE} per 1,000 people under "
            f"{P.PREMATURE_AGE}, age-standardised (ESP2013 bands 0-4 to 70-74; OHID's under-75 mortality).",
            injected="derived from cvd_death: death rate x "
            f"{death['imd_quintile_step']} per quintile step at every age and a further x {premature_step} "
            f"per quintile step under {P.PREMATURE_AGE}, for the same disease and treatment, plus more "
            "disease and less treatment in deprived areas",
            parameters={
                "outcomes.cvd_death.rate_ratios.imd_quintile_step": death["imd_quintile_step"],
                "outcomes.cvd_death.premature_rr_per_quintile_step": premature_step,
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(death["imd_quintile_step"] * premature_step),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="dsr",
            numerator="premature_cvd_death",
            denominator=f"age < {P.PREMATURE_AGE}",
            expected="premature_cvd_death",
            scale="ratio",
            per=1_000.0,  # the book's unit for rates of events (Outcomes)
            max_age=P.PREMATURE_AGE,
        ),
    ]
    sm, bmi = P.SMOKING["current"], P.BMI
    specs += [
        Effect(
            id="current_smoking_imd",
            measure="smoking",
            kind="risk factor",
            description="Share of adults (18 and over) who currently smoke (%, crude).",
            injected=f"odds of current smoking (vs never) x {sm['or_per_quintile_step']} per quintile step towards deprivation",
            parameters={
                "risk_factors.smoking.current.or_per_quintile_step": sm["or_per_quintile_step"],
                "quintile 1 vs 5 (per-step ratio ** 4)": _q4(sm["or_per_quintile_step"]),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="smoking = 'current'",
            denominator="age >= 18",
            expected="current_smoking",
            scale="ratio",
        ),
        Effect(
            id="bmi_imd",
            measure="bmi",
            kind="risk factor",
            description="Mean BMI of adults (18 and over), kg/m² (crude).",
            injected=f"adult median BMI + {bmi['per_quintile_step']} kg/m² per quintile step towards deprivation",
            parameters={
                "risk_factors.bmi.per_quintile_step": bmi["per_quintile_step"],
                "quintile 1 vs 5 (4 steps, on the median)": round(4 * bmi["per_quintile_step"], _DIGITS),
            },
            dimension=_Q,
            group="1",
            reference="5",
            statistic="crude",
            numerator="bmi",
            denominator="age >= 18",
            expected="bmi",
            scale="difference",
            per=1.0,
        ),
    ]
    return tuple(specs)


def rtt_within_probability(step: np.ndarray, *, days: int = P.EIGHTEEN_WEEKS_DAYS) -> np.ndarray:
    """P(days_to_treatment <= ``days`` | treated) for each quintile step, exactly.

    The two waits are rounded gammas (the first capped at its maximum, which lies beyond
    ``days``): their probability mass on 0..``days`` is convolved, once per distinct step.
    """
    first = P.ACCESS["days_to_first_outpatient"]
    t = P.ACCESS["days_to_treatment"]
    k = np.arange(days + 1, dtype=np.float64)

    def rounded_gamma(shape: float, mean: float) -> np.ndarray:
        cdf = gammainc(shape, np.concatenate([[0.0], k + 0.5]) * shape / mean)
        return np.diff(cdf)  # P(round(X) = k), k = 0..days

    out = np.empty(len(step), dtype=np.float64)
    for s in np.unique(step):
        a = rounded_gamma(first["shape"], first["mean_q5"] * first["rr_per_quintile_step"] ** s)
        b = (1 - t["at_first_appointment"]) * rounded_gamma(
            t["gap_shape"], t["gap_mean_q5"] * t["gap_rr_per_quintile_step"] ** s
        )
        b[0] += t["at_first_appointment"]
        out[step == s] = np.convolve(a, b)[: days + 1].sum()
    return out


def expectations(
    people: dict[str, np.ndarray],
    true: dict[str, np.ndarray],
    rec: dict[str, np.ndarray],
    treat: dict[str, np.ndarray],
    area_locality: Sequence[str],
    *,
    probabilities: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Callable[[], np.ndarray]]:
    """Each person's expected numerator of every effect, given everything before its last draw.

    ``probabilities`` are the true-condition probabilities :func:`true_conditions` kept (the
    others are recomputed).

    Returns
    -------
    dict
        expectation name (an :class:`Effect`'s ``expected``) -> a function computing the float
        array over people (computed only when used, one at a time, to keep memory low).
    """
    age = people["age"]

    def detect(c: str) -> np.ndarray:
        return detection_probability(c, imd_quintile=people["imd_quintile"], ethnicity=people["eth"])

    def recorded(c: str) -> np.ndarray:
        return true[c] * detect(c)

    def treated_true_hypertension() -> np.ndarray:
        eligible_if_true = 1.0 - (1.0 - detect("hypertension")) * (1.0 - rec["heart_failure"])
        return eligible_if_true * treatment_probability("antihypertensive", people)

    def days_to_treatment() -> np.ndarray:
        at_first = P.ACCESS["days_to_treatment"]["at_first_appointment"]
        return first_outpatient_mean(people) + (1 - at_first) * treatment_gap_mean(people)

    @cache
    def death() -> np.ndarray:
        spec = P.OUTCOMES["cvd_death"]
        return -np.expm1(-np.exp(log_rate(spec, people, true, treat) + added_log_rate(spec, people)))

    @cache
    def eligible() -> dict[str, np.ndarray]:
        return eligibility(people, rec)

    def treated(t: str) -> np.ndarray:
        return eligible()[t] * treatment_probability(t, people)

    def true_probability(c: str) -> np.ndarray:
        kept = (probabilities or {}).get(c)
        return condition_probability(c, people, true) if kept is None else kept

    def current_smoking() -> np.ndarray:
        probs = smoking_probabilities(people)
        return np.where(age >= P.SMOKING["min_age"], probs[:, 2] / probs.sum(axis=1), 0.0)

    out: dict[str, Callable[[], np.ndarray]] = {
        **{f"true_{c}": partial(true_probability, c) for c in CONDITIONS},
        **{f"recorded_{c}": partial(recorded, c) for c in CONDITIONS},
        "unrecorded_hypertension": lambda: 1.0 - detect("hypertension"),
        **{f"treated_{t}": partial(treated, t) for t in ("statin", "antihypertensive", "anticoagulant")},
        "treated_true_hypertension": treated_true_hypertension,
        "referral": lambda: logistic(referral_log_odds(people, rec)),
        "days_to_first_outpatient": partial(first_outpatient_mean, people),
        "rtt_within_18_weeks": lambda: rtt_within_probability(people["step"]),
        "days_to_treatment": days_to_treatment,
        "missed_appointments": partial(missed_mean, people),
        "provider_cancellations": partial(cancellation_mean, area_locality, people["area_idx"]),
        "gp_experience_answered": partial(response_probability, people),
        "gp_experience_good": partial(good_experience_probability, people),
        "cvd_admissions": lambda: np.exp(
            log_rate(P.OUTCOMES["cvd_admissions"], people, true, treat)
            + added_log_rate(P.OUTCOMES["cvd_admissions"], people)
        ),
        "cvd_death": death,
        "premature_cvd_death": lambda: np.where(age < P.PREMATURE_AGE, death(), 0.0),
        "current_smoking": current_smoking,
        "bmi": lambda: people["bmi_median"] * math.exp(P.BMI["log_sd"] ** 2 / 2),
    }
    return out


def _cells(
    frame: pl.DataFrame, expected: Mapping[str, Callable[[], np.ndarray]], specs: tuple[Effect, ...]
) -> dict[str, np.ndarray]:
    """Each effect's sums per cell (age band x quintile x ethnic group x locality).

    Returns
    -------
    dict
        ``"n|<denominator>"`` (people), ``"o|<numerator>|<denominator>"`` (numerator),
        ``"e|<expected>|<denominator>"`` (expected numerator) and, for observed/expected,
        ``"x|<expected_count>|<denominator>"``: arrays of shape :data:`_SHAPE`. A numerator
        missing inside its denominator makes the sums NaN (a mistake in the list, shown as null).
    """
    dens = {e.denominator: pl.sql_expr(e.denominator).fill_null(False) for e in specs}
    sums: dict[str, pl.Expr] = {f"n|{text}": den.cast(pl.Float64) for text, den in dens.items()}
    for e in specs:
        den = dens[e.denominator]
        sums[f"o|{e.numerator}|{e.denominator}"] = (
            pl.when(den).then(pl.sql_expr(e.numerator).cast(pl.Float64)).otherwise(0.0)
        )
        if e.expected_count is not None:
            sums[f"x|{e.expected_count}|{e.denominator}"] = (
                pl.when(den).then(pl.sql_expr(e.expected_count).cast(pl.Float64)).otherwise(0.0)
            )
    _, nq, ne, nl = _SHAPE
    key = (
        ((pl.col("age") // 5).clip(0, 18).cast(pl.Int64) * nq + pl.col("imd_quintile").cast(pl.Int64) - 1)
        * ne
        + pl.col("ethnicity").replace_strict(list(ETHNICITY_CODES), list(range(ne)), return_dtype=pl.Int64)
    ) * nl + pl.col("locality").replace_strict(list(_LOCALITIES), list(range(nl)), return_dtype=pl.Int64)
    lf = frame.lazy()
    size = int(np.prod(_SHAPE))
    grouped = lf.group_by(key.alias("__key")).agg(e.sum().alias(k) for k, e in sums.items()).collect()
    at = grouped.get_column("__key").to_numpy()
    out: dict[str, np.ndarray] = {}
    for name in sums:
        dense = np.zeros(size)
        dense[at] = grouped.get_column(name).to_numpy()
        out[name] = dense.reshape(_SHAPE)
    # The expected numerators: one person-level array at a time, summed with numpy.
    people = lf.select(key.alias("__key"), **{text: den for text, den in dens.items()}).collect()
    cell = people.get_column("__key").to_numpy()
    # each denominator as the rows it keeps (None: everyone)
    rows = {}
    for text in dens:
        mask = people.get_column(text).to_numpy()
        rows[text] = None if mask.all() else np.flatnonzero(mask)
    wanted: dict[str, list[str]] = {}
    for e in specs:
        wanted.setdefault(e.expected, [])
        if e.denominator not in wanted[e.expected]:
            wanted[e.expected].append(e.denominator)
    for name, texts in wanted.items():
        values = expected[name]()
        for text in texts:
            kept = rows[text]
            total = (
                np.bincount(cell, weights=values, minlength=size)
                if kept is None
                else np.bincount(cell[kept], weights=values[kept], minlength=size)
            )
            out[f"e|{name}|{text}"] = total.reshape(_SHAPE)
    return out


def _by_level(cells: np.ndarray, dimension: str) -> np.ndarray:
    """Sums of a cell array by age band and the levels of ``dimension``: shape (19, levels)."""
    if dimension == _Q:
        return cells.sum(axis=(2, 3))
    if dimension == _ETH_DIM:
        return cells.sum(axis=(1, 3))
    if dimension == _LOC:
        return cells.sum(axis=(1, 2))
    by_band = cells.sum(axis=(1, 2, 3))
    under = np.arange(len(by_band)) < 8  # bands 0-4 .. 35-39: under 40
    return np.stack([np.where(under, by_band, 0.0), np.where(under, 0.0, by_band)], axis=1)


def _values(cells: dict[str, np.ndarray], e: Effect) -> dict[str, tuple[float | None, float | None, int]]:
    """level -> (value, expected value, people in the denominator), for levels with people."""
    n = _by_level(cells[f"n|{e.denominator}"], e.dimension)
    o = _by_level(cells[f"o|{e.numerator}|{e.denominator}"], e.dimension)
    x = _by_level(cells[f"e|{e.expected}|{e.denominator}"], e.dimension)
    people = n.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if e.statistic == "dsr":
            bands = slice(None) if e.max_age is None else slice(0, e.max_age // 5)
            w = np.asarray(P.ESP2013_WEIGHTS, dtype=np.float64)[bands, None]
            nb = n[bands]
            # a band without people in the group counts as a zero rate (as the book's dsr_table)
            value = (np.where(nb > 0, o[bands] / nb, 0.0) * w).sum(axis=0) / w.sum()
            expect = (np.where(nb > 0, x[bands] / nb, 0.0) * w).sum(axis=0) / w.sum()
            per = e.per
        elif e.statistic == "observed/expected":
            count = _by_level(cells[f"x|{e.expected_count}|{e.denominator}"], e.dimension).sum(axis=0)
            value, expect, per = o.sum(axis=0) / count, x.sum(axis=0) / count, 1.0
        else:
            value, expect, per = o.sum(axis=0) / people, x.sum(axis=0) / people, e.per
    return {
        str(level): (_round(value[j] * per), _round(expect[j] * per), int(people[j]))
        for j, level in enumerate(_LEVELS[e.dimension])
        if people[j] > 0
    }


def _round(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), _DIGITS)


def _contrast(scale: str, group: float | None, reference: float | None) -> float | None:
    if group is None or reference is None:
        return None
    if scale == "difference":
        return _round(group - reference)
    return _round(group / reference) if reference else None


def effects(frame: pl.DataFrame, expected: Mapping[str, Callable[[], np.ndarray]]) -> list[dict]:
    """``truth["effects"]``: every injected effect with its true and expected values.

    Parameters
    ----------
    frame : the generated person table (canonical columns).
    expected : :func:`expectations` of the same people, in the same order.
    """
    specs = effect_specs()
    cells = _cells(frame, expected, specs)
    out = []
    for e in specs:
        values = _values(cells, e)
        g = values.get(e.group, (None, None, 0))
        r = values.get(e.reference, (None, None, 0))
        entry: dict[str, object] = {
            "id": e.id,
            "measure": e.measure,
            "kind": e.kind,
            "description": e.description,
            "injected": e.injected,
            "parameters": dict(e.parameters),
            "dimension": e.dimension,
            "group": e.group,
            "reference": e.reference,
            "comparison": _comparison(e),
            "group_sql": _level_sql(e.dimension, e.group),
            "reference_sql": _level_sql(e.dimension, e.reference),
            "statistic": e.statistic,
            "numerator": e.numerator,
            "denominator": e.denominator,
        }
        if e.expected_count is not None:
            entry["expected_count"] = e.expected_count
        if e.equivalence_margin is not None:
            entry["equivalence_margin"] = e.equivalence_margin
        if e.statistic == "dsr":
            bands = AGE_BAND_LABELS if e.max_age is None else AGE_BAND_LABELS[: e.max_age // 5]
            entry["age_bands"] = list(bands)
        entry |= {
            "per": e.per if e.statistic != "observed/expected" else 1.0,
            "scale": e.scale,
            "true_value": _contrast(e.scale, g[0], r[0]),
            "group_value": g[0],
            "reference_value": r[0],
            "expected_value": _contrast(e.scale, g[1], r[1]),
            "expected_group_value": g[1],
            "expected_reference_value": r[1],
            "people": {"group": g[2], "reference": r[2]},
            "levels": {lv: {"value": v, "expected": x, "people": m} for lv, (v, x, m) in values.items()},
        }
        out.append(entry)
    return out


def effect_conditions() -> tuple[str, ...]:
    """The conditions whose true prevalence an effect compares (their probabilities are kept)."""
    return tuple(
        dict.fromkeys(e.measure.removeprefix("true_") for e in effect_specs() if e.kind == "prevalence")
    )
