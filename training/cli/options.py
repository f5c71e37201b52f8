"""What the `bad-buzz` commands share: defaults, option types, the user-error type and helpers.

The option types are `Annotated` aliases so that every command spells an option the same way
(same flag, same help text); the helpers are the few steps more than one command takes.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shared.settings import Settings

MANUAL_TEST_PREFIX = "testdata.manual"
DEFAULT_WORK_DIR = Path(".local/work")
DEFAULT_BUNDLE_ROOT = Path(".local/bundles")

WorkDir = Annotated[Path, typer.Option(help="Folder for prepared data, models and plots.")]
DataOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--data", help="Labelled CSV (Sentiment140 or polarity,text); repeat for more sources."
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Folder of Sentiment140 CSVs; testdata.manual* is the hand-labelled test set."
    ),
]
BundleArg = Annotated[
    Path | None, typer.Argument(help="Bundle folder (default: the newest exported).")
]
BundleRootOpt = Annotated[Path, typer.Option(help="Where exported bundles are.")]
ManualOpt = Annotated[
    Path | None, typer.Option(help="Sentiment140 hand-labelled test file (never trained on).")
]
SEMEVAL_HOLDOUT = "twitter-2015test-A.txt"  # = training.data.SEMEVAL_HOLDOUT (lazy imports)
BRAND_FILE = "Apple-Twitter-Sentiment-DFE.csv"


class Neutral(StrEnum):
    drop = "drop"
    positive = "positive"


# The corpus study (docs/ablation.md): SemEval's human labels weigh 3 emoticon labels, and its
# neutral tweets count as not-negative, which serves "negative or not" on real brand traffic.
SEMEVAL_WEIGHT = 3.0
NEUTRAL = Neutral.positive

SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="NAME=PATH[:WEIGHT]: a training source (CSV file, SemEval .txt file, or a folder "
        "of either) and its sample weight (default 1); repeatable; adds to --data/--data-dir.",
    ),
]
SemevalDirOpt = Annotated[
    Path | None,
    typer.Option(
        help="Folder of SemEval twitter-*-A.txt files to train on (source `semeval`). "
        "Default: ../semeval beside --data-dir when it exists (see --auto-sources)."
    ),
]
SemevalWeightOpt = Annotated[float, typer.Option(help="Sample weight of SemEval tweets (> 0).")]
NeutralOpt = Annotated[
    Neutral,
    typer.Option(help="SemEval neutral tweets: drop them, or keep them as not-negative."),
]
HoldoutOpt = Annotated[
    str,
    typer.Option(
        help="SemEval file held out as a frozen evaluation set (never trained on).",
    ),
]
BrandOpt = Annotated[
    Path | None,
    typer.Option(
        help="Brand CSV (domain tweets) evaluated as a frozen set, never trained on. "
        f"Default: ../domain/{BRAND_FILE} beside --data-dir when it exists.",
    ),
]
AutoOpt = Annotated[
    bool,
    typer.Option(
        "--auto-sources/--no-auto-sources",
        help="With --data-dir, also use ../semeval (training) and ../domain (frozen brand set) "
        "beside it when they exist; each is named on stderr.",
    ),
]


class UserError(Exception):
    """Bad input or a missing prerequisite: printed as one line, exit code 2."""


def job_config(work_dir: Path, **overrides: object):
    from training.pipeline import JobConfig
    from training.train import TrainConfig

    train_config = TrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    return JobConfig(work_dir=work_dir, train=train_config)


def start_tracking(settings: Settings) -> None:
    import logging

    from training.tracking import configure_tracking

    # A fresh tracking store logs its table creation on stderr: not news for a CLI user.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    configure_tracking(settings.MLFLOW_TRACKING_URI)


def latest_bundle(bundle_root: Path) -> Path:
    bundles = sorted(p for p in bundle_root.glob("*/manifest.json"))
    if not bundles:
        raise UserError(f"no bundle in {bundle_root}; run `bad-buzz export` first")
    return bundles[-1].parent


def one_line(exc: BaseException) -> str:
    """The first line of an error, or for a settings error every bad setting and its rule
    ("FEEDBACK_MAX_PER_HOUR: Input should be a valid integer"): pydantic's own first line only
    says "1 validation error for Settings"."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        rules = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors()]
        return f"invalid {exc.title}: " + "; ".join(rules)[:300]
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__
