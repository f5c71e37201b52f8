"""English contractions → full forms, for tokens with and without their apostrophe.

Values are plain lowercase words that are neither contractions nor slang keys, so expanding is
idempotent. Apostrophe-less keys leave out real words that a dropped apostrophe would collide
with ("ill", "id", "its", "well", "were", "wed", "shell", "hell", "lets").
"""

from __future__ import annotations

# Whole tokens that the suffix rules below would get wrong.
IRREGULAR: dict[str, str] = {
    "can't": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "y'all": "you all",
    "c'mon": "come on",
    "let's": "let us",
    "ma'am": "madam",
}

# Suffix → words that replace it; the stem before the apostrophe is kept ("could've" → "could
# have"). "'d" is more often "would" than "had" and "'s" more often "is" than "has" in tweets.
SUFFIXES: tuple[tuple[str, str], ...] = (
    ("n't", "not"),
    ("'re", "are"),
    ("'ve", "have"),
    ("'ll", "will"),
    ("'m", "am"),
    ("'d", "would"),
    ("'s", "is"),
)

# "'s" means "is" only after these; elsewhere it is a possessive and is dropped ("john's" → "john").
IS_STEMS: frozenset[str] = frozenset(
    {"it", "he", "she", "that", "what", "where", "who", "there", "here", "how", "when", "why"}
)

WITHOUT_APOSTROPHE: dict[str, str] = {
    "cannot": "can not",
    "cant": "can not",
    "wont": "will not",
    "dont": "do not",
    "dnt": "do not",
    "doesnt": "does not",
    "didnt": "did not",
    "isnt": "is not",
    "wasnt": "was not",
    "arent": "are not",
    "werent": "were not",
    "havent": "have not",
    "hasnt": "has not",
    "hadnt": "had not",
    "couldnt": "could not",
    "shouldnt": "should not",
    "wouldnt": "would not",
    "mustnt": "must not",
    "neednt": "need not",
    "aint": "is not",
    "im": "i am",
    "ive": "i have",
    "youre": "you are",
    "youve": "you have",
    "youll": "you will",
    "youd": "you would",
    "theyre": "they are",
    "theyve": "they have",
    "theyll": "they will",
    "weve": "we have",
    "hes": "he is",
    "shes": "she is",
    "thats": "that is",
    "whats": "what is",
    "wheres": "where is",
    "whos": "who is",
    "hows": "how is",
    "theres": "there is",
    "heres": "here is",
    "couldve": "could have",
    "shouldve": "should have",
    "wouldve": "would have",
    "mightve": "might have",
    "yall": "you all",
    "cmon": "come on",
}
