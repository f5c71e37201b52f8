"""The tweet normaliser: each step on and off, its contract on any string, and its options."""

from __future__ import annotations

import itertools
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.lexicons import contractions, slang
from shared.normalise import (
    DEFAULT_OPTIONS,
    MAX_OUTPUT_CHARS,
    MAX_REPAIR_ROUNDS,
    NORMALISER_VERSION,
    STEPS,
    NormaliserOptions,
    is_english,
    normalise_text,
    normalise_texts,
    prepare_for_vader,
    repair_text,
)

pytestmark = pytest.mark.code

PRINTABLE_ASCII = re.compile(r"[ -~]*")
UNITED = "@united my flight is delayed AGAIN!!! &amp; no food :( http://t.co/x"
SO_GOOD = "I can't believe it's sooooo good :D #happy"
# Bits of real Sentiment140 tweets that have tripped normalisers up, glued together at random by
# the property tests below.
FRAGMENTS = (
    ":)", ":-(", ":D", "xD", "D:", ":'(", "<3", "</3", ":P", ":/", "):", "^_^", "T_T",
    "http://t.co/x", "www.x.com", "bit.ly/a", "@user", "@", "#Tag", "#", "&amp;", "&lt;", "&",
    "&amp;lt;", "don't", "can't", "'s", "n't", "'", "’", "b/c", "w/", "w/o", "u", "lol", "im",
    "sooo", "!!!", "aaa", "aA", "1000", "😀", "😡", "👍🏽", "❤️", "🇺🇸", "\u200d", "\u200b",
    "\ufe0f", "Ã©", "ï¿½", "â\x80\x99", "é", "ß", "ﬁ", "ｆ", "<url>", "<emo_pos>", "<", ">",
    " ", "\n", "\t", "\x00", "\ud800", "İ", "K", "Σ", "ǅ", "\u0301",
)  # fmt: skip
tweet_like = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=25).map(
    "".join
)
any_unicode = st.text(st.characters(exclude_categories=()))  # surrogates and controls too
option_sets = st.builds(NormaliserOptions, spelling=st.just(False), lemmatise=st.just(False))
CHEAP_STEPS = tuple(step for step in STEPS if step not in ("spelling", "lemmatise"))


# --- each step, on and off --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "text", "on", "off"),
    [
        (
            "html",
            "Fish &amp; chips &amp;lt;3",
            "fish chips <emo_pos>",
            "fish amp chips amp lt <emo_pos>",
        ),
        (
            "urls",
            UNITED,
            "<mention> my flight is delayed again no food <emo_neg> <url>",
            "<mention> my flight is delayed again no food <emo_neg> http t co x",
        ),
        (
            "urls",
            "see www.united.com and bit.ly/abc",
            "see <url> and <url>",
            "see ww united com and bit ly abc",
        ),
        (
            "mentions",
            UNITED,
            "<mention> my flight is delayed again no food <emo_neg> <url>",
            "united my flight is delayed again no food <emo_neg> <url>",
        ),
        (
            "hashtags",
            "#NeverAgain with #united",
            "never again with united",
            "neveragain with united",
        ),
        (
            "repeats",
            "sooooo goooood!!!! 1000 WAAAAY",
            "soo good 1000 waay",
            "sooooo goooood 1000 waaaay",
        ),
        (
            "emoticons",
            SO_GOOD,
            "i can not believe it is soo good <emo_pos> happy",
            "i can not believe it is soo good d happy",
        ),
        (
            "emoticons",
            "love it 😍👍🏽 but 💔 ✈️",
            "love it <emo_pos> <emo_pos> but <emo_neg> <emoji>",
            "love it but",
        ),
        (
            "slang",
            "u r gr8 lol, omg idk b/c w/ u",
            "you are great laughing oh my god i do not know because with you",
            "u r gr8 lol omg idk b c w u",
        ),
        (
            "contractions",
            "I can't and won't, dont, she’s John's",
            "i can not and will not do not she is john",
            "i cant and wont dont shes johns",
        ),
        ("lowercase", "GREAT Flight, U ROCK", "great flight you rock", "GREAT Flight you ROCK"),
        (
            "accents",
            "Café naïve ｆｕｌｌ straße",
            "cafe naive full strasse",
            "café naïve ｆｕｌｌ straße",
        ),
        (
            "accents",
            "donï¿½t worry, itâ\x80\x99s fine cafÃ©",
            "do not worry it is fine cafe",
            "donï ½t worry itâ s fine cafã",
        ),
    ],
)
def test_step_on_and_off(step: str, text: str, on: str, off: str) -> None:
    assert normalise_text(text) == on
    assert normalise_text(text, DEFAULT_OPTIONS.without(step)) == off


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (UNITED, "<mention> my flight is delayed again no food <emo_neg> <url>"),
        (SO_GOOD, "i can not believe it is soo good <emo_pos> happy"),
        (
            "thanks @JetBlue :-))) best crew ever <3",
            "thanks <mention> <emo_pos> best crew ever <emo_pos>",
        ),
        ("lost my bag again D: T_T", "lost my bag again <emo_neg> <emo_neg>"),
        (
            "I'm stuck in DEN, we've waited 3 hrs :'(",
            "i am stuck in den we have waited 3 hours <emo_neg>",
        ),
        ("gate at 10:30, re:Post was wrong", "gate at 10 30 re post was wrong"),  # no emoticons
        ("Â£1 for a seat?! â\x99« ðŸ˜¡", "1 for a seat <emoji> <emo_neg>"),  # mojibake
        ("😭😭😭😭😭", "<emo_neg> <emo_neg>"),  # emoji runs are capped like letters
        ("&quot;On time&quot; they said", "on time they said"),
        ("@united's crew, #delta's too", "<mention> crew delta too"),
        ("", ""),
        ("  \t\n ", ""),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


@pytest.mark.slow  # loading the spelling dictionary takes seconds
def test_optional_steps() -> None:
    pytest.importorskip("symspellpy")
    pytest.importorskip("simplemma")
    text = "The flights were delayd and the crew was verry rude"
    assert normalise_text(text, NormaliserOptions(spelling=True)) == (
        "the flights were delay and the crew was very rude"
    )
    assert normalise_text(text, NormaliserOptions(lemmatise=True)) == (
        "the flight be delayd and the crew be verry rude"
    )


def test_batch_matches_single() -> None:
    texts = [UNITED, SO_GOOD, ""]
    assert normalise_texts(texts) == [normalise_text(text) for text in texts]


def test_same_output_from_many_threads() -> None:
    texts = [UNITED, SO_GOOD, "u r gr8 😍"] * 200
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(normalise_text, texts)) == normalise_texts(texts)


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="expects str"):
        normalise_text(None)  # type: ignore[arg-type]


# --- the contract on any string ---------------------------------------------------------------


def check_contract(text: str, options: NormaliserOptions = DEFAULT_OPTIONS) -> str:
    output = normalise_text(text, options)
    assert isinstance(output, str)
    assert len(output) <= MAX_OUTPUT_CHARS
    assert output == output.strip()
    assert "  " not in output
    if options.accents:
        assert PRINTABLE_ASCII.fullmatch(output)
    return output


@given(st.one_of(st.text(), any_unicode, tweet_like))
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_keeps_the_contract_and_is_idempotent(text: str) -> None:
    output = check_contract(text)
    assert normalise_text(output) == output


@given(tweet_like, option_sets)
@settings(max_examples=500)
def test_any_options_keep_the_contract(text: str, options: NormaliserOptions) -> None:
    check_contract(text, options)


def test_every_option_combination_on_nasty_text() -> None:
    nasty = "".join(FRAGMENTS) + " I'm SOOO happy :D #NeverAgain" * 3
    for values in itertools.product((False, True), repeat=len(CHEAP_STEPS)):
        check_contract(nasty, NormaliserOptions(**dict(zip(CHEAP_STEPS, values, strict=True))))


HUGE_INPUTS = {
    "1 MB of letters": "a" * 1_000_000,
    "1 M emoji": "😀" * 1_000_000,
    "NFKD makes 18 characters of each": "ﷺ" * 5000,
    "slang makes each token longer": "u " * 5000,
    "tokens that must not be cut": "<3" * 5000,
    "controls, surrogates, RTL, zero-width": "\x00\ud800\udfff\u202e\u200b" * 1000,
}


@pytest.mark.parametrize("text", HUGE_INPUTS.values(), ids=HUGE_INPUTS.keys())
def test_huge_inputs_are_bounded(text: str) -> None:
    output = check_contract(text)
    assert not output.endswith("<emo_po")
    assert len(prepare_for_vader(text)) <= MAX_OUTPUT_CHARS


# --- the lexicons -----------------------------------------------------------------------------


def expansions() -> list[tuple[str, str]]:
    return [
        *slang.SLANG.items(),
        *slang.SLASHED.items(),
        *contractions.IRREGULAR.items(),
        *contractions.WITHOUT_APOSTROPHE.items(),
    ]


@pytest.mark.parametrize(("key", "value"), expansions())
def test_expansions_are_final(key: str, value: str) -> None:
    """An expansion that could be expanded again would make the normaliser not idempotent."""
    assert normalise_text(value) == value
    assert normalise_text(key) == value


def test_suffix_expansions_are_final() -> None:
    for _, words in contractions.SUFFIXES:
        assert normalise_text(words) == words


# --- options ----------------------------------------------------------------------------------


def test_options_round_trip() -> None:
    options = NormaliserOptions(slang=False, lemmatise=True)
    assert options.to_dict()["slang"] is False
    assert NormaliserOptions.from_dict(options.to_dict()) == options
    assert list(options.to_dict()) == list(STEPS)


def test_missing_steps_take_defaults() -> None:
    assert NormaliserOptions.from_dict({}) == DEFAULT_OPTIONS


@pytest.mark.parametrize("data", [{"slangs": True}, {"slang": "yes"}])
def test_from_dict_rejects_bad_input(data: dict) -> None:
    with pytest.raises(ValueError, match="slang"):
        NormaliserOptions.from_dict(data)


@pytest.mark.parametrize("step", STEPS)
def test_without_switches_off_one_step(step: str) -> None:
    options = NormaliserOptions(spelling=True, lemmatise=True).without(step)
    assert [name for name, on in options.to_dict().items() if not on] == [step]


def test_without_rejects_unknown_step() -> None:
    with pytest.raises(ValueError, match="unknown"):
        DEFAULT_OPTIONS.without("stemming")


def test_steps_and_version() -> None:
    assert STEPS[:3] == ("html", "urls", "mentions")
    assert set(STEPS) == set(DEFAULT_OPTIONS.to_dict())
    assert re.fullmatch(r"\d+\.\d+\.\d+", NORMALISER_VERSION)


# --- what VADER reads -------------------------------------------------------------------------


def test_vader_text_keeps_case_punctuation_and_emoticons() -> None:
    assert prepare_for_vader(UNITED) == "my flight is delayed AGAIN!! & no food :("


def test_vader_text_repairs_and_cleans() -> None:
    text = "donï¿½t\x00go\u200b @bob http://x.co I ❤️ it SOOOO much"
    assert prepare_for_vader(text) == "don't go I ❤ it SOO much"  # the canonical ❤


@given(st.one_of(any_unicode, tweet_like))
def test_vader_text_is_bounded_and_encodable(text: str) -> None:
    output = prepare_for_vader(text)
    assert len(output) <= MAX_OUTPUT_CHARS
    output.encode("utf-8")  # no lone surrogates left to break JSON or ONNX


def test_vader_scores_the_prepared_text() -> None:
    vader = pytest.importorskip("vaderSentiment.vaderSentiment")
    analyser = vader.SentimentIntensityAnalyzer()
    angry = analyser.polarity_scores(prepare_for_vader(UNITED))["compound"]
    calm = analyser.polarity_scores(prepare_for_vader(UNITED.lower().replace("!", "")))["compound"]
    assert angry < calm < 0


def test_vader_text_is_stable() -> None:
    for text in (UNITED, SO_GOOD, "I ❤️ it 👍🏽 D: :(((( &amp;amp;lt;3", "canÃ¢â‚¬â„¢t"):
        once = prepare_for_vader(text)
        assert prepare_for_vader(once) == once


# --- repair: entities and layered mojibake, until nothing changes -----------------------------


@pytest.mark.parametrize(
    ("broken", "clean"),
    [
        ("canÃ¢â‚¬â„¢t believe it", "can’t believe it"),  # UTF-8 read as cp1252, twice
        ("canâ€™t believe it", "can’t believe it"),  # once
        ("&amp;amp;amp;lt;3", "<3"),  # escaped three times
        ("&amp;lt;3 cafÃ©", "<3 café"),
        ("Fish &amp;amp; chips", "Fish & chips"),
    ],
)
def test_repaired_text_normalises_like_the_clean_text(broken: str, clean: str) -> None:
    assert repair_text(broken) == clean
    assert normalise_text(broken) == normalise_text(clean)
    assert prepare_for_vader(broken) == prepare_for_vader(clean)


def test_issue_examples_of_repair() -> None:
    assert normalise_text("canÃ¢â‚¬â„¢t believe it") == "can not believe it"
    assert normalise_text("&amp;amp;amp;lt;3") == normalise_text("<3") == "<emo_pos>"


def test_repair_is_bounded() -> None:
    deep = "&" + "amp;" * (MAX_REPAIR_ROUNDS + 3) + "lt;3"
    assert repair_text(deep).startswith("&")  # it stops, it does not loop
    assert normalise_text(deep) == normalise_text(normalise_text(deep))


@given(st.one_of(st.text(), any_unicode, tweet_like))
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_normalising_and_preparing_twice_change_nothing(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once
    prepared = prepare_for_vader(text)
    assert prepare_for_vader(prepared) == prepared


# --- language: English-only steps on English text only ----------------------------------------

SPANISH = "¡Excelente vuelo! El personal fue muy amable y llegamos a tiempo"


def test_spanish_is_not_read_through_the_english_slang_table() -> None:
    words = normalise_text(SPANISH, language="es").split()
    assert "y" in words
    assert "why" not in words
    assert words == [
        "excelente",
        "vuelo",
        "el",
        "personal",
        "fue",
        "muy",
        "amable",
        "y",
        "llegamos",
        "a",
        "tiempo",
    ]


@pytest.mark.parametrize("language", ["en", "en-GB", "EN", "und", None])
def test_english_and_unknown_text_keeps_the_english_steps(language: str | None) -> None:
    assert normalise_text("u r gr8, can't wait", language=language) == (
        "you are great can not wait"
    )


@pytest.mark.parametrize("language", ["es", "fr", "fr-CA", "ar", "pt"])
def test_other_languages_skip_slang_and_contractions(language: str) -> None:
    assert normalise_text("u r gr8, can't wait :(", language=language) == (
        "u r gr8 cant wait <emo_neg>"
    )
    assert is_english(language) is False


def test_default_language_is_english() -> None:
    assert normalise_text(SPANISH) == normalise_text(SPANISH, language="en")
    assert "why" in normalise_text(SPANISH).split()  # training data is English; say otherwise


def test_batch_passes_the_language_through() -> None:
    assert normalise_texts([SPANISH], language="es") == [normalise_text(SPANISH, language="es")]
