"""ONNX conversion, the parity gate (it passes on the real recipe and fails loudly on a broken
model), the explainer's term weights and the bundle written to disk."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper
from sklearn.pipeline import Pipeline

from shared.bundle import (
    BUNDLE_FILES,
    EXPLAIN_FILE,
    INPUT_TEXT,
    INPUT_VADER,
    MANIFEST_FILE,
    MODEL_FILE,
    OUTPUT_LABEL,
    OUTPUT_PROBABILITIES,
    read_manifest,
    sha256_file,
    verify_bundle,
)
from shared.features import build_feature_columns
from shared.normalise import DEFAULT_OPTIONS, NORMALISER_VERSION
from tests.utils.bundles import tiny_training_frame
from training.export import (
    PARITY_TOLERANCE,
    ExportError,
    ParityReport,
    check_parity,
    convert_pipeline,
    frame_to_feeds,
    run_in_chunks,
    term_weights,
    write_bundle,
)
from training.train import build_pipeline

pytestmark = pytest.mark.code


@dataclass(frozen=True)
class Fitted:
    pipeline: Pipeline
    onnx_bytes: bytes
    frame: pd.DataFrame


def features(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(build_feature_columns(texts, DEFAULT_OPTIONS))


def fit(kind: str, sublinear_tf: bool = False) -> Fitted:
    texts, labels = tiny_training_frame()
    frame = features(texts)
    pipeline = build_pipeline(kind, c=10.0, min_df=1)
    pipeline.set_params(features__tfidf__sublinear_tf=sublinear_tf)
    pipeline.fit(frame, labels)
    return Fitted(pipeline, convert_pipeline(pipeline), frame)


@pytest.fixture(scope="module")
def fitted() -> Fitted:
    return fit("tfidf_lr_vader")


@pytest.fixture(scope="module")
def repeated_words() -> pd.DataFrame:
    """Tweets whose first word comes back seven times: term frequencies far from 1."""
    texts, _ = tiny_training_frame()
    return features([" ".join([text.split()[0]] * 6 + text.split()) for text in texts])


def tamper(onnx_bytes: bytes, change) -> bytes:
    model = onnx.load_from_string(onnx_bytes)
    change(model)
    return model.SerializeToString()


# --- conversion and parity -------------------------------------------------------------------


def test_converted_graph_has_the_bundle_contract(fitted: Fitted) -> None:
    graph = onnx.load_from_string(fitted.onnx_bytes).graph
    assert [node.name for node in graph.input] == [INPUT_TEXT, *INPUT_VADER]
    assert [node.name for node in graph.output] == [OUTPUT_LABEL, OUTPUT_PROBABILITIES]
    assert not any(node.op_type == "ZipMap" for node in graph.node)


@pytest.mark.parametrize("kind", ["tfidf_lr", "tfidf_lr_vader"])
def test_parity_passes_on_the_production_recipe(kind: str, repeated_words: pd.DataFrame) -> None:
    model = fit(kind)
    for frame in (model.frame, repeated_words):
        report = check_parity(model.pipeline, model.onnx_bytes, frame)
        assert isinstance(report, ParityReport)
        assert report.rows == len(frame)
        assert report.max_abs_diff <= PARITY_TOLERANCE
        assert report.label_flips == 0


@pytest.mark.parametrize("kind", ["tfidf_lr", "tfidf_lr_vader"])
def test_parity_gate_catches_sublinear_tf(kind: str, repeated_words: pd.DataFrame) -> None:
    """skl2onnx does not compute sklearn's 1 + log(tf): the gate must see it on repeated words."""
    model = fit(kind, sublinear_tf=True)
    with pytest.raises(ExportError, match=r"ONNX parity failed on 24 rows") as caught:
        check_parity(model.pipeline, model.onnx_bytes, repeated_words)
    message = str(caught.value)
    assert "\n" not in message  # the CLI shows the first line only
    assert f"tolerance {PARITY_TOLERANCE}" in message
    assert "worst text: '" in message


def test_parity_gate_catches_a_tampered_idf_initializer(fitted: Fitted) -> None:
    def scale_some_idf(model: onnx.ModelProto) -> None:
        # The folded head keeps idf² for the norm and w⊙idf for the dot product.
        (node,) = [n for n in model.graph.node if n.name == "head_sq"]
        (weights,) = [a for a in node.attribute if a.name == "coefficients"]
        idf = list(weights.floats)
        idf[::2] = [value * 3.0 for value in idf[::2]]  # uneven: l2 normalisation can't undo it
        weights.floats[:] = idf

    broken = tamper(fitted.onnx_bytes, scale_some_idf)
    with pytest.raises(ExportError, match="parity failed"):
        check_parity(fitted.pipeline, broken, fitted.frame)


def test_parity_gate_counts_label_flips(fitted: Fitted) -> None:
    def swap_classes(model: onnx.ModelProto) -> None:
        for initializer in model.graph.initializer:
            if initializer.name in ("head_vader_w", "head_b"):
                negated = -numpy_helper.to_array(initializer)
                initializer.CopyFrom(numpy_helper.from_array(negated, initializer.name))
        (node,) = [n for n in model.graph.node if n.name == "head_dot"]
        (weights,) = [a for a in node.attribute if a.name == "coefficients"]
        weights.floats[:] = [-value for value in weights.floats]

    broken = tamper(fitted.onnx_bytes, swap_classes)
    with pytest.raises(ExportError, match=f"{len(fitted.frame)} label flips"):
        check_parity(fitted.pipeline, broken, fitted.frame)


def test_run_in_chunks_matches_one_run(fitted: Fitted) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(fitted.onnx_bytes, providers=["CPUExecutionProvider"])
    feeds = frame_to_feeds(fitted.frame)
    whole_labels, whole_probabilities = session.run(None, feeds)
    labels, probabilities = run_in_chunks(session, feeds, chunk=5)  # 24 rows: the last chunk short
    np.testing.assert_array_equal(labels, whole_labels)
    np.testing.assert_allclose(probabilities, whole_probabilities, rtol=0, atol=1e-9)


def test_the_head_after_the_tfidf_op_is_narrow(fitted: Fitted) -> None:
    """No Normalizer, no dense reduction, no LinearClassifier: after TfIdfVectorizer only tf⊙tf
    is as wide as the vocabulary; the rest are MatMuls down to [N, 1] and [N, 2] arithmetic."""
    import onnx

    ops = [node.op_type for node in onnx.load_from_string(fitted.onnx_bytes).graph.node]
    for slow in ("Normalizer", "ReduceL2", "ReduceSumSquare", "LinearClassifier"):
        assert slow not in ops
    after = ops[ops.index("TfIdfVectorizer") + 1 :]
    assert after.count("LinearRegressor") == 2  # w⊙idf and idf², both down to [N, 1]
    assert len(after) <= 11  # one tweet pays a few µs of dispatch per node


def test_the_folded_head_keeps_the_converted_numbers(fitted: Fitted) -> None:
    """Folding is exact algebra: against the plain skl2onnx graph, not only against sklearn."""
    import onnx
    import onnxruntime as ort

    from training.export import convert_plain, frame_to_feeds, replace_l2_normalizer, run_in_chunks
    from training.onnx_graph import fold_linear_head

    folded = onnx.load_from_string(fitted.onnx_bytes)
    assert fold_linear_head(folded) is folded  # already folded: nothing matches, unchanged
    feeds = frame_to_feeds(fitted.frame)
    plain = replace_l2_normalizer(convert_plain(fitted.pipeline))
    runs = [
        run_in_chunks(ort.InferenceSession(m.SerializeToString()), feeds) for m in (plain, folded)
    ]
    assert abs(runs[0][1] - runs[1][1]).max() <= 1e-6
    assert (runs[0][0] == runs[1][0]).all()


def test_text_without_known_terms_scores_like_scikit_learn(fitted: Fitted) -> None:
    """An all-zero TF-IDF row must stay zero (no division by a zero norm)."""
    frame = features(["zzqx qqzv", ""])
    report = check_parity(fitted.pipeline, fitted.onnx_bytes, frame)
    assert report.max_abs_diff <= 1e-6
    assert report.label_flips == 0


# --- term weights ----------------------------------------------------------------------------


def test_term_weights_are_coefficient_times_idf_sorted_by_magnitude(fitted: Fitted) -> None:
    vectoriser = fitted.pipeline.named_steps["features"].named_transformers_["tfidf"]
    coefficients = fitted.pipeline.named_steps["clf"].coef_[0]
    weights = term_weights(fitted.pipeline)
    assert len(weights) == len(vectoriser.vocabulary_)  # VADER columns are not terms
    assert set(weights) == set(vectoriser.vocabulary_)
    magnitudes = [abs(value) for value in weights.values()]
    assert magnitudes == sorted(magnitudes, reverse=True)
    for term, value in list(weights.items())[:10]:
        index = vectoriser.vocabulary_[term]
        assert value == pytest.approx(coefficients[index] * vectoriser.idf_[index], abs=1e-5)


def test_term_weights_limit(fitted: Fitted) -> None:
    everything = term_weights(fitted.pipeline)
    top = term_weights(fitted.pipeline, limit=7)
    assert list(top.items()) == list(everything.items())[:7]


def test_term_weights_keep_every_vocabulary_term_of_a_large_vocabulary() -> None:
    """CONTRACTS: explain.json holds every term (serving's evidence check needs the whole
    vocabulary), not the 20,000 strongest that earlier bundles kept."""
    words = [f"w{i}" for i in range(24_000)]
    texts = [" ".join(words[i::200]) for i in range(200)]  # 120 distinct words a text
    frame = pd.DataFrame({INPUT_TEXT: texts})
    for name in INPUT_VADER:
        frame[name] = np.float32(0.0)
    pipeline = build_pipeline("tfidf_lr", min_df=1).fit(frame, np.arange(200) % 2)
    vocabulary = pipeline.named_steps["features"].named_transformers_["tfidf"].vocabulary_
    weights = term_weights(pipeline)
    assert len(vocabulary) > 20_000
    assert set(weights) == set(vocabulary)


def test_positive_term_weight_pushes_towards_negative() -> None:
    """Class 1 is NEGATIVE, so a term with weight > 0 must raise P(negative) when added."""
    model = fit("tfidf_lr")  # no VADER columns: only the term moves the score
    assert list(model.pipeline.classes_) == [0, 1]
    weights = term_weights(model.pipeline)
    assert weights["hate"] > 0
    assert weights["thank"] < 0
    pushes_negative = max(weights, key=weights.get)
    pushes_positive = min(weights, key=weights.get)
    base = "the plane and the trip"
    probability = model.pipeline.predict_proba(
        features([base, f"{base} {pushes_negative}", f"{base} {pushes_positive}"])
    )[:, 1]
    assert probability[1] > probability[0] > probability[2]


# --- bundle ----------------------------------------------------------------------------------


def write(fitted: Fitted, dest: Path, **fields: object):
    arguments = {
        "version": "v-test",
        "threshold": 0.42,
        "options": DEFAULT_OPTIONS,
        "metrics": {"test_accuracy": 0.9},
        "data_fingerprint": "abc123",
        "extra": {"kind": "tfidf_lr_vader"},
        **fields,
    }
    return write_bundle(fitted.pipeline, fitted.onnx_bytes, dest, **arguments)


def test_write_bundle_writes_three_files_with_matching_sums(fitted: Fitted, tmp_path: Path) -> None:
    dest = tmp_path / "bundles" / "v-test"
    manifest = write(fitted, dest)
    assert sorted(path.name for path in dest.iterdir()) == sorted(BUNDLE_FILES)
    assert (dest / MODEL_FILE).read_bytes() == fitted.onnx_bytes
    assert manifest.model_sha256 == sha256_file(dest / MODEL_FILE)
    assert manifest.explain_sha256 == sha256_file(dest / EXPLAIN_FILE)
    assert verify_bundle(dest) == manifest
    explain = json.loads((dest / EXPLAIN_FILE).read_text(encoding="utf-8"))
    assert explain == term_weights(fitted.pipeline)


def test_write_bundle_manifest_fields(fitted: Fitted, tmp_path: Path) -> None:
    dest = tmp_path / "v-test"
    write(fitted, dest, mlflow_run_id="run-1", registered_version="3")
    manifest = read_manifest(dest)
    assert manifest.version == "v-test"
    assert manifest.threshold == 0.42
    assert manifest.normaliser_version == NORMALISER_VERSION
    assert manifest.normaliser_options == DEFAULT_OPTIONS.to_dict()
    assert manifest.metrics == {"test_accuracy": 0.9}
    assert manifest.data_fingerprint == "abc123"
    assert manifest.extra == {"kind": "tfidf_lr_vader"}
    assert manifest.mlflow_run_id == "run-1"
    assert manifest.registered_version == "3"
    assert manifest.input_names == [INPUT_TEXT, *INPUT_VADER]
    assert manifest.output_names == [OUTPUT_LABEL, OUTPUT_PROBABILITIES]
    raw = json.loads((dest / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert raw["model_sha256"] == manifest.model_sha256


def test_write_bundle_replaces_an_existing_folder_and_leaves_no_staging(
    fitted: Fitted, tmp_path: Path
) -> None:
    dest = tmp_path / "v-test"
    dest.mkdir()
    (dest / "stale.txt").write_text("old", encoding="utf-8")
    write(fitted, dest, threshold=0.6)
    assert not (dest / "stale.txt").exists()
    assert read_manifest(dest).threshold == 0.6
    assert [path.name for path in tmp_path.iterdir()] == ["v-test"]


def test_written_bundle_scores_like_the_pipeline(fitted: Fitted, tmp_path: Path) -> None:
    from shared.inference import Predictor

    dest = tmp_path / "v-test"
    write(fitted, dest)
    texts, _ = tiny_training_frame()
    expected = fitted.pipeline.predict_proba(fitted.frame)[:, 1]
    np.testing.assert_allclose(
        Predictor(dest).negative_probabilities(texts), expected, atol=PARITY_TOLERANCE
    )
