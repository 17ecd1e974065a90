"""Both engines, for real, on the embedded SmolLM2 (tiny max_tokens)."""

from __future__ import annotations

from magpie_hf.engines import Sampling

CHAT = "<|im_start|>user\nWhat is 2+3? Answer briefly.<|im_end|>\n<|im_start|>assistant\n"


def test_vllm_returns_n_completions_with_counts_and_reasons(vllm_engine):
    out = vllm_engine.generate([CHAT, CHAT + "The"], Sampling(n=3, temperature=0.8, max_tokens=24, seed=1))
    assert [len(o) for o in out] == [3, 3]
    for c in out[0] + out[1]:
        assert 0 < c.num_tokens <= 24
        assert c.finish_reason in {"stop", "length"}
        assert "<|im_end|>" not in c.text


def test_vllm_stops_at_end_of_turn_and_respects_max_tokens(vllm_engine, embedded):
    greedy = Sampling(temperature=0.0, max_tokens=48, stop_token_ids=embedded.stop_token_ids)
    [[answer]] = vllm_engine.generate([CHAT], greedy)
    assert answer.finish_reason == "stop" and "5" in answer.text
    [[cut]] = vllm_engine.generate([CHAT], Sampling(temperature=0.0, max_tokens=2))
    assert cut.finish_reason == "length" and cut.num_tokens == 2


def test_vllm_per_request_seeds_are_reproducible_and_distinct(vllm_engine, embedded):
    prefix = embedded.magpie_prefix("You write algebra problems.")
    sampling = [Sampling(temperature=1.0, max_tokens=24, seed=s) for s in (7, 7, 8)]
    a, b, c = (o[0].text for o in vllm_engine.generate([prefix] * 3, sampling))
    assert a == b
    assert a != c


def test_vllm_many_seeded_requests_in_one_call(vllm_engine, embedded):
    # More prompt tokens than one scheduler step holds: with chunked prefill a
    # seeded request got split and the CPU engine died.
    prefix = embedded.magpie_prefix("You write algebra problems for a graduate course on Galois theory.")
    out = vllm_engine.generate([prefix] * 300, [Sampling(max_tokens=2, seed=s) for s in range(300)])
    assert len(out) == 300 and all(o[0].num_tokens >= 1 for o in out)


def test_vllm_accepts_token_ids(vllm_engine, embedded):
    from magpie_hf.models.presets import tokenizer

    ids = tokenizer(embedded).encode(CHAT, add_special_tokens=False)
    greedy = Sampling(temperature=0.0, max_tokens=16)
    assert vllm_engine.generate([ids], greedy)[0][0].text == vllm_engine.generate([CHAT], greedy)[0][0].text


def test_transformers_left_padding_matches_one_by_one(hf_engine):
    prompts = [CHAT, "<|im_start|>user\nName a prime number larger than ten.<|im_end|>\n<|im_start|>assistant\n"]
    greedy = Sampling(temperature=0.0, max_tokens=16)
    batched = [o[0].text for o in hf_engine.generate(prompts, greedy)]
    alone = [hf_engine.generate([p], greedy)[0][0].text for p in prompts]
    assert batched == alone
    assert all("<|im_end|>" not in t and t for t in batched)


def test_transformers_stop_strings_and_n(hf_engine):
    out = hf_engine.generate([CHAT], Sampling(n=2, temperature=0.9, max_tokens=24, stop=("5",), seed=3))
    assert len(out[0]) == 2
    for c in out[0]:
        assert "5" not in c.text
        assert c.finish_reason in {"stop", "length"}


def test_the_engine_block_names_real_vllm_engine_arguments():
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    from magpie_hf.engines.settings import API_FIELDS, RUN_FIELDS, EngineSettings

    names = {f.name for f in dataclasses.fields(EngineArgs)}
    assert set(EngineSettings.model_fields) - {"backend", *API_FIELDS, *RUN_FIELDS} <= names
