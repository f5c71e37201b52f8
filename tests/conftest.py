"""Suite-wide fixtures. Service fixtures (Azurite, loopback servers) live in tests/integration."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.bundles import build_tiny_bundle

REPO_ROOT = Path(__file__).resolve().parents[1]


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
