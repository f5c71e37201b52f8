"""`Predictor` on real tiny bundles: probabilities, labels against the manifest's threshold, and
explanations made of the tweet's own terms."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from shared.bundle import EXPLAIN_FILE, MODEL_FILE, BundleError, read_manifest, write_manifest
from shared.features import extract_terms
from shared.inference import EXPLANATION_TERMS, MAX_ROWS_PER_RUN, Prediction, Predictor
from shared.normalise import normalise_text

pytestmark = pytest.mark.code

NEGATIVE_TWEET = "Worst airline ever, my flight is delayed and I hate waiting at the gate :("
POSITIVE_TWEET = "Great flight, friendly crew, thank you! :)"


@pytest.fixture(scope="module")
def predictor(tiny_bundle: Path) -> Predictor:
    return Predictor(tiny_bundle)


def with_threshold(bundle: Path, dest: Path, threshold: float) -> Path:
    """A copy of `bundle` whose manifest asks for another threshold (the sums stay valid)."""
    shutil.copytree(bundle, dest)
    write_manifest(dest, read_manifest(dest).model_copy(update={"threshold": threshold}))
    return dest


def test_predictor_exposes_the_manifest(predictor: Predictor) -> None:
    assert predictor.version == "tiny-1"
    assert predictor.manifest.threshold == 0.5
    assert predictor.options.to_dict() == predictor.manifest.normaliser_options


def test_negative_probabilities_are_float64_in_unit_interval(predictor: Predictor) -> None:
    probabilities = predictor.negative_probabilities([NEGATIVE_TWEET, POSITIVE_TWEET, ""])
    assert probabilities.shape == (3,)
    assert probabilities.dtype == np.float64
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert probabilities[0] > 0.5 > probabilities[1]


def test_long_inputs_are_scored_in_chunks_with_the_same_results(predictor: Predictor) -> None:
    few = [NEGATIVE_TWEET, POSITIVE_TWEET, "the crew lost my luggage"]
    repeats = 2 * MAX_ROWS_PER_RUN // len(few) + 1  # three runs, the last one short
    probabilities = predictor.negative_probabilities(few * repeats)
    assert probabilities.shape == (len(few) * repeats,)
    expected = np.tile(predictor.negative_probabilities(few), repeats)
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-9)


def test_empty_list_gives_empty_results(predictor: Predictor) -> None:
    assert predictor.predict([]) == []
    probabilities = predictor.negative_probabilities([])
    assert probabilities.shape == (0,)


def test_empty_text_is_scored_with_no_explanation(predictor: Predictor) -> None:
    (prediction,) = predictor.predict([""])
    assert 0.0 <= prediction.negative_probability <= 1.0
    assert prediction.explanation == []


def test_predict_labels_with_the_manifest_threshold(predictor: Predictor) -> None:
    negative, positive = predictor.predict([NEGATIVE_TWEET, POSITIVE_TWEET])
    assert isinstance(negative, Prediction)
    assert (negative.label, positive.label) == ("negative", "positive")
    assert negative.threshold == positive.threshold == 0.5


def test_labels_move_with_the_threshold(tiny_bundle: Path, tmp_path: Path) -> None:
    base = Predictor(tiny_bundle)
    high, low = base.negative_probabilities([NEGATIVE_TWEET, POSITIVE_TWEET])
    cases = {
        0.0: ("negative", "negative"),
        (high + low) / 2: ("negative", "positive"),
        float(high): ("negative", "positive"),  # a probability equal to the threshold is NEGATIVE
        float(np.nextafter(high, 1.0)): ("positive", "positive"),
        1.0: ("positive", "positive"),
    }
    for index, (threshold, expected) in enumerate(cases.items()):
        bundle = with_threshold(tiny_bundle, tmp_path / f"t{index}", threshold)
        predictions = Predictor(bundle).predict([NEGATIVE_TWEET, POSITIVE_TWEET])
        assert tuple(p.label for p in predictions) == expected, threshold
        assert all(p.threshold == threshold for p in predictions)


def test_a_freshly_built_bundle_with_threshold_zero_flags_everything(bundle_factory) -> None:
    predictor = Predictor(bundle_factory("lenient", threshold=0.0))
    assert predictor.version == "lenient"
    assert [p.label for p in predictor.predict([POSITIVE_TWEET, NEGATIVE_TWEET])] == [
        "negative"
    ] * 2
    # An empty text has no evidence: no threshold turns that into a verdict.
    assert predictor.predict([""])[0].label == "unknown"


@pytest.mark.parametrize("text", [NEGATIVE_TWEET, POSITIVE_TWEET, "the crew lost my luggage"])
def test_explanation_terms_come_from_the_text_sorted_by_weight(
    predictor: Predictor, tiny_bundle: Path, text: str
) -> None:
    weights = json.loads((tiny_bundle / EXPLAIN_FILE).read_text(encoding="utf-8"))
    terms_in_text = extract_terms(normalise_text(text, predictor.options))
    explanation = predictor.predict([text])[0].explanation
    assert 0 < len(explanation) <= EXPLANATION_TERMS
    magnitudes = [abs(term.weight) for term in explanation]
    assert magnitudes == sorted(magnitudes, reverse=True)
    for term in explanation:
        assert term.term in terms_in_text
        assert term.weight == pytest.approx(weights[term.term])
    # Nothing the tweet holds and the model weighs more was left out.
    shown = {term.term for term in explanation}
    left_out = [abs(weights[t]) for t in terms_in_text if t in weights and t not in shown]
    assert all(weight <= min(magnitudes) for weight in left_out)


def test_explain_limit_and_unknown_words(predictor: Predictor) -> None:
    assert len(predictor.explain(NEGATIVE_TWEET, limit=2)) == 2
    assert predictor.explain("zyzzyva qwertyuiop") == []


def test_explanation_signs_match_the_label(predictor: Predictor) -> None:
    """Positive weights push towards NEGATIVE: a clearly negative tweet's strongest reason is >0."""
    negative, positive = predictor.predict([NEGATIVE_TWEET, POSITIVE_TWEET])
    assert sum(term.weight for term in negative.explanation) > 0
    assert sum(term.weight for term in positive.explanation) < 0


def test_a_tampered_model_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = shutil.copytree(tiny_bundle, tmp_path / "tampered")
    (bundle / MODEL_FILE).write_bytes((bundle / MODEL_FILE).read_bytes() + b"\x00")
    with pytest.raises(BundleError, match="sha256"):
        Predictor(bundle)


# --- evidence: no verdict without something the model knows


@pytest.mark.parametrize(
    "text",
    [
        "",
        "@someone",
        "@someone @other https://t.co/abc",
        "الرحلة تأخرت ثلاث ساعات والخدمة سيئة جدا",  # an untranslated Arabic complaint
        "उड़ान तीन घंटे देर से है",  # Hindi
    ],
)
def test_a_text_without_evidence_is_unknown(predictor: Predictor, text: str) -> None:
    (prediction,) = predictor.predict([text])
    assert prediction.label == "unknown"
    assert not prediction.evidence.has_evidence
    assert 0.0 <= prediction.negative_probability <= 1.0  # still what the model computed


def test_a_text_with_evidence_gets_a_verdict(predictor: Predictor) -> None:
    (prediction,) = predictor.predict([NEGATIVE_TWEET])
    assert prediction.label in ("negative", "positive")
    assert prediction.evidence.known_terms


def test_explanation_terms_are_in_the_tweet_or_name_their_source(predictor: Predictor) -> None:
    """A term not written in the tweet (slang, contraction, emoji token) says where it came from."""
    text = f"{NEGATIVE_TWEET} can't 😡"
    for term in predictor.explain(text, limit=50):
        written = all(token in text.lower() for token in term.term.split())
        assert written or (term.source and term.source in text), term
