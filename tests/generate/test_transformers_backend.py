"""The transformers backend on the tiny Qwen3: shapes, order, seeds, stops, finish reasons, counts, logprobs."""

import math

import pytest
import torch

from nebula_hub.errors import NebulaError
from nebula_hub.generate import BackendConfig, SamplingSettings, get_backend
from nebula_hub.generate.transformers_backend import (
    SeededSampler,
    _signed64,
    log_exponential_noise,
    render_prompt,
    splitmix64,
    step_keys,
)


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


# --- SeededSampler: the vectorised, keyed draw --------------------------------------------------------------------


def draws(sampler_settings, logits: torch.Tensor, rows: int, steps: int, first_seed: int = 0):
    """Tokens drawn by a `SeededSampler` for `rows` seeds over `steps` steps, all rows sharing `logits`."""
    sampler = SeededSampler(list(range(first_seed, first_seed + rows)), sampler_settings, "cpu")
    input_ids = torch.zeros(rows, 1, dtype=torch.long)
    tokens = []
    for _ in range(steps):
        out = sampler(input_ids, logits.expand(rows, -1).clone())
        tokens.append(out.argmax(dim=-1))  # what greedy decoding in `generate` picks
    return torch.cat(tokens)


def warped_probs(settings: SamplingSettings, logits: torch.Tensor) -> torch.Tensor:
    """The target distribution, from transformers' own warpers (independent of the sampler's draw)."""
    from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    scores = logits[None].clone()
    scores = TemperatureLogitsWarper(settings.temperature)(None, scores)
    if settings.top_k is not None:
        scores = TopKLogitsWarper(settings.top_k)(None, scores)
    if settings.top_p is not None:
        scores = TopPLogitsWarper(settings.top_p)(None, scores)
    return torch.softmax(scores[0], dim=-1)


def chi_square_p_value(tokens: torch.Tensor, probs: torch.Tensor) -> float:
    counts = torch.bincount(tokens, minlength=len(probs)).double()
    support = probs > 0
    assert counts[~support].sum() == 0, f"drew filtered tokens: {counts[~support]}"
    expected = probs[support].double() * len(tokens)
    statistic = ((counts[support] - expected) ** 2 / expected).sum()
    df = int(support.sum()) - 1
    return float(1 - torch.distributions.Chi2(torch.tensor(float(df))).cdf(statistic))


@pytest.mark.parametrize(
    "settings, vocab",
    [
        (SamplingSettings(temperature=0.7), 8),  # dense noise over the whole vocabulary
        (SamplingSettings(temperature=1.3, top_k=5), 64),  # few candidates: noise drawn only for them
        (SamplingSettings(temperature=1.0, top_p=0.8), 12),  # dense, with nucleus filtering
        (SamplingSettings(temperature=0.5, top_p=0.9), 64),  # peaked: small nucleus, candidate path
    ],
)
def test_seeded_draws_follow_the_warped_distribution(settings, vocab):
    logits = torch.linspace(2.0, -2.0, vocab) + torch.sin(torch.arange(vocab) * 1.7)
    probs = warped_probs(settings, logits)
    tokens = draws(settings, logits, rows=12_000, steps=4)
    # Fixed seeds make this deterministic: it cannot flake, and a wrong sampler fails it by a wide margin.
    assert chi_square_p_value(tokens, probs) > 1e-3
    # Power check: the same draws are rejected against the unwarped distribution (other temperature or support).
    assert chi_square_p_value(tokens, torch.softmax(logits, dim=-1)) < 1e-6


def test_seeded_draws_depend_only_on_seed_step_and_token():
    settings = SamplingSettings(temperature=0.9)
    logits = torch.randn(5, 50, generator=torch.Generator().manual_seed(0))
    batch = SeededSampler([10, 11, 12, 13, 14], settings, "cpu")
    alone = [SeededSampler([seed], settings, "cpu") for seed in (10, 11, 12, 13, 14)]
    ids = torch.zeros(5, 1, dtype=torch.long)
    for _ in range(6):
        together = batch(ids, logits.clone()).argmax(-1)
        separately = torch.cat([s(ids[:1], logits[r : r + 1].clone()).argmax(-1) for r, s in enumerate(alone)])
        assert torch.equal(together, separately)
    # A different seed or a different step gives different noise.
    row_keys = torch.tensor([_signed64(splitmix64(10)), _signed64(splitmix64(11))])
    noise = log_exponential_noise(step_keys(row_keys, 0), torch.arange(50))
    assert not torch.equal(noise[0], noise[1])
    assert not torch.equal(noise, log_exponential_noise(step_keys(row_keys, 1), torch.arange(50)))


def test_noise_matches_a_pure_python_splitmix_reference():
    mask = (1 << 64) - 1
    key = splitmix64(splitmix64(123) + 3 * 0x9E3779B97F4A7C15)  # row seed 123, step 2
    keys = torch.tensor([_signed64(key)])
    tokens = torch.tensor([0, 1, 2, 999, 151_935])
    got = log_exponential_noise(keys, tokens)[0].tolist()
    for token, value in zip(tokens.tolist(), got, strict=True):
        z = (key + (token + 1) * 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        uniform = ((z >> 40) + 0.5) / 2**24
        assert value == pytest.approx(math.log(-math.log(uniform)), abs=1e-5)


def test_candidate_path_draws_the_same_token_as_the_dense_path():
    logits = torch.randn(6, 400, generator=torch.Generator().manual_seed(1)) * 3
    filtered = SeededSampler(list(range(6)), SamplingSettings(temperature=0.8, top_k=20), "cpu")
    for step in range(5):
        chosen = filtered(torch.zeros(6, 1, dtype=torch.long), logits.clone()).argmax(-1)
        warped = torch.topk(logits / 0.8, 20).values[:, -1:]
        dense = torch.where(logits / 0.8 >= warped, logits / 0.8, float("-inf"))
        keys = step_keys(filtered.row_keys, step)
        assert torch.equal(chosen, (dense - log_exponential_noise(keys, torch.arange(400))).argmax(-1))


def test_sampled_logprobs_match_a_forward_pass_with_left_padding(tiny_backend):
    from transformers import GenerationConfig, LogitsProcessorList

    tok, model = tiny_backend.tokenizer, tiny_backend.model
    prompts = [
        tok(render_prompt(tok, [{"role": "user", "content": c}], None), add_special_tokens=False)["input_ids"]
        for c in ("hi", "a b c d e")
    ]
    width, pad = max(map(len, prompts)), tok.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = (torch.arange(width)[None] >= torch.tensor([[width - len(p)] for p in prompts])).long()
    sampler = SeededSampler([5, 6], SamplingSettings(temperature=0.8, top_p=0.9, logprobs=True), "cpu")
    config = GenerationConfig(max_new_tokens=5, do_sample=False, eos_token_id=None, pad_token_id=pad)
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            generation_config=config,
            logits_processor=LogitsProcessorList([sampler]),
        )
    for row, prompt in enumerate(prompts):
        completion = out[row, width:]
        ids = torch.tensor([prompt + completion.tolist()])
        with torch.no_grad():
            logprobs = torch.log_softmax(model(ids).logits[0, len(prompt) - 1 : -1].float(), dim=-1)
        expected = logprobs.gather(1, completion[:, None]).squeeze(1).tolist()
        assert sampler.logprobs[row] == pytest.approx(expected, abs=1e-4)


def test_small_models_decode_on_one_cpu_thread_unless_omp_num_threads_is_set(tiny_model_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    backend = get_backend(BackendConfig(model=str(tiny_model_path), device="cpu"))
    before = torch.get_num_threads()
    assert backend.cpu_threads == 1
    with backend.threads():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", str(before))
    assert get_backend(BackendConfig(model=str(tiny_model_path), device="cpu")).cpu_threads is None
