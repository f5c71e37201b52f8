"""POST /api/predict: is this tweet (or are these tweets) negative, and why?

Per text: detect the language; English goes straight to the model, anything else goes to the
translator first (which may decline: disabled, timeout, error) and the model scores the English
translation when there is one, else the original. The whole batch is scored in one model call.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import APIRouter

from shared.api.deps import (
    ApiKeyDep,
    HolderDep,
    LoadedModelLike,
    TranslatorDep,
    TranslatorLike,
    require_model,
)
from shared.api.schemas import (
    BatchPredictionPublic,
    ErrorPublic,
    PredictionPublic,
    PredictRequest,
    TermPublic,
)
from shared.language import ENGLISH, detect_language
from shared.telemetry import PredictionTrace, record_prediction

TRANSLATION_WORKERS = 4  # the translator's own pool size: more threads would only queue there
REASON_ENGLISH = "already English"

router = APIRouter(prefix="/api", tags=["predict"])


@dataclass(frozen=True)
class PreparedText:
    """One input after language detection and (maybe) translation: what the model will read."""

    model_text: str
    language: str
    translated: bool
    translation_reason: str | None


def prepare_text(text: str, translator: TranslatorLike) -> PreparedText:
    language = detect_language(text)
    if language == ENGLISH:
        return PreparedText(text, language, False, REASON_ENGLISH)
    result = translator.translate(text, language)
    model_text = result.text if result.translated else text
    return PreparedText(model_text, language, result.translated, result.reason)


def prepare_texts(texts: list[str], translator: TranslatorLike) -> list[PreparedText]:
    """Texts that need a translation wait on the network: a batch does them side by side."""
    if len(texts) == 1:
        return [prepare_text(texts[0], translator)]
    with ThreadPoolExecutor(max_workers=TRANSLATION_WORKERS) as pool:
        return list(pool.map(lambda text: prepare_text(text, translator), texts))


def predict_texts(
    texts: list[str], model: LoadedModelLike, translator: TranslatorLike
) -> list[PredictionPublic]:
    """Score the texts in order, and emit one span per text (no text in it)."""
    start_ns = time.time_ns()
    prepared = prepare_texts(texts, translator)
    predictions = model.predictor.predict([item.model_text for item in prepared])
    end_ns = time.time_ns()
    results = []
    for item, prediction in zip(prepared, predictions, strict=True):
        public = PredictionPublic(
            prediction_id=str(uuid.uuid4()),
            label=prediction.label,
            negative_probability=prediction.negative_probability,
            threshold=prediction.threshold,
            model_version=model.version,
            language=item.language,
            translated=item.translated,
            translation_reason=item.translation_reason,
            explanation=[TermPublic(term=t.term, weight=t.weight) for t in prediction.explanation],
        )
        record_prediction(trace_of(public, start_ns, end_ns))
        results.append(public)
    return results


def trace_of(result: PredictionPublic, start_ns: int, end_ns: int) -> PredictionTrace:
    return PredictionTrace(
        prediction_id=result.prediction_id,
        model_version=result.model_version,
        label=result.label,
        negative_probability=result.negative_probability,
        language=result.language,
        translated=result.translated,
        start_ns=start_ns,
        end_ns=end_ns,
    )


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorPublic, "description": "Missing or wrong x-api-key (AUTH_MODE=api_key)."},
    413: {"model": ErrorPublic, "description": "Body larger than 64 KB."},
    422: {"model": ErrorPublic, "description": "Invalid body; `field` and `rule` say why."},
    503: {"model": ErrorPublic, "description": "No model loaded (see /api/health)."},
}


@router.post(
    "/predict",
    response_model=PredictionPublic | BatchPredictionPublic,
    responses=ERROR_RESPONSES,
    summary="Score one tweet (text) or up to 100 (texts)",
)
def predict(
    body: PredictRequest, _: ApiKeyDep, holder: HolderDep, translator: TranslatorDep
) -> PredictionPublic | BatchPredictionPublic:
    """`{"text"}` gets one prediction back; `{"texts"}` gets `results` in the same order."""
    model = require_model(holder)
    results = predict_texts(body.all_texts(), model, translator)
    if body.text is not None:
        return results[0]
    return BatchPredictionPublic(model_version=model.version, results=results)
