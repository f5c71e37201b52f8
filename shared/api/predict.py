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
    TranslationResultLike,
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
from shared.translation import POOL_WORKERS, REASON_ENGLISH

# As many as the translator's own pool: more threads would only queue there, eating the timeout.
TRANSLATION_WORKERS = POOL_WORKERS

router = APIRouter(prefix="/api", tags=["predict"])


@dataclass(frozen=True)
class PreparedText:
    """One input after language detection and (maybe) translation: what the model will read."""

    model_text: str
    language: str
    translated: bool
    translation_reason: str | None


def prepare_text(text: str, language: str, result: TranslationResultLike | None) -> PreparedText:
    """What the model reads: the translation when there is one, else the original text."""
    if result is None:
        return PreparedText(text, language, False, REASON_ENGLISH)
    model_text = result.text if result.translated else text
    return PreparedText(model_text, language, result.translated, result.reason)


def translate_all(
    pairs: list[tuple[str, str]], translator: TranslatorLike
) -> list[TranslationResultLike]:
    """Translations wait on the network: several texts are sent side by side."""
    if len(pairs) <= 1:
        return [translator.translate(text, language) for text, language in pairs]
    with ThreadPoolExecutor(max_workers=TRANSLATION_WORKERS) as pool:
        return list(pool.map(lambda pair: translator.translate(*pair), pairs))


def prepare_texts(texts: list[str], translator: TranslatorLike) -> list[PreparedText]:
    """Detect every language (local, ~0.1 ms); only the non-English texts go to the translator."""
    languages = [detect_language(text) for text in texts]
    foreign = [(t, lang) for t, lang in zip(texts, languages, strict=True) if lang != ENGLISH]
    translations = iter(translate_all(foreign, translator))
    return [
        prepare_text(text, language, None if language == ENGLISH else next(translations))
        for text, language in zip(texts, languages, strict=True)
    ]


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
    400: {"model": ErrorPublic, "description": "Undecodable body or malformed Content-Length."},
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
