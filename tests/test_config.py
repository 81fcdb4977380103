"""The strict config loader: defaults, selection order, and every bad-input case."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from healthgap.config import (
    AGE_BANDS,
    ENV_VAR,
    ORIGIN_ARGUMENT,
    ORIGIN_DEFAULT,
    ORIGIN_ENV,
    ConfigError,
    default_config_path,
    load_config,
    project_root,
    select_config,
)
from healthgap.contract import CONDITIONS

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


MINIMAL = "data:\n  path: people.parquet\n"


def test_minimal_config_gets_sensible_defaults(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.data.path == (tmp_path / "people.parquet").resolve()
    assert config.data.format == "parquet"
    assert config.conditions == CONDITIONS
    assert [d.name for d in config.dimensions] == ["imd_quintile", "ethnicity", "sex", "age_band", "locality"]
    assert config.dimension("imd_quintile").reference == "5"
    assert config.dimension("ethnicity").reference == "White"
    assert config.dimension("sex").reference == "female"
    assert config.dimension("age_band").order == AGE_BANDS
    assert config.disclosure.enabled and config.disclosure.suppress_below == 8
    assert not config.data.synthetic


def test_default_yml_points_at_the_synthetic_population():
    config = load_config(REPO / "data" / "default.yml")
    folder = REPO / "data" / "synthetic"
    assert config.data.path == folder / "population.parquet"
    assert config.data.truth == folder / "truth.json"
    assert config.data.boundaries == folder / "areas.geojson"
    assert config.data.boundary_key == "lsoa" and config.data.synthetic
    assert config.dimension("imd_quintile").label_of("1") == "1 (most deprived)"


def test_other_trust_yml_loads():
    config = load_config(REPO / "data" / "examples" / "other_trust.yml")
    assert config.data.format == "csv"
    assert config.data.codes["ethnicity"]["R"] == "Asian"
    assert config.data.codes["ethnicity"]["99"] == "Not stated"
    assert "locality" not in [d.name for d in config.dimensions]


def test_selection_order_explicit_then_env_then_default(tmp_path, monkeypatch):
    explicit = write(tmp_path, MINIMAL, "explicit.yml")
    env = write(tmp_path, "data:\n  path: env.csv\n", "env.yml")
    monkeypatch.setenv(ENV_VAR, str(env))
    assert load_config(explicit).path == explicit.resolve()
    assert load_config().path == env.resolve()
    assert load_config().data.format == "csv"
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.chdir(REPO)
    assert load_config().path == (REPO / "data" / "default.yml")


def test_select_config_names_the_file_and_where_it_came_from(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, "  ")  # blank: as if unset
    assert select_config(project=tmp_path / "book") == (
        (tmp_path / "book" / "data" / "default.yml").resolve(),
        ORIGIN_DEFAULT,
    )
    assert select_config() == (default_config_path().resolve(), ORIGIN_DEFAULT)
    monkeypatch.setenv(ENV_VAR, "from-env.yml")
    assert select_config(project=tmp_path / "book") == (tmp_path.resolve() / "from-env.yml", ORIGIN_ENV)
    assert select_config("given.yml") == (tmp_path.resolve() / "given.yml", ORIGIN_ARGUMENT)
    assert not (tmp_path / "given.yml").exists()  # chosen, not read


def test_load_config_follows_select_config(tmp_path, monkeypatch):
    import healthgap.config

    chosen = write(tmp_path, MINIMAL, "chosen.yml")
    monkeypatch.setattr(healthgap.config, "select_config", lambda path: (chosen, ORIGIN_ENV))
    assert load_config("ignored.yml").path == chosen
    monkeypatch.setattr(healthgap.config, "select_config", lambda path: (tmp_path / "no.yml", ORIGIN_ENV))
    with pytest.raises(ConfigError, match=r"chosen by \$HEALTHGAP_CONFIG"):
        load_config()


def test_project_root_walks_up_from_the_cwd(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "healthgap"\n')
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert project_root() == tmp_path.resolve()
    assert default_config_path() == tmp_path.resolve() / "data" / "default.yml"


def test_project_root_falls_back_to_the_package_repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert (project_root() / "src" / "healthgap" / "config" / "__init__.py").is_file()


def test_missing_file_names_the_path_and_origin(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope.yml"))
    with pytest.raises(ConfigError, match=r"not found: .*nope\.yml \(chosen by \$HEALTHGAP_CONFIG\)"):
        load_config()
    assert ConfigError.exit_code == 2


def test_invalid_yaml(tmp_path):
    assert "is not valid YAML" in error_of(tmp_path, "data: [unclosed\n")


def test_top_level_must_be_a_mapping(tmp_path):
    assert "must contain a mapping" in error_of(tmp_path, "- just\n- a list\n")


def test_unknown_top_level_key_suggests_the_closest(tmp_path):
    message = error_of(tmp_path, MINIMAL + "reprot:\n  title: x\n")
    assert "reprot: unknown key; did you mean 'report'?" in message


def test_unknown_nested_key_names_the_path(tmp_path):
    message = error_of(tmp_path, "data:\n  path: a.csv\n  synthtic: true\n")
    assert "data.synthtic: unknown key; did you mean 'synthetic'?" in message


def test_missing_data_section(tmp_path):
    assert "data: required key is missing" in error_of(tmp_path, "seed: 1\n")


def test_missing_data_path(tmp_path):
    assert "data.path: required key is missing" in error_of(tmp_path, "data:\n  format: csv\n")


def test_wrong_type_names_key_and_expected_type(tmp_path):
    message = error_of(tmp_path, MINIMAL + "disclosure:\n  suppress_below: eight\n")
    assert "disclosure.suppress_below: expected a whole number, got text ('eight')" in message


def test_boolean_is_not_a_number(tmp_path):
    assert "seed: expected a whole number, got true/false" in error_of(tmp_path, MINIMAL + "seed: true\n")


def test_reference_not_among_levels(tmp_path):
    message = error_of(
        tmp_path,
        MINIMAL
        + """
equity:
  dimensions:
    - imd_quintile
    - name: ethnicity
      reference: white
""",
    )
    assert (
        "equity.dimensions[1].reference: 'white' is not among the levels of ethnicity; did you mean 'White'?"
        in message
    )


def test_reference_must_be_in_a_custom_order(tmp_path):
    message = error_of(
        tmp_path,
        MINIMAL
        + """
equity:
  dimensions:
    - name: locality
      order: [Ipswich, Colchester]
      reference: Clacton
""",
    )
    assert "equity.dimensions[0].reference" in message and "Ipswich, Colchester" in message


def test_numeric_reference_is_read_as_a_level(tmp_path):
    config = load_config(
        write(tmp_path, MINIMAL + "equity:\n  dimensions:\n    - {name: imd_quintile, reference: 1}\n")
    )
    assert config.dimension("imd_quintile").reference == "1"


def test_unknown_dimension_name(tmp_path):
    message = error_of(tmp_path, MINIMAL + "equity:\n  dimensions: [ethnicty]\n")
    assert (
        "equity.dimensions[0].name: 'ethnicty' is not an equity dimension; did you mean 'ethnicity'?"
        in message
    )


def test_duplicate_dimension(tmp_path):
    assert "'sex' is listed twice" in error_of(tmp_path, MINIMAL + "equity:\n  dimensions: [sex, sex]\n")


def test_label_for_unknown_level(tmp_path):
    message = error_of(
        tmp_path, MINIMAL + "equity:\n  dimensions:\n    - {name: sex, labels: {females: F}}\n"
    )
    assert "equity.dimensions[0].labels.females" in message and "did you mean 'female'?" in message


def test_unknown_condition_name(tmp_path):
    message = error_of(tmp_path, MINIMAL + "conditions: [hypertensoin, chd]\n")
    assert "conditions[0]: unknown name 'hypertensoin'; did you mean 'hypertension'?" in message


def test_empty_conditions(tmp_path):
    assert "conditions: the list is empty" in error_of(tmp_path, MINIMAL + "conditions: []\n")


def test_unknown_outcome(tmp_path):
    assert "outcomes[0]: unknown name 'cvd_deaths'; did you mean 'cvd_death'?" in error_of(
        tmp_path, MINIMAL + "outcomes: [cvd_deaths]\n"
    )


def test_disclosure_disabled_without_reason(tmp_path):
    message = error_of(tmp_path, MINIMAL + "disclosure:\n  enabled: false\n")
    assert "disclosure.enabled: disclosure control is off but no reason is given" in message
    config = load_config(
        write(tmp_path, MINIMAL + "disclosure:\n  enabled: false\n  reason: synthetic data\n", "ok.yml")
    )
    assert config.disclosure.reason == "synthetic data"


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("disclosure:\n  suppress_below: 0\n", "disclosure.suppress_below: 0 must be positive"),
        ("disclosure:\n  rounding: -5\n", "disclosure.rounding: -5 must be positive"),
        ("model:\n  top_fraction: 1.5\n", "model.top_fraction: 1.5 must be between 0 and 1"),
        ("model:\n  test_size: 0\n", "model.test_size: 0.0 must be between 0 and 1"),
        ("model:\n  shap_sample: -1\n", "model.shap_sample: -1 must be positive"),
    ],
)
def test_thresholds_must_be_positive(tmp_path, snippet, expected):
    assert expected in error_of(tmp_path, MINIMAL + snippet)


def test_model_target_and_features(tmp_path):
    message = error_of(
        tmp_path, MINIMAL + "model:\n  target: cvd_admision\n  features: [age, ethnicity, bmii]\n"
    )
    assert "model.target: 'cvd_admision' is not a valid target; did you mean 'cvd_admissions'?" in message
    assert "model.features: 'ethnicity' is a protected characteristic" in message
    assert "model.features[2]: unknown name 'bmii'; did you mean 'bmi'?" in message


def test_data_columns_key_must_be_canonical(tmp_path):
    message = error_of(tmp_path, "data:\n  path: a.csv\n  columns:\n    gender: Gender\n")
    assert "data.columns.gender: 'gender' is not a contract column; did you mean 'sex'?" in message


def test_data_codes_target_must_be_a_valid_code(tmp_path):
    message = error_of(tmp_path, "data:\n  path: a.csv\n  codes:\n    sex: {M: man, F: female}\n")
    assert "data.codes.sex.M: 'man' is not a valid sex code; did you mean 'male'?" in message


def test_data_codes_unquoted_yes_key(tmp_path):
    message = error_of(tmp_path, "data:\n  path: a.csv\n  codes:\n    smoking: {yes: current}\n")
    assert "data.codes.smoking" in message and "quote it" in message


def test_data_codes_boolean_and_null_targets(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "data:\n  path: a.csv\n  codes:\n    statin: {Present: true, Absent: false}\n"
            "    sex: {U: null, '1': male}\n",
        )
    )
    assert config.data.codes["statin"] == {"Present": "true", "Absent": "false"}
    assert config.data.codes["sex"] == {"U": None, "1": "male"}


def test_format_from_extension_and_unknown_extension(tmp_path):
    assert load_config(write(tmp_path, "data:\n  path: x.CSV\n")).data.format == "csv"
    assert "data.format: cannot tell the format of 'x.xlsx'" in error_of(tmp_path, "data:\n  path: x.xlsx\n")
    assert "data.format: 'excel' is not a format" in error_of(
        tmp_path, "data:\n  path: x.csv\n  format: excel\n"
    )


def test_boundary_key_must_be_geography(tmp_path):
    assert "data.boundary_key: 'lsao' is not a geography column; did you mean 'lsoa'?" in error_of(
        tmp_path, MINIMAL.replace("\n", "\n  boundary_key: lsao\n", 1)
    )


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    sub = tmp_path / "configs"
    sub.mkdir()
    path = write(sub, "data:\n  path: ../data/p.parquet\n  truth: t.json\n")
    monkeypatch.chdir(REPO)
    config = load_config(path)
    assert config.data.path == (tmp_path / "data" / "p.parquet").resolve()
    assert config.data.truth == (sub / "t.json").resolve()


def test_all_problems_are_reported_together(tmp_path):
    message = error_of(tmp_path, MINIMAL + "seed: x\nconditions: [foo]\ndisclosure:\n  rounding: 0\n")
    assert message.count("\n  - ") == 3
    assert message.startswith("Invalid config ")


#: Keys documented in data/default.yml but not yet in the README (none: issue 10 documented them all).
PENDING_README: set[str] = set()


def test_every_key_is_documented_in_the_readme_and_default_yml():
    from healthgap.config import _data, _dimensions, _parse

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    default = (REPO / "data" / "default.yml").read_text(encoding="utf-8")
    sections = {
        "report": _parse.REPORT_KEYS,
        "data": _data.DATA_KEYS,
        "model": _parse.MODEL_KEYS,
        "disclosure": _parse.DISCLOSURE_KEYS,
    }
    for section, keys in sections.items():
        for key in keys:
            if f"{section}.{key}" not in PENDING_README:
                assert f"`{section}.{key}`" in readme, f"{section}.{key} missing from README"
            assert f"{key}:" in default, f"{section}.{key} missing from data/default.yml"
    for key in _dimensions.DIMENSION_KEYS:
        if key not in PENDING_README:
            assert f"`  {key}`" in readme
        assert f"{key}" in default
    for key in _parse.TOP_KEYS:
        assert f"{key}:" in default
    assert "make site" in readme and "make test" in readme


def test_report_contact_is_optional_text(tmp_path):
    assert load_config(write(tmp_path, MINIMAL)).report.contact is None
    text = MINIMAL + "report:\n  contact: email hi.team@example.nhs.uk\n"
    assert load_config(write(tmp_path, text)).report.contact == "email hi.team@example.nhs.uk"
    message = error_of(tmp_path, MINIMAL + "report:\n  contact: 5\n")
    assert "report.contact" in message and "expected" in message
