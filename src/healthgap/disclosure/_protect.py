"""protect(): primary suppression, rounding, derived and secondary suppression."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from healthgap.config import DisclosureSettings
from healthgap.disclosure._rules import (
    ERR_DERIVED_KEY,
    ERR_MISSING,
    ERR_NEGATIVE,
    ERR_NO_COUNTS,
    ERR_NOT_FRAME,
    ERR_NOT_NUMERIC,
    ERR_OVERLAP,
    ERR_REFERENCE,
    ERR_SIZE,
    ERR_TOTAL_ROW,
    ERR_TOTALS,
    ERR_TOTALS_DTYPE,
    ERR_TOTALS_GUESSED,
    OFF_PREFIX,
    REASON_CONFIDENTIAL,
    REASON_DERIVED,
    REASON_INPUT,
    REASON_REFERENCE,
    DisclosureError,
    _check_settings,
    min_group_reason,
    round_to_base,
)

__all__ = ["protect", "disclosure_notice"]


def _validate(
    df: pl.DataFrame,
    counts: Sequence[str],
    derived: Mapping[str, Sequence[str]],
    by: Sequence[str],
    across: Sequence[str],
    totals: str | None,
    reference: str | None = None,
    relative: Sequence[str] = (),
    size: str | None = None,
) -> None:
    if not counts:
        raise DisclosureError(ERR_NO_COUNTS)
    if totals in ("auto", "all", "labels"):
        raise DisclosureError(ERR_TOTALS_GUESSED.format(value=totals))
    if totals is not None and not isinstance(totals, str):
        raise DisclosureError(ERR_TOTALS.format(value=totals))
    present = ", ".join(df.columns)
    derived_cols = [c for cols in derived.values() for c in cols]
    refs = [reference] if reference is not None else []
    groups = (
        ("counts", counts),
        ("derived", derived_cols),
        ("by", by),
        ("across", across),
        ("reference", refs),
        ("relative", relative),
        ("totals", [totals] if totals is not None else []),
    )
    for arg, cols in groups:
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise DisclosureError(ERR_MISSING.format(missing=missing, arg=arg, present=present))
    bad_keys = [k for k in derived if k not in counts]
    if bad_keys:
        raise DisclosureError(ERR_DERIVED_KEY.format(keys=bad_keys, counts=list(counts)))
    overlap = sorted(
        set(counts).union(derived_cols, relative) & set(by).union(across, [totals] if totals else [])
    )
    if overlap:
        raise DisclosureError(ERR_OVERLAP.format(cols=overlap))
    if size is not None and size not in counts:
        raise DisclosureError(ERR_SIZE.format(col=size, counts=list(counts)))
    if totals is not None:
        if df.schema[totals] != pl.Boolean:
            raise DisclosureError(ERR_TOTALS_DTYPE.format(col=totals, dtype=df.schema[totals]))
        if across:
            bad = df.with_row_index("__i").filter(
                pl.col(totals).fill_null(False) & pl.all_horizontal([pl.col(c).is_not_null() for c in across])
            )
            if bad.height:
                rows = bad["__i"].head(5).to_list()
                raise DisclosureError(ERR_TOTAL_ROW.format(rows=rows, col=totals, across=list(across)))
    if reference is not None and df.schema[reference] != pl.Boolean:
        raise DisclosureError(ERR_REFERENCE.format(col=reference, dtype=df.schema[reference]))
    for c in counts:
        if not df.schema[c].is_numeric():
            raise DisclosureError(ERR_NOT_NUMERIC.format(col=c, dtype=df.schema[c]))
    negatives = df.select([pl.col(c).filter(pl.col(c) < 0).unique().head(5).implode() for c in counts])
    for c in counts:
        values = negatives[c][0].to_list()
        if values:
            raise DisclosureError(ERR_NEGATIVE.format(col=c, values=values))


Family = tuple[list[pl.Expr], pl.Expr, pl.Expr]


def _sets(*, by: Sequence[str], across: Sequence[str], totals: str | None) -> list[Family]:
    """(partition, membership, is-the-set-total) expressions for every family of additive sets.

    Total rows are the ones the caller marks in the boolean column ``totals`` (rule 5); in a
    cross-tabulation such a row is the total along each ``across`` column it holds null in.
    Nothing is read from labels: a group called "Total" is a group.
    """
    by_exprs = [pl.col(c) for c in by] or [pl.col("__hg_row") * 0]
    marked = pl.col(totals).fill_null(False) if totals is not None else pl.col("__hg_row").is_null()
    if across:
        out = []
        for d in across:
            others = [pl.col(o) for o in across if o != d]
            total = marked & pl.col(d).is_null()
            out.append(([*by_exprs, *others], ~total, total))
        return out
    return [(by_exprs, ~marked, marked)]


def _line_rule(df: pl.DataFrame, count: str, flag: str, sets: list[Family]) -> pl.DataFrame:
    """Add secondary suppressions to boolean column ``flag`` until every set has 0 or >= 2."""
    row, c = pl.col("__hg_row"), pl.col(count)
    while True:
        before = int(df[flag].sum())
        for partition, member, _ in sets:
            f = pl.col(flag)
            need = ((f & member).sum().over(partition) == 1) & (member.sum().over(partition) >= 2)
            eligible = member & ~f
            chosen = (
                row.filter(eligible)
                .sort_by([(c == 0).filter(eligible), c.filter(eligible), row.filter(eligible)])
                .first()
                .over(partition)
            )
            df = df.with_columns((f | (need & eligible & (row == chosen)).fill_null(False)).alias(flag))
        if int(df[flag].sum()) == before:
            return df


def _equations(df: pl.DataFrame, sets: list[Family], by: Sequence[str]) -> pl.DataFrame:
    """Long frame (row, group, eq, coef): each set says sum(members) - its total row = a known number."""
    group = pl.struct(by).hash() if by else pl.lit(0, dtype=pl.UInt64)
    parts = [
        df.select(
            pl.col("__hg_row"),
            group.alias("__grp"),
            pl.concat_str([pl.lit(f"{i}:"), pl.struct(part).hash().cast(pl.String)]).alias("__eq"),
            pl.when(member).then(1).when(total).then(-1).otherwise(0).alias("__coef"),
        )
        for i, (part, member, total) in enumerate(sets)
    ]
    return pl.concat(parts).filter(pl.col("__coef") != 0)


def _determined_rows(eqs: pl.DataFrame, flagged: pl.Series) -> list[int]:
    """Suppressed cells whose value follows from the published totals (linear algebra, per group).

    A cell is recoverable iff its unit vector lies in the row space of the
    constraint matrix, i.e. it does not move along any null-space direction.
    """
    unknown = eqs.filter(pl.col("__hg_row").is_in(flagged.implode()))
    out: list[int] = []
    for (_,), grp in unknown.group_by(["__grp"], maintain_order=True):
        rows = grp["__hg_row"].unique().sort()
        if rows.len() == 0:
            continue
        eq_ids = grp["__eq"].unique().sort()
        col_of = grp["__hg_row"].replace_strict(rows, pl.int_range(rows.len(), eager=True)).to_numpy()
        row_of = grp["__eq"].replace_strict(eq_ids, pl.int_range(eq_ids.len(), eager=True)).to_numpy()
        a = np.zeros((eq_ids.len(), rows.len()))
        np.add.at(a, (row_of, col_of), grp["__coef"].to_numpy())
        _, sing, vt = np.linalg.svd(a)
        rank = int((sing > 1e-9 * max(1.0, sing.max(initial=0.0))).sum())
        null = vt[rank:]
        moves = np.abs(null).sum(axis=0) if null.size else np.zeros(rows.len())
        out.extend(rows.filter(pl.Series(moves < 1e-9)).to_list())
    return out


def _secondary(
    df: pl.DataFrame,
    count: str,
    flag: str,
    primary_flag: str,
    sets: list[Family],
    by: Sequence[str],
    linear: bool,
) -> pl.DataFrame:
    """Line rule to a fixpoint; for cross-tabulations also suppress until no cell is recoverable."""
    df = _line_rule(df, count, flag, sets)
    if not linear:
        return df
    eqs = _equations(df, sets, by)
    while True:
        flagged = df.filter(pl.col(flag))["__hg_row"]
        primary = set(df.filter(pl.col(primary_flag))["__hg_row"].to_list())
        exposed = [r for r in _determined_rows(eqs, flagged) if r in primary]
        if not exposed:
            return df
        related = eqs.filter(pl.col("__hg_row").is_in(exposed))["__eq"].unique()
        candidates = (
            eqs.filter(pl.col("__eq").is_in(related.implode()) & (pl.col("__coef") == 1))
            .select("__hg_row")
            .unique()
            .join(df.select("__hg_row", count, flag), on="__hg_row")
            .filter(~pl.col(flag))
            .sort([pl.col(count) == 0, pl.col(count), pl.col("__hg_row")])
        )
        if candidates.height == 0:
            return df
        pick = candidates["__hg_row"][0]
        df = df.with_columns((pl.col(flag) | (pl.col("__hg_row") == pick)).alias(flag))
        df = _line_rule(df, count, flag, sets)


def _known(*cols: str) -> pl.Expr:
    return pl.all_horizontal([pl.col(c).is_not_null() for c in cols])


def _complements(df: pl.DataFrame, counts: Sequence[str]) -> list[tuple[str, str, str]]:
    """(total, part, part) count columns with total == part + part on every row (e.g. people, missing, recorded)."""
    triples = [
        (t, a, b) for t in counts for i, a in enumerate(counts) for b in counts[i + 1 :] if t not in (a, b)
    ]
    if not triples or df.height == 0:
        return []
    checks = df.select(
        [
            (
                ((pl.col(t) == pl.col(a) + pl.col(b)) | ~_known(t, a, b)).all()
                & _known(t, a, b).any()
                & (pl.col(a) != 0).any()
                & (pl.col(b) != 0).any()
            ).alias(f"__{i}")
            for i, (t, a, b) in enumerate(triples)
        ]
    ).row(0)
    return [tr for tr, holds in zip(triples, checks) if holds]


def _subsets(df: pl.DataFrame, counts: Sequence[str]) -> list[tuple[str, str]]:
    """(part, total) count columns with part <= total on every row (treated <= eligible, events <= people)."""
    pairs = [(a, t) for a in counts for t in counts if a != t]
    if not pairs or df.height == 0:
        return []
    checks = df.select(
        [
            (
                ((pl.col(a) <= pl.col(t)) | ~_known(a, t)).all()
                & _known(a, t).any()
                & (pl.col(a) < pl.col(t)).any()
            ).alias(f"__{i}")
            for i, (a, t) in enumerate(pairs)
        ]
    ).row(0)
    return [pair for pair, holds in zip(pairs, checks) if holds]


def _row_rules(
    work: pl.DataFrame,
    triples: list[tuple[str, str, str]],
    subsets: list[tuple[str, str]],
    sets: list[Family],
    by: Sequence[str],
    linear: bool,
) -> pl.DataFrame:
    """Rule 6: counts in one row that are parts of another count in that row.

    A part next to a small (primary-suppressed) total is suppressed with it: beside
    "[c] eligible", "0 treated" says that none of a handful of people was treated. A
    part suppressed next to a published total and other part is suppressed with its
    complement. Then rule 4 again, until nothing changes.
    """
    parts = sorted({c for _, a, b in triples for c in (a, b)} | {a for a, _ in subsets})
    for a, t in subsets:
        work = work.with_columns((pl.col(f"__f_{a}") | pl.col(f"__p_{t}")).alias(f"__f_{a}"))
    while parts:
        before = int(work.select(pl.sum_horizontal(pl.col(f"__f_{c}").sum() for c in parts)).item())
        for t, a, b in triples:
            fa, fb, ft = pl.col(f"__f_{a}"), pl.col(f"__f_{b}"), pl.col(f"__f_{t}")
            work = work.with_columns((fa | (fb & ~ft)).alias(f"__f_{a}"), (fb | (fa & ~ft)).alias(f"__f_{b}"))
        for c in parts:  # new suppressions may leave a lone suppressed cell in a column's sets
            work = _secondary(work, c, f"__f_{c}", f"__p_{c}", sets, by, linear=linear)
        if int(work.select(pl.sum_horizontal(pl.col(f"__f_{c}").sum() for c in parts)).item()) == before:
            return work
    return work


def _within(df: pl.DataFrame, counts: Sequence[str], size: str) -> list[str]:
    """The count columns measured within each row's group: every count but ``size`` and the
    counts never smaller than it (a total of the whole population beside each group's size)."""
    others = [c for c in counts if c != size]
    if not others or df.height == 0:
        return others
    larger = df.select([((pl.col(c) >= pl.col(size)) | ~_known(c, size)).all().alias(c) for c in others]).row(
        0, named=True
    )
    return [c for c in others if not larger[c]]


def _tiny(size: str, settings: DisclosureSettings) -> pl.Expr:
    """Rows whose group is smaller than ``settings.min_group`` as published (rounded); unknown sizes too."""
    col = pl.col(size)
    published = round_to_base(col, settings.rounding)
    return (col.is_null() | ((col > 0) & (published < settings.min_group))).fill_null(True)


def protect(
    df: pl.DataFrame | pl.LazyFrame,
    *,
    counts: Sequence[str],
    derived: Mapping[str, Sequence[str]] | None = None,
    by: Sequence[str] | None = None,
    across: Sequence[str] | None = None,
    totals: str | None = None,
    size: str | None = None,
    reference: str | None = None,
    relative: Sequence[str] | None = None,
    settings: DisclosureSettings | None = None,
) -> pl.DataFrame:
    """Apply disclosure control to an aggregated table (see the module docstring for the rules).

    Parameters
    ----------
    df : aggregated table, one row per cell.
    counts : count columns to suppress and round.
    derived : count column -> columns computed from it (rates, CIs, ratios),
        suppressed wherever the count is, e.g. ``{"events": ["value", "lower_ci", "upper_ci"]}``.
    by : columns whose groups are independent tables (cells in different groups
        never add up to a common total), e.g. ``["condition"]``.
    across : dimension columns along which cells add up to totals. Omit for a 1-D
        table (each ``by`` group is one set); give two or more for a cross-tabulation.
    totals : boolean column, True on the rows that are totals of their set (rule 5);
        None (the default): every row is a cell. Never guessed from a label.
    size : the count column giving each row's group size (rule 9), e.g. ``"population"``;
        None: no minimum group size.
    reference : boolean column, True on the reference row of each ``by`` group (the
        group that ``relative`` columns compare against); see rule 7.
    relative : columns computed against the reference row (rate ratios and their
        CIs): null in the whole ``by`` group when the reference row has a suppressed count.
    settings : thresholds; defaults to :class:`~healthgap.config.DisclosureSettings` (1-7, base 5).

    Returns
    -------
    polars.DataFrame
        The table with counts rounded or null, derived values null where their
        count is suppressed, and ``suppressed`` / ``suppression_reason`` columns
        (plus per-count detail with several count columns). With
        ``settings.enabled`` False the data are returned unchanged and
        ``suppression_reason`` starts with :data:`OFF_PREFIX`.

    Raises
    ------
    DisclosureError
        Missing columns, non-numeric or negative counts, or invalid settings.

    References
    ----------
    .. [1] ONS, Policy on protecting confidentiality in tables of birth and death statistics, 2014.
    .. [2] Hundepool A et al. Statistical Disclosure Control. Wiley, 2012, section 5.2.
    """
    settings = _check_settings(settings)
    frame = df.collect() if isinstance(df, pl.LazyFrame) else df
    if not isinstance(frame, pl.DataFrame):
        raise DisclosureError(ERR_NOT_FRAME.format(kind=type(df).__name__))
    counts, by, across, relative = (
        [v] if isinstance(v, str) else list(v or []) for v in (counts, by, across, relative)
    )  # a lone column name is one column, not a sequence of letters
    derived = {k: [v] if isinstance(v, str) else list(v) for k, v in (derived or {}).items()}
    if totals == "none":  # the former spelling of "no total rows"
        totals = None
    _validate(frame, counts, derived, by, across, totals, reference, relative, size)
    if reference is None:
        relative = []
    floats = [c for c in counts if frame.schema[c].is_float()]
    if floats:  # NaN counts are unknown: treat them like nulls (suppressed in the input)
        frame = frame.with_columns(pl.col(floats).fill_nan(None))
    prior = frame["suppression_reason"] if "suppression_reason" in frame.columns else None
    drop = ["suppressed", "suppression_reason"]
    drop += [f"{p}_{c}" for c in counts for p in ("suppressed", "suppression_reason")]
    base = frame.drop([c for c in drop if c in frame.columns])
    if not settings.enabled:
        return base.with_columns(
            suppressed=pl.lit(False), suppression_reason=pl.lit(f"{OFF_PREFIX}: {settings.reason}")
        )
    work = base.with_row_index("__hg_row")
    if prior is not None:
        work = work.with_columns(prior.alias("__hg_prior"))
    else:
        work = work.with_columns(pl.lit(None, dtype=pl.String).alias("__hg_prior"))
    sets = _sets(by=by, across=across, totals=totals)
    within: list[str] = []
    tiny = pl.lit(False)
    if size is not None and settings.min_group > 1:
        within = _within(base, counts, size)
        tiny = _tiny(size, settings)
    for c in counts:
        col = pl.col(c)
        grouped = tiny & pl.lit(c in within)  # rule 9: measured within a group too small to publish
        primary = col.is_null() | ((col > 0) & (col < settings.suppress_below)) | grouped
        work = work.with_columns(
            primary.alias(f"__p_{c}"), primary.alias(f"__f_{c}"), grouped.alias(f"__g_{c}")
        )
        work = _secondary(work, c, f"__f_{c}", f"__p_{c}", sets, by, linear=len(across) >= 2)
    work = _row_rules(
        work, _complements(base, counts), _subsets(base, counts), sets, by, linear=len(across) >= 2
    )
    for c in counts:
        col = pl.col(c)
        reason = (  # item 7: primary and secondary suppression read alike
            pl.when(col.is_null())
            .then(pl.coalesce(pl.col("__hg_prior"), pl.lit(REASON_INPUT)))
            .when(pl.col(f"__g_{c}"))
            .then(pl.lit(min_group_reason(settings)))
            .when(pl.col(f"__f_{c}"))
            .then(pl.lit(REASON_CONFIDENTIAL))
        )
        work = work.with_columns(reason.alias(f"__r_{c}"))
    multi = len(counts) > 1
    parts = []
    for c in counts:
        label = f"{c}: " if multi else ""
        text = pl.concat_str([pl.lit(label), pl.col(f"__r_{c}")])
        if derived.get(c):
            text = pl.concat_str([text, pl.lit(f"; {', '.join(derived[c])}: {REASON_DERIVED}")])
        parts.append(pl.when(pl.col(f"__f_{c}")).then(text))
    flags = [pl.col(f"__f_{c}") for c in counts]
    if (
        relative and reference is not None
    ):  # rule 7: the reference row's count is suppressed -> no ratios in its group
        partition = [pl.col(c) for c in by] or [pl.col("__hg_row") * 0]
        ref_hidden = (pl.col(reference).fill_null(False) & pl.any_horizontal(flags)).any().over(partition)
        work = work.with_columns(ref_hidden.alias("__hg_refhidden"))
        parts.append(
            pl.when(pl.col("__hg_refhidden")).then(pl.lit(f"{', '.join(relative)}: {REASON_REFERENCE}"))
        )
        flags.append(pl.col("__hg_refhidden"))
    updates: dict[str, pl.Expr] = {}
    for c in counts:
        value = round_to_base(c, settings.rounding).cast(base.schema[c])
        updates[c] = pl.when(pl.col(f"__f_{c}")).then(None).otherwise(value)
    for c, cols in derived.items():
        for d in cols:
            current = updates.get(d, pl.col(d))
            updates[d] = pl.when(pl.col(f"__f_{c}")).then(None).otherwise(current)
    for d in relative:
        updates[d] = pl.when(pl.col("__hg_refhidden")).then(None).otherwise(updates.get(d, pl.col(d)))
    if "note" in work.columns:  # a statistic's note ("total events < 10") says how big a count is
        updates["note"] = pl.when(pl.any_horizontal(flags)).then(None).otherwise(pl.col("note"))
    out = work.with_columns(
        *[e.alias(k) for k, e in updates.items()],
        suppressed=pl.any_horizontal(flags),
        suppression_reason=pl.when(pl.any_horizontal(flags)).then(
            pl.concat_str(parts, separator="; ", ignore_nulls=True)
        ),
    )
    if multi:
        out = out.with_columns(
            *[pl.col(f"__f_{c}").alias(f"suppressed_{c}") for c in counts],
            *[pl.col(f"__r_{c}").alias(f"suppression_reason_{c}") for c in counts],
        )
    return out.select([c for c in out.columns if not c.startswith("__")])


def disclosure_notice(settings: DisclosureSettings | None) -> str | None:
    """The warning every page must show when disclosure control is off, else None.

    References
    ----------
    .. [1] UK Statistics Authority, Code of Practice for Statistics, T6 (data governance).
    """
    if settings is None or settings.enabled:
        return None
    reason = (settings.reason or "").strip() or "no reason given"
    return (
        f"Disclosure control is OFF in this report ({reason}): counts of 1-{settings.suppress_below - 1} "
        "are shown and counts are not rounded, so people could be identified. "
        "Do not publish or share this report outside the approved setting."
    )
