"""`loop_run` log records: each harvest and retrain run's outcome, where the loop alerts see it.

In Azure a `loop_run` record lands in AppTraces (Message "loop_run", Properties: job, outcome,
detail, run_url, request_id); shared/queries/loop_harvest.kql and loop_retrain.kql alert on it and
the workbook lists the runs. Two writers:

- the harvest timer (inside the Functions worker, whose OpenTelemetry handler exports every
  log record): `record_run("harvest", "success" | "failure", detail=...)`;
- the retrain workflow, outside Azure, after its job: `python -m shared.monitoring.run_report
  --job retrain --outcome <job.status> --run-url ... --request-id ...`, which exports the one
  record itself with the Azure Monitor exporter and the workflow's Entra sign-in (az login:
  Monitoring Metrics Publisher on the component; local auth is disabled). Without
  APPLICATIONINSIGHTS_CONNECTION_STRING it prints the record and exports nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

RUN_EVENT = "loop_run"
RUN_LOGGER = "bad_buzz.ops.runs"
JOBS = ("harvest", "retrain")
OUTCOMES = ("success", "failure", "cancelled")
EXPORT_TIMEOUT_MS = 30_000


def run_properties(
    job: str, outcome: str, detail: str = "", run_url: str = "", request_id: str = ""
) -> dict[str, str]:
    """The record's properties, all strings (telemetry attributes are flat); ValueError if odd."""
    if job not in JOBS:
        raise ValueError(f"job must be one of {JOBS}, got {job!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    return {
        "job": job,
        "outcome": outcome,
        "detail": detail[:300],
        "run_url": run_url,
        "request_id": request_id,
    }


def record_run(job: str, outcome: str, **fields: str) -> None:
    """Log one `loop_run` record on RUN_LOGGER (exported by whatever handler is installed)."""
    runs = logging.getLogger(RUN_LOGGER)
    runs.setLevel(logging.INFO)  # the root logger's WARNING must not hide the record
    runs.info(RUN_EVENT, extra=run_properties(job, outcome, **fields))


def export_run(connection_string: str, properties: dict[str, str], credential: Any = None) -> bool:
    """Export one record to Application Insights with an Entra token; True when it was accepted.

    `credential`: a TokenCredential; default DefaultAzureCredential (az login in the workflow).
    """
    from azure.identity import DefaultAzureCredential
    from azure.monitor.opentelemetry.exporter import AzureMonitorLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import LogExportResult, SimpleLogRecordProcessor

    if credential is None:
        credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    exporter = AzureMonitorLogExporter(
        connection_string=connection_string, credential=credential, disable_offline_storage=True
    )
    results: list[LogExportResult] = []
    send = exporter.export

    def export_and_keep(batch, *args, **kwargs):  # the processor drops the result: keep it
        results.append(send(batch, *args, **kwargs))
        return results[-1]

    exporter.export = export_and_keep  # type: ignore[method-assign]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    runs = logging.getLogger(RUN_LOGGER)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    runs.addHandler(handler)
    try:
        record_run(**properties)
        provider.force_flush(EXPORT_TIMEOUT_MS)
        return bool(results) and all(r == LogExportResult.SUCCESS for r in results)
    finally:
        runs.removeHandler(handler)
        provider.shutdown()


def main(argv: Sequence[str] | None = None) -> int:
    """Report one run of a loop job to Application Insights (the retrain workflow's last step)."""
    parser = argparse.ArgumentParser(prog="python -m shared.monitoring.run_report")
    parser.add_argument("--job", required=True, choices=JOBS)
    parser.add_argument("--outcome", required=True, choices=OUTCOMES)
    parser.add_argument("--detail", default="")
    parser.add_argument("--run-url", default="")
    parser.add_argument("--request-id", default="")
    args = parser.parse_args(argv)
    properties = run_properties(args.job, args.outcome, args.detail, args.run_url, args.request_id)
    print(json.dumps({"event": RUN_EVENT, **properties}, sort_keys=True))
    connection_string = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if not connection_string:
        print("APPLICATIONINSIGHTS_CONNECTION_STRING is not set: nothing exported", file=sys.stderr)
        return 0
    try:
        accepted = export_run(connection_string, properties)
    except Exception as exc:  # a report must say why it failed, in one line
        print(f"run report not exported: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if not accepted:
        print("run report not exported: the exporter did not flush in time", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
