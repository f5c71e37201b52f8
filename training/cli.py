"""`bad-buzz`: the one entry point of the training job, the model store and the local server.

Every command fails on bad input with one line on stderr and a non-zero exit, never a traceback:
`main()` maps the project's error types to that line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from shared.settings import Settings, get_settings

app = typer.Typer(
    help="Bad buzz: train, export, publish and serve the airline tweet-sentiment model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

MANUAL_TEST_PREFIX = "testdata.manual"
DEFAULT_WORK_DIR = Path(".local/work")
DEFAULT_BUNDLE_ROOT = Path(".local/bundles")

WorkDir = Annotated[Path, typer.Option(help="Folder for prepared data, models and plots.")]
DataOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--data", help="Labelled CSV (Sentiment140 or polarity,text); repeat for more sources."
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Folder of Sentiment140 CSVs; testdata.manual* is the hand-labelled test set."
    ),
]
BundleArg = Annotated[
    Path | None, typer.Argument(help="Bundle folder (default: the newest exported).")
]
BundleRootOpt = Annotated[Path, typer.Option(help="Where exported bundles are.")]
ManualOpt = Annotated[
    Path | None, typer.Option(help="Sentiment140 hand-labelled test file (never trained on).")
]


class UserError(Exception):
    """Bad input or a missing prerequisite: printed as one line, exit code 2."""


def resolve_sources(
    data: list[Path] | None, data_dir: Path | None, manual_test: Path | None
) -> tuple[list[Path], Path | None]:
    """Explicit files, else a folder of CSVs, else the official archive (downloaded, cached)."""
    if data:
        return list(data), manual_test
    if data_dir is None:
        from training.download import download_sentiment140

        data_dir = download_sentiment140(Path(".local/cache"))
    if not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir} is not a folder")
    csvs = sorted(data_dir.glob("*.csv"))
    manual = manual_test or next((p for p in csvs if p.name.startswith(MANUAL_TEST_PREFIX)), None)
    sources = [p for p in csvs if not p.name.startswith(MANUAL_TEST_PREFIX)]
    if not sources:
        raise UserError(f"no training CSV in {data_dir}")
    return sources, manual


def job_config(work_dir: Path, **overrides: object):
    from training.pipeline import JobConfig
    from training.train import TrainConfig

    train_config = TrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    return JobConfig(work_dir=work_dir, train=train_config)


def start_tracking(settings: Settings) -> None:
    from training.tracking import configure_tracking

    configure_tracking(settings.MLFLOW_TRACKING_URI)


@app.command()
def prepare(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
) -> None:
    """Load, select and clean the tweets, split them, and write the data report."""
    from training.pipeline import prepare_data

    sources, manual = resolve_sources(data, data_dir, manual_test)
    report = prepare_data(sources, manual, job_config(work_dir))
    typer.echo(
        json.dumps(
            {"steps": report.get("steps"), "fingerprint": report.get("fingerprint")},
            indent=2,
            default=str,
        )
    )


@app.command("train")
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

    start_tracking(get_settings())
    summary = train_candidates(
        job_config(work_dir, precision_floor=precision_floor, airline_weight=airline_weight)
    )
    print_candidates(summary)


def print_candidates(summary: dict) -> None:
    for kind, entry in summary["candidates"].items():
        m = entry["metrics"]
        manual = m.get("manual_test", {}).get("accuracy", float("nan"))
        typer.echo(
            f"{kind:16} test acc {m['test']['accuracy']:.3f}  "
            f"neg recall {m['test']['recall_neg']:.3f}  "
            f"manual acc {manual:.3f}  threshold {entry['threshold']:.3f}"
        )
    typer.echo(f"chosen: {summary['chosen']}")


@app.command()
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
    start_tracking(settings)
    bundle_dir, manifest = export_chosen(job_config(work_dir), bundle_root)
    if as_default:
        copy_bundle(bundle_dir, settings.DEFAULT_BUNDLE_PATH)
    typer.echo(f"bundle {manifest.version} → {bundle_dir}")


def copy_bundle(source: Path, dest: Path) -> None:
    import shutil

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)


def latest_bundle(bundle_root: Path) -> Path:
    bundles = sorted(p for p in bundle_root.glob("*/manifest.json"))
    if not bundles:
        raise UserError(f"no bundle in {bundle_root}; run `bad-buzz export` first")
    return bundles[-1].parent


@app.command()
def publish(
    bundle: BundleArg = None,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    champion: Annotated[bool, typer.Option(help="Make it the champion that serving loads.")] = True,
) -> None:
    """Upload a bundle to the model store (local folder or Blob Storage) and move the champion."""
    from shared.model_store import open_model_store

    settings = get_settings()
    manifest = open_model_store(settings).publish(
        bundle or latest_bundle(bundle_root), make_champion=champion
    )
    if champion and manifest.registered_version:
        start_tracking(settings)
        from training.tracking import set_champion_alias

        set_champion_alias(manifest.registered_version)
    typer.echo(f"published {manifest.version}{' as champion' if champion else ''}")


@app.command()
def evaluate(
    bundle: BundleArg = None,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
) -> None:
    """Evaluate a bundle through the serving code path (onnxruntime) on the prepared test sets."""
    from training.experiments import evaluate_bundle

    results = evaluate_bundle(bundle or latest_bundle(bundle_root), work_dir)
    typer.echo(json.dumps(results, indent=2))


@app.command()
def run(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the local server.")] = 7071,
    as_default: Annotated[
        bool, typer.Option(help="Also replace the repo's shipped default bundle.")
    ] = False,
) -> None:
    """The whole job: prepare → train → export → publish to the store, then serve."""
    prepare(data, data_dir, manual_test, work_dir)
    train_command(work_dir)
    export(work_dir, bundle_root, as_default)
    publish(None, bundle_root, True)
    if serve_after:
        serve(port=port)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (7071 is the Functions default).")] = 7071,
) -> None:
    """Serve the Function App's HTTP API locally under uvicorn, with the embedded defaults."""
    from shared.api.serve import serve as run_server

    run_server(host=host, port=port)


@app.command()
def ablation(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    out: Annotated[Path, typer.Option(help="Markdown table of the results.")] = Path(
        ".local/ablation.md"
    ),
) -> None:
    """One MLflow run per normalisation step switched off: accuracy earned, latency cost."""
    from training.experiments import run_ablation

    start_tracking(get_settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(run_ablation(work_dir), encoding="utf-8")
    typer.echo(out.read_text(encoding="utf-8"))


@app.command("compare-airline")
def compare_airline(work_dir: WorkDir = DEFAULT_WORK_DIR) -> None:
    """Whole corpus vs airline subset only, both scored on the airline slice of the test split."""
    from training.experiments import run_airline_comparison

    start_tracking(get_settings())
    typer.echo(json.dumps(run_airline_comparison(work_dir), indent=2))


@app.command()
def harvest() -> None:
    """Collect flagged predictions into the feedback store now (what the weekly timer runs)."""
    from shared.feedback.harvest import run_harvest

    result = run_harvest(get_settings())
    typer.echo(json.dumps(result.summary(), indent=2, sort_keys=True, default=str))


@app.command()
def retrain(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    bundle_root: Annotated[
        Path, typer.Option(help="Where the challenger bundle is written.")
    ] = DEFAULT_BUNDLE_ROOT,
    feedback_weight: Annotated[
        float, typer.Option(min=0.0, help="Sample weight of a flagged tweet.")
    ] = 5.0,
    tolerance: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Accuracy/recall a challenger may lose on the frozen sets."
        ),
    ] = 0.01,
    holdout_share: Annotated[
        float,
        typer.Option(min=0.05, max=0.9, help="Share of feedback held out to judge the challenger."),
    ] = 0.2,
    dry_run: Annotated[bool, typer.Option(help="Compare, but never promote.")] = False,
) -> None:
    """Base corpus + all harvested feedback → challenger; promote it only if it is not worse."""
    from shared.feedback.state import mark_consumed, read_feedback
    from shared.model_store import open_model_store
    from shared.storage import open_object_store
    from training.pipeline import prepare_data
    from training.retrain import RetrainConfig
    from training.retrain import retrain as run_retrain

    settings = get_settings()
    start_tracking(settings)
    if data or data_dir or not (work_dir / "data" / "train.parquet").is_file():
        sources, manual = resolve_sources(data, data_dir, manual_test)
        prepare_data(sources, manual, job_config(work_dir))
    feedback_store = open_object_store(settings, settings.FEEDBACK_CONTAINER)
    records = read_feedback(feedback_store)
    store = open_model_store(settings)
    config = RetrainConfig(
        feedback_weight=feedback_weight, tolerance=tolerance, holdout_share=holdout_share
    )
    report, challenger_dir = run_retrain(store, records, work_dir, bundle_root, config)
    if report.promoted and challenger_dir is not None and not dry_run:
        store.publish(challenger_dir, make_champion=True)
        mark_consumed(feedback_store, [r["prediction_id"] for r in records])
    typer.echo(
        json.dumps(
            {**report.__dict__, "promoted": report.promoted and not dry_run}, indent=2, default=str
        )
    )


@app.command()
def rollback() -> None:
    """Make the previous champion the champion again; serving follows without a redeploy."""
    from shared.model_store import open_model_store

    pointer = open_model_store(get_settings()).rollback()
    typer.echo(f"champion is now {pointer.version}")


def error_types() -> tuple[type[BaseException], ...]:
    from pydantic import ValidationError

    from shared.bundle import BundleError
    from training.data import DataError
    from training.export import ExportError

    types: list[type[BaseException]] = [
        UserError,
        BundleError,
        DataError,
        ExportError,
        ValidationError,
        FileNotFoundError,
        PermissionError,
    ]
    try:
        from shared.storage import StorageError

        types.append(StorageError)
    except ImportError:  # pragma: no cover - store module always ships
        pass
    return tuple(types)


def usage_error_types() -> tuple[type[Exception], ...]:
    """Click's usage errors. Recent typer vendors click (typer._click), whose errors derive from
    typer.TyperException and not from click's ClickException: both are listed."""
    import click

    vendored = getattr(typer, "TyperException", None)
    return (click.exceptions.ClickException, *([vendored] if vendored else []))


def main() -> None:
    """Console entry point: user errors become one line and exit code 2."""
    try:
        app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, usage_error_types()):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, error_types()):
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            typer.echo(f"error: {message}", err=True)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
