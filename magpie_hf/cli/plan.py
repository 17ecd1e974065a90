"""`magpie-hf plan RECIPE`: what a run would do, printed from the recipe and the run dir; no model is loaded."""

from __future__ import annotations

import argparse

from magpie_hf.cli.summary import table
from magpie_hf.core.hardware import visible_gpus
from magpie_hf.core.messages import money, t
from magpie_hf.core.recipe import Recipe
from magpie_hf.engines.settings import Price
from magpie_hf.run.preview import ModelStep, RunPreview, preview


def plan_command(recipes: list[Recipe], opts: argparse.Namespace) -> int:
    """Print the plan of every recipe the file stands for; exit 0 (a bad recipe exits 2 before, as `run`)."""
    import datasets  # noqa: PLC0415 - heavy

    from magpie_hf.run.job import check_recipe, input_rows  # noqa: PLC0415

    datasets.disable_progress_bars()  # the source is read to count its rows: no bar for that
    only = [s.strip() for s in opts.stages.split(",")] if opts.stages else None
    for recipe in recipes:
        check_recipe(recipe, only, models=False)  # an unreachable model is shown, not an error
    gpus = visible_gpus() if opts.gpus is None else opts.gpus
    reachable: dict[str, str | None] = {}
    for recipe in recipes:
        data, fingerprint = input_rows(recipe, opts.count)
        print(format_preview(preview(recipe, len(data), fingerprint, gpus, reachable)), flush=True)
    return 0


def format_preview(plan: RunPreview) -> str:
    """Two tables (stages, then model loads and releases), the cost at most when the recipe gives a price,
    the shared devices and the models out of reach."""
    stages = [
        (
            s.stage,
            number(s.rows, s.exact),
            number(s.requests, s.exact) if s.calls_model else "-",
            number(s.max_tokens, True) if s.calls_model else "-",
            str(s.shards_done),
            "?" if s.shards_pending is None else str(s.shards_pending),
        )
        for s in plan.stages
    ]
    header = t("plan_stages").split(",")
    if plan.price is not None:
        costs = [s.max_cost(plan.price) for s in plan.stages]
        stages = [(*row, money(c) if s.calls_model else "-") for row, s, c in zip(stages, plan.stages, costs)]
        header.append(t("plan_cost_column"))
    models = [model_row(step) for step in plan.steps]
    lines = [t("plan_title", recipe=plan.recipe), *table(header, stages)]
    if plan.price is not None:
        lines.append(cost_line(costs, plan.price))
    if models:
        lines += ["", *table(t("plan_models").split(","), models)]
    lines += [t("plan_shared", what=what) for what in plan.shared]
    unreachable = {s.model: s.unreachable for s in plan.steps if s.unreachable}
    lines += [t("plan_unreachable", why=why) for why in unreachable.values()]
    return "\n".join(lines)


def cost_line(costs: list[float | None], price: Price) -> str:
    """The run's cost at most, or why it is unknown."""
    if None in costs:
        return t("plan_cost_unknown")
    return t("plan_cost", cost=money(sum(costs)), input=price.input_per_million, output=price.output_per_million)


def number(value: int | None, exact: bool) -> str:
    if value is None:
        return "?"
    return f"{value:,}" if exact else t("plan_at_most", n=f"{value:,}")


def model_row(step: ModelStep) -> tuple[str, ...]:
    engine = ", ".join(f"{k} {v}" for k, v in step.engine.items())
    weights = "" if step.action == "release" else gib(step.weight_bytes, step.weight_source)
    kind = f"{step.action} {step.kind}" + (" (unreachable)" if step.unreachable else "")
    return (kind, step.stage, step.model, ",".join(step.devices) or "remote", engine, weights)


def gib(size: int | None, source: str) -> str:
    return "?" if size is None else f"{size / 2**30:.1f} GiB ({source})"
