"""Evaluation report: confusion matrix and reliability curve as PNGs in a self-contained HTML."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np


def _figure_png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def confusion_png(confusion: list[list[int]], labels: list[str], title: str) -> bytes:
    """A row-normalised confusion matrix (true class per row) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(confusion, dtype=np.float64)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1.0)
    size = max(4.0, 0.35 * len(labels) + 2.5)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0)
    axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axis.set_yticks(range(len(labels)), labels, fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    if len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                axis.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7,
                          color="white" if shown[i, j] > 0.5 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of the true class")
    data = _figure_png(figure)
    plt.close(figure)
    return data


def reliability_png(curve: list[dict[str, Any]], title: str) -> bytes:
    """Predicted probability vs observed rate per bin, with the diagonal, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    xs = [b["mean_predicted"] for b in curve]
    ys = [b["observed"] for b in curve]
    biggest = max([1, *(c["count"] for c in curve)])
    sizes = [20 + 200 * b["count"] / biggest for b in curve]
    axis.plot(xs, ys, color="tab:blue")
    axis.scatter(xs, ys, s=sizes, color="tab:blue", label="model (dot size = tickets)")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("predicted SLA-breach probability")
    axis.set_ylabel("observed breach rate")
    axis.set_title(title)
    axis.legend(loc="upper left")
    data = _figure_png(figure)
    plt.close(figure)
    return data


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3f}"
    return html.escape(str(value))


def write_report(results: list[dict[str, Any]], directory: Path, model_version: str) -> Path:
    """Write ``report.html`` (with embedded plots) and one PNG per plot into `directory`.

    Args:
        results: `scoring.evaluation.evaluate_task` outputs.
        directory: output directory (created).
        model_version: shown in the title.

    Returns:
        The HTML file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    parts = [
        "<!doctype html><meta charset='utf-8'><title>ticket-router model report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}</style>",
        f"<h1>Model {html.escape(model_version)}</h1>",
    ]
    for result in results:
        task = result["task"]
        parts.append(f"<h2>{html.escape(task)} ({result['n_test']} held-out tickets)</h2>")
        rows = {"model": result["metrics"], **result.get("baselines", {})}
        keys = [k for k in result["metrics"] if k != "positive_rate"]
        parts.append("<table><tr><th></th>" + "".join(f"<th>{k}</th>" for k in keys) + "</tr>")
        for name, metrics in rows.items():
            cells = "".join(f"<td>{_fmt(metrics.get(k, math.nan))}</td>" for k in keys)
            parts.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
        parts.append("</table>")
        if "reliability" in result:
            png = reliability_png(result["reliability"], f"{task}: reliability")
            (directory / f"{task}_reliability.png").write_bytes(png)
            parts.append(_img(png, "reliability curve"))
        png = confusion_png(result["confusion"], _confusion_labels(result), f"{task}: confusion")
        (directory / f"{task}_confusion.png").write_bytes(png)
        parts.append(_img(png, "confusion matrix"))
        if "per_class" in result:
            parts.append("<h3>Per class</h3><table><tr><th>class</th><th>precision</th>"
                         "<th>recall</th><th>F1</th><th>support</th></tr>")
            for label, m in result["per_class"].items():
                parts.append(
                    f"<tr><td>{html.escape(label)}</td><td>{m['precision']:.3f}</td>"
                    f"<td>{m['recall']:.3f}</td><td>{m['f1']:.3f}</td><td>{m['support']}</td></tr>"
                )
            parts.append("</table>")
    path = directory / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _confusion_labels(result: dict[str, Any]) -> list[str]:
    labels = list(result["labels"])
    return labels if len(result["confusion"]) == len(labels) else ["no", "yes"]


def _img(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode()
    return f"<p><img alt='{alt}' src='data:image/png;base64,{encoded}'></p>"
