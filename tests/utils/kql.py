"""Microsoft's Kusto language service (tests/kusto, an npm package) as a test helper: one node run
of check_kql.mjs parses every KQL file given against the Azure Monitor table schemas.

The parser takes seconds to load, so callers check all their files in one run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

KUSTO_DIR = Path(__file__).resolve().parents[1] / "kusto"
CHECKER = KUSTO_DIR / "check_kql.mjs"
PACKAGE = KUSTO_DIR / "node_modules" / "@kusto" / "language-service-next"


def write_queries(folder: Path, queries: dict[str, Callable[[], str]]) -> dict[str, Path]:
    """{name: folder/name.kql} with each query's text written there (generated or broken
    variants of the shipped files), ready for `check_kql`."""
    paths = {name: folder / f"{name}.kql" for name in queries}
    for name, path in paths.items():
        path.write_text(queries[name](), encoding="utf-8")
    return paths


def check_kql(paths: list[Path], expect_failure: bool = True) -> dict[str, list[dict]]:
    """{str(path): diagnostics (dicts with a "message")} for every KQL file in `paths`.

    Skips the calling test when node or tests/kusto/node_modules is missing. With
    `expect_failure` (callers pass deliberately broken variants) the run must exit 1.
    """
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Kusto language service needs it")
    if not PACKAGE.is_dir():
        pytest.skip("tests/kusto/node_modules is missing: run `npm ci` in tests/kusto")
    completed = subprocess.run(
        [node, str(CHECKER), *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=KUSTO_DIR,
        timeout=180,
        check=False,
    )
    assert completed.returncode == (1 if expect_failure else 0), completed.stderr
    return json.loads(completed.stdout)
