"""Prediction with onnxruntime alone: the function behind the API and the evaluation of bundles.

No scikit-learn here: this module is what the Function App runs, and what training uses to check
the exported bundle, so the figures training reports are the figures serving delivers.

A tweet in which the model finds nothing it knows (no vocabulary term, no VADER word, no emoji or
emoticon: empty after normalisation, only mentions and links, or a script the ASCII fold drops)
gets the label `unknown` rather than a confident guess from the intercept; its probability is
still reported, and still what the model computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from shared.bundle import (
    INPUT_TEXT,
    LABEL_NAMES,
    MODEL_FILE,
    OUTPUT_PROBABILITIES,
    Manifest,
    read_explain_weights,
    verify_bundle,
)
from shared.features import Evidence, build_model_inputs, extract_terms, measure_evidence
from shared.normalise import NormaliserOptions, normalise_text

EXPLANATION_TERMS = 5
UNKNOWN_LABEL = "unknown"  # no evidence: callers filter it, the page says "cannot judge"
# onnxruntime's TF-IDF op materialises a dense [rows, vocabulary] matrix (165 KB a row with 41k
# terms) and its arena keeps the largest run's buffers for good: 16 rows a run keep that to a few
# MB, as fast as 32 or 100 rows a run with the folded head (measured on batches of 100).
MAX_ROWS_PER_RUN = 16


@dataclass(frozen=True)
class Term:
    """One term of the tweet and how hard it pushed towards NEGATIVE (>0) or POSITIVE (<0).

    `source`: the words of the tweet the term came from when the term itself is not written in
    the tweet (an emoji read as `<emo_neg>`, "can't" read as "can not"); None when it is.
    """

    term: str
    weight: float
    source: str | None = None


@dataclass(frozen=True)
class Prediction:
    """`label` is "negative", "positive" or "unknown" (no evidence, see the module docstring)."""

    label: str
    negative_probability: float
    threshold: float
    explanation: list[Term]
    evidence: Evidence


class Predictor:
    """A verified bundle loaded into one onnxruntime session; thread-safe for `predict`."""

    def __init__(self, bundle_dir: Path) -> None:
        import onnxruntime as ort  # heavy: imported when a model is loaded, not at app indexing

        self.manifest: Manifest = verify_bundle(bundle_dir)
        self.options = NormaliserOptions.from_dict(self.manifest.normaliser_options)
        self.weights = read_explain_weights(bundle_dir)  # every vocabulary term, with its weight
        session_options = ort.SessionOptions()
        # One request is one small graph: threads cost more in hand-off than they save.
        session_options.intra_op_num_threads = 1
        session_options.inter_op_num_threads = 1
        # The memory pattern pre-plans a block per input shape seen, kept for good; the arena alone
        # reuses its buffers as fast here, in less memory (+19 instead of +25 MiB after batches).
        session_options.enable_mem_pattern = False
        self.session = ort.InferenceSession(
            str(bundle_dir / MODEL_FILE), session_options, providers=["CPUExecutionProvider"]
        )

    @property
    def version(self) -> str:
        return self.manifest.version

    def negative_probabilities(
        self,
        texts: list[str],
        normalised: list[str] | None = None,
        languages: list[str | None] | None = None,
    ) -> np.ndarray:
        """P(negative) for each raw tweet, float64 [N]; `normalised` saves normalising again.

        `languages`: the language of each text as the model reads it ("en" for a translation),
        so that English-only normaliser steps skip other languages; None means English.
        """
        if not texts:
            return np.empty(0)
        return self.score_inputs(
            build_model_inputs(texts, self.options, normalised, languages or "en")
        )

    def score_inputs(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """P(negative) for model inputs already built (`build_model_inputs` with this bundle's
        options), float64 [N]: two bundles with the same options can share one featurisation."""
        rows = len(feeds[INPUT_TEXT])
        if not rows:
            return np.empty(0)
        chunks = []
        for start in range(0, rows, MAX_ROWS_PER_RUN):
            part = {
                name: values[start : start + MAX_ROWS_PER_RUN] for name, values in feeds.items()
            }
            (probabilities,) = self.session.run([OUTPUT_PROBABILITIES], part)
            chunks.append(np.asarray(probabilities, dtype=np.float64)[:, 1])
        return np.concatenate(chunks)

    def predict(
        self, texts: list[str], languages: list[str | None] | None = None
    ) -> list[Prediction]:
        """Score, weigh the evidence and explain each tweet; each is normalised once."""
        codes = languages or ["en"] * len(texts)
        normalised = [
            normalise_text(text, self.options, code)
            for text, code in zip(texts, codes, strict=True)
        ]
        probabilities = self.negative_probabilities(texts, normalised, codes)
        return [
            self.judge(text, words, code, float(probability))
            for text, words, code, probability in zip(
                texts, normalised, codes, probabilities, strict=True
            )
        ]

    def judge(
        self, text: str, normalised: str, language: str | None, probability: float
    ) -> Prediction:
        """One verdict: the label from the threshold, or `unknown` when there is no evidence."""
        threshold = self.manifest.threshold
        terms = extract_terms(normalised)
        evidence = measure_evidence(text, normalised, self.weights, terms)
        label = (
            LABEL_NAMES[int(probability >= threshold)] if evidence.has_evidence else UNKNOWN_LABEL
        )
        explanation = self.weigh_terms(terms, EXPLANATION_TERMS)
        return Prediction(
            label, probability, threshold, self.trace_sources(text, explanation, language), evidence
        )

    def explain(
        self, text: str, limit: int = EXPLANATION_TERMS, language: str | None = "en"
    ) -> list[Term]:
        """The terms of this tweet with the largest weight magnitude in the model."""
        terms = extract_terms(normalise_text(text, self.options, language))
        return self.trace_sources(text, self.weigh_terms(terms, limit), language)

    def weigh_terms(self, terms: list[str], limit: int) -> list[Term]:
        """The `limit` terms of the model's vocabulary with the largest weight magnitude."""
        weights = self.weights
        weighted = [(term, weights[term]) for term in terms if term in weights]
        weighted.sort(key=lambda pair: abs(pair[1]), reverse=True)
        return [Term(term, weight) for term, weight in weighted[:limit]]

    def trace_sources(self, text: str, terms: list[Term], language: str | None) -> list[Term]:
        """Give each term not written as such in the tweet the tweet's words it came from."""
        written = set(_WORD_RE.findall(text.lower()))
        missing = {token for term in terms for token in term.term.split()} - written
        if not missing:
            return terms
        sources = self.map_sources(text, language, missing)
        traced = []
        for term in terms:
            tokens = term.term.split()
            if all(token in written for token in tokens):
                traced.append(term)
                continue
            origin = " ".join(dict.fromkeys(sources.get(token, "") for token in tokens)).strip()
            traced.append(Term(term.term, term.weight, origin or None))
        return traced

    def map_sources(self, text: str, language: str | None, wanted: set[str]) -> dict[str, str]:
        """Token → the chunk of the tweet (split on spaces) whose normalisation gives it, for the
        `wanted` tokens; stops as soon as each has one."""
        sources: dict[str, str] = {}
        for chunk in text.split():
            for token in normalise_chunk(chunk, self.options, language).split():
                if token in wanted:
                    sources.setdefault(token, chunk)
            if len(sources) == len(wanted):
                break
        return sources


# Explanations normalise a tweet's words one by one; the same words come back tweet after tweet.
normalise_chunk = lru_cache(maxsize=16_384)(normalise_text)
_WORD_RE = re.compile(r"[a-z0-9']+")
