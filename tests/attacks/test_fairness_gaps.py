"""Attack: read what each group's cases or flagged people are from the fairness page's gaps download.

The fairness page's table of largest gaps (``fairness-gaps.csv``, :meth:`FairnessPage.gaps_table`)
names, per dimension and intersection, the highest and the lowest group of each measure. At the
end of round 3 the audit's groups were published with the minimum group size applied only to a
group's *size*: in the default book the sex x age band table published "Female x 50-54: 0.0% of
outcomes found" (0 of about 10 people with the outcome: each of them was missed), "Male x 90+:
100%" of a few dozen, a positive predictive value of 0% among 35 flagged people and AUROCs of
age bands with a handful of cases.

The attacker reads the download and the per-group downloads and learns, for a published share of
0% or 100%, something certain about every person in the group it is counted within. The rule
(``healthgap.disclosure``, rule 9): no measure is published that is counted within fewer than
``min_group`` people (50) as published. The scenario below has the default book's shape: age
bands of hundreds of people (so their size is published) with few cases or few flagged people.
On the round 3 code every test here fails (the gaps table names the 0% and 100% groups).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from healthgap.fairness import GROUP_METRICS, FairnessAudit, GroupReplicates
from healthgap.pages.fairness import FairnessPage
from tests.conftest import build_people
from tests.pages.conftest import build_page

#: Age band -> (people, cases, flagged, true positives): exact counts of a test set.
BANDS: dict[str, tuple[int, int, int, int]] = {
    "40-44": (3000, 60, 20, 0),  # 60 cases, but none of 20 flagged had the outcome: PPV 0%
    "50-54": (2385, 10, 12, 0),  # none of 10 cases found: the 0% the round 3 table published
    "65-69": (2570, 21, 35, 0),  # none of 35 flagged had the outcome: PPV 0%
    "80-84": (1210, 130, 260, 61),
    "85-89": (640, 160, 310, 98),
    "90+": (320, 40, 255, 40),  # all of 40 cases found: 100%
}
MIN_GROUP = 50


def _audit() -> FairnessAudit:
    names = list(GROUP_METRICS)
    rows = []
    for order, (band, (n, pos, sel, tp)) in enumerate(BANDS.items()):
        num = {"prevalence": pos, "mean_predicted": n, "selection_rate": sel, "tpr": tp, "fpr": sel - tp,
               "ppv": tp, "auroc": min(pos, n - pos)}  # fmt: skip
        den = {"prevalence": n, "mean_predicted": n, "selection_rate": n, "tpr": pos, "fpr": n - pos,
               "ppv": sel, "auroc": n}  # fmt: skip
        for j, metric in enumerate(names):
            value = 0.5 + order / 50 if metric in ("auroc", "mean_predicted") else num[metric] / den[metric]
            rows.append({
                "dimension": "age_band", "dimension_label": "Age band", "group": band, "group_label": band,
                "order": order, "metric_order": j, "n": n, "metric": metric, "statistic": GROUP_METRICS[metric],
                "numerator": num[metric], "denominator": den[metric], "value": value,
                "lower_ci": value * 0.9, "upper_ci": min(value * 1.1, 1.0), "confidence": 0.95, "method": "exact",
            })  # fmt: skip
    reps = np.random.default_rng(3).random((20, len(BANDS), len(names)))
    return FairnessAudit(
        model="Gradient-boosted trees",
        target_label="CVD admission",
        threshold=0.1,
        top_fraction=0.05,
        groups=pl.DataFrame(rows),
        replicates=(GroupReplicates("age_band", "Age band", tuple(BANDS), reps),),
        skipped=(),
        n_boot=20,
    )


def _within(metric: str, band: str) -> int:
    """The fewest people a published measure of ``band`` is counted within (exact)."""
    n, pos, sel, _ = BANDS[band]
    return {
        "tpr": min(pos, sel),
        "ppv": min(pos, sel),
        "fpr": min(sel, n - pos),
        "auroc": min(pos, n - pos),
    }.get(metric, n)


@pytest.fixture
def page(tmp_path) -> FairnessPage:
    p = build_page(FairnessPage, build_people(), tmp_path)
    p.problem = None
    p.dimensions = list(p.config.dimensions)
    p.audit = _audit()
    return p


def _rounded(x: int) -> int:
    return int(5 * np.floor(x / 5 + 0.5))


def test_the_gaps_download_names_no_group_whose_measure_rests_on_fewer_than_min_group(page):
    page.gaps_table()
    csv = pl.read_csv(page.book.downloads / "fairness" / "fairness-gaps.csv")
    assert csv.height, "the scenario has published gaps (large age bands)"
    metric = {v: k for k, v in GROUP_METRICS.items()}
    leaks = []
    for row in csv.iter_rows(named=True):
        m = metric[row["statistic"]]
        for end in ("highest", "lowest"):
            band = row[f"{end}_group"]
            if _rounded(_within(m, band)) < MIN_GROUP:
                leaks.append(f"{row['statistic']} {end} {band}: {row[end]} among {_within(m, band)} people")
    assert not leaks, f"gaps published from groups under {MIN_GROUP}: {leaks}"


def test_no_exact_none_or_all_is_published_for_a_handful_of_people(page):
    """The attacker's reading: a published 0% or 100% share says of every person counted whether
    they were found (or had the outcome); never for fewer than ``min_group`` people."""
    groups = page.groups.frame
    shares = groups.filter(pl.col("metric").is_in(["tpr", "ppv", "fpr"]) & pl.col("value").is_not_null())
    certain = [
        (r["group"], r["metric"], r["value"])
        for r in shares.iter_rows(named=True)
        if r["value"] in (0.0, 1.0) and _rounded(_within(r["metric"], r["group"])) < MIN_GROUP
    ]
    assert not certain, f"a none or an all among a handful of people is published: {certain}"
    gaps = page.differences.frame
    ends = {(r["metric"], r[f"{e}_group"]) for r in gaps.iter_rows(named=True) for e in ("highest", "lowest")}
    assert ("tpr", "50-54") not in ends and ("tpr", "90+") not in ends and ("ppv", "40-44") not in ends
    # the large bands are still compared: the rule withholds only what it must
    assert ("tpr", "85-89") in ends and ("tpr", "80-84") in ends


def test_withheld_measures_are_marked_and_the_large_groups_keep_theirs(page):
    groups = page.groups.frame
    small = groups.filter(
        (pl.col("group") == "50-54") & pl.col("metric").is_in(["tpr", "ppv", "fpr", "auroc"])
    )
    assert small["value"].is_null().all() and small["numerator"].is_null().all()
    assert small["suppressed"].all()
    assert small["suppression_reason"].str.contains(f"fewer than {MIN_GROUP} people in the group").all()
    large = groups.filter((pl.col("group") == "85-89") & pl.col("metric").is_in(["tpr", "ppv", "auroc"]))
    assert large["value"].is_not_null().all()


def test_nothing_is_withheld_with_the_rule_off():
    from healthgap.config import DisclosureSettings
    from healthgap.pages._fairness_gaps import withhold_small_groups

    exact = _audit().groups
    for settings in (DisclosureSettings(min_group=1), DisclosureSettings(enabled=False, reason="test")):
        assert withhold_small_groups(exact, settings=settings).equals(exact)
    withheld = withhold_small_groups(exact, settings=DisclosureSettings())
    hidden = withheld.filter(pl.col("numerator").is_null())
    assert set(hidden["metric"]) == {"tpr", "ppv", "fpr", "auroc"}
    assert set(hidden["group"]) == {"40-44", "50-54", "65-69", "90+"}
