"""Traces of predictions: one "predict" span per text, carrying the verdict but never the text.

The code path uses the OpenTelemetry API only, which is a no-op until someone installs an SDK
provider: in Azure the Functions worker does it (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true),
locally `configure_telemetry` does it on request. Tweets are personal data: spans carry labels,
scores and timings, which is what dashboards and drift checks need, and nothing a user wrote.
"""

from __future__ import annotations

import logging
import os
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
    exporter = settings.TELEMETRY_EXPORTER
    if exporter == "none":
        mode = "none"
    elif tracing_already_configured():
        mode = "existing"
    elif exporter == "console":
        mode = configure_console()
    else:
        mode = configure_azure(settings)
    _state["mode"] = mode
    return mode


def configure_console() -> str:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    provider = TracerProvider()
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

    configure_azure_monitor(connection_string=secret.get_secret_value())
    return "azure"


def reset_telemetry_state() -> None:
    """Forget what `configure_telemetry` did (tests only; the tracer provider itself stays)."""
    _state.clear()
