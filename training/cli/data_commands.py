"""The training job's data and model commands: prepare, train, export, evaluate, and the
experiments (ablation, corpus-study, compare-airline). Registered on the app in `__init__`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shared.settings import get_settings
from training.cli import options
from training.cli.options import (
    DEFAULT_BUNDLE_ROOT,
    DEFAULT_WORK_DIR,
    NEUTRAL,
    SEMEVAL_HOLDOUT,
    SEMEVAL_WEIGHT,
    AutoOpt,
    BrandOpt,
    BundleArg,
    BundleRootOpt,
    DataDirOpt,
    DataOpt,
    HoldoutOpt,
    ManualOpt,
    NeutralOpt,
    SemevalDirOpt,
    SemevalWeightOpt,
    SourceOpt,
    UserError,
    WorkDir,
    job_config,
    latest_bundle,
)
from training.cli.sources import resolve_plan


def prepare(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    source: SourceOpt = None,
    semeval_dir: SemevalDirOpt = None,
    semeval_weight: SemevalWeightOpt = SEMEVAL_WEIGHT,
    neutral: NeutralOpt = NEUTRAL,
    semeval_holdout: HoldoutOpt = SEMEVAL_HOLDOUT,
    brand_csv: BrandOpt = None,
    auto_sources: AutoOpt = True,
) -> None:
    """Load every source, set the frozen evaluation sets aside, select, split, report."""
    from training.pipeline import prepare_data

    sources, frozen = resolve_plan(
        data,
        data_dir,
        manual_test,
        sources=source,
        semeval_dir=semeval_dir,
        semeval_weight=semeval_weight,
        neutral=neutral,
        semeval_holdout=semeval_holdout,
        brand_csv=brand_csv,
        auto=auto_sources,
    )
    report = prepare_data(sources, None, job_config(work_dir), frozen=frozen)
    summary = {
        "steps": report.get("steps"),
        "per_source": report.get("per_source"),
        "frozen_sets": report.get("frozen_sets"),
        "fingerprint": report.get("fingerprint"),
    }
    typer.echo(json.dumps(summary, indent=2, default=str))


def train_command(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    precision_floor: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Negative precision the threshold must keep."),
    ] = None,
    airline_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Sample weight of airline tweets.")
    ] = None,
) -> None:
    """Train every candidate (one MLflow run each) and keep the best exportable one."""
    from training.pipeline import train_candidates

    options.start_tracking(get_settings())
    summary = train_candidates(
        job_config(work_dir, precision_floor=precision_floor, airline_weight=airline_weight)
    )
    print_candidates(summary)


def print_candidates(summary: dict) -> None:
    nan = float("nan")
    for kind, entry in summary["candidates"].items():
        m = entry["metrics"]
        typer.echo(
            f"{kind:16} test acc {m['test']['accuracy']:.3f}  "
            f"neg recall {m['test']['recall_neg']:.3f}  "
            f"manual acc {m.get('manual_test', {}).get('accuracy', nan):.3f}  "
            f"semeval AUC {m.get('semeval_test', {}).get('roc_auc', nan):.3f}  "
            f"brand AUC {m.get('brand', {}).get('roc_auc', nan):.3f}  "
            f"threshold {entry['threshold']:.3f}"
        )
    typer.echo(f"chosen: {summary['chosen']}")


def export(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    bundle_root: Annotated[
        Path, typer.Option(help="Where versioned bundles are written.")
    ] = DEFAULT_BUNDLE_ROOT,
    as_default: Annotated[
        bool, typer.Option(help="Also replace the repo's shipped default bundle.")
    ] = False,
) -> None:
    """Convert the chosen pipeline to ONNX (parity-gated) and write a versioned bundle."""
    from training.pipeline import export_chosen

    settings = get_settings()
    options.start_tracking(settings)
    bundle_dir, manifest = export_chosen(job_config(work_dir), bundle_root)
    if as_default:
        copy_bundle(bundle_dir, settings.DEFAULT_BUNDLE_PATH)
    typer.echo(f"bundle {manifest.version} → {bundle_dir}")


def copy_bundle(source: Path, dest: Path) -> None:
    import shutil

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)


def evaluate(
    bundle: BundleArg = None,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
) -> None:
    """Evaluate a bundle through the serving code path (onnxruntime) on the prepared test sets."""
    from training.experiments import evaluate_bundle

    results = evaluate_bundle(bundle or latest_bundle(bundle_root), work_dir)
    typer.echo(json.dumps(results, indent=2))


def ablation(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    out: Annotated[Path, typer.Option(help="Markdown table of the results.")] = Path(
        ".local/ablation.md"
    ),
) -> None:
    """One MLflow run per normalisation step switched off: accuracy earned, latency cost."""
    from training.experiments import run_ablation

    options.start_tracking(get_settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(run_ablation(work_dir), encoding="utf-8")
    typer.echo(out.read_text(encoding="utf-8"))


def corpus_study(
    data_dir: DataDirOpt = None,
    source: SourceOpt = None,
    semeval_dir: SemevalDirOpt = None,
    brand_csv: BrandOpt = None,
    work_dir: Annotated[Path, typer.Option(help="Scratch folder for the variants.")] = Path(
        ".local/corpus-study"
    ),
    weights: Annotated[
        str, typer.Option(help="SemEval weights to try, comma-separated.")
    ] = "1,2,4",
    out: Annotated[Path, typer.Option(help="Markdown table of the results.")] = Path(
        ".local/corpus-study.md"
    ),
) -> None:
    """Corpus variants (without SemEval; SemEval neutral dropped or kept as not-negative, at
    several weights), each scored on every frozen set (docs/ablation.md)."""
    from training.experiments import run_corpus_study

    try:
        weight_values = tuple(float(w) for w in weights.split(","))
    except ValueError as exc:
        raise UserError(f"--weights {weights!r}: expected numbers like 1,2,4") from exc
    sources, frozen = resolve_plan(
        None, data_dir, None, sources=source, semeval_dir=semeval_dir, brand_csv=brand_csv
    )
    options.start_tracking(get_settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(run_corpus_study(sources, frozen, work_dir, weight_values), encoding="utf-8")
    typer.echo(out.read_text(encoding="utf-8"))


def compare_airline(work_dir: WorkDir = DEFAULT_WORK_DIR) -> None:
    """Whole corpus vs airline subset only, both scored on the airline slice of the test split."""
    from training.experiments import run_airline_comparison

    options.start_tracking(get_settings())
    typer.echo(json.dumps(run_airline_comparison(work_dir), indent=2))
