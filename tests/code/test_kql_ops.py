"""The operations queries (alerts and workbook) parse against the tables' schema, and read the
properties their writers write.

Same parser as tests/code/test_kql.py (Microsoft's Kusto language service, tests/kusto) with the
AppTraces and AppDependencies schemas of the Azure Monitor reference: a typo in a column, a
function or the syntax fails here instead of in Azure. The parse checks syntax and schema; the
bad-buzz rule's logic is checked by replaying events through its Python mirror (test_buzz.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.monitoring.run_report import JOBS, RUN_EVENT, run_properties
from shared.telemetry import MODEL_STATE_EVENT, PredictionTrace
from tests.utils.kql import check_kql, write_queries

pytestmark = pytest.mark.code

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "shared" / "queries"
PROPERTY_RE = re.compile(r'Properties\["([^"]+)"\]')

OPS_FILES = (
    "bad_buzz.kql",
    "loop_harvest.kql",
    "loop_retrain.kql",
    "model_health.kql",
    "workbook_predictions.kql",
    "workbook_feedback.kql",
    "workbook_model_version.kql",
    "workbook_loop_runs.kql",
)


def bad_buzz() -> str:
    return (QUERIES / "bad_buzz.kql").read_text(encoding="utf-8")


BROKEN = {
    "buzz_column": lambda: bad_buzz().replace("sum(ItemCount)", "sum(ItemCont)", 1),
    "buzz_table": lambda: bad_buzz().replace("AppDependencies", "AppDependency", 1),
    "buzz_syntax": lambda: bad_buzz().replace("by bin_start = bin(TimeGenerated, bin_size);", "by"),
}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """{file name or broken-variant name: diagnostics}, from one run of check_kql.mjs."""
    broken = write_queries(tmp_path_factory.mktemp("kql-ops"), BROKEN)
    files = {name: QUERIES / name for name in OPS_FILES}
    # the broken ones must fail the run
    report = check_kql([*files.values(), *broken.values()])
    every = {**files, **broken}
    return {name: report[str(path)] for name, path in every.items()}


@pytest.mark.parametrize("name", OPS_FILES)
def test_the_ops_query_has_no_diagnostics(diagnostics: dict[str, list[dict]], name: str) -> None:
    assert diagnostics[name] == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [("buzz_column", "ItemCont"), ("buzz_table", "AppDependency"), ("buzz_syntax", None)],
)
def test_a_broken_ops_query_is_caught(
    diagnostics: dict[str, list[dict]], name: str, expected: str | None
) -> None:
    assert diagnostics[name], f"{name} should have a diagnostic"
    if expected:
        assert any(expected in d["message"] for d in diagnostics[name])


def properties_read(name: str) -> set[str]:
    return set(PROPERTY_RE.findall((QUERIES / name).read_text(encoding="utf-8")))


def test_prediction_queries_read_what_the_predict_span_carries() -> None:
    span = PredictionTrace("id", "v1", "negative", 0.9, "en", False, 0, 1).attributes()
    for name in ("bad_buzz.kql", "workbook_predictions.kql", "workbook_model_version.kql"):
        text = (QUERIES / name).read_text(encoding="utf-8")
        assert 'Name == "predict"' in text
        assert properties_read(name) <= set(span), name
    assert "text" not in span, "the span must never carry the tweet"


def test_loop_queries_read_what_the_run_report_writes() -> None:
    written = set(run_properties("retrain", "success"))
    for name in ("loop_harvest.kql", "loop_retrain.kql", "workbook_loop_runs.kql"):
        text = (QUERIES / name).read_text(encoding="utf-8")
        assert f'Message == "{RUN_EVENT}"' in text
        assert properties_read(name) <= written, name
    assert set(JOBS) == {"harvest", "retrain"}


def test_the_feedback_chart_reads_the_feedback_event() -> None:
    from shared.feedback.event import EVENT_NAME, KINDS

    text = (QUERIES / "workbook_feedback.kql").read_text(encoding="utf-8")
    assert f'Message == "{EVENT_NAME}"' in text
    assert properties_read("workbook_feedback.kql") == {"kind"}
    assert f'"{KINDS[0]}"' in text, "a record without a kind is a correction"


def test_model_health_reads_what_the_model_state_record_writes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from shared.telemetry import OPS_LOGGER, record_model_state

    with caplog.at_level("INFO", logger=OPS_LOGGER):
        record_model_state(None, "store unreachable")
    record = next(r for r in caplog.records if r.getMessage() == MODEL_STATE_EVENT)
    assert record.status == "unavailable"
    text = (QUERIES / "model_health.kql").read_text(encoding="utf-8")
    assert f'Message == "{MODEL_STATE_EVENT}"' in text
    assert all(hasattr(record, key) for key in properties_read("model_health.kql"))


def test_the_buzz_alert_fires_on_the_last_complete_bin_only() -> None:
    text = bad_buzz()
    assert "| where is_buzz and bin_start == bin(now(), bin_size) - bin_size" in text
    assert "sum(ItemCount)" in text, "sampled telemetry must still count every prediction"
