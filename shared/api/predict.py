"""POST /api/predict: is this tweet (or are these tweets) negative, and why?

Per text: detect the language; English goes straight to the model, anything else goes to the
translator first (which may decline: disabled, timeout, error) and the model scores the English
translation when there is one, else the original. The whole batch is scored in one model call.

The route is `async`: the usual request (model loaded, a few English texts: ~1 ms of CPU) is
answered on the event loop, without the thread hops and GIL hand-offs of a sync route. Whatever
may block on CPU or disk (loading or refreshing the model, loading the language identifier, a big
batch) runs on the threadpool, as a sync route would. Translation waits on the network: it runs
on the translator's own bounded pool, awaited on the event loop, so a hanging translator never
holds a thread of the shared threadpool that feedback and health need.
"""

from __future__ import annotations

import time
import uuid
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
    EvidencePublic,
    PredictionPublic,
    PredictRequest,
    TermPublic,
)
from shared.api.signing import FeedbackSignerDep, FeedbackSignerLike
from shared.language import ENGLISH, detect_language, identifier_loaded, warm_identifier
from shared.monitoring.events import (
    PredictionEventsDep,
    PredictionEventStore,
    record_predictions,
)
from shared.privacy import mask_personal_data
from shared.telemetry import PredictionTrace, record_prediction
from shared.translation import REASON_ENGLISH, translate_each_async

# A whole batch waits at most this long for its translations (one text: the translator's 1.5 s).
BATCH_TRANSLATION_BUDGET = 3.0
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

    @property
    def model_language(self) -> str:
        """The language of what the model reads: English once translated."""
        return ENGLISH if self.translated else self.language


def prepare_text(text: str, language: str, result: TranslationResultLike | None) -> PreparedText:
    """What the model reads: the translation when there is one, else the original text."""
    if result is None:
        return PreparedText(text, language, False, REASON_ENGLISH)
    model_text = result.text if result.translated else text
    return PreparedText(model_text, language, result.translated, result.reason)


async def translate_all(
    pairs: list[tuple[str, str]], translator: TranslatorLike
) -> list[TranslationResultLike]:
    """Translations wait on the network: sent side by side on the translator's OWN bounded pool
    and awaited here on the event loop, under one deadline (one text: the translator's timeout;
    several: BATCH_TRANSLATION_BUDGET). No thread of the shared threadpool, which serves
    feedback and health, waits on the translator; texts not translated in time are scored as
    they are (reason "timeout").
    """
    if not pairs:
        return []
    budget = BATCH_TRANSLATION_BUDGET if len(pairs) > 1 else None
    translate_many = getattr(translator, "translate_many_async", None)
    if translate_many is None:  # a translator with `translate` only (test doubles)
        return await translate_each_async(translator, pairs, budget)
    return await translate_many(pairs, budget)


async def prepare_texts(
    texts: list[str], translator: TranslatorLike, languages: list[str]
) -> list[PreparedText]:
    """Only the texts whose `detect_language` is not English go to the translator, and with their
    personal data already masked: the translator is a third party, and its answer is masked
    again before scoring (masking is idempotent)."""
    foreign = [
        (mask_personal_data(t), lang)
        for t, lang in zip(texts, languages, strict=True)
        if lang != ENGLISH
    ]
    translations = iter(await translate_all(foreign, translator))
    return [
        prepare_text(text, language, None if language == ENGLISH else next(translations))
        for text, language in zip(texts, languages, strict=True)
    ]


def predict_texts(
    prepared: list[PreparedText],
    model: LoadedModelLike,
    start_ns: int,
    signer: FeedbackSignerLike | None = None,
    events: PredictionEventStore | None = None,
) -> list[PredictionPublic]:
    """Score the texts in order, and emit one span per text (no text in it) from `start_ns`.

    The model reads each text with personal data, URLs and @mentions masked
    (`shared.privacy`): that masked `model_text` is returned, and it is exactly what feedback
    stores, so retraining sees what was scored. `signer` adds each prediction's feedback token;
    `events`, the app's local store of prediction events (no text), gets the batch.
    """
    model_texts = [mask_personal_data(item.model_text.strip()) for item in prepared]
    predictions = model.predictor.predict(model_texts, [item.model_language for item in prepared])
    end_ns = time.time_ns()
    results = []
    for item, model_text, prediction in zip(prepared, model_texts, predictions, strict=True):
        public = PredictionPublic(
            prediction_id=str(uuid.uuid4()),
            label=prediction.label,
            negative_probability=prediction.negative_probability,
            threshold=prediction.threshold,
            model_version=model.version,
            language=item.language,
            translated=item.translated,
            translation_reason=item.translation_reason,
            explanation=[
                TermPublic(term=t.term, weight=t.weight, source=t.source)
                for t in prediction.explanation
            ],
            evidence=EvidencePublic.of(prediction.evidence),
            model_text=model_text,
        )
        if signer is not None:
            public.feedback_token = signer.issue(public)
        record_prediction(trace_of(public, start_ns, end_ns))
        results.append(public)
    record_predictions(results, events)  # local prediction events (no text) for GET /api/buzz
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
    413: {
        "model": ErrorPublic,
        "description": "Body larger than the largest valid request (about 587 KB).",
    },
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
    body: PredictRequest,
    _: ApiKeyDep,
    holder: HolderDep,
    translator: TranslatorDep,
    signer: FeedbackSignerDep,
    events: PredictionEventsDep,
) -> Response:
    """`{"text"}` gets one prediction back; `{"texts"}` gets `results` in the same order."""
    warm_identifier()  # from the first request on, beside the model load
    model = model_if_ready(holder)
    texts = body.all_texts()
    if model is None or len(texts) > INLINE_MAX_TEXTS or not identifier_loaded():
        return await answer_off_loop(body, holder, translator, signer, events)
    start_ns = time.time_ns()
    languages = [detect_language(text) for text in texts]
    prepared = await prepare_texts(texts, translator, languages)
    return render(body, model, predict_texts(prepared, model, start_ns, signer, events))


async def answer_off_loop(
    body: PredictRequest,
    holder: ModelHolderLike,
    translator: TranslatorLike,
    signer: FeedbackSignerLike | None = None,
    events: PredictionEventStore | None = None,
) -> Response:
    """What may block (model load, language identifier, a big batch) on the threadpool; the
    translations, when there are any, awaited on the event loop between two hops."""
    answered = await run_in_threadpool(answer_on_worker, body, holder, signer, events)
    if isinstance(answered, Response):
        return answered
    model, languages, start_ns = answered
    prepared = await prepare_texts(body.all_texts(), translator, languages)
    return await run_in_threadpool(score_on_worker, body, model, prepared, start_ns, signer, events)


def answer_on_worker(
    body: PredictRequest,
    holder: ModelHolderLike,
    signer: FeedbackSignerLike | None = None,
    events: PredictionEventStore | None = None,
) -> Response | tuple[LoadedModelLike, list[str], int]:
    """The whole answer on a worker thread when every text is English; otherwise the model, the
    languages and the start time, for the translations to run off this thread."""
    model = require_model(holder)
    start_ns = time.time_ns()
    texts = body.all_texts()
    languages = [detect_language(text) for text in texts]
    if any(language != ENGLISH for language in languages):
        return model, languages, start_ns
    prepared = [prepare_text(text, ENGLISH, None) for text in texts]
    return render(body, model, predict_texts(prepared, model, start_ns, signer, events))


def score_on_worker(
    body: PredictRequest,
    model: LoadedModelLike,
    prepared: list[PreparedText],
    start_ns: int,
    signer: FeedbackSignerLike | None = None,
    events: PredictionEventStore | None = None,
) -> Response:
    return render(body, model, predict_texts(prepared, model, start_ns, signer, events))


def render(
    body: PredictRequest, model: LoadedModelLike, results: list[PredictionPublic]
) -> Response:
    """The JSON answer, serialised once.

    The models were validated when built; FastAPI's `response_model` (kept for the OpenAPI schema)
    would validate them a second time before serialising them. `model_text` echoes what the user
    wrote, so "<", ">" and "&" are written as JSON escapes: a client that pastes the answer into
    HTML, or a browser sniffing it, finds no markup in it.
    """
    if body.text is not None:
        payload: PredictionPublic | BatchPredictionPublic = results[0]
    else:
        payload = BatchPredictionPublic(model_version=model.version, results=results)
    return Response(escape_markup(payload.model_dump_json()), media_type="application/json")


_MARKUP_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def escape_markup(json_text: str) -> str:
    """The same JSON with <, > and & escaped; they only ever occur inside JSON strings."""
    return json_text.translate(_MARKUP_ESCAPES)
