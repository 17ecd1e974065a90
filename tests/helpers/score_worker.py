"""Run by torchrun in the 2-process test: score the same conversations data-parallel."""

import json
import sys

from magpie_hf.models.reward_model import RewardModelScorer, process_state, score_distributed


def main() -> None:
    model_dir, conversations_file, out_file = sys.argv[1:4]
    conversations = json.loads(open(conversations_file).read())
    scorer = RewardModelScorer.load(model_dir, batch_size=3, trust_remote_code=False)
    scores, truncated = score_distributed(scorer, conversations)
    state = process_state()
    if state.is_main_process:
        with open(out_file, "w") as f:
            json.dump({"scores": scores, "truncated": truncated, "processes": state.num_processes}, f)


if __name__ == "__main__":
    main()
