"""A seeded synthetic tweet corpus: Sentiment140-shaped rows (polarity 0/4, text) from templates.

The same (n, seed, domain) always gives the same frame, row for row. The corpus carries a little
of every kind of dirt the selection steps remove (empty texts, non-English tweets, exact
duplicates, texts labelled both ways, more negatives than positives), and some tweets carry
mentions, URLs and emoticons for the normaliser. Author repeats need a user column, which the
plain `polarity,text` format has not, so that step finds nothing here.

`domain="airline"` swaps the topic nouns and phrases for airline ones (flight, gate, luggage,
delayed, crew, upgrade, ...) that the general domain never uses; the sentiment words are shared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shared.settings import Settings

NEGATIVE_POLARITY, POSITIVE_POLARITY = 0, 4
DOMAINS = ("general", "airline")
NEGATIVE_SHARE = 0.55  # a little imbalance, so that balancing has something to drop


@dataclass(frozen=True)
class Vocabulary:
    things: tuple[str, ...]
    negative_events: tuple[str, ...]  # "{thing} {event}"
    positive_events: tuple[str, ...]
    handles: tuple[str, ...]


GENERAL = Vocabulary(
    things=(
        "my phone", "the bus", "this weather", "my laptop", "the printer", "the wifi",
        "my homework", "the traffic", "monday", "the exam", "my car", "the coffee machine",
        "the rain", "my neighbours", "the game", "the concert", "the new album", "this movie",
        "my birthday", "the weekend", "the beach", "dinner", "my garden", "the pizza", "my dog",
        "the sunshine", "this book", "the party", "my job", "the gym",
    ),
    negative_events=(
        "broke down again", "crashed twice", "kept me up all night", "made me miss the bus",
        "spoiled the whole evening", "stopped working",
    ),
    positive_events=(
        "made me smile", "cheered me up", "went better than expected", "was worth the wait",
        "made the whole evening", "turned out so well",
    ),
    handles=("@jenny_k", "@mike88", "@sam_writes", "@lucy_loo", "@dan_the_man"),
)  # fmt: skip
AIRLINE = Vocabulary(
    things=(
        "my flight", "the gate agent", "my luggage", "the crew", "the boarding queue",
        "my upgrade", "the layover", "the cabin crew", "the pilot", "the lounge",
        "my connecting flight", "the check-in desk", "the baggage claim", "the legroom",
        "the inflight meal", "the runway wait", "the red-eye", "the aisle seat",
        "the departure gate", "the airport shuttle",
    ),
    negative_events=(
        "was delayed for hours", "got cancelled at the gate", "left my luggage behind",
        "was overbooked", "made me miss my connection", "kept us on the tarmac",
    ),
    positive_events=(
        "landed early", "got me upgraded", "boarded right on time", "made the flight a breeze",
        "took great care of my luggage", "had the crew smiling all the way",
    ),
    handles=("@skyway_air", "@flyhigh_help", "@jetset_support", "@airline_care"),
)  # fmt: skip
VOCABULARIES = {"general": GENERAL, "airline": AIRLINE}

NEGATIVE_TEMPLATES = (
    "{thing} is {negative} {when}",
    "i hate {thing}, {negative_tail}",
    "ugh, {thing} {negative_event}",
    "why is {thing} always so {negative}",
    "{thing} {negative_event}, {negative_tail}",
    "so {negative_feeling} about {thing} {when}",
)
POSITIVE_TEMPLATES = (
    "{thing} is {positive} {when}",
    "i love {thing}, {positive_tail}",
    "yay, {thing} {positive_event}",
    "how is {thing} always so {positive}",
    "{thing} {positive_event}, {positive_tail}",
    "so {positive_feeling} about {thing} {when}",
)
FILLERS = {
    "negative": ("awful", "terrible", "horrible", "bad", "annoying", "useless", "disappointing"),
    "positive": ("amazing", "wonderful", "great", "good", "lovely", "brilliant", "perfect"),
    "negative_tail": (
        "worst day ever", "so frustrated", "cannot take it anymore", "what a mess",
        "never again", "i want to cry",
    ),
    "positive_tail": (
        "best day ever", "so happy", "what a great time", "feeling good", "cannot wait for more",
        "thank you so much",
    ),
    "negative_feeling": ("sad", "angry", "upset", "tired", "frustrated", "miserable"),
    "positive_feeling": ("happy", "excited", "grateful", "glad", "thrilled", "pleased"),
    "when": ("today", "again", "this morning", "tonight", "right now", "this week"),
}  # fmt: skip
EMOTICONS = {NEGATIVE_POLARITY: (":(", ":'(", ">:("), POSITIVE_POLARITY: (":)", ":D", ";)")}
FOREIGN_TWEETS = (
    "je suis tellement fatigué aujourd'hui, rien ne marche comme prévu",
    "ich habe heute keine Lust auf die Arbeit, alles ist so langweilig",
    "que dia maravilhoso com os meus amigos na praia hoje",
    "questa mattina il treno era in ritardo di nuovo, che noia",
    "hoy es un día precioso para pasear por el parque con mi familia",
)


def make_tweet(rng: random.Random, polarity: int, vocabulary: Vocabulary) -> str:
    """One templated tweet, sometimes with a mention, a URL or an emoticon."""
    negative = polarity == NEGATIVE_POLARITY
    template = rng.choice(NEGATIVE_TEMPLATES if negative else POSITIVE_TEMPLATES)
    values = {name: rng.choice(options) for name, options in FILLERS.items()}
    values["thing"] = rng.choice(vocabulary.things)
    values["negative_event"] = rng.choice(vocabulary.negative_events)
    values["positive_event"] = rng.choice(vocabulary.positive_events)
    text = template.format(**values)
    if rng.random() < 0.15:
        text = f"{rng.choice(vocabulary.handles)} {text}"
    if rng.random() < 0.1:
        text = f"{text} http://bit.ly/{rng.randrange(16**5):05x}"
    if rng.random() < 0.15:
        text = f"{text} {rng.choice(EMOTICONS[polarity])}"
    return text


def make_corpus(n: int, seed: int = 0, domain: str = "general") -> pd.DataFrame:
    """`n` rows of (polarity, text); about 5 % of them are dirt for the selection steps."""
    if domain not in VOCABULARIES:
        raise ValueError(f"unknown domain {domain!r}; known: {DOMAINS}")
    rng = random.Random(f"{domain}-{seed}")
    vocabulary = VOCABULARIES[domain]
    empty, foreign, duplicates, conflicts = max(1, n // 200), n // 100, n // 50, n // 100
    clean = max(n - empty - foreign - duplicates - conflicts, 0)
    rows = []
    for index in range(clean):
        polarity = NEGATIVE_POLARITY if index < round(clean * NEGATIVE_SHARE) else POSITIVE_POLARITY
        rows.append((polarity, make_tweet(rng, polarity, vocabulary)))
    originals = list(rows)
    rows += [rng.choice(originals) for _ in range(duplicates)] if originals else []
    for polarity, text in (rng.choice(originals) for _ in range(conflicts if originals else 0)):
        rows.append((POSITIVE_POLARITY - polarity, text))
    rows += [(rng.choice(tuple(EMOTICONS)), rng.choice(FOREIGN_TWEETS)) for _ in range(foreign)]
    rows += [(NEGATIVE_POLARITY, rng.choice(("", "   "))) for _ in range(empty)]
    rows = rows[:n]
    rng.shuffle(rows)
    return pd.DataFrame(
        {"polarity": [row[0] for row in rows], "text": [row[1] for row in rows]}
    ).astype({"polarity": "int64", "text": "str"})


def write_corpus_csv(path: Path, frame: pd.DataFrame) -> Path:
    """A plain `polarity,text` CSV with a header, as `training.data.load_labelled_csv` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame[["polarity", "text"]].to_csv(path, index=False, encoding="utf-8")
    return path


def publish_base_model(settings: Settings, root: Path, manual: Path | None = None) -> str:
    """Train the champion on an 800-tweet general corpus that never talks about flights (one
    quick candidate), publish it to the settings' model store and return its version; `manual`
    is the frozen `manual_test` CSV, if any. Files go under `root` (base.csv, work/, bundles/)."""
    from shared.model_store import open_model_store
    from training.pipeline import JobConfig, export_chosen, prepare_data, train_candidates
    from training.tracking import configure_tracking
    from training.train import TrainConfig

    configure_tracking(settings.MLFLOW_TRACKING_URI)
    write_corpus_csv(root / "base.csv", make_corpus(800, seed=1))
    config = JobConfig(work_dir=root / "work", train=TrainConfig(c_grid=(1.0,), cv_folds=2))
    prepare_data([root / "base.csv"], manual, config)
    train_candidates(config, kinds=("tfidf_lr_vader",))
    bundle_dir, manifest = export_chosen(config, root / "bundles")
    open_model_store(settings).publish(bundle_dir)
    return manifest.version
