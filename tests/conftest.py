"""Suite-wide fixtures. Service fixtures (Azurite, loopback servers) live in tests/integration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.bundles import build_tiny_bundle

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def local_state_outside_the_tree(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Settings the tests leave at their defaults would write the feedback token key and the
    local prediction events into the working tree's .local: send them to a scratch folder.
    Explicit Settings(...) arguments still win over these environment values."""
    scratch = tmp_path_factory.mktemp("local-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEEDBACK_TOKEN_KEY_PATH", str(scratch / "feedback-token.key"))
        patch.setenv("PREDICTION_EVENTS_PATH", str(scratch / "predictions.sqlite3"))
        # The Azure Monitor exporters' own usage metrics (statsbeat) would call home, and retry
        # the tests' dead endpoints at interpreter exit: no test needs them.
        patch.setenv("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "true")
        yield


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real bundle made by the real pipeline on tiny data (version "tiny-1"); do not modify it."""
    return build_tiny_bundle(tmp_path_factory.mktemp("bundles") / "tiny-1")


@pytest.fixture
def bundle_factory(tmp_path: Path):
    """Build fresh bundles with a chosen version: bundle_factory("v2") -> Path."""

    def make(version: str, threshold: float = 0.5) -> Path:
        return build_tiny_bundle(tmp_path / version, version=version, threshold=threshold)

    return make
