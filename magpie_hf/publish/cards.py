"""The dataset card: YAML metadata (`DatasetCardData`), a jinja body from `cards/`, and plots."""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from magpie_hf.core.messages import money
from magpie_hf.core.pipeline import Pipeline
from magpie_hf.core.resources import card_template

if TYPE_CHECKING:
    from datasets import Dataset

MODEL_LICENSE_NOTES = MappingProxyType({
    "gemma": "Gemma Terms of Use apply to outputs used to train other models.",
    "qwen": "the Qwen license agreement applies to the generator's outputs.",
    "mit (llama3.3 community license applies)": "outputs of a Llama 3.3 derivative: the Llama 3.3 Community License applies.",
})


def size_category(rows: int) -> str:
    """The Hub's size bucket for a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "n>1M"


def stage_rows(manifest: dict) -> list[dict]:
    """One table row per stage: its settings, rows, drops by reason, tokens, time."""
    rows = []
    for stage in manifest.get("stages", []):
        config = {k: v for k, v in stage["config"].items() if k not in ("system_prompt", "judge_prompt", "seed")}
        rows.append(
            {
                **stage,
                "settings": ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in config.items()),
                "dropped": ", ".join(f"{k}: {v}" for k, v in sorted(stage["dropped"].items())) or "0",
            }
        )
    return rows


def member(manifest: dict) -> dict:
    """What the card says about one recipe's run."""
    model = manifest["model"]
    return {
        "name": manifest["recipe"],
        "domain": manifest.get("domain"),
        "model": model["model_id"],
        "revision": model.get("revision") or model.get("carrier"),
        "preset": model["name"],
        "engine": model["engine"],
        "license_note": MODEL_LICENSE_NOTES.get(model.get("license", ""), ""),
        "prefix": manifest.get("magpie_prefix") or "",
        "models": [
            {**used, "engine_text": ", ".join(f"{k}={v}" for k, v in used["engine"].items())}
            for used in manifest.get("models", [])
        ],
        "stages": stage_rows(manifest),
        "cost": cost_text(manifest),
    }


def cost_text(manifest: dict) -> str:
    """What the run cost, with its token counts and the price ("" when the recipe gave no price)."""
    if "cost" not in manifest:
        return ""
    prompt = sum(stage["prompt_tokens"] for stage in manifest["stages"])
    generated = sum(stage["generated_tokens"] for stage in manifest["stages"])
    price = manifest["price"]
    return (
        f"{money(manifest['cost'])} for {prompt:,} prompt and {generated:,} generated tokens, at "
        f"{price['input_per_million']} and {price['output_per_million']} per million (in the price's currency)"
    )


def schema(name: str, rows: Dataset) -> dict:
    """Columns with their types, and one example row with long strings cut."""
    example = {k: _shorten(v) for k, v in rows[0].items()}
    return {
        "name": name,
        "columns": [(col, type_name(kind)) for col, kind in rows.features.items()],
        "example": json.dumps(example, indent=2, ensure_ascii=False, default=str),
    }


def type_name(feature) -> str:
    """`string`, `list<float64>`, `struct{role, content}`: feature types as a reader wants them."""
    from datasets import LargeList, List, Value

    if isinstance(feature, Value):
        return feature.dtype
    if isinstance(feature, (List, LargeList)):
        return f"list<{type_name(feature.feature)}>"
    if isinstance(feature, dict):
        return "struct{" + ", ".join(feature) + "}"
    return type(feature).__name__


def _shorten(value):
    if isinstance(value, str):
        return value if len(value) <= 300 else value[:300] + " ..."
    if isinstance(value, list):
        return [_shorten(v) for v in value[:4]]
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    return value


def write_plots(folder: Path, plots: dict[str, tuple[str, list[float] | dict[str, int]]]) -> None:
    """PNG plots the card shows: a bar chart for counts by name, a histogram for a list of values."""
    import matplotlib  # noqa: PLC0415 - heavy, only when a card is written

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, values) in plots.items():
        fig, ax = plt.subplots(figsize=(5, 3))
        if isinstance(values, dict) and values:
            ax.bar(list(values), list(values.values()))
        elif values:
            ax.hist(values, bins=20)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center")
        ax.set_title(title)
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=80)
        plt.close(fig)


def write_card(
    folder: Path, tables: dict[str, Dataset], layout: dict, configs: list[dict], info: dict, pipeline: Pipeline
) -> None:
    """Render the pipeline's card template with `DatasetCardData` into `folder/README.md`, plots beside it."""
    from huggingface_hub import DatasetCard, DatasetCardData  # noqa: PLC0415

    members = info.get("members") or [info]
    models = sorted({m["model"]["model_id"] for m in members})
    total = sum(sum(s.values()) for domains in layout.values() for s in domains.values())
    card_data = DatasetCardData(
        license=info.get("license", "cc-by-nc-4.0"),
        language=["en"],
        pretty_name=info.get("pretty_name") or f"{pipeline.name} ({', '.join(models)})",
        size_categories=[size_category(total)],
        task_categories=sorted({pipeline.table(kind).task for kind in layout}),
        tags=[*pipeline.tags, *sorted({pipeline.table(k).tag for k in layout if pipeline.table(k).tag})],
        configs=configs,
        dataset_info=dataset_info(folder, configs),
    )
    write_plots(folder / "plots", pipeline.plots(tables) if pipeline.plots else {})
    listed = [
        {
            "name": c["config_name"],
            "splits": [_split_rows(layout, c["config_name"], f["split"]) for f in c["data_files"]],
        }
        for c in configs
    ]
    card = DatasetCard.from_template(
        card_data,
        template_path=str(card_template(pipeline.card)),
        analysis=info.get("analysis"),
        counts=value_counts(tables, pipeline.counted),
        pretty_name=card_data.pretty_name,
        description=info.get("description", "Synthetic math problems with solutions and preference pairs."),
        repo_id=info.get("repo_id", "<user>/<dataset>"),
        configs=listed,
        members=[member(m) for m in members],
        schemas=[schema(kind, rows) for kind, rows in tables.items()],
        test_fraction=info.get("test_fraction", 0.0),
        command=info.get("command", ""),
        generation_date=info.get("generation_date") or next((m.get("generation_date") for m in members), ""),
        total_problems=info.get("total_problems", {}),
        cross_domain_duplicates=info.get("cross_domain_duplicates") or {},
    )
    card.save(str(folder / "README.md"))


def dataset_info(folder: Path, configs: list[dict]) -> list[dict]:
    """The card's `dataset_info`: rows and bytes per config and split, read from the Parquet footers.

    The Hub shows these sizes; `load_dataset` checks the row counts, and keys its
    cache of a local folder on this metadata, so a folder written again with other
    rows is read afresh instead of from a stale cache.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    infos = []
    for config in configs:
        splits, files_bytes = [], 0
        for data in config["data_files"]:
            files = sorted(folder.glob(data["path"]))
            meta = [pq.ParquetFile(f).metadata for f in files]
            splits.append(
                {
                    "name": data["split"],
                    "num_bytes": sum(m.row_group(g).total_byte_size for m in meta for g in range(m.num_row_groups)),
                    "num_examples": sum(m.num_rows for m in meta),
                }
            )
            files_bytes += sum(f.stat().st_size for f in files)
        size = sum(split["num_bytes"] for split in splits)
        infos.append(
            {"config_name": config["config_name"], "splits": splits, "download_size": files_bytes, "dataset_size": size}
        )
    return infos


def value_counts(tables: dict[str, Dataset], columns: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """How often each value of the categorical columns occurs, per `<config>.<column>`."""
    counts: dict[str, dict[str, int]] = {}
    for kind, rows in tables.items():
        for column in columns:
            if column in rows.column_names:
                found: dict[str, int] = {}
                for value in rows[column]:
                    found[str(value)] = found.get(str(value), 0) + 1
                counts[f"{kind}.{column}"] = dict(sorted(found.items(), key=lambda kv: -kv[1]))
    return counts


def _split_rows(layout: dict, config: str, split: str) -> dict:
    """{"split", "rows"} of a config (`<kind>` or `<kind>_<domain>`) from the export layout."""
    kind, _, domain = config.partition("_")
    domains = [domain] if domain else list(layout.get(kind, {}))
    return {"split": split, "rows": sum(layout.get(kind, {}).get(d, {}).get(split, 0) for d in domains)}
