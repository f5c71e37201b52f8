"""`loop_run` records (shared.monitoring.run_report): what the harvest and retrain alerts count.

The export itself needs an Entra token over HTTPS (azure-core refuses bearer tokens on plain
HTTP), so it is not replayed against the loopback ingestion stub; the record, its properties and
the command line the retrain workflow runs are.
"""

from __future__ import annotations

import json
import logging

import pytest

from shared.monitoring.run_report import RUN_EVENT, RUN_LOGGER, main, record_run, run_properties

pytestmark = pytest.mark.code


def test_a_run_record_has_the_properties_the_queries_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger=RUN_LOGGER):
        record_run("harvest", "failure", detail="HarvestError: x" * 40)
    [record] = [r for r in caplog.records if r.getMessage() == RUN_EVENT]
    assert record.name == RUN_LOGGER
    assert (record.job, record.outcome) == ("harvest", "failure")
    assert len(record.detail) == 300, "details are capped"
    assert record.run_url == record.request_id == ""


@pytest.mark.parametrize(("job", "outcome"), [("deploy", "success"), ("retrain", "skipped")])
def test_an_unknown_job_or_outcome_is_refused(job: str, outcome: str) -> None:
    with pytest.raises(ValueError, match="must be one of"):
        run_properties(job, outcome)


def test_the_command_prints_the_record_and_exports_nothing_without_a_connection_string(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    code = main(["--job", "retrain", "--outcome", "cancelled", "--run-url", "https://x/1"])
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {
        "event": RUN_EVENT,
        "job": "retrain",
        "outcome": "cancelled",
        "detail": "",
        "run_url": "https://x/1",
        "request_id": "",
    }
    assert "nothing exported" in err


def test_a_bad_outcome_on_the_command_line_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--job", "retrain", "--outcome", "exploded"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
