"""MLflow at the edge: where runs go, and how a chosen pipeline is registered.

The tracking URI is set when a command starts (never at import), from `MLFLOW_TRACKING_URI`,
whose embedded default is a SQLite file under .local/ so that `mlflow ui` can read it.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

EXPERIMENT = "tweet-sentiment"
REGISTERED_MODEL = "tweet-sentiment"
CHAMPION_ALIAS = "champion"


def configure_tracking(tracking_uri: str, experiment: str = EXPERIMENT) -> None:
    """Point MLflow at the tracking store, creating the local SQLite folder when needed."""
    import mlflow

    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # Alembic's migration chatter on first use of a SQLite store says nothing a user needs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(tracking_uri)
    if tracking_uri.startswith("sqlite:///") and mlflow.get_experiment_by_name(experiment) is None:
        # Beside the database, not ./mlruns of whatever folder the command runs from.
        artifacts = Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts"
        mlflow.create_experiment(experiment, artifact_location=artifacts.resolve().as_uri())
    mlflow.set_experiment(experiment)


@contextmanager
def start_run(name: str, *, nested: bool = False, tags: dict[str, str] | None = None):
    import mlflow

    with mlflow.start_run(run_name=name, nested=nested, tags=tags) as run:
        yield run


def log_params(params: dict[str, Any]) -> None:
    import mlflow

    mlflow.log_params({key: str(value)[:500] for key, value in params.items()})


def log_metrics(metrics: dict[str, float]) -> None:
    import math

    import mlflow

    mlflow.log_metrics({key: value for key, value in metrics.items() if not math.isnan(value)})


def log_json(data: dict[str, Any], name: str) -> None:
    import mlflow

    mlflow.log_text(json.dumps(data, indent=2, default=str), name)


def log_artifacts(paths: list[Path], folder: str | None = None) -> None:
    import mlflow

    for path in paths:
        mlflow.log_artifact(str(path), artifact_path=folder)


def register_pipeline(pipeline: Any, example: pd.DataFrame) -> str | None:
    """Log the scikit-learn pipeline with its signature and register it; returns the version."""
    import mlflow
    from mlflow.models import infer_signature

    signature = infer_signature(example, pipeline.predict_proba(example))
    info = mlflow.sklearn.log_model(
        pipeline,
        name="model",
        signature=signature,
        input_example=example,
        registered_model_name=REGISTERED_MODEL,
        serialization_format="cloudpickle",
    )
    return None if info.registered_model_version is None else str(info.registered_model_version)


def set_champion_alias(version: str) -> None:
    """Move the registry alias `champion` to the registered version that was just published."""
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, version)
