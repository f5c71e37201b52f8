"""Emoticons and emoji with a clear sentiment, as regular-expression pieces and character sets.

Each emoticon is (guard, first, rest): `first` is a character class for its first character,
`rest` the pattern for the others, and `guard` a class the character *before* the emoticon must
not belong to (or None). The split lets `shared.normalise` build one regex that starts with a
single character class, which Python's `re` scans for in C instead of trying every alternative at
every position (50 µs → a few µs per tweet). The guards and lookaheads come from false positives
seen in tweets: times ("10:30"), "re:Post", "(see above):", "AND:" and, with URLs kept, "http://".
Emoji are characters. These lists are the reviewed part of the emoji polarity table
(shared/lexicons/emoji_sources.py derives the rest from the emoji names).
"""

from __future__ import annotations

_WORD_END = r"(?=[\s.,!?]|$)"  # reversed emoticons such as "):" only count as whole words

Emoticon = tuple[str | None, str, str]

POSITIVE_EMOTICONS: tuple[Emoticon, ...] = (
    (r"\d", "[:=;]", r"[-'^o]?(?:[)\]}*]+|[DPp3]+(?![A-Za-z0-9]))"),  # :) :] :* :D ;P =3 :-)))
    (r"\S", r"\(", r"-?:" + _WORD_END),  # (: (-:
    ("[A-Za-z0-9]", "[xX]", r"D+(?![A-Za-z0-9])"),  # xD XD xDD
    ("<", "<", r"3+(?!\d)"),  # <3 <33, not "<30 min"
    (None, r"\^", r"[-_.]?\^"),  # ^^ ^_^
    (None, r"\\", "o/"),  # \o/
)

NEGATIVE_EMOTICONS: tuple[Emoticon, ...] = (
    (r"[A-Za-z0-9>]", ">", r"[:=;][-'^o]?[(\[{|@]+"),  # >:( >:-( >:[ angry, whole
    (r"\d", "[:=;]", r"[-'^o]?(?:[(\[{|@]+|[Ss](?![A-Za-z0-9]))"),  # :( :'( :[ :| :@ :S
    ("[A-Za-z0-9]", "[:=]", r"-?[/\\](?![/\\A-Za-z0-9])"),  # :/ :\ =/, never "http://"
    (r"\S", r"\)", r"-?:" + _WORD_END),  # ): )-:
    ("[A-Za-z0-9]", "D", r"[:=]" + _WORD_END),  # D: D=
    (None, "<", r"/3+(?!\d)"),  # </3
    ("[A-Za-z0-9_]", "T", r"[_.]T(?![A-Za-z0-9_])"),  # T_T
    ("[A-Za-z0-9_]", ";", r"_;(?![A-Za-z0-9_])"),  # ;_;
    ("[A-Za-z0-9_]", r"\-", r"_-(?![A-Za-z0-9_])"),  # -_-
    ("[A-Za-z0-9_]", ">", r"[_.]<(?![A-Za-z0-9_])"),  # >_<
)

POSITIVE_EMOJI = (
    "😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚☺🙂🤗🤩😇🥳😛😜😝🤪😌😻😸😹😺😽"
    "💋❤♥💕💖💗💘💙💚💛💜🧡🤍💓💞💝💟❣"
    "👍👌👏🙌💪✌🤞🤟🤙🙏🎉🎊🥂🍾✨🌟⭐💯🏆🥇✅✔☀🌞🌈🌹🌸💐🎁🎈🔥"
)

NEGATIVE_EMOJI = (
    "😞😟😠😡🤬😢😭😤😥😦😧😨😩😪😫😰😱😒😓😔😕🙁☹😖😣😵🥺🥵🥶🤮🤢🤒🤕😷😿😾🙄😬😑😐😶"
    "💔👎🖕👿💩❌⛔🚫🤦"
)

# Objects and symbols whose names hold a word VADER scores but that the emoji does not mean:
# "alarm clock", "bus stop", "game die", "cancer", "cut of meat", "free", "cool", "top".
# Flags (regional indicator pairs, tag sequences) are neutral by rule in emoji_sources.
NEUTRAL_EMOJI = (
    "⏰🚏🎲♋🥩🪓🖍🖋🖊🖌💳🧷🦺🪛📏🎩🥟🍠🤿🔡🃏🎴♦💠🔷🔶🔹🔸🫀⛑▶⏯⏹🔈↙↘"
    "🈵🈶🉑🉐㊗🈚🆓🆒🆗🔝💤📪📭🚒🧯⚱🪤🪹🩸🚳🚯🚷🚭📵🔞🛐🏩🕹🗽🪭🪎🎖🥸🤓💫🪫🫯🫪"
)

REGIONAL_INDICATORS = "\U0001f1e6-\U0001f1ff"  # two of them make one flag

# Blocks that hold emoji (and some neutral symbols, which is harmless): misc technical, misc
# symbols, dingbats, arrows/stars, and the supplementary pictographic planes.
EMOJI_RANGES = "\u2300-\u23ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"

# What may follow an emoji and belongs to it: variation selectors, skin tones, keycap, tag
# characters (🏴 + tags = England), and a zero-width joiner with the next emoji ("👨‍👩‍👧" is one
# family, not three people).
EMOJI_TAIL = "(?:[\ufe0e\ufe0f\u20e3\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]|\u200d[^\\s])*"
