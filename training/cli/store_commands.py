"""The model store commands: publish a bundle as champion, roll back, repair champion.json.
Registered on the app in `__init__`."""

from __future__ import annotations

from typing import Annotated

import typer

from shared.settings import Settings, get_settings
from training.cli import options
from training.cli.options import (
    DEFAULT_BUNDLE_ROOT,
    BundleArg,
    BundleRootOpt,
    latest_bundle,
    one_line,
)

VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="Stored version to make champion (e.g. the one rolled back from); "
        "works when champion.json is corrupt.",
    ),
]


def publish(
    bundle: BundleArg = None,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    champion: Annotated[bool, typer.Option(help="Make it the champion that serving loads.")] = True,
) -> None:
    """Check a bundle serves, upload it to the model store and make it the champion.

    Checks the sha256 of every file and that onnxruntime loads and scores it; works over a
    corrupt champion.json (replaced, with a note)."""
    from shared.model_store import open_model_store

    settings = get_settings()
    store = open_model_store(settings)
    manifest = store.publish(bundle or latest_bundle(bundle_root), make_champion=champion)
    typer.echo(f"published {manifest.version}{' as champion' if champion else ''}")
    if champion:
        echo_pointer_note(store)
        move_registry_alias(settings, manifest)


def echo_pointer_note(store) -> None:
    """Say so when the last pointer move replaced a corrupt champion.json or skipped versions."""
    pointer = store.read_champion()
    if pointer is not None and pointer.history and pointer.history[0].note:
        typer.echo(f"note: {pointer.history[0].note}", err=True)


def move_registry_alias(settings: Settings, manifest) -> None:
    """Best effort: serving follows the store's pointer; the MLflow alias only mirrors it. A
    bundle registered in another tracking store (models/default, a CI runner's) is a warning."""
    if manifest is None or not manifest.registered_version:
        return
    from mlflow.exceptions import MlflowException

    from training.tracking import set_champion_alias

    try:
        options.start_tracking(settings)
        set_champion_alias(manifest.registered_version)
    except MlflowException as exc:
        typer.echo(
            f"warning: MLflow alias 'champion' not moved to {manifest.registered_model} "
            f"v{manifest.registered_version} ({one_line(exc)[:160]}); the store's champion is set",
            err=True,
        )


def rollback(to: VersionOpt = None) -> None:
    """Make the previous champion (or --to VERSION) the champion again, once it verifies.

    Serving follows without a redeploy; the version rolled back from stays in the store and in
    the pointer's history."""
    from shared.model_store import open_model_store

    settings = get_settings()
    store = open_model_store(settings)
    pointer = store.rollback(to=to)
    typer.echo(f"champion is now {pointer.version}")
    echo_pointer_note(store)
    move_registry_alias(settings, store.read_manifest(pointer.version))


def repair(to: VersionOpt = None) -> None:
    """Rebuild a corrupt, lost or unservable champion.json from the stored bundles.

    The newest stored version that verifies becomes champion (or --to VERSION)."""
    from shared.model_store import open_model_store

    settings = get_settings()
    store = open_model_store(settings)
    result = store.repair(to=to)
    for version, reason in result.skipped.items():
        typer.echo(f"skipped {version}: {reason}", err=True)
    if not result.changed:
        typer.echo(f"champion.json is fine: champion {result.pointer.version} serves")
        return
    typer.echo(f"champion.json repaired: champion is now {result.pointer.version}")
    move_registry_alias(settings, store.read_manifest(result.pointer.version))
