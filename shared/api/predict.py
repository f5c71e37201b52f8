"""POST /api/predict: is this tweet (or are these tweets) negative, and why?

Per text: detect the language; English goes straight to the model, anything else goes to the
translator first (which may decline: disabled, timeout, error) and the model scores the English
translation when there is one, else the original. The whole batch is scored in one model call.

The route is `async`: the usual request (model loaded, a few English texts: ~1 ms of CPU) is
answered on the event loop, without the thread hops and GIL hand-offs of a sync route. Whatever
may block (loading or refreshing the model, loading the language identifier, translating, a big
batch) runs on the threadpool, as a sync route would.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from shared.api.deps import (
    ApiKeyDep,
    HolderDep,
    LoadedModelLike,
    ModelHolderLike,
    TranslationResultLike,
    TranslatorDep,
    TranslatorLike,
    model_if_ready,
    require_model,
)
from shared.api.schemas import (
    BatchPredictionPublic,
    ErrorPublic,
    PredictionPublic,
    PredictRequest,
    TermPublic,
)
from shared.language import ENGLISH, detect_language, identifier_loaded, warm_identifier
from shared.telemetry import PredictionTrace, record_prediction
from shared.translation import POOL_WORKERS, REASON_ENGLISH, REASON_TIMEOUT, TranslationResult

# A whole batch waits at most this long for its translations (one text: the translator's 1.5 s).
BATCH_TRANSLATION_BUDGET = 3.0
# As many as the translator's own pool: more threads would only queue there, eating the timeout.
TRANSLATION_WORKERS = POOL_WORKERS
# Batches up to this size are scored on the event loop (~0.5 ms of CPU a text); bigger ones on the
# threadpool, where onnxruntime's runs release the GIL and let other requests through meanwhile.
INLINE_MAX_TEXTS = 4

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
    """Translations wait on the network: several texts are sent side by side, under one deadline.

    Each call is bounded (≤ 1.5 s), but 100 hanging calls four at a time would hold a batch for
    ~38 s: past BATCH_TRANSLATION_BUDGET the texts not yet translated are scored as they are.
    """
    if len(pairs) <= 1:
        return [translator.translate(text, language) for text, language in pairs]
    pool = ThreadPoolExecutor(max_workers=TRANSLATION_WORKERS)
    futures = [pool.submit(translator.translate, text, language) for text, language in pairs]
    wait(futures, timeout=BATCH_TRANSLATION_BUDGET)
    pool.shutdown(wait=False, cancel_futures=True)
    return [
        future.result() if future.done() and not future.cancelled() else out_of_time(text)
        for future, (text, _) in zip(futures, pairs, strict=True)
    ]


def out_of_time(text: str) -> TranslationResult:
    return TranslationResult(text=text, translated=False, reason=REASON_TIMEOUT)


def prepare_texts(
    texts: list[str], translator: TranslatorLike, languages: list[str]
) -> list[PreparedText]:
    """Only the texts whose `detect_language` is not English go to the translator."""
    foreign = [(t, lang) for t, lang in zip(texts, languages, strict=True) if lang != ENGLISH]
    translations = iter(translate_all(foreign, translator))
    return [
        prepare_text(text, language, None if language == ENGLISH else next(translations))
        for text, language in zip(texts, languages, strict=True)
    ]


def predict_texts(
    prepared: list[PreparedText], model: LoadedModelLike, start_ns: int
) -> list[PredictionPublic]:
    """Score the texts in order, and emit one span per text (no text in it) from `start_ns`."""
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


TRACED_FIELDS = {
    "prediction_id",
    "model_version",
    "label",
    "negative_probability",
    "language",
    "translated",
}


def trace_of(result: PredictionPublic, start_ns: int, end_ns: int) -> PredictionTrace:
    """The span's attributes: the public result's fields minus the text-derived explanation."""
    fields = result.model_dump(include=TRACED_FIELDS)
    return PredictionTrace(**fields, start_ns=start_ns, end_ns=end_ns)


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
async def predict(
    body: PredictRequest, _: ApiKeyDep, holder: HolderDep, translator: TranslatorDep
) -> Response:
    """`{"text"}` gets one prediction back; `{"texts"}` gets `results` in the same order."""
    warm_identifier()  # from the first request on, beside the model load
    model = model_if_ready(holder)
    texts = body.all_texts()
    if model is None or len(texts) > INLINE_MAX_TEXTS or not identifier_loaded():
        return await run_in_threadpool(answer_on_worker, body, holder, translator)
    start_ns = time.time_ns()
    languages = [detect_language(text) for text in texts]
    if all(language == ENGLISH for language in languages):  # nothing for the translator
        prepared = prepare_texts(texts, translator, languages)
    else:
        prepared = await run_in_threadpool(prepare_texts, texts, translator, languages)
    return render(body, model, predict_texts(prepared, model, start_ns))


def answer_on_worker(
    body: PredictRequest, holder: ModelHolderLike, translator: TranslatorLike
) -> Response:
    """The whole answer on a worker thread, where loading a model or translating may block."""
    model = require_model(holder)
    start_ns = time.time_ns()
    texts = body.all_texts()
    prepared = prepare_texts(texts, translator, [detect_language(text) for text in texts])
    return render(body, model, predict_texts(prepared, model, start_ns))


def render(
    body: PredictRequest, model: LoadedModelLike, results: list[PredictionPublic]
) -> Response:
    """The JSON answer, serialised once.

    The models were validated when built; FastAPI's `response_model` (kept for the OpenAPI schema)
    would validate them a second time before serialising them.
    """
    if body.text is not None:
        payload: PredictionPublic | BatchPredictionPublic = results[0]
    else:
        payload = BatchPredictionPublic(model_version=model.version, results=results)
    return Response(payload.model_dump_json(), media_type="application/json")
