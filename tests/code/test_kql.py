"""Two KQL files: the harvest's (both kinds, wrapped and paged) and the Bicep alert's (the file
as is: the harvest's query plus one line that keeps corrections only).

Both are parsed by Microsoft's Kusto language service (tests/kusto, an npm package) against the
AppTraces schema from the Azure Monitor reference, so a typo in a column, a function or the
syntax fails here instead of in Azure. The names the query extracts from Properties must be the
ones the event defines.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.feedback.event import EVENT_NAME, KIND_CORRECTION, KINDS, PROPERTIES
from shared.feedback.records import Watermark
from shared.feedback.sources import (
    ALERT_QUERY_PATH,
    HARVEST_QUERY_PATH,
    QUERY_PATH,
    build_harvest_query,
    load_query,
)
from tests.utils.kql import check_kql, write_queries

pytestmark = pytest.mark.code

PROPERTY_RE = re.compile(r'Properties\["([^"]+)"\]')


def harvest_query(since: Watermark | None = None) -> str:
    """The query exactly as LogsQuerySource sends it (by default with seen ids at the mark)."""
    since = since or Watermark(
        datetime(2024, 3, 4, 3, 0, 0, 123456, tzinfo=UTC),
        frozenset({"3f2b8c1e-7a4d-4b7e-9c7a-1d2e3f4a5b6c", "0b7e2c9d-1111-4222-8333-944455556666"}),
    )
    return build_harvest_query(load_query(), since, datetime(2024, 3, 11, tzinfo=UTC), 50_000)


def broken(suffix: str) -> str:
    return f"{load_query().strip()}\n{suffix}\n"


# Every query checked, by name; the parser takes seconds to load, so one node run checks all.
QUERIES = {
    "harvest_fresh": lambda: harvest_query(Watermark()),
    "harvest_seen_ids": harvest_query,
    "broken_column": lambda: broken("| project TimeGenerated, prediction_id, Tezt"),
    "broken_table_column": lambda: broken("| where SeverityLevl > 1"),
    "broken_syntax": lambda: broken("| summarize count() by bin(TimeGenerated, 1h"),
    "broken_table": lambda: load_query().replace("AppTraces", "AppTrace"),
}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    """{query name (or the KQL file's path): diagnostics}, from one run of check_kql.mjs."""
    paths = write_queries(tmp_path_factory.mktemp("kql"), QUERIES)
    # the broken ones must fail the run
    report = check_kql([QUERY_PATH, HARVEST_QUERY_PATH, *paths.values()])
    by_name = {name: report[str(path)] for name, path in paths.items()}
    return {
        "alert_file": report[str(QUERY_PATH)],
        "harvest_file": report[str(HARVEST_QUERY_PATH)],
        **by_name,
    }


@pytest.mark.parametrize("name", ["alert_file", "harvest_file"])
def test_the_query_files_have_no_diagnostics(diagnostics: dict[str, list[dict]], name: str) -> None:
    assert diagnostics[name] == []


@pytest.mark.parametrize("name", ["harvest_fresh", "harvest_seen_ids"])
def test_the_harvest_query_has_no_diagnostics(
    diagnostics: dict[str, list[dict]], name: str
) -> None:
    assert diagnostics[name] == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("broken_column", "Tezt"),
        ("broken_table_column", "SeverityLevl"),
        ("broken_syntax", None),
        ("broken_table", "AppTrace"),
    ],
)
def test_a_broken_query_is_caught(
    diagnostics: dict[str, list[dict]], name: str, expected: str | None
) -> None:
    assert diagnostics[name], f"{name} should have a diagnostic"
    if expected:
        assert any(expected in d["message"] for d in diagnostics[name])


def code_lines(path: Path) -> list[str]:
    return [
        line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("//")
    ]


def test_the_alert_is_the_harvest_query_keeping_corrections_only() -> None:
    """The Bicep alert counts corrections; the harvest reads both kinds, apart (`kind`)."""
    assert QUERY_PATH == ALERT_QUERY_PATH
    assert code_lines(ALERT_QUERY_PATH) == [
        *code_lines(HARVEST_QUERY_PATH),
        f"| where ['kind'] == \"{KIND_CORRECTION}\"",
    ]
    harvest = load_query()
    assert "kind" in re.search(r"^\| project (.*)", harvest, re.MULTILINE | re.DOTALL).group(1)
    assert f'coalesce(tostring(Properties["kind"]), "{KIND_CORRECTION}")' in harvest
    assert set(KINDS) == {"correction", "confirmation"}


def test_the_query_reads_the_properties_the_event_defines() -> None:
    text = load_query()
    assert PROPERTY_RE.findall(text) == list(PROPERTIES)
    assert f'Message == "{EVENT_NAME}"' in text
    assert re.search(r"^AppTraces$", text, re.MULTILINE)
    assert harvest_query().startswith("let harvest_since")
    assert "take 50000" in harvest_query()
    assert text.strip() in harvest_query()
