"""The one typed settings object, read from the environment (the Azure app settings).

Field names are the app-setting names, so `local.settings.json.example`, the Bicep app settings and
this class can be checked against each other (tests/code/test_infra_consistency.py). Nothing is
read or created at import time: call `get_settings()`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LOCAL_ROOT = Path(".local")


class Settings(BaseSettings):
    """Every setting the code reads. Secrets have no default."""

    # env_ignore_empty: `func start` exports unset values as "", which must mean "not set".
    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    # --- model store -------------------------------------------------------------------------
    MODEL_STORE_PATH: Path = Field(
        DEFAULT_LOCAL_ROOT / "models",
        description="Local model store folder (embedded default, used when no blob store is set).",
    )
    MODEL_STORE_ACCOUNT_URL: str | None = Field(
        None, description="Blob service URL; DefaultAzureCredential (managed identity) in Azure."
    )
    MODEL_STORE_CONNECTION_STRING: SecretStr | None = Field(
        None, description="Blob connection string (Azurite); takes precedence over the account URL."
    )
    MODEL_STORE_CONTAINER: str = Field("models", description="Blob container of model bundles.")
    MODEL_CACHE_DIR: Path = Field(
        DEFAULT_LOCAL_ROOT / "model-cache", description="Local copy of the last good bundle."
    )
    MODEL_REFRESH_SECONDS: float = Field(
        300.0, ge=0, description="How often serving checks the champion pointer (0 = never)."
    )
    DEFAULT_BUNDLE_PATH: Path = Field(
        Path("models/default"),
        description="Bundle shipped in the repo, served when the store has no champion.",
    )

    # --- serving -------------------------------------------------------------------------------
    AUTH_MODE: Literal["none", "api_key"] = Field(
        "none", description="api_key: predict and feedback need the x-api-key header."
    )
    API_KEY: SecretStr | None = Field(
        None, description="Key for AUTH_MODE=api_key (Key Vault ref)."
    )
    TRANSLATION_ENABLED: bool = Field(True, description="Translate non-English text (internet).")
    TRANSLATION_TIMEOUT_SECONDS: float = Field(1.5, gt=0, le=1.5)
    TRANSLATOR_URL: str | None = Field(
        None, description="Override of the Google Translate endpoint (tests use a local stand-in)."
    )

    # --- feedback loop -------------------------------------------------------------------------
    FEEDBACK_BACKEND: Literal["sqlite", "appinsights"] = Field(
        "sqlite", description="sqlite: local feedback log; appinsights: OpenTelemetry log record."
    )
    FEEDBACK_DB_PATH: Path = Field(DEFAULT_LOCAL_ROOT / "feedback.sqlite3")
    FEEDBACK_TOKEN_KEY: SecretStr | None = Field(
        None, description="HMAC key of feedback tokens (Key Vault ref); unset: the key file."
    )
    FEEDBACK_TOKEN_KEY_PATH: Path = Field(
        DEFAULT_LOCAL_ROOT / "feedback-token.key",
        description="Local key file (0600), created once, used when FEEDBACK_TOKEN_KEY is unset.",
    )
    FEEDBACK_MAX_PER_HOUR: int = Field(
        120, ge=1, description="Feedback requests per caller per hour, per instance."
    )
    FEEDBACK_CONTAINER: str = Field("feedback", description="Container of harvested feedback.")
    LOG_ANALYTICS_WORKSPACE_ID: str | None = Field(
        None, description="Workspace the weekly harvest queries (azure-monitor-query)."
    )
    LOGS_QUERY_ENDPOINT: str | None = Field(
        None, description="Override of the Log Analytics query endpoint (tests: loopback)."
    )
    HARVEST_SCHEDULE: str = Field("0 0 3 * * 1", description="NCRONTAB, default Monday 03:00 UTC.")
    RETRAIN_THRESHOLD: int = Field(
        100, ge=1, description="Unconsumed feedback that asks a retrain."
    )
    GITHUB_REPOSITORY: str | None = Field(None, description="owner/name that runs the retrain.")
    GITHUB_TOKEN: SecretStr | None = Field(
        None, description="Token for workflow_dispatch (fine-grained, Actions: write only)."
    )
    GITHUB_RETRAIN_WORKFLOW: str = Field(
        "retrain.yml", description="Workflow file (or id) the harvest dispatches."
    )
    GITHUB_REF: str = Field("main", description="Branch or tag the retrain workflow runs on.")

    # --- telemetry -----------------------------------------------------------------------------
    APPLICATIONINSIGHTS_CONNECTION_STRING: SecretStr | None = None
    TELEMETRY_EXPORTER: Literal["none", "console", "azure"] = Field(
        "none", description="Where spans go locally; in Azure the worker's integration exports."
    )
    PREDICTION_EVENTS_PATH: Path = Field(
        DEFAULT_LOCAL_ROOT / "predictions.sqlite3",
        description="Local store of prediction events (no text) behind GET /api/buzz.",
    )
    PREDICTION_EVENTS_MAX: int = Field(
        50_000, ge=0, description="Rows the local prediction-event store keeps (0 = off)."
    )

    # --- training ------------------------------------------------------------------------------
    MLFLOW_TRACKING_URI: str = Field(
        f"sqlite:///{DEFAULT_LOCAL_ROOT}/mlflow.db", description="MLflow tracking server or DB."
    )

    @property
    def uses_blob_store(self) -> bool:
        return bool(self.MODEL_STORE_CONNECTION_STRING or self.MODEL_STORE_ACCOUNT_URL)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build `Settings(...)` directly instead."""
    return Settings()
