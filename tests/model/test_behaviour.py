"""The shipped default bundle itself: the API serves it, and it carries its release figures.

The behaviour tests proper (Made-With-ML style) are beside this file, one kind a module:
`test_minimum_functionality`, `test_invariance`, `test_directional`, and `test_issue_cases` for
issue 9's table of bad cases. All of them call POST /api/predict on this bundle
(`tests/model/conftest.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.model.served import ServedModel

pytestmark = pytest.mark.model


def test_the_api_serves_the_shipped_bundle(served: ServedModel, shipped_bundle: Path) -> None:
    """Guards every other test here: they judge models/default, not a stand-in."""
    manifest = json.loads((shipped_bundle / "manifest.json").read_text(encoding="utf-8"))
    result = served.predict("my flight is delayed again")
    assert result["model_version"] == manifest["version"]
    assert result["threshold"] == pytest.approx(manifest["threshold"])


def test_manifest_meets_release_floor(shipped_bundle: Path) -> None:
    """The shipped bundle carries its release figures: guard against shipping a weak one."""
    manifest = json.loads((shipped_bundle / "manifest.json").read_text(encoding="utf-8"))
    metrics = manifest["metrics"]
    assert metrics["manual_test_accuracy"] >= 0.8
    assert metrics["test_recall_neg"] >= 0.78
    assert metrics["parity_max_abs_diff"] <= 1e-5
    assert metrics["parity_label_flips"] == 0
