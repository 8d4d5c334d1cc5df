"""Agreement statistics against published worked examples, plus degenerate cases and label-based helpers."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.agreement import (
    active_labels,
    binomial_test_p,
    category_table,
    cohen_kappa,
    disputed_pairs,
    estimated_flip_rate,
    fleiss_kappa,
    flip_rate_from_disagreement,
    krippendorff_alpha_nominal,
    position_bias_rate,
    reliability_data,
)
from workbench.core.entities import Label

N = None

# Fleiss (1971) as worked on Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories -> 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", §C: 4 observers x 12 units, missing values.
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
]


def lab(i: int, pair: int, annotator: int, choice: str, *, obj: int = 1, swapped: bool = False,
        superseded: bool = False) -> Label:
    return Label(id=i, pair_id=pair, objective_id=obj, annotator_id=annotator, choice=choice,  # type: ignore[arg-type]
                 shown_swapped=swapped, superseded=superseded)


def test_cohen_kappa_wikipedia_50_items() -> None:
    # Wikipedia "Cohen's kappa": yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o 0.7, p_e 0.5, kappa 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)
    assert cohen_kappa(b, a) == pytest.approx(0.4, abs=1e-12)


def test_cohen_kappa_drops_items_with_a_missing_label() -> None:
    a = ["yes"] * 25 + ["no"] * 25 + [None, "yes"]
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15 + ["no", float("nan")]
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


def test_cohen_kappa_degenerate_cases() -> None:
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == 1.0
    # One category only: chance agreement is total, kappa is 0/0 -> NaN by our documented convention.
    assert math.isnan(cohen_kappa(["a"] * 4, ["a"] * 4))
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(cohen_kappa([None], ["a"]))
    # Systematic disagreement on two balanced categories -> -1.
    assert cohen_kappa(["a", "b"], ["b", "a"]) == -1.0
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["a"], ["a", "b"])


def test_fleiss_kappa_wikipedia_example() -> None:
    assert round(fleiss_kappa(FLEISS_TABLE), 3) == 0.210
    # P̄ = 0.378 and P̄_e = 0.213 in the worked example: check the exact value from them.
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.2099307, abs=1e-7)


def test_fleiss_kappa_from_per_item_labels_equals_table() -> None:
    items = [[c for c, count in enumerate(row) for _ in range(count)] for row in FLEISS_TABLE]
    assert fleiss_kappa(items=items) == pytest.approx(fleiss_kappa(FLEISS_TABLE), abs=1e-12)


def test_fleiss_kappa_degenerate_and_invalid() -> None:
    assert fleiss_kappa(items=[["a", "a"], ["b", "b"]]) == 1.0
    assert math.isnan(fleiss_kappa(items=[["a", "a", "a"], ["a", "a", "a"]]))  # one category only
    assert math.isnan(fleiss_kappa(items=[["a"], ["b"]]))  # one rater per item: nothing to agree on
    with pytest.raises(ValueError, match="same number of ratings"):
        fleiss_kappa(items=[["a", "b"], ["a", None, "b"], ["a"]])
    with pytest.raises(ValueError, match="either"):
        fleiss_kappa(FLEISS_TABLE, items=[["a"]])


def test_krippendorff_alpha_nominal_2011_example_c() -> None:
    assert round(krippendorff_alpha_nominal(KRIPPENDORFF_C), 3) == 0.743
    # Exact: n = 40 pairable values; α = 1 − 39·(observed)/(expected) = 0.743421...
    assert krippendorff_alpha_nominal(KRIPPENDORFF_C) == pytest.approx(113 / 152, abs=1e-12)


def test_krippendorff_alpha_nominal_2011_example_a_binary() -> None:
    # §A of the same paper: two observers, ten units, binary data -> α = 0.095.
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    assert round(krippendorff_alpha_nominal(data), 3) == 0.095


def test_krippendorff_alpha_degenerate_cases() -> None:
    assert krippendorff_alpha_nominal([["a", "b", N], ["a", "b", "c"]]) == 1.0
    assert math.isnan(krippendorff_alpha_nominal([["a", "a"], ["a", "a"]]))  # no variation: 0/0
    assert math.isnan(krippendorff_alpha_nominal([["a", N], [N, "b"]]))  # no unit has two values
    assert math.isnan(krippendorff_alpha_nominal([]))
    with pytest.raises(ValueError, match="same units"):
        krippendorff_alpha_nominal([["a", "b"], ["a"]])


def brute_alpha(data: list[list[int | None]]) -> float:
    """α = 1 − D_o/D_e straight from Krippendorff's coincidence matrix, ordered pairs counted one by one."""
    coincid: dict[tuple[int, int], Fraction] = {}
    for u in range(len(data[0])):
        vals = [row[u] for row in data if row[u] is not None]
        if len(vals) < 2:
            continue
        for i, j in itertools.permutations(range(len(vals)), 2):
            key = (vals[i], vals[j])
            coincid[key] = coincid.get(key, Fraction(0)) + Fraction(1, len(vals) - 1)
    n_c: dict[int, Fraction] = {}
    for (c, _), v in coincid.items():
        n_c[c] = n_c.get(c, Fraction(0)) + v
    n = sum(n_c.values())
    d_o = sum(v for (c, k), v in coincid.items() if c != k) / n
    d_e = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n * (n - 1))
    return float(1 - d_o / d_e) if d_e else math.nan


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5).flatmap(lambda coders: st.integers(1, 8).flatmap(
    lambda units: st.lists(st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=units, max_size=units),
                           min_size=coders, max_size=coders))))
def test_krippendorff_alpha_matches_coincidence_matrix(data: list[list[int | None]]) -> None:
    expected = brute_alpha(data) if any(sum(v is not None for v in col) >= 2 for col in zip(*data)) else math.nan
    got = krippendorff_alpha_nominal(data)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, abs=1e-9)


def test_category_table_counts_in_first_seen_order() -> None:
    table, cats = category_table([["x", "y", None], ["y", "y", "y"]])
    assert cats == ["x", "y"]
    assert table.tolist() == [[1, 1], [0, 3]]


def test_binomial_test_matches_exact_sums() -> None:
    assert binomial_test_p(9, 10) == 22 / 1024  # {0, 1, 9, 10}: (1 + 10 + 10 + 1) / 2^10
    assert binomial_test_p(5, 10) == 1.0
    assert binomial_test_p(0, 0) == 1.0
    # Asymmetric p: minimum-likelihood two-sided p of 3 successes in 5 with p = 0.2 (exact by hand).
    pmf = [math.comb(5, k) * Fraction(1, 5) ** k * Fraction(4, 5) ** (5 - k) for k in range(6)]
    exact = float(sum(q for q in pmf if q <= pmf[3]))
    assert binomial_test_p(3, 5, 0.2) == pytest.approx(exact, rel=1e-12)
    # Large n keeps its tail: 5,600 of 10,000 is ~12 sigma off -> p about 1.6e-33.
    p = binomial_test_p(5600, 10000)
    assert 1e-34 < p < 1e-32
    with pytest.raises(ValueError):
        binomial_test_p(11, 10)


def test_position_bias_counts_the_response_shown_left() -> None:
    labels = [
        lab(1, 1, 1, "a"),                  # left (A shown left)
        lab(2, 2, 1, "b", swapped=True),    # left (B shown left)
        lab(3, 3, 1, "a", swapped=True),    # right
        lab(4, 4, 1, "a"),                  # left
        lab(5, 5, 1, "tie"),                # not decisive
        lab(6, 6, 1, "skip"),               # not decisive
        lab(7, 7, 1, "b", superseded=True),  # undone: ignored
    ]
    bias = position_bias_rate(labels)
    assert (bias.left, bias.decisive) == (3, 4)
    assert bias.rate == 0.75
    assert bias.p_value == binomial_test_p(3, 4) == 0.625


def test_position_bias_without_decisive_labels_is_undefined() -> None:
    bias = position_bias_rate([lab(1, 1, 1, "tie")])
    assert math.isnan(bias.rate) and bias.decisive == 0 and bias.p_value == 1.0


def test_active_labels_keep_latest_non_superseded() -> None:
    labels = [lab(1, 1, 1, "a", superseded=True), lab(2, 1, 1, "b"), lab(5, 1, 1, "tie"), lab(3, 1, 2, "a")]
    assert sorted(x.id for x in active_labels(labels)) == [3, 5]


def test_reliability_data_feeds_alpha() -> None:
    labels = [lab(1, 10, 7, "a"), lab(2, 10, 8, "a"), lab(3, 11, 7, "b"), lab(4, 11, 8, "tie"),
              lab(5, 12, 7, "skip"), lab(6, 12, 8, "b")]
    data = reliability_data(labels)
    assert data.annotators == [7, 8]
    assert data.units == [(10, 1), (11, 1), (12, 1)]
    assert data.rows == [["a", "b", None], ["a", "tie", "b"]]
    assert krippendorff_alpha_nominal(data.rows) == pytest.approx(brute_alpha(data.rows))


def test_disputed_pairs_ranked_by_entropy_then_size() -> None:
    labels = [
        # pair 1: 2 a vs 2 b -> 1 bit
        lab(1, 1, 1, "a"), lab(2, 1, 2, "a"), lab(3, 1, 3, "b"), lab(4, 1, 4, "b"),
        # pair 2: 3 a vs 1 b -> 0.811 bits
        lab(5, 2, 1, "a"), lab(6, 2, 2, "a"), lab(7, 2, 3, "a"), lab(8, 2, 4, "b"),
        # pair 3: 1 a vs 1 b -> 1 bit but fewer labels than pair 1
        lab(9, 3, 1, "a"), lab(10, 3, 2, "b"),
        # pair 4: unanimous -> not disputed; pair 5 on objective 2: a / b / tie -> log2(3) bits
        lab(11, 4, 1, "a"), lab(12, 4, 2, "a"),
        lab(13, 5, 1, "a", obj=2), lab(14, 5, 2, "b", obj=2), lab(15, 5, 3, "tie", obj=2),
    ]
    ranked = disputed_pairs(labels)
    assert [(d.pair_id, d.objective_id) for d in ranked] == [(5, 2), (1, 1), (3, 1), (2, 1)]
    assert ranked[0].entropy == pytest.approx(math.log2(3))
    assert ranked[1].entropy == pytest.approx(1.0) and ranked[1].labels == 4
    assert ranked[3].entropy == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    assert ranked[1].disagreement == pytest.approx(4 / 6)  # 2x2 differing of C(4,2) label pairs
    assert ranked[3].disagreement == pytest.approx(3 / 6)
    assert disputed_pairs(labels, min_labels=3) == [d for d in ranked if d.labels >= 3]


def test_flip_rate_inverts_the_disagreement_formula() -> None:
    for eps in (0.0, 0.05, 0.1, 0.25, 0.4, 0.5):
        assert flip_rate_from_disagreement(2 * eps * (1 - eps)) == pytest.approx(eps, abs=1e-12)
    assert flip_rate_from_disagreement(0.7) == 0.5
    assert math.isnan(flip_rate_from_disagreement(math.nan))
    with pytest.raises(ValueError):
        flip_rate_from_disagreement(-0.1)


def test_estimated_flip_rate_from_labels() -> None:
    labels = [
        lab(1, 1, 1, "a"), lab(2, 1, 2, "a"), lab(3, 1, 3, "b"),  # 2 of 3 annotator pairs differ
        lab(4, 2, 1, "b"), lab(5, 2, 2, "b"),                     # 0 of 1
        lab(6, 3, 1, "a"), lab(7, 3, 2, "tie"),                   # tie: no comparison
        lab(8, 4, 1, "a"),                                        # single label: no comparison
    ]
    est = estimated_flip_rate(labels)
    assert (est.comparisons, est.units) == (4, 2)
    assert est.disagreement == 0.5
    assert est.epsilon == 0.5
    est = estimated_flip_rate(labels[:2] + labels[3:5] + [lab(9, 5, 1, "a"), lab(10, 5, 2, "a")])
    # Unanimous units only: pair 1 a/a, pair 2 b/b, pair 5 a/a -> no disagreement, no noise.
    assert est.disagreement == 0.0 and est.epsilon == 0.0
    assert math.isnan(estimated_flip_rate([lab(1, 1, 1, "a")]).epsilon)


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.15, 0.3])
def test_estimated_flip_rate_recovers_simulated_noise(eps: float) -> None:
    rng = np.random.default_rng(1234)
    labels, i = [], 0
    for pair in range(3000):
        truth = rng.random() < 0.5
        for annotator in range(3):
            noisy = truth != (rng.random() < eps)
            i += 1
            labels.append(lab(i, pair, annotator, "a" if noisy else "b"))
    est = estimated_flip_rate(labels)
    assert est.comparisons == 9000
    # Standard error of ε here is below 0.01; the seed is fixed so the check is deterministic.
    assert est.epsilon == pytest.approx(eps, abs=0.02)
