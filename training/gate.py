"""The promotion gate's statistics: paired comparisons of champion and challenger, pure functions.

Both models answer the SAME tweets, so what decides is the pair of outcomes per tweet: only the
discordant tweets (one model right, the other wrong) carry information about the difference.

- Frozen sets (never trained on): a NON-INFERIORITY test. The challenger passes a set when the
  one-sided `confidence` lower bound of (challenger − champion) accuracy, and of negative recall,
  is above −`margin`. A challenger truly `margin` worse then passes at most 1 − confidence of the
  time, on any set size. On a set too small for that test (fewer rows than it needs to pass a
  same-quality challenger with `power_target` at `reference_discordance`), the set only guards
  against LARGE regressions: it refuses when the upper bound is below −margin (the challenger is
  certainly worse by more than the margin). Which rule a set got, and its power, is reported.
- Domain (held-out feedback, never trained on): a SUPERIORITY test. The challenger must be better:
  the one-sided lower bound of the accuracy gain above `domain_min_gain` (0 by default).

Bounds come from a paired bootstrap (the tweets are resampled, both models' outcomes move
together), seeded so a rerun decides the same; the exact McNemar p-value (two-sided binomial on
the discordant pairs) is reported beside it. Simulated error rates: docs/gate.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from scipy.stats import binomtest

RULE_NON_INFERIORITY = "non_inferiority"
RULE_LARGE_REGRESSION = "large_regression_only"
FROZEN_METRICS = ("accuracy", "recall_neg")


@dataclass(frozen=True)
class GatePolicy:
    """What the gate tests: margins in accuracy points (0.02 = 2 points), one-sided confidence."""

    margin: float = 0.02
    confidence: float = 0.95
    power_target: float = 0.95
    # The discordance a set must be powered for. Fixed, not measured per run: a rule chosen from
    # the observed discordance would hand the lax rule to the challengers that differ most.
    # 0.08: the top of what real pairs show (docs/gate.md: 3.4 % same-quality, 5-10 % real).
    reference_discordance: float = 0.08
    domain_min_gain: float = 0.0
    resamples: int = 2000
    seed: int = 0

    def describe(self) -> str:
        return (
            f"paired bootstrap ({self.resamples} resamples) + exact McNemar; frozen sets: "
            f"non-inferiority, margin {self.margin:.3f}, one-sided {self.confidence:.0%}; "
            f"domain: one-sided {self.confidence:.0%} lower bound of the gain > "
            f"{self.domain_min_gain:+.3f}"
        )


@dataclass(frozen=True)
class PairedDifference:
    """(challenger − champion) on one set: point estimate, one-sided bounds, discordant pairs."""

    rows: int
    champion: float
    challenger: float
    difference: float
    lower: float  # one-sided `confidence` lower bound of the difference
    upper: float  # one-sided `confidence` upper bound of the difference
    champion_only: int  # tweets only the champion gets right
    challenger_only: int  # tweets only the challenger gets right
    mcnemar_p: float

    @property
    def discordance(self) -> float:
        return (self.champion_only + self.challenger_only) / self.rows if self.rows else 0.0


def bootstrap_differences(
    rows: int, champion_only: int, challenger_only: int, resamples: int, seed: int
) -> np.ndarray:
    """Paired bootstrap of the accuracy difference, from the counts alone: resampling `rows`
    tweets with replacement draws the discordant cells from a multinomial. Shape (resamples,)."""
    if rows == 0:
        return np.zeros(resamples)
    cells = [champion_only / rows, challenger_only / rows]
    cells.append(max(0.0, 1.0 - sum(cells)))
    draws = np.random.default_rng(seed).multinomial(rows, cells, size=resamples)
    return (draws[:, 1] - draws[:, 0]) / rows


def mcnemar_p(champion_only: int, challenger_only: int) -> float:
    """Exact McNemar: two-sided binomial test of the discordant split against 1/2."""
    discordant = champion_only + challenger_only
    if discordant == 0:
        return 1.0
    return float(binomtest(challenger_only, discordant, 0.5).pvalue)


def paired_difference(
    champion_correct: np.ndarray, challenger_correct: np.ndarray, policy: GatePolicy
) -> PairedDifference:
    """Compare two boolean vectors of per-tweet correctness (same tweets, same order)."""
    a = np.asarray(champion_correct, dtype=bool)
    b = np.asarray(challenger_correct, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in shape: {a.shape} vs {b.shape}")
    return difference_from_counts(
        len(a), int(a.sum()), int((a & ~b).sum()), int((~a & b).sum()), policy
    )


def difference_from_counts(
    rows: int, champion_right: int, champion_only: int, challenger_only: int, policy: GatePolicy
) -> PairedDifference:
    draws = bootstrap_differences(
        rows, champion_only, challenger_only, policy.resamples, policy.seed
    )
    tail = 1.0 - policy.confidence
    lower, upper = np.quantile(draws, [tail, 1.0 - tail]) if rows else (0.0, 0.0)
    champion = champion_right / rows if rows else float("nan")
    difference = (challenger_only - champion_only) / rows if rows else 0.0
    return PairedDifference(
        rows=rows,
        champion=champion,
        challenger=champion + difference if rows else float("nan"),
        difference=difference,
        lower=float(lower),
        upper=float(upper),
        champion_only=champion_only,
        challenger_only=challenger_only,
        mcnemar_p=mcnemar_p(champion_only, challenger_only),
    )


def non_inferiority_power(rows: int, discordance: float, policy: GatePolicy) -> float:
    """Chance that a challenger of the SAME quality passes the non-inferiority test on `rows`
    tweets with this discordance (normal approximation; the per-tweet difference has variance
    `discordance` when the true difference is 0)."""
    if rows == 0:
        return 0.0
    if discordance <= 0:
        return 1.0
    z = NormalDist().inv_cdf(policy.confidence)
    standard_error = math.sqrt(discordance / rows)
    return NormalDist().cdf(policy.margin / standard_error - z)


def rule_for(rows: int, policy: GatePolicy) -> str:
    """Non-inferiority on a set big enough for it at the reference discordance, else the
    large-regression guard. Depends on the set's size only, never on the challenger."""
    needed = rows_needed(policy.reference_discordance, policy)
    return RULE_NON_INFERIORITY if rows >= needed else RULE_LARGE_REGRESSION


def judge_frozen(diff: PairedDifference, policy: GatePolicy) -> tuple[bool, str, float]:
    """(passes, rule used, power to pass a same-quality challenger at the observed discordance)
    for one frozen set and metric."""
    power = non_inferiority_power(diff.rows, diff.discordance, policy)
    if rule_for(diff.rows, policy) == RULE_NON_INFERIORITY:
        return diff.lower > -policy.margin, RULE_NON_INFERIORITY, power
    return diff.upper >= -policy.margin, RULE_LARGE_REGRESSION, power


def frozen_outcomes(
    labels: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per metric, the (champion, challenger) correctness vectors it is computed on: accuracy on
    every tweet, negative recall on the negative tweets (label 1) only."""
    labels = np.asarray(labels).astype(int)
    right_a = np.asarray(champion_pred).astype(int) == labels
    right_b = np.asarray(challenger_pred).astype(int) == labels
    negative = labels == 1
    return {"accuracy": (right_a, right_b), "recall_neg": (right_a[negative], right_b[negative])}


def compare_frozen_set(
    labels: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray, policy: GatePolicy
) -> dict[str, dict[str, Any]]:
    """Every frozen metric of one set: the paired difference, the rule, its power, the verdict."""
    result = {}
    for metric, (a, b) in frozen_outcomes(labels, champion_pred, challenger_pred).items():
        diff = paired_difference(a, b, policy)
        passes, rule, power = judge_frozen(diff, policy)
        result[metric] = {**asdict(diff), "rule": rule, "power": power, "passes": passes}
    return result


def compare_domain(
    labels: np.ndarray, champion_pred: np.ndarray, challenger_pred: np.ndarray, policy: GatePolicy
) -> dict[str, Any]:
    """Held-out domain feedback: the accuracy gain and whether its lower bound clears the bar."""
    right = frozen_outcomes(labels, champion_pred, challenger_pred)["accuracy"]
    diff = paired_difference(*right, policy)
    passes = diff.rows > 0 and diff.lower > policy.domain_min_gain
    return {**asdict(diff), "passes": passes}


def frozen_reasons(name: str, verdicts: dict[str, dict[str, Any]], margin: float) -> list[str]:
    """One line per metric of a frozen set: the estimate, the bound the rule used, the verdict."""
    lines = []
    for metric, v in verdicts.items():
        bound = "lower" if v["rule"] == RULE_NON_INFERIORITY else "upper"
        verdict = "ok" if v["passes"] else "REFUSED"
        lines.append(
            f"{name} {metric}: {v['difference']:+.4f} ({bound} bound {v[bound]:+.4f} vs "
            f"-{margin:.3f}, {v['rule']}, power {v['power']:.2f}, n={v['rows']}): {verdict}"
        )
    return lines


def decide(
    frozen: dict[str, dict[str, dict[str, Any]]], domain: dict[str, Any] | None, policy: GatePolicy
) -> tuple[bool, list[str]]:
    """Promote iff every frozen set passes every metric and the domain gain is shown."""
    reasons: list[str] = []
    ok = True
    for name, verdicts in frozen.items():
        reasons += frozen_reasons(name, verdicts, policy.margin)
        ok = ok and all(v["passes"] for v in verdicts.values())
    if domain is None or domain["rows"] == 0:
        return False, [*reasons, "no held-out domain feedback: cannot show an improvement"]
    verdict = "ok" if domain["passes"] else "REFUSED"
    reasons.append(
        f"domain feedback accuracy: {domain['difference']:+.4f} (lower bound "
        f"{domain['lower']:+.4f} vs {policy.domain_min_gain:+.3f}, n={domain['rows']}): {verdict}"
    )
    return ok and bool(domain["passes"]), reasons


# --- simulation of the gate's error rates ------------------------------------------------------


def simulate_counts(
    rows: int, discordance: float, true_difference: float, runs: int, seed: int
) -> np.ndarray:
    """Paired outcomes of `runs` comparisons as (champion_only, challenger_only) counts, shape
    (runs, 2): discordant tweets are a `discordance` share, split so that the expected
    difference is `true_difference` (needs |true_difference| <= discordance)."""
    if abs(true_difference) > discordance:
        raise ValueError("a difference larger than the discordance is impossible")
    cells = [(discordance - true_difference) / 2, (discordance + true_difference) / 2]
    cells.append(1.0 - discordance)
    return np.random.default_rng(seed).multinomial(rows, cells, size=runs)[:, :2]


def simulate_refusal_rate(
    rows: int,
    discordance: float,
    true_difference: float,
    policy: GatePolicy,
    runs: int = 1000,
    seed: int = 1,
) -> float:
    """Share of simulated comparisons in which one frozen set's accuracy check refuses."""
    refused = 0
    for index, (only_a, only_b) in enumerate(
        simulate_counts(rows, discordance, true_difference, runs, seed)
    ):
        run_policy = GatePolicy(**{**asdict(policy), "seed": policy.seed + index})
        diff = difference_from_counts(rows, rows // 2, int(only_a), int(only_b), run_policy)
        refused += not judge_frozen(diff, run_policy)[0]
    return refused / runs


def rows_needed(discordance: float, policy: GatePolicy) -> int:
    """Smallest set on which the non-inferiority test keeps both error rates: refuses a
    same-quality challenger at most 1 − power_target of the time (and, by construction,
    passes one `margin` worse at most 1 − confidence of the time)."""
    z = NormalDist().inv_cdf(policy.confidence) + NormalDist().inv_cdf(policy.power_target)
    return math.ceil(discordance * (z / policy.margin) ** 2)
