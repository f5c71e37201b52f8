"""The feedback loop's commands: `harvest` feedback now, `retrain` a challenger and promote it
only on evidence. Registered on the app in `__init__`."""

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
    DataDirOpt,
    DataOpt,
    ManualOpt,
    UserError,
    WorkDir,
    job_config,
)
from training.cli.sources import resolve_plan


def harvest() -> None:
    """Collect corrections and confirmations into the feedback store now (the weekly timer's job).

    Prints what it did (new records, duplicates, late-window re-reads, unconsumed count, whether
    this run claimed a retrain request). A failure is one line, exit 2; a rerun continues safely.
    """
    from shared.feedback.harvest import run_harvest
    from shared.feedback.records import HarvestError

    try:
        result = run_harvest(get_settings())
    except HarvestError as exc:
        raise UserError(f"harvest failed: {exc}") from exc
    typer.echo(json.dumps(result.summary(), indent=2, sort_keys=True, default=str))


def retrain(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    bundle_root: Annotated[
        Path, typer.Option(help="Where the challenger bundle is written.")
    ] = DEFAULT_BUNDLE_ROOT,
    margin: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Accuracy/recall a challenger may lose on a frozen set (0.02 = 2 points).",
        ),
    ] = 0.02,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="One-sided confidence of the gate's bounds.")
    ] = 0.95,
    holdout_share: Annotated[
        float,
        typer.Option(
            min=0.05, max=0.9, help="Share of feedback texts held out to judge the challenger."
        ),
    ] = 0.2,
    max_age_days: Annotated[
        float, typer.Option(min=0.0, help="Use feedback flagged within this many days (0: all).")
    ] = 90.0,
    feedback_weights: Annotated[
        str, typer.Option(help="Feedback sample weights the cross-validation chooses from.")
    ] = "1,3,10,30",
    feedback_vocabulary: Annotated[
        bool,
        typer.Option(
            help="Add the feedback's own n-grams to the base vocabulary (off: it cost domain "
            "ROC AUC in the loop benchmark)."
        ),
    ] = False,
    exclude_frozen: Annotated[
        list[str] | None,
        typer.Option(help="Frozen set that is the loop's own domain (not a guard); repeatable."),
    ] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Also write the full report (with ids) here.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Compare, but never promote.")] = False,
) -> None:
    """Base corpus + recent feedback → challenger; promote it only on evidence (docs/gate.md):
    not worse than a margin on the frozen sets, better on held-out feedback."""
    from shared.feedback.state import mark_consumed, read_feedback
    from shared.model_store import ChampionChanged, open_model_store
    from shared.storage import open_object_store
    from training.pipeline import prepare_data
    from training.retrain import retrain as run_retrain

    settings = get_settings()
    options.start_tracking(settings)
    if data or data_dir or not (work_dir / "data" / "train.parquet").is_file():
        sources, frozen = resolve_plan(data, data_dir, manual_test)
        prepare_data(sources, None, job_config(work_dir), frozen=frozen)
    config = retrain_config(
        margin, confidence, holdout_share, max_age_days, feedback_weights, feedback_vocabulary,
        exclude_frozen,
    )  # fmt: skip
    feedback_store = open_object_store(settings, settings.FEEDBACK_CONTAINER)
    records = read_feedback(feedback_store)
    store = open_model_store(settings)
    report, challenger_dir = run_retrain(store, records, work_dir, bundle_root, config)
    if report.promoted and challenger_dir is not None and not dry_run:
        try:  # only if the champion is still the one the gate compared with
            store.publish(challenger_dir, make_champion=True, expected_etag=report.champion_etag)
            mark_consumed(feedback_store, [r["prediction_id"] for r in records])
        except ChampionChanged as exc:
            report.promoted = False
            report.reasons.append(f"not promoted: {exc}")
    if report_path is not None:
        report_path.write_text(json.dumps(report.__dict__, indent=2, default=str), encoding="utf-8")
    summary = {**report.summary(), "promoted": report.promoted and not dry_run}
    typer.echo(json.dumps(summary, indent=2, default=str))


def retrain_config(
    margin: float,
    confidence: float,
    holdout_share: float,
    max_age_days: float,
    feedback_weights: str,
    feedback_vocabulary: bool,
    exclude_frozen: list[str] | None,
):
    """The retrain's options as its config; a malformed weight list is a user error."""
    from training.domain_fit import DomainFitConfig
    from training.gate import GatePolicy
    from training.retrain import RetrainConfig

    try:
        weights = tuple(float(w) for w in feedback_weights.split(",") if w.strip())
    except ValueError as exc:
        raise UserError(
            f"--feedback-weights {feedback_weights!r}: expected numbers, e.g. 1,3,10"
        ) from exc
    if not weights or any(w <= 0 for w in weights):
        raise UserError("--feedback-weights needs at least one positive weight")
    return RetrainConfig(
        holdout_share=holdout_share,
        max_age_days=max_age_days or None,
        exclude_frozen=tuple(exclude_frozen or ()),
        policy=GatePolicy(margin=margin, confidence=confidence),
        fit=DomainFitConfig(weights=weights, feedback_vocabulary=feedback_vocabulary),
    )
