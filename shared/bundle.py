"""The model bundle: what training writes and serving loads.

A bundle is a folder holding `model.onnx`, `explain.json` (term weights for explanations) and
`manifest.json` (this module's `Manifest`). The manifest is the contract between training and
serving: serving trusts nothing in the folder that the manifest's sha256 sums do not vouch for.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
EXPLAIN_FILE = "explain.json"
BUNDLE_FILES = (MODEL_FILE, EXPLAIN_FILE, MANIFEST_FILE)
# Scored by `verify_bundle_serves`: any tweet would do, one with words every vocabulary knows.
PROBE_TEXT = "my flight is delayed again, worst airline ever"

# ONNX graph contract: inputs are the normalised text and the four VADER scores, each [N, 1];
# outputs are the label (1 = negative) and the [N, 2] class probabilities (column 1 = negative).
INPUT_TEXT = "text"
INPUT_VADER = ("neg", "neu", "pos", "compound")
OUTPUT_LABEL = "label"
OUTPUT_PROBABILITIES = "probabilities"
LABEL_NAMES = ("positive", "negative")  # index = class id; NEGATIVE is the class that matters


class BundleError(RuntimeError):
    """A bundle is missing, incomplete, or does not match its manifest."""


class Manifest(BaseModel):
    """Everything serving and auditors need to know about one model version."""

    version: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    model_sha256: str
    explain_sha256: str
    normaliser_version: str
    normaliser_options: dict[str, bool]
    input_names: list[str] = Field(default_factory=lambda: [INPUT_TEXT, *INPUT_VADER])
    output_names: list[str] = Field(default_factory=lambda: [OUTPUT_LABEL, OUTPUT_PROBABILITIES])
    label_names: list[str] = Field(default_factory=lambda: list(LABEL_NAMES))
    threshold: float = Field(ge=0.0, le=1.0)
    metrics: dict[str, float] = Field(default_factory=dict)
    data_fingerprint: str = ""
    mlflow_run_id: str | None = None
    registered_model: str | None = None
    registered_version: str | None = None
    command: str | None = Field(None, description="The command that rebuilds this bundle.")
    extra: dict[str, Any] = Field(default_factory=dict)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(bundle_dir: Path) -> Manifest:
    path = bundle_dir / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"no {MANIFEST_FILE} in {bundle_dir}")
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValueError as exc:
        raise BundleError(f"{path} is not a valid manifest: {exc}") from exc


def write_manifest(bundle_dir: Path, manifest: Manifest) -> Path:
    path = bundle_dir / MANIFEST_FILE
    path.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def verify_bundle(bundle_dir: Path) -> Manifest:
    """Check that every file is present and matches the manifest's sha256; return the manifest."""
    manifest = read_manifest(bundle_dir)
    for name, expected in (
        (MODEL_FILE, manifest.model_sha256),
        (EXPLAIN_FILE, manifest.explain_sha256),
    ):
        path = bundle_dir / name
        if not path.is_file():
            raise BundleError(f"bundle {manifest.version}: {name} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"bundle {manifest.version}: {name} sha256 {actual[:12]}… "
                f"!= manifest {expected[:12]}…"
            )
    return manifest


def verify_bundle_serves(bundle_dir: Path, probe: str = PROBE_TEXT) -> Manifest:
    """`verify_bundle`, then load the model in onnxruntime and score `probe` as serving would.

    Matching sha256 sums prove the bytes are the ones training wrote, not that they serve: a
    manifest written for a broken export would pass. This is the check the model store runs
    before it moves the champion pointer. Raises BundleError (one line) on any failure; costs
    one onnxruntime session (~0.1 s for the shipped model).
    """
    manifest = read_manifest(bundle_dir)  # for the messages; Predictor runs verify_bundle itself
    from shared.inference import Predictor  # onnxruntime: only when a bundle is checked

    try:
        (prediction,) = Predictor(bundle_dir).predict([probe])
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime's and json's errors have no common base class
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise BundleError(
            f"bundle {manifest.version}: does not load and score in onnxruntime "
            f"({type(exc).__name__}: {reason})"
        ) from exc
    if not 0.0 <= prediction.negative_probability <= 1.0:  # also false for NaN
        raise BundleError(
            f"bundle {manifest.version}: scored P(negative) = {prediction.negative_probability} "
            "for the probe tweet, outside [0, 1]"
        )
    return manifest


def read_explain_weights(bundle_dir: Path) -> dict[str, float]:
    """Term → signed weight (positive pushes towards NEGATIVE), for explanations."""
    return {
        str(k): float(v) for k, v in json.loads((bundle_dir / EXPLAIN_FILE).read_text()).items()
    }
