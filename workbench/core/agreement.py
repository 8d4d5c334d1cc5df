"""Inter-annotator agreement and label-quality statistics for the Label and Project panels.

Chance-corrected agreement (each function cites its source):
- `cohen_kappa`: two raters, same items (Cohen, "A Coefficient of Agreement for Nominal Scales", 1960).
- `fleiss_kappa`: a fixed number of raters per item (Fleiss, "Measuring nominal scale agreement among many
  raters", Psychological Bulletin 76(5), 1971).
- `krippendorff_alpha_nominal`: any number of coders, missing values allowed (Krippendorff, "Computing
  Krippendorff's Alpha-Reliability", 2011, §C).
Degenerate inputs: when chance agreement is total (every label in one category) or nothing is comparable, the
coefficients are 0/0 and we return NaN ("undefined", shown as "n/a"), as Krippendorff (2011) prescribes for alpha;
we do not return 1.0 because a single category carries no evidence that raters could tell things apart.

Missing ratings are `None` or float NaN. Preference-label statistics take `Label` entities (workbench.core.entities)
and use the active ones only: superseded labels are dropped, and when one annotator still has several labels for a
(pair, objective) the one with the largest id counts. A label's choice "a"/"b" names the pair's response, while
`shown_swapped` records that response B was displayed on the left.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from workbench.core.entities import Label

Unit = tuple[int, int]  # (pair_id, objective_id): the thing a preference label rates


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _kappa(observed: float, expected: float) -> float:
    """(p_o - p_e) / (1 - p_e); NaN when chance agreement is total (0/0)."""
    if math.isnan(observed) or expected >= 1.0 - 1e-15:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def cohen_kappa(a: Sequence[Hashable | None], b: Sequence[Hashable | None]) -> float:
    """Cohen's kappa of two raters over the same items; items either rater left missing are dropped.

    kappa = (p_o - p_e) / (1 - p_e), p_o = share of items with equal labels, p_e = Σ_c p_a(c) p_b(c) (Cohen 1960).
    """
    if len(a) != len(b):
        raise ValueError(f"both raters must rate the same items: {len(a)} vs {len(b)} labels")
    kept = [(x, y) for x, y in zip(a, b) if not _is_missing(x) and not _is_missing(y)]
    if not kept:
        return math.nan
    n = len(kept)
    observed = sum(x == y for x, y in kept) / n
    count_a = Counter(x for x, _ in kept)
    count_b = Counter(y for _, y in kept)
    expected = sum(count_a[c] * count_b.get(c, 0) for c in count_a) / (n * n)
    return _kappa(observed, expected)


def category_table(items: Iterable[Sequence[Hashable | None]]) -> tuple[np.ndarray, list[Hashable]]:
    """Per-item label lists -> (counts [items, categories], categories in first-seen order); missing dropped."""
    rows = [Counter(v for v in labels if not _is_missing(v)) for labels in items]
    categories: list[Hashable] = list(dict.fromkeys(c for row in rows for c in row))
    table = np.array([[row.get(c, 0) for c in categories] for row in rows], dtype=np.int64)
    return table.reshape(len(rows), len(categories)), categories


def fleiss_kappa(table: ArrayLike | None = None, *, items: Iterable[Sequence[Hashable | None]] | None = None) -> float:
    """Fleiss' kappa from a count table [items, categories] (n_ij raters put item i in category j) or from
    per-item label lists (`items=`). Every item needs the same number n >= 2 of ratings (Fleiss 1971, eq. 1–9):

    P_i = (Σ_j n_ij² − n) / (n(n − 1)),  P̄ = mean_i P_i,  p_j = Σ_i n_ij / (N n),  P̄_e = Σ_j p_j²,
    kappa = (P̄ − P̄_e) / (1 − P̄_e).
    """
    if (table is None) == (items is None):
        raise ValueError("give either a count table or items=, not both")
    counts = np.asarray(category_table(items)[0] if items is not None else table, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        return math.nan
    per_item = counts.sum(axis=1)
    n = per_item[0]
    if not np.all(per_item == n):
        raise ValueError("Fleiss' kappa needs the same number of ratings per item; "
                         "use krippendorff_alpha_nominal when ratings are missing")
    if n < 2:
        return math.nan
    agreement = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    shares = counts.sum(axis=0) / (counts.shape[0] * n)
    return _kappa(float(agreement.mean()), float((shares**2).sum()))


def krippendorff_alpha_nominal(data: Sequence[Sequence[Hashable | None]]) -> float:
    """Krippendorff's alpha for nominal data. `data[coder][unit]` is a value or missing (None / NaN).

    Krippendorff (2011) §C: only units with m_u >= 2 values are pairable; with n_uc = how often unit u got value c,
    n_c = Σ_u n_uc and n = Σ_c n_c, the disagreement form of α = 1 − D_o/D_e reduces for nominal data to
        α = 1 − (n − 1) · Σ_u (m_u² − Σ_c n_uc²)/(m_u − 1)  /  (n² − Σ_c n_c²).
    """
    if not data:
        return math.nan
    n_units = len(data[0])
    if any(len(row) != n_units for row in data):
        raise ValueError("every coder's row must cover the same units (use None for a missing value)")
    units = [[row[u] for row in data] for u in range(n_units)]
    table, _ = category_table(units)
    if table.size == 0:
        return math.nan
    m_u = table.sum(axis=1)
    table = table[m_u >= 2].astype(float)
    m_u = m_u[m_u >= 2].astype(float)
    n_c = table.sum(axis=0)
    n = n_c.sum()
    expected = n * n - (n_c**2).sum()  # Σ_{c≠k} n_c n_k
    if n == 0 or expected == 0:
        return math.nan
    observed = ((m_u**2 - (table**2).sum(axis=1)) / (m_u - 1)).sum()  # Σ_{c≠k} o_ck
    return float(1.0 - (n - 1) * observed / expected)


# --- preference labels ---------------------------------------------------------------------------------------


def active_labels(labels: Iterable[Label]) -> list[Label]:
    """Labels that count: not superseded, and one (the largest id) per (pair, objective, annotator)."""
    latest: dict[tuple[int, int, int], Label] = {}
    for label in labels:
        if label.superseded:
            continue
        key = (label.pair_id, label.objective_id, label.annotator_id)
        if key not in latest or label.id > latest[key].id:
            latest[key] = label
    return list(latest.values())


@dataclass(frozen=True)
class ReliabilityData:
    """Labels as Krippendorff's reliability matrix: rows[i][j] = annotators[i]'s choice on units[j] or None."""

    annotators: list[int]
    units: list[Unit]
    rows: list[list[str | None]]


def reliability_from(ratings: Iterable[tuple[int, Hashable, Hashable]]) -> ReliabilityData:
    """(annotator, unit, value) triples as a reliability matrix, annotators and units sorted; a later triple for
    the same (annotator, unit) wins. Units are anything sortable: (pair, objective) here, (step, objective) for
    step labels (workbench.core.step_labels)."""
    cells: dict[tuple[int, Hashable], Hashable] = {}
    for annotator, unit, value in ratings:
        cells[(annotator, unit)] = value
    annotators = sorted({a for a, _ in cells})
    units = sorted({u for _, u in cells})  # type: ignore[type-var]
    row_of = {a: i for i, a in enumerate(annotators)}
    col_of = {u: j for j, u in enumerate(units)}
    rows: list[list] = [[None] * len(units) for _ in annotators]
    for (annotator, unit), value in cells.items():
        rows[row_of[annotator]][col_of[unit]] = value
    return ReliabilityData(annotators, units, rows)  # type: ignore[arg-type]


def reliability_data(labels: Iterable[Label]) -> ReliabilityData:
    """Arrange active labels by annotator × (pair, objective); "skip" counts as missing, "tie" as a category."""
    kept = [lab for lab in active_labels(labels) if lab.choice != "skip"]
    return reliability_from((lab.annotator_id, (lab.pair_id, lab.objective_id), lab.choice) for lab in kept)


def agreement_coefficients(data: ReliabilityData) -> tuple[float, float, float]:
    """(Cohen κ, Fleiss κ, Krippendorff α) of a reliability matrix; NaN where undefined.

    Cohen's κ is of the two annotators who share the most units; Fleiss' κ over the units with the modal number of
    ratings (it needs the same number per unit); α over everything (missing values allowed)."""
    alpha = krippendorff_alpha_nominal(data.rows) if len(data.annotators) >= 2 else math.nan
    cohen = math.nan
    if len(data.annotators) >= 2:
        shared: Counter[tuple[int, int]] = Counter()
        for i in range(len(data.rows)):
            for j in range(i + 1, len(data.rows)):
                shared[(i, j)] = sum(a is not None and b is not None for a, b in zip(data.rows[i], data.rows[j]))
        (i, j), n = shared.most_common(1)[0]
        if n:
            cohen = cohen_kappa(data.rows[i], data.rows[j])
    units = [[row[u] for row in data.rows if row[u] is not None] for u in range(len(data.units))]
    multi = [u for u in units if len(u) >= 2]
    fleiss = math.nan
    if multi:
        n_mode = Counter(len(u) for u in multi).most_common(1)[0][0]
        fleiss = fleiss_kappa(items=[u for u in multi if len(u) == n_mode])
    return cohen, fleiss, alpha


def binomial_test_p(successes: int, trials: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test p-value: the total probability of outcomes no more likely than the observed
    one (the "minimum likelihood" method of R's binom.test; Agresti, Categorical Data Analysis, 3rd ed., §1.4).
    Log-space pmf so that tens of thousands of labels neither overflow nor lose the tail."""
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if trials == 0:
        return 1.0
    k = np.arange(trials + 1)
    # log C(n, k) by a running sum of log((n − i + 1) / i).
    log_comb = np.concatenate(([0.0], np.cumsum(np.log(trials - k[1:] + 1.0) - np.log(k[1:]))))
    log_pmf = log_comb + k * math.log(p) + (trials - k) * math.log1p(-p)
    pmf = np.exp(log_pmf - log_pmf.max())
    observed = pmf[successes]
    total = pmf.sum()
    return float(min(1.0, pmf[pmf <= observed * (1.0 + 1e-7)].sum() / total))


@dataclass(frozen=True)
class PositionBias:
    """Share of decisive labels that picked the response shown on the left; 0.5 means no position bias."""

    rate: float
    left: int
    decisive: int
    p_value: float  # exact two-sided binomial test of rate = 0.5


def position_bias_rate(labels: Iterable[Label]) -> PositionBias:
    """Position bias (Zheng et al., "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena", NeurIPS 2023, §3.3):
    how often a decisive (a/b) active label chose the left-shown response, tested against a fair coin."""
    decisive = [lab for lab in active_labels(labels) if lab.choice in ("a", "b")]
    left = sum((lab.choice == "a") != lab.shown_swapped for lab in decisive)
    n = len(decisive)
    rate = left / n if n else math.nan
    return PositionBias(rate=rate, left=left, decisive=n, p_value=binomial_test_p(left, n))


@dataclass(frozen=True)
class DisputedPair:
    """Labels of one pair on one objective that disagree; `entropy` in bits over the choices a/b/tie."""

    pair_id: int
    objective_id: int
    counts: dict[str, int]
    entropy: float
    disagreement: float  # share of label pairs (two different annotators) whose choices differ

    @property
    def labels(self) -> int:
        return sum(self.counts.values())


def _pairwise_disagreement(counts: Iterable[int]) -> tuple[int, int]:
    """(differing label pairs, all label pairs) among labels with the given per-choice counts."""
    counts = list(counts)
    n = sum(counts)
    same = sum(c * (c - 1) // 2 for c in counts)
    total = n * (n - 1) // 2
    return total - same, total


def disputed_pairs(labels: Iterable[Label], *, min_labels: int = 2) -> list[DisputedPair]:
    """(pair, objective) units whose active a/b/tie labels disagree, most disputed first.

    Ranked by Shannon entropy of the choice distribution (Shannon 1948), then by number of labels, then by id, so
    a 2-vs-2 split outranks a 3-vs-1 split and a 5-vs-5 split outranks a 1-vs-1 split.
    """
    grouped: dict[Unit, Counter[str]] = defaultdict(Counter)
    for lab in active_labels(labels):
        if lab.choice in ("a", "b", "tie"):
            grouped[(lab.pair_id, lab.objective_id)][lab.choice] += 1
    out: list[DisputedPair] = []
    for (pair_id, objective_id), counts in grouped.items():
        n = sum(counts.values())
        if n < max(2, min_labels) or len(counts) < 2:
            continue
        shares = np.array(list(counts.values()), dtype=float) / n
        differing, total = _pairwise_disagreement(counts.values())
        out.append(DisputedPair(pair_id, objective_id, dict(counts), float(-(shares * np.log2(shares)).sum()),
                                differing / total))
    out.sort(key=lambda d: (-d.entropy, -d.labels, d.pair_id, d.objective_id))
    return out


def flip_rate_from_disagreement(d: float) -> float:
    """Symmetric label-flip rate ε that makes two independent noisy annotators disagree with probability d.

    Each annotator reports the true preference flipped with probability ε (the symmetric noise model of
    Natarajan et al., "Learning with Noisy Labels", NeurIPS 2013, and of cDPO/rDPO: Mitchell 2023, "A note on DPO
    with noisy preferences"; Chowdhury et al., "Provably Robust DPO", ICML 2024). They disagree when exactly one
    flips: d = 2ε(1 − ε). The root in [0, ½] is ε = (1 − √(1 − 2d)) / 2. d >= ½ is what random labels give, so ε
    saturates at ½ there.
    """
    if math.isnan(d):
        return math.nan
    if d < 0:
        raise ValueError(f"disagreement must be >= 0, got {d}")
    return 0.5 if d >= 0.5 else (1.0 - math.sqrt(1.0 - 2.0 * d)) / 2.0


@dataclass(frozen=True)
class FlipRateEstimate:
    """ε estimated from decisive labels on (pair, objective) units that two or more annotators labelled."""

    epsilon: float  # suggested RunConfig.label_smoothing for cdpo / robust losses
    disagreement: float  # d: share of annotator pairs on the same unit that chose differently
    comparisons: int  # annotator pairs compared
    units: int  # (pair, objective) units with at least two decisive labels


def estimated_flip_rate(labels: Iterable[Label]) -> FlipRateEstimate:
    """Estimate the label-noise rate ε from pairwise disagreement (see `flip_rate_from_disagreement`).

    Pools every pair of decisive (a/b) active labels by different annotators on the same pair and objective:
    d = Σ_u n_a·n_b / Σ_u C(n_u, 2). Ties and skips carry no direction and are left out. Assumes annotators are
    equally reliable and flip independently of the item; disagreement on genuinely ambiguous pairs is counted as
    noise, so ε is an upper-leaning estimate.
    """
    grouped: dict[Unit, Counter[str]] = defaultdict(Counter)
    for lab in active_labels(labels):
        if lab.choice in ("a", "b"):
            grouped[(lab.pair_id, lab.objective_id)][lab.choice] += 1
    differing = comparisons = units = 0
    for counts in grouped.values():
        diff, total = _pairwise_disagreement(counts.values())
        if total:
            differing += diff
            comparisons += total
            units += 1
    d = differing / comparisons if comparisons else math.nan
    return FlipRateEstimate(flip_rate_from_disagreement(d), d, comparisons, units)
