"""`bad-buzz`: the one entry point of the training job, the model store and the local server.

Every command fails on bad input with one line on stderr and a non-zero exit, never a traceback:
`main()` maps the project's error types to that line.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shared.settings import Settings, get_settings

app = typer.Typer(
    help="Bad buzz: train, export, publish and serve the airline tweet-sentiment model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

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


@app.command()
def prepare(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    source: SourceOpt = None,
    semeval_dir: SemevalDirOpt = None,
    semeval_weight: SemevalWeightOpt = SEMEVAL_WEIGHT,
    neutral: NeutralOpt = NEUTRAL,
    semeval_holdout: HoldoutOpt = SEMEVAL_HOLDOUT,
    brand_csv: BrandOpt = None,
    auto_sources: AutoOpt = True,
) -> None:
    """Load every source, set the frozen evaluation sets aside, select, split, report."""
    from training.pipeline import prepare_data

    sources, frozen = resolve_plan(
        data,
        data_dir,
        manual_test,
        sources=source,
        semeval_dir=semeval_dir,
        semeval_weight=semeval_weight,
        neutral=neutral,
        semeval_holdout=semeval_holdout,
        brand_csv=brand_csv,
        auto=auto_sources,
    )
    report = prepare_data(sources, None, job_config(work_dir), frozen=frozen)
    summary = {
        "steps": report.get("steps"),
        "per_source": report.get("per_source"),
        "frozen_sets": report.get("frozen_sets"),
        "fingerprint": report.get("fingerprint"),
    }
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command("train")
def train_command(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    precision_floor: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Negative precision the threshold must keep."),
    ] = None,
    airline_weight: Annotated[
        float | None, typer.Option(min=0.0, help="Sample weight of airline tweets.")
    ] = None,
) -> None:
    """Train every candidate (one MLflow run each) and keep the best exportable one."""
    from training.pipeline import train_candidates

    start_tracking(get_settings())
    summary = train_candidates(
        job_config(work_dir, precision_floor=precision_floor, airline_weight=airline_weight)
    )
    print_candidates(summary)


def print_candidates(summary: dict) -> None:
    nan = float("nan")
    for kind, entry in summary["candidates"].items():
        m = entry["metrics"]
        typer.echo(
            f"{kind:16} test acc {m['test']['accuracy']:.3f}  "
            f"neg recall {m['test']['recall_neg']:.3f}  "
            f"manual acc {m.get('manual_test', {}).get('accuracy', nan):.3f}  "
            f"semeval AUC {m.get('semeval_test', {}).get('roc_auc', nan):.3f}  "
            f"brand AUC {m.get('brand', {}).get('roc_auc', nan):.3f}  "
            f"threshold {entry['threshold']:.3f}"
        )
    typer.echo(f"chosen: {summary['chosen']}")


@app.command()
def export(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    bundle_root: Annotated[
        Path, typer.Option(help="Where versioned bundles are written.")
    ] = DEFAULT_BUNDLE_ROOT,
    as_default: Annotated[
        bool, typer.Option(help="Also replace the repo's shipped default bundle.")
    ] = False,
) -> None:
    """Convert the chosen pipeline to ONNX (parity-gated) and write a versioned bundle."""
    from training.pipeline import export_chosen

    settings = get_settings()
    start_tracking(settings)
    bundle_dir, manifest = export_chosen(job_config(work_dir), bundle_root)
    if as_default:
        copy_bundle(bundle_dir, settings.DEFAULT_BUNDLE_PATH)
    typer.echo(f"bundle {manifest.version} → {bundle_dir}")


def copy_bundle(source: Path, dest: Path) -> None:
    import shutil

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)


def latest_bundle(bundle_root: Path) -> Path:
    bundles = sorted(p for p in bundle_root.glob("*/manifest.json"))
    if not bundles:
        raise UserError(f"no bundle in {bundle_root}; run `bad-buzz export` first")
    return bundles[-1].parent


@app.command()
def publish(
    bundle: BundleArg = None,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    champion: Annotated[bool, typer.Option(help="Make it the champion that serving loads.")] = True,
) -> None:
    """Check a bundle serves, upload it to the model store and make it the champion.

    Checks the sha256 of every file and that onnxruntime loads and scores it; works over a
    corrupt champion.json (replaced, with a note)."""
    from shared.model_store import open_model_store

    settings = get_settings()
    store = open_model_store(settings)
    manifest = store.publish(bundle or latest_bundle(bundle_root), make_champion=champion)
    typer.echo(f"published {manifest.version}{' as champion' if champion else ''}")
    if champion:
        echo_pointer_note(store)
        move_registry_alias(settings, manifest)


def echo_pointer_note(store) -> None:
    """Say so when the last pointer move replaced a corrupt champion.json or skipped versions."""
    pointer = store.read_champion()
    if pointer is not None and pointer.history and pointer.history[0].note:
        typer.echo(f"note: {pointer.history[0].note}", err=True)


def move_registry_alias(settings: Settings, manifest) -> None:
    """Best effort: serving follows the store's pointer; the MLflow alias only mirrors it. A
    bundle registered in another tracking store (models/default, a CI runner's) is a warning."""
    if manifest is None or not manifest.registered_version:
        return
    from mlflow.exceptions import MlflowException

    from training.tracking import set_champion_alias

    try:
        start_tracking(settings)
        set_champion_alias(manifest.registered_version)
    except MlflowException as exc:
        typer.echo(
            f"warning: MLflow alias 'champion' not moved to {manifest.registered_model} "
            f"v{manifest.registered_version} ({one_line(exc)[:160]}); the store's champion is set",
            err=True,
        )


@app.command()
def evaluate(
    bundle: BundleArg = None,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
) -> None:
    """Evaluate a bundle through the serving code path (onnxruntime) on the prepared test sets."""
    from training.experiments import evaluate_bundle

    results = evaluate_bundle(bundle or latest_bundle(bundle_root), work_dir)
    typer.echo(json.dumps(results, indent=2))


@app.command()
def run(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    source: SourceOpt = None,
    semeval_dir: SemevalDirOpt = None,
    semeval_weight: SemevalWeightOpt = SEMEVAL_WEIGHT,
    neutral: NeutralOpt = NEUTRAL,
    semeval_holdout: HoldoutOpt = SEMEVAL_HOLDOUT,
    brand_csv: BrandOpt = None,
    auto_sources: AutoOpt = True,
    bundle_root: BundleRootOpt = DEFAULT_BUNDLE_ROOT,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the local server.")] = 7071,
    as_default: Annotated[
        bool, typer.Option(help="Also replace the repo's shipped default bundle.")
    ] = False,
    report: Annotated[
        Path | None, typer.Option(help="Where the JSON report goes [WORK_DIR/run_report.json].")
    ] = None,
) -> None:
    """The whole job: prepare → train → export → publish, then serve in a fresh process.

    Every step's output goes to a JSON report (--report); the terminal gets a short summary.
    Serving replaces the training process (exec), so its memory is given back."""
    from shared.bundle import read_manifest
    from training import local_run

    if serve_after:
        local_run.check_port_free("127.0.0.1", port)  # fail now, not after minutes of training
    outputs: dict[str, object] = {}
    with local_run.captured_stdout(outputs, "prepare"):
        prepare(
            data,
            data_dir,
            manual_test,
            work_dir,
            source,
            semeval_dir,
            semeval_weight,
            neutral,
            semeval_holdout,
            brand_csv,
            auto_sources,
        )
    with local_run.captured_stdout(outputs, "train"):
        train_command(work_dir)
    with local_run.captured_stdout(outputs, "export"):
        export(work_dir, bundle_root, as_default)
    with local_run.captured_stdout(outputs, "publish"):
        publish(None, bundle_root, True)
    manifest = read_manifest(latest_bundle(bundle_root))
    path = local_run.write_report(report or work_dir / local_run.REPORT_FILE, outputs, manifest)
    for line in local_run.summary_lines(manifest, open_store_name(), path):
        typer.echo(line)
    if serve_after:
        typer.echo(f"serving on http://127.0.0.1:{port} in a fresh process (Ctrl-C stops it)")
        local_run.exec_serve("127.0.0.1", port)


def open_store_name() -> str:
    from shared.model_store import open_model_store

    return open_model_store(get_settings()).describe()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port (7071 is the Functions default).")
    ] = 7071,
) -> None:
    """Serve the Function App's HTTP API locally under uvicorn, with the embedded defaults."""
    from training.local_run import check_port_free

    check_port_free(host, port)  # one line suggesting --port, not uvicorn's raw [Errno 98]
    from shared.api.serve import serve as run_server

    run_server(host=host, port=port)


@app.command()
def ablation(
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    out: Annotated[Path, typer.Option(help="Markdown table of the results.")] = Path(
        ".local/ablation.md"
    ),
) -> None:
    """One MLflow run per normalisation step switched off: accuracy earned, latency cost."""
    from training.experiments import run_ablation

    start_tracking(get_settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(run_ablation(work_dir), encoding="utf-8")
    typer.echo(out.read_text(encoding="utf-8"))


@app.command("corpus-study")
def corpus_study(
    data_dir: DataDirOpt = None,
    source: SourceOpt = None,
    semeval_dir: SemevalDirOpt = None,
    brand_csv: BrandOpt = None,
    work_dir: Annotated[Path, typer.Option(help="Scratch folder for the variants.")] = Path(
        ".local/corpus-study"
    ),
    weights: Annotated[
        str, typer.Option(help="SemEval weights to try, comma-separated.")
    ] = "1,2,4",
    out: Annotated[Path, typer.Option(help="Markdown table of the results.")] = Path(
        ".local/corpus-study.md"
    ),
) -> None:
    """Corpus variants (without SemEval; SemEval neutral dropped or kept as not-negative, at
    several weights), each scored on every frozen set (docs/ablation.md)."""
    from training.experiments import run_corpus_study

    try:
        weight_values = tuple(float(w) for w in weights.split(","))
    except ValueError as exc:
        raise UserError(f"--weights {weights!r}: expected numbers like 1,2,4") from exc
    sources, frozen = resolve_plan(
        None, data_dir, None, sources=source, semeval_dir=semeval_dir, brand_csv=brand_csv
    )
    start_tracking(get_settings())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(run_corpus_study(sources, frozen, work_dir, weight_values), encoding="utf-8")
    typer.echo(out.read_text(encoding="utf-8"))


@app.command("compare-airline")
def compare_airline(work_dir: WorkDir = DEFAULT_WORK_DIR) -> None:
    """Whole corpus vs airline subset only, both scored on the airline slice of the test split."""
    from training.experiments import run_airline_comparison

    start_tracking(get_settings())
    typer.echo(json.dumps(run_airline_comparison(work_dir), indent=2))


@app.command()
def harvest() -> None:
    """Collect corrections and confirmations into the feedback store now (the weekly timer's job).

    Prints what it did (new records, duplicates, late-window re-reads, unconsumed count, whether
    this run claimed a retrain request). A failure is one line, exit 2; a rerun continues safely.
    """
    from shared.feedback.harvest import run_harvest
    from shared.feedback.records import HarvestError

    try:
        result = run_harvest(get_settings())
    except HarvestError as exc:
        raise UserError(f"harvest failed: {exc}") from exc
    typer.echo(json.dumps(result.summary(), indent=2, sort_keys=True, default=str))


@app.command()
def retrain(
    data: DataOpt = None,
    data_dir: DataDirOpt = None,
    manual_test: ManualOpt = None,
    work_dir: WorkDir = DEFAULT_WORK_DIR,
    bundle_root: Annotated[
        Path, typer.Option(help="Where the challenger bundle is written.")
    ] = DEFAULT_BUNDLE_ROOT,
    margin: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Accuracy/recall a challenger may lose on a frozen set (0.02 = 2 points).",
        ),
    ] = 0.02,
    confidence: Annotated[
        float, typer.Option(min=0.5, max=0.999, help="One-sided confidence of the gate's bounds.")
    ] = 0.95,
    holdout_share: Annotated[
        float,
        typer.Option(
            min=0.05, max=0.9, help="Share of feedback texts held out to judge the challenger."
        ),
    ] = 0.2,
    max_age_days: Annotated[
        float, typer.Option(min=0.0, help="Use feedback flagged within this many days (0: all).")
    ] = 90.0,
    feedback_weights: Annotated[
        str, typer.Option(help="Feedback sample weights the cross-validation chooses from.")
    ] = "1,3,10,30",
    feedback_vocabulary: Annotated[
        bool, typer.Option(help="Add the feedback's own n-grams to the base vocabulary.")
    ] = True,
    exclude_frozen: Annotated[
        list[str] | None,
        typer.Option(help="Frozen set that is the loop's own domain (not a guard); repeatable."),
    ] = None,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Also write the full report (with ids) here.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Compare, but never promote.")] = False,
) -> None:
    """Base corpus + recent feedback → challenger; promote it only on evidence (docs/gate.md):
    not worse than a margin on the frozen sets, better on held-out feedback."""
    from shared.feedback.state import mark_consumed, read_feedback
    from shared.model_store import ChampionChanged, open_model_store
    from shared.storage import open_object_store
    from training.pipeline import prepare_data
    from training.retrain import retrain as run_retrain

    settings = get_settings()
    start_tracking(settings)
    if data or data_dir or not (work_dir / "data" / "train.parquet").is_file():
        sources, frozen = resolve_plan(data, data_dir, manual_test)
        prepare_data(sources, None, job_config(work_dir), frozen=frozen)
    config = retrain_config(
        margin, confidence, holdout_share, max_age_days, feedback_weights, feedback_vocabulary,
        exclude_frozen,
    )  # fmt: skip
    feedback_store = open_object_store(settings, settings.FEEDBACK_CONTAINER)
    records = read_feedback(feedback_store)
    store = open_model_store(settings)
    report, challenger_dir = run_retrain(store, records, work_dir, bundle_root, config)
    if report.promoted and challenger_dir is not None and not dry_run:
        try:  # only if the champion is still the one the gate compared with
            store.publish(challenger_dir, make_champion=True, expected_etag=report.champion_etag)
            mark_consumed(feedback_store, [r["prediction_id"] for r in records])
        except ChampionChanged as exc:
            report.promoted = False
            report.reasons.append(f"not promoted: {exc}")
    if report_path is not None:
        report_path.write_text(json.dumps(report.__dict__, indent=2, default=str), encoding="utf-8")
    summary = {**report.summary(), "promoted": report.promoted and not dry_run}
    typer.echo(json.dumps(summary, indent=2, default=str))


def retrain_config(
    margin: float,
    confidence: float,
    holdout_share: float,
    max_age_days: float,
    feedback_weights: str,
    feedback_vocabulary: bool,
    exclude_frozen: list[str] | None,
):
    """The retrain's options as its config; a malformed weight list is a user error."""
    from training.domain_fit import DomainFitConfig
    from training.gate import GatePolicy
    from training.retrain import RetrainConfig

    try:
        weights = tuple(float(w) for w in feedback_weights.split(",") if w.strip())
    except ValueError as exc:
        raise UserError(
            f"--feedback-weights {feedback_weights!r}: expected numbers, e.g. 1,3,10"
        ) from exc
    if not weights or any(w <= 0 for w in weights):
        raise UserError("--feedback-weights needs at least one positive weight")
    return RetrainConfig(
        holdout_share=holdout_share,
        max_age_days=max_age_days or None,
        exclude_frozen=tuple(exclude_frozen or ()),
        policy=GatePolicy(margin=margin, confidence=confidence),
        fit=DomainFitConfig(weights=weights, feedback_vocabulary=feedback_vocabulary),
    )


VersionOpt = Annotated[
    str | None,
    typer.Option(
        "--to",
        help="Stored version to make champion (e.g. the one rolled back from); "
        "works when champion.json is corrupt.",
    ),
]


@app.command()
def rollback(to: VersionOpt = None) -> None:
    """Make the previous champion (or --to VERSION) the champion again, once it verifies.

    Serving follows without a redeploy; the version rolled back from stays in the store and in
    the pointer's history."""
    from shared.model_store import open_model_store

    settings = get_settings()
    store = open_model_store(settings)
    pointer = store.rollback(to=to)
    typer.echo(f"champion is now {pointer.version}")
    echo_pointer_note(store)
    move_registry_alias(settings, store.read_manifest(pointer.version))


@app.command()
def repair(to: VersionOpt = None) -> None:
    """Rebuild a corrupt, lost or unservable champion.json from the stored bundles.

    The newest stored version that verifies becomes champion (or --to VERSION)."""
    from shared.model_store import open_model_store

    settings = get_settings()
    store = open_model_store(settings)
    result = store.repair(to=to)
    for version, reason in result.skipped.items():
        typer.echo(f"skipped {version}: {reason}", err=True)
    if not result.changed:
        typer.echo(f"champion.json is fine: champion {result.pointer.version} serves")
        return
    typer.echo(f"champion.json repaired: champion is now {result.pointer.version}")
    move_registry_alias(settings, store.read_manifest(result.pointer.version))


def error_types() -> tuple[type[BaseException], ...]:
    """The project's own errors (and missing files): their message is meant for the user."""
    from pydantic import ValidationError

    from shared.bundle import BundleError
    from training.data import DataError
    from training.export import ExportError
    from training.local_run import ServeError

    types: list[type[BaseException]] = [
        UserError,
        BundleError,
        DataError,
        ExportError,
        ServeError,
        ValidationError,
        FileNotFoundError,
        PermissionError,
    ]
    try:
        from shared.storage import StorageError

        types.append(StorageError)
    except ImportError:  # pragma: no cover - store module always ships
        pass
    return tuple(types)


def usage_error_types() -> tuple[type[Exception], ...]:
    """Click's usage errors. Recent typer vendors click (typer._click), whose errors derive from
    typer.TyperException and not from click's ClickException: both are listed."""
    import click

    vendored = getattr(typer, "TyperException", None)
    return (click.exceptions.ClickException, *([vendored] if vendored else []))


DEBUG_ENV = "BAD_BUZZ_DEBUG"
DEBUG = {"value": False}


@app.callback()
def global_options(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar=DEBUG_ENV, help="Print the full traceback when a command fails."
        ),
    ] = False,
) -> None:
    DEBUG["value"] = debug


def one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def main() -> None:
    """Console entry point: every failure is one `error:` line, never a traceback (but --debug).

    Exit 2: the project's own errors (bad input, missing prerequisite, store refusals);
    exit 1: anything else that escaped a command (a third-party library's exception), named.
    """
    import os

    try:
        app(standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, usage_error_types()):
            exc.show()
            sys.exit(exc.exit_code)
        if DEBUG["value"] or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes"):
            import traceback

            traceback.print_exc()
        if isinstance(exc, error_types()):
            typer.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(2)
        typer.echo(
            f"error: {type(exc).__name__}: {one_line(exc)} "
            f"(unexpected; --debug or {DEBUG_ENV}=1 shows the traceback)",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
