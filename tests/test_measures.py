"""Measures, profiles, dimensions from any column and column sources: the config side of issue 10.

Each error message is asserted through its constant, formatted as the parser formats it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import polars as pl
import pytest

from healthgap.config import (
    DEFAULT_DIMENSIONS,
    ConfigError,
    Measure,
    load_config,
    packaged_profiles,
    read_profile,
)
from healthgap.config import _data as D
from healthgap.config import _dimensions as DIM
from healthgap.config import _measures as M
from healthgap.config import _parse as P
from healthgap.config import _profiles as PR
from healthgap.contract import CONTRACT, TYPE_KINDS, data_dictionary

REPO = Path(__file__).resolve().parents[1]
MINIMAL = "data:\n  path: people.parquet\n"


def write(tmp_path: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


# -- the profile ------------------------------------------------------------------------------


def test_the_cvd_profile_declares_todays_contract_columns():
    profile = read_profile("cvd")
    assert packaged_profiles() == ("cvd",) and profile.target == "cvd_admissions"
    names = [m.name for m in profile.measures]
    assert names == [
        c
        for c in CONTRACT
        if CONTRACT[c].group not in ("identity", "demographic", "deprivation", "geography", "truth")
    ]
    for m in profile.measures:
        col = CONTRACT[m.name]
        assert (col.kind, col.group, col.label, col.description) == (
            TYPE_KINDS[m.type],
            m.kind,
            m.label,
            m.description,
        )
        assert (col.codes, col.minimum, col.maximum, col.unit) == (m.codes, m.minimum, m.maximum, m.unit)
    follow_up = {m.name for m in profile.measures if m.timing == "follow-up"}
    # a referral in the year, and its wait, may follow the year's admission: never features
    assert follow_up == {
        "cardiology_referral",
        "days_to_first_outpatient",
        "days_to_treatment",
        "missed_appointments",
        "provider_cancellations",
        "gp_experience_good",
        "cvd_admissions",
        "cvd_death",
        "premature_cvd_death",
    }
    # the 18-week standard is the referral-to-treatment measure's alone, not every wait's
    standards = {m.name: m.standard_days for m in profile.measures if m.type == "days"}
    assert standards == {"days_to_first_outpatient": None, "days_to_treatment": 126}
    # whom a measure applies to: premature deaths are of people under 75 only
    assert {m.name: m.ages for m in profile.measures if m.ages is not None} == {
        "premature_cvd_death": (0, 74)
    }
    waiting = {"days_to_first_outpatient", "days_to_treatment", "missed_appointments"}
    assert {m.name for m in profile.measures if m.name in waiting and m.kind == "experience"} == waiting
    assert [i.name for i in profile.indicators] == [
        "statin",
        "anticoagulant",
        "bp_control",
        "antihypertensive",
        "rtt_18_weeks",
        "gp_experience",
    ]


def test_the_data_dictionary_changes_only_where_the_core_became_optional():
    table = data_dictionary()
    required = dict(zip(table["column"], table["required"], strict=True))
    assert [c for c, r in required.items() if r == "yes"] == ["person_id", "age"]
    assert table.height == len(CONTRACT) == 41


def test_default_profile_when_the_key_is_absent_and_none(tmp_path):
    assert load_config(write(tmp_path, MINIMAL)).profile == "cvd"
    for value in ("null", "none", '""'):
        config = load_config(write(tmp_path, f"profile: {value}\n" + MINIMAL))
        assert config.profile == "" and config.measures == () and config.indicators == ()
        assert config.conditions == () and config.outcomes == () and config.model.target == ""
        assert "model.target" in config.defaulted


def test_a_users_profile_file(tmp_path):
    write(
        tmp_path,
        """
        description: a study's measures
        measures:
          - {name: chd_10y, column: TenYearCHD, label: CHD within ten years, kind: outcome, type: flag, timing: follow-up}
          - {name: chol, label: Cholesterol, kind: risk factor, type: number, unit: mmol/L, minimum: 1, maximum: 20}
        model: {target: chd_10y}
        """,
        "study.yml",
    )
    config = load_config(write(tmp_path, "profile: study.yml\n" + MINIMAL))
    assert [m.name for m in config.measures] == ["chd_10y", "chol"]
    assert config.model.target == "chd_10y" and config.outcomes == ("chd_10y",)
    assert config.data.columns == {"chd_10y": "TenYearCHD"}
    assert config.data.origins == {"chd_10y": "profile measure chd_10y.column"}
    assert config.profile == str((tmp_path / "study.yml").resolve())


def test_profile_errors(tmp_path):
    message = error_of(tmp_path, "profile: cvdd\n" + MINIMAL)
    assert "profile: 'cvdd' is neither a packaged profile (cvd) nor a file" in message
    assert PR.BAD_NAME.format(value=3) in error_of(tmp_path, "profile: 3\n" + MINIMAL)
    write(tmp_path, "- a list\n", "list.yml")
    assert "profile: the file" in error_of(tmp_path, "profile: list.yml\n" + MINIMAL)
    write(tmp_path, "measures:\n  - {name: x, label: X, kind: outcome, type: flagg}\n", "bad.yml")
    message = error_of(tmp_path, "profile: bad.yml\n" + MINIMAL)
    assert "profile bad.yml: measures[0].type: 'flagg' is not a type; did you mean 'flag'?" in message


# -- measures in the config --------------------------------------------------------------------


def test_config_measures_add_and_override_profile_ones(tmp_path):
    config = load_config(
        write(
            tmp_path,
            MINIMAL
            + """
measures:
  - {name: chd, column: CHD_Register, label: CHD}
  - {name: chd_10y, column: TenYearCHD, label: Coronary heart disease within ten years,
     kind: outcome, type: flag, period: within ten years, timing: follow-up}
""",
        )
    )
    chd = config.measure("chd")
    assert (chd.label, chd.column, chd.kind, chd.type) == ("CHD", "CHD_Register", "condition", "flag")
    assert chd.description == CONTRACT["chd"].description  # fields not given keep the profile's
    new = config.measure("chd_10y")
    assert new == Measure(
        "chd_10y",
        "Coronary heart disease within ten years",
        "outcome",
        "flag",
        period="within ten years",
        timing="follow-up",
        column="TenYearCHD",
    )
    assert config.outcomes == ("cvd_admissions", "cvd_death", "premature_cvd_death", "chd_10y")
    assert config.measures_of("outcome")[-1] is new
    assert config.data.columns["chd"] == "CHD_Register" and config.data.origins["chd"] == "measures[0].column"
    assert ("measures[1]", "chd_10y") in config.requested
    with pytest.raises(KeyError, match="did you mean 'chd_10y'"):
        config.measure("chd_10")


def test_measure_ages_are_parsed_overridden_and_cleared(tmp_path):
    """``ages: [low, high]`` says whom a measure applies to; a config overrides or clears the profile's."""
    config = load_config(
        write(
            tmp_path,
            MINIMAL
            + """
measures:
  - {name: premature_cvd_death, ages: [0, 64]}
  - {name: cvd_death, ages: null}
  - {name: early, label: Early deaths, kind: outcome, type: flag, ages: [18, 74]}
""",
        )
    )
    assert config.measure("premature_cvd_death").ages == (0, 64)
    assert config.measure("cvd_death").ages is None
    assert config.measure("early").ages == (18, 74)
    assert config.measure("cvd_admissions").ages is None
    assert read_profile("cvd").measures[
        [m.name for m in read_profile("cvd").measures].index("premature_cvd_death")
    ].ages == (0, 74)


def test_conditions_select_among_condition_measures(tmp_path):
    config = load_config(write(tmp_path, MINIMAL + "conditions: [chd, hypertension]\n"))
    assert config.conditions == ("chd", "hypertension")
    assert [m.name for m in config.measures_of("condition")] == ["chd", "hypertension"]
    assert config.measure("af").kind == "condition"  # declared, just not selected
    assert [m.name for m in config.measures_of("treatment")] == [
        "statin",
        "antihypertensive",
        "anticoagulant",
    ]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (
            "- {name: 'chd 10y', label: x, kind: outcome, type: flag}",
            M.BAD_NAME.format(at="measures[0]", name="chd 10y"),
        ),
        (
            "- {name: sex, label: x, kind: outcome, type: flag}",
            M.CORE_NAME.format(at="measures[0]", name="sex"),
        ),
        ("- {name: true_x, label: x, kind: outcome, type: flag}", M.TRUTH_NAME.format(at="measures[0]")),
        (
            "- {name: x10, label: X}",
            M.NEW_NEEDS.format(
                at="measures[0]",
                name="x10",
                what="measure",
                missing="kind, type",
                example=", e.g. {name: x10, label: ..., kind: outcome, type: flag}",
            ),
        ),
        (
            "- {name: x, label: X, kind: outcom, type: flag}",
            M.BAD_CHOICE.format(
                at="measures[0]",
                key="kind",
                value="outcom",
                hint="; did you mean 'outcome'?",
                valid="condition, treatment, risk factor, access, experience, outcome",
            ),
        ),
        (
            "- {name: x, label: X, kind: outcome, type: flag, codes: [a, b]}",
            M.CODES_ONLY.format(at="measures[0]", name="x", type="flag"),
        ),
        ("- {name: x, label: X, kind: risk factor, type: category}", M.CODES_NEEDED.format(at="measures[0]")),
        (
            "- {name: x, label: X, kind: outcome, type: flag, minimum: 0}",
            M.RANGE_ONLY.format(at="measures[0]", key="minimum", name="x", type="flag"),
        ),
        (
            "- {name: x, label: X, kind: outcome, type: count, minimum: 5, maximum: 1}",
            M.RANGE_ORDER.format(at="measures[0]", lo=5, hi=1),
        ),
        (
            "- {name: x, label: X, kind: experience, type: count, standard_days: 126}",
            M.STANDARD_ONLY.format(at="measures[0]", name="x", type="count"),
        ),
        (
            "- {name: x, label: X, kind: experience, type: days, standard_days: 0}",
            M.STANDARD_POSITIVE.format(at="measures[0]", value=0.0),
        ),
        *(
            (
                f"- {{name: premature_cvd_death, ages: {bad}}}",
                M.BAD_AGES.format(at="measures[0]", value=value, oldest=120),
            )
            for bad, value in (
                ("[74, 0]", [74, 0]),
                ("[0]", [0]),
                ("75", 75),
                ("[0, 74.5]", [0, 74.5]),
                ("[-1, 74]", [-1, 74]),
                ("[0, 200]", [0, 200]),
                ("[true, 74]", [True, 74]),
            )
        ),
        ("- {name: chd, label: A}\n  - {name: chd, label: B}", M.TWICE.format(at="measures[1]", name="chd")),
        ("- {name: chd, timing: later}", "measures[0].timing: 'later' is not a timing"),
        ("- chd", "measures[0]: expected a mapping with name:"),
    ],
)
def test_measure_errors(tmp_path, snippet, expected):
    assert expected in error_of(tmp_path, MINIMAL + "measures:\n  " + snippet + "\n")


# -- dimensions from any column ------------------------------------------------------------------


def test_built_in_dimensions_gain_nouns_and_order():
    imd = DEFAULT_DIMENSIONS["imd_quintile"]
    assert (imd.noun, imd.ordered, imd.disadvantaged) == ("deprivation fifth", True, "first")
    assert (
        DEFAULT_DIMENSIONS["ethnicity"].noun == "ethnic group" and not DEFAULT_DIMENSIONS["ethnicity"].ordered
    )
    assert DEFAULT_DIMENSIONS["age_band"].ordered and DEFAULT_DIMENSIONS["age_band"].disadvantaged is None
    assert [DEFAULT_DIMENSIONS[n].noun for n in ("sex", "locality")] == ["sex", "locality"]


def test_a_dimension_from_any_column(tmp_path):
    config = load_config(
        write(
            tmp_path,
            MINIMAL
            + """
equity:
  dimensions:
    - {name: education, column: educ, label: Education level, order: [1, 2, 3, 4],
       labels: {1: Some high school, 4: College}, reference: 4, ordered: true, disadvantaged: first}
    - {name: region, label: Region}
    - {name: sex, label: Gender}
""",
        )
    )
    education, region, sex = config.dimensions
    assert education.order == ("1", "2", "3", "4") and education.reference == "4"
    assert (education.noun, education.ordered, education.disadvantaged, education.column) == (
        "education level",
        True,
        "first",
        "educ",
    )
    assert education.label_of("1") == "Some high school"
    assert (region.order, region.reference, region.noun, region.column) == ((), "", "region", "region")
    assert sex.noun == "gender"  # relabelled: the noun follows the label
    assert config.contract["education"].kind == "category" and config.contract["region"].kind == "text"
    assert config.data.columns["education"] == "educ"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "- ethnicty",
            "equity.dimensions[0].name: 'ethnicty' is not an equity dimension; did you mean 'ethnicity'?",
        ),
        ("- age", DIM.NOT_GROUPS.format(at="equity.dimensions[0]", name="age", what="number")),
        (
            "- person_id",
            DIM.NOT_GROUPS.format(at="equity.dimensions[0]", name="person_id", what="identifier"),
        ),
        ("- bmi", DIM.NOT_GROUPS.format(at="equity.dimensions[0]", name="bmi", what="number measure")),
        ("- {name: e, label: E, ordered: true}", DIM.ORDERED_NEEDS_ORDER.format(at="equity.dimensions[0]")),
        (
            "- {name: e, label: E, order: [a, b], reference: a, disadvantaged: first}",
            DIM.DISADVANTAGED_UNORDERED.format(at="equity.dimensions[0]"),
        ),
        (
            "- {name: e, label: E, order: [a, b], reference: a, ordered: true, disadvantaged: top}",
            DIM.BAD_END.format(at="equity.dimensions[0]", value="top", hint="."),
        ),
        (
            "- {name: e, label: E, order: [a], reference: a}",
            DIM.TOO_FEW.format(at="equity.dimensions[0]", n=1),
        ),
        (
            "- {name: e, label: E, order: [a, b]}",
            DIM.NO_REFERENCE.format(at="equity.dimensions[0]", first="a"),
        ),
        (
            "- {name: e, label: E, order: [a, b], reference: c}",
            DIM.NOT_A_LEVEL.format(
                at="equity.dimensions[0]", reference="c", name="e", hint=".", levels="a, b"
            ),
        ),
        (
            "- {name: e, label: E, order: [a, a, b], reference: a}",
            DIM.LISTED_TWICE.format(at="equity.dimensions[0]", levels="a"),
        ),
        ("- {name: age_band, column: age}", DIM.AGE_BAND_COLUMN.format(at="equity.dimensions[0]")),
    ],
)
def test_dimension_errors(tmp_path, entry, expected):
    message = error_of(tmp_path, MINIMAL + "equity:\n  dimensions:\n    " + entry + "\n")
    assert expected in message


def test_empty_dimensions(tmp_path):
    assert DIM.EMPTY in error_of(tmp_path, MINIMAL + "equity:\n  dimensions: []\n")


# -- columns, absent columns, sources, codes -------------------------------------------------------


def test_columns_declared_absent_or_omitted(tmp_path):
    config = load_config(write(tmp_path, "data:\n  path: a.csv\n  columns: {ethnicity: null, sex: Gender}\n"))
    assert config.data.absent == {"ethnicity"} and config.data.columns == {"sex": "Gender"}
    assert D.CANNOT_BE_ABSENT.format(at="data.columns.age", name="age") in error_of(
        tmp_path, "data:\n  path: a.csv\n  columns: {age: null}\n"
    )


def test_one_file_column_for_two_names_is_an_error(tmp_path):
    message = error_of(tmp_path, "data:\n  path: a.csv\n  columns: {sex: male, ethnicity: male}\n")
    assert (
        P.SHARED_SOURCE.format(
            source="male",
            a="sex",
            where_a="data.columns.sex",
            b="ethnicity",
            where_b="data.columns.ethnicity",
        )
        in message
    )
    message = error_of(
        tmp_path,
        "data:\n  path: a.csv\n  columns: {chd: CHD}\nmeasures:\n  - {name: chd, column: CHD_Register}\n",
    )
    assert (
        P.TWO_SOURCES.format(
            first="data.columns.chd", a="CHD", second="measures[0].column", b="CHD_Register", name="chd"
        )
        in message
    )


def test_columns_keys_are_the_configs_columns(tmp_path):
    message = error_of(tmp_path, "data:\n  path: a.csv\n  columns: {gender: Gender}\n")
    assert "data.columns.gender: 'gender' is not a contract column; did you mean 'sex'?" in message
    config = load_config(
        write(
            tmp_path,
            "data:\n  path: a.csv\n  columns: {education: educ, true_chd: TrueCHD}\n"
            "equity:\n  dimensions: [{name: education, label: Education}]\n",
        )
    )
    assert config.data.columns == {"education": "educ", "true_chd": "TrueCHD"}


def test_null_codes_for_every_column_type(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
data:
  path: a.csv
  codes:
    diabetes: {"1": true, "0": false, "2": null}
    sex: {"1": male, "9": null}
    cvd_admissions: {"-1": null, "x": 0}
    bmi: {"999": null, "0": 0.0}
""",
        )
    )
    assert config.data.codes["diabetes"] == {"1": "true", "0": "false", "2": None}
    assert config.data.codes["sex"] == {"1": "male", "9": None}
    assert config.data.codes["cvd_admissions"] == {"-1": None, "x": "0"}
    assert config.data.codes["bmi"] == {"999": None, "0": "0.0"}


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ("diabetes: {'1': maybe}", "data.codes.diabetes.1: expected true, false or null, got text ('maybe')"),
        ("cvd_admissions: {'a': 1.5}", "data.codes.cvd_admissions.a: expected a whole number or null"),
        ("bmi: {'a': high}", "data.codes.bmi.a: expected a number or null"),
        (
            "person_id: {'a': b}",
            D.CODES_KIND.format(at="data.codes.person_id", name="person_id", kind="an identifier"),
        ),
        (
            "smoking: {'a': smoker}",
            D.BAD_CODE.format(
                at="data.codes.smoking",
                key="a",
                value="smoker",
                name="smoking",
                hint=".",
                valid="never, ex, current",
            ),
        ),
        ("nothing: {'a': b}", "data.codes.nothing: 'nothing' is not a contract column"),
    ],
)
def test_code_errors(tmp_path, codes, expected):
    assert expected in error_of(tmp_path, f"data:\n  path: a.csv\n  codes:\n    {codes}\n")


@pytest.mark.parametrize(
    ("derive", "expected"),
    [
        ("'2x': a", D.DERIVE_NAME.format(at="data.derive.2x", name="2x")),
        ("x: 3", D.DERIVE_TYPE.format(at="data.derive.x", value=3, name="x")),
        ("x: 'a +'", "data.derive.x: cannot read the SQL expression 'a +': unable to parse 'a +' as Expr."),
        ("x: '  '", "data.derive.x: the SQL expression is empty."),
    ],
)
def test_derive_errors_name_the_key(tmp_path, derive, expected):
    assert expected in error_of(tmp_path, f"data:\n  path: a.csv\n  derive:\n    {derive}\n")


# -- the model target and features ------------------------------------------------------------------


def test_target_is_any_flag_or_count_measure(tmp_path):
    text = (
        MINIMAL
        + "measures:\n  - {name: chd_10y, column: TenYearCHD, label: CHD, kind: outcome, type: flag}\n"
    )
    assert load_config(write(tmp_path, text + "model: {target: chd_10y}\n")).model.target == "chd_10y"
    message = error_of(tmp_path, text + "model: {target: TenYearCHD}\n")
    assert (
        "model.target: 'TenYearCHD' is not a valid target" + P.SOURCE_OF.format(name="chd_10y") + "."
        in message
    )
    message = error_of(tmp_path, MINIMAL + "model: {target: true_chd}\n")
    assert "'true_chd' is not a valid target" + P.TRUTH_TARGET.format(name="chd") in message
    assert "true_" not in message.split("Valid:")[1]
    message = error_of(tmp_path, MINIMAL + "model: {target: bmi}\n")
    assert message.split("\n")[1].startswith(
        "  - model.target: 'bmi' is a number measure; the target must be a flag or a count."
    )


def test_features(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.features[0] == "age" and "cvd_admissions" not in config.features
    assert "missed_appointments" not in config.features  # follow-up
    assert {"hypertension", "bmi", "statin"} <= set(config.features)
    text = MINIMAL + "equity:\n  dimensions: [{name: education, label: Education}]\n"
    message = error_of(tmp_path, text + "model: {features: [age, education]}\n")
    assert P.FEATURE_PROTECTED.format(name="education") in message
    ok = load_config(
        write(tmp_path, text + "model: {features: [age, education], exclude_protected: false}\n")
    )
    assert ok.features == ("age", "education")
    assert P.FEATURE_IS_TARGET.format(name="cvd_admissions") in error_of(
        tmp_path, MINIMAL + "model: {features: [cvd_admissions]}\n"
    )


# -- defaults adapt to the data ----------------------------------------------------------------------


def test_measures_absent_from_the_data_are_left_out_unless_asked_for(tmp_path, make_people):
    make_people().drop("pad", "cvd_death").write_parquet(tmp_path / "people.parquet")
    config = load_config(write(tmp_path, MINIMAL))
    assert "pad" not in [m.name for m in config.measures] and "cvd_death" not in config.outcomes
    # make_people has none of the profile's pathway, experience and premature-death columns either
    new = {"days_to_treatment", "provider_cancellations", "gp_experience_good", "premature_cvd_death"}
    assert set(config.dropped) == {"pad", "cvd_death", *new}
    asked = load_config(write(tmp_path, MINIMAL + "measures:\n  - {name: pad}\n"))
    assert "pad" in [m.name for m in asked.measures] and ("measures[0]", "pad") in asked.requested


def test_derived_columns_count_as_present(tmp_path):
    pl.DataFrame({"id": ["a"], "age": [50], "totChol": [200.0]}).write_parquet(tmp_path / "people.parquet")
    config = load_config(
        write(tmp_path, MINIMAL + "  columns: {person_id: id}\n  derive: {cholesterol: 'totChol / 38.67'}\n")
    )
    assert [m.name for m in config.measures] == ["cholesterol"]


def test_indicator_config(tmp_path):
    config = load_config(
        write(
            tmp_path,
            MINIMAL
            + """
indicators:
  - {name: statin_chd, label: Statin in CHD, kind: proportion, section: treatment, numerator: statin, denominator: chd}
  - {name: bp_control, target: 80}
""",
        )
    )
    assert config.indicator("statin_chd").denominator == "chd" and config.indicator("bp_control").target == 80
    assert [i.name for i in config.indicators] == [
        "statin",
        "anticoagulant",
        "bp_control",
        "antihypertensive",
        "rtt_18_weeks",
        "gp_experience",
        "statin_chd",
    ]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            "{name: x, label: X, kind: proportion, numerator: 'a +', denominator: b}",
            "indicators[0].numerator: cannot read the SQL expression 'a +'",
        ),
        (
            "{name: x, label: X, kind: proportion, numerator: a, denominator: 'SELECT 1'}",
            "indicators[0].denominator: cannot read the SQL expression 'SELECT 1'",
        ),
        (
            "{name: x, label: X, kind: ratio, numerator: a, denominator: b}",
            "indicators[0].kind: 'ratio' is not a kind",
        ),
        (
            "{name: x, label: X, kind: proportion, numerator: a, denominator: b, section: money}",
            "indicators[0].section: 'money' is not a section",
        ),
        (
            "{name: x, label: X, kind: proportion, numerator: a, denominator: b, multiplier: 0}",
            "indicators[0].multiplier: 0.0 must be positive",
        ),
        (
            "{name: x, label: X, kind: proportion, numerator: a, denominator: b, optional: [c]}",
            M.NOT_USED.format(at="indicators[0]", i=0, name="c"),
        ),
        (
            "{name: x, label: X}",
            M.NEW_NEEDS.format(
                at="indicators[0]",
                name="x",
                what="indicator",
                missing="kind, numerator, denominator",
                example=", e.g. {name: x, label: ..., kind: proportion, numerator: statin, denominator: chd}",
            ),
        ),
    ],
)
def test_indicator_errors(tmp_path, item, expected):
    assert expected in error_of(tmp_path, MINIMAL + f"indicators:\n  - {item}\n")


def test_a_waiting_standard_is_a_days_measure_attribute(tmp_path):
    """`standard_days` overrides a profile measure's standard (or removes it with null)."""
    config = load_config(
        write(
            tmp_path,
            MINIMAL
            + """
measures:
  - {name: days_to_first_outpatient, standard_days: 42}
  - {name: days_to_treatment, standard_days: null}
  - {name: wait_x, label: Wait X, kind: experience, type: days, standard_days: 28}
""",
        )
    )
    assert config.measure("days_to_first_outpatient").standard_days == 42
    assert config.measure("days_to_treatment").standard_days is None
    assert config.measure("wait_x").standard_days == 28
