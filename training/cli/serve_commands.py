"""Serving on this machine: `serve` the API, or `run` the whole job and then serve it.
Registered on the app in `__init__`; the process work is in training/local_run.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shared.settings import get_settings
from training.cli import options as opt
from training.cli.data_commands import export, prepare, train_command
from training.cli.store_commands import publish


def run(
    data: opt.DataOpt = None,
    data_dir: opt.DataDirOpt = None,
    manual_test: opt.ManualOpt = None,
    work_dir: opt.WorkDir = opt.DEFAULT_WORK_DIR,
    source: opt.SourceOpt = None,
    semeval_dir: opt.SemevalDirOpt = None,
    semeval_weight: opt.SemevalWeightOpt = opt.SEMEVAL_WEIGHT,
    neutral: opt.NeutralOpt = opt.NEUTRAL,
    semeval_holdout: opt.HoldoutOpt = opt.SEMEVAL_HOLDOUT,
    brand_csv: opt.BrandOpt = None,
    auto_sources: opt.AutoOpt = True,
    bundle_root: opt.BundleRootOpt = opt.DEFAULT_BUNDLE_ROOT,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the local server.")] = 7071,
    as_default: Annotated[
        bool, typer.Option(help="Also replace the repo's shipped default bundle.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Where the JSON report goes [WORK_DIR/run_report.json].")
    ] = None,
) -> None:
    """The whole job: prepare → train → export → publish, then serve in a fresh process.

    Every step's output goes to a JSON report (--report); the terminal gets a short summary.
    Serving replaces the training process (exec), so its memory is given back."""
    from shared.bundle import read_manifest
    from training import local_run

    if serve_after:
        local_run.check_port_free("127.0.0.1", port)  # fail now, not after minutes of training
    outputs: dict[str, object] = {}
    with local_run.captured_stdout(outputs, "prepare"):
        prepare(
            data,
            data_dir,
            manual_test,
            work_dir,
            source,
            semeval_dir,
            semeval_weight,
            neutral,
            semeval_holdout,
            brand_csv,
            auto_sources,
        )
    with local_run.captured_stdout(outputs, "train"):
        train_command(work_dir)
    with local_run.captured_stdout(outputs, "export"):
        export(work_dir, bundle_root, as_default)
    with local_run.captured_stdout(outputs, "publish"):
        publish(None, bundle_root, True)
    manifest = read_manifest(opt.latest_bundle(bundle_root))
    path = local_run.write_report(report or work_dir / local_run.REPORT_FILE, outputs, manifest)
    for line in local_run.summary_lines(manifest, open_store_name(), path):
        typer.echo(line)
    if serve_after:
        typer.echo(f"serving on http://127.0.0.1:{port} in a fresh process (Ctrl-C stops it)")
        local_run.exec_serve("127.0.0.1", port)


def open_store_name() -> str:
    from shared.model_store import open_model_store

    return open_model_store(get_settings()).describe()


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port (7071 is the Functions default).")
    ] = 7071,
) -> None:
    """Serve the Function App's HTTP API locally under uvicorn, with the embedded defaults."""
    from training.local_run import check_port_free

    check_port_free(host, port)  # one line suggesting --port, not uvicorn's raw [Errno 98]
    from shared.api.serve import serve as run_server

    run_server(host=host, port=port)
