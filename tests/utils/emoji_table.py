"""One emoji/emoticon polarity table for the tests that need one: symbols people use to say one
thing only (an angry face is never praise), emoji written with the variation selector where
keyboards send one ("❤️", "☹️"). The ambiguous ones (😅, 😬, 🙃, 😏, :|) are left out of
this table on purpose.

Used by tests/model/tables.py (what the shipped model must get right) and, with further symbols
the normaliser and VADER must also score, by tests/code/test_emoji_emoticons.py.
"""

from __future__ import annotations

NEGATIVE_EMOJI = [
    "😡",  # pouting face
    "🤬",  # face with symbols on mouth
    "😤",
    "😠",
    "😞",
    "😢",
    "😭",
    "👎",
    "💔",
    "🙄",
    "😒",
    "😩",
    "😫",
    "😖",
    "😣",
    "😔",
    "😟",
    "😕",
    "🙁",
    "☹️",
    "😥",
    "😰",
    "😱",
    "🤮",
    "🤢",
    "🖕",
    "👿",
    "💩",
    "😪",
    "😓",
]
NEGATIVE_EMOTICONS = ["D:", ":(", ":'(", ">:(", ":-(", "):", "=(", ":/", "T_T", "</3"]
POSITIVE_EMOJI = [
    "😀",
    "😍",
    "🥰",
    "👍",
    "❤️",
    "🙏",
    "🎉",
    "😁",
    "😂",
    "🤣",
    "😃",
    "😄",
    "😊",
    "😎",
    "😘",
    "🤗",
    "🤩",
    "😇",
    "🥳",
    "💕",
    "💖",
    "💯",
    "🏆",
    "✨",
    "👏",
    "🙌",
    "💪",
    "🌟",
    "😻",
    "✅",
]
POSITIVE_EMOTICONS = [":)", ":D", "<3", ":-)", ";)", "=)", ":P", "(:", "xD", "^_^"]

NEGATIVE_SYMBOLS = NEGATIVE_EMOJI + NEGATIVE_EMOTICONS
POSITIVE_SYMBOLS = POSITIVE_EMOJI + POSITIVE_EMOTICONS
