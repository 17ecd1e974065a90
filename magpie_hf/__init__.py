"""magpie-hf: turn an instruct LLM into math training data, natively on Hugging Face `datasets`.

The public Python API is small: `run_recipe` (a recipe by name or path, with
overrides, returning the exported configs as `DatasetDict`s) and the grading
helpers (`extract_answer`, `is_equivalent`, `majority_answer`,
`critique_reward`).

Example:
    >>> import magpie_hf
    >>> data = magpie_hf.run_recipe("magpie_math/algebra", count=8)   # doctest: +SKIP
    >>> data["sft"]["train"][0]["messages"]                     # doctest: +SKIP
    >>> magpie_hf.is_equivalent("1/2", "0.5")
    True
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magpie_hf.math.grading import extract_answer, is_equivalent, majority_answer
from magpie_hf.math.rewards import critique_reward

if TYPE_CHECKING:
    from datasets import DatasetDict

try:
    __version__ = version("magpie-hf")
except PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0"


def run_recipe(
    recipe: str | Path,
    *,
    count: int | None = None,
    stages: list[str] | None = None,
    mode: str | None = None,
    sets: list[str] | tuple[str, ...] = (),
    domains: list[str] | None = None,
    **overrides: Any,
) -> dict[str, "DatasetDict"]:
    """Run a recipe and return its exported configs.

    Args:
        recipe: a recipe name under `recipes/` (e.g. `magpie_math/algebra`) or a path to a YAML file.
        count: exact number of rows (overrides the recipe's count and scale).
        stages: run only these stages (the earlier ones must have finished).
        mode: one of the recipe's `modes` (e.g. `demo`).
        sets: `KEY=VALUE` overrides at any depth (`stages.response.max_tokens=64`).
        domains: with a multi-domain recipe, only these domains.
        **overrides: top-level recipe keys (`model`, `engine`, `scale`, `output`, `run_dir`, `shard_size`).

    Returns:
        `{config name: DatasetDict}` read back from the export folder (the merged one for a recipe set).
        Every model the run loaded is released before this returns.

    Raises:
        magpie_hf.core.recipe.RecipeError: the recipe or an override is not valid (nothing was run).
    """
    from datasets import load_dataset  # noqa: PLC0415 - keeps `import magpie_hf` light

    from magpie_hf.core.recipe import load_recipes  # noqa: PLC0415
    from magpie_hf.core.resources import find_recipe  # noqa: PLC0415
    from magpie_hf.run import job  # noqa: PLC0415
    from magpie_hf.run.context import RunContext  # noqa: PLC0415

    recipes, recipe_set = load_recipes(find_recipe(recipe), domains=domains, sets=sets, mode=mode, **overrides)
    for member in recipes:
        job.check_recipe(member, stages)
    with RunContext(share_device=recipes[0].engine.share_device) as context:  # released on return, error or not
        runs = [job.run_recipe(member, count=count, only=stages, context=context) for member in recipes]
    written = job.export_merged(recipe_set, runs) if recipe_set is not None and len(runs) > 1 else runs[-1].written
    folder = written[-1][0].parent if written else None
    if folder is None:
        return {}
    return {path.name: load_dataset(str(folder), path.name) for path, rows in written if rows is not None}


__all__ = ["__version__", "critique_reward", "extract_answer", "is_equivalent", "majority_answer", "run_recipe"]
