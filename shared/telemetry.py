"""Traces of predictions: one "predict" span per text, carrying the verdict but never the text.

The code path uses the OpenTelemetry API only, which is a no-op until someone installs an SDK
provider: in Azure the Functions worker does it (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true),
locally `configure_telemetry` does it on request. Tweets are personal data: spans carry labels,
scores and timings, which is what dashboards and drift checks need, and nothing a user wrote.

Other spans come from instrumentation we do not write (HTTP clients and servers, Azure SDK,
databases), and those can carry request text: the translator's URL holds the tweet in its query
string. So every span and log record of the process is redacted before any exporter sees it
(shared/telemetry_redaction.py), whoever configured the provider: query strings and user info
out of URLs, literals out of database statements, exception messages out of exceptions.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

from opentelemetry import trace

from shared.settings import Settings

logger = logging.getLogger(__name__)

TRACER_NAME = "bad_buzz.serving"
SPAN_PREDICT = "predict"
WORKER_TELEMETRY_FLAG = "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"

_state: dict[str, str] = {}


@dataclass(frozen=True)
class PredictionTrace:
    """What one span records about one prediction: the attributes, not the input."""

    prediction_id: str
    model_version: str
    label: str
    negative_probability: float
    language: str
    translated: bool
    start_ns: int
    end_ns: int

    def attributes(self) -> dict[str, str | float | bool]:
        return {
            "prediction_id": self.prediction_id,
            "model_version": self.model_version,
            "label": self.label,
            "negative_probability": self.negative_probability,
            "language": self.language,
            "translated": self.translated,
            "latency_ms": (self.end_ns - self.start_ns) / 1e6,
        }


def record_prediction(event: PredictionTrace) -> None:
    """Emit the span after the fact, with the measured start and end times."""
    tracer = trace.get_tracer(TRACER_NAME)
    span = tracer.start_span(SPAN_PREDICT, start_time=event.start_ns, attributes=event.attributes())
    span.end(end_time=event.end_ns)


def tracing_already_configured() -> bool:
    """True when the Functions worker or an earlier call installed a real tracer provider."""
    if os.environ.get(WORKER_TELEMETRY_FLAG, "").strip().lower() == "true":
        return True
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def configure_telemetry(settings: Settings) -> str:
    """Install the exporter TELEMETRY_EXPORTER asks for, once; return what is in effect.

    Called by the entry points (function_app.py, serve), not by `create_app`, so building an app
    in a test never touches the process-wide tracer provider.
    """
    if "mode" in _state:
        return _state["mode"]
    from shared.telemetry_redaction import install_log_redaction  # imports the SDK: not at import

    install_log_redaction()  # log records reach App Insights whichever way spans go
    exporter = settings.TELEMETRY_EXPORTER
    if tracing_already_configured():
        mode = "existing"
        add_redaction(trace.get_tracer_provider())
    elif exporter == "none":
        mode = "none"
    elif exporter == "console":
        mode = configure_console()
    else:
        mode = configure_azure(settings)
    _state["mode"] = mode
    return mode


def add_redaction(provider: object) -> bool:
    """Redact every span of an SDK provider someone else installed (the Functions worker).

    The processor works in the SDK's "ending" hook, which runs before ANY processor's `on_end`,
    so it is effective even though the exporter's processor was added first.
    """
    from shared.telemetry_redaction import RedactingSpanProcessor

    add = getattr(provider, "add_span_processor", None)
    if add is None:  # the API's no-op provider: nothing is recorded, nothing to redact
        return False
    add(RedactingSpanProcessor())
    return True


def configure_console() -> str:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    from shared.telemetry_redaction import RedactingSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(RedactingSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    return "console"


def configure_azure(settings: Settings) -> str:
    """Azure Monitor without the worker's integration, e.g. `bad-buzz serve` to App Insights."""
    secret = settings.APPLICATIONINSIGHTS_CONNECTION_STRING
    if secret is None:
        logger.warning(
            "TELEMETRY_EXPORTER=azure but APPLICATIONINSIGHTS_CONNECTION_STRING is unset"
        )
        return "none"
    from azure.monitor.opentelemetry import configure_azure_monitor  # heavy: only when asked

    from shared.telemetry_redaction import RedactingSpanProcessor

    configure_azure_monitor(
        connection_string=secret.get_secret_value(), span_processors=[RedactingSpanProcessor()]
    )
    return "azure"


def reset_telemetry_state() -> None:
    """Forget what `configure_telemetry` did (tests only; the tracer provider itself stays)."""
    _state.clear()
    if "shared.telemetry_redaction" in sys.modules:
        sys.modules["shared.telemetry_redaction"].uninstall_log_redaction()


MODEL_STATE_EVENT = "model_state"
OPS_LOGGER = "bad_buzz.ops"


def record_model_state(model: object | None, reason: str | None) -> None:
    """One `model_state` log record after each model load or refresh attempt: the health state.

    In Azure it lands in AppTraces (Message "model_state", these keys in Properties), where
    shared/queries/model_health.kql alerts on "unavailable" at once and on "degraded" after 15
    minutes. `model` is the served LoadedModel (version, source) or None; status as /api/health.
    """
    status = "unavailable" if model is None else ("degraded" if reason else "ok")
    ops = logging.getLogger(OPS_LOGGER)
    ops.setLevel(logging.INFO)  # the root logger's WARNING must not hide the record
    ops.info(
        MODEL_STATE_EVENT,
        extra={
            "status": status,
            "model_version": str(getattr(model, "version", "") or ""),
            "model_source": str(getattr(model, "source", "") or ""),
            "detail": reason or "",
        },
    )
