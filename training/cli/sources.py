"""Which files one run trains and evaluates on, from the CLI's source options.

Shared by `prepare` (and so `run`), `corpus-study` and `retrain`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from training.cli.options import (
    BRAND_FILE,
    MANUAL_TEST_PREFIX,
    NEUTRAL,
    SEMEVAL_HOLDOUT,
    SEMEVAL_WEIGHT,
    Neutral,
    UserError,
)


def resolve_sources(
    data: list[Path] | None, data_dir: Path | None, manual_test: Path | None
) -> tuple[list[Path], Path | None]:
    """Explicit files, else a folder of CSVs, else the official archive (downloaded, cached)."""
    if data:
        return list(data), manual_test
    if data_dir is None:
        from training.download import download_sentiment140

        data_dir = download_sentiment140(Path(".local/cache"))
    if not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir} is not a folder")
    csvs = sorted(data_dir.glob("*.csv"))
    manual = manual_test or next((p for p in csvs if p.name.startswith(MANUAL_TEST_PREFIX)), None)
    sources = [p for p in csvs if not p.name.startswith(MANUAL_TEST_PREFIX)]
    if not sources:
        raise UserError(f"no training CSV in {data_dir}")
    return sources, manual


def sibling_sources(
    data_dir: Path | None, semeval_dir: Path | None, brand_csv: Path | None, auto: bool
) -> tuple[Path | None, Path | None, list[str]]:
    """The SemEval folder and brand CSV to use: explicit ones, else (auto) those beside the
    Sentiment140 folder, as laid out in ../shared/data; a note for each one picked up."""
    notes = []
    if auto and data_dir is not None:
        if semeval_dir is None and (data_dir.parent / "semeval").is_dir():
            semeval_dir = data_dir.parent / "semeval"
            notes.append(f"also training on {semeval_dir} (SemEval; --no-auto-sources to skip)")
        if brand_csv is None and (data_dir.parent / "domain" / BRAND_FILE).is_file():
            brand_csv = data_dir.parent / "domain" / BRAND_FILE
            notes.append(f"evaluating on {brand_csv} (brand set, never trained on)")
    return semeval_dir, brand_csv, notes


def resolve_plan(
    data: list[Path] | None,
    data_dir: Path | None,
    manual_test: Path | None,
    *,
    sources: list[str] | None = None,
    semeval_dir: Path | None = None,
    semeval_weight: float = SEMEVAL_WEIGHT,
    neutral: Neutral = NEUTRAL,
    semeval_holdout: str = SEMEVAL_HOLDOUT,
    brand_csv: Path | None = None,
    auto: bool = True,
):
    """Every training source and frozen evaluation file of one run, from the CLI options.
    Sentiment140 (--data/--data-dir, or the official download when no source at all is given),
    then SemEval, then each --source; the SemEval holdout file becomes a frozen set."""
    from training.data import FrozenFiles, Source, parse_source_spec, semeval_files

    if not semeval_weight > 0:
        raise UserError(f"--semeval-weight must be > 0, not {semeval_weight}")
    extra = [parse_source_spec(spec, neutral.value) for spec in sources or []]
    plan: list[Source] = []
    manual = manual_test
    if data or data_dir or not (extra or semeval_dir):
        files, manual = resolve_sources(data, data_dir, manual_test)
        name = "sentiment140" if data_dir or not data else None
        plan += [Source(name, tuple(files))] if name else [Source(p.name, (p,)) for p in files]
    semeval_dir, brand_csv, notes = sibling_sources(data_dir, semeval_dir, brand_csv, auto)
    for note in notes:
        typer.echo(f"✓ {note}", err=True)
    holdout = None
    if semeval_dir is not None:
        files = tuple(semeval_files(semeval_dir))
        plan.append(Source("semeval", files, semeval_weight, "semeval", neutral.value))
        holdout = semeval_dir / semeval_holdout
        if not holdout.is_file():
            raise UserError(f"--semeval-holdout {semeval_holdout}: not a file in {semeval_dir}")
    if brand_csv is not None and not brand_csv.is_file():
        raise UserError(f"--brand-csv {brand_csv}: no such file")
    return plan + extra, FrozenFiles(manual_test=manual, semeval_test=holdout, brand=brand_csv)
