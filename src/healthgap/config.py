"""The config: parsed once into a frozen, typed object.

Everything else in healthgap receives a :class:`Config`, never a raw dict.
A YAML file maps a user's dataset onto the contract (:mod:`healthgap.contract`).

Selection order: an explicit path (``--config PATH``), else the
``HEALTHGAP_CONFIG`` environment variable, else the default config
``data/default.yml`` (the synthetic population).

The dataclass shapes are fixed; the strict YAML parser (:func:`parse_file`,
:func:`parse_mapping`) follows them in this module, and every key is documented
in ``data/default.yml`` and the README.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from healthgap.contract import CONDITIONS, CONTRACT, GEOGRAPHY, OUTCOMES, TRUTH_PREFIX
from healthgap.errors import ConfigError  # re-exported
from healthgap.safeio import data_file_problem, load_yaml, resolve
from healthgap.vocabulary import guess_columns

__all__ = [
    "Dimension",
    "DataSource",
    "ModelSettings",
    "DisclosureSettings",
    "ReportSettings",
    "Config",
    "ConfigError",
    "load_config",
    "select_config",
    "default_config_path",
    "ENV_VAR",
    "ORIGIN_ARGUMENT",
    "ORIGIN_ENV",
    "ORIGIN_DEFAULT",
    "AGE_BANDS",
    "DEFAULT_DIMENSIONS",
    "project_root",
    "parse_file",
    "parse_mapping",
]

ENV_VAR = "HEALTHGAP_CONFIG"
#: Where :func:`select_config` found the config file, as messages name it.
ORIGIN_ARGUMENT = "--config"
ORIGIN_ENV = f"${ENV_VAR}"
ORIGIN_DEFAULT = "the default config"


@dataclass(frozen=True)
class Dimension:
    """An equity dimension to analyse.

    ``name`` is a canonical column (e.g. ``imd_quintile``, ``ethnicity``,
    ``sex``, ``age_band``, ``locality``). ``order`` lists the levels (as
    strings) in display order; ``labels`` maps level -> display label;
    ``reference`` is the level that rate ratios compare against.
    """

    name: str
    label: str
    order: tuple[str, ...]
    labels: dict[str, str]
    reference: str

    def label_of(self, level: str) -> str:
        return self.labels.get(str(level), str(level))


@dataclass(frozen=True)
class DataSource:
    """Where the person table is and how to map it onto the contract."""

    path: Path  # absolute; Parquet or CSV
    format: Literal["parquet", "csv"]
    columns: dict[str, str]  # canonical name -> source column name (renames)
    codes: dict[
        str, dict[str, str | None]
    ]  # canonical column -> {source code: canonical code or None = missing}
    truth: Path | None = None  # truth.json for synthetic data, if any
    boundaries: Path | None = None  # GeoJSON keyed by area code, for choropleths
    boundary_key: str = "lsoa"  # which column the GeoJSON features are keyed by
    synthetic: bool = False  # label the data as synthetic everywhere


@dataclass(frozen=True)
class ModelSettings:
    target: str = "cvd_admissions"  # binary, or a count binarised as > 0
    features: tuple[str, ...] = ()
    exclude_protected: bool = True
    top_fraction: float = 0.05  # operating threshold: the top X of predicted risk
    test_size: float = 0.3
    seed: int = 2024
    shap_sample: int = 2000
    mitigation_sample: int = 20000


@dataclass(frozen=True)
class DisclosureSettings:
    enabled: bool = True
    suppress_below: int = 8  # counts 1..suppress_below-1 are suppressed
    rounding: int = 5
    reason: str | None = None  # required when enabled is False


@dataclass(frozen=True)
class ReportSettings:
    title: str = "Health inequalities in cardiovascular disease"
    organisation: str = "East Suffolk and North Essex NHS Foundation Trust"
    subtitle: str | None = None
    period: str | None = None
    contact: str | None = None  # how readers report a problem (accessibility statement)


@dataclass(frozen=True)
class Config:
    path: Path  # the config file itself (absolute)
    data: DataSource
    dimensions: tuple[Dimension, ...]
    conditions: tuple[str, ...]  # canonical condition names present/wanted
    outcomes: tuple[str, ...]
    model: ModelSettings = field(default_factory=ModelSettings)
    disclosure: DisclosureSettings = field(default_factory=DisclosureSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    seed: int = 2024
    #: Keys the config file left to their defaults ("conditions", "outcomes",
    #: "equity.dimensions", "model.target"): defaults adapt to the data, so an
    #: optional column the user never asked for is not an error when absent.
    defaulted: frozenset[str] = frozenset()

    def dimension(self, name: str) -> Dimension:
        for d in self.dimensions:
            if d.name == name:
                return d
        raise KeyError(f"No equity dimension {name!r} in the config {self.path}.")


#: ESP2013 five-year age bands, as labelled by ``healthgap.stats.age_bands``.
AGE_BANDS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 90, 5)), "90+")

_IMD_LABELS = {
    "1": "1 (most deprived)",
    "2": "2",
    "3": "3",
    "4": "4",
    "5": "5 (least deprived)",
}

#: Equity dimensions used when the config has no ``equity`` section, and the
#: defaults a dimension entry given only by name starts from. An empty
#: ``order`` means "the levels found in the data" and an empty ``reference``
#: means "the level with the most people" (see ``healthgap.data.resolve_dimensions``).
DEFAULT_DIMENSIONS: dict[str, Dimension] = {
    "imd_quintile": Dimension(
        "imd_quintile", "Deprivation (IMD quintile)", ("1", "2", "3", "4", "5"), _IMD_LABELS, "5"
    ),
    "ethnicity": Dimension(
        "ethnicity",
        "Ethnic group",
        ("Asian", "Black", "Mixed", "White", "Other", "Not stated"),
        {},
        "White",
    ),
    "sex": Dimension("sex", "Sex", ("female", "male"), {"female": "Female", "male": "Male"}, "female"),
    "age_band": Dimension("age_band", "Age band", AGE_BANDS, {}, "50-54"),
    "locality": Dimension("locality", "Locality", (), {}, ""),
}

_PROJECT_NAME_LINE = 'name = "healthgap"'


def _is_project_root(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        try:
            if _PROJECT_NAME_LINE in pyproject.read_text(encoding="utf-8"):
                return True
        except OSError:
            pass
    return (folder / "_quarto.yml").is_file() and (folder / "data" / "default.yml").is_file()


def project_root(start: str | Path | None = None) -> Path:
    """Find the healthgap project folder.

    Walks up from ``start`` (default: the current directory) looking for a
    ``pyproject.toml`` naming the ``healthgap`` project, or a ``_quarto.yml``
    next to ``data/default.yml``. Falls back to the folder the package was
    installed from (an editable install of the repository).

    Parameters
    ----------
    start : folder to start from; defaults to the current working directory.

    Returns
    -------
    Path
        Absolute path of the project folder.

    References
    ----------
    .. [1] Quarto project files, https://quarto.org/docs/projects/quarto-projects.html
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if _is_project_root(folder):
            return folder
    return Path(__file__).resolve().parents[2]


def default_config_path(project: str | Path | None = None) -> Path:
    """Return ``<project>/data/default.yml``, the config of the synthetic population.

    Parameters
    ----------
    project : the project folder; default :func:`project_root`.

    References
    ----------
    .. [1] healthgap README, section "Configuration".
    """
    return (project_root() if project is None else Path(project)) / "data" / "default.yml"


def select_config(path: str | Path | None = None, *, project: str | Path | None = None) -> tuple[Path, str]:
    """Choose the config file: the one rule every command and the renderer follow.

    ``path`` if given, else ``$HEALTHGAP_CONFIG`` (when set and not blank), else
    ``data/default.yml`` of the project. The file is not read and need not exist.

    Parameters
    ----------
    path : explicit config path (``--config``); relative paths resolve against the current
        directory.
    project : the project folder whose ``data/default.yml`` is the default (see
        :func:`default_config_path`); default :func:`project_root`.

    Returns
    -------
    tuple of (Path, str)
        The absolute path and where it came from: :data:`ORIGIN_ARGUMENT`,
        :data:`ORIGIN_ENV` or :data:`ORIGIN_DEFAULT`.

    References
    ----------
    .. [1] healthgap README, section "Configuration".
    """
    if path is not None:
        chosen, origin = Path(path), ORIGIN_ARGUMENT
    elif env := os.environ.get(ENV_VAR, "").strip():
        chosen, origin = Path(env), ORIGIN_ENV
    else:
        chosen, origin = default_config_path(project), ORIGIN_DEFAULT
    return resolve(chosen), origin


def load_config(path: str | Path | None = None) -> Config:
    """Load and check a config file.

    The file is chosen by :func:`select_config`: ``path`` if given, else
    ``$HEALTHGAP_CONFIG``, else :func:`default_config_path`. Loading is strict: unknown keys
    (with the closest valid key suggested), wrong types, invalid values and a missing
    file raise :class:`ConfigError` naming every offending key path, e.g.
    ``equity.dimensions[1].reference``. Relative paths inside the file are
    resolved against the file's folder.

    Parameters
    ----------
    path : explicit config path; relative paths resolve against the current directory.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        The file is missing, is not YAML, or does not match the schema.

    References
    ----------
    .. [1] YAML 1.1 as implemented by PyYAML, https://pyyaml.org/wiki/PyYAMLDocumentation
    """
    chosen, origin = select_config(path)
    return parse_file(chosen, origin=origin)


# The strict parser: every problem in a file is collected and reported together in one
# ConfigError, each line naming the key path (equity.dimensions[1].reference), what is
# wrong and how to fix it.

MISSING_FILE = "Config file not found: {path} (chosen by {origin}). Fix: pass an existing file with --config PATH or set HEALTHGAP_CONFIG."
NOT_YAML = "Config file {path} is not valid YAML: {detail}"
NOT_MAPPING = "Config file {path} must contain a mapping of keys (report:, data:, ...), not {kind}."
HEADER = "Invalid config {path}:"
UNKNOWN_KEY = "{where}: unknown key{hint} Valid keys: {valid}."
WRONG_TYPE = "{where}: expected {expected}, got {got} ({value!r})."
REQUIRED = "{where}: required key is missing. Fix: add it{example}."

_TOP = ("report", "data", "equity", "conditions", "outcomes", "model", "disclosure", "seed")
_REPORT = ("title", "organisation", "subtitle", "period", "contact")
_DATA = ("path", "format", "columns", "codes", "truth", "boundaries", "boundary_key", "synthetic")
_DIMENSION = ("name", "label", "order", "labels", "reference")
_MODEL = (
    "target",
    "features",
    "exclude_protected",
    "top_fraction",
    "test_size",
    "seed",
    "shap_sample",
    "mitigation_sample",
)
_DISCLOSURE = ("enabled", "suppress_below", "rounding", "reason")
_FORMATS = ("auto", "parquet", "csv")
_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".txt": "csv", ".csv.gz": "csv"}
#: Columns that cannot be model features.
_NOT_FEATURES = ("person_id", "lsoa", "gp_practice")
_PROTECTED_FEATURES = ("sex", "ethnicity", "imd_decile", "imd_quintile", "age_band")


#: How a config value of each type is described in messages ("expected a whole number").
_EXPECTED: dict[type, str] = {
    str: "text",
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    list: "a list",
    dict: "a mapping",
}


def _type_name(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
        type(None): "nothing (null)",
    }.get(type(value), type(value).__name__)


def _suggest(word: str, options: tuple[str, ...] | list[str]) -> str:
    """``; did you mean 'x'?`` for the closest option, or ``.`` when none is close."""
    same_case = [o for o in options if o.lower() == str(word).lower()]
    close = same_case or difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.55)
    return f"; did you mean {close[0]!r}?" if close else "."


def _canonical_hint(word: str) -> str:
    """Suggest a canonical column for a source-style name (``gender`` -> ``sex``)."""
    guess = guess_columns([word])
    return f"; did you mean {next(iter(guess))!r}?" if guess else _suggest(word, tuple(CONTRACT))


class _Checker:
    """Collects problems while reading the raw YAML tree."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def wrong_type(self, where: str, expected: str, value: Any, *, fix: str = "") -> None:
        """Record that ``value`` at ``where`` is not of the ``expected`` type (and how to fix it)."""
        self.add(WRONG_TYPE.format(where=where, expected=expected, got=_type_name(value), value=value) + fix)

    def keys(self, node: Any, where: str, valid: tuple[str, ...]) -> dict:
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.wrong_type(where, "a mapping of keys", node)
            return {}
        for key in node:
            if key not in valid:
                path = f"{where}.{key}" if where else str(key)
                self.add(
                    UNKNOWN_KEY.format(where=path, hint=_suggest(str(key), valid), valid=", ".join(valid))
                )
        return node

    def typed(
        self, node: dict, key: str, where: str, kind: type | tuple, default: Any, *, nullable: bool = False
    ) -> Any:
        if key not in node:
            return default
        value = node[key]
        if value is None and nullable:
            return None
        ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            expected = _EXPECTED.get(kind, str(kind)) if isinstance(kind, type) else str(kind)
            self.wrong_type(_join(where, key), expected, value)
            return default
        return value

    def level(self, value: Any, where: str) -> str | None:
        """Levels and codes are strings; accept whole numbers too (imd quintile 5)."""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.wrong_type(
                where,
                "text or a whole number",
                value,
                fix=" Fix: quote it, e.g. 'yes'." if isinstance(value, bool) else "",
            )
            return None
        return str(value)

    def path(self, value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return resolve(p if p.is_absolute() else self.base / p)


def _as_tuple(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _string_list(
    c: _Checker, node: dict, key: str, where: str, default: tuple[str, ...], valid: tuple[str, ...]
) -> tuple[str, ...]:
    value = c.typed(node, key, where, list, None)
    if value is None:
        return default
    out: list[str] = []
    for i, item in enumerate(value):
        at = f"{_join(where, key)}[{i}]"
        if not isinstance(item, str):
            c.wrong_type(at, "text", item)
        elif item not in valid:
            c.add(f"{at}: unknown name {item!r}{_suggest(item, valid)} Valid: {', '.join(valid)}.")
        elif item in out:
            c.add(f"{at}: {item!r} is listed twice. Fix: remove the duplicate.")
        else:
            out.append(item)
    return tuple(out)


def _report(c: _Checker, node: Any) -> ReportSettings:
    node = c.keys(node, "report", _REPORT)
    d = ReportSettings()
    return ReportSettings(
        title=c.typed(node, "title", "report", str, d.title),
        organisation=c.typed(node, "organisation", "report", str, d.organisation),
        subtitle=c.typed(node, "subtitle", "report", str, d.subtitle, nullable=True),
        period=c.typed(node, "period", "report", str, d.period, nullable=True),
        contact=c.typed(node, "contact", "report", str, d.contact, nullable=True),
    )


def _data(c: _Checker, node: Any) -> DataSource:
    if node is None:
        c.add(
            REQUIRED.format(where="data", example=" with at least data.path: the Parquet or CSV person table")
        )
        node = {}
    node = c.keys(node, "data", _DATA)
    raw_path = c.typed(node, "path", "data", str, None)
    if raw_path is None and "path" not in node and node:
        c.add(REQUIRED.format(where="data.path", example=", e.g. path: synthetic/population.parquet"))
    path = c.path(raw_path) or c.base / "population.parquet"
    fmt = c.typed(node, "format", "data", str, "auto")
    if fmt not in _FORMATS:
        c.add(f"data.format: {fmt!r} is not a format{_suggest(fmt, _FORMATS)} Valid: {', '.join(_FORMATS)}.")
        fmt = "auto"
    if fmt == "auto":
        name = path.name.lower()
        fmt = next((v for k, v in _EXTENSIONS.items() if name.endswith(k)), "")
        if not fmt:
            c.add(
                f"data.format: cannot tell the format of {path.name!r} from its extension. "
                "Fix: set data.format to parquet or csv."
            )
            fmt = "parquet"
    columns: dict[str, str] = {}
    for canon, source in (c.typed(node, "columns", "data", dict, {}) or {}).items():
        at = f"data.columns.{canon}"
        if canon not in CONTRACT:
            c.add(
                f"{at}: {canon!r} is not a contract column{_canonical_hint(str(canon))} "
                "Keys are canonical names, values the column names in your file."
            )
        elif not isinstance(source, str) or not source:
            c.wrong_type(at, "the column name in your file (text)", source)
        else:
            columns[canon] = source
    codes: dict[str, dict[str, str | None]] = {}
    for canon, mapping in (c.typed(node, "codes", "data", dict, {}) or {}).items():
        at = f"data.codes.{canon}"
        col = CONTRACT.get(canon)
        if col is None:
            c.add(f"{at}: {canon!r} is not a contract column{_suggest(str(canon), tuple(CONTRACT))}")
            continue
        if col.kind not in ("category", "boolean", "integer"):
            c.add(
                f"{at}: codes only apply to category, true/false and integer columns; {canon} is {col.kind}."
            )
            continue
        if not isinstance(mapping, dict):
            c.wrong_type(at, "a mapping {source code: canonical code}", mapping)
            continue
        out: dict[str, str | None] = {}
        for src, dst in mapping.items():
            key = c.level(src, f"{at} key {src!r}")
            if key is None:
                continue
            if col.kind == "boolean":
                if not isinstance(dst, bool):
                    c.wrong_type(f"{at}.{key}", "true or false", dst)
                    continue
                out[key] = "true" if dst else "false"
            elif col.kind == "integer":
                if isinstance(dst, bool) or not isinstance(dst, int):
                    c.wrong_type(f"{at}.{key}", "a whole number", dst)
                    continue
                out[key] = str(dst)
            elif dst is None:
                out[key] = None  # treated as missing
            elif dst not in col.codes:
                c.add(
                    f"{at}.{key}: {dst!r} is not a valid {canon} code{_suggest(str(dst), col.codes)} "
                    f"Valid: {', '.join(col.codes)}."
                )
            else:
                out[key] = dst
        codes[canon] = out
    key = c.typed(node, "boundary_key", "data", str, "lsoa")
    if key not in GEOGRAPHY:
        c.add(
            f"data.boundary_key: {key!r} is not a geography column{_suggest(key, GEOGRAPHY)} Valid: {', '.join(GEOGRAPHY)}."
        )
    return DataSource(
        path=path,
        format=fmt,
        columns=columns,
        codes=codes,
        truth=c.path(c.typed(node, "truth", "data", str, None, nullable=True)),
        boundaries=c.path(c.typed(node, "boundaries", "data", str, None, nullable=True)),
        boundary_key=key,
        synthetic=c.typed(node, "synthetic", "data", bool, False),
    )


def _dimension(c: _Checker, item: Any, at: str) -> Dimension | None:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        c.wrong_type(at, "a dimension name or a mapping with name:", item)
        return None
    node = c.keys(item, at, _DIMENSION)
    name = node.get("name")
    if not isinstance(name, str):
        c.add(REQUIRED.format(where=f"{at}.name", example=f" ({', '.join(DEFAULT_DIMENSIONS)})"))
        return None
    valid = (
        *DEFAULT_DIMENSIONS,
        *(
            k
            for k, v in CONTRACT.items()
            if v.kind in ("category", "text") and k not in ("person_id", *DEFAULT_DIMENSIONS)
        ),
    )
    if name not in valid:
        c.add(
            f"{at}.name: {name!r} is not an equity dimension{_suggest(name, valid)} Valid: {', '.join(valid)}."
        )
        return None
    base = DEFAULT_DIMENSIONS.get(name) or Dimension(name, CONTRACT[name].label, CONTRACT[name].codes, {}, "")
    order: tuple[str, ...] = base.order
    if "order" in node:
        raw = c.typed(node, "order", at, list, None)
        if raw is not None:
            levels = [c.level(v, f"{at}.order[{i}]") for i, v in enumerate(raw)]
            order = tuple(v for v in levels if v is not None)
            dupes = sorted({v for v in order if order.count(v) > 1})
            if dupes:
                c.add(
                    f"{at}.order: level(s) {', '.join(dupes)} listed more than once. Fix: list each level once."
                )
    labels = dict(base.labels)
    raw_labels = c.typed(node, "labels", at, dict, None)
    if raw_labels is not None:
        labels = {}
        for k, v in raw_labels.items():
            level = c.level(k, f"{at}.labels key {k!r}")
            if level is None:
                continue
            if order and level not in order:
                c.add(
                    f"{at}.labels.{level}: {level!r} is not one of the levels{_suggest(level, order)} "
                    f"Levels: {', '.join(order)}."
                )
            elif not isinstance(v, str):
                c.wrong_type(f"{at}.labels.{level}", "text", v)
            else:
                labels[level] = v
    reference = (
        base.reference
        if "reference" not in node or node["reference"] is None
        else c.level(node["reference"], f"{at}.reference")
    )
    if reference is None:
        reference = base.reference
    if order and reference and reference not in order:
        c.add(
            f"{at}.reference: {reference!r} is not among the levels of {name}{_suggest(reference, order)} "
            f"Fix: use one of {', '.join(order)}."
        )
    if order and not reference:
        c.add(
            f"{at}.reference: required when order is given. Fix: name the comparison level, e.g. {order[0]!r}."
        )
    label = c.typed(node, "label", at, str, base.label)
    return Dimension(name=name, label=label, order=order, labels=labels, reference=reference)


def _equity(c: _Checker, node: Any) -> tuple[Dimension, ...]:
    node = c.keys(node, "equity", ("dimensions",))
    raw = c.typed(node, "dimensions", "equity", list, None)
    if raw is None:
        return tuple(DEFAULT_DIMENSIONS.values())
    if not raw:
        c.add("equity.dimensions: the list is empty. Fix: list at least one dimension, e.g. - imd_quintile.")
    dims: list[Dimension] = []
    for i, item in enumerate(raw):
        dim = _dimension(c, item, f"equity.dimensions[{i}]")
        if dim is None:
            continue
        if any(d.name == dim.name for d in dims):
            c.add(f"equity.dimensions[{i}]: {dim.name!r} is listed twice. Fix: remove the duplicate.")
            continue
        dims.append(dim)
    return tuple(dims)


def _positive(c: _Checker, value: float, where: str, *, below_one: bool = False) -> None:
    if value <= 0 or (below_one and value >= 1):
        rule = "between 0 and 1 (exclusive)" if below_one else "positive"
        c.add(f"{where}: {value!r} must be {rule}.")


def _model(c: _Checker, node: Any) -> ModelSettings:
    node = c.keys(node, "model", _MODEL)
    d = ModelSettings()
    targets = (*OUTCOMES, *CONDITIONS)
    target = c.typed(node, "target", "model", str, d.target)
    if target not in targets:
        c.add(
            f"model.target: {target!r} is not a valid target{_suggest(target, targets)} Valid: {', '.join(targets)}."
        )
    features_valid = (
        *tuple(k for k in CONTRACT if k not in _NOT_FEATURES and not k.startswith(TRUTH_PREFIX)),
        "age_band",
    )
    features = _string_list(c, node, "features", "model", d.features, features_valid)
    exclude = c.typed(node, "exclude_protected", "model", bool, d.exclude_protected)
    for f in features:
        if f == target:
            c.add(f"model.features: {f!r} is the target and cannot also be a feature. Fix: remove it.")
        elif exclude and f in _PROTECTED_FEATURES:
            c.add(
                f"model.features: {f!r} is a protected characteristic but model.exclude_protected is true. "
                "Fix: remove it from features, or set exclude_protected: false."
            )
    s = ModelSettings(
        target=target,
        features=features,
        exclude_protected=exclude,
        top_fraction=c.typed(node, "top_fraction", "model", float, d.top_fraction),
        test_size=c.typed(node, "test_size", "model", float, d.test_size),
        seed=c.typed(node, "seed", "model", int, d.seed),
        shap_sample=c.typed(node, "shap_sample", "model", int, d.shap_sample),
        mitigation_sample=c.typed(node, "mitigation_sample", "model", int, d.mitigation_sample),
    )
    _positive(c, s.top_fraction, "model.top_fraction", below_one=True)
    _positive(c, s.test_size, "model.test_size", below_one=True)
    _positive(c, s.shap_sample, "model.shap_sample")
    _positive(c, s.mitigation_sample, "model.mitigation_sample")
    return s


def _disclosure(c: _Checker, node: Any) -> DisclosureSettings:
    node = c.keys(node, "disclosure", _DISCLOSURE)
    d = DisclosureSettings()
    s = DisclosureSettings(
        enabled=c.typed(node, "enabled", "disclosure", bool, d.enabled),
        suppress_below=c.typed(node, "suppress_below", "disclosure", int, d.suppress_below),
        rounding=c.typed(node, "rounding", "disclosure", int, d.rounding),
        reason=c.typed(node, "reason", "disclosure", str, d.reason, nullable=True),
    )
    _positive(c, s.suppress_below, "disclosure.suppress_below")
    _positive(c, s.rounding, "disclosure.rounding")
    if not s.enabled and not (s.reason or "").strip():
        c.add(
            "disclosure.enabled: disclosure control is off but no reason is given. Fix: add "
            "disclosure.reason explaining why unprotected numbers may be published, or set enabled: true."
        )
    return s


def parse_mapping(raw: dict, *, path: Path) -> Config:
    """Build a :class:`Config` from an already-parsed YAML mapping.

    Parameters
    ----------
    raw : the YAML document as a dict.
    path : absolute path of the config file; relative paths resolve against its folder.

    References
    ----------
    .. [1] healthgap README, section "Configuration reference".
    """
    c = _Checker(path.parent)
    c.keys(raw, "", _TOP)
    report = _report(c, raw.get("report"))
    data = _data(c, raw.get("data"))
    dimensions = _equity(c, raw.get("equity"))
    conditions = _string_list(c, raw, "conditions", "", CONDITIONS, CONDITIONS)
    if (
        "conditions" in raw
        and not conditions
        and isinstance(raw["conditions"], list)
        and not raw["conditions"]
    ):
        c.add(
            "conditions: the list is empty. Fix: list the conditions your data records, e.g. - hypertension."
        )
    outcomes = _string_list(c, raw, "outcomes", "", OUTCOMES, OUTCOMES)
    model = _model(c, raw.get("model"))
    disclosure = _disclosure(c, raw.get("disclosure"))
    seed = c.typed(raw, "seed", "", int, 2024)
    if c.problems:
        lines = "\n".join(f"  - {p}" for p in c.problems)
        raise ConfigError(f"{HEADER.format(path=path)}\n{lines}")
    defaulted = frozenset(
        key
        for key, given in (
            ("conditions", "conditions" in raw),
            ("outcomes", "outcomes" in raw),
            ("equity.dimensions", isinstance(raw.get("equity"), dict) and "dimensions" in raw["equity"]),
            ("model.target", isinstance(raw.get("model"), dict) and "target" in raw["model"]),
        )
        if not given
    )
    present = _present_columns(data)
    if present is not None:
        # Defaults adapt to the data: an optional column the user never asked for is simply not analysed.
        if "conditions" in defaulted:
            conditions = tuple(x for x in conditions if x in present)
        if "outcomes" in defaulted:
            outcomes = tuple(x for x in outcomes if x in present)
        if "equity.dimensions" in defaulted:
            dimensions = tuple(
                d for d in dimensions if d.name in present or d.name in ("age_band", "imd_quintile")
            )
    return Config(
        path=path,
        data=data,
        dimensions=dimensions,
        conditions=conditions,
        outcomes=outcomes,
        model=model,
        disclosure=disclosure,
        report=report,
        seed=seed,
        defaulted=defaulted,
    )


def _present_columns(data: DataSource) -> set[str] | None:
    """Canonical names of the columns the data file has (None if it cannot be read yet)."""
    if data_file_problem(data.path, fmt=data.format) or not data.path.is_file():
        return None
    try:
        if data.format == "parquet":
            names = list(pl.read_parquet_schema(data.path))
        else:
            names = pl.scan_csv(data.path, infer_schema=False).collect_schema().names()
    except Exception:
        return None
    source_to_canonical = {source: canonical for canonical, source in data.columns.items()}
    return {source_to_canonical.get(n, n) for n in names}


def parse_file(path: Path, *, origin: str = "--config") -> Config:
    """Read and parse a YAML config file (see :func:`parse_mapping`).

    References
    ----------
    .. [1] healthgap README, section "Configuration reference".
    """
    raw = load_yaml(path, missing=MISSING_FILE.format(path=path, origin=origin))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(NOT_MAPPING.format(path=path, kind=_type_name(raw)))
    return parse_mapping(raw, path=path)
