"""The promotion gate's error rates, by simulation over paired predictions (docs/gate.md).

    python bench/bench_gate.py --work-dir .local/work --pairs 6
    python bench/bench_gate.py --discordance 0.03 0.06 --runs 2000     # simulation only

1. Real pairs (with --work-dir): the champion's recipe is fitted on two different random 90 %
   samples of the base training split ("same data, another sample"), `--pairs` times; each pair is
   scored on every frozen set, its discordance (share of tweets on which the two disagree about
   being right) measured, and the real gate run on it (a same-quality challenger: it should pass).
2. Simulation: for each frozen-set size and discordance (the measured ones, or --discordance),
   `--runs` paired comparisons with a true difference of 0 (same quality) and of −2 points;
   the share the gate's frozen-set rule refuses, its rule and its power, and the set size that
   meets both requirements (refuse same quality ≤ 5 %, refuse 2 points worse ≥ 95 %).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training import gate  # noqa: E402
from training.gate import GatePolicy  # noqa: E402

SIZES = (359, 1000, 2000, 4000, 8000, 15000)


def fit_on_sample(features, inputs, fraction: float, seed: int):
    from training import train

    rng = np.random.default_rng(seed)
    rows = rng.random(len(features["train"])) < fraction
    frame = features["train"][rows]
    pipeline = train.build_pipeline("tfidf_lr_vader", c=2.0, min_df=train.TrainConfig().min_df)
    pipeline.fit(frame[inputs], frame["label"].to_numpy())
    val = features["val"]
    threshold = train.tune_threshold(
        val["label"].to_numpy(),
        pipeline.predict_proba(val[inputs])[:, 1],
        train.TrainConfig().precision_floor,
    )
    return pipeline, threshold


def real_pairs(work_dir: Path, pairs: int, policy: GatePolicy) -> dict[str, list[dict]]:
    """Per frozen set, for each same-quality pair: discordance and the real gate's verdicts."""
    from shared.bundle import INPUT_TEXT, INPUT_VADER
    from shared.normalise import DEFAULT_OPTIONS
    from training.pipeline import featurise, load_prepared

    frames, _ = load_prepared(work_dir)
    features = featurise(frames, DEFAULT_OPTIONS)
    inputs = [INPUT_TEXT, *INPUT_VADER]
    frozen = [n for n in features if n not in ("train", "val")]
    found: dict[str, list[dict]] = {name: [] for name in frozen}
    for index in range(pairs):
        a, ta = fit_on_sample(features, inputs, 0.9, 2 * index)
        b, tb = fit_on_sample(features, inputs, 0.9, 2 * index + 1)
        for name in frozen:
            f = features[name]
            pa = a.predict_proba(f[inputs])[:, 1] >= ta
            pb = b.predict_proba(f[inputs])[:, 1] >= tb
            verdicts = gate.compare_frozen_set(f["label"].to_numpy(), pa, pb, policy)
            v = verdicts["accuracy"]
            found[name].append(
                {
                    "rows": v["rows"],
                    "discordance": (v["champion_only"] + v["challenger_only"]) / v["rows"],
                    "difference": v["difference"],
                    "passes": all(x["passes"] for x in verdicts.values()),
                }
            )
    return found


def print_real(found: dict[str, list[dict]]) -> list[float]:
    print("| frozen set | rows | pairs | discordance (mean, range) | accuracy Δ range | passed |")
    print("|---|---|---|---|---|---|")
    rates = []
    for name, rows in found.items():
        d = np.array([r["discordance"] for r in rows])
        diff = np.array([r["difference"] for r in rows])
        rates.append(float(d.mean()))
        print(
            f"| {name} | {rows[0]['rows']:,} | {len(rows)} | {d.mean():.3f} ({d.min():.3f}–"
            f"{d.max():.3f}) | {diff.min():+.3f} … {diff.max():+.3f} | "
            f"{sum(r['passes'] for r in rows)}/{len(rows)} |"
        )
    return rates


def wilson(share: float, runs: int) -> tuple[float, float]:
    from training.evaluate import wilson_interval

    return wilson_interval(share * runs, runs)


def rate(share: float, runs: int) -> str:
    low, high = wilson(share, runs)
    return f"{share:.3f} [{low:.3f}, {high:.3f}]"


def print_simulation(discordances: list[float], sizes: list[int], runs: int, policy) -> None:
    print(f"\nsimulation: {runs} runs per cell, {policy.describe()}\n")
    print(
        "| rows | discordance | rule | power (same quality passes) | refused, same quality | "
        "refused, 2 points worse | meets both (within noise) |"
    )
    print("|---|---|---|---|---|---|---|")
    for q in discordances:
        for n in sizes:
            power = gate.non_inferiority_power(n, q, policy)
            rule = gate.rule_for(n, policy).replace("_", " ")
            same = gate.simulate_refusal_rate(n, q, 0.0, policy, runs=runs, seed=n)
            worse = gate.simulate_refusal_rate(n, q, -0.02, policy, runs=runs, seed=n + 1)
            # within simulation noise: the rate's 95 % interval reaches the requirement
            ok = wilson(same, runs)[0] <= 0.05 and wilson(worse, runs)[1] >= 0.95
            print(
                f"| {n:,} | {q:.3f} | {rule} | {power:.2f} | {rate(same, runs)} | "
                f"{rate(worse, runs)} | {'yes' if ok else 'no'} |"
            )
        print(f"| rows needed at discordance {q:.3f}: {gate.rows_needed(q, policy):,} |||||||")
    needed = gate.rows_needed(policy.reference_discordance, policy)
    print(f"\nnon-inferiority from {needed:,} rows (reference discordance "
          f"{policy.reference_discordance})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work-dir", type=Path, help="prepared work folder: measure real pairs")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--discordance", type=float, nargs="*", default=[])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--margin", type=float, default=0.02)
    parser.add_argument("--reference-discordance", type=float, default=0.08)
    args = parser.parse_args()
    policy = GatePolicy(
        margin=args.margin,
        resamples=args.resamples,
        reference_discordance=args.reference_discordance,
    )
    discordances = list(args.discordance)
    if args.work_dir:
        from training.progress import QUIET

        QUIET["value"] = True
        discordances += print_real(real_pairs(args.work_dir, args.pairs, policy))
    if not discordances:
        parser.error("give --work-dir to measure the discordance, or --discordance")
    print_simulation(sorted({round(q, 3) for q in discordances}), args.sizes, args.runs, policy)


if __name__ == "__main__":
    main()
