"""Recipes validate into one-line errors naming the key; the CLI exits 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from magpie_hf.cli.main import main
from magpie_hf.core.recipe import RecipeError, load_recipe, load_recipes, read_recipe_data

GOOD = """
name: toy
domain: algebra
count: 100
stages:
  - stage: instructions
    temperature: 0.7
    max_tokens: 32
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


DOMAIN_SETTINGS = {  # problems at scale 1, problem temperature, solution temperature
    "algebra": (10000, 1.3, 0.05),
    "calculus": (10000, 1.2, 0.0),
    "geometry": (6000, 1.35, 0.05),
    "statistics": (6000, 1.1, 0.0),
    "number_theory": (4000, 1.25, 0.0),
    "discrete": (8000, 1.3, 0.05),
}


@pytest.mark.parametrize("domain", DOMAIN_SETTINGS)
def test_domain_recipes_carry_the_production_sampling(domain):
    recipe = load_recipe(f"recipes/magpie_math/{domain}.yaml", model="1")
    stages = {e.name: e.config for e in recipe.stage_entries()}
    count, problem_t, solution_t = DOMAIN_SETTINGS[domain]
    assert (recipe.domain, recipe.count) == (domain, count)
    assert (stages["instructions"].temperature, stages["instructions"].top_p) == (problem_t, 1.0)
    assert stages["instructions"].max_tokens == 1024
    assert (stages["response"].temperature, stages["response"].max_tokens) == (solution_t, 4096)
    assert (stages["candidates"].n, stages["candidates"].temperature, stages["candidates"].top_p) == (5, 0.8, 0.95)
    assert domain.split("_")[0] in stages["instructions"].system_prompt.lower().replace(" ", "_")


def test_embedded_overrides_apply_only_to_the_embedded_model():
    tiny = {e.name: e.config for e in load_recipe("recipes/magpie_math/algebra.yaml").stage_entries()}
    assert tiny["instructions"].max_tokens < 1024 and tiny["response"].max_tokens < 4096
    assert tiny["clean"] == load_recipe("recipes/magpie_math/algebra.yaml", model="2").stage_entries()[1].config


def test_all_domains_set_and_domain_subset():
    recipes, recipe_set = load_recipes("recipes/magpie_math/all_domains.yaml")
    assert sum(r.count for r in recipes) == 44000 and recipe_set.name == "magpie_math_all"
    subset, _ = load_recipes("recipes/magpie_math/all_domains.yaml", domains=["geometry", "algebra"])
    assert [r.domain for r in subset] == ["algebra", "geometry"]
    with pytest.raises(RecipeError, match="unknown domain 'topology'; allowed: algebra"):
        load_recipes("recipes/magpie_math/all_domains.yaml", domains=["topology"])


def test_recipe_seed_fills_stage_seed(tmp_path):
    recipe = load_recipe(write(tmp_path, GOOD + "seed: 5\n"))
    assert recipe.stage_entries()[0].config.seed == 5


@pytest.mark.parametrize(
    "scale, count, expected", [(1.0, None, 100), (0.5, None, 50), (0.123, None, 10), (0.26, None, 30), (1.0, 7, 7)]
)
def test_rows_scale_rounds_to_ten_and_count_overrides(tmp_path, scale, count, expected):
    assert load_recipe(write(tmp_path, GOOD), scale=scale).rows(count) == expected


@pytest.mark.parametrize("count, scale, expected", [(100, 0.15, 20), (100, 0.25, 30), (100, 0.45, 50), (1000, 0.045, 50), (60, 0.1, 10)])
def test_scaled_counts_round_half_up_as_the_original_scripts(tmp_path, count, scale, expected):
    recipe = load_recipe(write(tmp_path, GOOD.replace("count: 100", f"count: {count}")), scale=scale)
    assert recipe.rows() == expected


@pytest.mark.parametrize(
    "text, words",
    [
        (GOOD.replace("temperature:", "temperatur:"), ["stages[0].temperatur", "unknown key", "temperature"]),
        (GOOD.replace("0.7", "hot"), ["stages[0].temperature", "hot"]),
        (GOOD.replace("count: 100", "count: -1"), ["count", "greater than 0"]),
        (GOOD + "colour: red\n", ["colour", "unknown key"]),
        (GOOD + "model: gpt-17\n", ["model", "gpt-17", "embedded"]),
        (GOOD.replace("stage: instructions", "stage: nope"), ["stages[0].stage", "nope", "instructions"]),
        (GOOD.replace("count: 100", "count: [1"), ["not valid YAML", "line"]),
        ("- just\n- a list\n", ["YAML mapping"]),
        (GOOD.replace("name: toy\n", ""), ["name", "missing"]),
    ],
)
def test_bad_recipes_name_the_key(tmp_path, text, words):
    with pytest.raises(RecipeError) as err:
        load_recipe(write(tmp_path, text))
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "recipe.yaml") in message
    for word in words:
        assert word in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(RecipeError, match="nowhere.yaml: recipe file not found"):
        load_recipe(tmp_path / "nowhere.yaml")


def test_cli_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys):
    bad = write(tmp_path, GOOD.replace("max_tokens", "max_tokenz"))
    out, runs = tmp_path / "out", tmp_path / "runs"
    code = main(["run", str(bad), "--count", "4", "--output", str(out), "--run-dir", str(runs)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("magpie-hf: error:") and "stages[0].max_tokenz" in err and "\n" not in err
    assert not out.exists() and not runs.exists()


def test_cli_rejects_unknown_model_override(tmp_path, capsys):
    assert main(["run", str(write(tmp_path, GOOD)), "--model", "9", "--output", str(tmp_path / "o")]) == 2
    assert "unknown model '9'" in capsys.readouterr().err


def test_set_overrides_nested_keys_and_names_bad_paths(tmp_path):
    path = write(tmp_path, GOOD)
    recipe = load_recipe(path, ["stages.0.max_tokens=12", "seed=9"])
    assert recipe.stage_entries()[0].config.max_tokens == 12 and recipe.seed == 9
    with pytest.raises(RecipeError, match="'stages.3.max_tokens' is not a path"):
        load_recipe(path, ["stages.3.max_tokens=12"])
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        load_recipe(path, ["seed"])


def test_the_engine_block_sets_vllm_arguments_over_the_preset_defaults(tmp_path):
    block = GOOD + "model: 2\nengine:\n  gpu_memory_utilization: 0.95\n  max_model_len: 16384\n"
    recipe = load_recipe(write(tmp_path, block), sets=["engine.enable_prefix_caching=true"])
    settings = recipe.preset().settings()
    assert settings == {
        "tensor_parallel_size": 4,  # the preset's default stays
        "max_model_len": 16384,
        "gpu_memory_utilization": 0.95,
        "enable_prefix_caching": True,
    }
    assert load_recipe(write(tmp_path, GOOD + "engine: transformers\n")).preset().engine == "transformers"
    assert load_recipe(write(tmp_path, block), engine="transformers").engine.gpu_memory_utilization == 0.95


@pytest.mark.parametrize(
    "engine, message",
    [
        ("  gpu_memory_utilization: 1.5", "engine.gpu_memory_utilization: Input should be less than or equal to 1"),
        ("  tensor_parallel: 2", "engine.tensor_parallel: unknown key; allowed: backend, tensor_parallel_size,"),
        ("  dtype: fp8", "engine.dtype: Input should be 'auto', 'half'"),
        ("  backend: llamacpp", "engine.backend: unknown engine 'llamacpp'; allowed: vllm, transformers"),
        ("  backend: openai", "engine: backend openai needs base_url, e.g. base_url: http://127.0.0.1:8000/v1"),
        ("  base_url: http://127.0.0.1:8000/v1", "engine: base_url applies to backend openai only"),
    ],
)
def test_a_bad_engine_setting_is_one_line_naming_it(tmp_path, capsys, engine, message):
    path = write(tmp_path, GOOD + "engine:\n" + engine + "\n")
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")):
        load_recipe(path)
    assert main(["run", str(path), "--count", "1"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_the_api_engine_block_and_its_missing_key(tmp_path, capsys, monkeypatch):
    block = GOOD + "engine:\n  backend: openai\n  base_url: http://127.0.0.1:9/v1\n  api_key_env: MAGPIE_TEST_KEY\n"
    path = write(tmp_path, block)
    settings = load_recipe(path).preset().settings()
    assert settings["base_url"] == "http://127.0.0.1:9/v1" and settings["api_key_env"] == "MAGPIE_TEST_KEY"
    monkeypatch.delenv("MAGPIE_TEST_KEY", raising=False)
    assert main(["run", str(path), "--count", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "engine.api_key_env: MAGPIE_TEST_KEY is not set; export MAGPIE_TEST_KEY=" in err


def test_engine_arg_on_the_cli_reaches_the_recipe(tmp_path, capsys):
    path = write(tmp_path, GOOD)
    assert main(["run", str(path), "--engine-arg", "gpu_memory_utilization=7", "--count", "1"]) == 2
    assert "engine.gpu_memory_utilization" in capsys.readouterr().err


def test_magpie_generation_refuses_a_base_model_before_anything_runs(tmp_path, capsys):
    from magpie_hf.models.carriers import embedded_with_template

    base = embedded_with_template(tmp_path / "base-model", None)
    path = write(tmp_path, GOOD)
    assert main(["run", str(path), "--model", str(base), "--count", "1", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "stages.instructions: model 'base-model' has no chat template (a base model)" in err
    assert not (tmp_path / "r").exists()


def test_the_seeds_models_are_the_production_defaults():
    from magpie_hf.core.resources import find_recipe

    critique = load_recipe(find_recipe("cft/critique"))
    assert [e.config.model for e in critique.stage_entries()[:2]] == ["qwen2.5-math-7b", "qwen3-4b-base"]
    for mode, solver in (("full-qwq", "qwq-32b"), ("full-r1", "deepseek-r1")):
        assert load_recipe(find_recipe("openmathreasoning/problems"), mode=mode).model == "qwen2.5-32b-instruct"
        solutions = read_recipe_data(find_recipe("openmathreasoning/solutions"))["modes"][mode]  # reads their output
        assert solutions["model"] == solver and "qwen2.5-32b-instruct_forum_problems" in solutions["source.path"]


def test_the_general_math_recipe_uses_the_seeds_general_template():
    from magpie_hf.core.resources import find_recipe

    recipe = load_recipe(find_recipe("magpie_math/general"), model="1")
    stages = {e.name: e.config for e in recipe.stage_entries()}
    assert (recipe.name, recipe.domain, recipe.count, recipe.pipeline) == ("magpie_math_general", "general", 1000, "magpie_math")
    assert stages["instructions"].system_prompt.startswith("You are an AI assistant designed to provide helpful, step-by-step")
    assert (stages["instructions"].temperature, stages["response"].temperature) == (1.0, 0.0)
    assert [e.name for e in recipe.stage_entries()] == [e.name for e in load_recipe(find_recipe("magpie_math/algebra")).stage_entries()]
