"""The transformers backend on the tiny Qwen3: shapes, order, seeds, stops, finish reasons, counts, logprobs."""

import pytest
import torch

from nebula_hub.errors import NebulaError
from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
from nebula_hub.generate.transformers_backend import render_prompt


CONVERSATIONS = [
    "hello there",
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2? Explain slowly."}],
    [{"role": "user", "content": "a b c"}],
]


def texts(results):
    return [[c.text for c in row] for row in results]


def test_n_samples_per_conversation_in_input_order_with_counts(tiny_backend):
    settings = SamplingSettings(n=3, max_tokens=12, seed=0)
    results = tiny_backend.generate(CONVERSATIONS, settings, progress=False)
    assert [len(row) for row in results] == [3, 3, 3]
    tok = tiny_backend.tokenizer
    for conversation, row in zip(CONVERSATIONS, results, strict=True):
        messages = [{"role": "user", "content": conversation}] if isinstance(conversation, str) else conversation
        expected_prompt = len(tok(render_prompt(tok, messages, None), add_special_tokens=False)["input_ids"])
        for completion in row:
            assert completion.prompt_tokens == expected_prompt
            assert 1 <= completion.completion_tokens <= 12
            assert completion.finish_reason in ("stop", "length")
            if completion.finish_reason == "length":
                assert completion.completion_tokens == 12
    # Input order: each conversation's results equal a run of that conversation alone.
    alone = tiny_backend.generate([CONVERSATIONS[1]], settings, progress=False)
    assert texts(alone)[0] == texts(results)[1]
    # Samples of one conversation differ (different seeds per sample).
    assert len(set(texts(results)[0])) > 1


def test_seeds_reproducible_and_independent_of_batching(tiny_backend):
    settings = SamplingSettings(n=2, max_tokens=8, seed=1234, temperature=0.9, top_k=50, top_p=0.95)
    first = tiny_backend.generate(CONVERSATIONS, settings, progress=False)
    assert texts(tiny_backend.generate(CONVERSATIONS, settings, progress=False)) == texts(first)
    original = tiny_backend.config.batch_size
    tiny_backend.config.batch_size = 1
    try:
        one_by_one = tiny_backend.generate(CONVERSATIONS, settings, progress=False)
    finally:
        tiny_backend.config.batch_size = original
    assert texts(one_by_one) == texts(first)
    other_seed = tiny_backend.generate(
        CONVERSATIONS, SamplingSettings(**{**settings.as_record(), "seed": 99}), progress=False
    )
    assert texts(other_seed) != texts(first)
    unseeded = SamplingSettings(n=2, max_tokens=8)
    assert texts(tiny_backend.generate(CONVERSATIONS, unseeded, progress=False)) != texts(
        tiny_backend.generate(CONVERSATIONS, unseeded, progress=False)
    )


def test_stop_strings_cut_text_and_finish_with_stop(tiny_backend):
    free = tiny_backend.generate(["hello there"], SamplingSettings(n=4, max_tokens=40, seed=3), progress=False)[0]
    # Stop on a character that appears mid-way in a sample produced without stops.
    sample = next(c.text for c in free if len(c.text.strip()) > 6)
    stop = sample.strip()[3]
    stopped = tiny_backend.generate(
        ["hello there"], SamplingSettings(n=4, max_tokens=40, seed=3, stop=[stop]), progress=False
    )[0]
    for before, after in zip(free, stopped, strict=True):
        assert stop not in after.text
        if stop in before.text:
            assert after.finish_reason == "stop"
            assert after.text == before.text[: before.text.index(stop)]
            assert after.completion_tokens < before.completion_tokens
        else:
            assert after.text == before.text


def test_eos_ends_a_sample_with_stop_and_counts_the_eos_token(tiny_backend):
    tok = tiny_backend.tokenizer
    body = tok("abc def", add_special_tokens=False)["input_ids"]
    eos, pad = tiny_backend.eos_token_ids[0], tok.pad_token_id
    settings = SamplingSettings(max_tokens=10)
    ended = tiny_backend._to_completion(body + [eos, pad, pad], 7, settings, [-1.0] * 10)
    assert (ended.text, ended.finish_reason, ended.completion_tokens, ended.prompt_tokens) == (
        "abc def",
        "stop",
        len(body) + 1,
        7,
    )
    assert ended.logprobs is None
    cut = tiny_backend._to_completion(body, 7, settings, [])
    assert (cut.finish_reason, cut.completion_tokens) == ("length", len(body))


def test_thinking_switch_changes_the_prompt(tiny_backend):
    tok = tiny_backend.tokenizer
    messages = [{"role": "user", "content": "hi"}]
    off, on = render_prompt(tok, messages, False), render_prompt(tok, messages, True)
    assert off.endswith("<think>\n\n</think>\n\n") and not on.endswith("</think>\n\n")
    settings = dict(max_tokens=4, seed=0)
    off_result = tiny_backend.generate([messages], SamplingSettings(enable_thinking=False, **settings), progress=False)
    on_result = tiny_backend.generate([messages], SamplingSettings(enable_thinking=True, **settings), progress=False)
    assert off_result[0][0].prompt_tokens == len(tok(off, add_special_tokens=False)["input_ids"])
    assert off_result[0][0].prompt_tokens > on_result[0][0].prompt_tokens


def test_greedy_logprobs_match_a_forward_pass(tiny_backend):
    tok, model = tiny_backend.tokenizer, tiny_backend.model
    completion = tiny_backend.generate(
        ["hello there"], SamplingSettings(temperature=0, max_tokens=6, logprobs=True), progress=False
    )[0][0]
    assert len(completion.logprobs) == completion.completion_tokens == 6
    prompt_ids = tok(render_prompt(tok, [{"role": "user", "content": "hello there"}], None), add_special_tokens=False)[
        "input_ids"
    ]
    ids = torch.tensor([prompt_ids])
    expected = []
    with torch.no_grad():
        for _ in range(6):
            logprobs = torch.log_softmax(model(ids).logits[0, -1].float(), dim=-1)
            token = int(logprobs.argmax())
            expected.append(float(logprobs[token]))
            ids = torch.cat([ids, torch.tensor([[token]])], dim=1)
    assert completion.logprobs == pytest.approx(expected, abs=1e-4)
    assert tok.decode(ids[0, len(prompt_ids) :], skip_special_tokens=True) == completion.text


def test_missing_model_gives_a_clear_error(tmp_path):
    with pytest.raises(NebulaError) as info:
        get_backend(BackendConfig(model=str(tmp_path / "nope"), device="cpu"))
    assert "cannot load model" in str(info.value) and "nope" in str(info.value)
    assert "config.json" in info.value.hint
