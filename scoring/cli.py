"""`ticket-router train` and `evaluate`: models from the demo set, the shared data or a CSV."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from router.errors import RouterError

DATASET_CHOICES = ("demo", "gl-ticket-assignment", "gitbugs-hadoop", "incident-log")

CsvOption = Annotated[Path | None, typer.Option(
    "--csv", help="A .csv or .csv.gz export to train or evaluate on (column flags below).")]
TextColOption = Annotated[list[str] | None, typer.Option(
    "--text-col", help="Text column (repeatable; the first of several is the subject).")]
LabelColOption = Annotated[str | None, typer.Option("--label-col", help="Label column.")]
TimeColOption = Annotated[str | None, typer.Option(
    "--time-col", help="Creation time column: the split is then by time.")]
CatColOption = Annotated[list[str] | None, typer.Option(
    "--cat-col", help="Categorical column (repeatable).")]
NumColOption = Annotated[list[str] | None, typer.Option(
    "--num-col", help="Numeric column (repeatable); queue_depth, agents_available and "
    "oldest_wait_s are queue state.")]
TaskOption = Annotated[str | None, typer.Option(
    "--task", help="category, priority or sla_risk (default: inferred from the label: two "
    "values -> sla_risk, more -> category).")]
DataRootOption = Annotated[Path | None, typer.Option(
    "--data-root", help="Folder with the shared datasets (default ../shared/data).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON only.")]


def _csv_source(
    csv: Path,
    *, text_col: list[str] | None, label_col: str | None, time_col: str | None,
    cat_col: list[str] | None, num_col: list[str] | None, task: str | None,
) -> Any:
    from scoring.datasets import csv_dataset

    if not label_col:
        raise typer.BadParameter("--csv needs --label-col", param_hint="--label-col")
    return csv_dataset(
        csv, label_col=label_col, text_cols=text_col or [], time_col=time_col,
        cat_cols=cat_col or [], num_cols=num_col or [], task=task,
    )


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step on stderr (nothing when quiet)."""
    if quiet:
        yield lambda _message: None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=Console(stderr=True), transient=False,
    ) as progress:
        current: list[Any] = []

        def step(message: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(message, total=None))

        yield step
        if current:
            progress.update(current[-1], completed=1, total=1)


def _fail(error: RouterError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2) from error


def _clean_json(value: Any) -> Any:
    """NaN is not JSON: print null instead."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    summary = {"task": result["task"], "metrics": result["metrics"],
               "baselines": result.get("baselines", {}), "n_test": result["n_test"]}
    if "per_class" in result:
        summary["per_class"] = result["per_class"]
    return summary


def _print_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for result in results:
        keys = [k for k in result["metrics"] if k != "positive_rate"]
        table = Table(title=f"{result['task']} on {result['n_test']} held-out tickets")
        table.add_column("")
        for key in keys:
            table.add_column(key, justify="right")
        for name, metrics in {"model": result["metrics"], **result.get("baselines", {})}.items():
            table.add_row(name, *[
                "–" if metrics.get(k) is None or (isinstance(metrics.get(k), float)
                                                   and math.isnan(metrics[k]))
                else f"{metrics[k]:.3f}" for k in keys
            ])
        console.print(table)


def train(
    *,
    dataset: Annotated[str, typer.Option(
        help=f"Training data: one of {', '.join(DATASET_CHOICES)} (ignored with --csv).")] = "demo",
    csv: CsvOption = None,
    text_col: TextColOption = None,
    label_col: LabelColOption = None,
    time_col: TimeColOption = None,
    cat_col: CatColOption = None,
    num_col: NumColOption = None,
    task: TaskOption = None,
    data_root: DataRootOption = None,
    queue_state: Annotated[bool, typer.Option(
        help="incident-log: add the queue-state features rebuilt from the event log.")] = True,
    out: Annotated[Path, typer.Option(
        help="Folder for model artefacts; the model goes to OUT/<version>.")] = Path("models"),
    baselines: Annotated[bool, typer.Option(
        help="Also train the majority and linear baselines on the same split.")] = True,
    as_json: JsonOption = False,
) -> None:
    """Train scoring models, evaluate them on a held-out split and save a versioned artefact."""
    import time

    from scoring.datasets import DEFAULT_DATA_ROOT, demo_dataset, shared_dataset
    from scoring.evaluation import evaluate_task
    from scoring.training import save_artefact, train_scorer

    try:
        with _progress(as_json) as step:
            step("reading the data")
            if csv is not None:
                data = _csv_source(csv, text_col=text_col, label_col=label_col, time_col=time_col,
                                   cat_col=cat_col, num_col=num_col, task=task)
            elif dataset == "demo":
                data = demo_dataset()
            else:
                data = shared_dataset(dataset, data_root or DEFAULT_DATA_ROOT, queue_state)
            started = time.perf_counter()
            scorer, split = train_scorer(data, [task] if task else None, progress=step)
            train_seconds = time.perf_counter() - started
            results = []
            for name in scorer.tasks:
                step(f"{name}: evaluating" + (" with baselines" if baselines else ""))
                result = evaluate_task(scorer, name, split["data"], split["train"], split["test"],
                                       with_baselines=baselines)
                results.append(result)
                entry = scorer.metadata["models"][name]
                entry["metrics"] = result["metrics"]
                entry["baselines"] = result.get("baselines", {})
            scorer.metadata["train_seconds"] = round(train_seconds, 2)
            step("saving")
            directory = save_artefact(scorer, out)
    except RouterError as error:
        _fail(error)
    if as_json:
        payload = {"model": str(directory), "version": scorer.version,
                   "train_seconds": round(train_seconds, 2),
                   "results": [_summary(r) for r in results]}
        typer.echo(json.dumps(_clean_json(payload), indent=1))
        return
    _print_table(results)
    typer.echo(f"trained in {train_seconds:.1f} s; model saved to {directory}")


def evaluate(
    *,
    model: Annotated[Path, typer.Option(help="A model artefact directory.")],
    csv: CsvOption = None,
    text_col: TextColOption = None,
    label_col: LabelColOption = None,
    time_col: TimeColOption = None,
    cat_col: CatColOption = None,
    num_col: NumColOption = None,
    task: TaskOption = None,
    data_root: DataRootOption = None,
    report: Annotated[Path | None, typer.Option(
        help="Folder for report.html and the PNG plots (default MODEL/report).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a model next to the majority and logistic-regression baselines on the same split.

    Without --csv: the model's own held-out split (its training data is read again). With --csv:
    that file is deduplicated and split the same way; the model is scored on the held-out part
    and the baselines are trained on the rest.
    """
    from scoring.datasets import load_source
    from scoring.evaluation import evaluate_task
    from scoring.report import write_report
    from scoring.scorer import Scorer
    from scoring.training import resplit

    try:
        with _progress(as_json) as step:
            step(f"loading {model}")
            scorer = Scorer.load(model)
            tasks = [task] if task else list(scorer.tasks)
            missing = [t for t in tasks if t not in scorer.tasks]
            if missing:
                raise RouterError(f"the model has no task {missing}; it has {scorer.tasks}")
            step("reading the data")
            if csv is not None:
                data = _csv_source(
                    csv, text_col=text_col, label_col=label_col, time_col=time_col,
                    cat_col=cat_col, num_col=num_col,
                    task=task or (tasks[0] if len(tasks) == 1 else None),
                )
            else:
                source = dict(scorer.metadata["data"]["source"])
                if data_root is not None and source.get("kind") == "shared":
                    source["data_root"] = str(data_root)
                data = load_source(source)
            split = resplit(scorer, data)
            results = []
            for name in tasks:
                if name not in split["data"].labels:
                    continue
                step(f"{name}: evaluating with baselines")
                results.append(evaluate_task(scorer, name, split["data"], split["train"],
                                             split["test"]))
            if not results:
                raise RouterError(f"the data has no labels for {tasks}")
            step("writing the report")
            html = write_report(results, report or model / "report", scorer.version)
    except RouterError as error:
        _fail(error)
    if as_json:
        summaries = [_summary(r) for r in results]
        # one task asked for (--task, or a one-task model): its summary; several: all of them,
        # under the same keys as `train --json` (also when the data labels only some of them)
        payload = summaries[0] if len(tasks) == 1 else {
            "model": str(model), "version": scorer.version, "results": summaries}
        typer.echo(json.dumps(_clean_json(payload), indent=1))
        return
    _print_table(results)
    print(f"report: {html}", file=sys.stderr)


def register(app: typer.Typer) -> None:
    """Add the scoring commands to the `ticket-router` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
