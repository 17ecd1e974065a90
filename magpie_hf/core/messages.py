"""User-facing text in English and Japanese (`--lang ja`, or `MAGPIE_HF_LANG=ja`)."""

from __future__ import annotations

import os

LANGUAGES = ("en", "ja")

MESSAGES: dict[str, dict[str, str]] = {
    "description": {
        "en": "Turn an instruct LLM into math training data.",
        "ja": "指示調整済み LLM から数学の学習データを生成します。",
    },
    "lang": {"en": "language of help and progress messages", "ja": "ヘルプと進捗表示の言語"},
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
    "math": {
        "en": "the original scripts' numeric form: MODEL SCALE MODE [DOMAIN]",
        "ja": "従来スクリプトと同じ数値指定: MODEL SCALE MODE [DOMAIN]",
    },
    "math_epilog": {
        "en": (
            "MODEL: 0 embedded (default model, runs on CPU), 1 DeepSeek-R1-Distill-Qwen-32B, "
            "2 DeepSeek-R1-Distill-Llama-70B, 3 DeepSeek-R1-0528 (FP4), 4 gemma-3-27b-it, "
            "5 Qwen2.5-Math-72B-Instruct, 6 Qwen2.5-Coder-32B-Instruct. "
            "SCALE: multiplies each domain's problem count (1.0 = 44,000 problems in total). "
            "MODE: 1 all six domains, 2 one domain (DOMAIN), 3 several domains (DOMAIN as 1,3,5). "
            "DOMAIN: 1 algebra, 2 calculus, 3 geometry, 4 statistics, 5 number_theory, 6 discrete. "
            "Example: 'magpie-hf math 1 0.5 2 2' runs model 1 at scale 0.5 on calculus."
        ),
        "ja": (
            "MODEL: 0 embedded (既定モデル、CPU で動作)、1 DeepSeek-R1-Distill-Qwen-32B、"
            "2 DeepSeek-R1-Distill-Llama-70B、3 DeepSeek-R1-0528 (FP4)、4 gemma-3-27b-it、"
            "5 Qwen2.5-Math-72B-Instruct、6 Qwen2.5-Coder-32B-Instruct。"
            "SCALE: 各分野の問題数に掛ける倍率 (1.0 で合計 44,000 問)。"
            "MODE: 1 全 6 分野、2 1 分野 (DOMAIN で指定)、3 複数分野 (DOMAIN を 1,3,5 のように指定)。"
            "DOMAIN: 1 代数 algebra、2 解析 calculus、3 幾何 geometry、4 統計 statistics、"
            "5 整数論 number_theory、6 離散数学 discrete。"
            "例: 'magpie-hf math 1 0.5 2 2' はモデル 1、倍率 0.5 で解析 (calculus) を生成します。"
        ),
    },
    "math_model": {"en": "model number 0-6 (see below)", "ja": "モデル番号 0-6 (下記参照)"},
    "math_scale": {"en": "scale factor, e.g. 0.5", "ja": "倍率 (例: 0.5)"},
    "math_mode": {"en": "1 all domains, 2 one domain, 3 several", "ja": "1 全分野、2 1 分野、3 複数分野"},
    "math_domain": {"en": "domain number(s) for modes 2 and 3", "ja": "モード 2・3 で使う分野番号"},
    "workers": {
        "en": "print the shell commands that run a recipe on N GPUs (one worker per GPU group, then the merge)",
        "ja": "レシピを N 基の GPU で実行するシェルコマンドを表示 (GPU グループごとに 1 ワーカー、最後に統合)",
    },
    "workers_gpus": {"en": "number of GPUs on the machine", "ja": "マシンの GPU 数"},
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
    "derived": {
        "en": "model {name}: chat template {template}{prefix}, stops at {stop} (ids {ids})",
        "ja": "モデル {name}: チャットテンプレート {template}{prefix}、停止 {stop} (ID {ids})",
    },
    "total": {
        "en": "total {seconds:.1f}s (model load {load:.1f}s); checkpoints in {run_dir}",
        "ja": "合計 {seconds:.1f} 秒 (モデル読み込み {load:.1f} 秒)、チェックポイント: {run_dir}",
    },
    "wrote": {"en": "wrote {path}", "ja": "出力: {path}"},
    "pending": {
        "en": "stage '{stage}' waits for {count} shard(s) of other workers; when they finish, rerun without --rank/--world-size to merge",
        "ja": "ステージ '{stage}' は他のワーカーのシャード {count} 個を待っています。完了後、--rank/--world-size なしで再実行すると統合されます",
    },
}

LANG = os.environ.get("MAGPIE_HF_LANG", "en") if os.environ.get("MAGPIE_HF_LANG") in LANGUAGES else "en"


def set_language(lang: str) -> None:
    """Switch every later message to `lang` (one of LANGUAGES)."""
    global LANG
    LANG = lang


def t(key: str, **values: object) -> str:
    """The message `key` in the current language, formatted with `values`."""
    text = MESSAGES[key].get(LANG) or MESSAGES[key]["en"]
    return text.format(**values) if values else text
