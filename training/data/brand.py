"""A brand's own tweets (CrowdFlower "Apple Twitter sentiment", ../shared/data/domain/) in, the
common columns out. Evaluation and the feedback loop only: never part of the base corpus.

Format: CSV with a header, latin-1, 12 columns, `text` and `sentiment` (1 negative, 3 neutral,
5 positive, 0 not about the company); quoted fields may hold newlines (`sentiment_gold` often).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from training.data.common import DataError, NeutralPolicy, label_mapping, neutral_counts
from training.data.loading import check_file, read_csv, repair_mojibake

BRAND_COLUMNS = 12
BRAND_SENTIMENT = {"1": "negative", "3": "neutral", "5": "positive", "0": "not_relevant"}
NOT_RELEVANT_ATTR = "not_relevant_dropped"


def brand_labels(sentiment: pd.Series, neutral: NeutralPolicy, path: Path) -> pd.Series:
    """1 → 1 (negative), 5 → 0, 3 → 0 or NA (as `neutral` says), 0 → NA; anything else fails."""
    mapping = label_mapping("1", "5", "3", neutral)
    codes = sentiment.str.strip()
    unknown = sorted(set(codes) - set(BRAND_SENTIMENT))
    if unknown:
        raise DataError(f"{path}: unknown sentiment codes {unknown[:5]}; expected 0/1/3/5")
    return codes.map(mapping)


def load_brand_csv(path: Path, neutral: NeutralPolicy = "drop") -> pd.DataFrame:
    """The brand CSV as (text, label, user, source): label 1 = negative, 0 = positive (or neutral
    with neutral="positive"); sentiment 0 (not relevant) is always dropped. attrs count the
    neutral rows dropped or kept and the not-relevant rows dropped. Rows are kept as published
    (retweets included): callers de-duplicate if they need to."""
    check_file(path)
    raw = read_csv(path, header=True, encoding="latin-1")
    raw.columns = [str(name).strip() for name in raw.columns]
    if raw.shape[1] != BRAND_COLUMNS or not {"text", "sentiment"} <= set(raw.columns):
        raise DataError(
            f"{path}: expected the {BRAND_COLUMNS}-column brand CSV with `text` and `sentiment`; "
            f"found {raw.shape[1]} columns ({','.join(raw.columns[:6])}...)"
        )
    labels = brand_labels(raw["sentiment"], neutral, path)
    keep = (labels.notna() & (raw["text"].str.strip().str.len() > 0)).to_numpy()
    codes = raw["sentiment"].str.strip()
    frame = pd.DataFrame(
        {
            "text": repair_mojibake(raw["text"][keep].reset_index(drop=True)).astype(str),
            "label": labels[keep].to_numpy(dtype=np.int8),
            "user": "",
            "source": path.name,
        }
    )
    neutral_rows = int((codes == "3").sum())
    frame.attrs.update(
        {
            **neutral_counts(neutral_rows, neutral),
            NOT_RELEVANT_ATTR: int((codes == "0").sum()),
        }
    )
    if frame.empty:
        raise DataError(f"{path}: no labelled rows")
    return frame
