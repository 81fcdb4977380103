"""The fairness page's speed-ups compute exactly what the code they replace computed.

Each rewritten computation is checked against the old one, kept here as the reference (the
loop or call as it was), on small random problems: the results must be equal bit for bit, so
that nothing published changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import sparse

import healthgap.stats.bootstrap as bootstrap_module
from healthgap.fairness import _multiplicity, _reference
from healthgap.fairness._groups import Grouping, groupings
from healthgap.fairness._multiplicity import gap_family, group_sums, group_sums_batch, tpr_gaps
from healthgap.stats import bootstrap_weights, replicate_sums

#: People in the fitted model's synthetic population.
N_PEOPLE = 6_000


def old_group_sums(
    codes: np.ndarray | Sequence[np.ndarray],
    k: int | Sequence[int],
    values: np.ndarray,
    *,
    n_boot: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``group_sums`` as it was before the batched version (one weight stream per call)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n, q = values.shape
    code_list = [codes] if isinstance(codes, np.ndarray) else list(codes)
    ks = [k] if isinstance(k, int) else list(k)
    offsets = np.concatenate([[0], np.cumsum(ks)])
    total = int(offsets[-1])
    rows_all, cols_all, data_all = [], [], []
    for c, start in zip(code_list, offsets[:-1], strict=True):
        c = np.asarray(c, dtype=np.int64)
        rows = np.flatnonzero(c >= 0)
        rows_all.append(np.repeat(rows, q))
        cols_all.append((np.arange(q)[None, :] * total + start + c[rows][:, None]).ravel())
        data_all.append(values[rows].ravel())
    Q = sparse.csc_matrix(
        (np.concatenate(data_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(n, q * total),
        dtype=np.float64,
    )
    exact = np.asarray(Q.sum(axis=0)).reshape(q, total).T
    parts = [replicate_sums(W, Q) for W in bootstrap_weights(n, n_boot=n_boot, seed=seed)] if n_boot else []
    reps = np.concatenate(parts) if parts else np.zeros((0, q * total))
    return exact, reps.reshape(-1, q, total).transpose(0, 2, 1)


def _problems(rng: np.random.Generator, n: int) -> list[tuple]:
    """Three problems on the same people: one grouping; two groupings at once; real-valued sums."""
    a = np.where(rng.random(n) < 0.05, -1, rng.integers(0, 4, n))
    b = rng.integers(0, 7, n)
    y = rng.random(n) < 0.3
    p = rng.random(n)
    return [
        (a, 4, np.column_stack([y & (p > 0.8), y])),
        ([a, b], [4, 7], np.column_stack([np.ones(n), y, p * y])),
        (b, 7, np.column_stack([p, p**2, np.ones(n)])),
    ]


@pytest.mark.parametrize("chunk_rows", [1000, 7])
def test_group_sums_batch_equals_one_call_per_problem(monkeypatch, chunk_rows):
    """Bit for bit, with the replicates in one chunk or in many (chunks of 7 rows)."""
    n, n_boot, seed = 900, 40, 5
    monkeypatch.setattr(bootstrap_module, "CHUNK_CELLS", chunk_rows * n)
    problems = _problems(np.random.default_rng(1), n)
    got = group_sums_batch(problems, n_boot=n_boot, seed=seed)
    assert len(got) == len(problems)
    for (codes, k, values), (exact, reps) in zip(problems, got, strict=True):
        old_exact, old_reps = old_group_sums(codes, k, values, n_boot=n_boot, seed=seed)
        assert exact.shape == old_exact.shape and reps.shape == old_reps.shape == (n_boot, *old_exact.shape)
        assert np.array_equal(exact, old_exact)
        assert np.array_equal(reps, old_reps)
        # and the single-problem entry point is the same computation
        one_exact, one_reps = group_sums(codes, k, values, n_boot=n_boot, seed=seed)
        assert np.array_equal(one_exact, old_exact) and np.array_equal(one_reps, old_reps)


def test_group_sums_batch_without_replicates():
    problems = _problems(np.random.default_rng(2), 300)
    for (codes, k, values), (exact, reps) in zip(
        problems, group_sums_batch(problems, n_boot=0, seed=0), strict=True
    ):
        old_exact, old_reps = old_group_sums(codes, k, values, n_boot=0, seed=0)
        assert np.array_equal(exact, old_exact) and reps.shape == old_reps.shape
    assert group_sums_batch([], n_boot=10, seed=0) == []


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    import shutil

    from healthgap import data, synth
    from healthgap.config import load_config
    from healthgap.models import fit
    from tests.conftest import DEFAULT_YML

    base = tmp_path_factory.mktemp("speed")
    synth.write(base / "synthetic", n=N_PEOPLE, seed=9)
    shutil.copyfile(DEFAULT_YML, base / "default.yml")
    config = load_config(base / "default.yml")
    result = fit(data.load(config), settings=config.model, n_boot=10)
    truth = json.loads(config.data.truth.read_text())
    return result, truth, config


def test_tpr_gaps_equal_one_gap_family_per_grouping(fitted):
    """The old ``tpr_gaps``: one :func:`gap_family` (one weight stream) per grouping."""
    result, _, config = fitted
    seed, n_boot = 11, 120
    families = tpr_gaps(result, dimensions=config.dimensions, n_boot=n_boot, seed=seed)
    flagged = result.flagged("boosted")
    y = np.asarray(result.y_test, bool)
    found, _ = groupings(result.groups_test, config.dimensions, intersections=())
    old = [gap_family(g, numerator=flagged & y, denominator=y, n_boot=n_boot, seed=seed) for g in found]
    assert len(families) == len(old) >= 3
    for new, ref in zip(families, old, strict=True):
        assert (new.dimension, new.dimension_label) == (ref.dimension, ref.dimension_label)
        assert_frame_equal(new.groups, ref.groups)
        assert_frame_equal(new.pairs, ref.pairs)


def test_capacity_reference_equals_one_group_sums_per_grouping(fitted, monkeypatch):
    """The old ``capacity_reference`` called ``group_sums`` once per grouping."""
    result, truth, config = fitted
    new = _reference.capacity_reference(result, truth=truth, dimensions=config.dimensions, n_boot=60, seed=4)

    def one_by_one(problems, *, n_boot, seed):
        return [old_group_sums(c, k, v, n_boot=n_boot, seed=seed) for c, k, v in problems]

    monkeypatch.setattr(_reference, "group_sums_batch", one_by_one)
    old = _reference.capacity_reference(result, truth=truth, dimensions=config.dimensions, n_boot=60, seed=4)
    assert new is not None and old is not None and new.groups.height > 0
    for name in ("groups", "gaps", "pairs"):
        assert_frame_equal(getattr(new, name), getattr(old, name))


def test_gap_family_unchanged_by_the_split(monkeypatch):
    """``gap_family`` still draws its own replicates (``group_sums``) and words them as before."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, 600)
    levels = ("a", "b", "c")
    g = Grouping(name="d", label="D", columns=("d",), levels=levels, labels=levels, codes=codes)
    case = rng.random(600) < 0.5
    found = case & (rng.random(600) < 0.4)
    new = gap_family(g, numerator=found, denominator=case, n_boot=100, seed=2)
    monkeypatch.setattr(_multiplicity, "group_sums", old_group_sums)
    old = gap_family(g, numerator=found, denominator=case, n_boot=100, seed=2)
    assert_frame_equal(new.groups, old.groups)
    assert_frame_equal(new.pairs, old.pairs)
    assert isinstance(new.groups, pl.DataFrame)


@pytest.mark.parametrize("n_boot", [30, 5_000])
def test_replicate_weights_are_bootstrap_weights(monkeypatch, n_boot):
    """The same chunks as ``bootstrap_weights``; a small set is kept (read-only) and handed out
    again for the same people, replicates and seed, a large one (over REUSE_CELLS) drawn anew."""
    n = 4_000
    monkeypatch.setattr(_multiplicity, "REUSE_CELLS", 200_000)
    old = list(bootstrap_weights(n, n_boot=n_boot, seed=8))
    first = list(_multiplicity.replicate_weights(n, n_boot=n_boot, seed=8))
    again = list(_multiplicity.replicate_weights(n, n_boot=n_boot, seed=8))
    assert len(first) == len(old) == len(again)
    for a, b, c in zip(old, first, again, strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)
        assert b.flags.f_contiguous and b.T.flags.c_contiguous  # what replicate_sums multiplies
    kept = n * n_boot <= 200_000
    assert all((b is c) == kept for b, c in zip(first, again, strict=True))
    if kept:
        assert not first[0].flags.writeable
    # another seed, size or number of replicates is another stream
    other = np.concatenate(list(_multiplicity.replicate_weights(n, n_boot=n_boot, seed=9)))
    assert not np.array_equal(other, np.concatenate(old))
    shorter = np.concatenate(list(_multiplicity.replicate_weights(n, n_boot=n_boot - 1, seed=8)))
    assert shorter.shape[0] == n_boot - 1
    assert np.array_equal(shorter, np.concatenate(old)[: n_boot - 1])
    smaller = np.concatenate(list(_multiplicity.replicate_weights(n - 1, n_boot=n_boot, seed=8)))
    assert smaller.shape[1] == n - 1


def test_audit_bootstrap_unchanged(fitted, monkeypatch):
    """The audit's replicates come from ``replicate_weights`` (kept between analyses); with the
    old stream (``bootstrap_weights`` every time) every number is the same."""
    from healthgap.fairness import _audit

    result, _, config = fitted
    new = _audit.audit(result, dimensions=config.dimensions, n_boot=40, seed=6)
    monkeypatch.setattr(_audit, "replicate_weights", bootstrap_weights)
    old = _audit.audit(result, dimensions=config.dimensions, n_boot=40, seed=6)
    assert_frame_equal(new.groups, old.groups)
    for a, b in zip(new.replicates, old.replicates, strict=True):
        assert np.array_equal(a.replicates, b.replicates, equal_nan=True)


def old_weighted_calibration(W, y, p, *, iterations=25, start=None):
    """``weighted_calibration`` as it was: the slope-1 fit of the intercept computed every moment."""
    from scipy.special import expit, logit

    eps = 1e-12
    yv = np.asarray(y, np.float64)
    lp = logit(np.clip(np.asarray(p, np.float64), 1e-10, 1 - 1e-10))
    lp2 = lp * lp
    c = W.shape[0]
    a0, b0, b1 = start if start is not None else (0.0, 0.0, 1.0)
    wy, wylp = W @ yv, W @ (yv * lp)
    buf = np.empty_like(W)
    t = np.empty_like(W)

    def _moments(intercept, slope):
        np.multiply(slope[:, None], lp, out=buf)
        np.add(buf, intercept[:, None], out=buf)
        expit(buf, out=buf)
        np.multiply(W, buf, out=t)
        s1, s1lp = t.sum(axis=1), t @ lp
        np.multiply(t, buf, out=buf)
        return s1, s1lp, buf.sum(axis=1), buf @ lp, t @ lp2 - buf @ lp2

    a = np.full(c, a0, dtype=np.float64)
    ones = np.ones(c)
    for _ in range(iterations):
        s1, _, s2, _, _ = _moments(a, ones)
        step = (wy - s1) / np.maximum(s1 - s2, eps)
        a = a + step
        if np.nanmax(np.abs(step)) < 1e-10:
            break
    beta0, beta1 = np.full(c, b0, dtype=np.float64), np.full(c, b1, dtype=np.float64)
    for _ in range(iterations):
        s1, s1lp, s2, s2lp, h11 = _moments(beta0, beta1)
        g0, g1 = wy - s1, wylp - s1lp
        h00, h01 = s1 - s2, s1lp - s2lp
        det = h00 * h11 - h01 * h01
        det = np.where(np.abs(det) < eps, eps, det)
        step0 = (h11 * g0 - h01 * g1) / det
        step1 = (h00 * g1 - h01 * g0) / det
        beta0, beta1 = beta0 + step0, beta1 + step1
        if np.nanmax(np.abs(np.stack([step0, step1]))) < 1e-10:
            break
    return a, beta1


@pytest.mark.parametrize("start", [None, (0.2, -0.1, 0.9)])
@pytest.mark.parametrize("iterations", [25, 2])
def test_weighted_calibration_unchanged(start, iterations):
    from healthgap.models._metrics import weighted_calibration

    rng = np.random.default_rng(21)
    n = 3_000
    p = np.clip(rng.beta(1, 12, n), 0, 1)
    p[:3] = (0.0, 1.0, 0.5)  # clipped ends
    y = rng.random(n) < np.clip(1.3 * p, 0, 1)
    W = np.concatenate([np.ones((1, n)), next(bootstrap_weights(n, n_boot=30, seed=2))])
    a, b = weighted_calibration(W, y, p, start=start, iterations=iterations)
    old_a, old_b = old_weighted_calibration(W, y, p, start=start, iterations=iterations)
    assert np.array_equal(a, old_a) and np.array_equal(b, old_b)
    assert np.isfinite(a).all() and np.isfinite(b).all()
