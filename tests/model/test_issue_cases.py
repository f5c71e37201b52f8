"""Every bad case of issue 9's table, as the served model answers it (translation unavailable).

| input                                   | right answer                                          |
|-----------------------------------------|-------------------------------------------------------|
| 😡😡😡✈️                                | negative                                              |
| D:                                      | negative                                              |
| a complaint + 🤬                        | P(negative) does not fall                             |
| {"text": "\\u200b"}                     | 422, like a blank text                                |
| @someone alone                          | no evidence either way: label "unknown"               |
| Arabic or Hindi complaint, untranslated | "cannot judge": label "unknown"                       |
| ¡Excelente vuelo! … muy amable y …      | no English slang on Spanish; every reason is traceable |
| canÃ¢â‚¬â„¢t believe it                  | same as "can’t believe it"                            |
| &amp;amp;amp;lt;3                       | read as "<3"                                          |
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from shared.normalise import NormaliserOptions, normalise_text, prepare_for_vader
from tests.model.served import ServedModel, describe
from tests.model.tables import COMPLAINTS, text_id

pytestmark = pytest.mark.model

ROUNDING = 1e-6  # float32 inference
SPANISH_PRAISE = "¡Excelente vuelo! La tripulación fue muy amable y llegamos antes de tiempo."
ARABIC_COMPLAINT = "تأخرت رحلتي خمس ساعات ولم يخبرنا أحد بأي شيء، خدمة سيئة جدا"
HINDI_COMPLAINT = "मेरी उड़ान पांच घंटे लेट हुई और किसी ने कुछ नहीं बताया, बहुत खराब सेवा"
DOUBLE_MOJIBAKE = "canÃ¢â‚¬â„¢t believe it"
CURLY_APOSTROPHE = "can’t believe it"
TRIPLE_ESCAPED_HEART = "&amp;amp;amp;lt;3"


def same_answer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same label, same P(negative), same evidence and the same explanation terms."""
    return (
        a["label"] == b["label"]
        and a["negative_probability"] == pytest.approx(b["negative_probability"], abs=ROUNDING)
        and a["evidence"] == b["evidence"]
        and [t["term"] for t in a["explanation"]] == [t["term"] for t in b["explanation"]]
    )


def words_of(text: str) -> set[str]:
    """The words a reader finds in `text`: as written (lowercase) and without accents."""
    lowered = text.lower()
    folded = unicodedata.normalize("NFKD", lowered).encode("ascii", "ignore").decode()
    return set(re.findall(r"\w+", lowered)) | set(re.findall(r"[a-z0-9]+", folded))


def untraceable_terms(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Explanation terms that are neither words of the text the model read (`model_text`) nor
    shown with a `source` found in that text."""
    text = result["model_text"]
    words = words_of(text)
    return [
        term
        for term in result["explanation"]
        if not all(token in words for token in term["term"].split())
        and not (term["source"] and term["source"] in text)
    ]


# --- the table, row by row


def test_angry_faces_and_a_plane_are_negative(served: ServedModel) -> None:
    result = served.predict("😡😡😡✈️")
    assert result["label"] == "negative", describe(result)


def test_d_colon_emoticon_is_negative(served: ServedModel) -> None:
    """VADER lists "D:" twice (-2.9, then +1.2): the negative reading must win."""
    result = served.predict("D:")
    assert result["label"] == "negative", describe(result)


@pytest.mark.parametrize("complaint", COMPLAINTS, ids=text_id)
def test_cursing_face_does_not_lower_p_negative_of_a_complaint(
    served: ServedModel, complaint: str
) -> None:
    before, after = served.predict_many([complaint, f"{complaint} 🤬"])
    assert after["negative_probability"] >= before["negative_probability"] - ROUNDING, (
        f"{describe(before)}\n{describe(after)}"
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"text": "\u200b"}, id="zero-width-space"),
        pytest.param({"text": "\u200b\u200b\u200b"}, id="zero-width-spaces"),
        pytest.param({"text": " \u200b\n"}, id="zero-width-and-whitespace"),
        pytest.param({"text": "\u2060\ufeff\u200d"}, id="word-joiner-bom-zwj"),
        pytest.param({"text": "\u202e"}, id="right-to-left-override"),
    ],
)
def test_invisible_text_is_refused_like_a_blank_one(
    served: ServedModel, body: dict[str, str]
) -> None:
    blank = served.post({"text": "   "})
    response = served.post(body)
    assert blank.status_code == 422
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == blank.json()["error"]["field"] == "text"
    assert response.json()["error"]["code"] == blank.json()["error"]["code"]


def test_invisible_text_in_a_batch_is_refused_with_its_index(served: ServedModel) -> None:
    response = served.post({"texts": ["my flight is late", "\u200b"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "texts[1]"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("@someone", id="one-mention"),
        pytest.param("@someone @another_one", id="two-mentions"),
        pytest.param("https://t.co/abc123", id="one-link"),
        pytest.param("@someone https://t.co/abc123", id="mention-and-link"),
    ],
)
def test_only_mentions_or_links_is_unknown(served: ServedModel, text: str) -> None:
    result = served.predict(text)
    assert result["label"] == "unknown", describe(result)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        pytest.param(ARABIC_COMPLAINT, "ar", id="arabic"),
        pytest.param(HINDI_COMPLAINT, "hi", id="hindi"),
    ],
)
def test_untranslated_foreign_script_is_unknown(
    served: ServedModel, text: str, language: str
) -> None:
    result = served.predict(text)
    assert (result["language"], result["translated"]) == (language, False), describe(result)
    assert result["label"] == "unknown", describe(result)


def test_spanish_gets_no_english_slang_and_traceable_reasons(served: ServedModel) -> None:
    """Spanish "y" ("and") once went through the English slang table and came out as `why`."""
    result = served.predict(SPANISH_PRAISE)
    assert (result["language"], result["translated"]) == ("es", False), describe(result)
    assert result["model_text"] == SPANISH_PRAISE
    terms = [term["term"] for term in result["explanation"]]
    assert not any("why" in term.split() for term in terms), describe(result)
    assert not untraceable_terms(result), describe(result)


@pytest.mark.parametrize(
    "text",
    [
        "can't believe they lost my bag 😡",
        "u guys r the worst, thx for nothing",
        "my flight was delayed again :(",
        "I'm so done with this airline 🤬🤬",
        "@united ur crew was gr8, luv u guys <3",
    ],
    ids=text_id,
)
def test_every_reason_is_a_word_of_the_tweet_or_names_its_source(
    served: ServedModel, text: str
) -> None:
    result = served.predict(text)
    assert result["explanation"], describe(result)
    assert not untraceable_terms(result), describe(result)


def test_double_mojibake_reads_like_the_curly_apostrophe(served: ServedModel) -> None:
    broken, clean = served.predict_many([DOUBLE_MOJIBAKE, CURLY_APOSTROPHE])
    assert same_answer(broken, clean), f"{describe(broken)}\n{describe(clean)}"


def test_triply_escaped_heart_reads_like_a_heart(served: ServedModel, shipped_bundle: Path) -> None:
    manifest = json.loads((shipped_bundle / "manifest.json").read_text(encoding="utf-8"))
    options = NormaliserOptions.from_dict(manifest["normaliser_options"])
    assert normalise_text(TRIPLE_ESCAPED_HEART, options) == normalise_text("<3", options)
    assert prepare_for_vader(TRIPLE_ESCAPED_HEART) == prepare_for_vader("<3")
    escaped, heart = served.predict_many([TRIPLE_ESCAPED_HEART, "<3"])
    assert same_answer(escaped, heart), f"{describe(escaped)}\n{describe(heart)}"
