"""The critique (CFT) run's analysis: accuracy per model, right/wrong balance, what the filter kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

from magpie_hf.core.result import RunResult

if TYPE_CHECKING:
    from datasets import Dataset


def cft_analysis(result: RunResult, recipe) -> dict | None:
    """Per-model accuracy over every graded sample, right/wrong shares of the critique rows, filter counts.

    None unless the run graded samples and filtered them (a `grade` and a `mixed_filter` stage).
    """
    entries = {e.stage.name: e for e in recipe.stage_entries()}
    if "grade" not in entries or "mixed_filter" not in entries:
        return None
    grade_name, labels = entries["grade"].name, entries["mixed_filter"].config.columns
    graded: Dataset = result.datasets[grade_name]
    accuracy = {}
    for label in labels:
        flags = [flag is True for row in graded[f"{label}_correct"] for flag in row]  # undecided counts as wrong
        accuracy[label] = {
            "samples": len(flags),
            "correct": sum(flags),
            "accuracy": sum(flags) / len(flags) if flags else 0.0,
        }
    critiques = result.datasets.get(entries["critique"].name) if "critique" in entries else None
    truths = [r["ground_truth"] for r in critiques["reward_model"]] if critiques is not None else []
    models = [e["model_source"] for e in critiques["extra_info"]] if critiques is not None else []
    per_model = {
        label: {
            "right": sum(1 for t, m in zip(truths, models) if m == label and t == "right"),
            "wrong": sum(1 for t, m in zip(truths, models) if m == label and t == "wrong"),
        }
        for label in labels
    }
    report = next(r for r in result.reports if r.stage == entries["mixed_filter"].name)
    return {
        "problems": {"graded": len(graded), "kept": report.rows_out, "dropped": dict(report.dropped)},
        "accuracy": accuracy,
        "critique_rows": {"right": truths.count("right"), "wrong": truths.count("wrong"), "per_model": per_model},
    }


def format_analysis(analysis: dict) -> str:
    """Plain-text lines for the end of a run."""
    problems, rows = analysis["problems"], analysis["critique_rows"]
    dropped = ", ".join(f"{k}={v}" for k, v in sorted(problems["dropped"].items())) or "none"
    total = rows["right"] + rows["wrong"]
    lines = [
        f"problems: {problems['graded']} graded, {problems['kept']} kept (mixed correctness), dropped: {dropped}",
        f"critique rows: {total} ({rows['right']} right / {rows['wrong']} wrong"
        + (f", {rows['right'] / total:.0%} right)" if total else ")"),
    ]
    for label, acc in analysis["accuracy"].items():
        mine = rows["per_model"][label]
        lines.append(
            f"  {label}: accuracy {acc['accuracy']:.1%} ({acc['correct']}/{acc['samples']} samples); "
            f"critique rows {mine['right']} right / {mine['wrong']} wrong"
        )
    return "\n".join(lines)
