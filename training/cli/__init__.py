"""`bad-buzz`: the one entry point of the training job, the model store and the local server.

Every command fails on bad input with one line on stderr and a non-zero exit, never a traceback:
`main()` maps the project's error types to that line.

The commands live by concern (data_commands, store_commands, serve_commands, loop_commands,
sharing options.py and sources.py); this module builds the app, registers them in the order
`--help` lists them, and handles errors.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from training.cli import data_commands, loop_commands, serve_commands, store_commands
from training.cli.options import UserError, one_line

app = typer.Typer(
    help="Bad buzz: train, export, publish and serve the airline tweet-sentiment model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command()(data_commands.prepare)
app.command("train")(data_commands.train_command)
app.command()(data_commands.export)
app.command()(store_commands.publish)
app.command()(data_commands.evaluate)
app.command()(serve_commands.run)
app.command()(serve_commands.serve)
app.command()(data_commands.ablation)
app.command("corpus-study")(data_commands.corpus_study)
app.command("compare-airline")(data_commands.compare_airline)
app.command()(loop_commands.harvest)
app.command()(loop_commands.retrain)
app.command()(store_commands.rollback)
app.command()(store_commands.repair)


def error_types() -> tuple[type[BaseException], ...]:
    """The project's own errors (and missing files): their message is meant for the user."""
    from pydantic import ValidationError

    from shared.bundle import BundleError
    from training.data import DataError
    from training.export import ExportError
    from training.local_run import ServeError

    types: list[type[BaseException]] = [
        UserError,
        BundleError,
        DataError,
        ExportError,
        ServeError,
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


DEBUG_ENV = "BAD_BUZZ_DEBUG"
DEBUG = {"value": False}


@app.callback()
def global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar=DEBUG_ENV, help="Print the full traceback when a command fails."
        ),
    ] = False,
) -> None:
    DEBUG["value"] = debug


def main() -> None:
    """Console entry point: every failure is one `error:` line, never a traceback (but --debug).

    Exit 2: the project's own errors (bad input, missing prerequisite, store refusals);
    exit 1: anything else that escaped a command (a third-party library's exception), named.
    """
    import os

    try:
        app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, usage_error_types()):
            exc.show()
            sys.exit(exc.exit_code)
        if DEBUG["value"] or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes"):
            import traceback

            traceback.print_exc()
        if isinstance(exc, error_types()):
            typer.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(2)
        typer.echo(
            f"error: {type(exc).__name__}: {one_line(exc)} "
            f"(unexpected; --debug or {DEBUG_ENV}=1 shows the traceback)",
            err=True,
        )
        sys.exit(1)
