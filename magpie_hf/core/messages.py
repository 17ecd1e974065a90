"""User-facing text in English and Japanese.

The language is `--lang`, else `MAGPIE_HF_LANG`, else the locale's (`LC_ALL`, then `LC_MESSAGES`,
then `LANG`: `LANG=ja_JP.UTF-8` gives Japanese); English for any other language.

The framework's own messages are here; a pipeline adds those of its commands with `add_messages`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

LANGUAGES = ("en", "ja")

MESSAGES: dict[str, dict[str, str]] = {
    "description": {
        "en": "Turn an instruct LLM into math training data.",
        "ja": "指示調整済み LLM から数学の学習データを生成します。",
    },
    "lang": {
        "en": "language of help and progress messages (default: MAGPIE_HF_LANG, else the locale, e.g. LANG=ja_JP.UTF-8)",
        "ja": "ヘルプと進捗表示の言語 (既定: MAGPIE_HF_LANG、なければロケール。例: LANG=ja_JP.UTF-8)",
    },
    "run": {
        "en": "run a recipe (YAML) end to end, resuming finished shards",
        "ja": "レシピ (YAML) を最後まで実行します (完了済みシャードは再利用)",
    },
    "recipe": {
        "en": "recipe file, e.g. recipes/magpie_math/algebra.yaml",
        "ja": "レシピファイル (例: recipes/magpie_math/algebra.yaml)",
    },
    "model": {
        "en": "a preset name or number, a Hub id (org/name) or a local model folder (default: the recipe's)",
        "ja": "プリセット名または番号、Hub の ID (org/name)、またはローカルのモデルフォルダ (既定: レシピの指定)",
    },
    "engine_arg": {
        "en": "a vLLM engine setting over the recipe's engine: block, e.g. gpu_memory_utilization=0.95 (repeatable)",
        "ja": "レシピの engine: ブロックを上書きする vLLM の設定 (例: gpu_memory_utilization=0.95、複数指定可)",
    },
    "engine": {
        "en": "generation backend: vllm (default), transformers, or openai (an API server: --engine-arg base_url=...)",
        "ja": "生成バックエンド: vllm (既定)、transformers、openai (API サーバー: --engine-arg base_url=...)",
    },
    "scale": {
        "en": "multiply the recipe's count (rounded to 10, at least 10)",
        "ja": "レシピの問題数に掛ける倍率 (10 単位に丸め、最小 10)",
    },
    "count": {"en": "exact number of problems (overrides --scale)", "ja": "生成する問題数 (--scale より優先)"},
    "output": {
        "en": "output folder (default: data/<model>_<domain>)",
        "ja": "出力先フォルダ (既定: data/<model>_<domain>)",
    },
    "run_dir": {
        "en": "checkpoint folder (default: runs/<model>_<domain>)",
        "ja": "チェックポイントのフォルダ (既定: runs/<model>_<domain>)",
    },
    "shard_size": {"en": "rows per checkpointed shard", "ja": "チェックポイント 1 シャードあたりの行数"},
    "set": {
        "en": "override any recipe value, e.g. --set stages.response.max_tokens=64 (repeatable)",
        "ja": "レシピの任意の値を上書き (例: --set stages.response.max_tokens=64、複数指定可)",
    },
    "domains": {
        "en": "with a multi-domain recipe: only these domains, comma-separated (e.g. algebra,geometry)",
        "ja": "複数分野のレシピで、指定した分野だけを実行 (カンマ区切り、例: algebra,geometry)",
    },
    "stages": {
        "en": "run only these stages (comma-separated); earlier stages must have finished",
        "ja": "指定したステージだけを実行 (カンマ区切り)。前段のステージは完了済みである必要があります",
    },
    "mode": {
        "en": "apply one of the recipe's `modes` (e.g. demo: sample data and the embedded model)",
        "ja": "レシピの `modes` の 1 つを適用 (例: demo はサンプルデータと埋め込みモデル)",
    },
    "rank": {"en": "this worker's index, with --world-size", "ja": "このワーカーの番号 (--world-size と併用)"},
    "world_size": {"en": "number of workers sharing the shard plan", "ja": "シャード計画を分担するワーカー数"},
    "no_wait": {
        "en": "with --rank: stop when a stage waits for other workers' shards (Slurm arrays that do not run together) instead of waiting",
        "ja": "--rank と併用: 他のワーカーのシャードを待たずに終了する (同時に動かない Slurm 配列ジョブ向け)",
    },
    "verbose": {
        "en": "show library logs and warnings on the terminal (they always go to <run_dir>/logs/)",
        "ja": "ライブラリのログと警告を端末にも表示 (常に <run_dir>/logs/ に記録)",
    },
    "executor": {
        "en": "where model stages run: this process (local) or Ray actors (ray)",
        "ja": "モデルのステージの実行先: このプロセス (local) または Ray アクター (ray)",
    },
    "address": {
        "en": "Ray cluster: auto or ray://host:port (default: start a local Ray)",
        "ja": "Ray クラスタ: auto または ray://host:port (既定: ローカルで起動)",
    },
    "workers_n": {"en": "Ray actors, one engine each", "ja": "Ray アクター数 (各 1 エンジン)"},
    "gpus_per_worker": {
        "en": "GPUs per Ray actor (the tensor-parallel size)",
        "ja": "Ray アクターあたりの GPU 数 (テンソル並列数)",
    },
    "workers": {
        "en": "print the shell commands that run a recipe on N GPUs (one worker per GPU group, then the merge)",
        "ja": "レシピを N 基の GPU で実行するシェルコマンドを表示 (GPU グループごとに 1 ワーカー、最後に統合)",
    },
    "workers_gpus": {"en": "number of GPUs on the machine", "ja": "マシンの GPU 数"},
    "workers_shards": {
        "en": "# {shards} shards in the first stage; shards per worker (rank 0 first): {per_worker}",
        "ja": "# 最初のステージのシャード数: {shards}、ワーカーごとのシャード数 (ランク 0 から): {per_worker}",
    },
    "push": {
        "en": "upload an exported folder to a Hub dataset repo (card merged with the repo's)",
        "ja": "出力フォルダを Hub のデータセットリポジトリにアップロード (既存のカードと統合)",
    },
    "push_folder": {
        "en": "exported folder, e.g. data/embedded_algebra",
        "ja": "出力フォルダ (例: data/embedded_algebra)",
    },
    "push_repo": {
        "en": "dataset repo id, e.g. me/magpie-math",
        "ja": "データセットのリポジトリ ID (例: me/magpie-math)",
    },
    "push_private": {"en": "create the repo as private", "ja": "非公開リポジトリとして作成"},
    "push_token": {
        "en": "Hub token (default: HF_TOKEN, or `hf auth login`)",
        "ja": "Hub のトークン (既定: HF_TOKEN または `hf auth login`)",
    },
    "pushed": {"en": "pushed to {url}", "ja": "アップロード完了: {url}"},
    "error": {"en": "error", "ja": "エラー"},
    "rows": {"en": "rows", "ja": "行"},
    "domain_header": {"en": "== domain {domain} ==", "ja": "== 分野 {domain} =="},
    "col_stage": {"en": "stage", "ja": "ステージ"},
    "col_rows_in": {"en": "rows in", "ja": "入力行"},
    "col_rows_out": {"en": "rows out", "ja": "出力行"},
    "col_dropped": {"en": "dropped", "ja": "除外"},
    "col_tokens": {"en": "tokens", "ja": "トークン"},
    "col_seconds": {"en": "seconds", "ja": "秒"},
    "col_rate": {"en": "tok/s", "ja": "tok/s"},
    "col_shards": {"en": "shards run/reused", "ja": "シャード 実行/再利用"},
    "col_cost": {"en": "cost", "ja": "費用"},
    "verdicts_line": {
        "en": "{stage}: yes/no verdicts from logprobs {logprobs}, from text {text}, undecided {undecided}",
        "ja": "{stage}: yes/no 判定 logprobs から {logprobs}、テキストから {text}、未決 {undecided}",
    },
    "cost_total": {
        "en": "cost {cost}: {prompt} prompt and {generated} generated tokens at {input} and {output} per million",
        "ja": "費用 {cost}: プロンプト {prompt} トークンと生成 {generated} トークン "
        "(100 万トークンあたり {input} と {output})",
    },
    "derived": {
        "en": "model {name}: chat template {template}{prefix}, stops at {stop} (ids {ids})",
        "ja": "モデル {name}: チャットテンプレート {template}{prefix}、停止 {stop} (ID {ids})",
    },
    "requests_line": {
        "en": "{stage}: {requests} requests, {retries} retries, {rate_limited} answered 429",
        "ja": "{stage}: リクエスト {requests} 件、再試行 {retries} 件、429 応答 {rate_limited} 件",
    },
    "total": {
        "en": "total {seconds:.1f}s (model load {load:.1f}s); checkpoints in {run_dir}",
        "ja": "合計 {seconds:.1f} 秒 (モデル読み込み {load:.1f} 秒)、チェックポイント: {run_dir}",
    },
    "wrote": {"en": "wrote {path}", "ja": "出力: {path}"},
    "plan": {
        "en": "show what a run would do (rows, requests, tokens, shards, models, devices, memory) without loading a model",
        "ja": "モデルを読み込まずに、実行内容 (行数、リクエスト、トークン、シャード、モデル、デバイス、メモリ) を表示します",
    },
    "plan_gpus": {
        "en": "plan for this many visible GPUs (default: the GPUs of this machine)",
        "ja": "この数の GPU がある前提で計画します (既定: このマシンの GPU 数)",
    },
    "plan_title": {"en": "plan for {recipe}", "ja": "{recipe} の実行計画"},
    "plan_stages": {
        "en": "stage,rows in,requests,tokens at most,shards done,shards pending",
        "ja": "ステージ,入力行数,リクエスト,最大トークン,完了シャード,未完了シャード",
    },
    "plan_models": {
        "en": "step,stage,model,device,engine,weights",
        "ja": "手順,ステージ,モデル,デバイス,エンジン,重み",
    },
    "plan_shared": {"en": "shared device {what}", "ja": "デバイス共有: {what}"},
    "plan_unreachable": {"en": "unreachable: {why}", "ja": "取得できません: {why}"},
    "plan_at_most": {"en": "at most {n}", "ja": "最大 {n}"},
    "plan_cost_column": {"en": "cost at most", "ja": "最大費用"},
    "plan_cost": {
        "en": "cost at most {cost} (at {input} and {output} per million prompt and generated tokens; every prompt "
        "counted as long as the model's context allows, every reply as max_tokens)",
        "ja": "費用は最大 {cost} (100 万トークンあたりプロンプト {input}、生成 {output}。"
        "各プロンプトはコンテキストの上限、各応答は max_tokens の長さとして計算)",
    },
    "plan_cost_unknown": {
        "en": "cost unknown: the model's context is not known; set engine.max_model_len or max_prompt_tokens",
        "ja": "費用は不明: モデルのコンテキスト長が不明です。"
        "engine.max_model_len か max_prompt_tokens を設定してください",
    },
    "pending": {
        "en": "stage '{stage}' waits for {count} shard(s) of other workers; when they finish, rerun without --rank/--world-size to merge",
        "ja": "ステージ '{stage}' は他のワーカーのシャード {count} 個を待っています。完了後、--rank/--world-size なしで再実行すると統合されます",
    },
}

LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")  # POSIX precedence: the first one set decides


def default_language(environ: Mapping[str, str]) -> str:
    """The language of an environment: `MAGPIE_HF_LANG` if it names one of LANGUAGES, else the locale's."""
    if environ.get("MAGPIE_HF_LANG") in LANGUAGES:
        return environ["MAGPIE_HF_LANG"]
    locale = next((environ[name] for name in LOCALE_VARIABLES if environ.get(name)), "")
    language = re.split(r"[_.@-]", locale, maxsplit=1)[0].lower()
    return language if language in LANGUAGES else "en"


LANG = default_language(os.environ)


def set_language(lang: str) -> None:
    """Switch every later message to `lang` (one of LANGUAGES)."""
    global LANG
    LANG = lang


def add_messages(messages: dict[str, dict[str, str]]) -> None:
    """Add messages (key -> language -> text, `en` at least); ValueError for a key that already has other texts."""
    taken = [key for key, texts in messages.items() if MESSAGES.get(key, texts) != texts]
    if taken:
        raise ValueError(f"messages {', '.join(taken)} are already defined")
    MESSAGES.update(messages)


def t(key: str, **values: object) -> str:
    """The message `key` in the current language, formatted with `values`."""
    text = MESSAGES[key].get(LANG) or MESSAGES[key]["en"]
    return text.format(**values) if values else text


def money(value: float | None) -> str:
    """A cost as the summary, `plan` and the card show it: 4 decimals, in the price's currency ("?" when unknown)."""
    return "?" if value is None else f"{value:,.4f}"
