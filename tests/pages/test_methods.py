"""The methods appendix: the sentences that depend on the dataset and the disclosure settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from healthgap.pages.methods import LOCALITIES, MethodsPage, localities_text, nested_text
from tests.conftest import build_people
from tests.pages.conftest import html_of


def test_localities_and_nested_areas_follow_the_data(page_of):
    page = page_of(MethodsPage, build_people(200))
    caps = page.caps
    assert localities_text(caps) == LOCALITIES and html_of(page.localities()) == LOCALITIES
    assert html_of(page.rate_ratios()).endswith(LOCALITIES)
    assert "@sec-geography-localities" in LOCALITIES
    assert page.nested == "Small areas are protected within each locality, whose totals are published."
    practices = replace(caps, area_column="gp_practice")
    assert (
        nested_text(practices)
        == "GP practices are protected within each locality, whose totals are published."
    )
    assert nested_text(replace(caps, area_column="locality")) == ""
    assert page.exact_counts.endswith(
        "the expected numbers of the funnel plots (and every other observed / expected ratio) use reference "
        "rates whose events are randomly rounded to 5 in each age band and sex, so that they do not add up to "
        "an exact total."
    )
    assert nested_text(replace(caps, area_column=None)) == ""
    no_locality = replace(caps, columns=caps.columns - {"locality"}, dimensions=caps.dimensions[:-1])
    assert localities_text(no_locality) == "" and nested_text(no_locality) == ""


def test_disclosure_rules_as_configured(page_of):
    page = page_of(MethodsPage, build_people(60), disclosure={"suppress_below": 11, "rounding": 10})
    assert (page.largest_suppressed, page.rounding) == (10, 10)
    assert page.status == "Disclosure control is switched on for this report."
    off = page_of(MethodsPage, build_people(60), disclosure={"enabled": False, "reason": "synthetic data"})
    assert off.status == (
        "Disclosure control is switched OFF for this report: synthetic data. It must not be published."
    )


def test_the_groups_and_bands_of_the_dataset(page_of):
    page = page_of(MethodsPage, build_people(400))
    text = html_of(page.populations())
    assert text.startswith(
        "The unit of analysis is one person registered with a GP practice, followed for one"
    )
    assert "**Deprivation** is the Index of Multiple Deprivation 2019" in text
    assert '**Ethnic group** uses the five broad 2021 Census groups plus "Not stated".' in text
    assert page.bands_text == "the 19 age bands"
    assert page.proportion_example == "such as the share of eligible people prescribed a statin"
    assert page.data_heading == "Synthetic data"
    adults = (
        build_people(400)
        .filter(pl.col("age").is_between(30, 74))
        .drop("imd_decile", "ethnicity", "gp_practice", "lsoa", "locality")
    )
    adults = adults.with_columns(((pl.col("age") // 10) % 4 + 1).cast(pl.String).alias("education"))
    own = page_of(
        MethodsPage,
        adults,
        report={"period": None},
        equity={
            "dimensions": [
                {
                    "name": "education",
                    "label": "Education level",
                    "order": ["1", "2", "3", "4"],
                    "reference": "4",
                    "ordered": True,
                    "disadvantaged": "first",
                    "labels": {"1": "None", "4": "Degree"},
                },
                "sex",
                "age_band",
            ]
        },
    )
    text = html_of(own.populations())
    assert text.startswith("The unit of analysis is one person. Everyone in the data counts")
    assert (
        "**Education level** has 4 levels: None, 2, 3 and Degree, the first the most disadvantaged." in text
    )
    assert "Deprivation" not in text and "Ethnic" not in text
    assert own.bands_text.startswith("the 9 age bands the data cover (30-34 to 70-74;")
    gradient = html_of(own.gradient())
    assert "(the 4 education levels)" in gradient and "deprived" not in gradient and "fifth" not in gradient
    assert "across all the levels of an ordered dimension" in own.summaries
    assert "hg-skip" in html_of(own.funnel()) and "GP practice column" in html_of(own.funnel())
    assert "practice" not in own.exact_counts
    assert own.nested == "Groups that add up to a published total are protected together with it."


def test_sections_the_dataset_has_nothing_for_are_one_skip_note(page_of):
    bare = page_of(
        MethodsPage,
        build_people(300).select("person_id", "age"),
        target=False,
        equity={"dimensions": ["age_band"]},
    )
    assert "hg-skip" in html_of(bare.gradient()) and "deprivation fifths" in html_of(bare.gradient())
    assert bare.localities() is None
    assert "Two groups that are not the reference" not in html_of(bare.rate_ratios())
    for text in (
        bare.proportion_example,
        bare.bands_text,
        bare.exact_counts,
        bare.summaries,
        bare.nested,
        bare.status,
        bare.data_heading,
    ):
        assert text.strip()


def test_where_the_data_come_from(page_of):
    page = page_of(MethodsPage, build_people(100))
    assert html_of(page.data()).startswith("The data are synthetic: computer-generated people shaped like")
    page.config = replace(page.config, data=replace(page.config.data, truth=Path("truth.json")))
    assert "`truth.json`" in html_of(page.data())
    real = page_of(MethodsPage, build_people(100), data={"synthetic": False})
    assert real.data_heading == "The data"
    assert html_of(real.data()).startswith("The data are `people.parquet`, read as the config file describes")


def test_inline_values_are_never_empty(page_of):
    """Every value the chapter shows inline is a phrase or sentence, whatever the data lack
    (Quarto prints an empty inline value as code)."""
    full = build_people(400)
    for people, dims in (
        (full.select("person_id", "age"), ["age_band"]),
        (full.head(30), None),
    ):
        equity = {"dimensions": dims} if dims else {}
        page = page_of(MethodsPage, people, target=False, equity=equity)
        for name, value in {
            "bands_text": page.bands_text,
            "data_heading": page.data_heading,
            "exact_counts": page.exact_counts,
            "largest_suppressed": page.largest_suppressed,
            "nested": page.nested,
            "proportion_example": page.proportion_example,
            "rounding": page.rounding,
            "status": page.status,
            "summaries": page.summaries,
        }.items():
            assert str(html_of(value)).strip(), name


def test_the_printed_wilson_formula_gives_the_code_s_limits() -> None:
    """Appendix B printed 2Op and 4Op(1-p) where the code (correctly) uses 2O and 4O(1-p) (issue 15):
    the formula as printed, evaluated, must give the limits the package computes."""
    import math
    import re
    from pathlib import Path

    import polars as pl
    import pytest

    from healthgap.stats._ci import wilson_lower, wilson_upper

    qmd = (Path(__file__).resolve().parents[2] / "chapters" / "methods.qmd").read_text(encoding="utf-8")
    tex = re.search(r"\$\$\\frac\{(.+?)\}\{(.+?)\} \\text\{ with \} p = O/n,\$\$", qmd)
    assert tex is not None
    top, bottom = tex.groups()

    def value(expr: str, sign: float, o: float, n: float, z: float) -> float:
        py = (
            expr.replace(r"\pm", "+" if sign > 0 else "-")
            .replace(r" z\sqrt", " z*math.sqrt")
            .replace("{", "(")
            .replace("}", ")")
            .replace("^2", "**2")
        )
        py = re.sub(r"(\d|\))([Oz(])", r"\1*\2", py)  # implied products: 2O, 4O(1-p), 2(n ...)
        py = re.sub(r"([Opz])\(", r"\1*(", py)
        return float(eval(py, {"math": math, "O": o, "n": n, "z": z, "p": o / n}))

    z = 1.959963984540054
    frame = pl.DataFrame({"x": [30.0, 3.0, 117.0], "n": [120.0, 40.0, 120.0]})
    limits = frame.select(wilson_lower("x", "n", 0.95).alias("lo"), wilson_upper("x", "n", 0.95).alias("hi"))
    for (o, n), (lo, hi) in zip(frame.rows(), limits.rows(), strict=True):
        assert value(top, -1, o, n, z) / value(bottom, 1, o, n, z) == pytest.approx(lo, rel=1e-9)
        assert value(top, 1, o, n, z) / value(bottom, 1, o, n, z) == pytest.approx(hi, rel=1e-9)


def test_one_rate_unit_stated_once(page_of):
    from healthgap.descriptive.geography import EVENT_PER, LOCALITY_PER
    from healthgap.descriptive.outcomes import PER

    page = page_of(MethodsPage, build_people(200))
    assert LOCALITY_PER == 100 and EVENT_PER == PER == 1000  # the pages' units are the rule's
    assert page.caps.outcomes[:2] == ("cvd_admissions", "cvd_death")
    assert page.units == (
        "Units: shares of people (recorded prevalence, treatment, referral, risk factors) are percentages "
        "(per 100 people); event rates (events per population, such as CVD emergency admissions and CVD death) "
        "are per 1,000 people, crude or age-standardised as the table says. Means of measurements are in their "
        "own unit."
    )
    bare = page_of(
        MethodsPage, build_people(200).drop("cvd_admissions", "cvd_death"), model={"target": "hypertension"}
    )
    assert "event rates (events per population) are per 1,000 people" in bare.units


def test_funnel_methods_cover_observed_expected_and_repeated_events(page_of):
    page = page_of(MethodsPage, build_people(200))
    text = html_of(page.funnel())
    assert "@sec-outcomes-practices" not in text and "@sec-geography-funnels" in text  # no crude funnels
    assert "each GP practice after its age and sex mix" in text
    assert "a practice is flagged only if it is outside the 99.8% limits" in text
    assert r"$D = \sum_i k_i^2 / \sum_i k_i$" in text and r"$O/D$" in text and r"\sqrt{D}" in text
    areas = page_of(MethodsPage, build_people(200).drop("gp_practice"))
    only_ratios = html_of(areas.funnel())
    assert (
        "@sec-outcomes-practices" not in only_ratios
        and "each small area after its age and sex mix" in only_ratios
        and "a small area is flagged only if" in only_ratios
    )


def test_need_method_states_the_model_and_skips_without_a_referral(page_of):
    from tests.pages.test_access_treatment import referred

    text = html_of(page_of(MethodsPage, referred(400)).need())
    assert "@sec-access-cardiology-referral-need" in text and "logistic regression" in text
    assert "age band and sex and one term for each of those conditions" in text
    assert "hypertension, coronary heart disease" in text.lower() and "diabetes" not in text.lower()
    assert "@sec-truth-check" not in text  # no truth file here
    bare = page_of(MethodsPage, build_people(200).drop("cardiology_referral"))
    assert "hg-skip" in html_of(bare.need())


def test_need_method_repeats_no_sentence_of_the_chapter(page_of):
    """The need paragraph sits under the chapter's own paragraph on observed/expected ratios: no
    sentence of five words or more is said twice on the page (the any-dataset scan's rule)."""
    import re

    from tests.pages.test_access_treatment import referred

    def sentences(text: str) -> set[str]:
        return {
            s
            for block in re.split(r"\n\s*\n", text)
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z(])", " ".join(block.split()))
            if len(s.split()) >= 5
        }

    chapter = (Path(__file__).resolve().parents[2] / "chapters" / "methods.qmd").read_text(encoding="utf-8")
    static = sentences(re.sub(r"```\{python\}.*?```", " ", chapter, flags=re.S))
    assert any(s.startswith("The interval is Byar's interval") for s in static)  # the chapter's own
    need = html_of(page_of(MethodsPage, referred(400)).need())
    assert "Byar's interval" in need and not sentences(need) & static


def test_need_and_funnel_skip_notes_name_only_what_the_dataset_lacks(page_of):
    """A skip note names what is missing and nothing the dataset has (the any-dataset scan's
    false-skip rule: the other trust has age and conditions but no referral)."""
    from tests.pages.test_access_treatment import referred

    skipped = "This section is skipped because the dataset has no {}."
    no_referral = page_of(MethodsPage, build_people(200).drop("cardiology_referral"))
    assert html_of(no_referral.need()).endswith(
        skipped.format("access flag (such as a referral) to compare against need") + "</p></div>"
    )
    # conditions that are risk factors, not reasons for a referral, are no need
    others = ["hypertension", "chd", "af", "heart_failure", "stroke_tia", "pad"]
    risk_only = page_of(MethodsPage, referred(400).drop(others))
    text = html_of(risk_only.need())
    assert text.endswith(
        skipped.format("recorded condition that makes a referral needed to compare against need")
        + "</p></div>"
    )
    assert "age" not in text and "referral)" not in text
    neither = page_of(MethodsPage, build_people(200).drop("cardiology_referral", *others))
    assert skipped.format(
        "access flag (such as a referral) or recorded condition that makes a referral needed to compare "
        "against need"
    ) in html_of(neither.need())
    # funnels: a dataset with practices and age but no condition or outcome column names only those
    bare = build_people(200).drop(*others, "diabetes", "ckd", "cvd_admissions", "cvd_death")
    funnel = html_of(page_of(MethodsPage, bare, model={"target": "statin"}).funnel())
    assert skipped.format("condition or outcome column, so there are no funnel plots") in funnel
    assert "age" not in funnel and "GP practice" not in funnel


def test_sii_method_is_on_the_log_scale_and_says_which_way_the_rii_reads(page_of):
    text = html_of(page_of(MethodsPage, build_people(200)).gradient())
    assert "logarithm of the fifths' DSRs" in text and "phe_sii(transform = TRUE)" in text
    assert "fitted rate at the least deprived end divided by that at the most deprived end" in text
    assert r"$1/\text{RII}$" in text
