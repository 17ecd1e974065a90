"""`magpie-hf` command line: run recipes, print one summary of what was produced.

Commands: `run RECIPE`, `plan RECIPE`, `workers RECIPE --gpus N`, `push FOLDER REPO`, and the
commands pipelines register (e.g. Magpie math's numeric `math` form).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from magpie_hf.cli.summary import format_summary, written_line
from magpie_hf.core.messages import LANGUAGES, set_language, t
from magpie_hf.core.pipeline import PIPELINES, discover, get_pipeline
from magpie_hf.core.recipe import Recipe, RecipeError, RecipeSet, load_recipes
from magpie_hf.core.resources import find_recipe

EXIT_USAGE = 2
EXIT_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    discover()
    parser = argparse.ArgumentParser(prog="magpie-hf", description=t("description"))
    parser.add_argument("--lang", choices=LANGUAGES, default="en", help=t("lang"))
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help=t("run"), description=t("run"))
    plan = commands.add_parser("plan", help=t("plan"), description=t("plan"))
    for command in (run, plan):
        command.add_argument("recipe", help=t("recipe"))
        command.add_argument("--model", help=t("model"))
        command.add_argument("--scale", type=float, help=t("scale"))
        command.add_argument("--domains", help=t("domains"))
        add_run_options(command)
    plan.add_argument("--gpus", type=int, help=t("plan_gpus"))
    for pipeline in PIPELINES.values():
        for command in pipeline.commands:
            sub = commands.add_parser(command.name, help=t(command.help), description=t(command.help))
            command.configure(sub)
            add_run_options(sub)
    workers = commands.add_parser("workers", help=t("workers"), description=t("workers"))
    workers.add_argument("recipe", help=t("recipe"))
    workers.add_argument("--gpus", type=int, required=True, help=t("workers_gpus"))
    workers.add_argument("--model", help=t("model"))
    push = commands.add_parser("push", help=t("push"), description=t("push"))
    push.add_argument("folder", type=Path, help=t("push_folder"))
    push.add_argument("repo_id", help=t("push_repo"))
    push.add_argument("--private", action="store_true", help=t("push_private"))
    push.add_argument("--token", help=t("push_token"))
    return parser


def add_run_options(command: argparse.ArgumentParser) -> None:
    """Options shared by `run` and the pipelines' commands."""
    command.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help=t("lang"))
    command.add_argument("--engine", help=t("engine"))
    command.add_argument(
        "--engine-arg", dest="engine_args", action="append", default=[], metavar="KEY=VALUE", help=t("engine_arg")
    )
    command.add_argument("--count", type=int, help=t("count"))
    command.add_argument("--output", help=t("output"))
    command.add_argument("--run-dir", help=t("run_dir"))
    command.add_argument("--shard-size", type=int, help=t("shard_size"))
    command.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help=t("set"))
    command.add_argument("--stages", help=t("stages"))
    command.add_argument("--mode", help=t("mode"))
    command.add_argument("--rank", type=int, help=t("rank"))
    command.add_argument("--world-size", type=int, help=t("world_size"))
    command.add_argument("--no-wait", action="store_true", help=t("no_wait"))
    command.add_argument("--executor", choices=["local", "ray", "slurm"], default="local", help=t("executor"))
    command.add_argument("--address", help=t("address"))
    command.add_argument("--workers", type=int, default=1, help=t("workers_n"))
    command.add_argument("--gpus-per-worker", type=float, default=0, help=t("gpus_per_worker"))
    command.add_argument("--verbose", action="store_true", help=t("verbose"))


def main(args: list[str] | None = None) -> int:
    args = sys.argv[1:] if args is None else args
    set_language(_language(args))
    opts = build_parser().parse_args(args)
    opts.argv = args
    from magpie_hf.engines.base import EngineRefusal  # noqa: PLC0415
    from magpie_hf.publish.push import PushError  # noqa: PLC0415 - huggingface_hub HTTP stack
    from magpie_hf.run.executors.base import ShardFailures  # noqa: PLC0415

    try:
        if opts.command == "push":
            return push_command(opts)
        if opts.command == "workers":
            import datasets  # noqa: PLC0415 - heavy

            from magpie_hf.run.executors.local import shard_summary, worker_commands  # noqa: PLC0415

            datasets.disable_progress_bars()  # a source is read to count its shards: no bar for that
            recipe = str(find_recipe(opts.recipe))
            print(shard_summary(recipe, opts.gpus, opts.model))
            print(worker_commands(recipe, opts.gpus, opts.model))
            return 0
        for pipeline in PIPELINES.values():
            for command in pipeline.commands:
                if opts.command == command.name:
                    command.to_run(opts)
        if opts.command == "plan":
            from magpie_hf.cli.plan import plan_command  # noqa: PLC0415

            return plan_command(load_run_recipes(opts)[0], opts)
        return run_command(opts)
    except (RecipeError, PushError, EngineRefusal) as err:  # bad input: a recipe, a token, a model name or key
        print(f"magpie-hf: {t('error')}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ShardFailures as err:
        print(f"magpie-hf: {t('error')}: {err}", file=sys.stderr)
        return EXIT_FAILED


def push_command(opts: argparse.Namespace) -> int:
    from magpie_hf.publish.push import push  # noqa: PLC0415

    print(t("pushed", url=push(opts.folder, opts.repo_id, opts.private, opts.token)))
    return 0


def _language(args: list[str]) -> str:
    """`--lang` is read before the parser is built, so that --help is translated too."""
    for i, arg in enumerate(args):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1] if arg.split("=", 1)[1] in LANGUAGES else "en"
        if arg == "--lang" and i + 1 < len(args) and args[i + 1] in LANGUAGES:
            return args[i + 1]
    from magpie_hf.core import messages  # noqa: PLC0415

    return messages.LANG


def make_executor(opts: argparse.Namespace):
    """The executor the options ask for: local (optionally one rank of several), Ray or Slurm."""
    from magpie_hf.run.executors import make_executor as build  # noqa: PLC0415

    try:
        return build(
            opts.executor,
            rank=opts.rank,
            world_size=opts.world_size,
            wait=not opts.no_wait,
            workers=opts.workers,
            gpus_per_worker=opts.gpus_per_worker,
            address=opts.address,
            argv=opts.argv,
        )
    except (ValueError, RuntimeError) as err:
        raise RecipeError(str(err)) from None


def load_run_recipes(opts: argparse.Namespace):
    """The recipes (and recipe set) that `run` and `plan` options name, with every override applied."""
    if opts.count is not None and opts.count <= 0:
        raise RecipeError("--count must be a positive number of problems")
    return load_recipes(
        find_recipe(opts.recipe),
        domains=[d.strip() for d in opts.domains.split(",")] if opts.domains else None,
        sets=[*opts.sets, *(f"engine.{arg}" for arg in opts.engine_args)],
        mode=opts.mode,
        model=opts.model,
        engine=opts.engine,
        scale=opts.scale,
        output=opts.output,
        run_dir=opts.run_dir,
        shard_size=opts.shard_size,
    )


def run_command(opts: argparse.Namespace) -> int:
    """`run`: every recipe the file stands for, then the merged export of a recipe set.

    A finished run (every shard done, every export up to date) is only summed up: nothing runs, nothing is
    re-exported, and no heavy library is imported.
    """
    from magpie_hf.run.finished import finished_runs  # noqa: PLC0415

    recipes, recipe_set = load_run_recipes(opts)
    only = [s.strip() for s in opts.stages.split(",")] if opts.stages else None
    finished = finished_runs(recipes, recipe_set, opts.count, only)
    if finished is None:
        from magpie_hf.run.job import check_recipe  # noqa: PLC0415 - datasets

        for recipe in recipes:
            check_recipe(recipe, only)
    banner = get_pipeline(recipes[0].pipeline).banner
    if banner is not None:
        print(banner(recipes, opts.count), flush=True)
    if finished is None:
        return run_recipes(opts, recipes, recipe_set, only)
    runs, merged = finished
    for run in runs:
        if recipe_set is not None:
            print(t("domain_header", domain=run.recipe.domain), flush=True)
        if opts.verbose:  # what the runner would log, had it run
            for report in run.result.reports:
                shards = report.shards_reused
                print(f"stage {report.stage}: {report.rows_in} rows in {shards} shards (all done)", file=sys.stderr)
        print_run(run)
    for path, rows in merged:
        print(written_line(path, rows))
    return 0


def run_recipes(
    opts: argparse.Namespace, recipes: list[Recipe], recipe_set: RecipeSet | None, only: list[str] | None
) -> int:
    """Run every recipe (one run context: models stay across domains), then a recipe set's merged export."""
    from magpie_hf.cli.logs import quiet_terminal  # noqa: PLC0415
    from magpie_hf.run.context import RunContext  # noqa: PLC0415
    from magpie_hf.run.job import export_merged, run_recipe  # noqa: PLC0415

    executor = make_executor(opts)
    if executor.launches_elsewhere:
        try:
            print(executor.submit(recipes[0].paths()["run_dir"]))
        except RuntimeError as err:
            raise RecipeError(str(err)) from None
        return 0
    runs = []
    context = RunContext(share_device=recipes[0].engine.share_device)  # one for the command: models stay across domains
    try:
        for recipe in recipes:
            if recipe_set is not None:
                print(t("domain_header", domain=recipe.domain), flush=True)
            with quiet_terminal(recipe.paths()["run_dir"], verbose=opts.verbose, rank=opts.rank):
                run = run_recipe(recipe, executor, opts.count, only, context=context)
            print_run(run)
            runs.append(run)
            if not run.complete:
                return 0
    finally:
        with quiet_terminal(recipes[-1].paths()["run_dir"], verbose=opts.verbose, rank=opts.rank):
            executor.close()
            context.close()  # shut down before exit, its messages in the log: nothing about a dying engine
    if recipe_set is not None and len(runs) > 1:
        for path, rows in export_merged(recipe_set, runs):
            print(written_line(path, rows))
    return 0


def print_run(run) -> None:
    """A run's analysis (where its pipeline has one), then its summary table (a `RecipeRun` or a `FinishedRun`)."""
    pipeline = get_pipeline(run.recipe.pipeline)
    if "analysis" in run.info and pipeline.format_analysis:
        print(pipeline.format_analysis(run.info["analysis"]), flush=True)
    summary = format_summary(run.result, run.written, run.run_dir, run.info.get("models"), run.recipe.engine.price)
    print(summary, flush=True)


if __name__ == "__main__":
    sys.exit(main())
