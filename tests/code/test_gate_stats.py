"""The gate's statistics on synthetic paired outcomes: bounds, McNemar, rules, error rates.

The error-rate tests are the simulation of docs/gate.md in small (a few hundred runs): a set big
enough for the non-inferiority test refuses a same-quality challenger at most ~5 % of the time and
passes one 2 points worse at most ~5 % of the time; a small set cannot do the second, and says so.
"""

from __future__ import annotations

import numpy as np
import pytest

from training import gate
from training.gate import GatePolicy

pytestmark = pytest.mark.code

POLICY = GatePolicy(resamples=1000)


def outcomes(rows: int, champion_only: int, challenger_only: int, both_right: int):
    """Correctness vectors with exactly these discordant counts (the rest: both wrong)."""
    a = np.zeros(rows, dtype=bool)
    b = np.zeros(rows, dtype=bool)
    a[:champion_only] = True
    b[champion_only : champion_only + challenger_only] = True
    start = champion_only + challenger_only
    a[start : start + both_right] = True
    b[start : start + both_right] = True
    return a, b


def test_paired_difference_counts_and_estimate() -> None:
    a, b = outcomes(1000, 30, 50, 800)
    diff = gate.paired_difference(a, b, POLICY)
    assert (diff.champion_only, diff.challenger_only, diff.rows) == (30, 50, 1000)
    assert diff.champion == pytest.approx(0.83)
    assert diff.challenger == pytest.approx(0.85)
    assert diff.difference == pytest.approx(0.02)
    assert diff.discordance == pytest.approx(0.08)
    assert diff.lower < 0.02 < diff.upper
    # one-sided 95 % bounds of a difference with sd sqrt(0.08/1000) = 0.0089: about ±0.0147
    assert diff.lower == pytest.approx(0.02 - 0.0147, abs=0.004)
    assert diff.upper == pytest.approx(0.02 + 0.0147, abs=0.004)


def test_identical_models_have_a_zero_width_interval() -> None:
    a = np.array([True, False, True, True])
    diff = gate.paired_difference(a, a.copy(), POLICY)
    assert (diff.difference, diff.lower, diff.upper, diff.mcnemar_p) == (0, 0, 0, 1.0)


def test_paired_difference_refuses_unpaired_vectors() -> None:
    with pytest.raises(ValueError, match="shape"):
        gate.paired_difference(np.ones(3, bool), np.ones(4, bool), POLICY)


def test_mcnemar_matches_the_exact_binomial() -> None:
    # 10 vs 0 discordant: two-sided exact p = 2 * 0.5**10
    assert gate.mcnemar_p(10, 0) == pytest.approx(2 * 0.5**10)
    assert gate.mcnemar_p(5, 5) == pytest.approx(1.0)
    assert gate.mcnemar_p(0, 0) == 1.0


def test_bootstrap_is_seeded() -> None:
    first = gate.bootstrap_differences(500, 20, 30, 200, seed=3)
    assert np.array_equal(first, gate.bootstrap_differences(500, 20, 30, 200, seed=3))
    assert not np.array_equal(first, gate.bootstrap_differences(500, 20, 30, 200, seed=4))


def test_power_grows_with_rows_and_falls_with_discordance() -> None:
    assert gate.non_inferiority_power(359, 0.04, POLICY) < 0.7
    assert gate.non_inferiority_power(5000, 0.04, POLICY) > 0.99
    assert gate.non_inferiority_power(2000, 0.10, POLICY) < gate.non_inferiority_power(
        2000, 0.04, POLICY
    )
    needed = gate.rows_needed(0.04, POLICY)
    assert gate.non_inferiority_power(needed, 0.04, POLICY) >= 0.95
    assert gate.non_inferiority_power(needed - 50, 0.04, POLICY) < 0.95


def test_a_large_set_uses_non_inferiority_and_a_small_one_only_guards_large_drops() -> None:
    large = gate.paired_difference(*outcomes(5000, 150, 50, 4000), POLICY)  # 2 points worse
    passes, rule, _ = gate.judge_frozen(large, POLICY)
    assert (passes, rule) == (False, gate.RULE_NON_INFERIORITY)
    small = gate.paired_difference(*outcomes(359, 11, 4, 280), POLICY)  # 2 points worse
    passes, rule, power = gate.judge_frozen(small, POLICY)
    assert (passes, rule) == (True, gate.RULE_LARGE_REGRESSION)
    assert power < 0.95
    crash = gate.paired_difference(*outcomes(359, 40, 4, 250), POLICY)  # 10 points worse
    assert gate.judge_frozen(crash, POLICY)[0] is False


def test_compare_frozen_set_scores_recall_on_negatives_only() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    champion = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    challenger = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    result = gate.compare_frozen_set(labels, champion, challenger, POLICY)
    assert result["recall_neg"]["rows"] == 4
    assert result["recall_neg"]["difference"] == pytest.approx(0.5)
    assert result["accuracy"]["difference"] == pytest.approx(0.0)


def test_decide_needs_every_frozen_check_and_a_shown_domain_gain() -> None:
    labels = np.array([1, 0] * 200)
    right = labels.copy()
    worse = labels.copy()
    worse[:80] = 1 - worse[:80]  # 20 points worse on the frozen set
    frozen_ok = {"manual_test": gate.compare_frozen_set(labels, right, right, POLICY)}
    frozen_bad = {"manual_test": gate.compare_frozen_set(labels, right, worse, POLICY)}
    gain = gate.compare_domain(labels, worse, right, POLICY)
    loss = gate.compare_domain(labels, right, worse, POLICY)
    assert gate.decide(frozen_ok, gain, POLICY)[0] is True
    promoted, reasons = gate.decide(frozen_bad, gain, POLICY)
    assert promoted is False
    assert any("manual_test accuracy" in line and "REFUSED" in line for line in reasons)
    assert gate.decide(frozen_ok, loss, POLICY)[0] is False
    promoted, reasons = gate.decide(frozen_ok, None, POLICY)
    assert promoted is False
    assert "no held-out domain feedback" in reasons[-1]


def test_a_tie_on_the_domain_is_not_a_gain() -> None:
    labels = np.array([1, 0] * 100)
    a = labels.copy()
    a[:10] = 1 - a[:10]
    b = labels.copy()
    b[10:20] = 1 - b[10:20]  # as many fixed as broken
    assert gate.compare_domain(labels, a, b, POLICY)["passes"] is False


def test_simulated_counts_have_the_asked_difference() -> None:
    counts = gate.simulate_counts(10_000, 0.06, -0.02, runs=200, seed=0)
    difference = (counts[:, 1] - counts[:, 0]).mean() / 10_000
    assert difference == pytest.approx(-0.02, abs=0.002)
    with pytest.raises(ValueError, match="larger than the discordance"):
        gate.simulate_counts(100, 0.01, -0.02, runs=1, seed=0)


@pytest.mark.parametrize("rows", [4000, 8000])
def test_error_rates_on_a_set_large_enough(rows: int) -> None:
    """Measured discordance of real pairs is 4-8 % (docs/gate.md); 6 % here."""
    policy = GatePolicy(resamples=400)
    same = gate.simulate_refusal_rate(rows, 0.06, 0.0, policy, runs=300, seed=rows)
    worse = gate.simulate_refusal_rate(rows, 0.06, -0.02, policy, runs=300, seed=rows + 1)
    # 300 runs: a true 5 % shows as at most ~9 % (binomial 99.9th percentile)
    assert same <= 0.09
    assert worse >= 0.91


def test_a_small_set_cannot_refuse_a_two_point_drop() -> None:
    """359 tweets (the hand-labelled test): the 2-point requirement is out of reach."""
    policy = GatePolicy(resamples=400)
    assert gate.simulate_refusal_rate(359, 0.06, 0.0, policy, runs=200, seed=5) <= 0.05
    assert gate.simulate_refusal_rate(359, 0.06, -0.02, policy, runs=200, seed=6) < 0.5
    assert gate.rows_needed(0.06, policy) > 359


def test_the_rule_depends_on_the_set_size_never_on_the_challenger() -> None:
    """A challenger that differs a lot from the champion must not earn the lax rule."""
    rows = gate.rows_needed(POLICY.reference_discordance, POLICY)
    assert gate.rule_for(rows, POLICY) == gate.RULE_NON_INFERIORITY
    assert gate.rule_for(rows - 1, POLICY) == gate.RULE_LARGE_REGRESSION
    # 3 points worse with 30 % discordance on a big set: low power, still refused
    wild = gate.paired_difference(*outcomes(5000, 825, 675, 3000), POLICY)
    passes, rule, power = gate.judge_frozen(wild, POLICY)
    assert (passes, rule) == (False, gate.RULE_NON_INFERIORITY)
    assert power < 0.95


def test_error_rates_just_above_and_below_the_size_switch() -> None:
    """At the reference discordance, both error rates hold from the switch up."""
    policy = GatePolicy(resamples=400)
    rows = gate.rows_needed(policy.reference_discordance, policy)
    q = policy.reference_discordance
    assert gate.simulate_refusal_rate(rows, q, 0.0, policy, runs=300, seed=11) <= 0.09
    assert gate.simulate_refusal_rate(rows, q, -0.02, policy, runs=300, seed=12) >= 0.91
